// PhysML Dataset files (see physml/io/dataset.hpp and docs/file-formats.md).
#include "physml/io/dataset.hpp"

#include "physml/core/error.hpp"
#include "physml/io/atomic_file.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <set>

namespace fs = std::filesystem;

namespace physml::io {

namespace {

constexpr const char* kFormat = "physml.dataset";
constexpr std::int64_t kVersion = 1;

const std::set<std::string>& reserved_attributes() {
  static const std::set<std::string> r = {"format", "format_version", "physml_version", "torch_version", "created",
                                          "generator", "parameters", "grid", "seed", "dtype"};
  return r;
}

std::string sizes_str(const std::map<std::string, std::int64_t>& m) {
  std::string s = "{";
  bool first = true;
  for (const auto& [k, v] : m) {
    s += (first ? "" : ", ") + k + ": " + std::to_string(v);
    first = false;
  }
  return s + "}";
}

void validate(const DatasetInfo& info) {
  PHYSML_CHECK(!info.generator.empty(), "DatasetInfo.generator is empty: name the generator (e.g. \"darcy\")");
  PHYSML_CHECK(!info.split_sizes.empty(), "DatasetInfo.split_sizes is empty: give at least one split (e.g. train)");
  for (const auto& [name, n] : info.split_sizes) {
    PHYSML_CHECK(!name.empty() && name.find('/') == std::string::npos && name != "." && name != "..",
                 "invalid split name '", name, "': expected a plain name such as train, valid or test");
    PHYSML_CHECK(n >= 0, "split '", name, "' has negative size ", n);
  }
  auto check_shape = [](const std::vector<std::int64_t>& s, const char* what) {
    PHYSML_CHECK(!s.empty(), "DatasetInfo.", what, " is empty: expected [C, spatial...]");
    for (auto e : s) PHYSML_CHECK(e > 0, "DatasetInfo.", what, " ", shape_string(s), " has a non-positive extent");
  };
  check_shape(info.input_shape, "input_shape");
  check_shape(info.output_shape, "output_shape");
  PHYSML_CHECK(info.dtype == c10::ScalarType::Float || info.dtype == c10::ScalarType::Double,
               "DatasetInfo.dtype is ", dtype_name(info.dtype), ": expected float32 or float64");
}

/// Read the DatasetInfo a (complete or partial) Dataset file describes.
DatasetInfo read_info(const H5File& f) {
  check_format(f, kFormat, kVersion);
  DatasetInfo info;
  info.generator = f.attribute_string("/", "generator");
  info.parameters_json = f.attribute_string("/", "parameters");
  info.grid_json = f.attribute_string("/", "grid");
  info.seed = f.attribute_int("/", "seed");
  info.dtype = dtype_from_name(f.attribute_string("/", "dtype"));
  bool first = true;
  for (const auto& name : f.list("/")) {
    if (!f.exists(name + "/inputs")) continue;
    auto in = f.shape(name + "/inputs");
    auto out = f.shape(name + "/outputs");
    PHYSML_CHECK(in.size() >= 2 && out.size() >= 2 && in[0] == out[0], "Dataset file '", f.path(), "': split '", name,
                 "' has inputs ", shape_string(in), " and outputs ", shape_string(out),
                 ", expected [N, C, spatial...] with the same N");
    f.read(name + "/done", c10::ScalarType::Byte, {in[0]});  // checks presence, dtype, shape
    PHYSML_CHECK(f.dtype(name + "/inputs") == info.dtype && f.dtype(name + "/outputs") == info.dtype,
                 "Dataset file '", f.path(), "': split '", name, "' stores inputs as ",
                 dtype_name(f.dtype(name + "/inputs")), " and outputs as ", dtype_name(f.dtype(name + "/outputs")),
                 ", expected ", dtype_name(info.dtype), " as the dtype attribute says");
    std::vector<std::int64_t> ins(in.begin() + 1, in.end()), outs(out.begin() + 1, out.end());
    if (first) {
      info.input_shape = ins;
      info.output_shape = outs;
      first = false;
    } else {
      PHYSML_CHECK(ins == info.input_shape && outs == info.output_shape, "Dataset file '", f.path(), "': split '",
                   name, "' has sample shapes ", shape_string(ins), " -> ", shape_string(outs), ", other splits ",
                   shape_string(info.input_shape), " -> ", shape_string(info.output_shape),
                   "; expected the same sample shapes in every split");
    }
    info.split_sizes[name] = in[0];
  }
  PHYSML_CHECK(!first, "Dataset file '", f.path(), "' has no split (no group with an 'inputs' dataset)");
  return info;
}

}  // namespace

std::string first_difference(const DatasetInfo& a, const DatasetInfo& b) {
  auto diff = [](const char* field, const std::string& x, const std::string& y) {
    return std::string(field) + ": " + x + " in the file, " + y + " requested";
  };
  if (a.generator != b.generator) return diff("generator", "'" + a.generator + "'", "'" + b.generator + "'");
  if (a.parameters_json != b.parameters_json) return diff("parameters", a.parameters_json, b.parameters_json);
  if (a.grid_json != b.grid_json) return diff("grid", a.grid_json, b.grid_json);
  if (a.seed != b.seed) return diff("seed", std::to_string(a.seed), std::to_string(b.seed));
  if (a.split_sizes != b.split_sizes) return diff("split_sizes", sizes_str(a.split_sizes), sizes_str(b.split_sizes));
  if (a.input_shape != b.input_shape)
    return diff("input_shape", shape_string(a.input_shape), shape_string(b.input_shape));
  if (a.output_shape != b.output_shape)
    return diff("output_shape", shape_string(a.output_shape), shape_string(b.output_shape));
  if (a.dtype != b.dtype) return diff("dtype", dtype_name(a.dtype), dtype_name(b.dtype));
  return "";
}

// ---------------------------------------------------------------------------------------
// DatasetWriter

struct DatasetWriter::Impl {
  std::string path, partial;
  DatasetInfo info;
  bool complete = false;  // <path> existed with identical info
  bool finished = false;
  std::optional<H5File> file;
  std::map<std::string, std::vector<std::uint8_t>> done;

