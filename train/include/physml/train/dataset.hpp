#pragma once
/// \file dataset.hpp
/// Samples of one split of a PhysML Dataset file (io::DatasetReader) for training:
/// a sample range, spatial subsampling by stride, an optional in-memory cache, and
/// batches in a seeded random order.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace physml {
class Options;
}
namespace physml::io {
class DatasetReader;
}

namespace physml::train {

/// Which samples of a Dataset file a GridDataset serves.
struct GridDatasetOptions {
  /// Take every stride-th grid point along each spatial axis (x[..., ::stride, ::stride]).
  std::int64_t stride = 1;
  /// First sample of the split used.
  std::int64_t begin = 0;
  /// Number of samples used (-1 = to the end of the split).
  std::int64_t count = -1;
  /// Keep the (subsampled) samples in memory after the first read.
  bool cache = true;
  /// Consecutive-snapshot pairs of trajectory data (0 = off: serve the file's input/output
  /// pairs). A trajectory file (e.g. `physml generate navier-stokes`) stores per sample the
  /// initial state w(t_0) as inputs [c, spatial...] and the snapshots w(t_1..t_T) as outputs
  /// [T*c, spatial...]; with snapshot_pairs = K (1 <= K <= T) every sample yields the K
  /// one-step pairs (w(t_k), w(t_{k+1})), k = 0..K-1, each [c, spatial...], item
  /// sample*K + k (MgNO's Navier-Stokes protocol: K = 10, teacher-forced pairs of the first
  /// 11 frames).
  std::int64_t snapshot_pairs = 0;

  /// Read -stride, -begin, -count, -cache and -snapshot_pairs under the prefix of `options`
  /// (PetscOptionsBegin/End: -help lists them); the current values are the defaults.
  GridDatasetOptions& set_from_options(const Options& options);
};

/// Input/output field pairs of one split: inputs [n, C_in, spatial...], outputs [n, C_out, spatial...]
/// (or one-step snapshot pairs, see GridDatasetOptions::snapshot_pairs).
class GridDataset {
public:
  /// Open `split` of the Dataset file at `path`; throws physml::Error for a missing file or
  /// split, or a sample range outside the split, and physml::NonFiniteError (naming the file,
  /// split, sample and index) for a NaN or Inf among the samples. With options.cache the
  /// samples are read (and checked) here; otherwise every read checks its rows.
  GridDataset(const std::string& path, const std::string& split, GridDatasetOptions options = {});
  ~GridDataset();
  GridDataset(GridDataset&&) noexcept;
  GridDataset& operator=(GridDataset&&) noexcept;

  /// Number of items served (samples, or samples * snapshot_pairs).
  std::int64_t size() const { return items_; }
  /// Samples `indices` (0-based within this dataset) as {inputs, outputs}, in that order.
  std::pair<at::Tensor, at::Tensor> batch(const std::vector<std::int64_t>& indices) const;
  /// Samples [begin, end) as {inputs, outputs}.
  std::pair<at::Tensor, at::Tensor> range(std::int64_t begin, std::int64_t end) const;
  /// Every sample (reads the whole range).
  std::pair<at::Tensor, at::Tensor> all() const { return range(0, size()); }
  /// Per-sample shapes after subsampling: [C, spatial...].
  const std::vector<std::int64_t>& input_shape() const { return input_shape_; }
  const std::vector<std::int64_t>& output_shape() const { return output_shape_; }
  const std::string& path() const { return path_; }
  const std::string& split() const { return split_; }

private:
  at::Tensor subsample(const at::Tensor& t) const;
  /// Samples [begin, end) of the file range (all of them items) as served items.
  std::pair<at::Tensor, at::Tensor> read_items(std::int64_t begin, std::int64_t end) const;
  std::string path_, split_;
  GridDatasetOptions options_;
  std::unique_ptr<io::DatasetReader> reader_;
  std::int64_t count_ = 0;  // samples of the file used
  std::int64_t items_ = 0;  // items served
  std::vector<std::int64_t> input_shape_, output_shape_;
  mutable at::Tensor cache_in_, cache_out_;
};

/// The batches of one epoch: indices 0..n-1, shuffled with a generator seeded by
/// derive_seed(seed, epoch) when `shuffle` (so epoch e has the same order in a resumed run),
/// cut into batches of `batch_size` (the last one may be smaller).
std::vector<std::vector<std::int64_t>> epoch_batches(std::int64_t n, std::int64_t batch_size, bool shuffle,
                                                     std::uint64_t seed, std::int64_t epoch);

}  // namespace physml::train
