#pragma once
/// \file gathered_operator.hpp
/// A whole-field operator (a network: DCDM's direction, an MgNO/FNO ModelOperator) applied to
/// a distributed PETSc vector: the field is gathered to rank 0 in grid order, the operator runs
/// there on a sequential vector of all n entries, and the result is scattered back into the
/// caller's layout.
///
/// Why gathered and not per rank with halos: the networks PhysML puts inside a Krylov method are
/// global operators. MgNO's V-cycle restricts to a coarsest grid of a few points, FNO multiplies
/// Fourier modes of the whole field, and DCDM's U-Net-like CNN has a receptive field of the
/// whole training grid; any output point depends on every input point. A per-rank application
/// with halos would either change the operator (a truncated receptive field: different
/// directions, different iteration counts) or need a distributed FFT / distributed multigrid
/// inside the network, which LibTorch does not have. Gathering keeps the network exactly the
/// serial one, so the iteration counts equal the serial run's. The cost: two messages of n
/// values per application (gather + scatter) and the network on one rank (the other ranks wait
/// during it; on a GPU build rank 0's device does it). The Krylov vector operations, SpMVs,
/// dot products and the classical fallback PC stay distributed.
///
/// Grid order: a vector of a DMDA is held in PETSc's per-rank block order; with `dm` a DMDA
/// the field goes through DMDAGlobalToNatural first (and NaturalToGlobal after), so the network
/// sees the grid as on one rank. Without a DMDA the global index order is taken as the grid
/// order (x fastest), as for a matrix read from a file.
///
/// Errors: an exception of the inner operator on rank 0 is broadcast and rethrown on every rank
/// (a physml::NonFiniteError as a NonFiniteError, so KSP dcdm's fallback is taken on all ranks
/// together); no rank waits forever for a rank that failed.
///
/// On a communicator of one rank every call goes straight to the inner operator (no copy).

#include "physml/core/error.hpp"
#include "physml/solvers/linear/dcdm.hpp"
#include "physml/solvers/linear/operator.hpp"

#include <ATen/core/Tensor.h>
#include <petscdm.h>
#include <petscvec.h>

#include <functional>
#include <memory>
#include <string>

namespace physml::solvers {

/// The gather/scatter of one vector layout to rank 0 in grid order (see the file comment).
/// Built lazily from the first vector it sees; a vector of another global size rebuilds it.
class RootGather {
public:
  /// `dm`: a DMDA whose global vectors are gathered through its natural ordering, or null (or
  /// another DM type): the global index order is the grid order. Holds a reference to dm.
  /// `comm`: the communicator of the vectors it will see, if known (ranks() before the first call).
  explicit RootGather(DM dm = nullptr, MPI_Comm comm = MPI_COMM_NULL);
  ~RootGather();
  RootGather(const RootGather&) = delete;
  RootGather& operator=(const RootGather&) = delete;

  /// Runs f(x0, y0) on rank 0 of x's communicator with x0 all of x in grid order (a sequential
  /// Vec of the global size) and y0 a sequential Vec of the same size that f fills; y (x's
  /// layout) gets y0 back. Collective over x's communicator. Exceptions of f on rank 0 are
  /// rethrown on every rank (NonFiniteError stays a NonFiniteError).
  void apply(Vec x, Vec y, const std::function<void(Vec, Vec)>& f);
  /// All of x in grid order as a float64 tensor [N] on rank 0, an empty tensor on the others.
  at::Tensor gather(Vec x);
  /// Number of ranks of the last vector's communicator (before the first call: of the
  /// constructor's `comm`, 1 without one).
  int ranks() const { return size_; }

private:
  void setup(Vec x);
  void to_root(Vec x);  // x (global layout) -> x0_ on rank 0
  DM dm_ = nullptr;
  bool natural_ = false;
  Vec natural_x_ = nullptr, natural_y_ = nullptr, x0_ = nullptr, y0_ = nullptr;
  VecScatter scatter_ = nullptr;
  PetscInt global_ = -1;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
};

/// The size of a communicator (1 for MPI_COMM_SELF) of a PETSc object.
int object_ranks(PetscObject object);

/// Any Operator on the whole field (sequential vectors of n entries) as an Operator on
/// distributed vectors of the same global size (file comment); on one rank it calls the inner
/// operator directly. Base is Operator (GatheredOperator: PC "physml" wraps its ModelOperator in
/// one when the matrix lives on more than one rank) or DirectionOperator (GatheredDirection:
/// KSP and PC dcdm wrap their NetworkDirection in one; a direction set in code with
/// ksp_dcdm_set_direction on a parallel KSP is wrapped by the caller, or handles distributed
/// vectors itself).
template <class Base>
class Gathered : public Base {
public:
  /// `comm`: the communicator of the vectors it will see, if known (for name()).
  explicit Gathered(std::shared_ptr<Base> inner, DM dm = nullptr, MPI_Comm comm = MPI_COMM_NULL)
      : inner_(std::move(inner)), gather_(dm, comm) {
    PHYSML_CHECK(inner_, "Gathered: null inner operator");
  }
  PetscInt rows() const override { return inner_->rows(); }
  PetscInt cols() const override { return inner_->cols(); }
  void apply(Vec x, Vec y) override {
    if (object_ranks((PetscObject)x) == 1) return inner_->apply(x, y);
    gather_.apply(x, y, [this](Vec a, Vec b) { inner_->apply(a, b); });
  }
  std::string name() const override {
    return inner_->name() + (gather_.ranks() > 1 ? ", on the field gathered to rank 0" : "");
  }
  bool linear() const override { return inner_->linear(); }
  const std::shared_ptr<Base>& inner() const { return inner_; }

private:
  std::shared_ptr<Base> inner_;
  RootGather gather_;
};

using GatheredOperator = Gathered<Operator>;
using GatheredDirection = Gathered<DirectionOperator>;

/// The DCDM network direction of a KSP or PC for the system matrix A: on one rank the
/// NetworkDirection itself; on several, the NetworkDirection (mask = the gathered
/// solid_mask_from_matrix(A), set on rank 0) wrapped in a GatheredDirection over `dm`.
/// `input_scale` "none" or "grid" (NetworkDirection::set_input_scale).
std::shared_ptr<DirectionOperator> network_direction_for(std::shared_ptr<operators::Model> model,
                                                         std::vector<int64_t> grid, Mat A, DM dm,
                                                         const std::string& input_scale);

}  // namespace physml::solvers
