// The DCDM Krylov method as PETSc KSP type "dcdm" and PC type "dcdm".
#include "dcdm_test_problems.hpp"
#include "physml/operators/checkpoint.hpp"
#include "physml/operators/dcdm_net.hpp"
#include "physml/solvers/linear/dcdm.hpp"
#include "test_util.hpp"

#include <petscksp.h>
#include <torch/torch.h>

#include <cmath>

using namespace physml;
using namespace physml::solvers;
using physml::test::poisson_matrix;
using physml::test::random_vec;
using physml::test::residual_history;

namespace {

// q = A⁻¹ r by a sparse LU factorization: the "perfect network".
class ExactInverse : public DirectionOperator {
public:
  explicit ExactInverse(Mat A) {
    PHYSML_PETSC(KSPCreate(PETSC_COMM_SELF, &ksp_));
    PHYSML_PETSC(KSPSetOperators(ksp_, A, A));
    PHYSML_PETSC(KSPSetType(ksp_, KSPPREONLY));
    PC pc;
    PHYSML_PETSC(KSPGetPC(ksp_, &pc));
    PHYSML_PETSC(PCSetType(pc, PCLU));
  }
  ~ExactInverse() override { KSPDestroy(&ksp_); }
  void apply(Vec r, Vec q) override { PHYSML_PETSC(KSPSolve(ksp_, r, q)); }
  std::string name() const override { return "exact inverse"; }

private:
  KSP ksp_ = nullptr;
};

// q = r: DCDM reduces to conjugate gradients.
class Identity : public DirectionOperator {
public:
  void apply(Vec r, Vec q) override { PHYSML_PETSC(VecCopy(r, q)); }
  std::string name() const override { return "identity"; }
};

// Alternates between the unit vectors of two uncoupled cells: with k = 0 the residual
// stops decreasing after two steps (stagnation).
class TwoCells : public DirectionOperator {
public:
  void apply(Vec r, Vec q) override {
    PHYSML_PETSC(VecSet(q, 0.0));
    PHYSML_PETSC(VecSetValue(q, (calls_++ % 2) ? 0 : 20, 1.0, INSERT_VALUES));
    PHYSML_PETSC(VecAssemblyBegin(q));
    PHYSML_PETSC(VecAssemblyEnd(q));
  }
  std::string name() const override { return "two cells"; }

private:
  int calls_ = 0;
};

class NaNDirection : public DirectionOperator {
public:
  void apply(Vec r, Vec q) override { PHYSML_PETSC(VecSet(q, NAN)); }
  std::string name() const override { return "NaN"; }
};

// A direction that fails for a reason other than a non-finite output, with "NaN or Inf" in
// its message: the safeguard must not mistake it for one (it matched message text before).
class BrokenDirection : public DirectionOperator {
public:
  void apply(Vec, Vec) override { PHYSML_THROW("mask file contains NaN or Inf"); }
  std::string name() const override { return "broken"; }
};

struct System {
  Mat A = nullptr;
  Vec b = nullptr, x = nullptr;
  explicit System(const std::vector<PetscInt>& grid, unsigned long seed = 7) {
    A = poisson_matrix(grid);
    PetscInt n;
    PHYSML_PETSC(MatGetSize(A, &n, nullptr));
    b = random_vec(n, seed);
    PHYSML_PETSC(VecDuplicate(b, &x));
  }
  ~System() {
    VecDestroy(&x);
    VecDestroy(&b);
    MatDestroy(&A);
  }
  PetscInt size() const {
    PetscInt n;
    MatGetSize(A, &n, nullptr);
    return n;
  }
};

KSP make_ksp(Mat A, const char* type, double rtol, int max_it) {
  register_petsc_types();
  KSP ksp;
  PHYSML_PETSC(KSPCreate(PETSC_COMM_SELF, &ksp));
  PHYSML_PETSC(KSPSetOperators(ksp, A, A));
  PHYSML_PETSC(KSPSetType(ksp, type));
  PHYSML_PETSC(KSPSetTolerances(ksp, rtol, 1e-50, PETSC_DEFAULT, max_it));
  PHYSML_PETSC(KSPSetNormType(ksp, KSP_NORM_UNPRECONDITIONED));
  PHYSML_PETSC(KSPSetResidualHistory(ksp, nullptr, PETSC_DECIDE, PETSC_TRUE));
  return ksp;
}

double true_relative_residual(const System& s) {
  Vec r;
  PHYSML_PETSC(VecDuplicate(s.b, &r));
  PHYSML_PETSC(MatMult(s.A, s.x, r));
  PHYSML_PETSC(VecAYPX(r, -1.0, s.b));
  PetscReal rn, bn;
  PHYSML_PETSC(VecNorm(r, NORM_2, &rn));
  PHYSML_PETSC(VecNorm(s.b, NORM_2, &bn));
  VecDestroy(&r);
  return rn / bn;
}

// A KSP configured only from the options database under `prefix`, solved on s; returns
// the residual history.
std::vector<double> solve_with_prefix(const char* prefix, const System& s) {
  KSP ksp;
  PHYSML_PETSC(KSPCreate(PETSC_COMM_SELF, &ksp));
  PHYSML_PETSC(KSPSetOptionsPrefix(ksp, prefix));
  PHYSML_PETSC(KSPSetOperators(ksp, s.A, s.A));
  PHYSML_PETSC(KSPSetResidualHistory(ksp, nullptr, PETSC_DECIDE, PETSC_TRUE));
  PHYSML_PETSC(KSPSetFromOptions(ksp));
  PHYSML_PETSC(KSPSolve(ksp, s.b, s.x));
  auto h = residual_history(ksp);
  KSPDestroy(&ksp);
  return h;
}

// Neither rule of the safeguard, no fallback: the network's own iteration throughout (an
// untrained network is handed over by the early rule after 5 iterations otherwise).
DCDMSafeguard no_safeguard() {
  DCDMSafeguard g;
  g.window = 0;
  g.early_its = 0;
  g.fallback = false;
  return g;
}

std::shared_ptr<NetworkDirection> untrained_net(int dim, std::vector<int64_t> grid, uint64_t seed = 0) {
  torch::manual_seed(seed);
  auto net = std::make_shared<operators::DCDMNetImpl>(operators::DCDMNetOptions(dim));
  return std::make_shared<NetworkDirection>(net, grid);
}

}  // namespace

