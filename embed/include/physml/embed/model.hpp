#pragma once
/// \file model.hpp
/// One model handle for other people's solvers: a PhysML Checkpoint (rebuilt through the
/// operators registry) or a TorchScript file (torch::jit), chosen by the file's content, and
/// evaluated on tensors, on caller memory described by an ArrayView (raw pointer, dtype, shape,
/// row- or column-major or explicit strides) or on PETSc Vecs, without copying the inputs.
///
///   auto model = physml::embed::Model::load("closure.pt");          // or closure.h5
///   double u[64 * 3], f[64 * 2];                                     // the solver's arrays
///   model.forward({ArrayView(u, c10::kDouble, {64, 3})}, {ArrayView(f, c10::kDouble, {64, 2})});
///
/// Inputs are wrapped with torch::from_blob (the tensor's data pointer is the caller's);
/// outputs are either returned as tensors or written into caller buffers (one copy of the
/// network's result into the caller's memory). docs/embed.md has the whole story.

#include "physml/core/error.hpp"

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <petscdmda.h>
#include <petscvec.h>
#include <torch/arg.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

namespace torch::jit {
struct Module;
}
namespace torch::nn {
class Module;
}

namespace physml {
class Options;
}
namespace physml::operators {
class Model;
}

namespace physml::embed {

/// A file could not be opened as a model: it does not exist (FileNotFoundError) or holds
/// something else than a PhysML Checkpoint or a TorchScript archive (FileFormatError).
class FileNotFoundError : public Error {
public:
  using Error::Error;
};
class FileFormatError : public Error {
public:
  using Error::Error;
};
/// A tensor or array has another shape than the model expects (the message names both).
class ShapeError : public Error {
public:
  using Error::Error;
};
/// A tensor or array has another dtype (or device) than the model expects.
class DTypeError : public Error {
public:
  using Error::Error;
};

/// Order of the elements of a dense array in memory: RowMajor (C, last index fastest) or
/// ColumnMajor (Fortran, first index fastest).
enum class Layout { RowMajor, ColumnMajor };

/// Caller memory seen as a tensor of `shape` (the model's index order, e.g. [batch, features]):
/// element (i0, i1, ...) is at data + sum_k i_k strides[k] (strides in elements). Empty
/// `strides` means dense in `layout`. Nothing is copied or owned: the memory must outlive
/// every use.
struct ArrayView {
  ArrayView() = default;
  ArrayView(void* data, c10::ScalarType dtype, std::vector<std::int64_t> shape, Layout layout = Layout::RowMajor,
            std::vector<std::int64_t> strides = {})
      : data(data), dtype(dtype), shape(std::move(shape)), strides(std::move(strides)), layout(layout) {}
  void* data = nullptr;
  c10::ScalarType dtype = c10::ScalarType::Float;
  std::vector<std::int64_t> shape;
  std::vector<std::int64_t> strides;
  Layout layout = Layout::RowMajor;
  /// The strides in elements (the given ones, or the dense strides of `layout`).
  std::vector<std::int64_t> effective_strides() const;
};

/// A tensor aliasing `view` (torch::from_blob, no copy; data_ptr() == view.data) on `device`
/// (the memory must be that device's). Throws physml::Error for a null pointer with elements,
/// a negative extent or a stride count that differs from the shape's.
at::Tensor as_tensor(const ArrayView& view, c10::Device device = c10::Device(c10::DeviceType::CPU));

/// What kind of model file a path holds, by content (first bytes), not by name.
enum class ModelFormat { PhysMLCheckpoint, TorchScript };
/// HDF5 signature -> PhysMLCheckpoint, zip signature -> TorchScript. Throws FileNotFoundError
/// if `path` does not exist or is unreadable, FileFormatError if it is neither.
ModelFormat detect_format(const std::string& path);
/// "physml" or "torchscript".
std::string format_name(ModelFormat format);

/// Options of a model handle.
struct ModelOptions {
  /// Device the model runs on (its parameters are moved there; inputs must be there).
  TORCH_ARG(c10::Device, device) = c10::Device(c10::DeviceType::CPU);
  /// Cast the model's floating parameters to this dtype at load ("" keeps the file's, else
  /// "float32" or "float64": a float64 model reads a PETSc Vec of doubles without a copy).
  TORCH_ARG(std::string, dtype) = "";
  /// Check inputs and outputs for NaN/Inf (NonFiniteError naming the tensor).
  TORCH_ARG(bool, check_finite) = true;
  /// Expected input shapes, one per input; -1 matches any extent (e.g. {{-1, 3}}). Empty: no
  /// check beyond the model's own (a PhysML model checks its channels, dimension 1).
  TORCH_ARG(std::vector<std::vector<std::int64_t>>, input_shapes) = {};

public:
  /// Read -device (cpu, cuda, cuda:1), -dtype, -check_finite and -input_shape (one input,
  /// comma-separated, -1 for any) under the prefix of `options`; current values are defaults.
  ModelOptions& set_from_options(const Options& options);
};

/// A loaded model: a PhysML operators::Model or a TorchScript module, one interface.
///
/// Thread safety: forward() may run concurrently from several threads on one handle (it takes a
/// shared lock, runs without autograd in eval mode, and the model holds no per-call state);
/// training through OnlineTrainer and save() take the handle's exclusive lock, so they wait for
/// running inferences and block new ones. Separate handles share nothing.
class Model {
public:
  /// Load `path` (PhysML Checkpoint or TorchScript, detected by content). Throws
  /// FileNotFoundError or FileFormatError naming the file, or physml::Error from the loader.
  static Model load(const std::string& path, ModelOptions options = {});
  /// Wrap an existing PhysML model (shared, not copied).
  explicit Model(std::shared_ptr<operators::Model> model, ModelOptions options = {});
  /// Wrap an existing TorchScript module (shared with the caller: jit modules are handles).
  explicit Model(const torch::jit::Module& module, ModelOptions options = {});
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

