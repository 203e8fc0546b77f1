// KSP "dcdm": the Deep Conjugate Direction Method as a PETSc Krylov method (dcdm.hpp), with
// its ops table as in PETSc's own cg.c, its options read through PetscOptionItems, and the
// safeguard (stagnation, early "no residual reduction", NaN) that falls back to the KSP's
// classical PC.
#include "physml/solvers/linear/dcdm.hpp"

#include "petsc_types_impl.hpp"
#include "physml/core/error.hpp"
#include "physml/core/options_reader.hpp"
#include "physml/solvers/linear/gathered_operator.hpp"
#include "physml/operators/registry.hpp"

#include <petsc/private/kspimpl.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

namespace physml::solvers {

namespace {

struct KSPDCDM {
  std::shared_ptr<DirectionOperator> direction;
  bool direction_from_options = false;  // built from -ksp_dcdm_model (rebuilt per matrix)
  std::string model_path;
  std::vector<long> grid_option;
  int k = 2;
  bool true_residual = false;
  DCDMSafeguard safeguard;
  bool check_symmetric = true;
  std::string input_scale = "none";
  bool keep = false;
  std::vector<Vec> kept;
  DCDMSolveInfo info;
  Mat checked_mat = nullptr;
  PetscObjectState checked_state = -1;
};

KSPDCDM* data_of(KSP ksp) {
  PetscBool is = PETSC_FALSE;
  PHYSML_PETSC(PetscObjectTypeCompare((PetscObject)ksp, "dcdm", &is));
  PHYSML_CHECK(is, "this KSP is not of type dcdm (call KSPSetType(ksp, \"dcdm\") first)");
  return static_cast<KSPDCDM*>(ksp->data);
}

void destroy_kept(KSPDCDM* d) {
  for (Vec& v : d->kept) VecDestroy(&v);
  d->kept.clear();
}

// Validate the operator (square, symmetric) and (re)build the network direction from
// options whenever the matrix changed.
void prepare_operator(KSP ksp, KSPDCDM* d) {
  Mat A, P;
  PHYSML_PETSC(KSPGetOperators(ksp, &A, &P));
  PetscObjectState state;
  PHYSML_PETSC(PetscObjectStateGet((PetscObject)A, &state));
  if (A == d->checked_mat && state == d->checked_state) return;
  PetscInt M, N;
  PHYSML_PETSC(MatGetSize(A, &M, &N));
  PHYSML_CHECK(M == N, "KSP dcdm: the matrix is ", M, " x ", N, "; DCDM needs a square symmetric positive definite matrix");
  if (d->check_symmetric) {
    PetscReal norm;
    PHYSML_PETSC(MatNorm(A, NORM_INFINITY, &norm));
    PetscBool sym = PETSC_FALSE;
    PHYSML_PETSC(MatIsSymmetric(A, 1e-12 * norm, &sym));
    PHYSML_CHECK(sym, "KSP dcdm: the matrix is not symmetric (|A - A^T| > 1e-12 |A|_inf); DCDM needs a symmetric positive "
                      "definite matrix (use -ksp_dcdm_check_symmetric false to skip this check)");
  }
  if (d->direction_from_options || (!d->direction && !d->model_path.empty())) {
    PHYSML_CHECK(!d->model_path.empty(), "KSP dcdm: no model; give -ksp_dcdm_model FILE");
    auto model = cached_dcdm_model(d->model_path);
    const int dim = std::stoi(model->config().at("dim"));
    DM dm = nullptr;
    if (ksp->dm) dm = ksp->dm;
    // On several ranks the network runs on the field gathered to rank 0 (gathered_operator.hpp).
    d->direction = network_direction_for(model, resolve_dcdm_grid(dim, M, d->grid_option, dm), A, dm, d->input_scale);
    d->direction_from_options = true;
  }
  PHYSML_CHECK(d->direction, "KSP dcdm: no direction operator; give -ksp_dcdm_model FILE");
  d->checked_mat = A;
  d->checked_state = state;
}

PetscErrorCode KSPSetUp_DCDM(KSP ksp) {
  PHYSML_PETSC_CALLBACK(PetscObjectComm((PetscObject)ksp), {
    auto* d = static_cast<KSPDCDM*>(ksp->data);
    PHYSML_PETSC(KSPSetWorkVecs(ksp, 4 + 2 * d->k));
    PC pc;
    PHYSML_PETSC(KSPGetPC(ksp, &pc));
    PCType type;
    PHYSML_PETSC(PCGetType(pc, &type));
    if (!type) PHYSML_PETSC(PCSetType(pc, PCJACOBI));
    d->checked_mat = nullptr;
    prepare_operator(ksp, d);
  });
  return 0;
}

// `it` is the first iteration of the fallback PC; `detail` (may be empty) says why in numbers.
void announce_fallback(KSP ksp, KSPDCDM* d, PetscInt it, const std::string& reason, const std::string& detail = "") {
  d->info.fallback_iteration = static_cast<int>(it);
  d->info.fallback_reason = reason;
  PC pc;
  PCType type;
  PHYSML_PETSC(KSPGetPC(ksp, &pc));
  PHYSML_PETSC(PCGetType(pc, &type));
  const std::string why = detail.empty() ? reason : reason + " (" + detail + ")";
  PHYSML_PETSC(PetscInfo(ksp, "DCDM fallback at iteration %" PetscInt_FMT ": %s\n", it, why.c_str()));
  if (ksp->numbermonitors > 0) {
    PHYSML_PETSC(PetscPrintf(PetscObjectComm((PetscObject)ksp),
                             "  DCDM: %s at iteration %" PetscInt_FMT "; falling back to PC %s\n", why.c_str(), it,
                             type ? type : "(none)"));
  }
}

std::string format_real(double v) {
  std::ostringstream os;
  os.precision(4);
  os << v;
  return os.str();
}

void solve_dcdm(KSP ksp) {
  auto* d = static_cast<KSPDCDM*>(ksp->data);
  prepare_operator(ksp, d);
  d->info = DCDMSolveInfo();
  destroy_kept(d);
  Mat A;
  PHYSML_PETSC(KSPGetOperators(ksp, &A, nullptr));
  Vec b = ksp->vec_rhs, x = ksp->vec_sol;
  Vec r = ksp->work[0], q = ksp->work[1], Aq = ksp->work[2], tmp = ksp->work[3];
  Vec* P = ksp->work + 4;
  Vec* AP = ksp->work + 4 + d->k;
  std::vector<PetscReal> pAp(d->k, 0.0);
  std::vector<PetscScalar> dots(d->k);
  int stored = 0, head = 0;  // ring buffer of the last k directions

  if (ksp->guess_zero) {
    PHYSML_PETSC(VecSet(x, 0.0));
    PHYSML_PETSC(VecCopy(b, r));
  } else {
    PHYSML_PETSC(KSP_MatMult(ksp, A, x, tmp));
    PHYSML_PETSC(VecWAXPY(r, -1.0, tmp, b));
  }
  PetscReal rnorm;
  PHYSML_PETSC(VecNorm(r, NORM_2, &rnorm));
  ksp->its = 0;
  ksp->rnorm = rnorm;
  ksp->reason = KSP_CONVERGED_ITERATING;
  PHYSML_PETSC(KSPLogResidualHistory(ksp, rnorm));
  PHYSML_PETSC(KSPMonitor(ksp, 0, rnorm));
  PHYSML_PETSC((*ksp->converged)(ksp, 0, rnorm, &ksp->reason, ksp->cnvP));
  if (ksp->reason) return;

  PetscReal best = rnorm;
  PetscInt best_it = 0;
  bool fallen_back = false;
  // Early rule: energy-norm error removed by the network's steps and by steepest descent
  // from the same iterates, Σ (qᵀr)²/qᵀAq and Σ (rᵀr)²/rᵀAr over the first M iterations.
  double removed_net = 0, removed_sd = 0;
  for (PetscInt i = 1; i <= ksp->max_it; ++i) {
    const DCDMSafeguard& g = d->safeguard;
    const bool judging = g.early_its > 0 && !fallen_back && i <= g.early_its;
    if (judging) {
      PHYSML_PETSC(KSP_MatMult(ksp, A, r, tmp));  // one extra SpMV in each of the first M iterations
      PetscScalar rr, rAr;
      PHYSML_PETSC(VecDot(r, r, &rr));
      PHYSML_PETSC(VecDot(r, tmp, &rAr));
      if (PetscRealPart(rAr) > 0) removed_sd += PetscRealPart(rr) * PetscRealPart(rr) / PetscRealPart(rAr);
    }
    // 1. raw direction: the network on r/|r|, or the fallback PC
    bool have = false;
    if (!fallen_back) {
      try {
        d->direction->apply(r, q);
        ++d->info.network_applications;
        PetscReal qn;
        PHYSML_PETSC(VecNorm(q, NORM_2, &qn));
        if (PetscIsInfOrNanReal(qn)) throw NonFiniteError("DCDM direction contains NaN or Inf", __FILE__, __LINE__);
        have = true;
      } catch (const NonFiniteError&) {
        if (!d->safeguard.fallback) {
          ksp->reason = KSP_DIVERGED_NANORINF;
          PHYSML_PETSC(PetscInfo(ksp, "DCDM network output NaN/Inf at iteration %" PetscInt_FMT "\n", i));
          return;
        }
        fallen_back = true;
        stored = head = 0;  // restart: the fallback iteration is then exactly PCG from here
        announce_fallback(ksp, d, i, "network output NaN/Inf");
      }
    }
    if (!have) PHYSML_PETSC(KSP_PCApply(ksp, r, q));
    // 2. A-orthogonalize against the last k directions (classical Gram-Schmidt, as KSPFCG)
    if (stored > 0) {
      std::vector<Vec> ps, aps;
      for (int j = 0; j < stored; ++j) {
        aps.push_back(AP[j]);
        ps.push_back(P[j]);
      }
      PHYSML_PETSC(VecMDot(q, stored, aps.data(), dots.data()));
      for (int j = 0; j < stored; ++j) dots[j] = -dots[j] / pAp[j];
      PHYSML_PETSC(VecMAXPY(q, stored, dots.data(), ps.data()));
    }
    // 3. exact line search in the A-norm
    PHYSML_PETSC(KSP_MatMult(ksp, A, q, Aq));
    PetscScalar qAq, qr;
    PHYSML_PETSC(VecDot(q, Aq, &qAq));
    PHYSML_PETSC(VecDot(q, r, &qr));
    if (PetscIsInfOrNanScalar(qAq) || PetscIsInfOrNanScalar(qr)) {
      ksp->reason = KSP_DIVERGED_NANORINF;
      return;
    }
    if (PetscRealPart(qAq) <= 0.0) {
      ksp->reason = KSP_DIVERGED_INDEFINITE_MAT;
      PHYSML_PETSC(PetscInfo(ksp, "DCDM: q^T A q = %g <= 0: A is not positive definite\n", (double)PetscRealPart(qAq)));
      return;
    }
    const PetscScalar step = qr / qAq;
    if (judging && !fallen_back) removed_net += PetscRealPart(qr) * PetscRealPart(qr) / PetscRealPart(qAq);
    PHYSML_PETSC(VecAXPY(x, step, q));
    if (d->true_residual) {
      PHYSML_PETSC(KSP_MatMult(ksp, A, x, tmp));
      PHYSML_PETSC(VecWAXPY(r, -1.0, tmp, b));
    } else {
      PHYSML_PETSC(VecAXPY(r, -step, Aq));
    }
    if (d->keep) {
      Vec keep;
      PHYSML_PETSC(VecDuplicate(q, &keep));
      PHYSML_PETSC(VecCopy(q, keep));
      d->kept.push_back(keep);
    }
    // 4. store the direction in the ring buffer (k = 0: plain steepest-descent-like)
    if (d->k > 0) {
      PHYSML_PETSC(VecCopy(q, P[head]));
      PHYSML_PETSC(VecCopy(Aq, AP[head]));
      pAp[head] = PetscRealPart(qAq);
      head = (head + 1) % d->k;
      stored = std::min(stored + 1, d->k);
    }
    PHYSML_PETSC(VecNorm(r, NORM_2, &rnorm));
    ksp->its = i;
    ksp->rnorm = rnorm;
    PHYSML_PETSC(KSPLogResidualHistory(ksp, rnorm));
    PHYSML_PETSC(KSPMonitor(ksp, i, rnorm));
    PHYSML_PETSC((*ksp->converged)(ksp, i, rnorm, &ksp->reason, ksp->cnvP));
    if (ksp->reason) return;
    // 5. safeguard: stagnation (no new minimum in a window) and the early judgement
    if (rnorm < best) {
      best = rnorm;
      best_it = i;
    } else if (g.window > 0 && !fallen_back && i - best_it >= g.window) {
      if (!g.fallback) {
        ksp->reason = KSP_DIVERGED_BREAKDOWN;
        PHYSML_PETSC(PetscInfo(ksp, "DCDM stagnated: no residual decrease in %d iterations\n", g.window));
        return;
      }
      fallen_back = true;
      stored = head = 0;  // restart: the fallback iteration is then exactly PCG from here
      announce_fallback(ksp, d, i + 1, "stagnation (no residual decrease in " + std::to_string(g.window) + " iterations)");
    }
    if (judging && !fallen_back && i == g.early_its) {
      // η_M: the network's steps removed η_M times the energy-norm error that steepest
      // descent would have removed from the same iterates (DCDMSafeguard)
      const double eta = removed_sd > 0 ? removed_net / removed_sd : 1.0;
      d->info.early_ratio = eta;
      PHYSML_PETSC(PetscInfo(ksp, "DCDM early judgement after %d network iterations: eta = %g (hand over below %g)\n",
                             g.early_its, eta, g.early_ratio));
      if (eta < g.early_ratio) {
        const std::string detail = "the first " + std::to_string(g.early_its) +
                                   " network steps removed " + format_real(eta) +
                                   " x the A-norm error reduction of steepest descent, < " + format_real(g.early_ratio);
        if (!g.fallback) {
          ksp->reason = KSP_DIVERGED_BREAKDOWN;
          PHYSML_PETSC(PetscInfo(ksp, "DCDM stopped early: no residual reduction (%s)\n", detail.c_str()));
          return;
        }
        fallen_back = true;
        stored = head = 0;
        announce_fallback(ksp, d, i + 1, "early: no residual reduction", detail);
      }
    }
  }
  if (!ksp->reason) ksp->reason = KSP_DIVERGED_ITS;
}

PetscErrorCode KSPSolve_DCDM(KSP ksp) {
  PHYSML_PETSC_CALLBACK(PetscObjectComm((PetscObject)ksp), solve_dcdm(ksp));
  return 0;
}

PetscErrorCode KSPDestroy_DCDM(KSP ksp) {
  auto* d = static_cast<KSPDCDM*>(ksp->data);
  destroy_kept(d);
  delete d;
  ksp->data = nullptr;
  PetscCall(KSPDestroyDefault(ksp));
  return 0;
}

PetscErrorCode KSPSetFromOptions_DCDM(KSP ksp, PetscOptionItems* items) {
  PHYSML_PETSC_CALLBACK(PetscObjectComm((PetscObject)ksp), {
    auto* d = static_cast<KSPDCDM*>(ksp->data);
    OptionsReader r(items, "ksp_dcdm_", "KSP DCDM options (Deep Conjugate Direction Method, Kaneda et al. 2023)");
    const auto model = r.string("model", d->model_path, "PhysML Checkpoint of a \"dcdm\" model (operators::save)");
    if (r.given("model")) {
      d->model_path = model;
      d->direction_from_options = true;
      d->checked_mat = nullptr;
    }
    d->grid_option = r.int_list("grid", d->grid_option, "grid of the unknowns nx,ny[,nz] (default: the DMDA, else a square/cube)");
    d->k = static_cast<int>(r.integer("k", d->k, "A-orthogonalize against the last k directions", 0, 64));
    d->true_residual = r.boolean("true_residual", d->true_residual, "recompute r = b - A x every iteration");
    DCDMSafeguard g = d->safeguard;  // assigned only once every value is valid
    g.window = static_cast<int>(r.integer("stagnation_window", g.window,
                                          "no new minimum of |r| in this many iterations = stagnation (0 = off)", 0));
    g.early_its = static_cast<int>(
        r.integer("safeguard_early_its", g.early_its,
                  "judge the network after its first M iterations against steepest descent "
                  "(-ksp_dcdm_safeguard_early_ratio; 0 = off)",
                  0));
    g.early_ratio = r.real("safeguard_early_ratio", g.early_ratio,
                           "hand over if the first M network steps removed less than this times the energy-norm error "
                           "steepest descent would have, in (0, 1]");
    g.fallback = r.boolean("fallback", g.fallback,
                           "on stagnation, an early hand-over or a NaN/Inf network output, continue with the KSP's PC "
                           "instead of stopping");
    g.validate(r.prefix());
    d->safeguard = g;
    d->check_symmetric = r.boolean("check_symmetric", d->check_symmetric, "check A = A^T at setup");
    const std::string scale = r.choice("input_scale", {"none", "grid"}, d->input_scale,
                                       "network input r/|r| (none) or r/|r| sqrt(n/n_train) (grid)");
    if (scale != d->input_scale) d->checked_mat = nullptr;  // rebuild the network direction
    d->input_scale = scale;
  });
  return 0;
}

PetscErrorCode KSPView_DCDM(KSP ksp, PetscViewer viewer) {
  auto* d = static_cast<KSPDCDM*>(ksp->data);
  PetscBool ascii;
  PetscCall(PetscObjectTypeCompare((PetscObject)viewer, PETSCVIEWERASCII, &ascii));
  if (ascii) {
    PetscCall(PetscViewerASCIIPrintf(viewer, "  directions: %s\n", d->direction ? d->direction->name().c_str() : "(not set)"));
    PetscCall(PetscViewerASCIIPrintf(viewer, "  A-orthogonalization against the last %d directions, %s residual\n", d->k,
                                     d->true_residual ? "true" : "recursive"));
    const DCDMSafeguard& g = d->safeguard;
    PetscCall(PetscViewerASCIIPrintf(viewer, "  stagnation window %d, fallback to the PC: %s\n", g.window,
                                     g.fallback ? "yes" : "no"));
    if (g.early_its > 0) {
      PetscCall(PetscViewerASCIIPrintf(viewer,
                                       "  early hand-over if the first %d network steps remove < %g x the energy-norm "
                                       "error reduction of steepest descent\n",
                                       g.early_its, g.early_ratio));
    } else {
      PetscCall(PetscViewerASCIIPrintf(viewer, "  early hand-over: off\n"));
    }
  }
  return 0;
}

PetscErrorCode KSPReasonView_DCDM(KSP ksp, void*) {
  // Printed together with -ksp_converged_reason: the reason alone cannot say that the
  // classical PC took over.
  PetscBool asked = PETSC_FALSE;
  const char* prefix = nullptr;
  PetscCall(KSPGetOptionsPrefix(ksp, &prefix));
  PetscCall(PetscOptionsHasName(((PetscObject)ksp)->options, prefix, "-ksp_converged_reason", &asked));
  auto* d = static_cast<KSPDCDM*>(ksp->data);
  if (asked && d && d->info.fallback_iteration >= 0) {
    PetscCall(PetscPrintf(PetscObjectComm((PetscObject)ksp),
                          "DCDM fell back to the classical PC at iteration %d: %s\n", d->info.fallback_iteration,
                          d->info.fallback_reason.c_str()));
  }
  return 0;
}

}  // namespace

PetscErrorCode KSPCreate_DCDM(KSP ksp) {
  PHYSML_PETSC_CALLBACK(PetscObjectComm((PetscObject)ksp), {
    ksp->data = new KSPDCDM();
    PHYSML_PETSC(KSPSetSupportedNorm(ksp, KSP_NORM_UNPRECONDITIONED, PC_LEFT, 3));
    PHYSML_PETSC(KSPSetSupportedNorm(ksp, KSP_NORM_UNPRECONDITIONED, PC_RIGHT, 2));
    ksp->ops->setup = KSPSetUp_DCDM;
    ksp->ops->solve = KSPSolve_DCDM;
    ksp->ops->destroy = KSPDestroy_DCDM;
    ksp->ops->setfromoptions = KSPSetFromOptions_DCDM;
    ksp->ops->view = KSPView_DCDM;
    ksp->ops->buildsolution = KSPBuildSolutionDefault;
    ksp->ops->buildresidual = KSPBuildResidualDefault;
    ksp->setupnewmatrix = PETSC_TRUE;
    PHYSML_PETSC(KSPConvergedReasonViewSet(ksp, KSPReasonView_DCDM, nullptr, nullptr));
  });
  return 0;
}

void ksp_dcdm_set_direction(KSP ksp, std::shared_ptr<DirectionOperator> dir) {
  auto* d = data_of(ksp);
  d->direction = std::move(dir);
  d->direction_from_options = false;
  d->model_path.clear();
}

void ksp_dcdm_set_k(KSP ksp, int k) {
  PHYSML_CHECK(k >= 0 && k <= 64, "ksp_dcdm_set_k: k must be in [0, 64], got ", k);
  auto* d = data_of(ksp);
  d->k = k;
  if (ksp->setupstage != KSP_SETUP_NEW) PHYSML_PETSC(KSPSetWorkVecs(ksp, 4 + 2 * k));
}

void ksp_dcdm_set_true_residual(KSP ksp, bool on) { data_of(ksp)->true_residual = on; }

void DCDMSafeguard::validate(const std::string& prefix) const {
  PHYSML_CHECK(window >= 0, "DCDM safeguard: stagnation window (-", prefix, "stagnation_window) = ", window,
               " is out of range: expected 0 (off) or more iterations");
  PHYSML_CHECK(early_its >= 0, "DCDM safeguard: early iterations (-", prefix, "safeguard_early_its) = ", early_its,
               " is out of range: expected 0 (off) or more iterations");
  PHYSML_CHECK(early_ratio > 0.0 && early_ratio <= 1.0, "DCDM safeguard: early ratio (-", prefix,
               "safeguard_early_ratio) = ", early_ratio, " is out of range: expected a ratio in (0, 1]");
}

void ksp_dcdm_set_safeguard(KSP ksp, const DCDMSafeguard& safeguard) {
  auto* d = data_of(ksp);
  safeguard.validate("ksp_dcdm_");
  d->safeguard = safeguard;
}

void ksp_dcdm_set_safeguard(KSP ksp, int window, bool fallback) {
  DCDMSafeguard g = data_of(ksp)->safeguard;
  g.window = window;
  g.fallback = fallback;
  ksp_dcdm_set_safeguard(ksp, g);
}

DCDMSafeguard ksp_dcdm_safeguard(KSP ksp) { return data_of(ksp)->safeguard; }

void ksp_dcdm_keep_directions(KSP ksp, bool keep) { data_of(ksp)->keep = keep; }

std::vector<Vec> ksp_dcdm_directions(KSP ksp) { return data_of(ksp)->kept; }

DCDMSolveInfo ksp_dcdm_info(KSP ksp) { return data_of(ksp)->info; }

}  // namespace physml::solvers
