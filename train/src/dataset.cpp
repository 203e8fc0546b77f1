#include "physml/train/dataset.hpp"

#include "physml/core/options_reader.hpp"

#include "physml/core/error.hpp"
#include "physml/core/random.hpp"
#include "physml/io/dataset.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <sstream>

namespace physml::train {

GridDatasetOptions& GridDatasetOptions::set_from_options(const Options& options) {
  OptionsReader r(options, "Samples of a Dataset split");
  stride = r.integer("stride", stride, "take every stride-th grid point along each spatial axis", 1);
  begin = r.integer("begin", begin, "first sample of the split used", 0);
  count = r.integer("count", count, "samples used (-1 = to the end of the split)", -1);
  cache = r.boolean("cache", cache, "keep the samples in memory after the first read");
  snapshot_pairs = r.integer("snapshot_pairs", snapshot_pairs,
                             "one-step pairs of the first K+1 frames of trajectory data (0 = input/output pairs)", 0);
  r.end();
  return *this;
}
namespace {

std::string shape_text(const std::vector<std::int64_t>& s) {
  std::ostringstream os;
  os << "[";
  for (std::size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}

}  // namespace

GridDataset::GridDataset(const std::string& path, const std::string& split, GridDatasetOptions options)
    : path_(path), split_(split), options_(options) {
  PHYSML_CHECK(options_.stride >= 1, "GridDataset stride must be >= 1, got ", options_.stride);
  reader_ = std::make_unique<io::DatasetReader>(io::DatasetReader::open(path));
  const auto n = reader_->size(split);
  PHYSML_CHECK(options_.begin >= 0 && options_.begin <= n, "GridDataset: first sample ", options_.begin,
               " is outside split '", split, "' of ", path, " (", n, " samples)");
  count_ = options_.count < 0 ? n - options_.begin : options_.count;
  PHYSML_CHECK(count_ >= 1 && options_.begin + count_ <= n, "GridDataset: samples [", options_.begin, ", ",
               options_.begin + count_, ") are not in split '", split, "' of ", path, " (", n, " samples)");
  auto shape = [&](std::vector<std::int64_t> s) {
    for (std::size_t a = 1; a < s.size(); ++a) s[a] = (s[a] + options_.stride - 1) / options_.stride;
    return s;
  };
  input_shape_ = shape(reader_->info().input_shape);
  output_shape_ = shape(reader_->info().output_shape);
  items_ = count_;
  const auto K = options_.snapshot_pairs;
  if (K != 0) {
    const auto c = input_shape_[0];
    const auto T = output_shape_[0] / c;
    PHYSML_CHECK(input_shape_.size() == output_shape_.size() && output_shape_[0] % c == 0 &&
                     std::equal(input_shape_.begin() + 1, input_shape_.end(), output_shape_.begin() + 1),
                 "GridDataset: snapshot pairs need trajectory data (inputs w(t_0) [c, spatial...], outputs w(t_1..t_T) "
                 "[T*c, spatial...]), but ",
                 path, " has inputs ", shape_text(reader_->info().input_shape), " and outputs ",
                 shape_text(reader_->info().output_shape));
    PHYSML_CHECK(K >= 1 && K <= T, "GridDataset: snapshot_pairs must be in [1, ", T, "] (", path, " has ", T,
                 " snapshots after the initial state), got ", K);
    items_ = count_ * K;
    output_shape_[0] = c;
  }
  // Read the samples now, not at the first batch: a NaN or Inf in the file
  // (io::DatasetReader::read checks) is reported when the data are loaded.
  if (options_.cache) std::tie(cache_in_, cache_out_) = read_items(0, count_);
}

GridDataset::~GridDataset() = default;
GridDataset::GridDataset(GridDataset&&) noexcept = default;
GridDataset& GridDataset::operator=(GridDataset&&) noexcept = default;

at::Tensor GridDataset::subsample(const at::Tensor& t) const {
  if (options_.stride == 1) return t;
  at::Tensor s = t;
  for (std::int64_t a = 2; a < t.dim(); ++a) s = s.slice(a, 0, c10::nullopt, options_.stride);
  return s.contiguous();
}

std::pair<at::Tensor, at::Tensor> GridDataset::read_items(std::int64_t begin, std::int64_t end) const {
  auto x = subsample(reader_->read(split_, "inputs", options_.begin + begin, options_.begin + end));
  auto y = subsample(reader_->read(split_, "outputs", options_.begin + begin, options_.begin + end));
  const auto K = options_.snapshot_pairs;
  if (K == 0) return {x, y};
  // frames [n, 1+T, c, spatial...]; item sample*K + k = (frame k, frame k+1).
  const auto n = x.size(0), c = x.size(1);
  std::vector<std::int64_t> fshape{n, -1, c};
  for (std::int64_t a = 2; a < x.dim(); ++a) fshape.push_back(x.size(a));
  auto frames = torch::cat({x, y}, 1).reshape(fshape);
  std::vector<std::int64_t> ishape{n * K, c};
  for (std::int64_t a = 2; a < x.dim(); ++a) ishape.push_back(x.size(a));
  return {frames.slice(1, 0, K).reshape(ishape).contiguous(), frames.slice(1, 1, K + 1).reshape(ishape).contiguous()};
}

std::pair<at::Tensor, at::Tensor> GridDataset::range(std::int64_t begin, std::int64_t end) const {
  PHYSML_CHECK(begin >= 0 && begin < end && end <= items_, "GridDataset: range [", begin, ", ", end,
               ") outside [0, ", items_, ")");
  if (options_.cache && !cache_in_.defined()) std::tie(cache_in_, cache_out_) = read_items(0, count_);
  if (cache_in_.defined()) return {cache_in_.slice(0, begin, end), cache_out_.slice(0, begin, end)};
  const auto K = std::max<std::int64_t>(options_.snapshot_pairs, 1);
  const auto first = begin / K;  // samples holding items [begin, end)
  auto [x, y] = read_items(first, (end - 1) / K + 1);
  return {x.slice(0, begin - first * K, end - first * K), y.slice(0, begin - first * K, end - first * K)};
}

std::pair<at::Tensor, at::Tensor> GridDataset::batch(const std::vector<std::int64_t>& indices) const {
  PHYSML_CHECK(!indices.empty(), "GridDataset::batch: empty index list");
  for (auto i : indices) PHYSML_CHECK(i >= 0 && i < items_, "GridDataset: item ", i, " outside [0, ", items_, ")");
  if (options_.cache) {
    range(0, 1);  // fill the cache
    auto idx = torch::tensor(indices, torch::kLong);
    return {cache_in_.index_select(0, idx), cache_out_.index_select(0, idx)};
  }
  std::vector<at::Tensor> xs, ys;
  for (auto i : indices) {
    auto [x, y] = range(i, i + 1);
    xs.push_back(x);
    ys.push_back(y);
  }
  return {torch::cat(xs), torch::cat(ys)};
}

std::vector<std::vector<std::int64_t>> epoch_batches(std::int64_t n, std::int64_t batch_size, bool shuffle,
                                                     std::uint64_t seed, std::int64_t epoch) {
  PHYSML_CHECK(batch_size >= 1, "batch size must be >= 1, got ", batch_size);
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  if (shuffle) {
    std::mt19937_64 engine(derive_seed(seed, static_cast<std::uint64_t>(epoch)));
    // Fisher-Yates with our own index draw (std::shuffle's algorithm is implementation-defined).
    for (std::size_t i = order.size(); i > 1; --i) {
      const std::size_t j = static_cast<std::size_t>(engine() % i);
      std::swap(order[i - 1], order[j]);
    }
  }
  std::vector<std::vector<std::int64_t>> batches;
  for (std::size_t b = 0; b < order.size(); b += static_cast<std::size_t>(batch_size))
    batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(b),
                         order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), b + static_cast<std::size_t>(batch_size))));
  return batches;
}

}  // namespace physml::train
