// embed::LearnedRHS on PETSc TS: du/dt = -u/2 + sin(t) + N(u) with N a TorchScript network.
// The Jacobian products (autograd) against finite differences and against each other, and
// TSAdjoint's gradients of J = |u(T)|^2 / 2 with respect to u(0) and to the network's
// parameters against finite differences of the same discrete (RK4) solve, and against the
// discrete adjoint of the project's own odeint (RK4, gradient "checkpoint") on the same steps.
#include "physml/core/views.hpp"
#include "physml/embed/learned_rhs.hpp"
#include "physml/embed/model.hpp"
#include "physml/solvers/diffeq/ode.hpp"
#include "test_util.hpp"

#include <torch/script.h>
#include <torch/torch.h>

#include <cmath>
#include <tuple>

using namespace physml;
using namespace physml::embed;

namespace {

constexpr PetscInt kN = 3;

/// N(u) = tanh(u W) V for u [1, 3], W [3, 5], V [5, 3], in float64.
Model make_network() {
  torch::manual_seed(11);
  torch::jit::Module m("Closure");
  m.register_parameter("w", torch::randn({3, 5}, torch::kFloat64) * 0.5, false);
  m.register_parameter("v", torch::randn({5, 3}, torch::kFloat64) * 0.5, false);
  m.define(R"(
def forward(self, x):
    return torch.matmul(torch.tanh(torch.matmul(x, self.w)), self.v)
)");
  return Model(m);
}

at::Tensor physics(double t, const at::Tensor& u) { return -0.5 * u + std::sin(t); }

const double u0_values[kN] = {0.3, -0.7, 1.1};

/// u(T) of a solve from u0 (20 steps of 0.05) with explicit RK4 or, `implicit`, backward
/// Euler whose Newton steps use the autograd Jacobian (GMRES, no preconditioner), as a vector.
std::vector<double> solve(LearnedRHS& rhs, const std::vector<double>& u0, TS* keep = nullptr, Vec* keep_u = nullptr,
                          bool implicit = false) {
  TS ts;
  Vec u;
  PHYSML_PETSC(TSCreate(PETSC_COMM_SELF, &ts));
  if (implicit) {
    PHYSML_PETSC(TSSetType(ts, TSBEULER));
    SNES snes;
    KSP ksp;
    PC pc;
    PHYSML_PETSC(TSGetSNES(ts, &snes));
    PHYSML_PETSC(SNESSetTolerances(snes, 1e-14, 1e-13, 1e-14, 50, 1000));
    PHYSML_PETSC(SNESGetKSP(snes, &ksp));
    PHYSML_PETSC(KSPSetType(ksp, KSPGMRES));
    PHYSML_PETSC(KSPSetTolerances(ksp, 1e-14, 1e-15, PETSC_DEFAULT, 100));
    PHYSML_PETSC(KSPGetPC(ksp, &pc));
    PHYSML_PETSC(PCSetType(pc, PCNONE));
  } else {
    PHYSML_PETSC(TSSetType(ts, TSRK));
    PHYSML_PETSC(TSRKSetType(ts, TSRK4));
  }
  PHYSML_PETSC(TSSetProblemType(ts, TS_NONLINEAR));
  PHYSML_PETSC(TSSetTimeStep(ts, 0.05));
  PHYSML_PETSC(TSSetMaxTime(ts, 1.0));
  PHYSML_PETSC(TSSetExactFinalTime(ts, TS_EXACTFINALTIME_MATCHSTEP));
  rhs.attach(ts);
  PHYSML_PETSC(VecCreateSeq(PETSC_COMM_SELF, kN, &u));
  for (PetscInt i = 0; i < kN; ++i) PHYSML_PETSC(VecSetValue(u, i, u0[static_cast<std::size_t>(i)], INSERT_VALUES));
  PHYSML_PETSC(VecAssemblyBegin(u));
  PHYSML_PETSC(VecAssemblyEnd(u));
  if (keep) PHYSML_PETSC(TSSetSaveTrajectory(ts));
  PHYSML_PETSC(TSSolve(ts, u));
  std::vector<double> out(kN);
  const PetscScalar* a;
  PHYSML_PETSC(VecGetArrayRead(u, &a));
  std::copy(a, a + kN, out.begin());
  PHYSML_PETSC(VecRestoreArrayRead(u, &a));
  if (keep) {
    *keep = ts;
    *keep_u = u;
  } else {
    TSDestroy(&ts);
    VecDestroy(&u);
  }
  return out;
}

double cost(const std::vector<double>& u) {
  double j = 0;
  for (double v : u) j += 0.5 * v * v;
  return j;
}

/// u(T) of the solve from u0 and TSAdjoint's gradients of J = |u(T)|^2 / 2 (dJ/du(T) = u(T)):
/// dJ/du(0) (lambda) and dJ/dp (mu).
std::tuple<std::vector<double>, at::Tensor, at::Tensor> adjoint_gradients(LearnedRHS& rhs, const std::vector<double>& u0,
                                                                          bool implicit) {
  TS ts;
  Vec u;
  auto uT = solve(rhs, u0, &ts, &u, implicit);
  Vec lambda, mu = rhs.create_parameter_vec();
  PHYSML_PETSC(VecDuplicate(u, &lambda));
  PHYSML_PETSC(VecCopy(u, lambda));
  PHYSML_PETSC(TSSetCostGradients(ts, 1, &lambda, &mu));
  PHYSML_PETSC(TSAdjointSolve(ts));
  auto du0 = physml::as_tensor_read(lambda).clone();
  auto dp = physml::as_tensor_read(mu).clone();
  VecDestroy(&lambda);
  VecDestroy(&mu);
  VecDestroy(&u);
  TSDestroy(&ts);
  return {std::move(uT), du0, dp};
}

}  // namespace

