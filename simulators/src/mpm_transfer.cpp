// The stress-given MLS-MPM transfer and its adjoint (mpm_transfer.hpp). OpenMP over particles;
// scatters go to one grid per thread, summed in thread order, so results are reproducible for
// a fixed thread count.
#include "mpm_transfer.hpp"

#include "mpm_omp.hpp"

#include <Eigen/Core>
#include <omp.h>

#include <algorithm>
#include <cmath>

namespace physml::simulators::detail {
namespace {

template <typename T, int D>
using Vec = Eigen::Matrix<T, D, 1>;
template <typename T, int D>
using Mat = Eigen::Matrix<T, D, D>;

template <typename T, int D>
Mat<T, D> load_mat(const T* p, std::int64_t i) {
  Mat<T, D> m;
  for (int a = 0; a < D; ++a)
    for (int b = 0; b < D; ++b) m(a, b) = p[i * D * D + a * D + b];
  return m;
}

template <typename T, int D>
void store_mat(T* p, std::int64_t i, const Mat<T, D>& m) {
  for (int a = 0; a < D; ++a)
    for (int b = 0; b < D; ++b) p[i * D * D + a * D + b] = m(a, b);
}

/// The particle's 3^D stencil: for each node, its linear index, weight, weight gradient and
/// x_i - x_p.
template <typename T, int D>
struct Stencil {
  static constexpr int K = D == 3 ? 27 : 9;
  std::int64_t node[K];
  T w[K];
  Vec<T, D> dw[K], dpos[K];

  Stencil(const T* x, T dx, const std::array<std::int64_t, 3>& nodes) {
    const T inv_dx = T(1) / dx;
    std::int64_t base[3] = {0, 0, 0};
    T f[3] = {0, 0, 0}, w1[3][3] = {{1, 0, 0}, {1, 0, 0}, {1, 0, 0}}, dw1[3][3] = {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}};
    for (int a = 0; a < D; ++a) bspline<T>(x[a], inv_dx, base[a], f[a], w1[a], dw1[a]);
    const std::int64_t s1 = D == 3 ? nodes[2] : 1, s0 = D == 3 ? nodes[1] * nodes[2] : nodes[1];
    int k = 0;
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j)
        for (int l = 0; l < (D == 3 ? 3 : 1); ++l, ++k) {
          const int idx[3] = {i, j, l};
          node[k] = (base[0] + i) * s0 + (base[1] + j) * s1 + (D == 3 ? base[2] + l : 0);
          T wk = 1;
          for (int a = 0; a < D; ++a) wk *= w1[a][idx[a]];
          w[k] = wk;
          for (int a = 0; a < D; ++a) {
            T g = dw1[a][idx[a]];
            for (int b = 0; b < D; ++b)
              if (b != a) g *= w1[b][idx[b]];
            dw[k](a) = g;
            dpos[k](a) = (static_cast<T>(idx[a]) - f[a]) * dx;
          }
        }
  }
};

/// Per-node grid values: m, q (D), u (D), mask M (D).
template <int D>
constexpr int kGridValues = 1 + 3 * D;