TEST(DCDMSolver, PerfectNetworkConvergesInOneStep) {
  System s({16, 16});
  KSP ksp = make_ksp(s.A, "dcdm", 1e-10, 10);
  ksp_dcdm_set_direction(ksp, std::make_shared<ExactInverse>(s.A));
  PHYSML_PETSC(KSPSolve(ksp, s.b, s.x));
  PetscInt its;
  KSPConvergedReason reason;
  PHYSML_PETSC(KSPGetIterationNumber(ksp, &its));
  PHYSML_PETSC(KSPGetConvergedReason(ksp, &reason));
  EXPECT_EQ(its, 1);
  EXPECT_GT(reason, 0);
  EXPECT_LT(true_relative_residual(s), 1e-12);
  KSPDestroy(&ksp);
}

TEST(DCDMSolver, IdentityNetworkReproducesConjugateGradients) {
  System s({12, 10, 8});
  KSP dcdm = make_ksp(s.A, "dcdm", 1e-8, 200);
  ksp_dcdm_set_direction(dcdm, std::make_shared<Identity>());
  PHYSML_PETSC(KSPSolve(dcdm, s.b, s.x));
  const auto h_dcdm = residual_history(dcdm);
  KSP cg = make_ksp(s.A, KSPCG, 1e-8, 200);
  PC pc;
  PHYSML_PETSC(KSPGetPC(cg, &pc));
  PHYSML_PETSC(PCSetType(pc, PCNONE));
  PHYSML_PETSC(KSPSolve(cg, s.b, s.x));
  const auto h_cg = residual_history(cg);
  ASSERT_GT(h_cg.size(), 20u);
  ASSERT_EQ(h_dcdm.size(), h_cg.size());
  for (size_t i = 0; i < h_cg.size(); ++i) EXPECT_NEAR(h_dcdm[i] / h_cg[i], 1.0, 1e-6) << "iteration " << i;
  KSPDestroy(&dcdm);
  KSPDestroy(&cg);
}

