// Raw-buffer kernels of the Brownian Interval: one loop per split, Box–Muller normals from a
// counter-based hash (no torch here: this file is compiled without the torch PCH and with
// -fno-math-errno so that sqrt vectorises).
#include "brownian_kernels.hpp"

#include <cmath>
#include <cstring>

// The split loop is compiled for AVX-512, AVX2 and baseline x86-64 and picked at load time.
// (target_clones with arch=x86-64-v4 needs GCC >= 12.)
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && !defined(__SANITIZE_ADDRESS__)
#define PHYSML_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define PHYSML_VECTOR_CLONES
#endif

namespace physml::solvers::diffeq::internal {

namespace {

constexpr std::uint64_t kGolden = 0x9E3779B97F4A7C15ULL;
constexpr std::uint64_t kOne = 0x3FF0000000000000ULL;    // bits of 1.0
constexpr std::uint64_t kMagic = 0x4330000000000000ULL;  // bits of 2^52
constexpr double kTwo52 = 4503599627370496.0;

inline double from_bits(std::uint64_t b) {
  double d;
  std::memcpy(&d, &b, sizeof d);
  return d;
}

inline std::uint64_t to_bits(double d) {
  std::uint64_t b;
  std::memcpy(&b, &d, sizeof b);
  return b;
}

/// SplitMix64 finaliser: a bijective mix of a 64-bit counter.
inline std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// Small non-negative integer (< 2^52) held in a uint64 -> double, without int64 conversion
/// instructions (which AVX2 lacks), so the loop vectorises.
inline double small_to_double(std::uint64_t k) { return from_bits(kMagic | k) - kTwo52; }

/// Natural log of u in [2^-52, 1] to ~1 ulp: u = 2^e m, m in [1/sqrt2, sqrt2),
/// log m = 2 atanh(s) with s = (m - 1)/(m + 1), |s| <= 0.172 (odd series to s^19; the
/// next term is < 3e-17 relative).
inline double log_unit(double u) {
  const std::uint64_t b = to_bits(u), mant = b & 0x000FFFFFFFFFFFFFULL;
  // m in [1, 2) from the mantissa; above sqrt2 halve it (exponent field - 1) and add 1 to e.
  // Integer selects only: no branch, so the loop vectorises.
  const std::uint64_t big = static_cast<std::uint64_t>(mant > 0x6A09E667F3BCDULL);  // mantissa of sqrt2
  const double m = from_bits((mant | kOne) - (big << 52));
  const double e = small_to_double(b >> 52) - 1023.0 + small_to_double(big);
  const double s = (m - 1.0) / (m + 1.0), s2 = s * s;
  double p = 1.0 / 19;
  p = p * s2 + 1.0 / 17;
  p = p * s2 + 1.0 / 15;
  p = p * s2 + 1.0 / 13;
  p = p * s2 + 1.0 / 11;
  p = p * s2 + 1.0 / 9;
  p = p * s2 + 1.0 / 7;
  p = p * s2 + 1.0 / 5;
  p = p * s2 + 1.0 / 3;
  p = p * s2 + 1.0;
  constexpr double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
  return e * ln2_hi + (2.0 * s * p + e * ln2_lo);
}

/// Two independent standard normals from two uniform 64-bit words (Box–Muller):
/// R = sqrt(-2 log u1), u1 in (0, 1] from 52 bits of x1; angle 2 pi v from x2, with the
/// quadrant from its top 2 bits and sin/cos of the rest by Taylor series on [-pi/4, pi/4).
inline void normal_pair(std::uint64_t x1, std::uint64_t x2, double& z0, double& z1) {
  const double u1 = 2.0 - from_bits(kOne | (x1 >> 12));  // (0, 1], exact
  const double r = std::sqrt(-2.0 * log_unit(u1));
  const std::uint64_t q = x2 >> 62;
  const double f = from_bits(kOne | ((x2 << 2) >> 12)) - 1.5;  // [-1/2, 1/2)
  const double x = f * 1.5707963267948966, x2s = x * x;        // [-pi/4, pi/4)
  double sp = 1.0 / 355687428096000.0;                          // 1/17!
  sp = sp * -x2s + 1.0 / 1307674368000.0;
  sp = sp * -x2s + 1.0 / 6227020800.0;
  sp = sp * -x2s + 1.0 / 39916800.0;
  sp = sp * -x2s + 1.0 / 362880.0;
  sp = sp * -x2s + 1.0 / 5040.0;
  sp = sp * -x2s + 1.0 / 120.0;
  sp = sp * -x2s + 1.0 / 6.0;
  sp = sp * -x2s + 1.0;
  const double sn = x * sp;
  double cp = 1.0 / 6402373705728000.0;  // 1/18!
  cp = cp * -x2s + 1.0 / 20922789888000.0;
  cp = cp * -x2s + 1.0 / 87178291200.0;
  cp = cp * -x2s + 1.0 / 479001600.0;
  cp = cp * -x2s + 1.0 / 3628800.0;
  cp = cp * -x2s + 1.0 / 40320.0;
  cp = cp * -x2s + 1.0 / 720.0;
  cp = cp * -x2s + 1.0 / 24.0;
  cp = cp * -x2s + 0.5;
  const double cs = 1.0 - x2s * cp;
  // Angle q pi/2 + pi/4 + x: rotate (cos, sin) of pi/4 + x by q quadrants.
  constexpr double h = 0.70710678118654752440;
  const double c45 = (cs - sn) * h, s45 = (cs + sn) * h;
  const double swap = small_to_double(q & 1);
  const double sign_c = 1.0 - 2.0 * small_to_double((q ^ (q >> 1)) & 1), sign_s = 1.0 - 2.0 * small_to_double(q >> 1);
  z0 = r * sign_c * (swap * s45 + (1.0 - swap) * c45);
  z1 = r * sign_s * (swap * c45 + (1.0 - swap) * s45);
}

/// Standard normal pair i of the stream `seed`.
inline void draw(std::uint64_t seed, std::int64_t i, double& z, double& a) {
  const std::uint64_t c = seed + kGolden * (2 * static_cast<std::uint64_t>(i) + 1);
  normal_pair(mix64(c), mix64(c + kGolden), z, a);
}

}  // namespace

/// Midpoint split of a node (W, H) of length h with the Gaussians of stream `seed`.
PHYSML_VECTOR_CLONES
void brownian_split(const double* __restrict W, const double* __restrict H, double* __restrict WL,
                  double* __restrict HL, double* __restrict WR, double* __restrict HR, std::int64_t n,
                  std::uint64_t seed, double h) {
  const double sz = std::sqrt(h / 16), sa = std::sqrt(h / 48);
  for (std::int64_t i = 0; i < n; ++i) {
    double z, a;
    draw(seed, i, z, a);
    const double Z = sz * z, A = sa * a;
    const double wl = 0.5 * W[i] + 1.5 * H[i] + Z;
    WL[i] = wl;
    WR[i] = W[i] - wl;
    HL[i] = 0.25 * H[i] - 0.5 * Z + A;
    HR[i] = 0.25 * H[i] - 0.5 * Z - A;
  }
}

/// Root node (W, H) of an interval of length L.
PHYSML_VECTOR_CLONES
void brownian_root(double* __restrict W, double* __restrict H, std::int64_t n, std::uint64_t seed, double L) {
  const double sw = std::sqrt(L), sh = std::sqrt(L / 12);
  for (std::int64_t i = 0; i < n; ++i) {
    double z, a;
    draw(seed, i, z, a);
    W[i] = sw * z;
    H[i] = sh * a;
  }
}

void brownian_normal_pair(std::uint64_t seed, std::int64_t i, double& z, double& a) { draw(seed, i, z, a); }

}  // namespace physml::solvers::diffeq::internal
