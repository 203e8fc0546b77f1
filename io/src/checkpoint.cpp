// PhysML Checkpoint files (see physml/io/checkpoint.hpp and docs/file-formats.md).
#include "physml/io/checkpoint.hpp"

#include "physml/core/error.hpp"

#include <torch/torch.h>

#include <sstream>

namespace physml::io {

namespace {

constexpr const char* kFormat = "physml.checkpoint";
constexpr std::int64_t kVersion = 1;

void check_name(const std::string& name, const char* what) {
  PHYSML_CHECK(!name.empty() && name.find('/') == std::string::npos, "cannot store ", what, " '", name,
               "' in a Checkpoint: names must be non-empty and contain no '/'");
}

/// Tensors stored under `group` ("parameters" or "buffers"), by name.
std::map<std::string, at::Tensor> read_group(const H5File& f, const std::string& group) {
  std::map<std::string, at::Tensor> out;
  if (!f.exists(group)) return out;
  for (const auto& name : f.list(group)) out.emplace(name, f.read(group + "/" + name));
  return out;
}

/// Check stored tensors against a module's tensors of one kind; returns the pairs to copy.
std::vector<std::pair<at::Tensor, at::Tensor>> match(const std::string& path, const char* kind,
                                                     const torch::OrderedDict<std::string, at::Tensor>& wanted,
                                                     const std::map<std::string, at::Tensor>& stored) {
  std::vector<std::pair<at::Tensor, at::Tensor>> pairs;
  std::size_t used = 0;
  for (const auto& item : wanted) {
    if (!item.value().defined()) continue;
    auto it = stored.find(item.key());
    PHYSML_CHECK(it != stored.end(), "Checkpoint '", path, "' has no ", kind, " '", item.key(),
                 "' that the module has (is it a checkpoint of another model or configuration?)");
    const at::Tensor& t = it->second;
    PHYSML_CHECK(t.sizes() == item.value().sizes(), "Checkpoint '", path, "': ", kind, " '", item.key(),
                 "' has shape ", shape_string(t.sizes().vec()), " in the file, the module expects ",
                 shape_string(item.value().sizes().vec()));
    PHYSML_CHECK(t.is_floating_point() == item.value().is_floating_point(), "Checkpoint '", path, "': ", kind, " '",
                 item.key(), "' has dtype ", dtype_name(t.scalar_type()), " in the file, the module expects ",
                 dtype_name(item.value().scalar_type()));
    pairs.emplace_back(item.value(), t);
    ++used;
  }
  if (used != stored.size()) {
    for (const auto& [name, t] : stored)
      PHYSML_CHECK(wanted.contains(name) && wanted[name].defined(), "Checkpoint '", path, "' has an extra ", kind, " '",
                   name, "' ", shape_string(t.sizes().vec()), " that the module does not have");
  }
  return pairs;
}

}  // namespace

void save_checkpoint(const std::string& path, const torch::nn::Module& m, const std::string& model_type,
                     const std::map<std::string, std::string>& config, const Attributes& state,
                     torch::optim::Optimizer* optimizer) {
  PHYSML_CHECK(!model_type.empty(), "save_checkpoint('", path, "'): model_type is empty");
  H5File f = H5File::create(path);
  stamp_file(f, kFormat, kVersion);
  f.set_attribute("/", "model_type", model_type);
  f.create_group("config");
  for (const auto& [k, v] : config) f.set_attribute("config", k, v);
  f.create_group("parameters");
  for (const auto& p : m.named_parameters()) {
    check_name(p.key(), "parameter");
    f.write("parameters/" + p.key(), p.value());
  }
  f.create_group("buffers");
  for (const auto& b : m.named_buffers()) {
    if (!b.value().defined()) continue;
    check_name(b.key(), "buffer");
    f.write("buffers/" + b.key(), b.value());
  }
  f.create_group("state");
  for (const auto& [k, v] : state) f.set_attribute("state", k, v);
  if (optimizer) {
    torch::serialize::OutputArchive archive;
    optimizer->save(archive);
    std::ostringstream os;
    archive.save_to(os);
    std::string bytes = os.str();
    at::Tensor blob = torch::empty({static_cast<std::int64_t>(bytes.size())}, torch::kUInt8);
    std::memcpy(blob.data_ptr(), bytes.data(), bytes.size());
    f.write("optimizer", blob);
    f.set_attribute("optimizer", "encoding", std::string("torch::save (OutputArchive::save_to), LibTorch zip archive"));
  }
  f.commit();
}

CheckpointInfo read_checkpoint_info(const std::string& path) {
  H5File f = H5File::open(path);
  check_format(f, kFormat, kVersion);
  CheckpointInfo info;
  info.model_type = f.attribute_string("/", "model_type");
  if (f.exists("config")) {
    for (const auto& [k, v] : f.attributes("config")) {
      const auto* s = std::get_if<std::string>(&v);
      PHYSML_CHECK(s, "Checkpoint '", path, "': config option '", k, "' is not stored as a string");
      info.config[k] = *s;
    }
  }
  if (f.exists("state")) info.state = f.attributes("state");
  info.has_optimizer = f.exists("optimizer");
  return info;
}

std::map<std::string, at::Tensor> read_checkpoint_tensors(const std::string& path) {
  H5File f = H5File::open(path);
  check_format(f, kFormat, kVersion);
  auto out = read_group(f, "parameters");
  for (auto& [k, v] : read_group(f, "buffers")) out.emplace(k, v);
  return out;
}

void load_checkpoint(const std::string& path, torch::nn::Module& m, torch::optim::Optimizer* optimizer) {
  H5File f = H5File::open(path);
  check_format(f, kFormat, kVersion);
  auto params = match(path, "parameter", m.named_parameters(), read_group(f, "parameters"));
  auto buffers = match(path, "buffer", m.named_buffers(), read_group(f, "buffers"));
  if (optimizer) {
    PHYSML_CHECK(f.exists("optimizer"), "Checkpoint '", path, "' holds no optimizer state (saved without optimizer)");
    // The weights would be converted to the module's dtype, the optimizer's moments not: the
    // restored training state would mix dtypes (not an exact resume), so refuse.
    for (const auto& [dst, src] : params)
      PHYSML_CHECK(src.scalar_type() == dst.scalar_type(), "Checkpoint '", path, "' holds the parameters in ",
                   dtype_name(src.scalar_type()), " but the module's are ", dtype_name(dst.scalar_type()),
                   "; restoring the optimizer state (an exact resume) needs the dtype the run started with");
    at::Tensor blob = f.read("optimizer", torch::kUInt8, {-1});
    torch::serialize::InputArchive archive;
    try {
      archive.load_from(static_cast<const char*>(blob.data_ptr()), static_cast<std::size_t>(blob.numel()));
      optimizer->load(archive);
    } catch (const c10::Error& e) {
      PHYSML_THROW("Checkpoint '", path, "': cannot restore the optimizer state (another optimizer type or parameter "
                   "set?): ", e.what_without_backtrace());
    }
  }
  torch::NoGradGuard no_grad;
  for (auto& [dst, src] : params) dst.copy_(src);
  for (auto& [dst, src] : buffers) dst.copy_(src);
}

}  // namespace physml::io
