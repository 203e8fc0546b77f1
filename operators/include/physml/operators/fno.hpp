#pragma once
/// \file fno.hpp
/// The Fourier neural operator (Li et al., "Fourier Neural Operator for Parametric Partial
/// Differential Equations", ICLR 2021), 1D, 2D and 3D.
///
/// x -> lifting (1x1, appended grid coordinates) -> L x [SpectralConv + 1x1 conv, GELU except
/// after the last] -> projection (1x1 to projection_channels, GELU, 1x1 to out_channels).

#include "physml/operators/registry.hpp"

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <vector>

namespace physml {
class Options;
}

namespace physml::operators {

/// Fourier-space convolution (FNO paper eq. (4)): u -> IFFT(W . FFT(u)) where W acts on the
/// lowest `modes` frequencies of each axis. For a real FFT over d axes these are the 2^(d-1)
/// corner blocks (low and high indices of every axis but the last, low indices of the last).
/// Each block's complex weights [in, out, m_1, ..., m_d] are stored as a real parameter
/// [in, out, m_1, ..., m_d, 2] (LibTorch 1.13's Adam mishandles complex parameters) and
/// viewed as complex in forward. Initialization: scale * U[0,1) with scale = 1/(in*out).
class SpectralConvImpl : public torch::nn::Module {
public:
  SpectralConvImpl(std::int64_t in_channels, std::int64_t out_channels, std::vector<std::int64_t> modes);
  /// x: [batch, in, n_1, ..., n_d] -> [batch, out, n_1, ..., n_d]. Needs n_a >= 2 m_a on the
  /// axes but the last and n_d / 2 + 1 >= m_d on the last.
  at::Tensor forward(const at::Tensor& x);
  /// Real-valued weight of corner block b (b < 2^(d-1)).
  const at::Tensor& weight(std::size_t b) const { return weights_.at(b); }

private:
  std::int64_t in_, out_;
  std::vector<std::int64_t> modes_;
  std::vector<at::Tensor> weights_;
};
TORCH_MODULE(SpectralConv);

/// Options of FNO. Legacy FNO2d Darcy: FNOOptions(1, 1).modes({12, 12}).width(32) (2,368,001 parameters).
struct FNOOptions {
  FNOOptions(std::int64_t in_channels, std::int64_t out_channels) : in_channels_(in_channels), out_channels_(out_channels) {}
  /// Input channels (without the appended grid coordinates).
  TORCH_ARG(std::int64_t, in_channels);
  TORCH_ARG(std::int64_t, out_channels);
  /// Fourier modes kept per axis; one entry is used for every axis. Its length (or dim) sets d.
  TORCH_ARG(std::vector<std::int64_t>, modes) = {12, 12};
  /// Channels of the Fourier layers.
  TORCH_ARG(std::int64_t, width) = 32;
  /// Number of Fourier layers.
  TORCH_ARG(std::int64_t, layers) = 4;
  /// Hidden channels of the projection (fc1 width -> projection_channels -> out).
  TORCH_ARG(std::int64_t, projection_channels) = 128;
  /// Spatial dimension 1, 2 or 3 (0 = the number of entries of modes).
  TORCH_ARG(std::int64_t, dim) = 0;
  /// Append the coordinates linspace(0, 1, n_a) of every axis to the input (legacy FNO).
  TORCH_ARG(bool, append_grid) = true;
  /// Zero-pad each axis at its end by this fraction of its size before the Fourier layers
  /// (non-periodic problems; a fraction, not a cell count, so it scales with resolution).
  TORCH_ARG(double, domain_padding) = 0.0;

public:

  /// Spatial dimension after resolving dim = 0 from modes.
  std::int64_t spatial_dim() const { return dim() > 0 ? dim() : static_cast<std::int64_t>(modes().size()); }
  /// The options as text for a Checkpoint (keys: in_channels, out_channels, modes, width,
  /// layers, projection_channels, dim, append_grid, domain_padding).
  ModelConfig to_config() const;
  /// Parse to_config() output; unknown keys or bad values throw physml::Error.
  static FNOOptions from_config(const ModelConfig& config);
  /// Read modes, width, layers, projection_channels, domain_padding and append_grid from
  /// `options` (e.g. prefix "fno_": -fno_modes 12,12); the current values are the defaults.
  FNOOptions& set_from_options(const Options& options);
};

/// The FNO network: x [batch, in_channels, spatial...] -> [batch, out_channels, spatial...].
class FNOImpl : public Model {
public:
  explicit FNOImpl(FNOOptions options);
  at::Tensor forward(const at::Tensor& x) override;
  std::string type() const override { return "fno"; }
  ModelConfig config() const override { return options_.to_config(); }
  const FNOOptions& options() const { return options_; }

private:
  FNOOptions options_;
  std::int64_t d_;
  at::Tensor lift_w_, lift_b_, proj1_w_, proj1_b_, proj2_w_, proj2_b_;
  std::vector<SpectralConv> spectral_;
  std::vector<at::Tensor> skip_w_, skip_b_;
};
TORCH_MODULE(FNO);

}  // namespace physml::operators
