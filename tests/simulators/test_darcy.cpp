#include "test_util.hpp"

#include "physml/simulators/darcy.hpp"

#include <torch/torch.h>

#include <cmath>

using namespace physml::simulators;

namespace {
// u = sin(πx) sin(πy) e^x (zero on ∂D), a = 2 + sin(3x) cos(2y); f = −∇·(a∇u).
double grid_x(int64_t i, int64_t s) { return static_cast<double>(i) / static_cast<double>(s - 1); }

void manufactured(int64_t s, at::Tensor& a, at::Tensor& f, at::Tensor& u) {
  a = torch::empty({s, s}, torch::kDouble);
  f = torch::empty({s, s}, torch::kDouble);
  u = torch::empty({s, s}, torch::kDouble);
  auto A = a.accessor<double, 2>(), F = f.accessor<double, 2>(), U = u.accessor<double, 2>();
  for (int64_t j = 0; j < s; ++j)
    for (int64_t i = 0; i < s; ++i) {
      const double x = grid_x(i, s), y = grid_x(j, s);
      const double sx = std::sin(M_PI * x), cx = std::cos(M_PI * x), sy = std::sin(M_PI * y),
                   cy = std::cos(M_PI * y), ex = std::exp(x);
      const double uu = sx * sy * ex;
      const double ux = (M_PI * cx + sx) * sy * ex, uy = M_PI * sx * cy * ex;
      const double uxx = (-M_PI * M_PI * sx + 2 * M_PI * cx + sx) * sy * ex, uyy = -M_PI * M_PI * uu;
      const double aa = 2 + std::sin(3 * x) * std::cos(2 * y);
      const double ax = 3 * std::cos(3 * x) * std::cos(2 * y), ay = -2 * std::sin(3 * x) * std::sin(2 * y);
      A[j][i] = aa;
      U[j][i] = uu;
      F[j][i] = -(ax * ux + ay * uy + aa * (uxx + uyy));
    }
}
}  // namespace

TEST(Darcy, SecondOrderAgainstManufacturedSolution) {
  std::vector<double> err;
  for (int64_t s : {17, 33, 65}) {
    DarcyOptions o;
    o.resolution = s;
    DarcyGenerator gen(o, "test_darcy_");
    KSPSetTolerances(gen.solver().ksp(), 1e-13, 1e-50, PETSC_DEFAULT, 1000);
    at::Tensor a, f, u;
    manufactured(s, a, f, u);
    auto rep = gen.solve(a, f);
    err.push_back((rep.solution - u).abs().max().item<double>());
  }
  for (size_t i = 0; i + 1 < err.size(); ++i) {
    const double order = std::log2(err[i] / err[i + 1]);
    EXPECT_GE(order, 1.9);
    EXPECT_LE(order, 2.1);
  }
}

TEST(Darcy, GeneratedSampleIsAPiecewiseConstantFlowWithZeroBoundary) {
  DarcyOptions o;
  o.resolution = 41;
  DarcyGenerator gen(o, "test_darcy_");
  auto s = gen.generate(5, 0);
  ASSERT_EQ(s.coefficient.sizes(), (c10::IntArrayRef{41, 41}));
  EXPECT_TRUE(((s.coefficient == 12.0) | (s.coefficient == 3.0)).all().item<bool>());
  EXPECT_TRUE((s.coefficient == 12.0).any().item<bool>());
  EXPECT_TRUE((s.coefficient == 3.0).any().item<bool>());
  EXPECT_TRUE(s.report.converged());
  const auto& u = s.solution;
  EXPECT_EQ(u.select(0, 0).abs().max().item<double>(), 0.0);
  EXPECT_EQ(u.select(0, 40).abs().max().item<double>(), 0.0);
  EXPECT_EQ(u.select(1, 0).abs().max().item<double>(), 0.0);
  EXPECT_EQ(u.select(1, 40).abs().max().item<double>(), 0.0);
  // f = 1 > 0: discrete maximum principle (M-matrix) gives u > 0 inside.
  EXPECT_GT(u.slice(0, 1, 40).slice(1, 1, 40).min().item<double>(), 0.0);
  // Same seed and index -> same sample, bit for bit.
  auto again = gen.generate(5, 0);
  EXPECT_TRUE(torch::equal(again.coefficient, s.coefficient));
  EXPECT_TRUE(torch::equal(again.solution, s.solution));
}

TEST(Darcy, DownsamplingKeepsCoincidentVertices) {
  auto f = torch::arange(421 * 421, torch::kDouble).reshape({421, 421});
  for (int64_t r : {5, 3, 2}) {
    auto d = downsample_vertex(f, r);
    const int64_t s = 420 / r + 1;
    ASSERT_EQ(d.size(0), s);
    EXPECT_EQ(d[s - 1][s - 1].item<double>(), f[420][420].item<double>());
    EXPECT_EQ(d[1][2].item<double>(), f[r][2 * r].item<double>());
  }
  EXPECT_EQ(downsample_vertex(f, 5).size(0), 85);
  EXPECT_EQ(downsample_vertex(f, 3).size(0), 141);
  EXPECT_EQ(downsample_vertex(f, 2).size(0), 211);
  EXPECT_EQ(downsample_stride(torch::zeros({3, 512, 512}), 2).sizes(), (c10::IntArrayRef{3, 256, 256}));
  EXPECT_THROW_MSG(downsample_vertex(torch::zeros({420, 420}), 5), "(s - 1) must be divisible");
}

TEST(Darcy, BadOptionsGiveClearErrors) {
  DarcyOptions o;
  o.resolution = 2;
  EXPECT_THROW_MSG(DarcyGenerator(o, "test_darcy_"), "resolution 2 is too small");
  o = DarcyOptions::rough();
  EXPECT_EQ(o.resolution, 512);
  EXPECT_EQ(o.tau, 5.0);
  o.tau = -1;
  EXPECT_THROW_MSG(DarcyGenerator(o, "test_darcy_"), "tau = -1 must be positive");
}
