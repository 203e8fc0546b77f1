// Brownian Interval and virtual Brownian tree on a dyadic tree with exact midpoint splits.
#include "physml/solvers/diffeq/brownian.hpp"

#include "physml/core/error.hpp"
#include "physml/core/random.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>

namespace physml::solvers::diffeq {

BrownianInterval::BrownianInterval(double t0, double t1, std::vector<std::int64_t> shape, std::uint64_t seed,
                                   c10::TensorOptions options, int depth, std::size_t cache_nodes)
    : t0_(t0), t1_(t1), shape_(std::move(shape)), seed_(seed), options_(options), depth_(depth),
      capacity_(cache_nodes) {
  PHYSML_CHECK(std::isfinite(t0) && std::isfinite(t1) && t1 > t0, "BrownianInterval: need t0 < t1, got [", t0,
               ", ", t1, "]");
  PHYSML_CHECK(depth >= 1 && depth <= 60, "BrownianInterval: depth must be in [1, 60], got ", depth);
  PHYSML_CHECK(!shape_.empty(), "BrownianInterval: empty shape");
}

VirtualBrownianTree::VirtualBrownianTree(double t0, double t1, std::vector<std::int64_t> shape, std::uint64_t seed,
                                         double tol, c10::TensorOptions options)
    : BrownianInterval(t0, t1, std::move(shape), seed, options,
                       std::clamp(static_cast<int>(std::ceil(std::log2((t1 - t0) / tol))), 1, 60), 0) {
  PHYSML_CHECK(tol > 0, "VirtualBrownianTree: tol must be positive, got ", tol);
}

void BrownianInterval::remember(Key key, const Node& n) {
  if (capacity_ == 0) return;
  auto it = cache_.find(key);
  if (it != cache_.end()) {
    lru_.erase(it->second.second);
    cache_.erase(it);
  }
  lru_.push_front(key);
  cache_[key] = {n, lru_.begin()};
  while (cache_.size() > capacity_) {
    cache_.erase(lru_.back());
    lru_.pop_back();
  }
}

BrownianInterval::Node BrownianInterval::node(int level, std::uint64_t index) {
  const Key key = (Key(1) << level) | index;
  auto it = cache_.find(key);
  if (it != cache_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.second);
    return it->second.first;
  }
  Node n;
  const double L = t1_ - t0_;
  if (level == 0) {
    // Stream 0 is the root's; node k (heap index >= 1) splits with stream k.
    auto gen = at::make_generator<at::CPUGeneratorImpl>(derive_seed(seed_, 0));
    auto cpu = torch::TensorOptions().dtype(options_.dtype());
    n.W = (torch::randn(shape_, gen, cpu) * std::sqrt(L)).to(options_.device());
    n.H = (torch::randn(shape_, gen, cpu) * std::sqrt(L / 12)).to(options_.device());
  } else {
    const Node p = node(level - 1, index >> 1);
    const double h = L / static_cast<double>(Key(1) << (level - 1));  // parent length
    auto gen = at::make_generator<at::CPUGeneratorImpl>(derive_seed(seed_, (Key(1) << (level - 1)) | (index >> 1)));
    auto cpu = torch::TensorOptions().dtype(options_.dtype());
    auto Z = (torch::randn(shape_, gen, cpu) * std::sqrt(h / 16)).to(options_.device());
    auto A = (torch::randn(shape_, gen, cpu) * std::sqrt(h / 48)).to(options_.device());
    ++splits_;
    Node left{0.5 * p.W + 1.5 * p.H + Z, 0.25 * p.H - 0.5 * Z + A};
    Node right{p.W - left.W, 0.25 * p.H - 0.5 * Z - A};
    const Key lk = (Key(1) << level) | (index & ~Key(1)), rk = lk | Key(1);
    remember(lk, left);
    remember(rk, right);
    n = (index & 1) ? right : left;
    return n;
  }
  remember(key, n);
  return n;
}

std::uint64_t BrownianInterval::to_grid(double t, const char* what) const {
  PHYSML_CHECK(std::isfinite(t) && t >= t0_ - 1e-12 * (t1_ - t0_) && t <= t1_ + 1e-12 * (t1_ - t0_),
               "BrownianInterval: ", what, " = ", t, " outside [", t0_, ", ", t1_, "]");
  const double cells = std::ldexp(1.0, depth_);
  double x = std::round((t - t0_) / (t1_ - t0_) * cells);
  x = std::clamp(x, 0.0, cells);
  return static_cast<std::uint64_t>(x);
}

void BrownianInterval::cover(int level, std::uint64_t index, std::uint64_t lo, std::uint64_t hi, at::Tensor& W,
                             at::Tensor& H, double& len) {
  const int below = depth_ - level;
  const std::uint64_t a = index << below, b = (index + 1) << below;
  if (hi <= a || lo >= b) return;
  if (lo <= a && b <= hi) {
    Node n = node(level, index);
    const double l = (t1_ - t0_) / static_cast<double>(Key(1) << level);
    if (!W.defined()) {
      W = n.W;
      H = n.H;
      len = l;
    } else {  // concatenate [.. len) with [.. l)
      auto Hn = (len * H + l * n.H + 0.5 * (l * W - len * n.W)) / (len + l);
      W = W + n.W;
      H = Hn;
      len += l;
    }
    return;
  }
  cover(level + 1, 2 * index, lo, hi, W, H, len);
  cover(level + 1, 2 * index + 1, lo, hi, W, H, len);
}

std::pair<at::Tensor, at::Tensor> BrownianInterval::increment_levy(double s, double t) {
  PHYSML_CHECK(s <= t, "BrownianInterval: need s <= t, got s = ", s, ", t = ", t);
  const auto lo = to_grid(s, "s"), hi = to_grid(t, "t");
  if (lo == hi) {
    auto z = torch::zeros(shape_, options_);
    return {z, z.clone()};
  }
  at::Tensor W, H;
  double len = 0;
  cover(0, 0, lo, hi, W, H, len);
  return {W, H};
}

at::Tensor BrownianInterval::increment(double s, double t) { return increment_levy(s, t).first; }

}  // namespace physml::solvers::diffeq
