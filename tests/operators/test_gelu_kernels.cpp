// The float64 GELU kernels behind NCLaw's networks (operators/src/gelu_kernels.cpp, internal):
// on whole buffers, so the vector loop is what is checked, against glibc's scalar erfc / exp
// forms, and the same bits whatever the split at multiples of kGeluChunk.
#include "../../operators/src/gelu_kernels.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

using namespace physml::operators::internal;

namespace {
std::vector<double> inputs(std::int64_t n) {
  std::vector<double> x(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) x[static_cast<std::size_t>(i)] = -38.0 + 80.0 * static_cast<double>(i) / static_cast<double>(n);
  return x;
}
}  // namespace

TEST(GeluKernels, VectorLoopMatchesTheScalarErfcFormInEveryRange) {
  // 10,007 points on [-38, 42]: GELU from -1.4e-314 (x = -38) to x. The relative condition number
  // of erfc at z = -x/sqrt 2 is ~x^2, hence a tolerance (1 + x^2) 4 ulp; the derivative
  // Phi + x phi likewise, relative to |Phi| + |x phi|.
  const std::int64_t n = 10007;
  const auto x = inputs(n);
  std::vector<double> y(x.size()), g(x.size()), ones(x.size(), 1.0);
  gelu_forward(x.data(), y.data(), n);
  gelu_backward(x.data(), ones.data(), g.data(), n);
  const double eps = 2.220446049250313e-16;
  int checked = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double xi = x[i];
    const double f = 0.5 * xi * std::erfc(-xi / std::sqrt(2.0));
    const double Phi = 0.5 * std::erfc(-xi / std::sqrt(2.0)), xphi = xi * std::exp(-0.5 * xi * xi) / std::sqrt(2 * M_PI);
    const double d = Phi + xphi;
    if (std::abs(f) < 1e-300) continue;  // subnormal results: no relative accuracy to ask for
    ASSERT_LE(std::abs(y[i] - f), (1 + xi * xi) * 4 * eps * std::abs(f)) << "x = " << xi;
    // (the sum cancels near x = -0.75: the bound is relative to its terms)
    ASSERT_LE(std::abs(g[i] - d), (1 + xi * xi) * 4 * eps * (std::abs(Phi) + std::abs(xphi))) << "x = " << xi;
    ++checked;
  }
  EXPECT_GT(checked, 9000);
  // The negative tail is not flushed to zero (the 1 + erf form would be): a block of 64 x = -30.
  std::vector<double> tail(64, -30.0), gtail(64);
  gelu_forward(tail.data(), gtail.data(), 64);
  const double expect = -15.0 * std::erfc(30.0 / std::sqrt(2.0));  // -1.47e-196
  for (double v : gtail) EXPECT_NEAR(v, expect, 1e-12 * std::abs(expect));
}

TEST(GeluKernels, SplitsAtMultiplesOfTheChunkGiveTheSameBits) {
  const std::int64_t n = 10007;
  const auto x = inputs(n);
  std::vector<double> whole(x.size()), split(x.size()), gw(x.size()), gs(x.size()), gy(x.size());
  for (std::size_t i = 0; i < gy.size(); ++i) gy[i] = std::cos(static_cast<double>(i));
  gelu_forward(x.data(), whole.data(), n);
  gelu_backward(x.data(), gy.data(), gw.data(), n);
  for (std::int64_t b = 0; b < n; b += 3 * kGeluChunk) {  // pieces of 192 elements, as threads would
    const std::int64_t e = std::min(n, b + 3 * kGeluChunk);
    gelu_forward(x.data() + b, split.data() + b, e - b);
    gelu_backward(x.data() + b, gy.data() + b, gs.data() + b, e - b);
  }
  EXPECT_EQ(whole, split);
  EXPECT_EQ(gw, gs);
  EXPECT_EQ(0.0, [] { double y = 1; const double x = 0; gelu_forward(&x, &y, 1); return y; }());
}
