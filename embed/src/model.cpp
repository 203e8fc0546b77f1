#include "physml/embed/model.hpp"

#include "physml/core/options_reader.hpp"
#include "physml/core/views.hpp"
#include "physml/io/atomic_file.hpp"
#include "physml/io/checkpoint.hpp"
#include "physml/io/torchscript.hpp"
#include "physml/operators/checkpoint.hpp"
#include "physml/operators/registry.hpp"

#include <torch/script.h>
#include <torch/torch.h>

#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <sstream>

namespace physml::embed {
namespace {

template <typename E, typename... Args>
[[noreturn]] void raise(const char* file, int line, const Args&... args) {
  throw E(detail::concat(args...), file, line);
}
#define PHYSML_EMBED_THROW(Type, ...) raise<Type>(__FILE__, __LINE__, __VA_ARGS__)

std::string shape_text(at::IntArrayRef shape) {
  std::ostringstream os;
  os << '[';
  for (std::size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  return os.str() + ']';
}

std::string shapes_text(const std::vector<at::Tensor>& tensors) {
  std::string s;
  for (std::size_t i = 0; i < tensors.size(); ++i) s += (i ? ", " : "") + shape_text(tensors[i].sizes());
  return tensors.empty() ? "(no inputs)" : s;
}

std::string spec_text(const std::vector<std::int64_t>& shape) {
  std::ostringstream os;
  os << '[';
  for (std::size_t i = 0; i < shape.size(); ++i) {
    os << (i ? ", " : "");
    if (shape[i] < 0)
      os << '*';
    else
      os << shape[i];
  }
  return os.str() + ']';
}

/// The floating dtype of the first floating parameter or buffer (Float if there is none).
c10::ScalarType floating_dtype(const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  for (const auto& [n, t] : tensors)
    if (t.defined() && t.is_floating_point()) return t.scalar_type();
  return c10::ScalarType::Undefined;
}

c10::ScalarType parse_dtype(const std::string& name) {
  if (name == "float32" || name == "float") return torch::kFloat32;
  if (name == "float64" || name == "double") return torch::kFloat64;
  PHYSML_EMBED_THROW(DTypeError, "model dtype '", name, "' is not one of float32, float64");
}

/// A torch::nn::Module tree over the tensors of a jit module (same TensorImpls, same names),
/// so the Checkpoint writer/reader and the optimizers see the TorchScript parameters.
std::shared_ptr<torch::nn::Module> adapter_of(const torch::jit::Module& m) {
  auto a = std::make_shared<torch::nn::Module>("TorchScriptModule");
  for (const auto& p : m.named_parameters(/*recurse=*/false)) a->register_parameter(p.name, p.value, true);
  for (const auto& b : m.named_buffers(/*recurse=*/false))
    if (b.value.defined()) a->register_buffer(b.name, b.value);
  for (const auto& c : m.named_children()) a->register_module(c.name, adapter_of(c.value));
  return a;
}

std::vector<at::Tensor> tensors_of(const c10::IValue& v, const char* what) {
  if (v.isTensor()) return {v.toTensor()};
  std::vector<at::Tensor> out;
  if (v.isTuple()) {
    for (const auto& e : v.toTupleRef().elements()) {
      PHYSML_CHECK(e.isTensor(), what, " returned a tuple with a ", e.tagKind(), ", expected tensors only");
      out.push_back(e.toTensor());
    }
    return out;
  }
  if (v.isTensorList()) {
    for (const auto& t : v.toTensorVector()) out.push_back(t);
    return out;
  }
  if (v.isList()) {
    for (const auto& e : v.toListRef()) {
      PHYSML_CHECK(e.isTensor(), what, " returned a list with a ", e.tagKind(), ", expected tensors only");
      out.push_back(e.toTensor());
    }
    return out;
  }
  PHYSML_THROW(what, " returned a ", v.tagKind(), ", expected a tensor, a tuple or a list of tensors");
}

/// Whether all n values are finite: |x| <= max fails for NaN and +-Inf; an integer OR
/// reduction, which the compiler vectorizes (a bool &= std::isfinite loop runs 4x slower).
template <typename T>
bool finite_values(const T* p, std::int64_t n) {
  const T max = std::numeric_limits<T>::max();
  int bad = 0;
  for (std::int64_t i = 0; i < n; ++i) bad |= !(std::fabs(p[i]) <= max);
  return bad == 0;
}

/// Whether every element is finite. Dense CPU float/double tensors are scanned in place (no
/// temporaries: this runs on every call); others through torch::isfinite.
bool all_finite(const at::Tensor& t) {
  if (!t.is_floating_point()) return true;
  if (t.device().is_cpu() && t.is_contiguous()) {
    if (t.scalar_type() == torch::kFloat32) return finite_values(t.data_ptr<float>(), t.numel());
    if (t.scalar_type() == torch::kFloat64) return finite_values(t.data_ptr<double>(), t.numel());
  }
  return torch::isfinite(t).all().item<bool>();
}

}  // namespace

// ---- ArrayView -------------------------------------------------------------------------

std::vector<std::int64_t> ArrayView::effective_strides() const {
  if (!strides.empty()) return strides;
  std::vector<std::int64_t> s(shape.size());
  std::int64_t step = 1;
  if (layout == Layout::RowMajor) {
    for (std::size_t k = shape.size(); k-- > 0;) {
      s[k] = step;
      step *= shape[k];
    }
  } else {
    for (std::size_t k = 0; k < shape.size(); ++k) {
      s[k] = step;
      step *= shape[k];
    }
  }
  return s;
}

at::Tensor as_tensor(const ArrayView& view, c10::Device device) {
  std::int64_t n = 1;
  for (auto e : view.shape) {
    if (e < 0) PHYSML_EMBED_THROW(ShapeError, "array of shape ", spec_text(view.shape), " has a negative extent");
    n *= e;
  }
  if (!view.strides.empty() && view.strides.size() != view.shape.size())
    PHYSML_EMBED_THROW(ShapeError, "array of shape ", spec_text(view.shape), " has ", view.strides.size(),
                       " strides, expected ", view.shape.size());
  PHYSML_CHECK(view.data != nullptr || n == 0, "array of shape ", spec_text(view.shape), " has a null data pointer");
  const auto strides = view.effective_strides();
  return torch::from_blob(view.data, view.shape, strides, torch::TensorOptions().dtype(view.dtype).device(device));
}

// ---- format detection ------------------------------------------------------------------

ModelFormat detect_format(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    PHYSML_EMBED_THROW(FileNotFoundError, "model file '", path, "' does not exist");
  if (std::filesystem::is_directory(path, ec))
    PHYSML_EMBED_THROW(FileFormatError, "model file '", path, "' is a directory; expected a PhysML Checkpoint or a TorchScript file");
  std::ifstream in(path, std::ios::binary);
  if (!in) PHYSML_EMBED_THROW(FileNotFoundError, "model file '", path, "' cannot be opened for reading");
  static const unsigned char hdf5[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  static const unsigned char zip[4] = {'P', 'K', 0x03, 0x04};
  std::array<unsigned char, 8> head{};
  in.read(reinterpret_cast<char*>(head.data()), 8);
  const auto got = in.gcount();
  if (got >= 4 && std::memcmp(head.data(), zip, 4) == 0) return ModelFormat::TorchScript;
  // The HDF5 superblock is at 0 or, after a user block, at 512, 1024, 2048, ...
  for (std::streamoff at = 0; got == 8; at = at ? 2 * at : 512) {
    in.clear();
    in.seekg(at);
    in.read(reinterpret_cast<char*>(head.data()), 8);
    if (in.gcount() < 8) break;
    if (std::memcmp(head.data(), hdf5, 8) == 0) return ModelFormat::PhysMLCheckpoint;
    if (at >= (std::streamoff(1) << 20)) break;
  }
  PHYSML_EMBED_THROW(FileFormatError, "model file '", path,
                     "' is neither a PhysML Checkpoint (HDF5) nor a TorchScript archive (zip); its first bytes "
                     "have neither signature");
}

std::string format_name(ModelFormat format) {
  return format == ModelFormat::TorchScript ? "torchscript" : "physml";
}

// ---- options ---------------------------------------------------------------------------

ModelOptions& ModelOptions::set_from_options(const Options& options) {
  OptionsReader r(options, "Embedded model (physml::embed::Model)");
  const auto device_name = r.string("device", device().str(), "device the model runs on: cpu, cuda, cuda:N");
  try {
    device(c10::Device(device_name));
  } catch (const c10::Error&) {
    PHYSML_THROW("option -", options.prefix(), "device: '", device_name,
                 "' is not a torch device; expected cpu, cuda or cuda:N");
  }
  dtype(r.choice("dtype", {"", "float32", "float64"}, dtype(),
                 "cast the model's parameters to this dtype at load (empty: keep the file's)"));
  check_finite(r.boolean("check_finite", check_finite(), "check inputs and outputs for NaN/Inf"));
  std::vector<long> first;
  if (!input_shapes().empty()) first.assign(input_shapes()[0].begin(), input_shapes()[0].end());
  const auto shape = r.int_list("input_shape", first, "expected shape of the (first) input, -1 for any extent");
  if (r.given("input_shape")) {
    auto shapes = input_shapes();
    if (shapes.empty()) shapes.resize(1);
    shapes[0].assign(shape.begin(), shape.end());
    input_shapes(shapes);
  }
  return *this;
}

// ---- Model -----------------------------------------------------------------------------

struct Model::Impl {
  ModelOptions options;
  ModelFormat format = ModelFormat::PhysMLCheckpoint;
  std::string path;
  std::shared_ptr<operators::Model> physml;
  std::optional<torch::jit::Module> script;
  std::shared_ptr<torch::nn::Module> adapter;  // TorchScript: the nn::Module view of `script`
  c10::ScalarType dtype = c10::ScalarType::Undefined;
  std::int64_t in_channels = -1;  // PhysML models with an in_channels option
  mutable std::shared_mutex mutex;

  void finish() {
    const auto want = options.dtype().empty() ? c10::ScalarType::Undefined : parse_dtype(options.dtype());
    if (physml) {
      if (want != c10::ScalarType::Undefined)
        physml->to(options.device(), want);
      else
        physml->to(options.device());
      physml->eval();
      auto cfg = physml->config();
      auto it = cfg.find("in_channels");
      if (it != cfg.end()) {
        try {
          in_channels = std::stoll(it->second);
        } catch (...) {
          in_channels = -1;
        }
      }
    } else {
      if (want != c10::ScalarType::Undefined)
        script->to(options.device(), want);
      else
        script->to(options.device());
      script->eval();
      adapter = adapter_of(*script);
    }
    std::vector<std::pair<std::string, at::Tensor>> named;
    for (const auto& item : module().named_parameters()) named.emplace_back(item.key(), item.value());
    for (const auto& item : module().named_buffers()) named.emplace_back(item.key(), item.value());
    dtype = floating_dtype(named);
  }

  torch::nn::Module& module() const { return physml ? static_cast<torch::nn::Module&>(*physml) : *adapter; }

  void check_inputs(const std::vector<at::Tensor>& inputs) const {
    const char* kind = physml ? "the PhysML model" : "the TorchScript model";
    if (physml && inputs.size() != 1)
      PHYSML_EMBED_THROW(ShapeError, kind, " '", physml->type(), "' takes 1 input tensor, got ", inputs.size());
    const auto& specs = options.input_shapes();
    if (!specs.empty() && specs.size() != inputs.size())
      PHYSML_EMBED_THROW(ShapeError, kind, " expects ", specs.size(), " inputs, got ", inputs.size());
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const auto& t = inputs[i];
      PHYSML_CHECK(t.defined(), "input ", i, " is an undefined tensor");
      if (dtype != c10::ScalarType::Undefined && t.is_floating_point() && t.scalar_type() != dtype)
        PHYSML_EMBED_THROW(DTypeError, "input ", i, " has dtype ", c10::toString(t.scalar_type()), ", ", kind,
                           " expects ", c10::toString(dtype),
                           " (the dtype of its parameters; load it with dtype float32/float64 to change it)");
      if (dtype != c10::ScalarType::Undefined && !t.is_floating_point())
        PHYSML_EMBED_THROW(DTypeError, "input ", i, " has dtype ", c10::toString(t.scalar_type()), ", ", kind,
                           " expects ", c10::toString(dtype));
      if (t.device() != options.device())
        PHYSML_EMBED_THROW(DTypeError, "input ", i, " is on device ", t.device().str(), ", ", kind, " runs on ",
                           options.device().str());
      if (i < specs.size()) {
        const auto& s = specs[i];
        bool ok = static_cast<std::size_t>(t.dim()) == s.size();
        for (std::size_t k = 0; ok && k < s.size(); ++k) ok = s[k] < 0 || s[k] == t.size(static_cast<int64_t>(k));
        if (!ok)
          PHYSML_EMBED_THROW(ShapeError, "input ", i, " has shape ", shape_text(t.sizes()), ", ", kind, " expects ",
                             spec_text(s));
      } else if (physml && in_channels > 0 && (t.dim() < 2 || t.size(1) != in_channels)) {
        PHYSML_EMBED_THROW(ShapeError, "input ", i, " has shape ", shape_text(t.sizes()), ", ", kind, " '",
                           physml->type(), "' expects [batch, ", in_channels, ", spatial...]");
      }
      if (options.check_finite() && !all_finite(t))
        throw NonFiniteError(detail::concat("input ", i, " of shape ", shape_text(t.sizes()), " contains NaN or Inf"),
                             __FILE__, __LINE__);
    }
  }

  std::vector<at::Tensor> run(const std::vector<at::Tensor>& inputs) const {
    check_inputs(inputs);
    std::vector<at::Tensor> out;
    try {
      if (physml) {
        out = {physml->forward(inputs[0])};
      } else {
        std::vector<c10::IValue> args(inputs.begin(), inputs.end());
        out = tensors_of(const_cast<torch::jit::Module&>(*script).forward(std::move(args)), "the TorchScript model");
      }
    } catch (const Error&) {
      throw;
    } catch (const c10::Error& e) {
      PHYSML_THROW("model forward failed on inputs of shape ", shapes_text(inputs), ": ", e.what_without_backtrace());
    } catch (const std::exception& e) {  // TorchScript interpreter errors (torch::jit::JITException)
      PHYSML_THROW("model forward failed on inputs of shape ", shapes_text(inputs), ": ", e.what());
    }
    if (options.check_finite())
      for (std::size_t i = 0; i < out.size(); ++i)
        if (!all_finite(out[i]))
          throw NonFiniteError(detail::concat("output ", i, " of the model contains NaN or Inf"), __FILE__, __LINE__);
    return out;
  }
};

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) { impl_->finish(); }

Model Model::load(const std::string& path, ModelOptions options) {
  const auto format = detect_format(path);
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->format = format;
  impl->path = path;
  if (format == ModelFormat::TorchScript) {
    try {
      impl->script = io::load_torchscript(path, impl->options.device());
    } catch (const Error& e) {
      PHYSML_EMBED_THROW(FileFormatError, "model file '", path, "' is a zip archive but not a TorchScript model: ",
                         e.what());
    }
    return Model(std::move(impl));
  }
  io::CheckpointInfo info;
  try {
    info = io::read_checkpoint_info(path);
  } catch (const Error& e) {
    PHYSML_EMBED_THROW(FileFormatError, "model file '", path, "' is an HDF5 file but not a PhysML Checkpoint: ",
                       e.what());
  }
  if (info.model_type != "torchscript") {
    impl->physml = operators::load(path);
    return Model(std::move(impl));
  }
  // An OnlineTrainer checkpoint of a TorchScript model: the module from its source file, then
  // the trained tensors from the checkpoint.
  auto source = info.config.find("source");
  if (source == info.config.end() || source->second.empty())
    PHYSML_EMBED_THROW(FileFormatError, "checkpoint '", path,
                       "' holds TorchScript weights but does not name its TorchScript source file");
  auto base = load(source->second, impl->options);
  io::load_checkpoint(path, base.module());
  base.impl_->path = path;
  return base;
}

Model::Model(std::shared_ptr<operators::Model> model, ModelOptions options) {
  PHYSML_CHECK(model != nullptr, "embed::Model: null model");
  impl_ = std::make_unique<Impl>();
  impl_->options = std::move(options);
  impl_->physml = std::move(model);
  impl_->finish();
}

Model::Model(const torch::jit::Module& module, ModelOptions options) {
  impl_ = std::make_unique<Impl>();
  impl_->options = std::move(options);
  impl_->format = ModelFormat::TorchScript;
  impl_->script = module;
  impl_->finish();
}

Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

std::vector<at::Tensor> Model::forward(const std::vector<at::Tensor>& inputs) const {
  std::shared_lock lock(impl_->mutex);
  torch::NoGradGuard no_grad;
  return impl_->run(inputs);
}

at::Tensor Model::forward(const at::Tensor& input) const {
  auto out = forward(std::vector<at::Tensor>{input});
  PHYSML_CHECK(out.size() == 1, "the model returned ", out.size(), " tensors, expected 1");
  return out[0];
}

void Model::forward(const std::vector<ArrayView>& inputs, const std::vector<ArrayView>& outputs) const {
  std::vector<at::Tensor> in;
  in.reserve(inputs.size());
  for (const auto& v : inputs) in.push_back(as_tensor(v, impl_->options.device()));
  const auto out = forward(in);
  if (out.size() != outputs.size())
    PHYSML_EMBED_THROW(ShapeError, "the model returned ", out.size(), " outputs, the caller gave ", outputs.size(),
                       " output arrays");
  for (std::size_t i = 0; i < out.size(); ++i) {
    auto dst = as_tensor(outputs[i], impl_->options.device());
    if (dst.scalar_type() != out[i].scalar_type())
      PHYSML_EMBED_THROW(DTypeError, "output array ", i, " has dtype ", c10::toString(dst.scalar_type()),
                         ", the model's output ", i, " has dtype ", c10::toString(out[i].scalar_type()));
    if (dst.sizes() != out[i].sizes())
      PHYSML_EMBED_THROW(ShapeError, "output array ", i, " has shape ", shape_text(dst.sizes()), ", the model's output ",
                         i, " has shape ", shape_text(out[i].sizes()));
    dst.copy_(out[i]);
  }
}

void Model::forward(Vec in, Vec out, std::vector<std::int64_t> in_shape, std::vector<std::int64_t> out_shape) const {
  PHYSML_CHECK(in != nullptr && out != nullptr, "Model::forward: null Vec");
  auto x = physml::as_tensor_read(in, std::move(in_shape));
  if (impl_->options.device() != x.device()) x = x.to(impl_->options.device());
  auto y = forward(x);
  {
    auto dst = physml::as_tensor(out, {});
    if (!out_shape.empty()) {
      std::int64_t n = 1;
      for (auto e : out_shape) n *= e;
      if (n != dst.numel())
        PHYSML_EMBED_THROW(ShapeError, "output Vec has ", dst.numel(), " local entries, the output shape ",
                           shape_text(out_shape), " has ", n);
      dst = dst.view(out_shape);
    }
    if (y.numel() != dst.numel() || (!out_shape.empty() && y.sizes() != dst.sizes()))
      PHYSML_EMBED_THROW(ShapeError, "output Vec viewed as ", shape_text(dst.sizes()), ", the model's output has shape ",
                         shape_text(y.sizes()));
    dst.view(y.sizes()).copy_(y);
  }
  mark_modified(out);
}

namespace {
/// The locally owned part of a DMDA vector as [1, dof, (zm,) ym, xm]: shape of the natural
/// ordering [(zm,) ym, xm, dof] with the dof axis moved to the front (a view).
std::vector<std::int64_t> dmda_local_shape(DM da, std::int64_t& dof_out) {
  PetscInt dim = 0, dof = 0, xs, ys, zs, xm, ym, zm;
  PHYSML_PETSC(DMDAGetInfo(da, &dim, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, &dof, nullptr, nullptr,
                           nullptr, nullptr, nullptr));
  PHYSML_PETSC(DMDAGetCorners(da, &xs, &ys, &zs, &xm, &ym, &zm));
  dof_out = dof;
  if (dim == 1) return {xm, dof};
  if (dim == 2) return {ym, xm, dof};
  return {zm, ym, xm, dof};
}

at::Tensor as_field(const at::Tensor& natural) { return natural.movedim(-1, 0).unsqueeze(0); }
}  // namespace

void Model::forward(DM da, Vec in, Vec out, DM out_da) const {
  PHYSML_CHECK(da != nullptr && in != nullptr && out != nullptr, "Model::forward: null DM or Vec");
  std::int64_t dof_in = 0, dof_out = 0;
  const auto in_shape = dmda_local_shape(da, dof_in);
  const auto out_shape = dmda_local_shape(out_da ? out_da : da, dof_out);
  auto x = as_field(physml::as_tensor_read(in, in_shape));
  if (impl_->options.device() != x.device()) x = x.to(impl_->options.device());
  auto y = forward(x);
  {
    auto dst = as_field(physml::as_tensor(out, out_shape));
    if (y.sizes() != dst.sizes())
      PHYSML_EMBED_THROW(ShapeError, "the model's output has shape ", shape_text(y.sizes()),
                         ", the output DMDA vector is a field of shape ", shape_text(dst.sizes()));
    dst.copy_(y);
  }
  mark_modified(out);
}

std::vector<at::Tensor> Model::forward_with_grad(const std::vector<at::Tensor>& inputs) const {
  torch::AutoGradMode grad(true);
  return impl_->run(inputs);
}

std::vector<at::Tensor> Model::parameters() const {
  std::vector<at::Tensor> out;
  // Every TorchScript parameter is trainable (requires_grad is switched on by OnlineTrainer,
  // not at load: the TorchScript executor runs inference faster without it); a PhysML model's
  // frozen parameters (requires_grad false) are left out.
  for (const auto& p : impl_->module().parameters())
    if (impl_->script || p.requires_grad()) out.push_back(p);
  return out;
}

std::vector<std::pair<std::string, at::Tensor>> Model::named_tensors() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& item : impl_->module().named_parameters()) out.emplace_back(item.key(), item.value());
  for (const auto& item : impl_->module().named_buffers()) out.emplace_back(item.key(), item.value());
  return out;
}

