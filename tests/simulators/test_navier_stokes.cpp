#include "test_util.hpp"

#include "physml/core/error.hpp"
#include "physml/simulators/navier_stokes.hpp"

#include <torch/torch.h>

#include <cmath>

using namespace physml::simulators;

namespace {
at::Tensor grid_field(int64_t n, const std::function<double(double, double)>& fn) {
  auto t = torch::empty({n, n}, torch::kDouble);
  auto T = t.accessor<double, 2>();
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < n; ++i) T[j][i] = fn(static_cast<double>(i) / n, static_cast<double>(j) / n);
  return t;
}
}  // namespace

// A Taylor–Green-type field on one Laplacian shell (|k|² = 5) has u·∇w ≡ 0, so unforced it
// decays exactly as e^{−ν 4π² 5 t}; the nonlinear term must cancel to rounding.
TEST(NavierStokes, TaylorGreenDecaysAtTheExactRate) {
  NavierStokesOptions o;
  o.resolution = 32;
  o.viscosity = 0.01;
  o.dt = 1e-3;
  o.forcing_amplitude = 0;
  NavierStokes2D ns(o);
  auto w0 = grid_field(32, [](double x, double y) {
    return std::cos(2 * M_PI * (x + 2 * y)) + std::sin(2 * M_PI * (2 * x - y));
  });
  auto w = ns.solve(w0.unsqueeze(0), {0.5, 1.0});
  const double lambda = 4 * M_PI * M_PI * 5;
  for (int i = 0; i < 2; ++i) {
    const double t = 0.5 * (i + 1);
    auto exact = w0 * std::exp(-o.viscosity * lambda * t);
    EXPECT_LT((w[0][i] - exact).abs().max().item<double>(), 1e-6 * exact.abs().max().item<double>());
    const double rate = -std::log(w[0][i].norm().item<double>() / w0.norm().item<double>()) / t;
    EXPECT_NEAR(rate / (o.viscosity * lambda), 1.0, 1e-6);
  }
}

// Forcing on the |k|² = 2 shell from rest: w(t) = f (1 − e^{−νλt})/(νλ), λ = 8π², exactly
// (the nonlinear term vanishes on one shell).
TEST(NavierStokes, ForcedShellApproachesSteadyState) {
  NavierStokesOptions o;
  o.resolution = 16;
  o.viscosity = 0.02;
  o.dt = 1e-3;
  NavierStokes2D ns(o);
  auto w = ns.solve(torch::zeros({1, 16, 16}, torch::kDouble), {1.0});
  const double nl = o.viscosity * 8 * M_PI * M_PI;
  auto exact = ns.forcing() * (1 - std::exp(-nl)) / nl;
  EXPECT_LT((w[0][0] - exact).abs().max().item<double>(), 1e-6 * exact.abs().max().item<double>());
}

TEST(NavierStokes, UnforcedEnstrophyDecaysAndBatchMatchesSingles) {
  NavierStokesOptions o;
  o.resolution = 32;
  o.viscosity = 1e-3;
  o.dt = 1e-3;
  o.forcing_amplitude = 0;
  NavierStokesGenerator gen(o);
  std::vector<double> times{0.25, 0.5, 1.0, 2.0};
  auto batch = gen.generate(7, 0, 3, times);
  ASSERT_EQ(batch.snapshots.sizes(), (c10::IntArrayRef{3, 4, 32, 32}));
  for (int64_t s = 0; s < 3; ++s) {
    double z_prev = batch.initial[s].pow(2).mean().item<double>();
    for (int64_t i = 0; i < 4; ++i) {
      const double z = batch.snapshots[s][i].pow(2).mean().item<double>();
      EXPECT_LT(z, z_prev) << "sample " << s << " output " << i;
      z_prev = z;
    }
  }
  auto single = gen.generate(7, 1, 1, times);
  EXPECT_TRUE(torch::equal(single.initial[0], batch.initial[1]));
  EXPECT_LT((single.snapshots[0] - batch.snapshots[1]).abs().max().item<double>(), 1e-12);
}

TEST(NavierStokes, BadInputGivesClearErrors) {
  NavierStokesOptions o;
  o.resolution = 16;
  o.dt = 1e-3;
  NavierStokes2D ns(o);
  EXPECT_THROW_MSG(ns.solve(torch::zeros({1, 8, 8}, torch::kDouble), {1.0}), "expected [batch, 16, 16]");
  EXPECT_THROW_MSG(ns.solve(torch::zeros({1, 16, 16}, torch::kDouble), {0.00035}), "not a positive multiple of dt");
  o.time_stepping = "rk9";
  EXPECT_THROW_MSG(NavierStokes2D{o}, "expected heun or euler");
}

// Sign and size of the advection term: for w₀ = cos 2πx + cos 4πy, ψ = cos 2πx/4π² + cos 4πy/16π²,
// u·∇w = −1.5 sin 2πx sin 4πy (worked by hand), so ∂ₜw(0) = 1.5 sin 2πx sin 4πy + νΔw₀.
TEST(NavierStokes, AdvectionTermMatchesHandComputedTendency) {
  NavierStokesOptions o;
  o.resolution = 16;
  o.viscosity = 1e-3;
  o.dt = 1e-6;
  o.forcing_amplitude = 0;
  NavierStokes2D ns(o);
  auto w0 = grid_field(16, [](double x, double y) { return std::cos(2 * M_PI * x) + std::cos(4 * M_PI * y); });
  auto w = ns.solve(w0.unsqueeze(0), {1e-6});
  auto tendency = grid_field(16, [&](double x, double y) {
    return 1.5 * std::sin(2 * M_PI * x) * std::sin(4 * M_PI * y) -
           o.viscosity * (4 * M_PI * M_PI * std::cos(2 * M_PI * x) + 16 * M_PI * M_PI * std::cos(4 * M_PI * y));
  });
  auto observed = (w[0][0] - w0) / o.dt;
  EXPECT_LT((observed - tendency).abs().max().item<double>(), 1e-4 * tendency.abs().max().item<double>());
}
