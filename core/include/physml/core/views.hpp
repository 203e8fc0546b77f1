#pragma once
/// \file views.hpp
/// Zero-copy views between torch::Tensor, PETSc Vec (and DMDA arrays) and Eigen.
///
/// None of these functions copies data: the result aliases the input's memory, so a
/// write through one is seen through the other. Lifetimes are handled by reference
/// counting: a tensor view of a Vec holds a reference to the Vec and returns the
/// array to PETSc when the last tensor sharing the storage dies; a Vec view of a
/// tensor keeps the tensor's storage alive until the Vec is destroyed.

#include "physml/core/error.hpp"

#include <ATen/core/Tensor.h>
#include <Eigen/Core>
#include <petscdmda.h>
#include <petscvec.h>

#include <vector>

namespace physml {

/// The torch dtype matching PetscScalar (kDouble for a real double-precision PETSc).
c10::ScalarType petsc_scalar_type();

/// A writable tensor aliasing the local part of `v` (VecGetArray). Shape defaults to
/// [local size]; `shape` may give any shape with the same number of elements.
/// The array is restored to PETSc (VecRestoreArray) when the tensor storage is freed.
/// After writing through the tensor, call mark_modified(v) before PETSc reads `v`.
at::Tensor as_tensor(Vec v, std::vector<int64_t> shape = {});

/// Tell PETSc that the values of `v` were changed through a tensor view. PETSc caches
/// reductions such as VecNorm per object state and only its own operations advance that
/// state; writes through an as_tensor view do not, so call this after writing through the
/// view and before PETSc reads `v` again (or a cached, stale norm may be returned).
void mark_modified(Vec v);

/// A tensor aliasing the local part of `v` read-only (VecGetArrayRead). Writing to it
/// is undefined; use as_tensor for write access.
at::Tensor as_tensor_read(Vec v, std::vector<int64_t> shape = {});

/// A writable tensor over the locally owned part of a DMDA global vector, shaped
/// [zm, ym, xm, dof] (3D), [ym, xm, dof] (2D) or [xm, dof] (1D), i.e. PETSc's
/// natural ordering with x fastest. The dof axis is dropped when dof == 1.
at::Tensor as_tensor(DM da, Vec v);

/// A sequential (comm = PETSC_COMM_SELF) or parallel PETSc Vec aliasing a contiguous
/// CPU tensor of PetscScalar dtype; each rank passes its local part. The Vec keeps the
/// tensor's storage alive; destroy it with VecDestroy as usual.
/// After writing through the tensor, call mark_modified(vec) before PETSc reads the Vec.
Vec as_vec(const at::Tensor& t, MPI_Comm comm = PETSC_COMM_SELF);

/// RAII owner of a Vec (VecDestroy on destruction).
class VecHandle {
public:
  VecHandle() = default;
  explicit VecHandle(Vec v) : v_(v) {}
  ~VecHandle() { reset(); }
  VecHandle(VecHandle&& o) noexcept : v_(o.v_) { o.v_ = nullptr; }
  VecHandle& operator=(VecHandle&& o) noexcept {
    if (this != &o) { reset(); v_ = o.v_; o.v_ = nullptr; }
    return *this;
  }
  VecHandle(const VecHandle&) = delete;
  VecHandle& operator=(const VecHandle&) = delete;
  Vec get() const { return v_; }
  operator Vec() const { return v_; }
  void reset() { if (v_) VecDestroy(&v_); v_ = nullptr; }

private:
  Vec v_ = nullptr;
};

namespace detail {
void check_eigen_view(const at::Tensor& t, c10::ScalarType want, int dims, const char* what);
}

/// Eigen map over a contiguous CPU tensor of rank 1 (or any rank, flattened). T must
/// match the tensor dtype (float or double).
template <typename T>
Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>> as_eigen_vector(const at::Tensor& t) {
  detail::check_eigen_view(t, c10::CppTypeToScalarType<T>::value, -1, "as_eigen_vector");
  return {t.data_ptr<T>(), t.numel()};
}

/// Row-major Eigen matrix map over a contiguous CPU tensor of shape [rows, cols].
template <typename T>
Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> as_eigen_matrix(const at::Tensor& t) {
  detail::check_eigen_view(t, c10::CppTypeToScalarType<T>::value, 2, "as_eigen_matrix");
  return {t.data_ptr<T>(), t.size(0), t.size(1)};
}

}  // namespace physml
