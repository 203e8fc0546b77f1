// Brownian Interval and virtual Brownian tree on a dyadic tree with exact midpoint splits,
// computed on raw float64 buffers with counter-based Gaussian draws.
#include "physml/solvers/diffeq/brownian.hpp"

#include "physml/core/error.hpp"
#include "physml/core/random.hpp"

#include "brownian_kernels.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace physml::solvers::diffeq {

namespace {

constexpr std::size_t kCacheBytes = std::size_t(16) << 20;

}  // namespace

BrownianInterval::BrownianInterval(double t0, double t1, std::vector<std::int64_t> shape, std::uint64_t seed,
                                   c10::TensorOptions options, int depth, std::size_t cache_nodes)
    : t0_(t0), t1_(t1), span_(t1 - t0), shape_(std::move(shape)), seed_(seed), options_(options), depth_(depth) {
  PHYSML_CHECK(std::isfinite(t0) && std::isfinite(t1) && t1 > t0, "BrownianInterval: need t0 < t1, got [", t0,
               ", ", t1, "]");
  PHYSML_CHECK(depth >= 1 && depth <= 60, "BrownianInterval: depth must be in [1, 60], got ", depth);
  PHYSML_CHECK(!shape_.empty(), "BrownianInterval: empty shape");
  for (auto s : shape_) {
    PHYSML_CHECK(s >= 1, "BrownianInterval: shape entries must be >= 1, got ", s);
    n_ *= s;
  }
  // A query needs at most ~2 depth nodes alive at once; they are kept until it returns, so
  // any capacity >= 0 is safe. The byte cap keeps a big [batch, channels] path bounded.
  const std::size_t by_bytes = std::max<std::size_t>(4, kCacheBytes / (16 * static_cast<std::size_t>(n_)));
  capacity_ = std::min(cache_nodes, by_bytes);
}

BrownianInterval::~BrownianInterval() = default;

VirtualBrownianTree::VirtualBrownianTree(double t0, double t1, std::vector<std::int64_t> shape, std::uint64_t seed,
                                         double tol, c10::TensorOptions options)
    : BrownianInterval(t0, t1, std::move(shape), seed, options,
                       std::clamp(static_cast<int>(std::ceil(std::log2((t1 - t0) / tol))), 1, 60), 0) {
  PHYSML_CHECK(tol > 0, "VirtualBrownianTree: tol must be positive, got ", tol);
}

int BrownianInterval::depth_for_step(double t0, double t1, double dt, int extra) {
  PHYSML_CHECK(dt > 0 && std::isfinite(dt), "BrownianInterval::depth_for_step: dt must be positive, got ", dt);
  PHYSML_CHECK(t1 > t0, "BrownianInterval::depth_for_step: need t0 < t1, got [", t0, ", ", t1, "]");
  const double levels = std::ceil(std::log2((t1 - t0) / dt));
  return std::clamp(static_cast<int>(std::max(levels, 0.0)) + extra, 1, 60);
}

std::shared_ptr<BrownianInterval> BrownianInterval::for_step(double t0, double t1, double dt,
                                                             std::vector<std::int64_t> shape, std::uint64_t seed,
                                                             c10::TensorOptions options, int extra,
                                                             std::size_t cache_nodes) {
  PHYSML_CHECK(extra >= 0, "BrownianInterval::for_step: extra must be >= 0, got ", extra);
  const int depth = depth_for_step(t0, t1, dt, extra);
  auto bm = std::make_shared<BrownianInterval>(t0, t1, std::move(shape), seed, options, depth, cache_nodes);
  const double span = std::ldexp(dt, depth - extra);
  if (depth - extra >= 0 && span >= t1 - t0 && std::isfinite(span)) bm->span_ = span;
  return bm;
}

// ---- LRU cache of nodes (slots with stable buffers; evictions only between queries) ----

void BrownianInterval::unlink(std::int32_t s) {
  Slot& x = slots_[s];
  if (x.prev >= 0) slots_[x.prev].next = x.next;
  else head_ = x.next;
  if (x.next >= 0) slots_[x.next].prev = x.prev;
  else tail_ = x.prev;
  x.prev = x.next = -1;
}

void BrownianInterval::touch(std::int32_t s) {
  if (head_ == s) return;
  unlink(s);
  slots_[s].next = head_;
  if (head_ >= 0) slots_[head_].prev = s;
  head_ = s;
  if (tail_ < 0) tail_ = s;
}

std::int32_t BrownianInterval::new_slot(Key key) {
  std::int32_t s;
  if (!free_.empty()) {
    s = free_.back();
    free_.pop_back();
  } else {
    s = static_cast<std::int32_t>(slots_.size());
    slots_.emplace_back();
    slots_.back().data.reset(new double[2 * static_cast<std::size_t>(n_)]);
  }
  slots_[s].key = key;
  slots_[s].prev = -1;
  slots_[s].next = head_;
  if (head_ >= 0) slots_[head_].prev = s;
  head_ = s;
  if (tail_ < 0) tail_ = s;
  index_[key] = s;
  return s;
}

void BrownianInterval::trim(std::size_t keep) {
  while (index_.size() > keep && tail_ >= 0) {
    const std::int32_t s = tail_;
    unlink(s);
    index_.erase(slots_[s].key);
    free_.push_back(s);
  }
}

