#include "physml/mesh/graph.hpp"

#include "physml/core/error.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

namespace physml::mesh {
namespace {

/// Points as a float64 CPU array, wrapped into the periodic box if there is one.
struct PointCloud {
  at::Tensor storage;  // [N, d] float64, contiguous, CPU
  const double* x = nullptr;
  int64_t n = 0;
  int d = 0;
  bool periodic = false;
  double lo[3] = {0, 0, 0};
  double len[3] = {0, 0, 0};

  double dist2(int64_t i, int64_t j) const { return dist2(x + i * d, x + j * d); }
  /// Squared (minimum-image) distance between two coordinate rows.
  double dist2(const double* a, const double* b) const {
    double s = 0;
    for (int k = 0; k < d; ++k) {
      double t = a[k] - b[k];
      if (periodic) {  // both in [lo, lo + L): |t| < L, one shift gives the minimum image
        if (t > 0.5 * len[k])
          t -= len[k];
        else if (t < -0.5 * len[k])
          t += len[k];
      }
      s += t * t;
    }
    return s;
  }
};

PointCloud prepare(const at::Tensor& points, const GraphOptions& options, const char* what) {
  PHYSML_CHECK(points.defined(), what, ": points are undefined");
  PHYSML_CHECK(points.dim() == 2 && points.size(1) >= 1 && points.size(1) <= 3, what,
               ": points must have shape [N, d] with d in 1..3, got ", points.sizes());
  PHYSML_CHECK(points.is_floating_point(), what, ": points must be float32 or float64, got ", points.scalar_type());
  PointCloud c;
  c.n = points.size(0);
  c.d = static_cast<int>(points.size(1));
  c.storage = points.detach().to(torch::kCPU, torch::kDouble).contiguous();
  if (c.n > 0)
    PHYSML_CHECK(torch::isfinite(c.storage).all().item<bool>(), what, ": points contain NaN or Inf");
  c.periodic = options.periodic();
  if (c.periodic) {
    PHYSML_CHECK(static_cast<int>(options.box_lower().size()) == c.d &&
                     static_cast<int>(options.box_upper().size()) == c.d,
                 what, ": the periodic box needs ", c.d, " lower and upper values (the point dimension), got ",
                 options.box_lower().size(), " and ", options.box_upper().size());
    for (int a = 0; a < c.d; ++a) {
      c.lo[a] = options.box_lower()[a];
      c.len[a] = options.box_upper()[a] - options.box_lower()[a];
      PHYSML_CHECK(std::isfinite(c.len[a]) && c.len[a] > 0, what, ": periodic box upper (", options.box_upper()[a],
                   ") must be greater than lower (", c.lo[a], ") on axis ", a);
    }
    if (c.n > 0) {
      auto lo = torch::tensor(std::vector<double>(c.lo, c.lo + c.d), torch::kDouble);
      auto len = torch::tensor(std::vector<double>(c.len, c.len + c.d), torch::kDouble);
      auto rel = c.storage - lo;
      c.storage = (lo + (rel - len * torch::floor(rel / len))).contiguous();
      // Rounding can give exactly L; fold it back to 0.
      c.storage = torch::where(c.storage >= lo + len, lo, c.storage).contiguous();
    }
  } else if (c.n > 0) {
    auto mn = std::get<0>(c.storage.min(0)), mx = std::get<0>(c.storage.max(0));
    for (int a = 0; a < c.d; ++a) {
      c.lo[a] = mn[a].item<double>();
      c.len[a] = mx[a].item<double>() - c.lo[a];
    }
  }
  c.x = c.storage.data_ptr<double>();
  return c;
}

/// Uniform bins over the bounding (or periodic) box, points sorted by bin (counting sort).
struct CellList {
  int d = 0;
  int64_t nb[3] = {1, 1, 1};
  double h[3] = {1, 1, 1};
  std::vector<int64_t> start;  // [ncells + 1]
  std::vector<int64_t> order;  // point indices grouped by cell, ascending within a cell
  std::vector<double> xs;      // coordinates in `order` (contiguous reads in the inner loops)

  int64_t ncells() const { return nb[0] * nb[1] * nb[2]; }
  int64_t flat(const int64_t c[3]) const { return (c[2] * nb[1] + c[1]) * nb[0] + c[0]; }

