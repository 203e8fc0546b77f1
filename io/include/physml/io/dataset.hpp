#pragma once
/// \file dataset.hpp
/// PhysML Dataset files: input/output field pairs of a PDE benchmark, split into named
/// splits ("train", "valid", "test"), with the metadata that produced them (generator,
/// its parameters, the grid, the seed, library versions). Layout (docs/file-formats.md):
///
///     /                       attrs format="physml.dataset", format_version=1, physml_version,
///                                   torch_version, created, generator, parameters (JSON),
///                                   grid (JSON), seed, dtype, + extra attributes
///     /<split>/inputs         [N, C_in, spatial...]   float32 or float64
///     /<split>/outputs        [N, C_out, spatial...]  same dtype
///     /<split>/done           [N] uint8, 1 where the sample has been written
///
/// Generation is resumable: DatasetWriter writes to "<path>.partial" and renames it to
/// <path> only when every sample of every split is present.

#include "physml/io/hdf5.hpp"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace physml::io {

/// What a Dataset file holds. Per-sample shapes exclude the sample axis: [C, spatial...].
struct DatasetInfo {
  std::string generator;                             ///< "darcy", "navier-stokes", ...
  std::string parameters_json = "{}";                ///< the generator's options as a JSON object text
  std::string grid_json = "{}";                      ///< grid description as JSON text
  std::int64_t seed = 0;                             ///< the seed the samples were drawn from
  std::map<std::string, std::int64_t> split_sizes;   ///< {"train",1000},{"test",100}
  std::vector<std::int64_t> input_shape;             ///< [C_in, spatial...] of one sample
  std::vector<std::int64_t> output_shape;            ///< [C_out, spatial...] of one sample
  c10::ScalarType dtype = c10::ScalarType::Float;    ///< storage dtype (float32 or float64)
};

/// The first field in which two DatasetInfo differ, as "seed: 7 in the file, 8 requested",
/// or "" if they are identical.
std::string first_difference(const DatasetInfo& in_file, const DatasetInfo& requested);

/// Writes a Dataset file resumably: data go to "<path>.partial"; reopening a partial file
/// whose DatasetInfo is identical resumes it (has_sample tells which samples exist); a
/// different DatasetInfo (or an existing final file with different settings) throws naming
/// the first differing field and leaves both files untouched. finish() checks every sample is
/// present and renames atomically to <path>.
///
/// One process writes a file; after every write_sample the file is flushed, so a killed
/// generator loses at most the sample being written. Samples may be written in any order.
class DatasetWriter {
public:
  /// Open (create or resume) the dataset at `path` with the given settings.
  static DatasetWriter open(const std::string& path, const DatasetInfo& info);

  /// Movable, not copyable (owns the open partial file).
  DatasetWriter(DatasetWriter&&) noexcept;
  DatasetWriter& operator=(DatasetWriter&&) noexcept;
  /// Closes the partial file (keeping it for a later resume) if finish() was not called.
  ~DatasetWriter();

  /// True if sample `index` of `split` has been written (always true if already_complete()).
  bool has_sample(const std::string& split, std::int64_t index) const;
  /// Number of samples of `split` not yet written.
  std::int64_t missing(const std::string& split) const;
  /// Store one sample: `input` [C_in, spatial...], `output` [C_out, spatial...] exactly of
  /// info.input_shape / info.output_shape; any floating dtype and device (converted to
  /// info.dtype on the CPU). Throws on a wrong shape, an index out of range, an unknown split
  /// or a non-finite value (NaN/Inf, naming split and index).
  void write_sample(const std::string& split, std::int64_t index, const at::Tensor& input, const at::Tensor& output);
  /// Extra metadata as a root attribute (e.g. "solver_tolerance"); the reserved names of
  /// the layout (format, generator, seed, ...) are refused.
  void set_attribute(const std::string& key, const Attribute& value);
  /// Check every sample is present (else throw naming the split and the first missing
  /// index) and atomically rename "<path>.partial" to <path>. No-op if already_complete().
  void finish();
  /// True if <path> existed with identical info (nothing to do).
  bool already_complete() const;
  /// True once writing to the partial file failed (disk full, I/O error; H5File::write_failed):
  /// no later sample can be written, unlike a refused sample (wrong shape, NaN).
  bool write_failed() const;
  /// The final path.
  const std::string& path() const;
  /// The settings this writer was opened with.
  const DatasetInfo& info() const;

private:
  struct Impl;
  explicit DatasetWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Reads a Dataset file (checks format attribute and version, and that it is complete).
class DatasetReader {
public:
  /// Open a finished Dataset file; throws physml::Error if it is missing, not HDF5,
  /// truncated, of another format or version, inconsistent, or has unwritten samples.
  static DatasetReader open(const std::string& path);

  /// Movable, not copyable (owns the open file).
  DatasetReader(DatasetReader&&) noexcept;
  DatasetReader& operator=(DatasetReader&&) noexcept;
  ~DatasetReader();

  /// The settings recorded in the file (generator, parameters, grid, seed, splits, shapes, dtype).
  const DatasetInfo& info() const;
  /// Split names, sorted.
  std::vector<std::string> splits() const;
  /// Number of samples in a split; throws naming the available splits if unknown.
  std::int64_t size(const std::string& split) const;
  /// [end-begin, C, spatial...] tensors of rows [begin,end) of "inputs" or "outputs" of a split.
  /// Throws physml::NonFiniteError naming the file, split, field, sample, flat index within the
  /// sample and channel of the first NaN or Inf (one isfinite reduction per call).
  at::Tensor read(const std::string& split, const std::string& field, std::int64_t begin, std::int64_t end) const;
  /// A root attribute (also the extra ones set with DatasetWriter::set_attribute).
  Attribute attribute(const std::string& key) const;
  /// The underlying file (for metadata not covered above).
  const H5File& file() const;

private:
  struct Impl;
  explicit DatasetReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// FNV-1a hash (16 hex digits) of every stored sample byte: inputs then outputs, splits in
/// name order. Equal for files holding equal data, whatever their creation time, the number
/// of ranks that generated them or the order samples were written in.
std::string content_checksum(const DatasetReader& reader);

}  // namespace physml::io
