#pragma once
/// \file brownian.hpp
/// Brownian motion W on [t0, t1] that can be queried at any times, in any order, and always
/// returns the same path for the same seed, with space-time Lévy area
/// H_{s,t} = (1/(t-s)) ∫_s^t (W_r - W_s - (r-s)/(t-s) W_{s,t}) dr.
///
/// The path is defined on the dyadic tree of [t0, t1]: the root holds (W, H) of the whole
/// interval, each node is split at its midpoint by the exact Gaussian conditional law
///   W_left  = W/2 + 3H/2 + Z,  W_right = W/2 - 3H/2 - Z,
///   H_left  = H/4 - Z/2 + A,   H_right = H/4 - Z/2 - A,  Z ~ N(0, h/16), A ~ N(0, h/48)
/// (derived from W = W_l + W_r, H = (H_l + H_r)/2 + (W_l - W_r)/4 for halves of length h/2),
/// with a random stream seeded from (seed, node), so that the path does not depend on which
/// nodes were visited before. Query times are rounded to the grid of the deepest level.
/// Increments over [s, t] combine the dyadic nodes covering it with
///   W = W_1 + W_2,  H = (a H_1 + b H_2 + (b W_1 - a W_2)/2) / (a + b)  (lengths a, b).

#include <ATen/core/Tensor.h>
#include <c10/core/TensorOptions.h>

#include <cstdint>
#include <list>
#include <unordered_map>
#include <utility>
#include <vector>

namespace physml::solvers::diffeq {

/// Brownian Interval (Kidger et al. 2021): the dyadic Brownian tree with an LRU cache of nodes,
/// exact to the time resolution (t1 - t0) 2^-depth. Queries cost O(depth) splits at worst and
/// O(1) amortised for the nearby queries of a time-stepping solver.
class BrownianInterval {
public:
  /// `shape`: shape of W at one time, e.g. {batch, brownian_channels}. `depth` <= 60.
  /// `cache_nodes`: at most this many nodes kept (0 = no cache: a virtual Brownian tree).
  BrownianInterval(double t0, double t1, std::vector<std::int64_t> shape, std::uint64_t seed,
                   c10::TensorOptions options = c10::TensorOptions().dtype(c10::kDouble), int depth = 40,
                   std::size_t cache_nodes = 1 << 16);
  virtual ~BrownianInterval() = default;

  /// W_t - W_s for t0 <= s <= t <= t1: tensor of `shape`.
  at::Tensor increment(double s, double t);
  /// (W_t - W_s, H_{s,t}): the increment and its space-time Lévy area.
  std::pair<at::Tensor, at::Tensor> increment_levy(double s, double t);
  /// W_t - W_{t0}.
  at::Tensor operator()(double t) { return increment(t0_, t); }

  double t0() const { return t0_; }
  double t1() const { return t1_; }
  const std::vector<std::int64_t>& shape() const { return shape_; }
  /// Node splits performed so far (work counter for benchmarks).
  std::int64_t splits() const { return splits_; }

private:
  struct Node {
    at::Tensor W, H;
  };
  using Key = std::uint64_t;  // heap index: (1 << level) | index
  Node node(int level, std::uint64_t index);
  void remember(Key key, const Node& n);
  std::uint64_t to_grid(double t, const char* what) const;
  // (W, H, length) of the cover of grid cells [lo, hi) below node (level, index).
  void cover(int level, std::uint64_t index, std::uint64_t lo, std::uint64_t hi, at::Tensor& W, at::Tensor& H,
             double& len);

  double t0_, t1_;
  std::vector<std::int64_t> shape_;
  std::uint64_t seed_;
  c10::TensorOptions options_;
  int depth_;
  std::size_t capacity_;
  std::unordered_map<Key, std::pair<Node, std::list<Key>::iterator>> cache_;
  std::list<Key> lru_;
  std::int64_t splits_ = 0;
};

/// Virtual Brownian tree (Li et al. 2020; Jelinčič, Foster & Kidger 2024): the same dyadic
/// tree with no memory, recomputed from the root at every query, resolved to `tol` in time.
class VirtualBrownianTree : public BrownianInterval {
public:
  VirtualBrownianTree(double t0, double t1, std::vector<std::int64_t> shape, std::uint64_t seed, double tol = 1e-6,
                      c10::TensorOptions options = c10::TensorOptions().dtype(c10::kDouble));
};

}  // namespace physml::solvers::diffeq