TEST(DCDMSolver, DirectionsAreAOrthogonalToTheLastK) {
  System s({16, 16});
  for (int k : {1, 2, 3}) {
    KSP ksp = make_ksp(s.A, "dcdm", 1e-12, 12);
    ksp_dcdm_set_direction(ksp, untrained_net(2, {16, 16}));
    ksp_dcdm_set_k(ksp, k);
    ksp_dcdm_set_safeguard(ksp, no_safeguard());  // a fallback restarts the direction history
    ksp_dcdm_keep_directions(ksp, true);
    PHYSML_PETSC(KSPSolve(ksp, s.b, s.x));
    auto P = ksp_dcdm_directions(ksp);
    ASSERT_EQ(P.size(), 12u);
    Vec AP;
    PHYSML_PETSC(VecDuplicate(s.b, &AP));
    std::vector<double> energy(P.size());
    for (size_t i = 0; i < P.size(); ++i) {
      PHYSML_PETSC(MatMult(s.A, P[i], AP));
      PHYSML_PETSC(VecDot(P[i], AP, &energy[i]));
    }
    double worst = 0, beyond = 0;
    for (size_t i = 0; i < P.size(); ++i) {
      PHYSML_PETSC(MatMult(s.A, P[i], AP));
      for (size_t j = 0; j < i; ++j) {
        double pAp;
        PHYSML_PETSC(VecDot(P[j], AP, &pAp));
        const double cosine = std::abs(pAp) / std::sqrt(energy[i] * energy[j]);
        if (i - j <= static_cast<size_t>(k)) worst = std::max(worst, cosine);
        else beyond = std::max(beyond, cosine);
      }
    }
    EXPECT_LT(worst, 1e-10) << "k = " << k;
    // The network is nonlinear: older directions are not A-orthogonal (so the test of
    // the window above is not vacuous).
    if (k < 3) {
      EXPECT_GT(beyond, 1e-6) << "k = " << k;
    }
    VecDestroy(&AP);
    KSPDestroy(&ksp);
  }
}

TEST(DCDMSolver, FCGWithNetworkPCReproducesDCDM) {
  System s({16, 16});
  auto net = untrained_net(2, {16, 16}, 3);
  KSP dcdm = make_ksp(s.A, "dcdm", 1e-6, 25);
  ksp_dcdm_set_direction(dcdm, net);
  ksp_dcdm_set_safeguard(dcdm, no_safeguard());  // FCG has no safeguard
  PHYSML_PETSC(KSPSolve(dcdm, s.b, s.x));
  const auto h1 = residual_history(dcdm);

  KSP fcg = make_ksp(s.A, KSPFCG, 1e-6, 25);
  PHYSML_PETSC(KSPFCGSetMmax(fcg, 2));
  PHYSML_PETSC(KSPFCGSetTruncationType(fcg, KSP_FCD_TRUNC_TYPE_STANDARD));
  PC pc;
  PHYSML_PETSC(KSPGetPC(fcg, &pc));
  PHYSML_PETSC(PCSetType(pc, "dcdm"));
  pc_dcdm_set_direction(pc, net);
  PHYSML_PETSC(KSPSolve(fcg, s.b, s.x));
  const auto h2 = residual_history(fcg);
  ASSERT_EQ(h1.size(), h2.size());
  // The untrained net's residual history is not flat (the 2-norm need not decrease: the
  // exact line search minimizes the A-norm of the error), so the comparison below is not
  // between two constant sequences.
  double spread = 0;
  for (double h : h1) spread = std::max(spread, std::abs(h / h1.front() - 1));
  EXPECT_GT(spread, 1e-2);
  for (size_t i = 0; i < h1.size(); ++i) EXPECT_NEAR(h2[i] / h1[i], 1.0, 1e-5) << "iteration " << i;
  KSPDestroy(&dcdm);
  KSPDestroy(&fcg);
}

