// PC "physml": a residual -> correction Operator (a learned model from -pc_physml_model, or
// any Operator set in code) as a PETSc preconditioner, with an optional 1-D line search on
// its output (pc_physml.hpp).
#include "physml/solvers/linear/pc_physml.hpp"

#include "petsc_types_impl.hpp"
#include "physml/core/error.hpp"
#include "physml/core/options_reader.hpp"
#include "physml/operators/registry.hpp"
#include "physml/solvers/linear/gathered_operator.hpp"
#include "physml/solvers/linear/model_operator.hpp"

#include <petsc/private/pcimpl.h>
#include <petscdm.h>

#include <cmath>

namespace physml::solvers {

namespace {

struct PCPhysML {
  std::shared_ptr<Operator> op;
  bool from_options = false;  // op built from -pc_physml_model (rebuilt at every setup)
  std::string model_path;
  std::vector<long> grid_option;
  long pad = 0;
  double input_rms = 0;
  std::string scale = "energy";
  std::string dtype = "float32";
  Vec work = nullptr;  // A z for the line search
  int applications = 0;
};

PCPhysML* data_of(PC pc) {
  PetscBool is = PETSC_FALSE;
  PHYSML_PETSC(PetscObjectTypeCompare((PetscObject)pc, "physml", &is));
  PHYSML_CHECK(is, "this PC is not of type physml (call PCSetType(pc, \"physml\") first)");
  return static_cast<PCPhysML*>(pc->data);
}

void set_up(PC pc) {
  auto* d = static_cast<PCPhysML*>(pc->data);
  PetscInt M, N;
  PHYSML_PETSC(MatGetSize(pc->pmat, &M, &N));
  PHYSML_CHECK(M == N, "PC physml: the matrix is ", M, " x ", N, "; expected a square matrix");
  if (d->from_options || !d->op) {
    PHYSML_CHECK(!d->model_path.empty(), "PC physml: no model; give -pc_physml_model FILE (a PhysML Checkpoint of a "
                                         "model mapping a residual to a correction) or call pc_physml_set_operator");
    auto model = cached_model(d->model_path);
    int dim = model_dim(*model);
    if (dim == 0) dim = d->grid_option.empty() ? 2 : static_cast<int>(d->grid_option.size());
    DM dm = pc->dm;
    if (!dm) PHYSML_PETSC(MatGetDM(pc->pmat, &dm));
    const auto xfirst = resolve_grid("PC physml", "-pc_physml_grid", dim, M, d->grid_option, dm);
    ModelOperatorOptions o;
    o.grid.assign(xfirst.rbegin(), xfirst.rend());  // tensor order [.., ny, nx]
    o.pad = d->pad;
    o.input_rms = d->input_rms;
    o.dtype = d->dtype == "float64" ? c10::kDouble : c10::kFloat;
    d->op = std::make_shared<ModelOperator>(model, o);
    // On several ranks the model runs on the residual gathered to rank 0 (gathered_operator.hpp).
    if (object_ranks((PetscObject)pc->pmat) > 1) d->op = std::make_shared<GatheredOperator>(d->op, dm, PetscObjectComm((PetscObject)pc->pmat));
    d->from_options = true;
  }
  const PetscInt rows = d->op->rows(), cols = d->op->cols();
  PHYSML_CHECK((rows == Operator::any_size || rows == M) && (cols == Operator::any_size || cols == M), "PC physml: the operator ",
               d->op->name(), " is ", rows, " x ", cols, " but the matrix is ", M, " x ", M);
  if (d->work) PHYSML_PETSC(VecDestroy(&d->work));
  PHYSML_PETSC(MatCreateVecs(pc->pmat, &d->work, nullptr));
}

void apply(PC pc, Vec r, Vec z) {
  auto* d = static_cast<PCPhysML*>(pc->data);
  PHYSML_CHECK(d->op, "PC physml: not set up (no operator)");
  d->op->apply(r, z);
  ++d->applications;
  if (d->scale != "linear") {
    // energy: alpha = (z, r)/(z, A z), the A-norm-optimal step (SPD A);
    // residual: alpha = (A z, r)/(A z, A z), the 2-norm-optimal step (any A).
    PHYSML_PETSC(MatMult(pc->mat, z, d->work));
    PetscScalar num, den;
    if (d->scale == "energy") {
      PHYSML_PETSC(VecDot(r, z, &num));
      PHYSML_PETSC(VecDot(z, d->work, &den));
    } else {
      PHYSML_PETSC(VecDot(r, d->work, &num));
      PHYSML_PETSC(VecDot(d->work, d->work, &den));
    }
    if (PetscIsInfOrNanScalar(num) || PetscIsInfOrNanScalar(den))
      throw NonFiniteError("PC physml: the correction of " + d->op->name() + " contains NaN or Inf", __FILE__, __LINE__);
    if (PetscRealPart(den) > 0) PHYSML_PETSC(VecScale(z, num / den));
    else PHYSML_PETSC(VecSet(z, 0.0));  // z = 0, A z = 0 or z^T A z <= 0: no correction
  } else {
    PetscReal zn;
    PHYSML_PETSC(VecNorm(z, NORM_2, &zn));
    if (PetscIsInfOrNanReal(zn))
      throw NonFiniteError("PC physml: the correction of " + d->op->name() + " contains NaN or Inf", __FILE__, __LINE__);
  }
}

PetscErrorCode PCSetUp_PhysML(PC pc) {
  PHYSML_PETSC_CALLBACK(PetscObjectComm((PetscObject)pc), set_up(pc));
  return 0;
}

PetscErrorCode PCApply_PhysML(PC pc, Vec x, Vec y) {
  PHYSML_PETSC_CALLBACK(PetscObjectComm((PetscObject)pc), apply(pc, x, y));
  return 0;
}

PetscErrorCode PCDestroy_PhysML(PC pc) {
  auto* d = static_cast<PCPhysML*>(pc->data);
  if (d) PetscCall(VecDestroy(&d->work));
  delete d;
  pc->data = nullptr;
  return 0;
}

PetscErrorCode PCSetFromOptions_PhysML(PC pc, PetscOptionItems* items) {
  PHYSML_PETSC_CALLBACK(PetscObjectComm((PetscObject)pc), {
    auto* d = static_cast<PCPhysML*>(pc->data);
    OptionsReader r(items, "pc_physml_", "PC physml options (a model mapping the residual to a correction)");
    const auto model = r.string("model", d->model_path,
                                "PhysML Checkpoint of a registered model mapping 1 channel to 1 (operators::load)");
    if (r.given("model")) {
      d->model_path = model;
      d->from_options = true;
    }
    d->grid_option = r.int_list("grid", d->grid_option,
                                "grid of the unknowns nx,ny[,nz], x first (default: the DMDA, else a square/cube)");
    d->pad = r.integer("pad", d->pad, "points of zero padding around the grid before the model (cropped after)", 0, 64);
    d->input_rms = r.real("input_rms", d->input_rms,
                          "RMS entry size of the model input (0: from the model's x normalizer, else 1)");
    PHYSML_CHECK(std::isfinite(d->input_rms) && d->input_rms >= 0, "option -pc_physml_input_rms = ", d->input_rms,
                 ": expected a finite value >= 0");
    d->scale = r.choice("scale", {"energy", "residual", "linear"}, d->scale,
                        "output scaling: 1-D line search in the A-norm (SPD A) or the 2-norm (one MatMult each), "
                        "or as the model gives it");
    d->dtype = r.choice("dtype", {"float32", "float64"}, d->dtype, "precision the model runs in");
  });
  return 0;
}

PetscErrorCode PCView_PhysML(PC pc, PetscViewer viewer) {
  auto* d = static_cast<PCPhysML*>(pc->data);
  PetscBool ascii;
  PetscCall(PetscObjectTypeCompare((PetscObject)viewer, PETSCVIEWERASCII, &ascii));
  if (ascii) {
    std::string name;
    try {
      name = d->op ? d->op->name() : "(not set up)";
    } catch (const std::exception& e) {
      name = e.what();
    }
    PetscCall(PetscViewerASCIIPrintf(viewer, "  correction: %s\n", name.c_str()));
    PetscCall(PetscViewerASCIIPrintf(viewer, "  output scaling: %s; %d applications\n", d->scale.c_str(), d->applications));
  }
  return 0;
}

}  // namespace

PetscErrorCode PCCreate_PhysML(PC pc) {
  PHYSML_PETSC_CALLBACK(PetscObjectComm((PetscObject)pc), {
    pc->data = new PCPhysML();
    pc->ops->setup = PCSetUp_PhysML;
    pc->ops->apply = PCApply_PhysML;
    pc->ops->destroy = PCDestroy_PhysML;
    pc->ops->setfromoptions = PCSetFromOptions_PhysML;
    pc->ops->view = PCView_PhysML;
  });
  return 0;
}

void pc_physml_set_operator(PC pc, std::shared_ptr<Operator> op) {
  PHYSML_CHECK(op, "pc_physml_set_operator: null operator");
  auto* d = data_of(pc);
  d->op = std::move(op);
  d->from_options = false;
  d->model_path.clear();
  pc->setupcalled = 0;  // validate the new operator against the matrix at the next setup
}

std::shared_ptr<Operator> pc_physml_operator(PC pc) { return data_of(pc)->op; }

int pc_physml_applications(PC pc) { return data_of(pc)->applications; }

}  // namespace physml::solvers