TEST(EmbedLearnedRHS, JacobianProductsMatchFiniteDifferencesAndEachOther) {
  auto model = make_network();
  LearnedRHS rhs(model, kN, {1, kN}, physics);
  auto u = torch::tensor({0.3, -0.7, 1.1}, torch::kFloat64);
  auto v = torch::tensor({0.2, 0.5, -0.4}, torch::kFloat64);
  auto w = torch::tensor({-1.0, 0.3, 0.8}, torch::kFloat64);
  TS ts;
  PHYSML_PETSC(TSCreate(PETSC_COMM_SELF, &ts));
  rhs.attach(ts);
  Mat J, Jp;
  PHYSML_PETSC(TSGetRHSJacobian(ts, &J, nullptr, nullptr, nullptr));
  PHYSML_PETSC(TSGetRHSJacobianP(ts, &Jp, nullptr, nullptr));
  VecHandle U(as_vec(u)), V(as_vec(v)), W(as_vec(w));
  PHYSML_PETSC(TSComputeRHSJacobian(ts, 0.4, U, J, J));
  Vec Jv, JTw;
  PHYSML_PETSC(VecDuplicate(U, &Jv));
  PHYSML_PETSC(VecDuplicate(U, &JTw));
  PHYSML_PETSC(MatMult(J, V, Jv));
  PHYSML_PETSC(MatMultTranspose(J, W, JTw));
  // J v against a central difference of F.
  torch::NoGradGuard g;
  const double eps = 1e-6;
  auto fd = (rhs.rhs(0.4, u + eps * v) - rhs.rhs(0.4, u - eps * v)) / (2 * eps);
  auto jv = physml::as_tensor_read(Jv).clone(), jtw = physml::as_tensor_read(JTw).clone();
  EXPECT_TRUE(torch::allclose(jv, fd, 1e-8, 1e-9)) << jv << fd;
  // <w, J v> = <J^T w, v>.
  EXPECT_NEAR(torch::dot(w, jv).item<double>(), torch::dot(jtw, v).item<double>(), 1e-13);
  // dF/dp: <w, Jp dp> = <Jp^T w, dp> and Jp dp against a finite difference in the parameters.
  Vec dp = rhs.create_parameter_vec(), JpTw = rhs.create_parameter_vec(), Jpdp;
  PHYSML_PETSC(VecDuplicate(U, &Jpdp));
  PHYSML_PETSC(VecSetRandom(dp, nullptr));
  PHYSML_PETSC(TSComputeRHSJacobianP(ts, 0.4, U, Jp));
  PHYSML_PETSC(MatMult(Jp, dp, Jpdp));
  PHYSML_PETSC(MatMultTranspose(Jp, W, JpTw));
  auto dpt = physml::as_tensor_read(dp).clone();
  EXPECT_NEAR(torch::dot(w, physml::as_tensor_read(Jpdp)).item<double>(),
              torch::dot(physml::as_tensor_read(JpTw), dpt).item<double>(), 1e-12);
  auto params = model.parameters();
  auto shift = [&](double s) {
    std::int64_t at = 0;
    for (auto& p : params) {
      p.add_(s * dpt.narrow(0, at, p.numel()).view(p.sizes()));
      at += p.numel();
    }
  };
  shift(eps);
  auto fp = rhs.rhs(0.4, u);
  shift(-2 * eps);
  auto fm = rhs.rhs(0.4, u);
  shift(eps);
  EXPECT_TRUE(torch::allclose(physml::as_tensor_read(Jpdp), (fp - fm) / (2 * eps), 1e-8, 1e-9));
  VecDestroy(&Jv);
  VecDestroy(&JTw);
  VecDestroy(&Jpdp);
  VecDestroy(&dp);
  VecDestroy(&JpTw);
  TSDestroy(&ts);
}