TEST(DCDMSolver, WorksFromOptionsAndLoadsTheModelOnce) {
  auto dir = test::scratch_dir();
  torch::manual_seed(5);
  operators::DCDMNet net(operators::DCDMNetOptions(2).train_grid({16, 16}));
  const std::string path = (dir / "dcdm2d.h5").string();
  operators::save(path, *net);
  register_petsc_types();
  PHYSML_PETSC(PetscOptionsSetValue(nullptr, "-dcdmopt_ksp_type", "dcdm"));
  PHYSML_PETSC(PetscOptionsSetValue(nullptr, "-dcdmopt_ksp_dcdm_model", path.c_str()));
  PHYSML_PETSC(PetscOptionsSetValue(nullptr, "-dcdmopt_ksp_max_it", "30"));
  PHYSML_PETSC(PetscOptionsSetValue(nullptr, "-dcdmopt_ksp_rtol", "1e-12"));
  PHYSML_PETSC(PetscOptionsSetValue(nullptr, "-dcdmopt_ksp_dcdm_stagnation_window", "0"));
  PHYSML_PETSC(PetscOptionsSetValue(nullptr, "-dcdmopt_ksp_dcdm_safeguard_early_its", "0"));
  PHYSML_PETSC(PetscOptionsSetValue(nullptr, "-dcdmopt_ksp_norm_type", "unpreconditioned"));
  System s({16, 16});
  const int loads_before = dcdm_model_loads();
  std::vector<double> first;
  for (int solve = 0; solve < 2; ++solve) {
    KSP ksp;
    PHYSML_PETSC(KSPCreate(PETSC_COMM_SELF, &ksp));
    PHYSML_PETSC(KSPSetOptionsPrefix(ksp, "dcdmopt_"));
    PHYSML_PETSC(KSPSetOperators(ksp, s.A, s.A));
    PHYSML_PETSC(KSPSetResidualHistory(ksp, nullptr, PETSC_DECIDE, PETSC_TRUE));
    PHYSML_PETSC(KSPSetFromOptions(ksp));
    KSPType type;
    PHYSML_PETSC(KSPGetType(ksp, &type));
    EXPECT_STREQ(type, "dcdm");
    PHYSML_PETSC(KSPSolve(ksp, s.b, s.x));
    auto h = residual_history(ksp);
    KSPConvergedReason reason;
    PHYSML_PETSC(KSPGetConvergedReason(ksp, &reason));
    EXPECT_EQ(h.size(), 31u) << KSPConvergedReasons[reason] << " fallback at " << ksp_dcdm_info(ksp).fallback_iteration;
    EXPECT_LT(h.back(), 0.99 * h.front());
    if (solve == 0) first = h;
    else EXPECT_EQ(h, first);  // same model, same answer
    KSPDestroy(&ksp);
  }
  EXPECT_EQ(dcdm_model_loads() - loads_before, 1);
  // The PC type from options, inside PETSc's flexible CG.
  PHYSML_PETSC(PetscOptionsSetValue(nullptr, "-dcdmpc_ksp_type", "fcg"));
  PHYSML_PETSC(PetscOptionsSetValue(nullptr, "-dcdmpc_pc_type", "dcdm"));
  PHYSML_PETSC(PetscOptionsSetValue(nullptr, "-dcdmpc_pc_dcdm_model", path.c_str()));
  PHYSML_PETSC(PetscOptionsSetValue(nullptr, "-dcdmpc_ksp_fcg_mmax", "2"));
  PHYSML_PETSC(PetscOptionsSetValue(nullptr, "-dcdmpc_ksp_fcg_truncation_type", "standard"));
  PHYSML_PETSC(PetscOptionsSetValue(nullptr, "-dcdmpc_ksp_norm_type", "unpreconditioned"));
  PHYSML_PETSC(PetscOptionsSetValue(nullptr, "-dcdmpc_ksp_max_it", "30"));
  PHYSML_PETSC(PetscOptionsSetValue(nullptr, "-dcdmpc_ksp_rtol", "1e-12"));
  const auto h = solve_with_prefix("dcdmpc_", s);
  ASSERT_EQ(h.size(), first.size());
  for (size_t i = 0; i < h.size(); ++i) EXPECT_NEAR(h[i] / first[i], 1.0, 1e-5) << "iteration " << i;
  EXPECT_EQ(dcdm_model_loads() - loads_before, 1);
}

namespace {
// A "dcdm" model that records its input and returns it (q = r, i.e. CG directions).
struct RecordingModel : operators::Model {
  RecordingModel() : operators::Model("RecordingModel") {}
  at::Tensor forward(const at::Tensor& x) override {
    inputs.push_back(x.clone());
    return x;
  }
  std::string type() const override { return "dcdm"; }
  operators::ModelConfig config() const override {
    return {{"dim", "2"}, {"variant", "from64"}, {"train_grid", train_grid}};
  }
  std::string train_grid = "8,8";
  std::vector<at::Tensor> inputs;
};
}  // namespace