void Model::train(bool on) {
  if (impl_->physml)
    impl_->physml->train(on);
  else
    impl_->script->train(on);
}

torch::nn::Module& Model::module() const { return impl_->module(); }

std::shared_ptr<operators::Model> Model::physml_model() const { return impl_->physml; }

torch::jit::Module& Model::script_module() const {
  PHYSML_CHECK(impl_->script.has_value(), "Model::script_module: the model is a PhysML model, not TorchScript");
  return *impl_->script;
}

void Model::save(const std::string& path) const {
  std::unique_lock lock(impl_->mutex);
  if (impl_->physml) {
    operators::save(path, *impl_->physml);
    return;
  }
  io::check_writable_path(path, "TorchScript file");
  // Serialized in memory first: LibTorch's archive writer throws from its destructor when the
  // file's last write fails (a full disk), which terminates the process; in memory nothing can
  // fail but the allocation, and the bytes then go through the checked temporary-file writer.
  std::ostringstream bytes(std::ios::binary);
  try {
    impl_->script->save(bytes);
  } catch (const c10::Error& e) {
    PHYSML_THROW("cannot serialize TorchScript model for '", path, "': ", e.what_without_backtrace());
  }
  io::write_text_file(path, "TorchScript file", bytes.str());
}

ModelFormat Model::format() const { return impl_->format; }
const ModelOptions& Model::options() const { return impl_->options; }
c10::ScalarType Model::dtype() const { return impl_->dtype; }
const std::string& Model::path() const { return impl_->path; }
std::shared_mutex& Model::mutex() const { return impl_->mutex; }

}  // namespace physml::embed
