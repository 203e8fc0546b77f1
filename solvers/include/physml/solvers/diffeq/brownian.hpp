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
/// (derived from W = W_l + W_r, H = (H_l + H_r)/2 + (W_l - W_r)/4 for halves of length h/2).
/// The standard normals (Z, A) of element i at node k are a Box–Muller pair of two 64-bit
/// counter-based draws (SplitMix64 of the node seed derive_seed(seed, k) and 2i, 2i + 1), so
/// the path depends only on (seed, node, element), never on which nodes were visited before
/// or in which order. Query times are rounded to the grid of the deepest level.
/// Increments over [s, t] combine the dyadic nodes covering it with
///   W = W_1 + W_2,  H = (a H_1 + b H_2 + (b W_1 - a W_2)/2) / (a + b)  (lengths a, b).
/// The arithmetic runs on raw float64 buffers (one loop per split); tensors are made only for
/// the result.

#include <ATen/core/Tensor.h>
#include <c10/core/TensorOptions.h>

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

namespace physml::solvers::diffeq {

/// Brownian Interval (Kidger et al. 2021): the dyadic Brownian tree with an LRU cache of nodes,
/// exact to the time resolution (t1 - t0) 2^-depth. Queries cost O(depth) splits at worst and
/// O(1) amortised for the nearby queries of a time-stepping solver.
class BrownianInterval {
public:
  /// `shape`: shape of W at one time, e.g. {batch, brownian_channels}. `depth` in [1, 60].
  /// `cache_nodes`: at most this many nodes kept, and at most 16 MiB of them (16 bytes per
  /// element per node); 0 = no cache between queries (a virtual Brownian tree).
  /// `options`: dtype and device of the returned tensors (the path is computed in float64).
  BrownianInterval(double t0, double t1, std::vector<std::int64_t> shape, std::uint64_t seed,
                   c10::TensorOptions options = c10::TensorOptions().dtype(c10::kDouble), int depth = 40,
                   std::size_t cache_nodes = 1 << 16);
  virtual ~BrownianInterval();
  BrownianInterval(const BrownianInterval&) = delete;
  BrownianInterval& operator=(const BrownianInterval&) = delete;

  /// The depth whose grid resolves steps of `dt` on [t0, t1] to dt 2^-extra:
  /// ceil(log2((t1 - t0) / dt)) + extra, clamped to [1, 60]. A solver that knows its step
  /// (or its smallest step) uses it; the rounding of query times to the grid is then at most
  /// dt 2^-(extra + 1).
  static int depth_for_step(double t0, double t1, double dt, int extra = 10);

  /// A path on [t0, t1] whose grid cells are exactly dt 2^-extra long from t0: the tree's root
  /// spans [t0, t0 + dt 2^depth_for_step(t0, t1, dt, extra)] (>= t1; Brownian motion restricted
  /// to [t0, t1] has the same law), so a fixed-step solver's times t0 + k dt are grid points
  /// and each step W(t0 + k dt, t0 + (k+1) dt) is one node: ~1 split per step in sequence.
  /// Falls back to the plain [t0, t1] tree if that depth would exceed 60.
  static std::shared_ptr<BrownianInterval> for_step(double t0, double t1, double dt, std::vector<std::int64_t> shape,
                                                    std::uint64_t seed,
                                                    c10::TensorOptions options = c10::TensorOptions().dtype(c10::kDouble),
                                                    int extra = 0, std::size_t cache_nodes = 1 << 16);

  /// W_t - W_s for t0 <= s <= t <= t1: tensor of `shape`.
  at::Tensor increment(double s, double t);
  /// (W_t - W_s, H_{s,t}): the increment and its space-time Lévy area.
  std::pair<at::Tensor, at::Tensor> increment_levy(double s, double t);
  /// W_t - W_{t0}.
  at::Tensor operator()(double t) { return increment(t0_, t); }

  double t0() const { return t0_; }
  double t1() const { return t1_; }
  const std::vector<std::int64_t>& shape() const { return shape_; }
  int depth() const { return depth_; }
  /// Node splits performed so far (work counter for benchmarks).
  std::int64_t splits() const { return splits_; }

private:
  using Key = std::uint64_t;  // heap index: (1 << level) | index
  // A cached node: W (n_ values) then H (n_ values), and its place in the LRU list.
  struct Slot {
    std::unique_ptr<double[]> data;
    Key key = 0;
    std::int32_t prev = -1, next = -1;
  };
  std::uint64_t to_grid(double t, const char* what) const;
  const double* root();
  // The two children of node `key` with data `parent` (from the cache, or split and cached).
  std::pair<const double*, const double*> children(Key key, int level, const double* parent);
  // Accumulate into (W, H, len) the cover of grid cells [lo, hi) below node (level, index).
  void cover(int level, std::uint64_t index, const double* node, std::uint64_t lo, std::uint64_t hi, double* W,
             double* H, double& len);
  std::int32_t new_slot(Key key);
  void touch(std::int32_t slot);
  void unlink(std::int32_t slot);
  void trim(std::size_t keep);
  void query(double s, double t, double* W, double* H);

  double t0_, t1_;
  double span_;  // length of the root node (>= t1 - t0; see for_step)
  std::vector<std::int64_t> shape_;
  std::int64_t n_ = 1;  // elements of one W
  std::uint64_t seed_;
  c10::TensorOptions options_;
  int depth_;
  std::size_t capacity_;
  std::unordered_map<Key, std::int32_t> index_;  // key -> slot holding that node
  std::vector<Slot> slots_;
  std::vector<std::int32_t> free_;
  std::int32_t head_ = -1, tail_ = -1;  // most / least recently used
  std::vector<double> scratch_;         // accumulators for results that are not float64
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
