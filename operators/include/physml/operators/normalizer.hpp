#pragma once
/// \file normalizer.hpp
/// Data normalizers (FNO/MgNO utilities3: UnitGaussianNormalizer and GaussianNormalizer).
/// Mean and standard deviation are module buffers, so they are saved with the model.

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <vector>

namespace physml::operators {

/// Normalizes x -> (x - mean) / (std + eps) and back.
///   "pointwise": mean/std per channel and grid point over the samples, shape [1, C, spatial...]
///                (UnitGaussianNormalizer). At another resolution they are resampled
///                (linear/bilinear/trilinear, corners aligned).
///   "scalar":    one mean/std over everything (GaussianNormalizer).
///   "none":      identity.
/// std is the unbiased sample standard deviation; eps = 1e-5 as in the reference code.
class NormalizerImpl : public torch::nn::Module {
public:
  explicit NormalizerImpl(std::string kind = "none", double eps = 1e-5);
  /// Compute mean and std from data [n, C, spatial...].
  void fit(const at::Tensor& data);
  /// Set mean = 0, std = 1 of the given shape (to be overwritten by loading a saved state).
  void allocate(const std::vector<std::int64_t>& shape);
  /// (x - mean) / (std + eps) for x [batch, C, spatial...].
  at::Tensor encode(const at::Tensor& x) const;
  /// x * (std + eps) + mean.
  at::Tensor decode(const at::Tensor& x) const;
  const std::string& kind() const { return kind_; }
  bool fitted() const { return mean_.defined() && mean_.numel() > 0; }
  const at::Tensor& mean() const { return mean_; }
  const at::Tensor& std() const { return std_; }

private:
  void assign(const at::Tensor& mean, const at::Tensor& std);
  std::pair<at::Tensor, at::Tensor> stats_for(const at::Tensor& x) const;
  std::string kind_;
  double eps_;
  at::Tensor mean_, std_;
};
TORCH_MODULE(Normalizer);

}  // namespace physml::operators