TEST(DCDMSolver, GridInputScaleGivesTheNetworkTheEntrySizeOfTraining) {
  // A unit vector on 8x8 cells has RMS entry 1/8; on 32x16 cells 1/sqrt(512). With input
  // scale "grid" the network sees the training size again: ||input|| = sqrt(512/64).
  System s({32, 16});
  auto model = std::make_shared<RecordingModel>();
  NetworkDirection plain(model, {32, 16});
  NetworkDirection scaled(model, {32, 16});
  EXPECT_NEAR(scaled.grid_input_scale(), std::sqrt(512.0 / 64.0), 1e-12);
  scaled.set_input_scale(scaled.grid_input_scale());
  Vec q;
  PHYSML_PETSC(VecDuplicate(s.b, &q));
  plain.apply(s.b, q);
  scaled.apply(s.b, q);
  ASSERT_EQ(model->inputs.size(), 2u);
  EXPECT_NEAR(model->inputs[0].norm().item<double>(), 1.0, 1e-6);
  const double rms = std::sqrt(model->inputs[1].pow(2).mean().item<double>());
  EXPECT_NEAR(rms, 1.0 / 8.0, 1e-6);
  EXPECT_EQ(model->inputs[1].sizes(), (std::vector<int64_t>{1, 1, 16, 32}));
  // The direction only changes scale for this linear "network": CG is unchanged.
  EXPECT_TRUE(torch::allclose(model->inputs[1], model->inputs[0] * std::sqrt(8.0), 1e-6, 1e-7));
  // Bad input: no training grid recorded, non-positive scale.
  model->train_grid = "";
  EXPECT_THROW_MSG(scaled.grid_input_scale(), "train_grid");
  EXPECT_THROW_MSG(scaled.set_input_scale(0.0), "positive");
  VecDestroy(&q);
}

TEST(DCDMSolver, InputScaleFromOptions) {
  // A real network trained-size 8x8, used on 16x16 from the options database: the KSP
  // built with -ksp_dcdm_input_scale grid must act like a direction scaled by 2 set in
  // code, and differently from the unscaled one (the net is not scale-equivariant once
  // its biases are non-zero, as after training).
  auto dir = test::scratch_dir();
  torch::manual_seed(6);
  operators::DCDMNet net(operators::DCDMNetOptions(2).train_grid({8, 8}));
  {
    torch::NoGradGuard ng;
    for (auto& p : net->parameters()) {
      if (p.dim() == 1) p.uniform_(-0.2, 0.2);
    }
  }
  const std::string path = (dir / "dcdm_scale.h5").string();
  operators::save(path, *net);
  register_petsc_types();
  System s({16, 16});
  auto history = [&](const char* scale, double in_code) {
    KSP ksp;
    PHYSML_PETSC(KSPCreate(PETSC_COMM_SELF, &ksp));
    PHYSML_PETSC(KSPSetOptionsPrefix(ksp, "dcdmscale_"));
    PHYSML_PETSC(PetscOptionsClearValue(nullptr, "-dcdmscale_ksp_dcdm_model"));
    PHYSML_PETSC(PetscOptionsClearValue(nullptr, "-dcdmscale_ksp_dcdm_input_scale"));
    PHYSML_PETSC(PetscOptionsSetValue(nullptr, "-dcdmscale_ksp_type", "dcdm"));
    PHYSML_PETSC(PetscOptionsSetValue(nullptr, "-dcdmscale_ksp_max_it", "15"));
    PHYSML_PETSC(PetscOptionsSetValue(nullptr, "-dcdmscale_ksp_rtol", "1e-12"));
    PHYSML_PETSC(PetscOptionsSetValue(nullptr, "-dcdmscale_ksp_dcdm_stagnation_window", "0"));
    PHYSML_PETSC(PetscOptionsSetValue(nullptr, "-dcdmscale_ksp_dcdm_safeguard_early_its", "0"));
    PHYSML_PETSC(PetscOptionsSetValue(nullptr, "-dcdmscale_ksp_norm_type", "unpreconditioned"));
    if (scale) {
      PHYSML_PETSC(PetscOptionsSetValue(nullptr, "-dcdmscale_ksp_dcdm_model", path.c_str()));
      PHYSML_PETSC(PetscOptionsSetValue(nullptr, "-dcdmscale_ksp_dcdm_input_scale", scale));
    }
    PHYSML_PETSC(KSPSetOperators(ksp, s.A, s.A));
    PHYSML_PETSC(KSPSetResidualHistory(ksp, nullptr, PETSC_DECIDE, PETSC_TRUE));
    PHYSML_PETSC(KSPSetFromOptions(ksp));
    if (!scale) {
      auto d = std::make_shared<NetworkDirection>(cached_dcdm_model(path), std::vector<int64_t>{16, 16});
      d->set_mask(solid_mask_from_matrix(s.A));
      d->set_input_scale(in_code);
      ksp_dcdm_set_direction(ksp, d);
    }
    PHYSML_PETSC(KSPSolve(ksp, s.b, s.x));
    auto h = residual_history(ksp);
    KSPDestroy(&ksp);
    return h;
  };
  const auto from_options = history("grid", 0), in_code = history(nullptr, 2.0), unscaled = history("none", 0);
  ASSERT_EQ(from_options.size(), in_code.size());
  for (size_t i = 0; i < in_code.size(); ++i) EXPECT_NEAR(from_options[i] / in_code[i], 1.0, 1e-10) << i;
  double diff = 0;
  for (size_t i = 0; i < std::min(unscaled.size(), in_code.size()); ++i)
    diff = std::max(diff, std::abs(unscaled[i] / in_code[i] - 1));
  EXPECT_GT(diff, 1e-3);
  // The PC type takes the same option: FCG(2, standard) + PC dcdm reproduces the history.
  for (const char* o : {"-dcdmscpc_ksp_type fcg", "-dcdmscpc_ksp_fcg_mmax 2", "-dcdmscpc_ksp_fcg_truncation_type standard",
                        "-dcdmscpc_pc_type dcdm", "-dcdmscpc_pc_dcdm_input_scale grid", "-dcdmscpc_ksp_max_it 15",
                        "-dcdmscpc_ksp_rtol 1e-12", "-dcdmscpc_ksp_norm_type unpreconditioned"}) {
    PHYSML_PETSC(PetscOptionsInsertString(nullptr, o));
  }
  PHYSML_PETSC(PetscOptionsSetValue(nullptr, "-dcdmscpc_pc_dcdm_model", path.c_str()));
  const auto h_fcg = solve_with_prefix("dcdmscpc_", s);
  ASSERT_EQ(h_fcg.size(), from_options.size());
  for (size_t i = 0; i < h_fcg.size(); ++i) EXPECT_NEAR(h_fcg[i] / from_options[i], 1.0, 1e-5) << i;
  for (const char* o : {"-dcdmscpc_ksp_type", "-dcdmscpc_ksp_fcg_mmax", "-dcdmscpc_ksp_fcg_truncation_type", "-dcdmscpc_pc_type",
                        "-dcdmscpc_pc_dcdm_input_scale", "-dcdmscpc_ksp_max_it", "-dcdmscpc_ksp_rtol",
                        "-dcdmscpc_ksp_norm_type", "-dcdmscpc_pc_dcdm_model"}) {
    PHYSML_PETSC(PetscOptionsClearValue(nullptr, o));
  }
  PHYSML_PETSC(PetscOptionsClearValue(nullptr, "-dcdmscale_ksp_dcdm_model"));
  PHYSML_PETSC(PetscOptionsClearValue(nullptr, "-dcdmscale_ksp_dcdm_input_scale"));
}

