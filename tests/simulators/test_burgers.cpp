#include "test_util.hpp"

#include "physml/core/error.hpp"
#include "physml/simulators/burgers.hpp"

#include <torch/torch.h>

#include <cmath>

using namespace physml::simulators;

namespace {
// Cole–Hopf: u = −2ν φ_x/φ with φ_t = ν φ_xx, φ(x,0) = 1.5 + cos 2πx + 0.3 sin 4πx > 0.
double phi(double x, double t, double nu) {
  return 1.5 + std::exp(-4 * M_PI * M_PI * nu * t) * std::cos(2 * M_PI * x) +
         0.3 * std::exp(-16 * M_PI * M_PI * nu * t) * std::sin(4 * M_PI * x);
}
double phi_x(double x, double t, double nu) {
  return -2 * M_PI * std::exp(-4 * M_PI * M_PI * nu * t) * std::sin(2 * M_PI * x) +
         0.3 * 4 * M_PI * std::exp(-16 * M_PI * M_PI * nu * t) * std::cos(4 * M_PI * x);
}
at::Tensor cole_hopf(int64_t n, double t, double nu) {
  auto u = torch::empty({n}, torch::kDouble);
  for (int64_t j = 0; j < n; ++j) {
    const double x = static_cast<double>(j) / static_cast<double>(n);
    u[j] = -2 * nu * phi_x(x, t, nu) / phi(x, t, nu);
  }
  return u;
}
}  // namespace

TEST(Burgers, SpectralConvergenceToColeHopfSolution) {
  const double nu = 0.1, T = 0.5;
  std::vector<double> err;
  for (int64_t n : {16, 32, 64, 128}) {
    BurgersOptions o;
    o.resolution = n;
    o.viscosity = nu;
    o.final_time = T;
    o.max_dt = 2.5e-4;  // IF-RK4 time error ~1e-12, below the spatial error shown
    BurgersSolver solver(o);
    auto u = solver.solve(cole_hopf(n, 0.0, nu));
    err.push_back((u - cole_hopf(n, T, nu)).abs().max().item<double>());
    std::printf("  n = %3ld: max error %.3e\n", static_cast<long>(n), err.back());
  }
  // Spectral accuracy: each doubling gains far more than any fixed algebraic order would.
  EXPECT_LT(err[1], err[0] / 30);
  EXPECT_LT(err[2], err[1] / 100);
  EXPECT_LT(err[3], 1e-11);
}

TEST(Burgers, EnergyDecaysAndMeanIsConserved) {
  BurgersOptions o;
  o.resolution = 256;
  BurgersGenerator gen(o);
  BurgersSolver& solver = gen.solver();
  auto u0 = gen.generate(11, 0).initial;
  auto traj = solver.solve(u0, {0.05, 0.1, 0.2, 0.5, 1.0});
  double e_prev = 0.5 * u0.pow(2).mean().item<double>();
  const double mean0 = u0.mean().item<double>();
  for (int64_t i = 0; i < traj.size(0); ++i) {
    const double e = 0.5 * traj[i].pow(2).mean().item<double>();
    EXPECT_LT(e, e_prev) << "energy must decay (d/dt ∫u²/2 = −ν∫u_x²), output " << i;
    e_prev = e;
    // the mean of the (2/3-dealiased) field is conserved
    EXPECT_NEAR(traj[i].mean().item<double>(), mean0, 1e-12);
  }
}

TEST(Burgers, GeneratorIsReproducibleAndChecksInput) {
  BurgersOptions o;
  o.resolution = 128;
  BurgersGenerator gen(o);
  auto a = gen.generate(3, 4), b = gen.generate(3, 4);
  EXPECT_TRUE(torch::equal(a.initial, b.initial));
  EXPECT_TRUE(torch::equal(a.solution, b.solution));
  EXPECT_THROW_MSG(gen.solver().solve(torch::zeros({64}, torch::kDouble)), "expected [128]");
  o.viscosity = 0;
  EXPECT_THROW_MSG(BurgersSolver{o}, "viscosity 0 must be positive");
}

TEST(Burgers, InitialMeanIsZeroUnlessDrawn) {
  // The published generator fixes the k = 0 coefficient to the mean 0; random_mean draws it
  // with variance σ²τ^(−2α) = 625/625 = 1 (FNO values).
  BurgersOptions o;
  o.resolution = 64;
  o.final_time = 0.01;
  BurgersGenerator fixed(o);
  o.random_mean = true;
  BurgersGenerator drawn(o);
  double sum2 = 0;
  const int n = 400;
  for (int i = 0; i < n; ++i) {
    EXPECT_NEAR(fixed.generate(5, static_cast<std::uint64_t>(i)).initial.mean().item<double>(), 0.0, 1e-13);
    const double m = drawn.generate(5, static_cast<std::uint64_t>(i)).initial.mean().item<double>();
    sum2 += m * m;
  }
  // sample variance of 400 N(0, 1) draws: 1 ± 0.07 (one standard error); allow 4 of them
  EXPECT_NEAR(sum2 / n, 1.0, 0.28);
}
