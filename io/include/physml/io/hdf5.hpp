#pragma once
/// \file hdf5.hpp
/// HDF5 files of named tensors with attributes, and PhysML's two self-describing
/// layouts on top of them: Dataset files and Checkpoint files (see docs/file-formats.md).
///
/// Every writer writes to "<path>.tmp-<pid>-<n>" and renames it over <path> only after the
/// file is complete and closed, so an interrupted or failed write never damages an
/// existing file. Every reader checks what it reads and throws physml::Error naming the
/// file, the object and what was expected (missing file, not HDF5, truncated, missing
/// dataset, wrong dtype, wrong shape).

#include <ATen/core/Tensor.h>
#include <mpi.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace physml::io {

/// An attribute value: text (also used for JSON), integer, real, or a list of reals.
using Attribute = std::variant<std::string, std::int64_t, double, std::vector<double>>;
using Attributes = std::map<std::string, Attribute>;

/// An open HDF5 file. Paths of objects use '/' ("inputs", "train/x", "model/layer0.weight").
/// Tensors of dtype float32, float64, int64, int32 and uint8 are stored as HDF5 datasets of
/// the same type and shape (little-endian, row-major, readable as numpy arrays from h5py).
/// Attributes: strings are variable-length UTF-8 scalars, integers int64 scalars, reals
/// float64 scalars, lists of reals 1-D float64 arrays.
///
/// A file from open() or create(path) is used serially by the process that opened it. A file
/// from create(path, comm) on several ranks is written by all of them at once through MPI-IO
/// (parallel HDF5, the Open MPI flavour PhysML links). Its rules:
///  - every call that changes the file's structure (create_dataset, write, set_attribute,
///    create_group, flush, commit, and the destructor) is collective: every rank of the
///    communicator makes it, in the same order, with the same names and shapes; attribute
///    values and write()'s data are taken from rank 0;
///  - write_rows is collective too, but each rank passes its own rows (possibly none: a tensor
///    with 0 rows) at its own offset: this is how several ranks fill one dataset;
///  - a failure on any rank (a bad argument, a full disk) throws on every rank, with the
///    message of the lowest failing rank, and the file then refuses further writes;
///  - commit() renames the complete file over `path` once (rank 0), after every rank closed it.
/// Reads are independent and allowed on any rank. HDF5's own error printing is silenced:
/// failures are physml::Error.
class H5File {
public:
  /// read_write modifies an existing file in place (not atomic: used for resumable ".partial" files).
  enum class Mode { read, read_write };
  /// Open an existing file. Throws if missing or not an HDF5 file.
  static H5File open(const std::string& path, Mode mode = Mode::read);
  /// Create a new file at a temporary name; commit() renames it to `path`.
  /// An H5File destroyed without commit() removes its temporary file.
  static H5File create(const std::string& path);
  /// Create a new file collectively over `comm` (every rank calls it with the same path),
  /// written in parallel by all ranks (see the rules above); on a communicator of one rank
  /// this is create(path). The temporary name is rank 0's, shared by all.
  static H5File create(const std::string& path, MPI_Comm comm);

  /// Movable, not copyable (owns the open file).
  H5File(H5File&&) noexcept;
  H5File& operator=(H5File&&) noexcept;
  ~H5File();

  /// Write a tensor (any device; copied to CPU, made contiguous). Groups on the path are created.
  /// Overwrites an existing dataset of the same name.
  void write(const std::string& name, const at::Tensor& t);
  /// Read a whole dataset as a CPU tensor of its stored dtype.
  at::Tensor read(const std::string& name) const;
  /// Read and check dtype (and shape, where an extent is -1 it is free). Throws on mismatch.
  at::Tensor read(const std::string& name, c10::ScalarType dtype, const std::vector<std::int64_t>& shape = {}) const;
  /// Read rows [begin, end) along the first axis (a hyperslab; no full read).
  at::Tensor read_rows(const std::string& name, std::int64_t begin, std::int64_t end) const;
  /// Write rows starting at `begin` along axis 0 of an existing dataset (for resumable generation).
  void write_rows(const std::string& name, std::int64_t begin, const at::Tensor& rows);
  /// Create a dataset of the given shape and dtype filled with zeros (later filled by write_rows).
  void create_dataset(const std::string& name, c10::ScalarType dtype, const std::vector<std::int64_t>& shape);
  /// Shape of a dataset without reading it.
  std::vector<std::int64_t> shape(const std::string& name) const;
  /// Stored dtype of a dataset without reading it.
  c10::ScalarType dtype(const std::string& name) const;
  /// True if an object (group or dataset) of that path exists.
  bool exists(const std::string& name) const;
  /// True once a write or flush of this file failed (disk full, I/O error): it then refuses
  /// further writes, and the file on disk keeps what it held at the failure.
  bool write_failed() const;
  /// Create a group (and its parents) if it does not exist.
  void create_group(const std::string& name);
  /// Names of the direct children (datasets and groups) of a group ("" or "/" = root), sorted.
  std::vector<std::string> list(const std::string& group = "/") const;

  /// Attributes on an object ("/" = the file's root group). Setting creates the object as a
  /// group if it does not exist and replaces an attribute of the same key.
  void set_attribute(const std::string& object, const std::string& key, const Attribute& value);
  /// One attribute; throws naming file, object and key if missing.
  Attribute attribute(const std::string& object, const std::string& key) const;
  /// One attribute, or nullopt if the object or the attribute does not exist.
  std::optional<Attribute> find_attribute(const std::string& object, const std::string& key) const;
  /// All attributes of an object.
  Attributes attributes(const std::string& object) const;
  /// Typed attribute getters; throw naming the file, object and key if missing or of another type.
  /// attribute_real also accepts an integer attribute.
  std::string attribute_string(const std::string& object, const std::string& key) const;
  std::int64_t attribute_int(const std::string& object, const std::string& key) const;
  double attribute_real(const std::string& object, const std::string& key) const;

  /// Flush, close and (for create()) atomically rename to the final path.
  void commit();
  /// Flush to disk without closing (read_write files).
  void flush();
  /// Number of ranks writing this file (1 unless created by create(path, comm) on several ranks).
  int ranks() const;
  /// The final path (for create(): where commit() puts the file).
  const std::string& path() const;

private:
  struct Impl;
  explicit H5File(std::unique_ptr<Impl> impl);
  void set_attribute_here(const std::string& object, const std::string& key, const Attribute& value);
  std::unique_ptr<Impl> impl_;
};

/// Library versions and a UTC timestamp, written into every file PhysML creates:
/// attributes "physml_version", "format", "format_version", "torch_version", "created".
void stamp_file(H5File& f, const std::string& format, std::int64_t format_version);

/// Check that `f` holds PhysML format `format` with 1 <= format_version <= max_version;
/// throws naming the file, what it holds and what was expected.
void check_format(const H5File& f, const std::string& format, std::int64_t max_version);

/// "float32", "float64", "int64", "int32", "uint8" (the numpy names used in file metadata).
std::string dtype_name(c10::ScalarType t);
/// Inverse of dtype_name; throws on an unknown name.
c10::ScalarType dtype_from_name(const std::string& name);
/// "[2, 3, 4]".
std::string shape_string(const std::vector<std::int64_t>& shape);

}  // namespace physml::io