  std::vector<std::uint8_t>& done_of(const std::string& split) {
    auto it = done.find(split);
    if (it == done.end()) {
      std::string known;
      for (const auto& [k, v] : info.split_sizes) known += (known.empty() ? "" : ", ") + k;
      PHYSML_THROW("unknown split '", split, "' of Dataset '", path, "': its splits are ", known);
    }
    return it->second;
  }
  void check_writing(const char* what) const {
    PHYSML_CHECK(!complete, "Dataset '", path, "' is already complete with these settings; nothing to ", what,
                 " (check already_complete() first)");
    PHYSML_CHECK(!finished, "Dataset '", path, "' was finished; cannot ", what);
  }
};

DatasetWriter::DatasetWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DatasetWriter::DatasetWriter(DatasetWriter&&) noexcept = default;
DatasetWriter& DatasetWriter::operator=(DatasetWriter&&) noexcept = default;
DatasetWriter::~DatasetWriter() = default;

DatasetWriter DatasetWriter::open(const std::string& path, const DatasetInfo& info) {
  validate(info);
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->partial = path + ".partial";
  impl->info = info;
  std::error_code ec;
  if (fs::exists(path, ec)) {
    DatasetInfo existing;
    {
      H5File f = H5File::open(path);
      existing = read_info(f);
    }
    std::string d = first_difference(existing, info);
    PHYSML_CHECK(d.empty(), "Dataset file '", path, "' already exists with different settings (", d,
                 "); delete it or write to another path");
    impl->complete = true;
    return DatasetWriter(std::move(impl));
  }
  if (fs::exists(impl->partial, ec)) {
    // Compare read-only first, so a mismatch leaves the partial file untouched.
    DatasetInfo existing;
    try {
      H5File f = H5File::open(impl->partial);
      existing = read_info(f);
    } catch (const physml::Error& e) {
      PHYSML_THROW("cannot resume the partial Dataset file '", impl->partial, "': ", e.what(),
                   "; delete it to start over");
    }
    std::string d = first_difference(existing, info);
    PHYSML_CHECK(d.empty(), "partial Dataset file '", impl->partial, "' was started with different settings (", d,
                 "); delete it to start over or use the same settings");
  } else {
    H5File f = H5File::create(impl->partial);
    stamp_file(f, kFormat, kVersion);
    f.set_attribute("/", "generator", info.generator);
    f.set_attribute("/", "parameters", info.parameters_json);
    f.set_attribute("/", "grid", info.grid_json);
    f.set_attribute("/", "seed", info.seed);
    f.set_attribute("/", "dtype", dtype_name(info.dtype));
    for (const auto& [split, n] : info.split_sizes) {
      std::vector<std::int64_t> in{n}, out{n};
      in.insert(in.end(), info.input_shape.begin(), info.input_shape.end());
      out.insert(out.end(), info.output_shape.begin(), info.output_shape.end());
      f.create_dataset(split + "/inputs", info.dtype, in);
      f.create_dataset(split + "/outputs", info.dtype, out);
      f.create_dataset(split + "/done", c10::ScalarType::Byte, {n});
    }
    f.commit();
  }
  impl->file.emplace(H5File::open(impl->partial, H5File::Mode::read_write));
  for (const auto& [split, n] : info.split_sizes) {
    at::Tensor d = impl->file->read(split + "/done", c10::ScalarType::Byte, {n});
    auto* p = d.data_ptr<std::uint8_t>();
    impl->done[split].assign(p, p + n);
  }
  return DatasetWriter(std::move(impl));
}

bool DatasetWriter::already_complete() const { return impl_->complete; }
bool DatasetWriter::write_failed() const { return impl_->file && impl_->file->write_failed(); }
const std::string& DatasetWriter::path() const { return impl_->path; }
const DatasetInfo& DatasetWriter::info() const { return impl_->info; }

bool DatasetWriter::has_sample(const std::string& split, std::int64_t index) const {
  if (impl_->complete) {
    auto it = impl_->info.split_sizes.find(split);
    PHYSML_CHECK(it != impl_->info.split_sizes.end(), "unknown split '", split, "' of Dataset '", impl_->path, "'");
    PHYSML_CHECK(0 <= index && index < it->second, "sample index ", index, " out of range for split '", split,
                 "' with ", it->second, " samples");
    return true;
  }
  const auto& d = impl_->done_of(split);
  PHYSML_CHECK(0 <= index && index < static_cast<std::int64_t>(d.size()), "sample index ", index,
               " out of range for split '", split, "' with ", d.size(), " samples");
  return d[static_cast<std::size_t>(index)] != 0;
}

std::int64_t DatasetWriter::missing(const std::string& split) const {
  if (impl_->complete) {
    PHYSML_CHECK(impl_->info.split_sizes.count(split), "unknown split '", split, "' of Dataset '", impl_->path, "'");
    return 0;
  }
  const auto& d = impl_->done_of(split);
  return static_cast<std::int64_t>(std::count(d.begin(), d.end(), std::uint8_t(0)));
}

void DatasetWriter::write_sample(const std::string& split, std::int64_t index, const at::Tensor& input,
                                 const at::Tensor& output) {
  impl_->check_writing("write");
  auto& d = impl_->done_of(split);
  PHYSML_CHECK(0 <= index && index < static_cast<std::int64_t>(d.size()), "sample index ", index,
               " out of range for split '", split, "' with ", d.size(), " samples");
  auto prepare = [&](const at::Tensor& t, const std::vector<std::int64_t>& shape, const char* what) {
    PHYSML_CHECK(t.defined(), "undefined ", what, " tensor for sample ", index, " of split '", split, "'");
    PHYSML_CHECK(t.sizes().vec() == shape, what, " of sample ", index, " of split '", split, "' has shape ",
                 shape_string(t.sizes().vec()), ", expected ", shape_string(shape), " ([C, spatial...])");
    PHYSML_CHECK(t.is_floating_point(), what, " of sample ", index, " of split '", split, "' has dtype ",
                 dtype_name(t.scalar_type()), ", expected a floating dtype");
    at::Tensor c = t.detach().to(torch::kCPU, impl_->info.dtype).contiguous();
    PHYSML_CHECK(torch::isfinite(c).all().item<bool>(), what, " of sample ", index, " of split '", split,
                 "' contains NaN or Inf values (after conversion to ", dtype_name(impl_->info.dtype), ")");
    return c.unsqueeze(0);
  };
  at::Tensor in = prepare(input, impl_->info.input_shape, "input");
  at::Tensor out = prepare(output, impl_->info.output_shape, "output");
  auto& f = *impl_->file;
  f.write_rows(split + "/inputs", index, in);
  f.write_rows(split + "/outputs", index, out);
  f.write_rows(split + "/done", index, torch::ones({1}, torch::kUInt8));  // only after the data
  f.flush();
  d[static_cast<std::size_t>(index)] = 1;
}

void DatasetWriter::set_attribute(const std::string& key, const Attribute& value) {
  impl_->check_writing("set attributes");
  PHYSML_CHECK(!key.empty() && !reserved_attributes().count(key), "attribute name '", key,
               "' is reserved by the Dataset layout (or empty); choose another name");
  impl_->file->set_attribute("/", key, value);
  impl_->file->flush();
}

void DatasetWriter::finish() {
  if (impl_->complete) return;
  PHYSML_CHECK(!impl_->finished, "Dataset '", impl_->path, "' was already finished");
  for (const auto& [split, d] : impl_->done) {
    auto it = std::find(d.begin(), d.end(), std::uint8_t(0));
    if (it != d.end())
      PHYSML_THROW("Dataset '", impl_->path, "' is incomplete: split '", split, "' misses ",
                   std::count(d.begin(), d.end(), std::uint8_t(0)), " of ", d.size(), " samples (first missing index ",
                   it - d.begin(), "); the partial file '", impl_->partial, "' is kept for resuming");
  }
  impl_->file->commit();  // flush and close (in place: opened read_write)
  impl_->file.reset();
  publish_partial(impl_->partial, impl_->path);
  impl_->finished = true;
}

// ---------------------------------------------------------------------------------------
// DatasetReader

struct DatasetReader::Impl {
  H5File file;
  DatasetInfo info;
  explicit Impl(H5File f) : file(std::move(f)) {}

