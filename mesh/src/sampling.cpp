#include "physml/mesh/sampling.hpp"

#include "physml/core/error.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace physml::mesh {
namespace {

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// Uniform integer in [0, bound) by rejection (no modulo bias).
std::uint64_t below(std::uint64_t bound, std::uint64_t& state) {
  const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % bound;
  std::uint64_t w;
  do w = splitmix64(state);
  while (w >= limit);
  return w % bound;
}

std::int64_t find(std::vector<std::int64_t>& parent, std::int64_t i) {
  while (parent[static_cast<size_t>(i)] != i) {
    auto& p = parent[static_cast<size_t>(i)];
    p = parent[static_cast<size_t>(p)];  // path halving
    i = p;
  }
  return i;
}

}  // namespace

at::Tensor random_sample(std::int64_t n, std::int64_t k, std::uint64_t seed) {
  PHYSML_CHECK(n >= 0 && k >= 0 && k <= n, "random_sample: cannot draw ", k, " distinct indices from ", n,
               " points; expected 0 <= k <= n");
  std::vector<std::int64_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), std::int64_t{0});
  std::uint64_t state = seed;
  for (std::int64_t i = 0; i < k; ++i) {
    const auto j = i + static_cast<std::int64_t>(below(static_cast<std::uint64_t>(n - i), state));
    std::swap(idx[static_cast<size_t>(i)], idx[static_cast<size_t>(j)]);
  }
  idx.resize(static_cast<size_t>(k));
  std::sort(idx.begin(), idx.end());
  return torch::tensor(idx, torch::kLong);
}

at::Tensor farthest_point_sample(const at::Tensor& points, std::int64_t k, std::int64_t first) {
  PHYSML_CHECK(points.defined() && points.dim() == 2, "farthest_point_sample: expected points [N, d], got ",
               points.defined() ? c10::str(points.sizes()) : std::string("undefined"));
  const std::int64_t n = points.size(0), d = points.size(1);
  PHYSML_CHECK(k >= 0 && k <= n, "farthest_point_sample: cannot choose ", k, " of ", n, " points");
  PHYSML_CHECK(n == 0 || (first >= 0 && first < n), "farthest_point_sample: first index ", first, " is outside [0, ", n, ")");
  const auto x = points.detach().to(torch::kCPU, torch::kDouble).contiguous();
  PHYSML_CHECK(torch::isfinite(x).all().item<bool>(), "farthest_point_sample: the points contain NaN or Inf");
  const double* p = x.data_ptr<double>();
  std::vector<double> dist(static_cast<size_t>(n), std::numeric_limits<double>::infinity());
  std::vector<std::int64_t> chosen;
  chosen.reserve(static_cast<size_t>(k));
  std::int64_t next = first;
  for (std::int64_t s = 0; s < k; ++s) {
    chosen.push_back(next);
    const double* c = p + next * d;
    std::int64_t best = -1;
    double best_d = -1;
    for (std::int64_t i = 0; i < n; ++i) {
      double r2 = 0;
      for (std::int64_t a = 0; a < d; ++a) {
        const double t = p[i * d + a] - c[a];
        r2 += t * t;
      }
      auto& di = dist[static_cast<size_t>(i)];
      di = std::min(di, r2);
      if (di > best_d) best_d = di, best = i;  // strict: ties keep the smaller index
    }
    next = best;
  }
  return torch::tensor(chosen, torch::kLong).to(points.device());
}

Components connected_components(const at::Tensor& edge_index, std::int64_t n) {
  PHYSML_CHECK(n >= 0, "connected_components: negative node count ", n);
  PHYSML_CHECK(edge_index.defined() && edge_index.dim() == 2 && edge_index.size(0) == 2,
               "connected_components: expected edge_index [2, E], got ",
               edge_index.defined() ? c10::str(edge_index.sizes()) : std::string("undefined"));
  const auto e = edge_index.to(torch::kCPU, torch::kLong).contiguous();
  const std::int64_t E = e.size(1);
  const std::int64_t* src = e.data_ptr<std::int64_t>();
  const std::int64_t* dst = src + E;
  std::vector<std::int64_t> parent(static_cast<size_t>(n));
  std::iota(parent.begin(), parent.end(), std::int64_t{0});
  for (std::int64_t k = 0; k < E; ++k) {
    PHYSML_CHECK(src[k] >= 0 && src[k] < n && dst[k] >= 0 && dst[k] < n, "connected_components: edge ", k, " (",
                 src[k], " -> ", dst[k], ") names a node outside [0, ", n, ")");
    const auto a = find(parent, src[k]), b = find(parent, dst[k]);
    if (a != b) parent[static_cast<size_t>(std::max(a, b))] = std::min(a, b);  // root = smallest node
  }
  Components c;
  c.labels = torch::empty({n}, torch::kLong);
  auto* lab = c.labels.data_ptr<std::int64_t>();
  std::vector<std::int64_t> id(static_cast<size_t>(n), -1);
  for (std::int64_t i = 0; i < n; ++i) {
    const auto r = find(parent, i);
    if (id[static_cast<size_t>(r)] < 0) id[static_cast<size_t>(r)] = c.count++;
    lab[i] = id[static_cast<size_t>(r)];
  }
  return c;
}

ConnectedGraph connected_radius_graph(const at::Tensor& points, double r, const GraphOptions& options, double growth,
                                      double max_radius) {
  PHYSML_CHECK(points.defined() && points.dim() == 2 && points.size(0) > 0,
               "connected_radius_graph: expected a non-empty point set [N, d]");
  PHYSML_CHECK(r > 0 && std::isfinite(r), "connected_radius_graph: radius ", r, " must be positive");
  PHYSML_CHECK(growth > 1 && std::isfinite(growth), "connected_radius_graph: growth ", growth, " must be > 1");
  const std::int64_t n = points.size(0);
  ConnectedGraph g;
  for (g.radius = r;; g.radius *= growth, ++g.enlargements) {
    if (g.radius > max_radius) {
      const auto e = radius_graph(points, max_radius, options);
      const auto c = connected_components(e, n);
      const auto degree = torch::bincount(e[1].to(torch::kCPU), {}, n);
      const auto isolated = (degree - (options.loop() ? 1 : 0)).eq(0).sum().item<std::int64_t>();
      PHYSML_THROW("connected_radius_graph: ", n, " points are still in ", c.count, " components (", isolated,
                  " isolated) at the largest radius ", max_radius, " (started at ", r,
                  "); sample more points or allow a larger radius");
    }
    g.edge_index = radius_graph(points, g.radius, options);
    if (connected_components(g.edge_index, n).count == 1) return g;
  }
}

}  // namespace physml::mesh