  /// Bins no smaller than `min_cell` on any axis, at most about `max_cells` of them.
  CellList(const PointCloud& pc, double min_cell, int64_t max_cells) : d(pc.d) {
    double cell = min_cell;
    for (;;) {
      int64_t total = 1;
      for (int a = 0; a < d; ++a) {
        double q = pc.len[a] > 0 ? std::floor(pc.len[a] / cell) : 1.0;
        nb[a] = static_cast<int64_t>(std::clamp(q, 1.0, 1e6));
        total *= nb[a];
      }
      if (total <= max_cells) break;
      cell *= 1.25;
    }
    for (int a = 0; a < d; ++a) h[a] = pc.len[a] > 0 ? pc.len[a] / static_cast<double>(nb[a]) : 1.0;
    std::vector<int64_t> cell_of(pc.n);
    start.assign(ncells() + 1, 0);
    for (int64_t i = 0; i < pc.n; ++i) {
      int64_t c[3] = {0, 0, 0};
      coords(pc, i, c);
      cell_of[i] = flat(c);
      ++start[cell_of[i] + 1];
    }
    for (int64_t c = 0; c < ncells(); ++c) start[c + 1] += start[c];
    order.resize(pc.n);
    std::vector<int64_t> fill(start.begin(), start.end() - 1);
    for (int64_t i = 0; i < pc.n; ++i) order[fill[cell_of[i]]++] = i;
    xs.resize(pc.n * d);
    for (int64_t p = 0; p < pc.n; ++p)
      for (int a = 0; a < d; ++a) xs[p * d + a] = pc.x[order[p] * d + a];
  }

