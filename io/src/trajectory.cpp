#include "physml/io/trajectory.hpp"

#include "physml/core/error.hpp"
#include "physml/io/atomic_file.hpp"

#include <torch/torch.h>

#include <filesystem>
#include <optional>
#include <sstream>

namespace physml::io {
namespace {

namespace fs = std::filesystem;
constexpr const char* kFormat = "physml.trajectory";
constexpr std::int64_t kVersion = 1;

std::string shape_text(const std::vector<std::int64_t>& s) {
  std::ostringstream o;
  o << '[';
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << ']';
  return o.str();
}

std::string fields_text(const std::map<std::string, std::vector<std::int64_t>>& f) {
  std::string s;
  for (const auto& [k, v] : f) s += (s.empty() ? "" : ", ") + k + shape_text(v);
  return "{" + s + "}";
}

const char* dtype_text(c10::ScalarType t) { return t == c10::ScalarType::Double ? "float64" : "float32"; }

TrajectoryInfo read_info(const H5File& f) {
  check_format(f, kFormat, kVersion);
  TrajectoryInfo info;
  info.simulator = f.attribute_string("/", "simulator");
  info.parameters_json = f.attribute_string("/", "parameters");
  info.grid_json = f.attribute_string("/", "grid");
  info.particles = f.attribute_int("/", "particles");
  info.frames = f.attribute_int("/", "frames");
  info.frame_dt = f.attribute_real("/", "frame_dt");
  const std::string dt = f.attribute_string("/", "dtype");
  PHYSML_CHECK(dt == "float32" || dt == "float64", "Trajectory file '", f.path(), "': dtype '", dt,
               "', expected float32 or float64");
  info.dtype = dt == "float64" ? c10::ScalarType::Double : c10::ScalarType::Float;
  for (const auto& name : f.list("frames")) {
    if (name == "time" || name == "done") continue;
    auto shape = f.shape("frames/" + name);
    PHYSML_CHECK(shape.size() >= 2 && shape[0] == info.frames && shape[1] == info.particles, "Trajectory file '",
                 f.path(), "': frames/", name, " has shape ", shape_text(shape), ", expected [", info.frames, ", ",
                 info.particles, ", ...]");
    info.fields[name] = std::vector<std::int64_t>(shape.begin() + 2, shape.end());
  }
  PHYSML_CHECK(!info.fields.empty(), "Trajectory file '", f.path(), "' has no per-frame field under /frames");
  return info;
}

void validate(const TrajectoryInfo& info, const std::string& path) {
  PHYSML_CHECK(info.particles > 0 && info.frames > 0, "Trajectory '", path, "': particles (", info.particles,
               ") and frames (", info.frames, ") must be positive");
  PHYSML_CHECK(!info.fields.empty(), "Trajectory '", path, "': no per-frame field given");
  PHYSML_CHECK(info.dtype == c10::ScalarType::Float || info.dtype == c10::ScalarType::Double, "Trajectory '", path,
               "': dtype must be float32 or float64");
  for (const auto& [k, v] : info.fields)
    PHYSML_CHECK(!k.empty() && k != "time" && k != "done", "Trajectory '", path, "': field name '", k, "' is reserved");
}

}  // namespace

std::string first_difference(const TrajectoryInfo& a, const TrajectoryInfo& b) {
  auto diff = [](const char* field, const std::string& x, const std::string& y) {
    return std::string(field) + ": " + x + " in the file, " + y + " requested";
  };
  if (a.simulator != b.simulator) return diff("simulator", a.simulator, b.simulator);
  if (a.parameters_json != b.parameters_json) return diff("parameters", a.parameters_json, b.parameters_json);
  if (a.grid_json != b.grid_json) return diff("grid", a.grid_json, b.grid_json);
  if (a.particles != b.particles) return diff("particles", std::to_string(a.particles), std::to_string(b.particles));
  if (a.frames != b.frames) return diff("frames", std::to_string(a.frames), std::to_string(b.frames));
  if (a.frame_dt != b.frame_dt) return diff("frame_dt", std::to_string(a.frame_dt), std::to_string(b.frame_dt));
  if (a.fields != b.fields) return diff("fields", fields_text(a.fields), fields_text(b.fields));
  if (a.dtype != b.dtype) return diff("dtype", dtype_text(a.dtype), dtype_text(b.dtype));
  return "";
}

// ---------------------------------------------------------------------------------------

struct TrajectoryWriter::Impl {
  std::string path, partial;
  TrajectoryInfo info;
  bool complete = false, finished = false;
  std::int64_t written = 0;
  std::optional<H5File> file;
  void check_writing(const char* what) const {
    PHYSML_CHECK(!complete && !finished && file, "cannot ", what, ": Trajectory '", path,
                 complete ? "' is already complete" : "' was finished");
  }
};

TrajectoryWriter::TrajectoryWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TrajectoryWriter::TrajectoryWriter(TrajectoryWriter&&) noexcept = default;
TrajectoryWriter& TrajectoryWriter::operator=(TrajectoryWriter&&) noexcept = default;
TrajectoryWriter::~TrajectoryWriter() = default;

TrajectoryWriter TrajectoryWriter::open(const std::string& path, const TrajectoryInfo& info) {
  validate(info, path);
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->partial = path + ".partial";
  impl->info = info;
  std::error_code ec;
  if (fs::exists(path, ec)) {
    TrajectoryInfo existing;
    try {
      existing = read_info(H5File::open(path));
    } catch (const physml::Error& e) {
      PHYSML_THROW("'", path, "' exists and is not a Trajectory file (", e.what(), "); delete it or write elsewhere");
    }
    const std::string d = first_difference(existing, info);
    PHYSML_CHECK(d.empty(), "Trajectory file '", path, "' already exists with different settings (", d,
                 "); delete it or write to another path");
    impl->complete = true;
    impl->written = info.frames;
    return TrajectoryWriter(std::move(impl));
  }
  if (fs::exists(impl->partial, ec)) {
    TrajectoryInfo existing;
    try {
      existing = read_info(H5File::open(impl->partial));
    } catch (const physml::Error& e) {
      PHYSML_THROW("cannot resume the partial Trajectory file '", impl->partial, "': ", e.what(), "; delete it to start over");
    }
    const std::string d = first_difference(existing, info);
    PHYSML_CHECK(d.empty(), "partial Trajectory file '", impl->partial, "' was started with different settings (", d,
                 "); delete it to start over or use the same settings");
  } else {
    H5File f = H5File::create(impl->partial);
    stamp_file(f, kFormat, kVersion);
    f.set_attribute("/", "simulator", info.simulator);
    f.set_attribute("/", "parameters", info.parameters_json);
    f.set_attribute("/", "grid", info.grid_json);
    f.set_attribute("/", "particles", info.particles);
    f.set_attribute("/", "frames", info.frames);
    f.set_attribute("/", "frame_dt", info.frame_dt);
    f.set_attribute("/", "dtype", std::string(dtype_text(info.dtype)));
    f.create_dataset("frames/time", c10::ScalarType::Double, {info.frames});
    f.create_dataset("frames/done", c10::ScalarType::Byte, {info.frames});
    for (const auto& [name, shape] : info.fields) {
      std::vector<std::int64_t> full{info.frames, info.particles};
      full.insert(full.end(), shape.begin(), shape.end());
      f.create_dataset("frames/" + name, info.dtype, full);
    }
    f.commit();
  }
  impl->file.emplace(H5File::open(impl->partial, H5File::Mode::read_write));
  auto done = impl->file->read("frames/done", c10::ScalarType::Byte, {info.frames});
  const auto* p = done.data_ptr<std::uint8_t>();
  while (impl->written < info.frames && p[impl->written]) ++impl->written;
  return TrajectoryWriter(std::move(impl));
}

std::int64_t TrajectoryWriter::frames_written() const { return impl_->written; }
bool TrajectoryWriter::already_complete() const { return impl_->complete; }
const std::string& TrajectoryWriter::path() const { return impl_->path; }
const TrajectoryInfo& TrajectoryWriter::info() const { return impl_->info; }

void TrajectoryWriter::write_particles(const std::map<std::string, at::Tensor>& constants) {
  impl_->check_writing("write particle constants");
  for (const auto& [name, t] : constants) {
    PHYSML_CHECK(t.defined() && t.dim() >= 1 && t.size(0) == impl_->info.particles, "particle constant '", name,
                 "' must be [", impl_->info.particles, ", ...], got ", t.defined() ? shape_text(t.sizes().vec()) : "undefined");
    const std::string key = "particles/" + name;
    if (impl_->file->exists(key)) continue;  // resumed: written before
    impl_->file->write(key, t.detach().cpu().contiguous());
  }
  impl_->file->flush();
}

std::map<std::string, at::Tensor> TrajectoryWriter::particles() const {
  std::map<std::string, at::Tensor> out;
  if (!impl_->file || !impl_->file->exists("particles")) return out;
  for (const auto& name : impl_->file->list("particles")) out[name] = impl_->file->read("particles/" + name);
  return out;
}

void TrajectoryWriter::write_frame(std::int64_t k, double time, const std::map<std::string, at::Tensor>& fields,
                                   const std::map<std::string, at::Tensor>& state) {
  impl_->check_writing("write a frame");
  const auto& info = impl_->info;
  PHYSML_CHECK(k == impl_->written, "Trajectory '", impl_->path, "': frame ", k, " written out of order (next is ",
               impl_->written, ")");
  PHYSML_CHECK(k < info.frames, "Trajectory '", impl_->path, "': frame ", k, " beyond the ", info.frames, " frames");
  PHYSML_CHECK(std::isfinite(time), "Trajectory '", impl_->path, "': frame ", k, " has a non-finite time");
  std::map<std::string, at::Tensor> rows;
  for (const auto& [name, shape] : info.fields) {
    auto it = fields.find(name);
    PHYSML_CHECK(it != fields.end() && it->second.defined(), "Trajectory '", impl_->path, "': frame ", k,
                 " lacks field '", name, "'");
    std::vector<std::int64_t> want{info.particles};
    want.insert(want.end(), shape.begin(), shape.end());
    PHYSML_CHECK(it->second.sizes().vec() == want, "Trajectory '", impl_->path, "': field '", name, "' of frame ", k,
                 " has shape ", shape_text(it->second.sizes().vec()), ", expected ", shape_text(want));
    at::Tensor c = it->second.detach().to(torch::kCPU, info.dtype).contiguous();
    PHYSML_CHECK(torch::isfinite(c).all().item<bool>(), "Trajectory '", impl_->path, "': field '", name, "' of frame ",
                 k, " contains NaN or Inf");
    rows[name] = c.unsqueeze(0);
  }
  PHYSML_CHECK(fields.size() == info.fields.size(), "Trajectory '", impl_->path, "': frame ", k, " has ", fields.size(),
               " fields, the file ", info.fields.size(), " ", fields_text(info.fields));
  auto& f = *impl_->file;
  for (const auto& [name, r] : rows) f.write_rows("frames/" + name, k, r);
  f.write_rows("frames/time", k, torch::full({1}, time, torch::kDouble));
  // Two slots used in turn (frame k's state into resume<k % 2>), overwritten in place so the
  // file does not grow per frame: a run killed while writing frame k's state (before its done
  // flag) leaves the other slot, frame k-1's state, whole. With one slot a SIGKILL could leave
  // a mix of two frames' state that still claims to be frame k-1's.
  const std::string slot = "resume" + std::to_string(k % 2) + "/";
  for (const auto& [name, t] : state) {
    const std::string key = slot + name;
    at::Tensor c = t.detach().cpu().contiguous();
    if (c.dim() == 0) c = c.reshape({1});
    if (!f.exists(key)) {
      f.write(key, c);
      continue;
    }
    PHYSML_CHECK(f.shape(key) == c.sizes().vec() && f.dtype(key) == c.scalar_type(), "Trajectory '", impl_->path,
                 "': resume state '", name, "' changed shape or dtype");
    f.write_rows(key, 0, c);
  }
  f.write_rows("frames/done", k, torch::ones({1}, torch::kUInt8));  // only after the data
  f.flush();
  ++impl_->written;
}

std::map<std::string, at::Tensor> TrajectoryWriter::resume_state() const {
  std::map<std::string, at::Tensor> out;
  if (!impl_->file || impl_->written == 0) return out;
  // The slot of the last complete frame; "resume" is the single slot of files of earlier versions.
  std::string group = "resume" + std::to_string((impl_->written - 1) % 2);
  if (!impl_->file->exists(group)) group = "resume";
  if (!impl_->file->exists(group)) return out;
  for (const auto& name : impl_->file->list(group)) out[name] = impl_->file->read(group + "/" + name);
  return out;
}

void TrajectoryWriter::finish() {
  if (impl_->complete) return;
  PHYSML_CHECK(!impl_->finished, "Trajectory '", impl_->path, "' was already finished");
  PHYSML_CHECK(impl_->written == impl_->info.frames, "Trajectory '", impl_->path, "' is incomplete: ", impl_->written,
               " of ", impl_->info.frames, " frames; the partial file '", impl_->partial, "' is kept for resuming");
  impl_->file->commit();  // flush and close (in place: opened read_write)
  impl_->file.reset();
  publish_partial(impl_->partial, impl_->path);
  impl_->finished = true;
}

// ---------------------------------------------------------------------------------------

struct TrajectoryReader::Impl {
  H5File file;
  TrajectoryInfo info;
  explicit Impl(H5File f) : file(std::move(f)) {}
};

TrajectoryReader::TrajectoryReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TrajectoryReader::TrajectoryReader(TrajectoryReader&&) noexcept = default;
TrajectoryReader& TrajectoryReader::operator=(TrajectoryReader&&) noexcept = default;
TrajectoryReader::~TrajectoryReader() = default;

TrajectoryReader TrajectoryReader::open(const std::string& path) {
  std::error_code ec;
  PHYSML_CHECK(fs::exists(path, ec), "Trajectory file '", path, "' does not exist",
               fs::exists(path + ".partial", ec) ? " (a .partial file exists: the run was interrupted; rerun it to finish)" : "");
  auto impl = std::make_unique<Impl>(H5File::open(path));
  impl->info = read_info(impl->file);
  auto done = impl->file.read("frames/done", c10::ScalarType::Byte, {impl->info.frames});
  PHYSML_CHECK(done.all().item<bool>(), "Trajectory file '", path, "' has unwritten frames");
  return TrajectoryReader(std::move(impl));
}

const TrajectoryInfo& TrajectoryReader::info() const { return impl_->info; }

at::Tensor TrajectoryReader::read(const std::string& field, std::int64_t begin, std::int64_t end) const {
  if (!impl_->info.fields.count(field)) {
    std::string known;
    for (const auto& [k, v] : impl_->info.fields) known += (known.empty() ? "" : ", ") + k;
    PHYSML_THROW("Trajectory file '", impl_->file.path(), "' has no field '", field, "'; its fields are ", known);
  }
  PHYSML_CHECK(0 <= begin && begin <= end && end <= impl_->info.frames, "Trajectory file '", impl_->file.path(),
               "': frames [", begin, ", ", end, ") out of range (", impl_->info.frames, " frames)");
  return impl_->file.read_rows("frames/" + field, begin, end);
}

at::Tensor TrajectoryReader::times() const {
  return impl_->file.read("frames/time", c10::ScalarType::Double, {impl_->info.frames});
}

at::Tensor TrajectoryReader::particle(const std::string& name) const {
  PHYSML_CHECK(impl_->file.exists("particles/" + name), "Trajectory file '", impl_->file.path(),
               "' has no particle constant '", name, "'");
  return impl_->file.read("particles/" + name);
}

}  // namespace physml::io
