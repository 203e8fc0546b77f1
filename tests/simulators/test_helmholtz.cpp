#include "test_util.hpp"

#include "physml/core/error.hpp"
#include "physml/simulators/helmholtz.hpp"

#include <torch/torch.h>

#include <cmath>

using namespace physml::simulators;

// Plane wave u = cos(k·x + 0.4), |k| = 5, solves −Δu − |k|²u = 0 exactly; its Neumann data
// ∇u·n go on every face. The discrete solution must converge at second order.
TEST(Helmholtz, SecondOrderAgainstExactPlaneWave) {
  const double kx = 3.0, ky = 4.0, ph = 0.4;  // |k| = 5 (|k| = 10 is pre-asymptotic here: orders 1.70, 1.90)
  std::vector<double> err;
  for (int64_t s : {33, 65, 129}) {
    HelmholtzOptions o;
    o.resolution = s;
    HelmholtzSolver solver(o, "test_helmholtz_");
    std::array<BoundaryCondition, 6> bc;
    auto grad = [=](const std::array<double, 3>& x) { return -std::sin(kx * x[0] + ky * x[1] + ph); };
    bc[x_lo] = {BoundaryType::neumann, 0, [=](const auto& x) { return -kx * grad(x); }};
    bc[x_hi] = {BoundaryType::neumann, 0, [=](const auto& x) { return kx * grad(x); }};
    bc[y_lo] = {BoundaryType::neumann, 0, [=](const auto& x) { return -ky * grad(x); }};
    bc[y_hi] = {BoundaryType::neumann, 0, [=](const auto& x) { return ky * grad(x); }};
    auto rep = solver.solve_with(torch::full({s, s}, kx * kx + ky * ky, torch::kDouble), bc);
    auto exact = torch::empty({s, s}, torch::kDouble);
    for (int64_t j = 0; j < s; ++j)
      for (int64_t i = 0; i < s; ++i)
        exact[j][i] = std::cos(kx * i / double(s - 1) + ky * j / double(s - 1) + ph);
    err.push_back((rep.solution - exact).abs().max().item<double>());
    std::printf("  s = %3ld: max error %.3e\n", static_cast<long>(s), err.back());
  }
  for (size_t i = 0; i + 1 < err.size(); ++i) {
    const double order = std::log2(err[i] / err[i + 1]);
    EXPECT_GE(order, 1.9);
    EXPECT_LE(order, 2.1);
  }
}

TEST(Helmholtz, BenchmarkSampleHasWaveSpeedNear20AndFiniteField) {
  HelmholtzOptions o;  // published 101 x 101, omega = 1000
  HelmholtzSolver solver(o, "test_helmholtz_");
  auto [c, u] = solver.generate(1, 0);
  ASSERT_EQ(c.sizes(), (c10::IntArrayRef{101, 101}));
  EXPECT_GT(c.min().item<double>(), 19.0);
  EXPECT_LT(c.max().item<double>(), 21.0);
  EXPECT_TRUE(torch::isfinite(u).all().item<bool>());
  EXPECT_GT(u.abs().max().item<double>(), 1e-4);
  auto again = solver.generate(1, 0);
  EXPECT_TRUE(torch::equal(again.first, c));
  EXPECT_THROW_MSG(solver.solve(torch::ones({5, 5}, torch::kDouble)), "expected [101, 101]");
}