  void coords(const PointCloud& pc, int64_t i, int64_t c[3]) const {
    for (int a = 0; a < d; ++a) {
      double q = std::floor((pc.x[i * d + a] - pc.lo[a]) / h[a]);
      c[a] = static_cast<int64_t>(std::clamp(q, 0.0, static_cast<double>(nb[a] - 1)));
    }
  }
};

at::Tensor pack(const std::vector<int64_t>& src, const std::vector<int64_t>& dst, c10::Device device) {
  const auto e = static_cast<int64_t>(src.size());
  auto out = torch::empty({2, e}, torch::kLong);
  if (e > 0) {
    std::memcpy(out.data_ptr<int64_t>(), src.data(), sizeof(int64_t) * e);
    std::memcpy(out.data_ptr<int64_t>() + e, dst.data(), sizeof(int64_t) * e);
  }
  return out.to(device);
}

}  // namespace

at::Tensor radius_graph(const at::Tensor& points, double r, const GraphOptions& options) {
  PHYSML_CHECK(std::isfinite(r) && r > 0, "radius_graph: radius r must be positive and finite, got ", r);
  PointCloud pc = prepare(points, options, "radius_graph");
  if (pc.periodic)
    for (int a = 0; a < pc.d; ++a)
      PHYSML_CHECK(2 * r < pc.len[a], "radius_graph: with a periodic box r must be below half the box length (r = ",
                   r, ", box length ", pc.len[a], " on axis ", a, ")");
  std::vector<int64_t> src, dst;
  if (pc.n == 0) return pack(src, dst, points.device());
  CellList cl(pc, r, 2 * pc.n + 64);
  const double r2 = r * r;
  std::vector<int64_t> nbrs;
  std::vector<int64_t> axis_cells[3];
  for (int64_t i = 0; i < pc.n; ++i) {
    int64_t c[3] = {0, 0, 0};
    cl.coords(pc, i, c);
    const double* xi = pc.x + i * pc.d;
    for (int a = 0; a < 3; ++a) {
      auto& list = axis_cells[a];
      list.clear();
      if (a >= pc.d) {
        list.push_back(0);
      } else if (pc.periodic && cl.nb[a] < 3) {  // neighbours would wrap onto each other
        for (int64_t k = 0; k < cl.nb[a]; ++k) list.push_back(k);
      } else {
        for (int64_t k = c[a] - 1; k <= c[a] + 1; ++k) {
          if (pc.periodic)
            list.push_back((k + cl.nb[a]) % cl.nb[a]);
          else if (k >= 0 && k < cl.nb[a])
            list.push_back(k);
        }
      }
    }
    nbrs.clear();
    for (int64_t cz : axis_cells[2])
      for (int64_t cy : axis_cells[1])
        for (int64_t cx : axis_cells[0]) {
          const int64_t cc[3] = {cx, cy, cz};
          const int64_t f = cl.flat(cc);
          for (int64_t p = cl.start[f]; p < cl.start[f + 1]; ++p) {
            const int64_t j = cl.order[p];
            if (j == i && !options.loop()) continue;
            if (pc.dist2(xi, &cl.xs[p * pc.d]) <= r2) nbrs.push_back(j);
          }
        }
    std::sort(nbrs.begin(), nbrs.end());
    for (int64_t j : nbrs) {
      src.push_back(j);
      dst.push_back(i);
    }
  }
  return pack(src, dst, points.device());
}

at::Tensor knn_graph(const at::Tensor& points, int64_t k, const GraphOptions& options) {
  PHYSML_CHECK(k >= 0, "knn_graph: k must be >= 0, got ", k);
  PointCloud pc = prepare(points, options, "knn_graph");
  const int64_t available = options.loop() ? pc.n : pc.n - 1;
  PHYSML_CHECK(pc.n == 0 || k <= available, "knn_graph: k = ", k, " but each point has only ", available,
               options.loop() ? " candidates (N, loop on)" : " other points (N - 1)");
  std::vector<int64_t> src, dst;
  if (pc.n == 0 || k == 0) return pack(src, dst, points.device());
  src.reserve(pc.n * k);
  dst.reserve(pc.n * k);

  // Bins holding about max(k, 4) points each on average.
  double volume = 1.0;
  int nondegenerate = 0;
  for (int a = 0; a < pc.d; ++a)
    if (pc.len[a] > 0) {
      volume *= pc.len[a];
      ++nondegenerate;
    }
  const double target_cells = std::max(1.0, static_cast<double>(pc.n) / static_cast<double>(std::max<int64_t>(k, 4)));
  const double cell = nondegenerate ? std::pow(volume / target_cells, 1.0 / nondegenerate) : 1.0;
  CellList cl(pc, cell, 2 * pc.n + 64);
  double hmin = std::numeric_limits<double>::infinity();
  int64_t max_ring = 0;
  for (int a = 0; a < pc.d; ++a) {
    if (cl.nb[a] > 1) hmin = std::min(hmin, cl.h[a]);
    max_ring = std::max(max_ring, cl.nb[a]);
  }

  std::vector<int64_t> stamp(cl.ncells(), -1);
  std::vector<std::pair<double, int64_t>> cand;
  std::vector<int64_t> chosen;
  for (int64_t i = 0; i < pc.n; ++i) {
    int64_t c[3] = {0, 0, 0};
    cl.coords(pc, i, c);
    const double* xi = pc.x + i * pc.d;
    cand.clear();
    for (int64_t s = 0;; ++s) {
      // Visit every cell at Chebyshev offset exactly s from c.
      const int64_t sz = pc.d > 2 ? s : 0, sy = pc.d > 1 ? s : 0;
      for (int64_t oz = -sz; oz <= sz; ++oz)
        for (int64_t oy = -sy; oy <= sy; ++oy)
          for (int64_t ox = -s; ox <= s; ++ox) {
            if (std::max({std::abs(ox), std::abs(oy), std::abs(oz)}) != s) continue;
            const int64_t off[3] = {ox, oy, oz};
            int64_t cc[3] = {0, 0, 0};
            bool inside = true;
            for (int a = 0; a < pc.d; ++a) {
              int64_t q = c[a] + off[a];
              if (pc.periodic)
                q = ((q % cl.nb[a]) + cl.nb[a]) % cl.nb[a];
              else if (q < 0 || q >= cl.nb[a])
                inside = false;
              cc[a] = q;
            }
            if (!inside) continue;
            const int64_t f = cl.flat(cc);
            if (stamp[f] == i) continue;  // periodic wrap reached this cell already
            stamp[f] = i;
            for (int64_t p = cl.start[f]; p < cl.start[f + 1]; ++p) {
              const int64_t j = cl.order[p];
              if (j == i && !options.loop()) continue;
              cand.emplace_back(pc.dist2(xi, &cl.xs[p * pc.d]), j);
            }
          }
      if (s >= max_ring) break;  // every cell visited
      if (static_cast<int64_t>(cand.size()) >= k) {
        std::nth_element(cand.begin(), cand.begin() + (k - 1), cand.end());
        // Points in cells not yet visited are at least s * hmin away.
        const double bound = static_cast<double>(s) * hmin;
        if (cand[k - 1].first < bound * bound) break;
      }
    }
    std::partial_sort(cand.begin(), cand.begin() + k, cand.end());
    chosen.clear();
    for (int64_t q = 0; q < k; ++q) chosen.push_back(cand[q].second);
    std::sort(chosen.begin(), chosen.end());
    for (int64_t j : chosen) {
      src.push_back(j);
      dst.push_back(i);
    }
  }
  return pack(src, dst, points.device());
}

}  // namespace physml::mesh
