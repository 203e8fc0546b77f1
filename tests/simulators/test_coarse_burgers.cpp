#include "test_util.hpp"

#include "physml/core/error.hpp"
#include "physml/simulators/coarse_burgers.hpp"

#include <torch/torch.h>

#include <cmath>

using namespace physml::simulators;

namespace {

at::Tensor sine(std::int64_t n, double k, double phase = 0.0) {
  return torch::sin(2 * M_PI * k * torch::arange(n, torch::kDouble) / static_cast<double>(n) + phase);
}

BurgersOptions forced(std::int64_t n, double nu) {
  BurgersOptions o;
  o.resolution = n;
  o.viscosity = nu;
  o.forcing_amplitude = 0.8;
  o.forcing_modes = 3;
  o.forcing_seed = 5;
  o.max_dt = 1e-3;
  return o;
}

}  // namespace

TEST(CoarseBurgers, AgreesWithTheFftwSolverOnAForcedProblem) {
  // The same IF-RK4 scheme on two implementations (FFTW in place, LibTorch batched): with the
  // same fixed step they agree to rounding, forcing included.
  auto o = forced(64, 0.05);
  BurgersSolver fftw(o);
  auto u0 = 0.7 * sine(64, 1, 0.3) + 0.2 * sine(64, 4, 1.1);
  auto ref = fftw.solve(u0, {0.5})[0];
  ASSERT_EQ(fftw.steps(), 500) << "the reference must have taken the fixed step 1e-3";
  CoarseBurgers coarse(o, 1e-3);
  auto u = coarse.rollout(u0.unsqueeze(0), 0.0, 500, 500)[0][0];
  const double diff = (u - ref).abs().max().item<double>();
  std::printf("  max |torch - fftw| after 500 forced steps: %.3e (|u| %.3f)\n", diff, ref.abs().max().item<double>());
  EXPECT_LT(diff, 1e-11);
  EXPECT_GT((ref - u0).abs().max().item<double>(), 0.1) << "the state must have moved";
}

TEST(CoarseBurgers, SpectralForcingIsTheStatedFunction) {
  auto o = forced(32, 0.1);
  CoarseBurgers c(o, 1e-3);
  const auto& f = c.forcing();
  ASSERT_EQ(f.phase.size(), 3u);
  for (double t : {0.0, 0.37}) {
    // at u = 0 the right-hand side is the forcing alone
    auto rhs = c.nonlinear(torch::zeros({32}, torch::kDouble), t);
    auto expect = torch::zeros({32}, torch::kDouble);
    for (int k = 1; k <= 3; ++k)
      expect += 0.8 * sine(32, k, f.phase[static_cast<std::size_t>(k - 1)] + f.frequency[static_cast<std::size_t>(k - 1)] * t);
    EXPECT_LT((rhs - expect).abs().max().item<double>(), 1e-13);
    EXPECT_LT((f.evaluate(32, t) - expect).abs().max().item<double>(), 1e-13);
  }
  for (std::size_t k = 0; k < 3; ++k) {
    EXPECT_GE(f.phase[k], 0.0);
    EXPECT_LT(f.phase[k], 2 * M_PI);
    EXPECT_LE(std::abs(f.frequency[k]), 2 * M_PI);
  }
  // another seed, another forcing; the same seed, the same one
  auto o2 = o;
  o2.forcing_seed = 6;
  EXPECT_NE(BurgersForcing::draw(o2).phase[0], f.phase[0]);
  EXPECT_EQ(BurgersForcing::draw(o).phase, f.phase);
  o2.forcing_modes = 11;  // 3 * 11 > 32: a forced mode the solver would not keep
  EXPECT_THROW_MSG(BurgersForcing::draw(o2), "forcing_modes 11 must be below resolution/3");
}

TEST(CoarseBurgers, FilterKeepsTheResolvedModes) {
  // modes 5 and 30 on 256 points; filtered to 64 points only |k| < 64/3 survives
  auto u = sine(256, 5, 0.2) + 0.5 * sine(256, 30, 0.4);
  auto f = spectral_filter(u, 64);
  EXPECT_LT((f - sine(64, 5, 0.2)).abs().max().item<double>(), 1e-13);
  EXPECT_LT((spectral_filter(u, 256) - u).abs().max().item<double>(), 1e-13) << "n = N keeps modes below N/3";
  EXPECT_THROW_MSG(spectral_filter(u, 512), "coarse size 512 must be in [2, 256]");
}

TEST(CoarseBurgers, SubgridTermVanishesForResolvedFieldsAndMatchesATriadOtherwise) {
  const double a = 0.6, b = 0.3;
  // All modes resolved (|k| < 64/3): the dealiased coarse product is the filtered fine one.
  auto resolved = a * sine(256, 10) + b * sine(256, 18);
  EXPECT_LT(subgrid_term(resolved, 64).abs().max().item<double>(), 1e-11);
  // Modes 10 and 25: the triad (25, -10) -> 15 lands on a resolved mode. u²/2 has the cross
  // term (ab/2)(cos 2π15x - cos 2π35x), so P((u²/2)_x) carries -15π a b sin 2π15x, which the
  // coarse product of ū = a sin 2π10x lacks: τ = +15π a b sin 2π15x.
  auto u = a * sine(256, 10) + b * sine(256, 25);
  auto tau = subgrid_term(u, 64);
  auto expect = 15 * M_PI * a * b * sine(64, 15);
  EXPECT_LT((tau - expect).abs().max().item<double>(), 1e-11);
}

