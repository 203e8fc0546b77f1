#include "mpm_kernels.hpp"
#include "mpm_omp.hpp"

#include "physml/core/error.hpp"

#include <Eigen/LU>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <string>

namespace physml::simulators::detail {
namespace {

/// The first failure of a substep: lowest particle index wins, so the report is deterministic.
struct Failure {
  std::int64_t particle = -1;
  std::string message;
  void record(std::int64_t p, std::string msg) {
    if (particle < 0 || p < particle) {
      particle = p;
      message = std::move(msg);
    }
  }
};

}  // namespace

template <typename T, int D>
MPMKernelResult mpm_substep(const MPMKernelParams& prm, const MPMParticleBuffers<T>& P,
                            std::vector<std::vector<T>>& g) {
  const std::int64_t N = P.n;
  const auto& materials = *prm.materials;
  const auto& nodes = prm.nodes;
  const auto& cells = prm.cells;
  const auto& length = prm.length;
  const auto& gravity = prm.gravity;
  const double dx = prm.dx;
  const int threads = prm.threads;
  const bool no_slip = prm.no_slip;
  const T dt = static_cast<T>(prm.dt);
  const T tdx = static_cast<T>(dx), inv_dx = T(1) / tdx;
  const T D_inv = T(4) * inv_dx * inv_dx;  // (dx^2 / 4)^{-1}, quadratic B-splines
  constexpr int S = D + 1;                 // grid values per node: m, (m v)_0..D-1
  const std::int64_t stride1 = (D == 3) ? nodes[2] : 1;
  const std::int64_t stride0 = (D == 3) ? nodes[1] * nodes[2] : nodes[1];
  auto node_index = [&](std::int64_t i0, std::int64_t i1, std::int64_t i2) {
    return i0 * stride0 + i1 * stride1 + (D == 3 ? i2 : 0);
  };
  std::int64_t num_nodes = 1;
  for (int a = 0; a < D; ++a) num_nodes *= nodes[a];

  T* x = P.x;
  T* v = P.v;
  T* C = P.C;
  T* F = P.F;
  T* Fzz = P.F_zz;
  const T* vol = P.volume;
  const T* mass = P.mass;
  const std::int64_t* mid = P.material;
  const std::int64_t step_no = prm.substep;
  const double t_now = prm.time;

  if (static_cast<int>(g.size()) != threads) g.assign(threads, {});
  const std::int64_t gsize = num_nodes * S;
  std::vector<Failure> fails(threads);

  // ---------------------------------------------------------------- P2G
#pragma omp parallel num_threads(threads)
  {
    const int tid = omp_get_thread_num();
    auto& grid = g[tid];
    grid.assign(static_cast<std::size_t>(gsize), T(0));
    T* gp = grid.data();
#pragma omp for schedule(static)
    for (std::int64_t p = 0; p < N; ++p) {
      const physics::Material& mat = materials[static_cast<std::size_t>(mid[p])];
      Eigen::Matrix<T, D, D> tau = Eigen::Matrix<T, D, D>::Zero();
      if (!is_stress_free(mat)) {
        physics::Mat3<T> F3 = physics::Mat3<T>::Zero();
        for (int a = 0; a < D; ++a)
          for (int b = 0; b < D; ++b) F3(a, b) = F[p * D * D + a * D + b];
        F3(2, 2) = D == 2 ? Fzz[p] : F3(2, 2);
        physics::Mat3<T> tau3;
        try {
          tau3 = mat.kirchhoff<T>(F3);
        } catch (const std::exception& e) {
          fails[tid].record(
              p, physml::detail::concat("MPM: particle ", p, " (material '", mat.name, "') at substep ", step_no,
                                        " (t = ", t_now, " s): stress evaluation failed: ", e.what()));
          continue;
        }
        if (!tau3.allFinite()) {
          fails[tid].record(
              p, physml::detail::concat("MPM: particle ", p, " (material '", mat.name, "') at substep ", step_no,
                                        " (t = ", t_now, " s): Kirchhoff stress is not finite (F = [",
                                        F3.format(Eigen::IOFormat(8, Eigen::DontAlignCols, ", ", "; ")),
                                        "]); expected a finite stress"));
          continue;
        }
        tau = tau3.template topLeftCorner<D, D>();
      }
      const T mp = mass[p];
      Eigen::Matrix<T, D, D> Cp;
      for (int a = 0; a < D; ++a)
        for (int b = 0; b < D; ++b) Cp(a, b) = C[p * D * D + a * D + b];
      const Eigen::Matrix<T, D, D> A = (-dt * vol[p] * D_inv) * tau + mp * Cp;
      Eigen::Matrix<T, D, 1> mv;
      for (int a = 0; a < D; ++a) mv(a) = mp * v[p * D + a];
      std::int64_t base[3] = {0, 0, 0};
      T f[3] = {0, 0, 0}, w[3][3] = {{1, 0, 0}, {1, 0, 0}, {1, 0, 0}};
      for (int a = 0; a < D; ++a) bspline<T>(x[p * D + a], inv_dx, base[a], f[a], w[a]);
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j)
          for (int k = 0; k < (D == 3 ? 3 : 1); ++k) {
            const T wijk = w[0][i] * w[1][j] * (D == 3 ? w[2][k] : T(1));
            Eigen::Matrix<T, D, 1> dpos;
            dpos(0) = (static_cast<T>(i) - f[0]) * tdx;
            dpos(1) = (static_cast<T>(j) - f[1]) * tdx;
            if constexpr (D == 3) dpos(2) = (static_cast<T>(k) - f[2]) * tdx;
            const Eigen::Matrix<T, D, 1> mom = wijk * (mv + A * dpos);
            T* node = gp + S * node_index(base[0] + i, base[1] + j, base[2] + k);
            node[0] += wijk * mp;
            for (int a = 0; a < D; ++a) node[1 + a] += mom(a);
          }
    }
    // Reduce the per-thread grids into grid 0, node range split over threads, summed in thread order.
    sum_thread_grids(g, gsize);
  }
  for (const auto& fl : fails)
    if (fl.particle >= 0) {
      Failure first;
      for (const auto& f2 : fails)
        if (f2.particle >= 0) first.record(f2.particle, f2.message);
      PHYSML_THROW(first.message);
    }