TEST(DCDMSolver, StagnationFallsBackToTheClassicalPC) {
  System s({8, 8});
  KSP ksp = make_ksp(s.A, "dcdm", 1e-6, 2000);
  ksp_dcdm_set_direction(ksp, std::make_shared<TwoCells>());
  ksp_dcdm_set_k(ksp, 0);
  DCDMSafeguard window_only;
  window_only.window = 3;
  window_only.early_its = 0;  // this test is about the window (DCDMSafeguard.* test the early rule)
  ksp_dcdm_set_safeguard(ksp, window_only);
  PC pc;
  PHYSML_PETSC(KSPGetPC(ksp, &pc));
  PHYSML_PETSC(PCSetType(pc, PCJACOBI));
  PetscViewerAndFormat* vf;
  PHYSML_PETSC(PetscViewerAndFormatCreate(PETSC_VIEWER_STDOUT_SELF, PETSC_VIEWER_DEFAULT, &vf));
  PHYSML_PETSC(KSPMonitorSet(ksp, (PetscErrorCode(*)(KSP, PetscInt, PetscReal, void*))KSPMonitorResidual, vf,
                             (PetscErrorCode(*)(void**))PetscViewerAndFormatDestroy));
  testing::internal::CaptureStdout();
  PHYSML_PETSC(KSPSolve(ksp, s.b, s.x));
  fflush(stdout);
  const std::string out = testing::internal::GetCapturedStdout();
  KSPConvergedReason reason;
  PHYSML_PETSC(KSPGetConvergedReason(ksp, &reason));
  EXPECT_GT(reason, 0);
  EXPECT_LT(true_relative_residual(s), 1e-5);
  auto info = ksp_dcdm_info(ksp);
  EXPECT_EQ(info.fallback_iteration, 6);  // r stops decreasing after step 2; window 3
  EXPECT_NE(info.fallback_reason.find("stagnation"), std::string::npos);
  EXPECT_NE(out.find("DCDM: stagnation"), std::string::npos) << out.substr(0, 2000);
  EXPECT_NE(out.find("falling back to PC jacobi"), std::string::npos);
  // Without fallback the solve stops with a breakdown reason instead of looping.
  ksp_dcdm_set_direction(ksp, std::make_shared<TwoCells>());
  ksp_dcdm_set_safeguard(ksp, 3, false);
  PHYSML_PETSC(KSPMonitorCancel(ksp));
  PHYSML_PETSC(KSPSolve(ksp, s.b, s.x));
  PHYSML_PETSC(KSPGetConvergedReason(ksp, &reason));
  EXPECT_EQ(reason, KSP_DIVERGED_BREAKDOWN);
  KSPDestroy(&ksp);
}

