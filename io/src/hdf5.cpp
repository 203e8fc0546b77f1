// HDF5 files of named tensors with attributes (see physml/io/hdf5.hpp).
// Uses the HDF5 C API only. HDF5's automatic error printing is switched off around every
// call; when a call fails we read HDF5's error stack ourselves and put its innermost
// message into a physml::Error that names the file and object.
#include "physml/io/hdf5.hpp"

#include "physml/core/collective.hpp"
#include "physml/core/error.hpp"
#include "physml/io/atomic_file.hpp"
#include "physml/core/version.hpp"

#include <hdf5.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <fstream>

#include <sys/mman.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace physml::io {

namespace {

/// Switches HDF5's automatic error-stack printing off for its lifetime (restores it after).
class QuietHdf5 {
public:
  QuietHdf5() {
    H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~QuietHdf5() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }
  QuietHdf5(const QuietHdf5&) = delete;
  QuietHdf5& operator=(const QuietHdf5&) = delete;

private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

herr_t collect_error(unsigned n, const H5E_error2_t* err, void* client) {
  auto* out = static_cast<std::vector<std::string>*>(client);
  if (err && err->desc && *err->desc) out->emplace_back(err->desc);
  (void)n;
  return 0;
}

/// The messages on HDF5's current error stack, innermost first.
std::vector<std::string> hdf5_error_messages() {
  std::vector<std::string> msgs;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_error, &msgs);
  H5Eclear2(H5E_DEFAULT);
  return msgs;
}

/// "(HDF5: <innermost message>)" or "" if the stack is empty.
std::string hdf5_reason() {
  auto msgs = hdf5_error_messages();
  if (msgs.empty()) return "";
  std::string m = msgs.back();
  // The file driver's messages carry a timestamp, buffer addresses and the system's reason
  // ("file write failed: time = ..., errno = 28, error message = 'No space left on device', ...");
  // keep the first words and the reason.
  const auto reason = m.find("error message = '");
  if (reason != std::string::npos) {
    const auto begin = reason + 17, end = m.find('\'', begin);
    const auto head = m.substr(0, m.find(':'));
    m = head + ": " + m.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
  }
  return " (HDF5: " + m + ")";
}

/// Owns one HDF5 identifier and closes it with the matching H5?close.
class Handle {
public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Handle(Handle&& o) noexcept : id_(o.id_), closer_(o.closer_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      closer_ = o.closer_;
      o.id_ = -1;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }
  /// Closing never prints HDF5's error stack (a close that fails to flush, e.g. on a full
  /// disk, is reported by the flush or the file's close that follows, as physml::Error).
  void reset() {
    if (id_ >= 0 && closer_) {
      QuietHdf5 quiet;
      closer_(id_);
      H5Eclear2(H5E_DEFAULT);
    }
    id_ = -1;
  }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

private:
  hid_t id_ = -1;
  Closer closer_ = nullptr;
};

std::string shape_str(const std::vector<std::int64_t>& s) {
  std::string r = "[";
  for (std::size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

/// Normalised object path: "" and "/" mean the root; leading '/' removed otherwise.
std::string norm(const std::string& name) {
  std::string n = name;
  while (n.size() > 1 && n.front() == '/') n.erase(n.begin());
  if (n.empty()) n = "/";
  return n;
}

/// HDF5 file type and memory type for a tensor dtype.
struct TypePair {
  hid_t file;
  hid_t memory;
};

TypePair h5_types(c10::ScalarType t, const std::string& what) {
  switch (t) {
    case c10::ScalarType::Float: return {H5T_IEEE_F32LE, H5T_NATIVE_FLOAT};
    case c10::ScalarType::Double: return {H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE};
    case c10::ScalarType::Long: return {H5T_STD_I64LE, H5T_NATIVE_INT64};
    case c10::ScalarType::Int: return {H5T_STD_I32LE, H5T_NATIVE_INT32};
    case c10::ScalarType::Byte: return {H5T_STD_U8LE, H5T_NATIVE_UINT8};
    default:
      PHYSML_THROW("cannot store ", what, " of dtype ", c10::toString(t),
                   " in HDF5: supported dtypes are float32, float64, int64, int32, uint8");
  }
}

std::vector<std::int64_t> to_shape(const std::vector<hsize_t>& d) {
  return std::vector<std::int64_t>(d.begin(), d.end());
}

}  // namespace

std::string dtype_name(c10::ScalarType t) {
  switch (t) {
    case c10::ScalarType::Float: return "float32";
    case c10::ScalarType::Double: return "float64";
    case c10::ScalarType::Long: return "int64";
    case c10::ScalarType::Int: return "int32";
    case c10::ScalarType::Byte: return "uint8";
    default: return c10::toString(t);
  }
}

c10::ScalarType dtype_from_name(const std::string& name) {
  if (name == "float32") return c10::ScalarType::Float;
  if (name == "float64") return c10::ScalarType::Double;
  if (name == "int64") return c10::ScalarType::Long;
  if (name == "int32") return c10::ScalarType::Int;
  if (name == "uint8") return c10::ScalarType::Byte;
  PHYSML_THROW("unknown dtype '", name, "': expected float32, float64, int64, int32 or uint8");
}

std::string shape_string(const std::vector<std::int64_t>& shape) { return shape_str(shape); }

namespace {
/// Point the file descriptor under an open HDF5 file (sec2 driver) at an anonymous in-memory
/// file (memfd; sparse, so the final truncate costs nothing), so that what HDF5 still has to
/// write when it closes the file goes nowhere and cannot fail for lack of disk space. For files
/// whose content is thrown away (a temporary given up after an error) or whose writes already
/// failed: libhdf5 1.10 keeps a file whose close failed half-closed and crashes closing it
/// again at exit, so such a close must not fail. The file on disk keeps what it held.
void discard_writes(hid_t file) noexcept {
  void* handle = nullptr;
  if (H5Fget_vfd_handle(file, H5P_DEFAULT, &handle) < 0 || handle == nullptr) return;
  const int fd = *static_cast<int*>(handle);
  const int sink = ::memfd_create("physml-discarded-hdf5", MFD_CLOEXEC);
  if (sink < 0) return;
  ::dup2(sink, fd);
  ::close(sink);
}
}  // namespace

struct H5File::Impl {
  std::string path;      // final path
  std::string tmp_path;  // non-empty for create(): where the data go until commit()
  hid_t file = -1;
  Mode mode = Mode::read;
  bool created = false;

  bool broken = false;  // a write or flush failed: later writes are refused (see poison())

  // A file written by several ranks through MPI-IO (create(path, comm)): a duplicate of the
  // caller's communicator, used for agreeing on failures; MPI_COMM_NULL for a serial file.
  MPI_Comm comm = MPI_COMM_NULL;
  int rank = 0, size = 1;
  bool parallel() const { return size > 1; }

  ~Impl() {
    abandon();
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (comm != MPI_COMM_NULL && !finalized) MPI_Comm_free(&comm);
  }

  /// Run f on every rank of a parallel file and agree on failure (run_collectively): any
  /// rank's failure throws on all of them and leaves the file refusing further writes on all
  /// (so that no rank goes on into a collective HDF5 call the others skip). Serial: f().
  void collective(const std::function<void()>& f) {
    if (!parallel()) return f();
    try {
      run_collectively(comm, f);
    } catch (...) {
      broken = true;
      throw;
    }
  }

  /// After a failed write or flush (disk full, I/O error): what HDF5 still holds for this file
  /// is thrown away (discard_writes) and later writes are refused, so that no close has to
  /// flush into a file that cannot take it. libhdf5 1.10 leaves an object whose close failed
  /// half-closed, and crashes closing it again when the library shuts down; this avoids it.
  /// The file on disk keeps what it held at the failure.
  void poison() noexcept {
    if (file < 0 || broken) return;
    // An MPI-IO file has no POSIX descriptor to redirect: its collective close still flushes
    // what the ranks hold, so after a full disk libhdf5 1.10 may report errors at that close
    // or at exit (the half-closed case above). The temporary is removed all the same and the
    // file at the final path is untouched; a full disk under parallel writes is not tested.
    if (!parallel()) discard_writes(file);
    broken = true;
  }

  /// Close without committing; a created file's temporary is removed. A resumable file
  /// (read_write) is flushed first, so it keeps the work done; a created one is discarded.
  void abandon() noexcept {
    int finalized = 0;
    if (parallel()) MPI_Finalized(&finalized);
    if (file >= 0 && finalized) file = -1;  // an MPI-IO file cannot be closed after MPI_Finalize: left to the OS
    if (file >= 0) {
      QuietHdf5 quiet;
      if (created || (mode == Mode::read_write && H5Fflush(file, H5F_SCOPE_GLOBAL) < 0)) poison();
      H5Fclose(file);
      H5Eclear2(H5E_DEFAULT);
      file = -1;
    }
    if (created && !tmp_path.empty()) {
      std::error_code ec;
      if (rank == 0) fs::remove(tmp_path, ec);
      tmp_path.clear();
    }
  }

  void check_open() const { PHYSML_CHECK(file >= 0, "HDF5 file '", path, "' is closed (already committed)"); }
  void check_writable() const {
    check_open();
    PHYSML_CHECK(mode == Mode::read_write, "HDF5 file '", path, "' was opened read-only; cannot write");
    PHYSML_CHECK(!broken, "HDF5 file '", path, "' had a failed write earlier (disk full?); nothing more is written to it");
  }

  /// Throw naming `what` and HDF5's reason after poisoning the file (see poison()).
  [[noreturn]] void write_failed(const std::string& what) {
    std::string reason = hdf5_reason();
    poison();
    PHYSML_THROW(what, reason);
  }

  std::string where(const std::string& name) const { return "'" + norm(name) + "' in HDF5 file '" + path + "'"; }

  /// True if every component of `name` exists as a link (root always exists).
  bool exists(const std::string& name) const {
    check_open();
    std::string n = norm(name);
    if (n == "/") return true;
    std::string prefix;
    std::size_t pos = 0;
    while (true) {
      std::size_t next = n.find('/', pos);
      prefix = n.substr(0, next);
      if (H5Lexists(file, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
      if (next == std::string::npos) break;
      pos = next + 1;
      // an intermediate component must be a group to descend into it
      H5O_info_t info;
      if (H5Oget_info_by_name(file, prefix.c_str(), &info, H5P_DEFAULT) < 0 || info.type != H5O_TYPE_GROUP) return false;
    }
    return true;
  }

  Handle open_object(const std::string& name) const {
    check_open();
    QuietHdf5 quiet;
    PHYSML_CHECK(exists(name), "no object ", where(name));
    hid_t id = H5Oopen(file, norm(name).c_str(), H5P_DEFAULT);
    PHYSML_CHECK(id >= 0, "cannot open ", where(name), hdf5_reason());
    return Handle(id, H5Oclose);
  }

  Handle open_dataset(const std::string& name) const {
    check_open();
    QuietHdf5 quiet;
    PHYSML_CHECK(exists(name), "missing dataset ", where(name));
    H5O_info_t info;
    PHYSML_CHECK(H5Oget_info_by_name(file, norm(name).c_str(), &info, H5P_DEFAULT) >= 0 && info.type == H5O_TYPE_DATASET,
                 where(name), " is not a dataset", hdf5_reason());
    hid_t id = H5Dopen2(file, norm(name).c_str(), H5P_DEFAULT);
    PHYSML_CHECK(id >= 0, "cannot open dataset ", where(name), hdf5_reason());
    return Handle(id, H5Dclose);
  }

  std::vector<hsize_t> dims(hid_t dset, const std::string& name) const {
    Handle space(H5Dget_space(dset), H5Sclose);
    PHYSML_CHECK(space.valid(), "cannot read the shape of dataset ", where(name), hdf5_reason());
    int rank = H5Sget_simple_extent_ndims(space.get());
    PHYSML_CHECK(rank >= 0, "cannot read the shape of dataset ", where(name), hdf5_reason());
    std::vector<hsize_t> d(static_cast<std::size_t>(rank));
    if (rank > 0) H5Sget_simple_extent_dims(space.get(), d.data(), nullptr);
    return d;
  }

  /// The tensor dtype that holds a stored HDF5 type, or throw.
  c10::ScalarType stored_dtype(hid_t dset, const std::string& name) const {
    Handle type(H5Dget_type(dset), H5Tclose);
    PHYSML_CHECK(type.valid(), "cannot read the type of dataset ", where(name), hdf5_reason());
    H5T_class_t cls = H5Tget_class(type.get());
    std::size_t size = H5Tget_size(type.get());
    if (cls == H5T_FLOAT && size == 4) return c10::ScalarType::Float;
    if (cls == H5T_FLOAT && size == 8) return c10::ScalarType::Double;
    if (cls == H5T_INTEGER) {
      bool is_signed = H5Tget_sign(type.get()) == H5T_SGN_2;
      if (is_signed && size == 8) return c10::ScalarType::Long;
      if (is_signed && size == 4) return c10::ScalarType::Int;
      if (!is_signed && size == 1) return c10::ScalarType::Byte;
    }
    PHYSML_THROW("dataset ", where(name), " has an HDF5 type (class ", static_cast<int>(cls), ", ", size,
                 " bytes) that PhysML does not read: expected float32, float64, int64, int32 or uint8");
  }

  void create_groups_for(const std::string& name) {
    std::string n = norm(name);
    std::size_t pos = 0;
    while (true) {
      std::size_t next = n.find('/', pos);
      if (next == std::string::npos) return;
      std::string prefix = n.substr(0, next);
      if (!prefix.empty() && H5Lexists(file, prefix.c_str(), H5P_DEFAULT) <= 0) {
        Handle g(H5Gcreate2(file, prefix.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
        PHYSML_CHECK(g.valid(), "cannot create group ", where(prefix), hdf5_reason());
      }
      pos = next + 1;
    }
  }

  void delete_link(const std::string& name) {
    PHYSML_CHECK(H5Ldelete(file, norm(name).c_str(), H5P_DEFAULT) >= 0, "cannot replace ", where(name), hdf5_reason());
  }

  Handle create_dataset(const std::string& name, c10::ScalarType dtype, const std::vector<std::int64_t>& shape) {
    check_writable();
    QuietHdf5 quiet;
    for (auto s : shape) PHYSML_CHECK(s >= 0, "negative extent in shape ", shape_str(shape), " for dataset ", where(name));
    TypePair types = h5_types(dtype, "dataset " + where(name));
    std::string n = norm(name);
    PHYSML_CHECK(n != "/", "a dataset needs a name (got the root group) in HDF5 file '", path, "'");
    if (exists(n)) delete_link(n);
    create_groups_for(n);
    std::vector<hsize_t> d(shape.begin(), shape.end());
    Handle space(d.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(static_cast<int>(d.size()), d.data(), nullptr),
                 H5Sclose);
    PHYSML_CHECK(space.valid(), "cannot create dataspace ", shape_str(shape), " for ", where(name), hdf5_reason());
    Handle dset(H5Dcreate2(file, n.c_str(), types.file, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
    PHYSML_CHECK(dset.valid(), "cannot create dataset ", where(name), hdf5_reason());
    return dset;
  }
};

H5File::H5File(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
H5File::H5File(H5File&&) noexcept = default;
H5File& H5File::operator=(H5File&&) noexcept = default;
H5File::~H5File() = default;

H5File H5File::open(const std::string& path, Mode mode) {
  std::error_code ec;
  PHYSML_CHECK(fs::exists(path, ec), "HDF5 file '", path, "' does not exist");
  PHYSML_CHECK(fs::is_regular_file(path, ec), "'", path, "' is not a regular file (expected an HDF5 file)");
  QuietHdf5 quiet;
  htri_t is_h5 = H5Fis_hdf5(path.c_str());
  H5Eclear2(H5E_DEFAULT);
  PHYSML_CHECK(is_h5 > 0, "'", path, "' is not an HDF5 file (no HDF5 signature found; size ", fs::file_size(path, ec),
               " bytes)");
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
  hid_t f = H5Fopen(path.c_str(), mode == Mode::read ? H5F_ACC_RDONLY : H5F_ACC_RDWR, fapl.get());
  if (f < 0) {
    auto msgs = hdf5_error_messages();
    std::string all;
    for (const auto& m : msgs) all += m + "; ";
    bool truncated = all.find("truncated") != std::string::npos;
    std::string inner = msgs.empty() ? std::string() : " (HDF5: " + msgs.back() + ")";
    if (truncated)
      PHYSML_THROW("HDF5 file '", path, "' is truncated (", fs::file_size(path, ec),
                   " bytes on disk, fewer than the file records); it was not written completely", inner);
    PHYSML_THROW("cannot open HDF5 file '", path, "' for ", mode == Mode::read ? "reading" : "writing",
                 " (damaged file or no permission)", inner);
  }
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->file = f;
  impl->mode = mode;
  return H5File(std::move(impl));
}

H5File H5File::create(const std::string& path) {
  check_writable_path(path, "HDF5 file");
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->tmp_path = temporary_path(path);
  impl->created = true;
  impl->mode = Mode::read_write;
  QuietHdf5 quiet;
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
  impl->file = H5Fcreate(impl->tmp_path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get());
  if (impl->file < 0) {
    std::string reason = hdf5_reason(), tmp = impl->tmp_path;
    impl->tmp_path.clear();
    // The name is ours alone (temporary_path): on a full disk open(2) succeeds and the first
    // write fails, so an empty temporary may be left; remove it.
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    PHYSML_THROW("cannot create HDF5 file '", path, "' (temporary '", tmp, "')", reason);
  }
  return H5File(std::move(impl));
}

H5File H5File::create(const std::string& path, MPI_Comm comm) {
  int size = 1, rank = 0;
  MPI_Comm_size(comm, &size);
  if (size == 1) return create(path);
  MPI_Comm_rank(comm, &rank);
  // Rank 0 checks the directory and names the temporary; every rank opens that name.
  std::string tmp;
  run_collectively(comm, [&] {
    if (rank != 0) return;
    check_writable_path(path, "HDF5 file");
    tmp = temporary_path(path);
  });
  int len = static_cast<int>(tmp.size());
  MPI_Bcast(&len, 1, MPI_INT, 0, comm);
  tmp.resize(static_cast<std::size_t>(len));
  MPI_Bcast(tmp.data(), len, MPI_CHAR, 0, comm);

  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->created = true;
  impl->mode = Mode::read_write;
  impl->rank = rank;
  impl->size = size;
  MPI_Comm_dup(comm, &impl->comm);
  QuietHdf5 quiet;
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
  H5Pset_fapl_mpio(fapl.get(), impl->comm, MPI_INFO_NULL);
  impl->file = H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get());
  const std::string reason = impl->file < 0 ? hdf5_reason() : std::string();
  impl->tmp_path = tmp;
  try {
    run_collectively(comm, [&] {
      PHYSML_CHECK(impl->file >= 0, "cannot create HDF5 file '", path, "' on ", size, " ranks (temporary '", tmp, "')",
                   reason);
    });
  } catch (...) {
    // H5Fcreate is collective: MPI-IO fails it on every rank alike (a missing directory, no
    // permission, a full disk), and then no rank holds a file. (Should it ever succeed on some
    // ranks only, their H5Fclose, being collective, would wait for the others.)
    if (impl->file >= 0) H5Fclose(impl->file);
    impl->file = -1;
    H5Eclear2(H5E_DEFAULT);
    std::error_code ignored;
    if (rank == 0) fs::remove(tmp, ignored);
    impl->tmp_path.clear();
    throw;
  }
  return H5File(std::move(impl));
}

int H5File::ranks() const { return impl_->size; }

const std::string& H5File::path() const { return impl_->path; }

void H5File::flush() {
  impl_->check_open();
  QuietHdf5 quiet;
  if (impl_->mode == Mode::read_write) impl_->check_writable();
  impl_->collective([&] {
    if (H5Fflush(impl_->file, H5F_SCOPE_GLOBAL) < 0) impl_->write_failed("cannot flush HDF5 file '" + impl_->path + "'");
  });
}

void H5File::commit() {
  impl_->check_open();
  QuietHdf5 quiet;
  if (impl_->parallel()) {
    impl_->check_writable();
    // Every rank flushes and closes (collective); then rank 0 publishes the complete file.
    impl_->collective([&] {
      if (H5Fflush(impl_->file, H5F_SCOPE_GLOBAL) < 0)
        PHYSML_THROW("cannot write HDF5 file '", impl_->path, "' on ", impl_->size, " ranks", hdf5_reason());
    });
    const herr_t rc = H5Fclose(impl_->file);
    impl_->file = -1;
    const std::string reason = rc < 0 ? hdf5_reason() : std::string();
    impl_->collective([&] { PHYSML_CHECK(rc >= 0, "cannot close HDF5 file '", impl_->path, "'", reason); });
    impl_->collective([&] {
      if (impl_->rank != 0) return;
      const std::string tmp = impl_->tmp_path;
      impl_->tmp_path.clear();  // publish_file removes it on failure
      publish_file(tmp, impl_->path);
    });
    impl_->tmp_path.clear();
    impl_->created = false;
    return;
  }
  if (impl_->mode == Mode::read_write) {
    impl_->check_writable();
    // Everything is written by this flush, so the close below has nothing left to fail on.
    if (H5Fflush(impl_->file, H5F_SCOPE_GLOBAL) < 0) {
      std::string reason = hdf5_reason();
      impl_->abandon();
      PHYSML_THROW("cannot write HDF5 file '", impl_->path, "'", reason);
    }
  }
  herr_t rc = H5Fclose(impl_->file);
  impl_->file = -1;
  if (rc < 0) {
    std::string reason = hdf5_reason();
    impl_->abandon();
    PHYSML_THROW("cannot close HDF5 file '", impl_->path, "'", reason);
  }
  if (!impl_->created) return;
  try {
    publish_file(impl_->tmp_path, impl_->path);
  } catch (...) {
    impl_->tmp_path.clear();  // publish_file removed it
    throw;
  }
  impl_->tmp_path.clear();
  impl_->created = false;
}

void H5File::write(const std::string& name, const at::Tensor& t) {
  if (impl_->parallel()) {
    // Collective: every rank creates the dataset; rank 0 writes its data (independent I/O).
    // Only rank 0's tensor is looked at (checked, agreed on, then its dtype and shape sent):
    // the other ranks may pass anything, even an undefined tensor.
    impl_->check_writable();
    std::int64_t meta[2 + 15] = {};
    impl_->collective([&] {
      if (impl_->rank != 0) return;
      PHYSML_CHECK(t.defined(), "cannot write an undefined tensor to ", impl_->where(name));
      PHYSML_CHECK(t.dim() <= 15, "cannot write a tensor of ", t.dim(), " dimensions to ", impl_->where(name));
      meta[0] = static_cast<std::int64_t>(t.scalar_type());
      meta[1] = t.dim();
      for (std::int64_t i = 0; i < t.dim(); ++i) meta[2 + i] = t.size(i);
    });
    MPI_Bcast(meta, 17, MPI_INT64_T, 0, impl_->comm);
    const auto dtype = static_cast<c10::ScalarType>(meta[0]);
    const std::vector<std::int64_t> shape(meta + 2, meta + 2 + meta[1]);
    impl_->collective([&] {
      Handle dset = impl_->create_dataset(name, dtype, shape);
      if (impl_->rank != 0 || t.numel() == 0) return;
      at::Tensor c = t.detach().to(at::kCPU).contiguous();
      QuietHdf5 quiet;
      if (H5Dwrite(dset.get(), h5_types(dtype, name).memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, c.data_ptr()) < 0)
        impl_->write_failed("cannot write dataset " + impl_->where(name));
    });
    return;
  }
  PHYSML_CHECK(t.defined(), "cannot write an undefined tensor to ", impl_->where(name));
  at::Tensor c = t.detach().to(at::kCPU).contiguous();
  TypePair types = h5_types(c.scalar_type(), "dataset " + impl_->where(name));
  Handle dset = impl_->create_dataset(name, c.scalar_type(), c.sizes().vec());
  QuietHdf5 quiet;
  if (c.numel() == 0) return;
  if (H5Dwrite(dset.get(), types.memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, c.data_ptr()) < 0 || H5Dflush(dset.get()) < 0)
    impl_->write_failed("cannot write dataset " + impl_->where(name));
}

void H5File::create_dataset(const std::string& name, c10::ScalarType dtype, const std::vector<std::int64_t>& shape) {
  impl_->collective([&] { impl_->create_dataset(name, dtype, shape); });
}

at::Tensor H5File::read(const std::string& name) const {
  Handle dset = impl_->open_dataset(name);
  QuietHdf5 quiet;
  c10::ScalarType dtype = impl_->stored_dtype(dset.get(), name);
  auto d = impl_->dims(dset.get(), name);
  at::Tensor out = torch::empty(to_shape(d), torch::TensorOptions().dtype(dtype));
  if (out.numel() == 0) return out;
  PHYSML_CHECK(H5Dread(dset.get(), h5_types(dtype, name).memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data_ptr()) >= 0,
               "cannot read dataset ", impl_->where(name), " (truncated or damaged file?)", hdf5_reason());
  return out;
}

at::Tensor H5File::read(const std::string& name, c10::ScalarType dtype, const std::vector<std::int64_t>& shape) const {
  {
    Handle dset = impl_->open_dataset(name);
    QuietHdf5 quiet;
    c10::ScalarType stored = impl_->stored_dtype(dset.get(), name);
    PHYSML_CHECK(stored == dtype, "dataset ", impl_->where(name), " has dtype ", dtype_name(stored), ", expected ",
                 dtype_name(dtype));
    if (!shape.empty()) {
      auto d = to_shape(impl_->dims(dset.get(), name));
      bool ok = d.size() == shape.size();
      for (std::size_t i = 0; ok && i < d.size(); ++i) ok = shape[i] < 0 || shape[i] == d[i];
      PHYSML_CHECK(ok, "dataset ", impl_->where(name), " has shape ", shape_str(d), ", expected ", shape_str(shape),
                   " (-1 = any extent)");
    }
  }
  return read(name);
}

std::vector<std::int64_t> H5File::shape(const std::string& name) const {
  Handle dset = impl_->open_dataset(name);
  QuietHdf5 quiet;
  return to_shape(impl_->dims(dset.get(), name));
}

c10::ScalarType H5File::dtype(const std::string& name) const {
  Handle dset = impl_->open_dataset(name);
  QuietHdf5 quiet;
  return impl_->stored_dtype(dset.get(), name);
}

at::Tensor H5File::read_rows(const std::string& name, std::int64_t begin, std::int64_t end) const {
  Handle dset = impl_->open_dataset(name);
  QuietHdf5 quiet;
  c10::ScalarType dtype = impl_->stored_dtype(dset.get(), name);
  auto d = impl_->dims(dset.get(), name);
  PHYSML_CHECK(!d.empty(), "dataset ", impl_->where(name), " is a scalar; cannot read rows of it");
  auto n = static_cast<std::int64_t>(d[0]);
  PHYSML_CHECK(0 <= begin && begin <= end && end <= n, "rows [", begin, ", ", end, ") out of range for dataset ",
               impl_->where(name), " with ", n, " rows");
  std::vector<hsize_t> start(d.size(), 0), count = d;
  start[0] = static_cast<hsize_t>(begin);
  count[0] = static_cast<hsize_t>(end - begin);
  at::Tensor out = torch::empty(to_shape(count), torch::TensorOptions().dtype(dtype));
  if (out.numel() == 0) return out;
  Handle fspace(H5Dget_space(dset.get()), H5Sclose);
  H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
  Handle mspace(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr), H5Sclose);
  PHYSML_CHECK(H5Dread(dset.get(), h5_types(dtype, name).memory, mspace.get(), fspace.get(), H5P_DEFAULT,
                       out.data_ptr()) >= 0,
               "cannot read rows [", begin, ", ", end, ") of dataset ", impl_->where(name),
               " (truncated or damaged file?)", hdf5_reason());
  return out;
}

void H5File::write_rows(const std::string& name, std::int64_t begin, const at::Tensor& rows) {
  impl_->check_writable();
  Handle dset;
  c10::ScalarType dtype = c10::ScalarType::Undefined;
  std::vector<hsize_t> d;
  // Checks first (on a parallel file every rank agrees on them before the collective write).
  impl_->collective([&] {
    PHYSML_CHECK(rows.defined(), "cannot write undefined rows to ", impl_->where(name));
    dset = impl_->open_dataset(name);
    QuietHdf5 quiet;
    dtype = impl_->stored_dtype(dset.get(), name);
    PHYSML_CHECK(rows.scalar_type() == dtype, "cannot write rows of dtype ", dtype_name(rows.scalar_type()),
                 " into dataset ", impl_->where(name), " of dtype ", dtype_name(dtype));
    d = impl_->dims(dset.get(), name);
    auto ds = to_shape(d);
    PHYSML_CHECK(!d.empty() && rows.dim() == static_cast<std::int64_t>(d.size()), "rows of shape ",
                 shape_str(rows.sizes().vec()), " do not fit dataset ", impl_->where(name), " of shape ", shape_str(ds));
    for (std::size_t i = 1; i < d.size(); ++i)
      PHYSML_CHECK(rows.size(static_cast<std::int64_t>(i)) == ds[i], "rows of shape ", shape_str(rows.sizes().vec()),
                   " do not fit dataset ", impl_->where(name), " of shape ", shape_str(ds));
    PHYSML_CHECK(begin >= 0 && begin + rows.size(0) <= ds[0], "rows [", begin, ", ", begin + rows.size(0),
                 ") out of range for dataset ", impl_->where(name), " with ", ds[0], " rows");
  });
  if (rows.numel() == 0 && !impl_->parallel()) return;
  QuietHdf5 quiet;
  at::Tensor c = rows.detach().to(at::kCPU).contiguous();
  std::vector<hsize_t> start(d.size(), 0), count = d;
  start[0] = static_cast<hsize_t>(begin);
  count[0] = static_cast<hsize_t>(c.size(0));
  Handle fspace(H5Dget_space(dset.get()), H5Sclose);
  std::vector<hsize_t> mdims = count;
  if (c.numel() == 0) {
    // A rank with no rows still takes part in the collective write, selecting nothing.
    std::fill(mdims.begin(), mdims.end(), hsize_t{1});
    H5Sselect_none(fspace.get());
  } else {
    H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
  }
  Handle mspace(H5Screate_simple(static_cast<int>(mdims.size()), mdims.data(), nullptr), H5Sclose);
  if (c.numel() == 0) H5Sselect_none(mspace.get());
  double dummy[1] = {0};
  void* buffer = c.numel() == 0 ? static_cast<void*>(dummy) : c.data_ptr();
  if (impl_->parallel()) {
    Handle dxpl(H5Pcreate(H5P_DATASET_XFER), H5Pclose);
    H5Pset_dxpl_mpio(dxpl.get(), H5FD_MPIO_COLLECTIVE);
    const herr_t rc = H5Dwrite(dset.get(), h5_types(dtype, name).memory, mspace.get(), fspace.get(), dxpl.get(), buffer);
    const std::string reason = rc < 0 ? hdf5_reason() : std::string();
    impl_->collective([&] {
      PHYSML_CHECK(rc >= 0, "cannot write rows [", begin, ", ", begin + c.size(0), ") of dataset ", impl_->where(name),
                   " on rank ", impl_->rank, reason);
    });
    return;
  }
  if (H5Dwrite(dset.get(), h5_types(dtype, name).memory, mspace.get(), fspace.get(), H5P_DEFAULT, buffer) < 0 ||
      H5Dflush(dset.get()) < 0)
    impl_->write_failed("cannot write rows of dataset " + impl_->where(name));
}

bool H5File::write_failed() const { return impl_->broken; }

bool H5File::exists(const std::string& name) const {
  QuietHdf5 quiet;
  bool e = impl_->exists(name);
  H5Eclear2(H5E_DEFAULT);
  return e;
}

namespace {
herr_t collect_link(hid_t, const char* name, const H5L_info_t*, void* client) {
  static_cast<std::vector<std::string>*>(client)->emplace_back(name);
  return 0;
}
herr_t collect_attr(hid_t, const char* name, const H5A_info_t*, void* client) {
  static_cast<std::vector<std::string>*>(client)->emplace_back(name);
  return 0;
}
}  // namespace

std::vector<std::string> H5File::list(const std::string& group) const {
  Handle obj = impl_->open_object(group);
  QuietHdf5 quiet;
  H5O_info_t info;
  PHYSML_CHECK(H5Oget_info(obj.get(), &info) >= 0 && info.type == H5O_TYPE_GROUP, impl_->where(group),
               " is not a group");
  std::vector<std::string> names;
  hsize_t idx = 0;
  PHYSML_CHECK(H5Literate(obj.get(), H5_INDEX_NAME, H5_ITER_INC, &idx, collect_link, &names) >= 0,
               "cannot list group ", impl_->where(group), hdf5_reason());
  std::sort(names.begin(), names.end());
  return names;
}

void H5File::create_group(const std::string& name) {
  impl_->check_writable();
  QuietHdf5 quiet;
  impl_->collective([&] {
    if (impl_->exists(name)) return;
    impl_->create_groups_for(norm(name) + "/");
  });
}

// ---------------------------------------------------------------------------------------
// Attributes

namespace {
/// Rank 0's attribute value on every rank of comm.
Attribute broadcast_attribute(const Attribute& value, MPI_Comm comm) {
  std::int64_t head[2] = {static_cast<std::int64_t>(value.index()), 0};
  std::string text;
  std::vector<double> reals;
  std::int64_t integer = 0;
  if (const auto* s = std::get_if<std::string>(&value)) text = *s, head[1] = static_cast<std::int64_t>(s->size());
  if (const auto* i = std::get_if<std::int64_t>(&value)) integer = *i;
  if (const auto* r = std::get_if<double>(&value)) reals = {*r}, head[1] = 1;
  if (const auto* v = std::get_if<std::vector<double>>(&value)) reals = *v, head[1] = static_cast<std::int64_t>(v->size());
  MPI_Bcast(head, 2, MPI_INT64_T, 0, comm);
  switch (head[0]) {
    case 0:
      text.resize(static_cast<std::size_t>(head[1]));
      MPI_Bcast(text.data(), static_cast<int>(head[1]), MPI_CHAR, 0, comm);
      return text;
    case 1: MPI_Bcast(&integer, 1, MPI_INT64_T, 0, comm); return integer;
    case 2:
      reals.resize(1);
      MPI_Bcast(reals.data(), 1, MPI_DOUBLE, 0, comm);
      return reals[0];
    default:
      reals.resize(static_cast<std::size_t>(head[1]));
      MPI_Bcast(reals.data(), static_cast<int>(head[1]), MPI_DOUBLE, 0, comm);
      return reals;
  }
}
}  // namespace

void H5File::set_attribute(const std::string& object, const std::string& key, const Attribute& value) {
  if (impl_->parallel()) {
    impl_->check_writable();
    // Collective: rank 0's value on every rank (a timestamp may differ between ranks).
    const Attribute v = broadcast_attribute(value, impl_->comm);
    impl_->collective([&] { set_attribute_here(object, key, v); });
    return;
  }
  set_attribute_here(object, key, value);
}

void H5File::set_attribute_here(const std::string& object, const std::string& key, const Attribute& value) {
  impl_->check_writable();
  QuietHdf5 quiet;
  if (!impl_->exists(object)) impl_->create_groups_for(norm(object) + "/");
  Handle obj = impl_->open_object(object);
  if (H5Aexists(obj.get(), key.c_str()) > 0)
    PHYSML_CHECK(H5Adelete(obj.get(), key.c_str()) >= 0, "cannot replace attribute '", key, "' of ",
                 impl_->where(object), hdf5_reason());
  auto fail = [&]() { PHYSML_THROW("cannot write attribute '", key, "' of ", impl_->where(object), hdf5_reason()); };
  if (const auto* s = std::get_if<std::string>(&value)) {
    Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(type.get(), H5T_VARIABLE);
    H5Tset_cset(type.get(), H5T_CSET_UTF8);
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    Handle attr(H5Acreate2(obj.get(), key.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    const char* p = s->c_str();
    if (!attr.valid() || H5Awrite(attr.get(), type.get(), &p) < 0) fail();
  } else if (const auto* i = std::get_if<std::int64_t>(&value)) {
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    Handle attr(H5Acreate2(obj.get(), key.c_str(), H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    if (!attr.valid() || H5Awrite(attr.get(), H5T_NATIVE_INT64, i) < 0) fail();
  } else if (const auto* r = std::get_if<double>(&value)) {
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    Handle attr(H5Acreate2(obj.get(), key.c_str(), H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    if (!attr.valid() || H5Awrite(attr.get(), H5T_NATIVE_DOUBLE, r) < 0) fail();
  } else {
    const auto& v = std::get<std::vector<double>>(value);
    hsize_t n = v.size();
    Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose);
    Handle attr(H5Acreate2(obj.get(), key.c_str(), H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    if (!attr.valid() || (n > 0 && H5Awrite(attr.get(), H5T_NATIVE_DOUBLE, v.data()) < 0)) fail();
  }
}

std::optional<Attribute> H5File::find_attribute(const std::string& object, const std::string& key) const {
  impl_->check_open();
  QuietHdf5 quiet;
  if (!impl_->exists(object)) return std::nullopt;
  Handle obj = impl_->open_object(object);
  if (H5Aexists(obj.get(), key.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return std::nullopt;
  }
  std::string what = "attribute '" + key + "' of " + impl_->where(object);
  Handle attr(H5Aopen(obj.get(), key.c_str(), H5P_DEFAULT), H5Aclose);
  PHYSML_CHECK(attr.valid(), "cannot open ", what, hdf5_reason());
  Handle type(H5Aget_type(attr.get()), H5Tclose);
  Handle space(H5Aget_space(attr.get()), H5Sclose);
  H5T_class_t cls = H5Tget_class(type.get());
  int rank = H5Sget_simple_extent_ndims(space.get());
  hssize_t n = H5Sget_simple_extent_npoints(space.get());
  PHYSML_CHECK(rank >= 0 && n >= 0, "cannot read the shape of ", what, hdf5_reason());
  if (cls == H5T_STRING) {
    PHYSML_CHECK(n == 1, what, " holds ", n, " strings; expected one");
    if (H5Tis_variable_str(type.get()) > 0) {
      Handle mtype(H5Tcopy(H5T_C_S1), H5Tclose);
      H5Tset_size(mtype.get(), H5T_VARIABLE);
      H5Tset_cset(mtype.get(), H5Tget_cset(type.get()));
      char* p = nullptr;
      PHYSML_CHECK(H5Aread(attr.get(), mtype.get(), &p) >= 0, "cannot read ", what, hdf5_reason());
      std::string s = p ? p : "";
      H5free_memory(p);
      return Attribute(s);
    }
    std::size_t size = H5Tget_size(type.get());
    std::string s(size, '\0');
    Handle mtype(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mtype.get(), size);
    PHYSML_CHECK(H5Aread(attr.get(), mtype.get(), s.data()) >= 0, "cannot read ", what, hdf5_reason());
    s.resize(std::strlen(s.c_str()));
    return Attribute(s);
  }
  if (cls == H5T_INTEGER && rank == 0) {
    std::int64_t v = 0;
    PHYSML_CHECK(H5Aread(attr.get(), H5T_NATIVE_INT64, &v) >= 0, "cannot read ", what, hdf5_reason());
    return Attribute(v);
  }
  if (cls == H5T_FLOAT && rank == 0) {
    double v = 0;
    PHYSML_CHECK(H5Aread(attr.get(), H5T_NATIVE_DOUBLE, &v) >= 0, "cannot read ", what, hdf5_reason());
    return Attribute(v);
  }
  if ((cls == H5T_FLOAT || cls == H5T_INTEGER) && rank == 1) {
    std::vector<double> v(static_cast<std::size_t>(n));
    if (n > 0)
      PHYSML_CHECK(H5Aread(attr.get(), H5T_NATIVE_DOUBLE, v.data()) >= 0, "cannot read ", what, hdf5_reason());
    return Attribute(v);
  }
  PHYSML_THROW(what, " has a type PhysML does not read (expected a string, an integer, a real or a list of reals)");
}

Attribute H5File::attribute(const std::string& object, const std::string& key) const {
  auto a = find_attribute(object, key);
  PHYSML_CHECK(a.has_value(), "missing attribute '", key, "' of ", impl_->where(object));
  return *a;
}

Attributes H5File::attributes(const std::string& object) const {
  std::vector<std::string> names;
  {
    Handle obj = impl_->open_object(object);
    QuietHdf5 quiet;
    hsize_t idx = 0;
    PHYSML_CHECK(H5Aiterate2(obj.get(), H5_INDEX_NAME, H5_ITER_INC, &idx, collect_attr, &names) >= 0,
                 "cannot list the attributes of ", impl_->where(object), hdf5_reason());
  }
  Attributes out;
  for (const auto& n : names) out.emplace(n, attribute(object, n));
  return out;
}

namespace {
const char* kind(const Attribute& a) {
  switch (a.index()) {
    case 0: return "a string";
    case 1: return "an integer";
    case 2: return "a real";
    default: return "a list of reals";
  }
}
}  // namespace

std::string H5File::attribute_string(const std::string& object, const std::string& key) const {
  Attribute a = attribute(object, key);
  const auto* s = std::get_if<std::string>(&a);
  PHYSML_CHECK(s, "attribute '", key, "' of ", impl_->where(object), " is ", kind(a), ", expected a string");
  return *s;
}

std::int64_t H5File::attribute_int(const std::string& object, const std::string& key) const {
  Attribute a = attribute(object, key);
  const auto* i = std::get_if<std::int64_t>(&a);
  PHYSML_CHECK(i, "attribute '", key, "' of ", impl_->where(object), " is ", kind(a), ", expected an integer");
  return *i;
}

double H5File::attribute_real(const std::string& object, const std::string& key) const {
  Attribute a = attribute(object, key);
  if (const auto* i = std::get_if<std::int64_t>(&a)) return static_cast<double>(*i);
  const auto* r = std::get_if<double>(&a);
  PHYSML_CHECK(r, "attribute '", key, "' of ", impl_->where(object), " is ", kind(a), ", expected a real");
  return *r;
}

void stamp_file(H5File& f, const std::string& format, std::int64_t format_version) {
  f.set_attribute("/", "format", format);
  f.set_attribute("/", "format_version", format_version);
  f.set_attribute("/", "physml_version", std::string(PHYSML_VERSION_STRING));
  f.set_attribute("/", "torch_version", std::string(TORCH_VERSION));
  std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  f.set_attribute("/", "created", std::string(buf));
}

void check_format(const H5File& f, const std::string& format, std::int64_t max_version) {
  auto fmt = f.find_attribute("/", "format");
  const auto* s = fmt ? std::get_if<std::string>(&*fmt) : nullptr;
  PHYSML_CHECK(s, "HDF5 file '", f.path(), "' is not a PhysML file: it has no string attribute 'format' (expected '",
               format, "')");
  PHYSML_CHECK(*s == format, "HDF5 file '", f.path(), "' holds format '", *s, "', expected '", format, "'");
  std::int64_t v = f.attribute_int("/", "format_version");
  PHYSML_CHECK(v >= 1 && v <= max_version, "HDF5 file '", f.path(), "' has ", format, " format_version ", v,
               "; this PhysML reads versions 1 to ", max_version);
}

}  // namespace physml::io