/// P2G into per-thread grids, summed into grids[0], then the grid update; returns grids[0].
template <typename T, int D>
T* p2g_and_grid(const MPMKernelParams& prm, const TransferInput<T>& in, std::vector<std::vector<T>>& g) {
  constexpr int S = kGridValues<D>;
  const int threads = prm.threads;
  const T dt = static_cast<T>(prm.dt), dx = static_cast<T>(prm.dx);
  const T D_inv = T(4) / (dx * dx);
  std::int64_t num_nodes = 1;
  for (int a = 0; a < D; ++a) num_nodes *= prm.nodes[a];
  const std::int64_t gsize = num_nodes * S;
  if (static_cast<int>(g.size()) < threads) g.resize(static_cast<size_t>(threads));
#pragma omp parallel num_threads(threads)
  {
    auto& grid = g[static_cast<size_t>(omp_get_thread_num())];
    grid.assign(static_cast<size_t>(gsize), T(0));
#pragma omp for schedule(static)
    for (std::int64_t p = 0; p < in.n; ++p) {
      const T mp = in.mass[p];
      const Mat<T, D> A = (-dt * in.volume[p] * D_inv) * load_mat<T, D>(in.tau, p) + mp * load_mat<T, D>(in.C, p);
      Vec<T, D> mv;
      for (int a = 0; a < D; ++a) mv(a) = mp * in.v[p * D + a];
      const Stencil<T, D> st(in.x + p * D, dx, prm.nodes);
      for (int k = 0; k < st.K; ++k) {
        T* node = grid.data() + S * st.node[k];
        node[0] += st.w[k] * mp;
        const Vec<T, D> mom = st.w[k] * (mv + A * st.dpos[k]);
        for (int a = 0; a < D; ++a) node[1 + a] += mom(a);
      }
    }
    sum_thread_grids(g, gsize);
  }
  T* G = g[0].data();
  const std::int64_t band = prm.boundary_cells;
  const auto& nodes = prm.nodes;
  const std::int64_t s1 = D == 3 ? nodes[2] : 1, s0 = D == 3 ? nodes[1] * nodes[2] : nodes[1];
#pragma omp parallel for schedule(static) num_threads(threads)
  for (std::int64_t i0 = 0; i0 < nodes[0]; ++i0)
    for (std::int64_t i1 = 0; i1 < nodes[1]; ++i1)
      for (std::int64_t i2 = 0; i2 < (D == 3 ? nodes[2] : 1); ++i2) {
        T* node = G + S * (i0 * s0 + i1 * s1 + i2);
        const T m = node[0];
        T* u = node + 1 + D;
        T* M = node + 1 + 2 * D;
        if (!(m > T(0))) {
          for (int a = 0; a < D; ++a) u[a] = M[a] = T(0);
          continue;
        }
        const std::int64_t idx[3] = {i0, i1, i2};
        bool wall = false;
        for (int a = 0; a < D; ++a) {
          u[a] = node[1 + a] / m + dt * static_cast<T>(prm.gravity[static_cast<size_t>(a)]);
          M[a] = T(1);
          if (band == 0) continue;
          if (idx[a] < band) {
            wall = true;
            if (u[a] < T(0)) u[a] = M[a] = T(0);
          } else if (idx[a] > prm.cells[static_cast<size_t>(a)] - band) {
            wall = true;
            if (u[a] > T(0)) u[a] = M[a] = T(0);
          }
        }
        if (prm.no_slip && wall)
          for (int a = 0; a < D; ++a) u[a] = M[a] = T(0);
      }
  return G;
}

/// G2P gather of one particle: v'_p and B_p = sum_i w u (x_i - x_p)^T.
template <typename T, int D>
void gather(const T* G, const Stencil<T, D>& st, Vec<T, D>& vp, Mat<T, D>& B) {
  constexpr int S = kGridValues<D>;
  vp.setZero();
  B.setZero();
  for (int k = 0; k < st.K; ++k) {
    const T* u = G + S * st.node[k] + 1 + D;
    Vec<T, D> ui;
    for (int a = 0; a < D; ++a) ui(a) = u[a];
    vp += st.w[k] * ui;
    B += (st.w[k] * ui) * st.dpos[k].transpose();
  }
}

}  // namespace

