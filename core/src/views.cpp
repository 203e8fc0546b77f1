#include "physml/core/views.hpp"

#include <torch/torch.h>

namespace physml {

c10::ScalarType petsc_scalar_type() {
  static_assert(sizeof(PetscScalar) == sizeof(double) || sizeof(PetscScalar) == sizeof(float),
                "PhysML supports real single- or double-precision PETSc builds");
  return sizeof(PetscScalar) == sizeof(double) ? torch::kDouble : torch::kFloat;
}

namespace {

std::vector<int64_t> checked_shape(std::vector<int64_t> shape, int64_t n, const char* what) {
  if (shape.empty()) return {n};
  int64_t prod = 1;
  for (auto s : shape) {
    PHYSML_CHECK(s >= 0, what, ": negative extent ", s, " in the requested shape");
    prod *= s;
  }
  PHYSML_CHECK(prod == n, what, ": requested shape has ", prod, " elements but the Vec's local part has ", n);
  return shape;
}

struct VecArrayGuard {
  Vec v;
  bool read;
};

at::Tensor view_of(Vec v, std::vector<int64_t> shape, bool read) {
  PHYSML_CHECK(v != nullptr, "as_tensor: the Vec is null");
  PetscInt n = 0;
  PHYSML_PETSC(VecGetLocalSize(v, &n));
  shape = checked_shape(std::move(shape), n, "as_tensor");
  PetscScalar* data = nullptr;
  if (read) {
    const PetscScalar* cdata = nullptr;
    PHYSML_PETSC(VecGetArrayRead(v, &cdata));
    data = const_cast<PetscScalar*>(cdata);
  } else {
    PHYSML_PETSC(VecGetArray(v, &data));
  }
  PHYSML_PETSC(PetscObjectReference(reinterpret_cast<PetscObject>(v)));
  auto* guard = new VecArrayGuard{v, read};
  auto deleter = [guard, data](void*) {
    PetscScalar* d = data;
    if (guard->read) {
      const PetscScalar* cd = d;
      VecRestoreArrayRead(guard->v, &cd);
    } else {
      VecRestoreArray(guard->v, &d);
    }
    VecDestroy(&guard->v);
    delete guard;
  };
  return torch::from_blob(data, shape, deleter, torch::TensorOptions().dtype(petsc_scalar_type()));
}

PetscErrorCode destroy_tensor_holder(void* ctx) {
  delete static_cast<at::Tensor*>(ctx);
  return 0;
}

}  // namespace

void mark_modified(Vec v) {
  PHYSML_CHECK(v != nullptr, "mark_modified: the Vec is null");
  // VecRestoreArray advances the object state (the public way to invalidate cached norms).
  PetscScalar* a = nullptr;
  PHYSML_PETSC(VecGetArray(v, &a));
  PHYSML_PETSC(VecRestoreArray(v, &a));
}

at::Tensor as_tensor(Vec v, std::vector<int64_t> shape) { return view_of(v, std::move(shape), false); }

at::Tensor as_tensor_read(Vec v, std::vector<int64_t> shape) { return view_of(v, std::move(shape), true); }

at::Tensor as_tensor(DM da, Vec v) {
  PHYSML_CHECK(da != nullptr, "as_tensor(DM, Vec): the DM is null");
  DMDALocalInfo info;
  PHYSML_PETSC(DMDAGetLocalInfo(da, &info));
  std::vector<int64_t> shape;
  if (info.dim == 3) shape = {info.zm, info.ym, info.xm};
  if (info.dim == 2) shape = {info.ym, info.xm};
  if (info.dim == 1) shape = {info.xm};
  if (info.dof > 1) shape.push_back(info.dof);
  PetscInt n = 0;
  PHYSML_PETSC(VecGetLocalSize(v, &n));
  int64_t expect = info.xm * info.ym * info.zm * info.dof;
  PHYSML_CHECK(n == expect, "as_tensor(DM, Vec): the Vec's local size ", n,
               " does not match the DMDA's owned block (", expect, "); pass a global vector of this DMDA");
  return view_of(v, shape, false);
}

Vec as_vec(const at::Tensor& t, MPI_Comm comm) {
  PHYSML_CHECK(t.defined(), "as_vec: the tensor is undefined");
  PHYSML_CHECK(t.device().is_cpu(), "as_vec: the tensor is on ", t.device(),
               "; PETSc Vecs of this build live in host memory (move it with .cpu())");
  PHYSML_CHECK(t.scalar_type() == petsc_scalar_type(), "as_vec: the tensor has dtype ", t.scalar_type(),
               " but PetscScalar is ", petsc_scalar_type());
  PHYSML_CHECK(t.is_contiguous(), "as_vec: the tensor is not contiguous (call .contiguous() first)");
  Vec v = nullptr;
  auto n = static_cast<PetscInt>(t.numel());
  auto* data = static_cast<PetscScalar*>(t.data_ptr());
  int size = 1;
  MPI_Comm_size(comm, &size);
  if (size == 1)
    PHYSML_PETSC(VecCreateSeqWithArray(comm, 1, n, data, &v));
  else
    PHYSML_PETSC(VecCreateMPIWithArray(comm, 1, n, PETSC_DECIDE, data, &v));
  // Keep the tensor storage alive as long as the Vec lives.
  PetscContainer holder = nullptr;
  PHYSML_PETSC(PetscContainerCreate(comm, &holder));
  PHYSML_PETSC(PetscContainerSetPointer(holder, new at::Tensor(t)));
  PHYSML_PETSC(PetscContainerSetUserDestroy(holder, destroy_tensor_holder));
  PHYSML_PETSC(PetscObjectCompose(reinterpret_cast<PetscObject>(v), "physml_tensor", reinterpret_cast<PetscObject>(holder)));
  PHYSML_PETSC(PetscContainerDestroy(&holder));
  return v;
}

namespace detail {
void check_eigen_view(const at::Tensor& t, c10::ScalarType want, int dims, const char* what) {
  PHYSML_CHECK(t.defined(), what, ": the tensor is undefined");
  PHYSML_CHECK(t.device().is_cpu(), what, ": the tensor is on ", t.device(), "; Eigen maps need CPU memory");
  PHYSML_CHECK(t.scalar_type() == want, what, ": the tensor has dtype ", t.scalar_type(), ", the map wants ", want);
  PHYSML_CHECK(t.is_contiguous(), what, ": the tensor is not contiguous");
  if (dims > 0) PHYSML_CHECK(t.dim() == dims, what, ": expected a tensor of rank ", dims, ", got shape ", t.sizes());
}
}  // namespace detail

}  // namespace physml
