// CDE tests: interpolation schemes (exactness at knots, smoothness, NaN handling), the CDE
// driven by X(t) = t equals the ODE, log-signature windows.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "physml/core/error.hpp"
#include "physml/solvers/diffeq/cde.hpp"
#include "test_util.hpp"

namespace de = physml::solvers::diffeq;

namespace {
auto f64 = torch::TensorOptions().dtype(torch::kDouble);
torch::Tensor irregular_times() { return torch::tensor({0.0, 0.3, 0.45, 1.0, 1.7, 1.9, 2.6, 3.0}, f64); }
torch::Tensor series(const torch::Tensor& t) {  // [2, T, 2]
  auto c0 = torch::sin(t), c1 = torch::cos(2 * t) + t;
  return torch::stack({torch::stack({c0, c1}, 1), torch::stack({2 * c0, -c1}, 1)}, 0);
}
}  // namespace

TEST(DiffeqCde, InterpolantsPassThroughData) {
  auto t = irregular_times();
  auto x = series(t);
  for (auto path : {de::CubicPath::linear(t, x), de::CubicPath::hermite(t, x), de::CubicPath::natural_cubic(t, x)}) {
    for (int64_t i = 0; i < t.size(0); ++i) {
      auto v = path.evaluate(t[i].expand({2}));
      EXPECT_LT((v - x.select(1, i)).abs().max().item<double>(), 1e-12) << i;
    }
  }
}

TEST(DiffeqCde, NaturalSplineIsC2AndHermiteIsC1) {
  auto t = irregular_times();
  auto x = series(t);
  auto spline = de::CubicPath::natural_cubic(t, x), herm = de::CubicPath::hermite(t, x);
  const double eps = 1e-7;
  for (int64_t i = 1; i + 1 < t.size(0); ++i) {
    auto l = (t[i] - eps).expand({2}), r = (t[i] + eps).expand({2});
    EXPECT_LT((spline.derivative(l) - spline.derivative(r)).abs().max().item<double>(), 1e-5) << i;
    EXPECT_LT((spline.second_derivative(l) - spline.second_derivative(r)).abs().max().item<double>(), 1e-5) << i;
    EXPECT_LT((herm.derivative(l) - herm.derivative(r)).abs().max().item<double>(), 1e-5) << i;
    // Backward differences: X'(t_i) = (x_i - x_{i-1}) / (t_i - t_{i-1}).
    auto back = (x.select(1, i) - x.select(1, i - 1)) / (t[i] - t[i - 1]);
    EXPECT_LT((herm.derivative(t[i].expand({2})) - back).abs().max().item<double>(), 1e-10) << i;
  }
  // Natural end conditions.
  EXPECT_LT(spline.second_derivative(t[0].expand({2})).abs().max().item<double>(), 1e-10);
  EXPECT_LT(spline.second_derivative((t[-1] - 1e-12).expand({2})).abs().max().item<double>(), 1e-8);
  // The spline converges to a smooth function at fourth order in the interior.
  auto err = [](int n) {
    auto tt = torch::linspace(0, 3, n, f64);
    auto s = de::CubicPath::natural_cubic(tt, torch::sin(tt).view({1, -1, 1}));
    auto q = torch::tensor({1.234}, f64);
    return std::abs(s.evaluate(q).item<double>() - std::sin(1.234));
  };
  EXPECT_GT(std::log2(err(31) / err(61)), 3.5);
}