  // ---------------------------------------------------------------- grid update
  T* G = g[0].data();
  const std::int64_t band = prm.boundary_cells;
  const T grav[3] = {static_cast<T>(gravity[0]), static_cast<T>(gravity[1]), static_cast<T>(gravity[2])};
  const std::int64_t n0 = nodes[0];
  double gm = 0, gp0 = 0, gp1 = 0, gp2 = 0;
#pragma omp parallel for schedule(static) num_threads(threads) reduction(+ : gm, gp0, gp1, gp2)
  for (std::int64_t i0 = 0; i0 < n0; ++i0)
    for (std::int64_t i1 = 0; i1 < nodes[1]; ++i1)
      for (std::int64_t i2 = 0; i2 < (D == 3 ? nodes[2] : 1); ++i2) {
        T* node = G + S * node_index(i0, i1, i2);
        const T m = node[0];
        if (!(m > T(0))) {
          for (int a = 0; a < D; ++a) node[1 + a] = T(0);
          continue;
        }
        gm += static_cast<double>(m);
        gp0 += static_cast<double>(node[1]);
        gp1 += static_cast<double>(node[2]);
        if constexpr (D == 3) gp2 += static_cast<double>(node[3]);
        const std::int64_t idx[3] = {i0, i1, i2};
        bool wall = false;
        for (int a = 0; a < D; ++a) {
          T& va = node[1 + a];
          va = va / m + dt * grav[a];
          if (band == 0) continue;
          if (idx[a] < band) {
            wall = true;
            if (va < T(0)) va = T(0);
          } else if (idx[a] > cells[a] - band) {
            wall = true;
            if (va > T(0)) va = T(0);
          }
        }
        if (no_slip && wall)
          for (int a = 0; a < D; ++a) node[1 + a] = T(0);
      }

