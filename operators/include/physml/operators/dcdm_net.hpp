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

#include <torch/arg.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace physml {
class Options;
}

namespace physml::operators {

/// Options of DCDMNet (LibTorch style: DCDMNetOptions(3).variant("from128").mask_channel(true)).
struct DCDMNetOptions {
  /// Spatial dimension: 2 (input [batch, c, ny, nx]) or 3 ([batch, c, nz, ny, nx]).
  explicit DCDMNetOptions(std::int64_t dim = 3) : dim_(dim) {}
  /// Spatial dimension, 2 or 3.
  TORCH_ARG(std::int64_t, dim);
  /// "from64" (1/3/2 residual pairs: fine before pooling / coarse / fine after) or
  /// "from128" (2/5/3 pairs).
  TORCH_ARG(std::string, variant) = "from64";
  /// Hidden channels (16 in the paper).
  TORCH_ARG(std::int64_t, channels) = 16;
  /// Add the fluid/solid mask as a second input channel.
  TORCH_ARG(bool, mask_channel) = false;
  /// The grid the model was trained on, mesh::Grid axis order (x first): [nx, ny(, nz)].
  /// Informational for the network, which is fully convolutional and runs on any even-sized
  /// grid; used by the input scaling of the DCDM KSP/PC (-ksp_dcdm_input_scale grid).
  TORCH_ARG(std::vector<std::int64_t>, train_grid) = {};
  /// Run float32 CPU convolutions through oneDNN (at::mkldnn_convolution) directly
  /// (default true). LibTorch 1.13's dispatcher picks oneDNN only if
  /// batch·channels·dim2·dim3 > 20480, so a batch-1 3D input at 32³ (16·32·32 = 16384)
  /// and the coarse 16³ level go to the native im2col + BLAS path, which with the
  /// reference (netlib) BLAS of the Debian build is ≈ 20× slower (docs/results-dcdm.md).
  /// A runtime choice, not stored in the model config; false only to measure that path.
  TORCH_ARG(bool, onednn) = true;
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
  TORCH_ARG(std::string, init) = "keras";

public:
  /// The stored options as text, for a Checkpoint (keys: dim, variant, channels,
  /// mask_channel, train_grid).
  ModelConfig to_config() const;
  /// Parse to_config() output; unknown keys or bad values throw physml::Error.
  static DCDMNetOptions from_config(const ModelConfig& config);
  /// Read variant, channels, mask_channel and init from `options` (e.g. prefix "dcdm_":
  /// -dcdm_variant from128); the current values are the defaults. dim and train_grid come
  /// from the training data.
  DCDMNetOptions& set_from_options(const Options& options);
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
  ModelConfig config() const override { return options_.to_config(); }
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

/// Shared-pointer holder: DCDMNet net(DCDMNetOptions(3)).
TORCH_MODULE(DCDMNet);

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