TEST(CoarseBurgers, SmagorinskyDissipates) {
  auto u = 0.8 * sine(64, 1, 0.1) + 0.3 * sine(64, 5, 0.7) + 0.1 * sine(64, 12, 2.0);
  const double cs = 0.2, delta = 1.0 / 64;
  auto s = smagorinsky_term(u, cs);
  // discrete integration by parts: <u, d/dx q> = -<u_x, q> with q = (c_s Δ)² |u_x| u_x
  const double work = (u * s).mean().item<double>();
  auto ux = 2 * M_PI * (0.8 * torch::cos(2 * M_PI * torch::arange(64, torch::kDouble) / 64 + 0.1) +
                        0.3 * 5 * torch::cos(2 * M_PI * 5 * torch::arange(64, torch::kDouble) / 64 + 0.7) +
                        0.1 * 12 * torch::cos(2 * M_PI * 12 * torch::arange(64, torch::kDouble) / 64 + 2.0));
  const double expect = -(cs * delta) * (cs * delta) * ux.abs().pow(3).mean().item<double>();
  EXPECT_LT(work, 0.0);
  EXPECT_NEAR(work, expect, 1e-6 * std::abs(expect));
  EXPECT_THROW_MSG(smagorinsky_term(u, -1.0), "c_s = -1 must be finite and >= 0");
}

TEST(CoarseBurgers, RolloutGradientMatchesFiniteDifferences) {
  // d/dθ and d/du₀ of a trajectory loss through 40 steps with the closure θ·smagorinsky(u).
  auto o = forced(32, 0.02);
  CoarseBurgers c(o, 2e-3);
  auto u0 = (0.6 * sine(32, 1, 0.2) + 0.2 * sine(32, 3, 1.0)).unsqueeze(0);
  auto target = torch::zeros({1, 4, 32}, torch::kDouble);
  auto loss_of = [&](const at::Tensor& theta, const at::Tensor& init) {
    BurgersClosure closure = [&](const at::Tensor& u, double) { return theta * smagorinsky_term(u, 1.0); };
    return (c.rollout(init, 0.1, 40, 10, closure) - target).pow(2).sum();
  };
  auto theta = torch::full({}, 30.0, torch::kDouble).requires_grad_(true);
  auto init = u0.clone().requires_grad_(true);
  auto L = loss_of(theta, init);
  L.backward();
  const double g_theta = theta.grad().item<double>();
  const double h = 1e-4;
  const double fd_theta = (loss_of(torch::full({}, 30.0 + h, torch::kDouble), u0).item<double>() -
                           loss_of(torch::full({}, 30.0 - h, torch::kDouble), u0).item<double>()) /
                          (2 * h);
  auto dir = sine(32, 2, 0.5).unsqueeze(0);
  const double g_dir = (init.grad() * dir).sum().item<double>();
  const double th = 30.0;
  const double fd_dir = (loss_of(torch::full({}, th, torch::kDouble), u0 + 1e-6 * dir).item<double>() -
                         loss_of(torch::full({}, th, torch::kDouble), u0 - 1e-6 * dir).item<double>()) /
                        2e-6;
  std::printf("  dL/dθ %.10e (FD %.10e), dL/du0·v %.10e (FD %.10e)\n", g_theta, fd_theta, g_dir, fd_dir);
  EXPECT_NEAR(g_theta, fd_theta, 1e-6 * std::abs(fd_theta));
  EXPECT_NEAR(g_dir, fd_dir, 1e-6 * std::abs(fd_dir));
  EXPECT_GT(std::abs(g_theta), 1e-8) << "the closure must influence the loss";
}

TEST(CoarseBurgers, BadInputGetsClearErrors) {
  auto o = forced(32, 0.02);
  CoarseBurgers c(o, 1e-3);
  EXPECT_THROW_MSG(c.step(torch::zeros({2, 16}, torch::kDouble), 0.0), "expected [batch, 32] or [32]");
  BurgersClosure wrong = [](const at::Tensor& u, double) { return u.narrow(-1, 0, 16); };
  EXPECT_THROW_MSG(c.step(torch::zeros({2, 32}, torch::kDouble), 0.0, wrong), "the closure returned shape [2, 16]");
  EXPECT_THROW_MSG(c.rollout(torch::zeros({1, 32}, torch::kDouble), 0.0, 10, 3), "steps 10 must be a positive multiple");
  BurgersClosure blow = [](const at::Tensor& u, double) { return 1e6 * u * u * u; };
  EXPECT_THROW(c.rollout(sine(32, 1).unsqueeze(0), 0.0, 200, 10, blow), physml::NonFiniteError);
  EXPECT_THROW_MSG(CoarseBurgers(o, 0.0), "time step 0 must be positive");
}

TEST(CoarseBurgers, BatchedRolloutEqualsOneRolloutPerSample) {
  // Two samples with their own forcing and start time in one batch give each its own rollout.
  auto a = forced(32, 0.02), b = a;
  b.forcing_seed = 9;
  CoarseBurgers ca(a, 2e-3), cb(b, 2e-3);
  auto u0 = torch::stack({0.5 * sine(32, 1, 0.2), 0.4 * sine(32, 2, 1.0)});
  BurgersClosure damp = [](const at::Tensor& u, double) { return -0.5 * u; };
  auto both = ca.rollout(u0, {0.3, 1.7}, {ca.forcing(), cb.forcing()}, 20, 5, damp);
  auto first = ca.rollout(u0.narrow(0, 0, 1), 0.3, 20, 5, damp);
  auto second = cb.rollout(u0.narrow(0, 1, 1), 1.7, 20, 5, damp);
  EXPECT_LT((both.narrow(0, 0, 1) - first).abs().max().item<double>(), 1e-13);
  EXPECT_LT((both.narrow(0, 1, 1) - second).abs().max().item<double>(), 1e-13);
  EXPECT_THROW_MSG(ca.rollout(u0, {0.3}, {ca.forcing()}, 20, 5), "1 start times and 1 forcings for a batch of 2");
}