  // ---------------------------------------------------------------- G2P
  const bool apic = prm.apic;
  const T clamp_lo = static_cast<T>(prm.clamp_cells * dx);
  T clamp_hi[3];
  for (int a = 0; a < 3; ++a) clamp_hi[a] = static_cast<T>(length[a] - prm.clamp_cells * dx);
  std::int64_t clamped_now = 0;
  T vmax = 0;
  std::vector<Failure> fails2(threads);
#pragma omp parallel num_threads(threads) reduction(+ : clamped_now) reduction(max : vmax)
  {
    const int tid = omp_get_thread_num();
#pragma omp for schedule(static)
    for (std::int64_t p = 0; p < N; ++p) {
      std::int64_t base[3] = {0, 0, 0};
      T f[3] = {0, 0, 0}, w[3][3] = {{1, 0, 0}, {1, 0, 0}, {1, 0, 0}};
      for (int a = 0; a < D; ++a) bspline<T>(x[p * D + a], inv_dx, base[a], f[a], w[a]);
      Eigen::Matrix<T, D, 1> vp = Eigen::Matrix<T, D, 1>::Zero();
      Eigen::Matrix<T, D, D> B = Eigen::Matrix<T, D, D>::Zero();
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j)
          for (int k = 0; k < (D == 3 ? 3 : 1); ++k) {
            const T wijk = w[0][i] * w[1][j] * (D == 3 ? w[2][k] : T(1));
            Eigen::Matrix<T, D, 1> dpos;
            dpos(0) = (static_cast<T>(i) - f[0]) * tdx;
            dpos(1) = (static_cast<T>(j) - f[1]) * tdx;
            if constexpr (D == 3) dpos(2) = (static_cast<T>(k) - f[2]) * tdx;
            const T* node = G + S * node_index(base[0] + i, base[1] + j, base[2] + k);
            Eigen::Matrix<T, D, 1> vi;
            for (int a = 0; a < D; ++a) vi(a) = node[1 + a];
            vp += wijk * vi;
            B += (wijk * vi) * dpos.transpose();
          }
      const Eigen::Matrix<T, D, D> Cp = D_inv * B;
      bool was_clamped = false;
      for (int a = 0; a < D; ++a) {
        v[p * D + a] = vp(a);
        T xa = x[p * D + a] + dt * vp(a);
        if (!std::isfinite(xa)) {
          fails2[tid].record(p, physml::detail::concat("MPM: particle ", p, " at substep ", step_no, " (t = ", t_now,
                                                       " s): position is not finite after advection (velocity ", vp(a),
                                                       " m/s on axis ", a, "); expected finite values"));
          xa = clamp_lo;
        }
        if (xa < clamp_lo) {
          xa = clamp_lo;
          was_clamped = true;
        } else if (xa > clamp_hi[a]) {
          xa = clamp_hi[a];
          was_clamped = true;
        }
        x[p * D + a] = xa;
      }
      clamped_now += was_clamped ? 1 : 0;
      vmax = std::max(vmax, vp.norm());
      Eigen::Matrix<T, D, D> Fp;
      for (int a = 0; a < D; ++a)
        for (int b = 0; b < D; ++b) Fp(a, b) = F[p * D * D + a * D + b];
      Fp = (Eigen::Matrix<T, D, D>::Identity() + dt * Cp) * Fp;
      T fzz = D == 2 ? Fzz[p] : T(1);
      const physics::Material& mat = materials[static_cast<std::size_t>(mid[p])];
      if (!is_stress_free(mat) && mat.plasticity != physics::PlasticityModel::none) {
        physics::Mat3<T> F3 = physics::Mat3<T>::Zero();
        F3.template topLeftCorner<D, D>() = Fp;
        if (D == 2) F3(2, 2) = fzz;
        // The return mappings need J > 0 (log of the singular values): check the trial state first.
        const T Jt = F3.determinant();
        if (!(Jt > T(0))) {
          fails2[tid].record(
              p, physml::detail::concat("MPM: particle ", p, " (material '", mat.name, "') at substep ", step_no,
                                        " (t = ", t_now, " s): J = det F = ", Jt,
                                        " after the F update; expected J > 0 (the time step is too large "
                                        "for the velocity field or the material's stiffness)"));
          continue;
        }
        try {
          F3 = mat.project<T>(F3);
        } catch (const std::exception& e) {
          fails2[tid].record(p, physml::detail::concat("MPM: particle ", p, " (material '", mat.name, "') at substep ",
                                                       step_no, ": return mapping failed: ", e.what()));
          continue;
        }
        Fp = F3.template topLeftCorner<D, D>();
        if (D == 2) fzz = F3(2, 2);
      }
      const T J = Fp.determinant() * fzz;
      if (!(J > T(0))) {
        fails2[tid].record(
            p, physml::detail::concat("MPM: particle ", p, " (material '", mat.name, "') at substep ", step_no,
                                      " (t = ", t_now, " s): J = det F = ", J,
                                      " after the F update; expected J > 0 (the time step is too large for "
                                      "the velocity field or the material's stiffness)"));
        continue;
      }
      for (int a = 0; a < D; ++a)
        for (int b = 0; b < D; ++b) {
          F[p * D * D + a * D + b] = Fp(a, b);
          C[p * D * D + a * D + b] = apic ? Cp(a, b) : T(0);
        }
      if (D == 2) Fzz[p] = fzz;
    }
  }
  Failure first;
  for (const auto& f2 : fails2)
    if (f2.particle >= 0) first.record(f2.particle, f2.message);
  if (first.particle >= 0) PHYSML_THROW(first.message);
  return {clamped_now, static_cast<double>(vmax), gm, {gp0, gp1, gp2}};
}

int mpm_max_threads() { return omp_get_max_threads(); }

template MPMKernelResult mpm_substep<double, 2>(const MPMKernelParams&, const MPMParticleBuffers<double>&,
                                                std::vector<std::vector<double>>&);
template MPMKernelResult mpm_substep<double, 3>(const MPMKernelParams&, const MPMParticleBuffers<double>&,
                                                std::vector<std::vector<double>>&);
template MPMKernelResult mpm_substep<float, 2>(const MPMKernelParams&, const MPMParticleBuffers<float>&,
                                               std::vector<std::vector<float>>&);
template MPMKernelResult mpm_substep<float, 3>(const MPMKernelParams&, const MPMParticleBuffers<float>&,
                                               std::vector<std::vector<float>>&);

}  // namespace physml::simulators::detail