TEST(DCDMSolver, NaNNetworkOutputFallsBackOrStops) {
  System s({16, 16});
  // A real network with a NaN weight.
  torch::manual_seed(0);
  auto model = std::make_shared<operators::DCDMNetImpl>(operators::DCDMNetOptions(2));
  {
    torch::NoGradGuard ng;
    model->parameters()[0].view(-1)[0] = NAN;
  }
  auto net = std::make_shared<NetworkDirection>(model, std::vector<int64_t>{16, 16});
  Vec q;
  PHYSML_PETSC(VecDuplicate(s.b, &q));
  EXPECT_THROW_MSG(net->apply(s.b, q), "NaN or Inf");
  VecDestroy(&q);
  KSP ksp = make_ksp(s.A, "dcdm", 1e-6, 500);
  ksp_dcdm_set_direction(ksp, net);
  PC pc;
  PHYSML_PETSC(KSPGetPC(ksp, &pc));
  PHYSML_PETSC(PCSetType(pc, PCJACOBI));
  PHYSML_PETSC(KSPSolve(ksp, s.b, s.x));
  KSPConvergedReason reason;
  PHYSML_PETSC(KSPGetConvergedReason(ksp, &reason));
  EXPECT_GT(reason, 0);
  EXPECT_LT(true_relative_residual(s), 1e-5);
  EXPECT_EQ(ksp_dcdm_info(ksp).fallback_iteration, 1);
  EXPECT_EQ(ksp_dcdm_info(ksp).fallback_reason, "network output NaN/Inf");
  ksp_dcdm_set_direction(ksp, std::make_shared<NaNDirection>());
  ksp_dcdm_set_safeguard(ksp, 10, false);
  PHYSML_PETSC(KSPSolve(ksp, s.b, s.x));
  PHYSML_PETSC(KSPGetConvergedReason(ksp, &reason));
  EXPECT_EQ(reason, KSP_DIVERGED_NANORINF);
  // Any other error is an error, whatever its text, also with the fallback on.
  ksp_dcdm_set_direction(ksp, std::make_shared<BrokenDirection>());
  ksp_dcdm_set_safeguard(ksp, 10, true);
  EXPECT_NE(KSPSolve(ksp, s.b, s.x), 0);
  KSPDestroy(&ksp);
}

namespace {
class OtherModel : public operators::Model {
public:
  OtherModel() : Model("Other") { w = register_parameter("w", torch::ones({1})); }
  at::Tensor forward(const at::Tensor& x) override { return x * w; }
  std::string type() const override { return "dcdm_test_other"; }
  operators::ModelConfig config() const override { return {}; }
  at::Tensor w;
};
}  // namespace

