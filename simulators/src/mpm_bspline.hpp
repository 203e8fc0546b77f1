#pragma once
// Internal to physml_simulators: the quadratic B-spline stencil of MLS-MPM along one axis,
// shared by the fused kernel (mpm_kernels.cpp) and the differentiable transfer (mpm_transfer.cpp).
#include <cmath>
#include <cstdint>

namespace physml::simulators::detail {

/// Weights w[0..2] and base node along one axis for coordinate x [m] (Hu et al. 2018):
/// base = floor(x/dx - 1/2), f = x/dx - base in [0.5, 1.5).
template <typename T>
inline void bspline(T x, T inv_dx, std::int64_t& base, T& f, T w[3]) {
  const T s = x * inv_dx;
  base = static_cast<std::int64_t>(std::floor(s - T(0.5)));
  f = s - static_cast<T>(base);
  w[0] = T(0.5) * (T(1.5) - f) * (T(1.5) - f);
  w[1] = T(0.75) - (f - T(1)) * (f - T(1));
  w[2] = T(0.5) * (f - T(0.5)) * (f - T(0.5));
}

/// The same and the derivatives dw/dx [1/m] (the base is locally constant).
template <typename T>
inline void bspline(T x, T inv_dx, std::int64_t& base, T& f, T w[3], T dw[3]) {
  bspline<T>(x, inv_dx, base, f, w);
  dw[0] = -(T(1.5) - f) * inv_dx;
  dw[1] = -T(2) * (f - T(1)) * inv_dx;
  dw[2] = (f - T(0.5)) * inv_dx;
}

}  // namespace physml::simulators::detail
