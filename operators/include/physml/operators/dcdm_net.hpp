#pragma once
/// \file dcdm_net.hpp
/// The DCDM network (Kaneda et al., "A Deep Conjugate Direction Method for Iteratively
/// Solving Linear Systems", ICML 2023): a small fully convolutional net f with
/// f(b) ≈ c·A⁻¹b for an unknown scalar c. Layer by layer it follows the paper's Keras
/// model (src/train.py of the authors' code): a linear 1→16 conv, 16-channel 3×3×3 convs with
/// ReLU in residual pairs, one AvgPool(2) level, nearest-neighbour upsampling with an
/// additive skip from the fine level, and a 1×1×1 head (Keras Dense(1)).
///
/// Variants: "from64" (14 16→16 convs, 97,457 parameters in 3D) and "from128"
/// (22 convs, 152,881 parameters). dim = 2 gives the same layout with 3×3 convs.
/// Optionally a second input channel carries the fluid(1)/solid(0) mask.

#include "physml/operators/registry.hpp"

#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>

#include <functional>
#include <string>
#include <vector>

namespace physml::operators {

/// Options of DCDMNet; chainable like torch::nn options.
struct DCDMNetOptions {
  /// Spatial dimension: 2 (input [batch, c, ny, nx]) or 3 ([batch, c, nz, ny, nx]).
  explicit DCDMNetOptions(int dim = 3) : dim_(dim) {}
  DCDMNetOptions& dim(int v) { dim_ = v; return *this; }
  /// "from64" (1/3/2 residual pairs: fine before pooling / coarse / fine after) or
  /// "from128" (2/5/3 pairs).
  DCDMNetOptions& variant(const std::string& v) { variant_ = v; return *this; }
  /// Hidden channels (16 in the paper).
  DCDMNetOptions& channels(int v) { channels_ = v; return *this; }
  /// Add the fluid/solid mask as a second input channel.
  DCDMNetOptions& mask_channel(bool v) { mask_channel_ = v; return *this; }
  /// The grid the model was trained on, [nx, ny(, nz)] (informational; the net is
  /// fully convolutional and runs on any even-sized grid).
  DCDMNetOptions& train_grid(std::vector<int64_t> v) { train_grid_ = std::move(v); return *this; }
  /// Run float32 CPU convolutions through oneDNN (at::mkldnn_convolution) directly
  /// (default true). LibTorch 1.13's dispatcher picks oneDNN only if
  /// batch·channels·dim2·dim3 > 20480, so a batch-1 3D input at 32³ (16·32·32 = 16384)
  /// and the coarse 16³ level go to the native im2col + BLAS path, which with the
  /// reference (netlib) BLAS of the Debian build is ≈ 20× slower (docs/results-dcdm.md).
  /// A runtime choice, not stored in the model config; false only to measure that path.
  DCDMNetOptions& onednn(bool v) { onednn_ = v; return *this; }
  /// Initialization of a new network: "keras" (default; the paper's Keras defaults,
  /// Glorot-uniform kernels and zero biases) or "torch" (LibTorch's Conv defaults,
  /// Kaiming-uniform(a = √5) kernels and biases uniform in ±1/√fan_in). Not stored in
  /// the model config (a loaded model gets its weights from the file).
  ///
  /// Why it matters: the inputs are unit-norm residuals, whose entries are ≈ n^{-1/2}
  /// (1/64 at 16³, 1/181 at 32³). With LibTorch's random biases the output is then
  /// almost input-independent, qᵀb ≈ 0, and training sits on the loss ≈ 1 plateau
  /// (docs/results-dcdm.md, "The 3D loss plateau: initialization"); with zero biases
  /// the initial network is positively homogeneous, f(αb) = α f(b) for α > 0, and
  /// the signal is not drowned.
  DCDMNetOptions& init(const std::string& v) { init_ = v; return *this; }

  int dim() const { return dim_; }
  const std::string& variant() const { return variant_; }
  int channels() const { return channels_; }
  bool mask_channel() const { return mask_channel_; }
  const std::vector<int64_t>& train_grid() const { return train_grid_; }
  bool onednn() const { return onednn_; }
  const std::string& init() const { return init_; }

private:
  int dim_ = 3;
  std::string variant_ = "from64";
  int channels_ = 16;
  bool mask_channel_ = false;
  std::vector<int64_t> train_grid_;
  bool onednn_ = true;
  std::string init_ = "keras";
};

/// The DCDM network. forward maps [batch, in, (nz,) ny, nx] -> [batch, 1, (nz,) ny, nx]
/// with in = 1 (+1 with the mask channel). Every spatial size must be even (one
/// AvgPool(2) level). Registered as model type "dcdm".
class DCDMNetImpl : public Model {
public:
  explicit DCDMNetImpl(const DCDMNetOptions& options = DCDMNetOptions());
  at::Tensor forward(const at::Tensor& x) override;
  std::string type() const override { return "dcdm"; }
  /// {"dim","variant","channels","mask_channel","train_grid"}.
  ModelConfig config() const override;
  const DCDMNetOptions& options() const { return options_; }
  /// Switch the direct oneDNN convolution path on/off (see DCDMNetOptions::onednn).
  void set_onednn(bool v) { options_.onednn(v); }
  /// Number of input channels (1, or 2 with the mask channel).
  int in_channels() const { return options_.mask_channel() ? 2 : 1; }

private:
  at::Tensor conv(size_t i, const at::Tensor& x);
  DCDMNetOptions options_;
  int pre_pairs_ = 1, coarse_pairs_ = 3, post_pairs_ = 2;
  torch::nn::ModuleList convs_;  // first conv, then every 16->16 conv in order, then the head
};

/// Shared-pointer holder (TORCH_MODULE style): DCDMNet net(DCDMNetOptions(3)).
class DCDMNet : public torch::nn::ModuleHolder<DCDMNetImpl> {
public:
  using torch::nn::ModuleHolder<DCDMNetImpl>::ModuleHolder;
  explicit DCDMNet(const DCDMNetOptions& o) : ModuleHolder(std::make_shared<DCDMNetImpl>(o)) {}
};

/// Build DCDMNetOptions from a registry config (inverse of DCDMNetImpl::config).
DCDMNetOptions dcdm_options_from_config(const ModelConfig& config);

/// Save a model (any registered type) as a PhysML Checkpoint (HDF5: type, config,
/// parameters; io/checkpoint.hpp), atomically.
void save_model(const std::string& path, Model& model);

/// Load a model saved by save_model: rebuilds it through the registry from the stored
/// type and config and loads its parameters. Throws physml::Error if the file is missing
/// or not a Checkpoint, or, when `expected_type` is non-empty, if the stored type differs.
std::shared_ptr<Model> load_model(const std::string& path, const std::string& expected_type = "");

/// The scale-invariant DCDM training loss (paper's unsupervised loss, references §2):
///   L = mean_b || b − (qᵀb / qᵀAq) · A q ||², q = f(b),
/// b, q: [batch, n] (or any [batch, ...] shape, flattened), apply_A maps [batch, n] to
/// [batch, n] (A applied row-wise; e.g. sparse_apply). Differentiable in q.
at::Tensor dcdm_loss(const at::Tensor& q, const at::Tensor& b,
                     const std::function<at::Tensor(const at::Tensor&)>& apply_A);

/// Apply a sparse (COO) matrix A [n, n] to every row of x [batch, n]: returns x Aᵀ
/// (= (A xᵀ)ᵀ; A is symmetric for DCDM). Differentiable in x.
at::Tensor sparse_apply(const at::Tensor& A, const at::Tensor& x);

}  // namespace physml::operators