TEST(DiffeqCde, MissingValuesAreFilled) {
  auto t = torch::tensor({0.0, 1.0, 3.0, 4.0}, f64);
  auto x = torch::tensor({1.0, std::nan(""), 5.0, std::nan("")}, f64).view({1, 4, 1});
  auto filled = de::fill_missing(t, x);
  EXPECT_DOUBLE_EQ(filled[0][1][0].item<double>(), 1.0 + (5.0 - 1.0) / 3.0);  // linear in time
  EXPECT_DOUBLE_EQ(filled[0][3][0].item<double>(), 5.0);                      // held after the last one
  auto causal = de::fill_missing(t, x, true);
  EXPECT_DOUBLE_EQ(causal[0][1][0].item<double>(), 1.0);  // forward fill
  auto allnan = torch::full({1, 4, 1}, std::nan(""), f64);
  EXPECT_EQ(de::fill_missing(t, allnan).abs().sum().item<double>(), 0.0);
  auto rect = de::CubicPath::rectilinear(t, x);
  EXPECT_EQ(rect.channels(), 2);  // time + data
  EXPECT_EQ(rect.knots().size(0), 7);
  // Virtual knot 1: time has moved to t_1, data still x_0.
  auto v = rect.evaluate(torch::tensor({1.0}, f64));
  EXPECT_DOUBLE_EQ(v[0][0].item<double>(), 1.0);
  EXPECT_DOUBLE_EQ(v[0][1].item<double>(), 1.0);
  EXPECT_THROW_MSG(de::CubicPath::linear(t, torch::zeros({1, 3, 1}, f64)), "times must be [T] = [3]");
  EXPECT_THROW_MSG(de::CubicPath::linear(torch::tensor({0.0, 2.0, 1.0, 3.0}, f64), x), "strictly increasing");
}

TEST(DiffeqCde, CdeDrivenByTimeEqualsOde) {
  auto t = irregular_times();
  const int B = 3, H = 2;
  auto X = de::CubicPath::natural_cubic(t, t.view({1, -1, 1}).expand({B, -1, 1}).contiguous());
  torch::manual_seed(0);
  auto A = torch::randn({H, H}, f64) * 0.5;
  de::VectorField g([A](const torch::Tensor&, const torch::Tensor& z) { return torch::tanh(z.mm(A)); });
  de::VectorField F([A](const torch::Tensor&, const torch::Tensor& z) { return torch::tanh(z.mm(A)).unsqueeze(2); });
  auto z0 = torch::randn({B, H}, f64);
  auto ts = torch::linspace(0, 3, 7, f64);
  auto opts = de::OdeOptions().rtol(1e-10).atol(1e-12);
  auto zc = de::cdeint(F, X, z0, ts, opts);
  auto zo = de::odeint(g, z0, ts, opts);
  EXPECT_LT((zc - zo).abs().max().item<double>(), 1e-9);
  de::VectorField bad([](const torch::Tensor&, const torch::Tensor& z) { return z.unsqueeze(2).repeat({1, 1, 2}); });
  EXPECT_THROW_MSG(de::cdeint(bad, X, z0, ts), "expected [batch, hidden, channels] = [3, 2, 1]");
}

TEST(DiffeqCde, LogSignatureDepthTwo) {
  // Unit square loop: increment 0, signed area +1; a straight line has zero area.
  auto t = torch::arange(5, f64);
  auto sq = torch::tensor({{0.0, 0.0}, {1.0, 0.0}, {1.0, 1.0}, {0.0, 1.0}, {0.0, 0.0}}, f64).unsqueeze(0);
  auto [knots, path] = de::logsig_windows(t, sq, 4);
  ASSERT_EQ(path.size(1), 2);
  EXPECT_EQ(path.size(2), 3);
  EXPECT_NEAR(path[0][1][0].item<double>(), 0.0, 1e-14);
  EXPECT_NEAR(path[0][1][2].item<double>(), 1.0, 1e-14);
  auto line = torch::stack({t, 2 * t}, 1).unsqueeze(0);
  auto [k2, p2] = de::logsig_windows(t, line, 2);
  EXPECT_EQ(p2.size(1), 3);
  EXPECT_NEAR(p2[0][2][0].item<double>(), 4.0, 1e-14);  // cumulative increment
  EXPECT_NEAR(p2[0][2][2].item<double>(), 0.0, 1e-14);
  EXPECT_DOUBLE_EQ(k2[1].item<double>(), 2.0);
}
