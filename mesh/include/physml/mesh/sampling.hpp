#pragma once
/// \file sampling.hpp
/// Sparse point sets and connected neighbour graphs for reduced-order particle models
/// (GIOROM, Viswanath et al., samples ~1k of ~100k particles): uniform random and
/// farthest-point subsets, connected components, and a radius graph whose radius is enlarged
/// until the sparse graph is one component.
#include "physml/mesh/graph.hpp"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <limits>

namespace physml::mesh {

/// `k` distinct indices of [0, n) drawn uniformly without replacement, a function of `seed`
/// alone (SplitMix64 words and a partial Fisher–Yates shuffle, the same on every platform);
/// sorted ascending, int64 [k]. Throws physml::Error unless 0 <= k <= n.
at::Tensor random_sample(std::int64_t n, std::int64_t k, std::uint64_t seed);

/// Farthest-point sampling of `points` [N, d]: starts at index `first`, then repeatedly adds
/// the point whose Euclidean distance to the chosen set is largest (ties: the smaller index).
/// Returns int64 [k] in selection order, on the device of `points`; O(N k) (float64 on the CPU).
at::Tensor farthest_point_sample(const at::Tensor& points, std::int64_t k, std::int64_t first = 0);

/// Connected components of the undirected graph on `n` nodes with edges `edge_index` [2, E]
/// (either direction counts). labels[i] in [0, count) numbers the components in the order of
/// their smallest node.
struct Components {
  at::Tensor labels;  ///< int64 [n]
  std::int64_t count = 0;
};
Components connected_components(const at::Tensor& edge_index, std::int64_t n);

/// A radius graph that is one connected component.
struct ConnectedGraph {
  at::Tensor edge_index;         ///< int64 [2, E], as radius_graph returns it
  double radius = 0;             ///< the radius that made the graph connected
  std::int64_t enlargements = 0; ///< how often the starting radius was multiplied by `growth`
};

/// radius_graph(points, r) with r multiplied by `growth` (> 1) until the graph is connected.
/// Throws physml::Error naming the number of components (and isolated points) if r would exceed
/// `max_radius`, or for an empty point set, a non-positive r or growth <= 1.
ConnectedGraph connected_radius_graph(const at::Tensor& points, double r, const GraphOptions& options = {},
                                      double growth = 1.25,
                                      double max_radius = std::numeric_limits<double>::infinity());

}  // namespace physml::mesh