  std::int64_t size(const std::string& split) const {
    auto it = info.split_sizes.find(split);
    if (it == info.split_sizes.end()) {
      std::string known;
      for (const auto& [k, v] : info.split_sizes) known += (known.empty() ? "" : ", ") + k;
      PHYSML_THROW("Dataset file '", file.path(), "' has no split '", split, "'; its splits are ", known);
    }
    return it->second;
  }
};

DatasetReader::DatasetReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DatasetReader::DatasetReader(DatasetReader&&) noexcept = default;
DatasetReader& DatasetReader::operator=(DatasetReader&&) noexcept = default;
DatasetReader::~DatasetReader() = default;

DatasetReader DatasetReader::open(const std::string& path) {
  auto impl = std::make_unique<Impl>(H5File::open(path));
  impl->info = read_info(impl->file);
  for (const auto& [split, n] : impl->info.split_sizes) {
    at::Tensor done = impl->file.read(split + "/done");
    std::int64_t missing = n - done.sum().item<std::int64_t>();
    PHYSML_CHECK(missing == 0, "Dataset file '", path, "' is incomplete: split '", split, "' misses ", missing, " of ",
                 n, " samples (an unfinished generation?)");
  }
  return DatasetReader(std::move(impl));
}

const DatasetInfo& DatasetReader::info() const { return impl_->info; }
const H5File& DatasetReader::file() const { return impl_->file; }

std::vector<std::string> DatasetReader::splits() const {
  std::vector<std::string> s;
  for (const auto& [k, v] : impl_->info.split_sizes) s.push_back(k);
  return s;
}

std::int64_t DatasetReader::size(const std::string& split) const { return impl_->size(split); }

at::Tensor DatasetReader::read(const std::string& split, const std::string& field, std::int64_t begin,
                               std::int64_t end) const {
  PHYSML_CHECK(field == "inputs" || field == "outputs", "unknown Dataset field '", field,
               "': expected 'inputs' or 'outputs'");
  std::int64_t n = impl_->size(split);
  PHYSML_CHECK(0 <= begin && begin <= end && end <= n, "rows [", begin, ", ", end, ") out of range for split '",
               split, "' of Dataset file '", impl_->file.path(), "' with ", n, " samples");
  at::Tensor rows = impl_->file.read_rows(split + "/" + field, begin, end);
  // One reduction per read; the first offending value is located only when it fails.
  if (rows.is_floating_point() && !torch::isfinite(rows).all().item<bool>()) {
    const at::Tensor flat = torch::logical_not(torch::isfinite(rows.contiguous())).reshape({-1});
    const std::int64_t first = flat.nonzero().index({0, 0}).item<std::int64_t>();
    const std::int64_t per_sample = rows.numel() / rows.size(0);
    const std::int64_t sample = begin + first / per_sample, flat_index = first % per_sample;
    const std::int64_t per_channel = rows.dim() >= 2 ? per_sample / rows.size(1) : per_sample;
    const double value = rows.contiguous().reshape({-1})[first].item<double>();
    throw NonFiniteError(detail::concat("Dataset file '", impl_->file.path(), "' has a non-finite value (", value,
                                        ") in split '", split, "', ", field, " of sample ", sample, ", flat index ",
                                        flat_index, " (channel ", flat_index / per_channel, ", point ",
                                        flat_index % per_channel, " of [C, spatial...] ",
                                        shape_string(field == "inputs" ? impl_->info.input_shape
                                                                         : impl_->info.output_shape),
                                        "); expected finite data (fix or regenerate the file)"),
                         __FILE__, __LINE__);
  }
  return rows;
}

Attribute DatasetReader::attribute(const std::string& key) const { return impl_->file.attribute("/", key); }

std::string content_checksum(const DatasetReader& reader) {
  std::uint64_t h = 1469598103934665603ULL;
  for (const auto& split : reader.splits())
    for (const char* field : {"inputs", "outputs"}) {
      // The raw rows, not read(): a file with NaN still has a checksum (physml info shows it).
      auto t = reader.file().read_rows(split + "/" + field, 0, reader.size(split)).contiguous();
      const auto* p = static_cast<const unsigned char*>(t.data_ptr());
      const auto nbytes = static_cast<size_t>(t.numel()) * t.element_size();
      for (size_t i = 0; i < nbytes; ++i) h = (h ^ p[i]) * 1099511628211ULL;
    }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace physml::io
