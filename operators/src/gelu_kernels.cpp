// Raw-buffer GELU for float64. With GCC >= 12 on x86-64 Linux and glibc >= 2.35 the loops call
// glibc's vector math (libmvec: erfc and exp on 2, 4 or 8 doubles, within 4 ulp) through
// `simd` declarations and are compiled for AVX-512, AVX2 and baseline x86-64 (picked at load
// time); elsewhere they are plain loops over std::erfc / std::exp. No torch header here
// (compiled without the torch PCH, with -fopenmp-simd -fno-math-errno).
//
// The vector loop leaves a scalar remainder of n mod (vector width) elements (and may peel for
// alignment): callers split [0, n) of a 64-byte aligned buffer at multiples of kGeluChunk, so
// that which code an element goes through depends on its index only, not on the thread count.
#include "gelu_kernels.hpp"

#include <cmath>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && \
    !defined(__SANITIZE_ADDRESS__) && defined(__linux__) && defined(__GLIBC__) &&        \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
#define PHYSML_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
// glibc >= 2.35 provides these vector variants (_ZGV{b,d,e}N{2,4,8}v_erfc, ..._exp); its own
// math.h declares them only under -ffast-math, which would also drop NaN checks.
extern "C" double erfc(double) noexcept __attribute__((simd("notinbranch")));
extern "C" double exp(double) noexcept __attribute__((simd("notinbranch")));
#define PHYSML_SIMD_LOOP _Pragma("omp simd")
#define PHYSML_GELU_VECTOR_PATH true
#else
#define PHYSML_GELU_VECTOR_PATH false
#define PHYSML_VECTOR_CLONES
#define PHYSML_SIMD_LOOP
#endif

namespace physml::operators::internal {

namespace {
constexpr double kSqrtHalf = 0.70710678118654752440;    // 1 / sqrt 2
constexpr double kInvSqrt2Pi = 0.39894228040143267794;  // 1 / sqrt(2 pi)
}  // namespace

bool gelu_vector_path() { return PHYSML_GELU_VECTOR_PATH; }

PHYSML_VECTOR_CLONES
void gelu_forward(const double* __restrict x, double* __restrict y, std::int64_t n) {
  PHYSML_SIMD_LOOP
  for (std::int64_t i = 0; i < n; ++i) y[i] = 0.5 * x[i] * erfc(-kSqrtHalf * x[i]);
}

PHYSML_VECTOR_CLONES
void gelu_backward(const double* __restrict x, const double* __restrict gy, double* __restrict gx, std::int64_t n) {
  PHYSML_SIMD_LOOP
  for (std::int64_t i = 0; i < n; ++i) {
    const double xi = x[i];
    gx[i] = gy[i] * (0.5 * erfc(-kSqrtHalf * xi) + xi * kInvSqrt2Pi * exp(-0.5 * xi * xi));
  }
}

}  // namespace physml::operators::internal
