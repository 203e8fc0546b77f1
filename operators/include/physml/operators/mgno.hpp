#pragma once
/// \file mgno.hpp
/// MgNO, the multigrid neural operator (Liu, Xu, Zhang, "MgNO: Efficient
/// Parameterization of Linear Operators via Multigrid", ICLR 2024).
///
/// Every connection between channels of a layer is a linear operator parameterized by
/// one multi-channel V-cycle (VCycle below); a layer is u <- GELU(VCycle(u) + W u + b)
/// with W a 1x1 convolution. There is no lifting or projection MLP: the first V-cycle
/// reads the raw input channels and a final 1x1 convolution (no bias) writes the output.
/// Boundary conditions enter through the padding mode of the 3x3 convolutions
/// (zeros = Dirichlet, circular = periodic, reflect = Neumann).

#include "physml/mesh/grid.hpp"
#include "physml/operators/registry.hpp"

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace physml {
class Options;
}

namespace physml::operators {

/// {pre, post} smoothing steps of each multigrid level, finest first.
using Smoothing = std::vector<std::array<std::int64_t, 2>>;

/// Grid sizes of the levels of a V-cycle: level 0 is `fine` ([n] / [ny, nx] / [nz, ny, nx]),
/// level l has ceil(n_{l-1} / 2) points per axis (what a 3x3, stride-2, pad-1 convolution gives).
/// Throws physml::Error if the coarsest level would have fewer than 2 points on an axis.
std::vector<std::vector<std::int64_t>> mg_level_sizes(const std::vector<std::int64_t>& fine, std::int64_t levels);

/// Options of one V-cycle (the paper's W_Mg, the official code's MgConv_DC).
struct VCycleOptions {
  VCycleOptions(std::int64_t u_channels, std::int64_t f_channels) : u_channels_(u_channels), f_channels_(f_channels) {}
  /// Channels of the solution u (output of the V-cycle).
  TORCH_ARG(std::int64_t, u_channels);
  /// Channels of the right-hand side f (input of the V-cycle).
  TORCH_ARG(std::int64_t, f_channels);
  /// Number of levels L (level 0 = the input grid).
  TORCH_ARG(std::int64_t, levels) = 6;
  /// {pre, post} smoothing steps per level; empty = [[1,0]]*(L-1) + [[2,0]] (the paper's setting).
  TORCH_ARG(Smoothing, smoothing) = {};
  /// "zeros" (Dirichlet), "circular" (periodic) or "reflect" (Neumann).
  TORCH_ARG(std::string, padding_mode) = "zeros";
  /// Spatial dimension: 1, 2 or 3.
  TORCH_ARG(std::int64_t, dim) = 2;
  /// Group normalization (one group, per-channel affine) after each coarse-to-fine
  /// correction: the resolution-independent form of the LayerNorm of MgNO's NS variant.
  TORCH_ARG(bool, normalization) = false;
  /// Grid the model is built for (training resolution); empty = even sizes at every level.
  /// Only fixes the prolongation kernel sizes (4 where a level size is even, 3 where odd,
  /// as the official smooth-Darcy model at 211^2); any other grid still works.
  TORCH_ARG(std::vector<std::int64_t>, grid_size) = {};
};

/// One multi-channel V-cycle mapping f [batch, f_channels, spatial...] to
/// u [batch, u_channels, spatial...] (MgNO paper Algorithm 1, official MgConv_DC):
///   level 0:   u0 = S(f0), then (pre_0 - 1) times u0 += S(f0 - A u0)
///   level l:   f_l = R_l f_{l-1},  u_l = Pi_l u_{l-1},  pre_l times u_l += S(f_l - A u_l)
///   up j=L-2..0: u_j += P_j u_{j+1},  post_j times u_j += S(f_j - A u_j)
/// A (u->f) and S (f->u) are 3x3 convolutions without bias, each smoothing step has its
/// own; R (f->f) and Pi (u->u) are 3x3 stride-2 convolutions; P is a stride-2 transposed
/// convolution whose output padding (or a one-cell crop) is computed from the actual level
/// sizes, so odd and even grids both round-trip. With circular padding the prolongation wraps
/// around the period instead (the official code zero-pads it, which breaks shift equivariance).
class VCycleImpl : public torch::nn::Module {
public:
  explicit VCycleImpl(VCycleOptions options);
  /// f: [batch, f_channels, spatial...] -> u: [batch, u_channels, spatial...].
  at::Tensor forward(const at::Tensor& f);
  void reset();
  const VCycleOptions& options() const { return options_; }
  /// Prolongation kernel size of level j -> j-1 per axis (index j-1).
  const std::vector<std::vector<std::int64_t>>& prolongation_kernels() const { return kernels_; }

private:
  at::Tensor conv(const at::Tensor& x, const at::Tensor& w, std::int64_t stride) const;
  at::Tensor smooth(const at::Tensor& u, const at::Tensor& f, std::size_t level, std::size_t step, bool post);
  VCycleOptions options_;
  std::vector<std::array<std::int64_t, 2>> smoothing_;
  std::vector<std::vector<std::int64_t>> kernels_;
  // Per level: A and S of each pre- and post-smoothing step, R and Pi (level >= 1), P (level >= 1).
  std::vector<std::vector<at::Tensor>> A_pre_, S_pre_, A_post_, S_post_;
  std::vector<at::Tensor> R_, Pi_, P_, norm_w_, norm_b_;
};
TORCH_MODULE(VCycle);

/// Options of MgNO (official MgNO_DC; Darcy rough: MgNOOptions(1, 1).channels(24).levels(6).layers(4)).
struct MgNOOptions {
  MgNOOptions(std::int64_t in_channels, std::int64_t out_channels) : in_channels_(in_channels), out_channels_(out_channels) {}
  /// Input channels (the right-hand side of the first V-cycle).
  TORCH_ARG(std::int64_t, in_channels);
  /// Output channels (of the final 1x1 convolution).
  TORCH_ARG(std::int64_t, out_channels);
  /// Hidden channels (u and f channels of every V-cycle after the first).
  TORCH_ARG(std::int64_t, channels) = 24;
  /// Multigrid levels per V-cycle.
  TORCH_ARG(std::int64_t, levels) = 6;
  /// {pre, post} smoothing steps per level; empty = [[1,0]]*(L-1) + [[2,0]].
  TORCH_ARG(Smoothing, smoothing) = {};
  /// Number of layers u <- GELU(VCycle(u) + W u + b).
  TORCH_ARG(std::int64_t, layers) = 4;
  /// "zeros" (Dirichlet), "circular" (periodic) or "reflect" (Neumann).
  TORCH_ARG(std::string, padding_mode) = "zeros";
  /// Spatial dimension 1, 2 or 3.
  TORCH_ARG(std::int64_t, dim) = 2;
  /// Resolution-independent group normalization inside the V-cycles (see VCycleOptions).
  TORCH_ARG(bool, normalization) = false;
  /// Training grid; fixes the prolongation kernels (see VCycleOptions::grid_size).
  TORCH_ARG(std::vector<std::int64_t>, grid_size) = {};
  /// Add the input to the output, out = head(u) + x (official MgNO_NS one-step model, which
  /// then learns the increment w(t+1) - w(t)); needs in_channels == out_channels.
  TORCH_ARG(bool, residual) = false;

public:
  /// The options as text, for a Checkpoint (keys: in_channels, out_channels, channels,
  /// levels, smoothing "1,0;1,0;...", layers, padding_mode, dim, normalization, residual, grid_size).
  ModelConfig to_config() const;
  /// Parse to_config() output; unknown keys or bad values throw physml::Error.
  static MgNOOptions from_config(const ModelConfig& config);
  /// Read channels, levels, layers, padding_mode, normalization, residual and smoothing
  /// ("pre,post,pre,post,...") from `options` (e.g. prefix "mgno_": -mgno_channels 24); the
  /// current values are the defaults. in/out channels, dim and grid_size come from the data.
  MgNOOptions& set_from_options(const Options& options);
  /// Train on `grid`: dim = grid.dim() and grid_size = grid.shape() (tensor order, the shape
  /// of the fields stored on it; e.g. a Dataset's grid attribute, mesh::Grid::from_json).
  MgNOOptions& on(const mesh::Grid& grid);
};

/// The MgNO network: x [batch, in_channels, spatial...] -> [batch, out_channels, spatial...],
/// any grid size whose coarsest level keeps at least 2 points per axis.
class MgNOImpl : public Model {
public:
  explicit MgNOImpl(MgNOOptions options);
  at::Tensor forward(const at::Tensor& x) override;
  std::string type() const override { return "mgno"; }
  ModelConfig config() const override { return options_.to_config(); }
  const MgNOOptions& options() const { return options_; }

private:
  MgNOOptions options_;
  std::vector<VCycle> cycles_;
  std::vector<at::Tensor> skip_w_, skip_b_;
  at::Tensor head_w_;
};
TORCH_MODULE(MgNO);

}  // namespace physml::operators
