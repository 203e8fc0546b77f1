#include "physml/train/dataset.hpp"

#include "physml/core/error.hpp"
#include "physml/core/random.hpp"
#include "physml/io/dataset.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <numeric>
#include <random>

namespace physml::train {

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

std::pair<at::Tensor, at::Tensor> GridDataset::range(std::int64_t begin, std::int64_t end) const {
  PHYSML_CHECK(begin >= 0 && begin < end && end <= count_, "GridDataset: range [", begin, ", ", end,
               ") outside [0, ", count_, ")");
  if (options_.cache && !cache_in_.defined()) {
    cache_in_ = subsample(reader_->read(split_, "inputs", options_.begin, options_.begin + count_));
    cache_out_ = subsample(reader_->read(split_, "outputs", options_.begin, options_.begin + count_));
  }
  if (cache_in_.defined()) return {cache_in_.slice(0, begin, end), cache_out_.slice(0, begin, end)};
  return {subsample(reader_->read(split_, "inputs", options_.begin + begin, options_.begin + end)),
          subsample(reader_->read(split_, "outputs", options_.begin + begin, options_.begin + end))};
}

std::pair<at::Tensor, at::Tensor> GridDataset::batch(const std::vector<std::int64_t>& indices) const {
  PHYSML_CHECK(!indices.empty(), "GridDataset::batch: empty index list");
  for (auto i : indices) PHYSML_CHECK(i >= 0 && i < count_, "GridDataset: sample ", i, " outside [0, ", count_, ")");
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
