// Whole-field operators on distributed vectors: gather to rank 0 in grid order, apply,
// scatter back (gathered_operator.hpp).
#include "physml/solvers/linear/gathered_operator.hpp"

#include "physml/core/collective.hpp"
#include "physml/core/error.hpp"
#include "physml/core/views.hpp"

#include <petscdmda.h>
#include <torch/torch.h>

#include <cstring>

namespace physml::solvers {

int object_ranks(PetscObject object) {
  PetscMPIInt size = 1;
  PHYSML_CHECK(MPI_Comm_size(PetscObjectComm(object), &size) == MPI_SUCCESS, "MPI_Comm_size failed");
  return size;
}

RootGather::RootGather(DM dm, MPI_Comm comm) {
  if (comm != MPI_COMM_NULL) PHYSML_CHECK(MPI_Comm_size(comm, &size_) == MPI_SUCCESS, "RootGather: MPI_Comm_size failed");
  if (dm) {
    PetscBool is_da = PETSC_FALSE;
    PHYSML_PETSC(PetscObjectTypeCompare((PetscObject)dm, DMDA, &is_da));
    if (is_da) {
      dm_ = dm;
      natural_ = true;
      PHYSML_PETSC(PetscObjectReference((PetscObject)dm_));
    }
  }
}

RootGather::~RootGather() {
  if (scatter_) VecScatterDestroy(&scatter_);
  if (x0_) VecDestroy(&x0_);
  if (y0_) VecDestroy(&y0_);
  if (natural_x_) VecDestroy(&natural_x_);
  if (natural_y_) VecDestroy(&natural_y_);
  if (dm_) DMDestroy(&dm_);
}

void RootGather::setup(Vec x) {
  PetscInt n;
  PHYSML_PETSC(VecGetSize(x, &n));
  if (n == global_ && scatter_) return;
  if (scatter_) VecScatterDestroy(&scatter_);
  if (x0_) VecDestroy(&x0_);
  if (y0_) VecDestroy(&y0_);
  if (natural_x_) VecDestroy(&natural_x_);
  if (natural_y_) VecDestroy(&natural_y_);
  comm_ = PetscObjectComm((PetscObject)x);
  PHYSML_CHECK(MPI_Comm_rank(comm_, &rank_) == MPI_SUCCESS && MPI_Comm_size(comm_, &size_) == MPI_SUCCESS,
               "RootGather: MPI_Comm_rank/size failed");
  Vec layout = x;
  if (natural_) {
    PetscInt dof, M, N, P;
    PHYSML_PETSC(DMDAGetInfo(dm_, nullptr, &M, &N, &P, nullptr, nullptr, nullptr, &dof, nullptr, nullptr, nullptr,
                             nullptr, nullptr));
    PetscInt da_global;
    Vec g;
    PHYSML_PETSC(DMGetGlobalVector(dm_, &g));
    PHYSML_PETSC(VecGetSize(g, &da_global));
    PHYSML_PETSC(DMRestoreGlobalVector(dm_, &g));
    PHYSML_CHECK(da_global == n, "gathered operator: the vector has ", n, " entries but its DMDA (", M, " x ", N, " x ", P,
                 ", ", dof, " dof) has ", da_global, "; the vector is not one of the DMDA's");
    PHYSML_PETSC(DMDACreateNaturalVector(dm_, &natural_x_));
    PHYSML_PETSC(VecDuplicate(natural_x_, &natural_y_));
    layout = natural_x_;
  }
  PHYSML_PETSC(VecScatterCreateToZero(layout, &scatter_, &x0_));
  PHYSML_PETSC(VecDuplicate(x0_, &y0_));
  global_ = n;
}

void RootGather::to_root(Vec x) {
  Vec src = x;
  if (natural_) {
    PHYSML_PETSC(DMDAGlobalToNaturalBegin(dm_, x, INSERT_VALUES, natural_x_));
    PHYSML_PETSC(DMDAGlobalToNaturalEnd(dm_, x, INSERT_VALUES, natural_x_));
    src = natural_x_;
  }
  PHYSML_PETSC(VecScatterBegin(scatter_, src, x0_, INSERT_VALUES, SCATTER_FORWARD));
  PHYSML_PETSC(VecScatterEnd(scatter_, src, x0_, INSERT_VALUES, SCATTER_FORWARD));
}

void RootGather::apply(Vec x, Vec y, const std::function<void(Vec, Vec)>& f) {
  setup(x);
  PetscInt nx, ny, lx, ly;
  PHYSML_PETSC(VecGetSize(y, &ny));
  PHYSML_PETSC(VecGetLocalSize(x, &lx));
  PHYSML_PETSC(VecGetLocalSize(y, &ly));
  nx = global_;
  PHYSML_CHECK(nx == ny && lx == ly, "gathered operator: x has ", nx, " entries (", lx, " on this rank) but y has ", ny,
               " (", ly, "); expected the same layout");
  to_root(x);
  // Rank 0 applies; a failure there reaches every rank before anyone enters the scatter back.
  run_collectively(comm_, [&] {
    if (rank_ == 0) f(x0_, y0_);
  });
  Vec dst = natural_ ? natural_y_ : y;
  PHYSML_PETSC(VecScatterBegin(scatter_, y0_, dst, INSERT_VALUES, SCATTER_REVERSE));
  PHYSML_PETSC(VecScatterEnd(scatter_, y0_, dst, INSERT_VALUES, SCATTER_REVERSE));
  if (natural_) {
    PHYSML_PETSC(DMDANaturalToGlobalBegin(dm_, natural_y_, INSERT_VALUES, y));
    PHYSML_PETSC(DMDANaturalToGlobalEnd(dm_, natural_y_, INSERT_VALUES, y));
  }
}

at::Tensor RootGather::gather(Vec x) {
  setup(x);
  to_root(x);
  if (rank_ != 0) return torch::empty({0}, torch::kDouble);
  return as_tensor_read(x0_).clone();
}

std::shared_ptr<DirectionOperator> network_direction_for(std::shared_ptr<operators::Model> model,
                                                         std::vector<int64_t> grid, Mat A, DM dm,
                                                         const std::string& input_scale) {
  if (!dm) PHYSML_PETSC(MatGetDM(A, &dm));  // a matrix made by DMCreateMatrix knows its DMDA
  auto net = std::make_shared<NetworkDirection>(std::move(model), std::move(grid));
  if (input_scale == "grid") net->set_input_scale(net->grid_input_scale());
  const at::Tensor local_mask = solid_mask_from_matrix(A);
  if (object_ranks((PetscObject)A) == 1) {
    net->set_mask(local_mask);
    return net;
  }
  auto gathered = std::make_shared<GatheredDirection>(net, dm, PetscObjectComm((PetscObject)A));
  // The mask in grid order on rank 0, through the same gather as the residuals.
  Vec m;
  PHYSML_PETSC(MatCreateVecs(A, &m, nullptr));
  VecHandle guard(m);
  {
    at::Tensor mt = as_tensor(m);
    mt.copy_(local_mask.to(torch::kDouble));
  }
  mark_modified(m);
  RootGather g(dm);
  const at::Tensor full = g.gather(m);
  if (full.numel() > 0) net->set_mask(full);
  return gathered;
}

}  // namespace physml::solvers
