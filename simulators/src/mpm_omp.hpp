#pragma once
// Internal to physml_simulators, included only by the OpenMP kernel files (mpm_kernels.cpp,
// mpm_transfer.cpp): the quadratic B-spline stencil of MLS-MPM along one axis and the sum of
// the per-thread scatter grids.
#include <omp.h>

#include <cmath>
#include <cstdint>
#include <vector>

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

/// Inside a parallel region, after every thread scattered into grids[its thread number]: sum
/// the first `size` values of the grids of this team (which may be smaller than asked for)
/// into grids[0], node range split over the threads, in thread order (reproducible for a
/// fixed thread count). Ends with the implicit barrier of the `omp for`.
template <typename T>
void sum_thread_grids(std::vector<std::vector<T>>& grids, std::int64_t size) {
#pragma omp barrier
  const int team = omp_get_num_threads();
  if (team == 1) return;
#pragma omp for schedule(static)
  for (std::int64_t n = 0; n < size; ++n) {
    T s = grids[0][static_cast<std::size_t>(n)];
    for (int t = 1; t < team; ++t) s += grids[static_cast<std::size_t>(t)][static_cast<std::size_t>(n)];
    grids[0][static_cast<std::size_t>(n)] = s;
  }
}

}  // namespace physml::simulators::detail