template <typename T, int D>
std::int64_t mpm_transfer(const MPMKernelParams& prm, const TransferInput<T>& in, const TransferBuffers<T>& out,
                          std::vector<std::vector<T>>& g) {
  const T* G = p2g_and_grid<T, D>(prm, in, g);
  const T dt = static_cast<T>(prm.dt), dx = static_cast<T>(prm.dx);
  const T D_inv = T(4) / (dx * dx);
  const T lo = static_cast<T>(prm.clamp_cells * prm.dx);
  std::int64_t clamped = 0;
#pragma omp parallel for schedule(static) num_threads(prm.threads) reduction(+ : clamped)
  for (std::int64_t p = 0; p < in.n; ++p) {
    const Stencil<T, D> st(in.x + p * D, dx, prm.nodes);
    Vec<T, D> vp;
    Mat<T, D> B;
    gather<T, D>(G, st, vp, B);
    const Mat<T, D> Cp = D_inv * B;
    bool was = false;
    for (int a = 0; a < D; ++a) {
      const T hi = static_cast<T>(prm.length[static_cast<size_t>(a)] - prm.clamp_cells * prm.dx);
      T xa = in.x[p * D + a] + dt * vp(a);
      if (xa < lo) xa = lo, was = true;
      else if (xa > hi) xa = hi, was = true;
      out.x[p * D + a] = xa;
      out.v[p * D + a] = vp(a);
    }
    clamped += was ? 1 : 0;
    store_mat<T, D>(out.F, p, (Mat<T, D>::Identity() + dt * Cp) * load_mat<T, D>(in.F, p));
    store_mat<T, D>(out.C, p, prm.apic ? Cp : Mat<T, D>::Zero());
  }
  return clamped;
}