namespace {
void check_adjoint(bool implicit) {
  auto model = make_network();
  LearnedRHS rhs(model, kN, {1, kN}, physics);
  const std::vector<double> u0(u0_values, u0_values + kN);
  const auto [uT, dju0, djp] = adjoint_gradients(rhs, u0, implicit);
  // Not trivially zero: the network and u(0) both matter.
  EXPECT_GT(dju0.norm().item<double>(), 1e-2);
  EXPECT_GT(djp.norm().item<double>(), 1e-2);
  const double eps = 1e-6;
  for (PetscInt i = 0; i < kN; ++i) {
    auto up = u0, um = u0;
    up[static_cast<std::size_t>(i)] += eps;
    um[static_cast<std::size_t>(i)] -= eps;
    const double fd =
        (cost(solve(rhs, up, nullptr, nullptr, implicit)) - cost(solve(rhs, um, nullptr, nullptr, implicit))) / (2 * eps);
    EXPECT_NEAR(dju0[i].item<double>(), fd, 1e-7 * std::max(1.0, std::abs(fd))) << "du0[" << i << "]";
  }
  torch::NoGradGuard g;
  auto params = model.parameters();
  std::int64_t offset = 0;
  for (auto& p : params) {
    for (std::int64_t k : {std::int64_t(0), p.numel() - 1}) {
      auto flat = p.view({-1});
      flat[k] += eps;
      const double jp = cost(solve(rhs, u0, nullptr, nullptr, implicit));
      flat[k] -= 2 * eps;
      const double jm = cost(solve(rhs, u0, nullptr, nullptr, implicit));
      flat[k] += eps;
      const double fd = (jp - jm) / (2 * eps);
      EXPECT_NEAR(djp[offset + k].item<double>(), fd, 1e-7 * std::max(1.0, std::abs(fd))) << "dp[" << offset + k << "]";
    }
    offset += p.numel();
  }
  EXPECT_GT(cost(uT), 0);
}
}  // namespace

TEST(EmbedLearnedRHS, TSAdjointGradientsMatchFiniteDifferencesOfTheDiscreteSolveRK4) { check_adjoint(false); }

TEST(EmbedLearnedRHS, TSAdjointGradientsMatchFiniteDifferencesOfTheDiscreteSolveBackwardEuler) { check_adjoint(true); }

TEST(EmbedLearnedRHS, TSAdjointEqualsTheOdeintAdjointOfTheSameRK4Steps) {
  // PETSc's RK4 adjoint and odeint's checkpointed discrete adjoint differentiate the same 20
  // steps of 0.05, so they agree to rounding, not only to the finite-difference error.
  auto model = make_network();
  LearnedRHS rhs(model, kN, {1, kN}, physics);
  const std::vector<double> u0(u0_values, u0_values + kN);
  const auto [uT, ts_du0, ts_dp] = adjoint_gradients(rhs, u0, false);

  auto params = model.parameters();
  for (auto& p : params) p.requires_grad_(true);
  solvers::diffeq::VectorField f(
      [&](const at::Tensor& t, const at::Tensor& y) {
        return rhs.rhs(t[0].item<double>(), y.reshape({-1})).view({1, kN});
      },
      params);
  auto y0 = torch::tensor(u0, torch::kFloat64).view({1, kN}).requires_grad_(true);
  const auto ys = solvers::diffeq::odeint(f, y0, torch::tensor({0.0, 1.0}, torch::kFloat64),
                                          solvers::diffeq::OdeOptions().method("rk4").dt(0.05).gradient("checkpoint"));
  const auto yT = ys[1].reshape({-1});
  for (PetscInt i = 0; i < kN; ++i) EXPECT_NEAR(yT[i].item<double>(), uT[static_cast<std::size_t>(i)], 1e-13);
  (0.5 * yT.pow(2).sum()).backward();
  EXPECT_LT((y0.grad().reshape({-1}) - ts_du0).abs().max().item<double>(), 1e-12 * ts_du0.abs().max().item<double>());
  std::vector<at::Tensor> grads;
  for (auto& p : params) grads.push_back(p.grad().reshape({-1}));
  const auto od_dp = torch::cat(grads);
  ASSERT_EQ(od_dp.numel(), ts_dp.numel());
  EXPECT_GT(ts_dp.norm().item<double>(), 1e-2);
  EXPECT_LT((od_dp - ts_dp).abs().max().item<double>(), 1e-12 * ts_dp.abs().max().item<double>());
  for (auto& p : params) p.requires_grad_(false);
}
