#pragma once
/// \file graph.hpp
/// Neighbour graphs over point sets (radius and k-nearest-neighbour) built with a cell list.
///
/// Edges are returned as an edge-index tensor int64 [2, E]: row 0 holds the source
/// (neighbour) j, row 1 the target (centre) i, sorted by target and then by source, so the
/// result is deterministic and ready for message passing:
///   `agg.index_add_(0, edge_index[1], messages(x.index_select(0, edge_index[0])))`.

#include <ATen/core/Tensor.h>
#include <torch/arg.h>

#include <cstdint>
#include <vector>

namespace physml::mesh {

/// Options of radius_graph and knn_graph.
struct GraphOptions {
  /// Include the self-loop i -> i for every point (GNS / GIOROM use loop=True).
  TORCH_ARG(bool, loop) = false;
  /// Lower corner of a periodic box (empty = no periodicity). With a box, distances are
  /// minimum-image distances and points outside the box are wrapped into it.
  TORCH_ARG(std::vector<double>, box_lower) = {};
  /// Upper corner of the periodic box (same length as box_lower = the point dimension).
  TORCH_ARG(std::vector<double>, box_upper) = {};

public:
  /// Periodic box [lower, upper] on every axis.
  GraphOptions& periodic_box(std::vector<double> lower, std::vector<double> upper) {
    box_lower_ = std::move(lower);
    box_upper_ = std::move(upper);
    return *this;
  }
  bool periodic() const { return !box_lower_.empty() || !box_upper_.empty(); }
};

/// All pairs (j -> i), i != j, with |x_i - x_j| <= r (plus i -> i if options.loop()).
/// `points` [N, d], d in 1..3, float32/float64 on any device (distances are computed in
/// float64 on the CPU). Uniform bins of size >= r: expected O(N + E) time for points of
/// bounded density. With a periodic box, r must be below half of every box length.
/// Returns int64 [2, E] on the device of `points`, sorted by target then source.
at::Tensor radius_graph(const at::Tensor& points, double r, const GraphOptions& options = {});

/// For every point i the k nearest other points j (edges j -> i; i itself counts as one of
/// the k when options.loop()); ties in distance are broken by the smaller index.
/// Cell list with ring-by-ring search: expected O(N k log k) time.
/// Returns int64 [2, N k] on the device of `points`, sorted by target then source.
at::Tensor knn_graph(const at::Tensor& points, int64_t k, const GraphOptions& options = {});

}  // namespace physml::mesh