template <typename T, int D>
void mpm_transfer_adjoint(const MPMKernelParams& prm, const TransferInput<T>& in, const TransferBuffers<T>& go,
                          const TransferBuffers<T>& gi, T* gtau, std::vector<std::vector<T>>& g) {
  constexpr int S = kGridValues<D>;
  const int threads = prm.threads;
  const T* G = p2g_and_grid<T, D>(prm, in, g);
  const T dt = static_cast<T>(prm.dt), dx = static_cast<T>(prm.dx);
  const T D_inv = T(4) / (dx * dx);
  const T lo = static_cast<T>(prm.clamp_cells * prm.dx);
  std::int64_t num_nodes = 1;
  for (int a = 0; a < D; ++a) num_nodes *= prm.nodes[a];
  // Adjoint grids: per thread dL/du (D per node), summed into ga[0]; then dL/dq, dL/dm in place.
  // (The caller thread's scratch, bound by reference here: inside the parallel region a
  // thread_local name would denote each OpenMP thread's own, empty, instance.)
  static thread_local std::vector<std::vector<T>> scratch;
  std::vector<std::vector<T>>& ga = scratch;
  if (static_cast<int>(ga.size()) < threads) ga.resize(static_cast<size_t>(threads));
  const std::int64_t asize = num_nodes * (D + 1);

  // ---- G2P adjoint: dL/dF (direct), dL/dx (direct + through the weights), dL/du scattered.
#pragma omp parallel num_threads(threads)
  {
    auto& ag = ga[static_cast<size_t>(omp_get_thread_num())];
    ag.assign(static_cast<size_t>(asize), T(0));
#pragma omp for schedule(static)
    for (std::int64_t p = 0; p < in.n; ++p) {
      const Stencil<T, D> st(in.x + p * D, dx, prm.nodes);
      Vec<T, D> vp;
      Mat<T, D> B;
      gather<T, D>(G, st, vp, B);
      const Mat<T, D> Cp = D_inv * B;
      const Mat<T, D> Fp = load_mat<T, D>(in.F, p), gFt = load_mat<T, D>(go.F, p);
      store_mat<T, D>(gi.F, p, (Mat<T, D>::Identity() + dt * Cp).transpose() * gFt);
      Mat<T, D> gC = dt * gFt * Fp.transpose();
      if (prm.apic) gC += load_mat<T, D>(go.C, p);
      Vec<T, D> gx, gv;
      for (int a = 0; a < D; ++a) {
        const T hi = static_cast<T>(prm.length[static_cast<size_t>(a)] - prm.clamp_cells * prm.dx);
        const T xa = in.x[p * D + a] + dt * vp(a);
        const bool clamped = xa < lo || xa > hi;
        gx(a) = clamped ? T(0) : go.x[p * D + a];
        gv(a) = go.v[p * D + a] + dt * gx(a);
      }
      const Mat<T, D> gB = D_inv * gC;
      for (int k = 0; k < st.K; ++k) {
        const T* u = G + S * st.node[k] + 1 + D;
        Vec<T, D> ui;
        for (int a = 0; a < D; ++a) ui(a) = u[a];
        const Vec<T, D> gu = st.w[k] * (gv + gB * st.dpos[k]);
        T* an = ag.data() + (D + 1) * st.node[k];
        for (int a = 0; a < D; ++a) an[a] += gu(a);
        gx += st.dw[k] * (ui.dot(gv) + ui.dot(gB * st.dpos[k])) - st.w[k] * (gB.transpose() * ui);
      }
      for (int a = 0; a < D; ++a) gi.x[p * D + a] = gx(a);
    }
    sum_thread_grids(ga, asize);
  }
  // ---- grid adjoint: u = M (q/m + dt g)  =>  dL/dq = M dL/du / m,  dL/dm = -sum_a M dL/du_a q_a / m^2.
  T* A = ga[0].data();
#pragma omp parallel for schedule(static) num_threads(threads)
  for (std::int64_t n = 0; n < num_nodes; ++n) {
    const T* node = G + S * n;
    T* an = A + (D + 1) * n;
    const T m = node[0];
    if (!(m > T(0))) {
      for (int a = 0; a <= D; ++a) an[a] = T(0);
      continue;
    }
    T gm = 0;
    for (int a = 0; a < D; ++a) {
      const T gq = node[1 + 2 * D + a] * an[a] / m;
      gm -= gq * node[1 + a] / m;
      an[a] = gq;
    }
    an[D] = gm;
  }
  // ---- P2G adjoint: dL/dv, dL/dC, dL/dtau, and dL/dx through the weights and x_i - x_p.
#pragma omp parallel for schedule(static) num_threads(threads)
  for (std::int64_t p = 0; p < in.n; ++p) {
    const T mp = in.mass[p];
    const Mat<T, D> Ap = (-dt * in.volume[p] * D_inv) * load_mat<T, D>(in.tau, p) + mp * load_mat<T, D>(in.C, p);
    Vec<T, D> mv;
    for (int a = 0; a < D; ++a) mv(a) = mp * in.v[p * D + a];
    const Stencil<T, D> st(in.x + p * D, dx, prm.nodes);
    Vec<T, D> gv = Vec<T, D>::Zero(), gx = Vec<T, D>::Zero();
    Mat<T, D> gA = Mat<T, D>::Zero();
    for (int k = 0; k < st.K; ++k) {
      const T* an = A + (D + 1) * st.node[k];
      Vec<T, D> gq;
      for (int a = 0; a < D; ++a) gq(a) = an[a];
      const T gm = an[D];
      gv += st.w[k] * mp * gq;
      gA += st.w[k] * gq * st.dpos[k].transpose();
      gx += st.dw[k] * (mp * gm + gq.dot(mv + Ap * st.dpos[k])) - st.w[k] * (Ap.transpose() * gq);
    }
    for (int a = 0; a < D; ++a) {
      gi.v[p * D + a] = gv(a);
      gi.x[p * D + a] += gx(a);
    }
    store_mat<T, D>(gi.C, p, mp * gA);
    store_mat<T, D>(gtau, p, (-dt * in.volume[p] * D_inv) * gA);
  }
}

#define PHYSML_MPM_TRANSFER(T, D)                                                                                   \
  template std::int64_t mpm_transfer<T, D>(const MPMKernelParams&, const TransferInput<T>&,                         \
                                           const TransferBuffers<T>&, std::vector<std::vector<T>>&);                \
  template void mpm_transfer_adjoint<T, D>(const MPMKernelParams&, const TransferInput<T>&,                         \
                                           const TransferBuffers<T>&, const TransferBuffers<T>&, T*,                \
                                           std::vector<std::vector<T>>&);
PHYSML_MPM_TRANSFER(double, 2)
PHYSML_MPM_TRANSFER(double, 3)
PHYSML_MPM_TRANSFER(float, 2)
PHYSML_MPM_TRANSFER(float, 3)
#undef PHYSML_MPM_TRANSFER

}  // namespace physml::simulators::detail