TEST(DCDMSolver, BadInputGivesClearErrors) {
  register_petsc_types();
  auto dir = test::scratch_dir();
  // Non-square matrix.
  Mat R;
  PHYSML_PETSC(MatCreateSeqAIJ(PETSC_COMM_SELF, 10, 12, 1, nullptr, &R));
  for (PetscInt i = 0; i < 10; ++i) PHYSML_PETSC(MatSetValue(R, i, i, 2.0, INSERT_VALUES));
  PHYSML_PETSC(MatAssemblyBegin(R, MAT_FINAL_ASSEMBLY));
  PHYSML_PETSC(MatAssemblyEnd(R, MAT_FINAL_ASSEMBLY));
  KSP ksp = make_ksp(R, "dcdm", 1e-6, 10);
  ksp_dcdm_set_direction(ksp, std::make_shared<Identity>());
  EXPECT_THROW_MSG(PHYSML_PETSC(KSPSetUp(ksp)), "10 x 12");
  KSPDestroy(&ksp);
  MatDestroy(&R);
  // Non-symmetric matrix.
  System s({6, 6});
  PHYSML_PETSC(MatSetValue(s.A, 0, 1, -0.5, INSERT_VALUES));
  PHYSML_PETSC(MatAssemblyBegin(s.A, MAT_FINAL_ASSEMBLY));
  PHYSML_PETSC(MatAssemblyEnd(s.A, MAT_FINAL_ASSEMBLY));
  ksp = make_ksp(s.A, "dcdm", 1e-6, 10);
  ksp_dcdm_set_direction(ksp, std::make_shared<Identity>());
  EXPECT_THROW_MSG(PHYSML_PETSC(KSPSetUp(ksp)), "not symmetric");
  KSPDestroy(&ksp);
  // Model grid mismatch: a 3D model for a 2D system of 15 x 15 unknowns (not a cube),
  // and a grid option that does not match the size.
  torch::manual_seed(0);
  operators::DCDMNet net3(operators::DCDMNetOptions(3));
  const std::string p3 = (dir / "net3.h5").string();
  operators::save(p3, *net3);
  System s2({15, 15});
  EXPECT_THROW_MSG(resolve_dcdm_grid(3, s2.size(), {}, nullptr), "cannot infer a 3D grid for a system of size 225");
  EXPECT_THROW_MSG(resolve_dcdm_grid(2, s2.size(), {16, 16}, nullptr), "256 cells but the system has 225");
  EXPECT_THROW_MSG(resolve_dcdm_grid(3, s2.size(), {15, 15}, nullptr), "the model is 3D");
  PHYSML_PETSC(PetscOptionsSetValue(nullptr, "-badgrid_ksp_type", "dcdm"));
  PHYSML_PETSC(PetscOptionsSetValue(nullptr, "-badgrid_ksp_dcdm_model", p3.c_str()));
  PHYSML_PETSC(KSPCreate(PETSC_COMM_SELF, &ksp));
  PHYSML_PETSC(KSPSetOptionsPrefix(ksp, "badgrid_"));
  PHYSML_PETSC(KSPSetOperators(ksp, s2.A, s2.A));
  PHYSML_PETSC(KSPSetFromOptions(ksp));
  EXPECT_THROW_MSG(PHYSML_PETSC(KSPSetUp(ksp)), "cannot infer a 3D grid");
  KSPDestroy(&ksp);
  // A model file of another type.
  operators::register_model("dcdm_test_other", [](const operators::ModelConfig&) { return std::make_shared<OtherModel>(); });
  OtherModel other;
  const std::string po = (dir / "other.h5").string();
  operators::save(po, other);
  EXPECT_THROW_MSG(cached_dcdm_model(po), "holds a model of type 'dcdm_test_other', expected type 'dcdm'");
  EXPECT_THROW_MSG(cached_dcdm_model((dir / "none.h5").string()), "does not exist");
  // A KSP of another type.
  ksp = make_ksp(s2.A, KSPCG, 1e-6, 10);
  EXPECT_THROW_MSG(ksp_dcdm_set_k(ksp, 2), "not of type dcdm");
  KSPDestroy(&ksp);
}

TEST(DCDMRegistration, SurvivesPetscFinalizeAndInitialize) {
  // A host program may finalize and re-initialize PETSc (ctest runs each case in its own
  // process, so this does not disturb other tests). PetscFinalize empties PETSc's type lists;
  // before the fix register_petsc_types() believed "dcdm" was still registered.
  solvers::register_petsc_types();
  PHYSML_PETSC(PetscFinalize());
  PHYSML_PETSC(PetscInitializeNoArguments());
  PetscPushErrorHandler(PetscReturnErrorHandler, nullptr);
  solvers::register_petsc_types();
  KSP ksp;
  PHYSML_PETSC(KSPCreate(PETSC_COMM_SELF, &ksp));
  EXPECT_EQ(KSPSetType(ksp, "dcdm"), 0);
  PC pc;
  PHYSML_PETSC(KSPGetPC(ksp, &pc));
  EXPECT_EQ(PCSetType(pc, "dcdm"), 0);
  PHYSML_PETSC(KSPDestroy(&ksp));
}
