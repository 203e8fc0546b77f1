// The float64 GELU kernels behind NCLaw's networks (operators/src/gelu_kernels.cpp, internal):
// on whole buffers, so the vector loop is what is checked, against glibc's scalar erfc / exp
// forms, and the same bits whatever the split at multiples of kGeluChunk.
#include "../../operators/src/gelu_kernels.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

using namespace physml::operators::internal;

namespace {
/// n doubles starting at a 64-byte boundary, as LibTorch allocates tensors (the kernels'
/// callers split such buffers at multiples of kGeluChunk), plus an `offset` in elements to
/// check a misaligned start too.
class Buffer {
public:
  explicit Buffer(std::int64_t n, double value = 0.0, std::int64_t offset = 0)
      : store_(static_cast<std::size_t>(n + 8 + offset), value), n_(n) {
    const auto a = reinterpret_cast<std::uintptr_t>(store_.data());
    p_ = store_.data() + (64 - a % 64) % 64 / sizeof(double) + offset;
  }
  Buffer(const Buffer&) = delete;  // p_ points into store_
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&&) = default;  // (the vector's storage moves with it)
  double* data() { return p_; }
  const double* data() const { return p_; }
  double& operator[](std::int64_t i) { return p_[i]; }
  double operator[](std::int64_t i) const { return p_[i]; }
  std::int64_t size() const { return n_; }
  bool operator==(const Buffer& o) const { return n_ == o.n_ && std::equal(p_, p_ + n_, o.p_); }

private:
  std::vector<double> store_;
  double* p_ = nullptr;
  std::int64_t n_;
};

Buffer inputs(std::int64_t n, std::int64_t offset = 0) {
  Buffer x(n, 0.0, offset);
  for (std::int64_t i = 0; i < n; ++i) x[i] = -38.0 + 80.0 * static_cast<double>(i) / static_cast<double>(n);
  return x;
}

/// Which loop is being checked (recorded in the test's XML output and printed).
void record_path() {
  const bool v = gelu_vector_path();
  ::testing::Test::RecordProperty("gelu_vector_path", v ? "libmvec" : "scalar");
  std::printf("checking the %s GELU loops\n", v ? "libmvec vector" : "plain scalar");
}
}  // namespace

TEST(GeluKernels, VectorLoopMatchesTheScalarErfcFormInEveryRange) {
  // 10,007 points on [-38, 42]: GELU from -1.4e-314 (x = -38) to x. The relative condition number
  // of erfc(z) at z = -x/sqrt 2 is (2/sqrt pi)|z| e^(-z^2) / erfc(z): ~x^2 for x < 0, hence a
  // tolerance (1 + x^2) 4 ulp there, and below 0.5 for x >= 0 (erfc in [1, 2]), hence 4 ulp
  // plus one rounding of the product. The derivative Phi + x phi likewise, relative to
  // |Phi| + |x phi|. Where the vector path is compiled out (gelu_vector_path() false) this
  // checks the plain loops, which are then what NCLaw runs.
  record_path();
  const std::int64_t n = 10007;
  for (const std::int64_t offset : {0, 1}) {  // aligned as tensors are, and misaligned by one element
    const auto x = inputs(n, offset);
    Buffer y(n), g(n), ones(n, 1.0);
    gelu_forward(x.data(), y.data(), n);
    gelu_backward(x.data(), ones.data(), g.data(), n);
    const double eps = 2.220446049250313e-16;
    int checked = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      const double xi = x[i];
      const double f = 0.5 * xi * std::erfc(-xi / std::sqrt(2.0));
      const double Phi = 0.5 * std::erfc(-xi / std::sqrt(2.0)), xphi = xi * std::exp(-0.5 * xi * xi) / std::sqrt(2 * M_PI);
      const double d = Phi + xphi;
      if (std::abs(f) < 1e-300) continue;  // subnormal results: no relative accuracy to ask for
      const double cond = xi < 0 ? 1 + xi * xi : 1.25;
      ASSERT_LE(std::abs(y[i] - f), cond * 4 * eps * std::abs(f)) << "x = " << xi << ", offset " << offset;
      // (the sum cancels near x = -0.75: the bound is relative to its terms)
      ASSERT_LE(std::abs(g[i] - d), cond * 4 * eps * (std::abs(Phi) + std::abs(xphi))) << "x = " << xi << ", offset " << offset;
      ++checked;
    }
    EXPECT_GT(checked, 9000);
  }
  // The negative tail is not flushed to zero (the 1 + erf form would be): a block of 64 x = -30.
  Buffer tail(64, -30.0), gtail(64);
  gelu_forward(tail.data(), gtail.data(), 64);
  const double expect = -15.0 * std::erfc(30.0 / std::sqrt(2.0));  // -1.47e-196
  for (std::int64_t i = 0; i < 64; ++i) EXPECT_NEAR(gtail[i], expect, 1e-12 * std::abs(expect));
}

TEST(GeluKernels, SplitsAtMultiplesOfTheChunkGiveTheSameBits) {
  record_path();
  const std::int64_t n = 10007;
  const auto x = inputs(n);  // 64-byte aligned, as the callers' tensors
  Buffer whole(n), split(n), gw(n), gs(n), gy(n);
  for (std::int64_t i = 0; i < n; ++i) gy[i] = std::cos(static_cast<double>(i));
  gelu_forward(x.data(), whole.data(), n);
  gelu_backward(x.data(), gy.data(), gw.data(), n);
  for (std::int64_t b = 0; b < n; b += 3 * kGeluChunk) {  // pieces of 192 elements, as threads would
    const std::int64_t e = std::min(n, b + 3 * kGeluChunk);
    gelu_forward(x.data() + b, split.data() + b, e - b);
    gelu_backward(x.data() + b, gy.data() + b, gs.data() + b, e - b);
  }
  EXPECT_TRUE(whole == split);
  EXPECT_TRUE(gw == gs);
  EXPECT_EQ(0.0, [] { double y = 1; const double x = 0; gelu_forward(&x, &y, 1); return y; }());
}
