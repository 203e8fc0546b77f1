// PC "dcdm": the DCDM network direction as the (nonlinear) preconditioner of PETSc's
// flexible Krylov methods (dcdm.hpp); FCG with mmax 2 and standard truncation is exactly
// DCDM's recurrence without the safeguard.
#include "physml/solvers/linear/dcdm.hpp"

#include "petsc_types_impl.hpp"
#include "physml/core/error.hpp"
#include "physml/core/options_reader.hpp"
#include "physml/solvers/linear/gathered_operator.hpp"
#include "physml/operators/registry.hpp"

#include <petsc/private/pcimpl.h>

#include <string>
#include <vector>

namespace physml::solvers {

namespace {

struct PCDCDM {
  std::shared_ptr<DirectionOperator> direction;
  bool from_options = false;
  std::string model_path;
  std::vector<long> grid_option;
  std::string input_scale = "none";
};

PetscErrorCode PCSetUp_DCDM(PC pc) {
  PHYSML_PETSC_CALLBACK(PetscObjectComm((PetscObject)pc), {
    auto* d = static_cast<PCDCDM*>(pc->data);
    if (d->from_options || !d->direction) {
      PHYSML_CHECK(!d->model_path.empty(), "PC dcdm: no model; give -pc_dcdm_model FILE");
      PetscInt M, N;
      PHYSML_PETSC(MatGetSize(pc->pmat, &M, &N));
      PHYSML_CHECK(M == N, "PC dcdm: the matrix is ", M, " x ", N, "; expected a square matrix");
      auto model = cached_dcdm_model(d->model_path);
      const int dim = std::stoi(model->config().at("dim"));
      // On several ranks the network runs on the field gathered to rank 0 (gathered_operator.hpp).
      d->direction = network_direction_for(model, resolve_dcdm_grid(dim, M, d->grid_option, pc->dm), pc->pmat, pc->dm,
                                           d->input_scale);
      d->from_options = true;
    }
  });
  return 0;
}

PetscErrorCode PCApply_DCDM(PC pc, Vec x, Vec y) {
  PHYSML_PETSC_CALLBACK(PetscObjectComm((PetscObject)pc), static_cast<PCDCDM*>(pc->data)->direction->apply(x, y));
  return 0;
}

PetscErrorCode PCDestroy_DCDM(PC pc) {
  delete static_cast<PCDCDM*>(pc->data);
  pc->data = nullptr;
  return 0;
}

PetscErrorCode PCSetFromOptions_DCDM(PC pc, PetscOptionItems* items) {
  PHYSML_PETSC_CALLBACK(PetscObjectComm((PetscObject)pc), {
    auto* d = static_cast<PCDCDM*>(pc->data);
    OptionsReader r(items, "pc_dcdm_", "PC DCDM options (the DCDM network as a preconditioner of a flexible Krylov method)");
    const auto model = r.string("model", d->model_path, "PhysML Checkpoint of a \"dcdm\" model (operators::save)");
    if (r.given("model")) {
      d->model_path = model;
      d->from_options = true;
    }
    d->grid_option = r.int_list("grid", d->grid_option, "grid of the unknowns nx,ny[,nz] (default: the DMDA, else a square/cube)");
    d->input_scale = r.choice("input_scale", {"none", "grid"}, d->input_scale,
                              "network input r/|r| (none) or r/|r| sqrt(n/n_train) (grid)");
  });
  return 0;
}

PetscErrorCode PCView_DCDM(PC pc, PetscViewer viewer) {
  auto* d = static_cast<PCDCDM*>(pc->data);
  PetscBool ascii;
  PetscCall(PetscObjectTypeCompare((PetscObject)viewer, PETSCVIEWERASCII, &ascii));
  if (ascii) {
    PetscCall(PetscViewerASCIIPrintf(viewer, "  %s\n", d->direction ? d->direction->name().c_str() : "(not set up)"));
  }
  return 0;
}

}  // namespace

PetscErrorCode PCCreate_DCDM(PC pc) {
  pc->data = new PCDCDM();
  pc->ops->setup = PCSetUp_DCDM;
  pc->ops->apply = PCApply_DCDM;
  pc->ops->destroy = PCDestroy_DCDM;
  pc->ops->setfromoptions = PCSetFromOptions_DCDM;
  pc->ops->view = PCView_DCDM;
  return 0;
}

void pc_dcdm_set_direction(PC pc, std::shared_ptr<DirectionOperator> dir) {
  PetscBool is = PETSC_FALSE;
  PHYSML_PETSC(PetscObjectTypeCompare((PetscObject)pc, "dcdm", &is));
  PHYSML_CHECK(is, "pc_dcdm_set_direction: this PC is not of type dcdm");
  auto* d = static_cast<PCDCDM*>(pc->data);
  d->direction = std::move(dir);
  d->from_options = false;
}


}  // namespace physml::solvers
