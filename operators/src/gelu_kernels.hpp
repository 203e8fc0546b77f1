#pragma once
// Raw-buffer GELU for float64 (nclaw.cpp): LibTorch 1.13's float64 GELU evaluates erf one
// element at a time (~10 ns each here), which made it most of an NCLaw law's time. Internal
// to physml_operators.

#include <cstdint>

namespace physml::operators::internal {

/// Split [0, n) between threads at multiples of this many elements (of a 64-byte aligned
/// buffer): then every element is computed by the same (vector or scalar remainder) code
/// whatever the thread count, and the results do not depend on it.
constexpr std::int64_t kGeluChunk = 64;

/// True where the loops below are the libmvec vector loops (GCC >= 12, glibc >= 2.35, x86-64,
/// no AddressSanitizer); false where they are plain loops over std::erfc / std::exp.
bool gelu_vector_path();

/// y = x Phi(x) = (x / 2) erfc(-x / sqrt 2), the exact (erf) GELU, for n elements.
void gelu_forward(const double* x, double* y, std::int64_t n);

/// gx = gy (Phi(x) + x phi(x)), phi(x) = exp(-x^2 / 2) / sqrt(2 pi): the derivative of
/// gelu_forward times the incoming gradient, for n elements.
void gelu_backward(const double* x, const double* gy, double* gx, std::int64_t n);

}  // namespace physml::operators::internal