  /// Evaluate on tensors (several inputs, several outputs: a TorchScript model may return a
  /// tensor, a tuple or a list of tensors). No autograd; the model in eval mode.
  std::vector<at::Tensor> forward(const std::vector<at::Tensor>& inputs) const;
  at::Tensor forward(const at::Tensor& input) const;
  /// Evaluate on caller memory: inputs wrapped without copies, each output written into the
  /// matching `outputs` view, whose shape and dtype must equal the network's result (ShapeError,
  /// DTypeError naming expected and got). The number of outputs must match too.
  void forward(const std::vector<ArrayView>& inputs, const std::vector<ArrayView>& outputs) const;
  /// Evaluate on PETSc Vecs: `in` viewed (no copy) as `in_shape`, the result written into
  /// `out` viewed as `out_shape` (each shape defaults to [local size]); the model's dtype must
  /// be PetscScalar's (ModelOptions::dtype "float64").
  void forward(Vec in, Vec out, std::vector<std::int64_t> in_shape = {}, std::vector<std::int64_t> out_shape = {}) const;

  /// Evaluate on DMDA global vectors as fields: the locally owned part of `in` (on `da`) viewed
  /// without a copy as [1, dof, (zm,) ym, xm] (PETSc's natural order, x fastest; the dof axis is
  /// a strided view), the result [1, dof_out, (zm,) ym, xm] written into `out` on `out_da`
  /// (default `da`). For field-to-field models (PhysML operators, TorchScript CNNs); the model's
  /// dtype must be PetscScalar's. Each rank evaluates its own part (no halo exchange).
  void forward(DM da, Vec in, Vec out, DM out_da = nullptr) const;

  /// The same evaluation with autograd (training mode unchanged): for losses computed by the
  /// caller, OnlineTrainer.
  std::vector<at::Tensor> forward_with_grad(const std::vector<at::Tensor>& inputs) const;

  /// Trainable parameters in the model's order: every parameter of a TorchScript model, the
  /// requires_grad ones of a PhysML model.
  std::vector<at::Tensor> parameters() const;
  /// Parameters and buffers by name ("layers.0.weight"), sharing storage with the model.
  std::vector<std::pair<std::string, at::Tensor>> named_tensors() const;
  /// Training or evaluation mode of the underlying module.
  void train(bool on);
  /// A torch::nn::Module tree whose parameters and buffers are the model's own tensors, with
  /// the same names: what the PhysML Checkpoint writer and reader see (for a TorchScript model
  /// an adapter built once).
  torch::nn::Module& module() const;
  /// The PhysML model (null for TorchScript).
  std::shared_ptr<operators::Model> physml_model() const;
  /// The TorchScript module (throws for a PhysML model).
  torch::jit::Module& script_module() const;

  /// Write the model: a PhysML model as a Checkpoint (operators::save), a TorchScript model as
  /// a TorchScript archive with its current parameters; atomically (temporary name + rename).
  void save(const std::string& path) const;

  ModelFormat format() const;
  const ModelOptions& options() const;
  /// The dtype of the model's floating parameters (inputs must have it).
  c10::ScalarType dtype() const;
  /// The file it was loaded from ("" if wrapped).
  const std::string& path() const;
  /// The handle's reader-writer lock (forward shares it, training holds it exclusively).
  std::shared_mutex& mutex() const;

private:
  struct Impl;
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace physml::embed
