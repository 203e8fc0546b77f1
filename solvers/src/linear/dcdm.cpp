#include "physml/solvers/linear/dcdm.hpp"

#include "physml/core/blas.hpp"
#include "physml/core/error.hpp"
#include "physml/core/log.hpp"
#include "physml/core/options.hpp"
#include "physml/core/options_reader.hpp"
#include "physml/core/views.hpp"
#include "physml/operators/checkpoint.hpp"
#include "physml/operators/dcdm_net.hpp"

#include <petsc/private/kspimpl.h>
#include <petsc/private/pcimpl.h>
#include <petscdmda.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>
#include <sstream>

namespace physml::solvers {

// ---------------------------------------------------------------------------------------
// Network direction, model cache, grid, mask, sparse conversion
// ---------------------------------------------------------------------------------------

NetworkDirection::NetworkDirection(std::shared_ptr<operators::Model> model, std::vector<int64_t> grid, c10::Device device)
    : model_(std::move(model)), grid_(std::move(grid)), device_(device) {
  PHYSML_CHECK(model_, "NetworkDirection: null model");
  PHYSML_CHECK(model_->type() == "dcdm", "NetworkDirection: model of type '", model_->type(), "', expected 'dcdm'");
  const auto cfg = model_->config();
  dim_ = std::stoi(cfg.at("dim"));
  needs_mask_ = cfg.count("mask_channel") && cfg.at("mask_channel") == "1";
  PHYSML_CHECK(static_cast<int>(grid_.size()) == dim_, "NetworkDirection: the model is ", dim_, "D but the grid has ",
               grid_.size(), " sizes");
  model_->to(device_);
  model_->eval();
}

void NetworkDirection::set_mask(const at::Tensor& mask) {
  int64_t n = 1;
  for (auto g : grid_) n *= g;
  PHYSML_CHECK(mask.numel() == n, "NetworkDirection: mask has ", mask.numel(), " entries, the grid has ", n);
  mask_ = mask.reshape(-1).to(torch::kFloat).to(device_);
}

void NetworkDirection::set_input_scale(double s) {
  PHYSML_CHECK(std::isfinite(s) && s > 0, "NetworkDirection: the input scale must be positive and finite, got ", s);
  input_scale_ = s;
}

double NetworkDirection::grid_input_scale() const {
  const auto cfg = model_->config();
  const auto it = cfg.find("train_grid");
  PHYSML_CHECK(it != cfg.end() && !it->second.empty(), "DCDM input scale 'grid': the model does not record the grid it was "
               "trained on (config entry train_grid); use input scale 'none' or retrain with DCDMNetOptions::train_grid");
  double train_cells = 1;
  std::stringstream ss(it->second);
  std::string item;
  int count = 0;
  while (std::getline(ss, item, ',')) {
    try {
      train_cells *= std::stod(item);
    } catch (const std::exception&) {
      PHYSML_THROW("DCDM input scale 'grid': malformed train_grid '", it->second, "' in the model config");
    }
    ++count;
  }
  PHYSML_CHECK(count == dim_ && train_cells > 0, "DCDM input scale 'grid': malformed train_grid '", it->second, "' for a ",
               dim_, "D model");
  double cells = 1;
  for (auto g : grid_) cells *= static_cast<double>(g);
  return std::sqrt(cells / train_cells);
}

std::string NetworkDirection::name() const {
  std::string g;
  for (size_t i = 0; i < grid_.size(); ++i) g += (i ? "x" : "") + std::to_string(grid_[i]);
  std::string scale;
  if (input_scale_ != 1.0) scale = ", input scale " + std::to_string(input_scale_);
  return "DCDM network (" + model_->config().at("variant") + ", " + std::to_string(dim_) + "D) on grid " + g + scale;
}

void NetworkDirection::apply(Vec r, Vec q) {
  PetscInt n;
  PHYSML_PETSC(VecGetLocalSize(r, &n));
  int64_t cells = 1;
  for (auto g : grid_) cells *= g;
  PHYSML_CHECK(n == cells, "DCDM network: the vector has ", n, " entries but the grid has ", cells);
  std::vector<int64_t> shape = {1, 1};
  for (auto it = grid_.rbegin(); it != grid_.rend(); ++it) shape.push_back(*it);  // [.., nz, ny, nx]
  torch::NoGradGuard no_grad;
  at::Tensor input;
  {
    at::Tensor rt = as_tensor_read(r);
    const double norm = rt.norm().item<double>();
    if (norm == 0.0) {
      PHYSML_PETSC(VecSet(q, 0.0));
      return;
    }
    input = (rt * (input_scale_ / norm)).to(torch::kFloat).reshape(shape).to(device_);
  }
  if (needs_mask_) {
    PHYSML_CHECK(mask_.defined(), "DCDM network: the model takes a mask channel but no mask was set");
    input = torch::cat({input, mask_.reshape(shape)}, 1);
  }
  at::Tensor out = model_->forward(input);
  if (mask_.defined()) out = out * mask_.reshape(shape);  // solid (decoupled) cells are not unknowns
  out = out.to(torch::kCPU).to(torch::kDouble).reshape(-1);
  if (!torch::isfinite(out).all().item<bool>()) throw NonFiniteError("DCDM network output contains NaN or Inf", __FILE__, __LINE__);
  at::Tensor qt = as_tensor(q);
  qt.copy_(out);
}

namespace {
struct CacheEntry {
  std::filesystem::file_time_type time;
  std::shared_ptr<operators::Model> model;
};
std::mutex cache_mutex;
std::map<std::string, CacheEntry>& model_cache() {
  static std::map<std::string, CacheEntry> c;
  return c;
}
int loads = 0;
}  // namespace

std::shared_ptr<operators::Model> cached_dcdm_model(const std::string& path) {
  std::lock_guard<std::mutex> lock(cache_mutex);
  PHYSML_CHECK(std::filesystem::exists(path), "DCDM: model file '", path, "' does not exist");
  const auto key = std::filesystem::absolute(path).string();
  const auto time = std::filesystem::last_write_time(path);
  auto it = model_cache().find(key);
  if (it != model_cache().end() && it->second.time == time) return it->second.model;
  auto model = operators::load(path, "dcdm");
  ++loads;
  model_cache()[key] = {time, model};
  return model;
}

int dcdm_model_loads() { return loads; }

std::vector<int64_t> resolve_dcdm_grid(int dim, PetscInt n, const std::vector<long>& given, DM dm) {
  if (!given.empty()) {
    PHYSML_CHECK(static_cast<int>(given.size()) == dim, "DCDM: the model is ", dim, "D but the grid option gives ",
                 given.size(), " sizes; expected nx,ny", dim == 3 ? ",nz" : "");
    int64_t cells = 1;
    for (auto g : given) cells *= g;
    PHYSML_CHECK(cells == n, "DCDM: grid option has ", cells, " cells but the system has ", n, " unknowns");
    return {given.begin(), given.end()};
  }
  if (dm) {
    PetscBool is_da = PETSC_FALSE;
    PHYSML_PETSC(PetscObjectTypeCompare((PetscObject)dm, DMDA, &is_da));
    if (is_da) {
      PetscInt d, M, N, P, dof;
      PHYSML_PETSC(DMDAGetInfo(dm, &d, &M, &N, &P, nullptr, nullptr, nullptr, &dof, nullptr, nullptr, nullptr, nullptr,
                               nullptr));
      PHYSML_CHECK(dof == 1, "DCDM: the DMDA has ", dof, " dof per point; DCDM needs a scalar field (dof 1)");
      PHYSML_CHECK(d == dim, "DCDM: the model is ", dim, "D but the DMDA is ", d, "D");
      std::vector<int64_t> g = {M, N, P};
      g.resize(d);
      return g;
    }
  }
  const auto side = static_cast<int64_t>(std::llround(std::pow(static_cast<double>(n), 1.0 / dim)));
  int64_t cells = 1;
  for (int i = 0; i < dim; ++i) cells *= side;
  PHYSML_CHECK(cells == n, "DCDM: cannot infer a ", dim, "D grid for a system of size ", n, " (not a perfect ",
               dim == 3 ? "cube" : "square", "); the model is ", dim, "D: give the grid with -ksp_dcdm_grid nx,ny",
               dim == 3 ? ",nz" : "", " or attach a DMDA");
  return std::vector<int64_t>(dim, side);
}

at::Tensor solid_mask_from_matrix(Mat A) {
  PetscInt rstart, rend;
  PHYSML_PETSC(MatGetOwnershipRange(A, &rstart, &rend));
  at::Tensor mask = torch::zeros({rend - rstart}, torch::kFloat);
  auto m = mask.accessor<float, 1>();
  for (PetscInt i = rstart; i < rend; ++i) {
    PetscInt ncols;
    const PetscInt* cols;
    const PetscScalar* vals;
    PHYSML_PETSC(MatGetRow(A, i, &ncols, &cols, &vals));
    for (PetscInt k = 0; k < ncols; ++k) {
      if (cols[k] != i && vals[k] != 0.0) {
        m[i - rstart] = 1.0f;
        break;
      }
    }
    PHYSML_PETSC(MatRestoreRow(A, i, &ncols, &cols, &vals));
  }
  return mask;
}

at::Tensor sparse_from_mat(Mat A, c10::ScalarType dtype) {
  PetscInt M, N;
  PHYSML_PETSC(MatGetSize(A, &M, &N));
  std::vector<int64_t> rows, cols;
  std::vector<double> values;
  for (PetscInt i = 0; i < M; ++i) {
    PetscInt nc;
    const PetscInt* c;
    const PetscScalar* v;
    PHYSML_PETSC(MatGetRow(A, i, &nc, &c, &v));
    for (PetscInt k = 0; k < nc; ++k) {
      rows.push_back(i);
      cols.push_back(c[k]);
      values.push_back(v[k]);
    }
    PHYSML_PETSC(MatRestoreRow(A, i, &nc, &c, &v));
  }
  auto idx = torch::stack({torch::tensor(rows, torch::kLong), torch::tensor(cols, torch::kLong)});
  return torch::sparse_coo_tensor(idx, torch::tensor(values, torch::kDouble).to(dtype), {M, N}).coalesce();
}

// ---------------------------------------------------------------------------------------
// KSP "dcdm"
// ---------------------------------------------------------------------------------------

namespace {

struct KSPDCDM {
  std::shared_ptr<DirectionOperator> direction;
  bool direction_from_options = false;  // built from -ksp_dcdm_model (rebuilt per matrix)
  std::string model_path;
  std::vector<long> grid_option;
  int k = 2;
  bool true_residual = false;
  int window = 10;
  bool fallback = true;
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
    auto net = std::make_shared<NetworkDirection>(model, resolve_dcdm_grid(dim, M, d->grid_option, dm));
    net->set_mask(solid_mask_from_matrix(A));
    if (d->input_scale == "grid") net->set_input_scale(net->grid_input_scale());
    d->direction = net;
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

void announce_fallback(KSP ksp, KSPDCDM* d, PetscInt it, const std::string& reason) {
  d->info.fallback_iteration = static_cast<int>(it);
  d->info.fallback_reason = reason;
  PC pc;
  PCType type;
  PHYSML_PETSC(KSPGetPC(ksp, &pc));
  PHYSML_PETSC(PCGetType(pc, &type));
  PHYSML_PETSC(PetscInfo(ksp, "DCDM fallback at iteration %" PetscInt_FMT ": %s\n", it, reason.c_str()));
  if (ksp->numbermonitors > 0) {
    PHYSML_PETSC(PetscPrintf(PetscObjectComm((PetscObject)ksp),
                             "  DCDM: %s at iteration %" PetscInt_FMT "; falling back to PC %s\n", reason.c_str(), it,
                             type ? type : "(none)"));
  }
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
  for (PetscInt i = 1; i <= ksp->max_it; ++i) {
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
        if (!d->fallback) {
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
    // 5. stagnation safeguard
    if (rnorm < best) {
      best = rnorm;
      best_it = i;
    } else if (d->window > 0 && !fallen_back && i - best_it >= d->window) {
      if (!d->fallback) {
        ksp->reason = KSP_DIVERGED_BREAKDOWN;
        PHYSML_PETSC(PetscInfo(ksp, "DCDM stagnated: no residual decrease in %d iterations\n", d->window));
        return;
      }
      fallen_back = true;
      stored = head = 0;  // restart: the fallback iteration is then exactly PCG from here
      announce_fallback(ksp, d, i + 1, "stagnation (no residual decrease in " + std::to_string(d->window) + " iterations)");
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
    d->window = static_cast<int>(r.integer("stagnation_window", d->window,
                                           "no new minimum of |r| in this many iterations = stagnation (0 = off)", 0));
    d->fallback = r.boolean("fallback", d->fallback,
                            "on stagnation or a NaN/Inf network output, continue with the KSP's PC instead of stopping");
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
    PetscCall(PetscViewerASCIIPrintf(viewer, "  stagnation window %d, fallback to the PC: %s\n", d->window,
                                     d->fallback ? "yes" : "no"));
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

// ---------------------------------------------------------------------------------------
// PC "dcdm"
// ---------------------------------------------------------------------------------------

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
      auto net = std::make_shared<NetworkDirection>(model, resolve_dcdm_grid(dim, M, d->grid_option, pc->dm));
      net->set_mask(solid_mask_from_matrix(pc->pmat));
      if (d->input_scale == "grid") net->set_input_scale(net->grid_input_scale());
      d->direction = net;
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

PetscErrorCode PCCreate_DCDM(PC pc) {
  pc->data = new PCDCDM();
  pc->ops->setup = PCSetUp_DCDM;
  pc->ops->apply = PCApply_DCDM;
  pc->ops->destroy = PCDestroy_DCDM;
  pc->ops->setfromoptions = PCSetFromOptions_DCDM;
  pc->ops->view = PCView_DCDM;
  return 0;
}

bool types_registered = false;

/// PetscFinalize empties PETSc's KSP and PC type lists: forget the registration then, so a
/// later PetscInitialize + register_petsc_types() registers the types again.
PetscErrorCode forget_registration() {
  types_registered = false;
  return 0;
}

}  // namespace

void register_petsc_types() {
  if (types_registered) return;
  // A host program without a physml::Environment still gets -threads N for LibTorch.
  Options global;
  if (global.has("threads")) physml::set_num_threads(static_cast<int>(global.get_int("threads", 1)));
  PHYSML_PETSC(KSPRegister("dcdm", KSPCreate_DCDM));
  PHYSML_PETSC(PCRegister("dcdm", PCCreate_DCDM));
  PHYSML_PETSC(PetscRegisterFinalize(forget_registration));
  types_registered = true;
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

void ksp_dcdm_set_safeguard(KSP ksp, int window, bool fallback) {
  auto* d = data_of(ksp);
  d->window = window;
  d->fallback = fallback;
}

void ksp_dcdm_keep_directions(KSP ksp, bool keep) { data_of(ksp)->keep = keep; }

std::vector<Vec> ksp_dcdm_directions(KSP ksp) { return data_of(ksp)->kept; }

DCDMSolveInfo ksp_dcdm_info(KSP ksp) { return data_of(ksp)->info; }

void pc_dcdm_set_direction(PC pc, std::shared_ptr<DirectionOperator> dir) {
  PetscBool is = PETSC_FALSE;
  PHYSML_PETSC(PetscObjectTypeCompare((PetscObject)pc, "dcdm", &is));
  PHYSML_CHECK(is, "pc_dcdm_set_direction: this PC is not of type dcdm");
  auto* d = static_cast<PCDCDM*>(pc->data);
  d->direction = std::move(dir);
  d->from_options = false;
}

}  // namespace physml::solvers

/// Entry point PETSc calls when libphysml_solvers.so is loaded with -dll_append: an
/// unmodified PETSc program gains -ksp_type dcdm and -pc_type dcdm.
extern "C" PetscErrorCode PetscDLLibraryRegister_physml_solvers(void) {
  PHYSML_PETSC_CALLBACK(PETSC_COMM_SELF, physml::solvers::register_petsc_types());
  return 0;
}