const double* BrownianInterval::root() {
  const Key key = 1;
  if (auto it = index_.find(key); it != index_.end()) {
    touch(it->second);
    return slots_[it->second].data.get();
  }
  double* d = slots_[new_slot(key)].data.get();
  // Stream 0 is the root's; node k (heap index >= 1) splits with stream k.
  internal::brownian_root(d, d + n_, n_, derive_seed(seed_, 0), span_);
  return d;
}

std::pair<const double*, const double*> BrownianInterval::children(Key key, int level, const double* parent) {
  const Key lk = 2 * key, rk = lk + 1;
  // Slot numbers, not iterators: inserting into index_ may rehash it.
  const auto find = [this](Key k) {
    auto it = index_.find(k);
    return it == index_.end() ? std::int32_t(-1) : it->second;
  };
  std::int32_t ls = find(lk), rs = find(rk);
  if (ls >= 0 && rs >= 0) {
    touch(ls);
    touch(rs);
    return {slots_[ls].data.get(), slots_[rs].data.get()};
  }
  // Both halves come from one split; one of them may still be cached (it is recomputed
  // identically, since the draws depend only on (seed, node, element)).
  if (ls >= 0) touch(ls);
  else ls = new_slot(lk);
  if (rs >= 0) touch(rs);
  else rs = new_slot(rk);
  double* l = slots_[ls].data.get();
  double* r = slots_[rs].data.get();
  const double h = span_ / static_cast<double>(Key(1) << level);  // parent length
  internal::brownian_split(parent, parent + n_, l, l + n_, r, r + n_, n_, derive_seed(seed_, key), h);
  ++splits_;
  return {l, r};
}

std::uint64_t BrownianInterval::to_grid(double t, const char* what) const {
  PHYSML_CHECK(std::isfinite(t) && t >= t0_ - 1e-12 * (t1_ - t0_) && t <= t1_ + 1e-12 * (t1_ - t0_),
               "BrownianInterval: ", what, " = ", t, " outside [", t0_, ", ", t1_, "]");
  const double cells = std::ldexp(1.0, depth_);
  double x = std::round((t - t0_) / span_ * cells);
  x = std::clamp(x, 0.0, cells);
  return static_cast<std::uint64_t>(x);
}

void BrownianInterval::cover(int level, std::uint64_t index, const double* node, std::uint64_t lo, std::uint64_t hi,
                             double* W, double* H, double& len) {
  const int below = depth_ - level;
  const std::uint64_t a = index << below, b = (index + 1) << below;
  if (hi <= a || lo >= b) return;
  if (lo <= a && b <= hi) {
    const double l = span_ / static_cast<double>(Key(1) << level);
    const double *w = node, *h = node + n_;
    if (len == 0) {
      std::copy(w, w + n_, W);
      std::copy(h, h + n_, H);
    } else {  // concatenate [.. len) with [.. l)
      const double inv = 1.0 / (len + l);
      for (std::int64_t i = 0; i < n_; ++i) {
        H[i] = (len * H[i] + l * h[i] + 0.5 * (l * W[i] - len * w[i])) * inv;
        W[i] += w[i];
      }
    }
    len += l;
    return;
  }
  const Key key = (Key(1) << level) | index;
  auto [left, right] = children(key, level, node);
  cover(level + 1, 2 * index, left, lo, hi, W, H, len);
  cover(level + 1, 2 * index + 1, right, lo, hi, W, H, len);
}

void BrownianInterval::query(double s, double t, double* W, double* H) {
  PHYSML_CHECK(s <= t, "BrownianInterval: need s <= t, got s = ", s, ", t = ", t);
  const auto lo = to_grid(s, "s"), hi = to_grid(t, "t");
  if (lo == hi) {
    std::fill(W, W + n_, 0.0);
    std::fill(H, H + n_, 0.0);
    return;
  }
  double len = 0;
  try {
    cover(0, 0, root(), lo, hi, W, H, len);
  } catch (...) {
    trim(capacity_);
    throw;
  }
  trim(capacity_);
}

std::pair<at::Tensor, at::Tensor> BrownianInterval::increment_levy(double s, double t) {
  const auto f64 = torch::TensorOptions().dtype(torch::kDouble);
  if (options_.dtype() == torch::kDouble && options_.device().is_cpu()) {
    auto W = torch::empty(shape_, f64), H = torch::empty(shape_, f64);
    query(s, t, W.data_ptr<double>(), H.data_ptr<double>());
    return {W, H};
  }
  scratch_.resize(2 * static_cast<std::size_t>(n_));
  query(s, t, scratch_.data(), scratch_.data() + n_);
  auto W = torch::from_blob(scratch_.data(), shape_, f64).to(options_, /*non_blocking=*/false, /*copy=*/true);
  auto H = torch::from_blob(scratch_.data() + n_, shape_, f64).to(options_, false, true);
  return {W, H};
}

at::Tensor BrownianInterval::increment(double s, double t) {
  const auto f64 = torch::TensorOptions().dtype(torch::kDouble);
  scratch_.resize(2 * static_cast<std::size_t>(n_));
  if (options_.dtype() == torch::kDouble && options_.device().is_cpu()) {
    auto W = torch::empty(shape_, f64);
    query(s, t, W.data_ptr<double>(), scratch_.data() + n_);
    return W;
  }
  query(s, t, scratch_.data(), scratch_.data() + n_);
  return torch::from_blob(scratch_.data(), shape_, f64).to(options_, false, true);
}

}  // namespace physml::solvers::diffeq
