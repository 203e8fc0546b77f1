#include "physml/operators/normalizer.hpp"

#include "physml/core/error.hpp"

#include <torch/torch.h>

namespace physml::operators {

NormalizerImpl::NormalizerImpl(std::string kind, double eps) : kind_(std::move(kind)), eps_(eps) {
  PHYSML_CHECK(kind_ == "none" || kind_ == "pointwise" || kind_ == "scalar", "unknown normalizer '", kind_,
               "'; expected none, pointwise (unit Gaussian per grid point) or scalar (one Gaussian)");
}

void NormalizerImpl::assign(const at::Tensor& mean, const at::Tensor& std) {
  torch::NoGradGuard guard;
  if (!mean_.defined()) {  // first fit/allocate registers the buffers (saved with the model)
    mean_ = register_buffer("mean", mean.contiguous());
    std_ = register_buffer("std", std.contiguous());
  } else {  // later ones replace their contents in place, keeping the buffers' dtype and device
    mean_.set_(mean.to(mean_.options()).contiguous());
    std_.set_(std.to(std_.options()).contiguous());
  }
}

void NormalizerImpl::fit(const at::Tensor& data) {
  PHYSML_CHECK(data.dim() >= 2 && data.size(0) >= 2, "Normalizer::fit needs data [n >= 2, C, spatial...], got ",
               data.sizes());
  torch::NoGradGuard guard;
  at::Tensor m, s;
  if (kind_ == "pointwise") {
    m = data.mean(0, true);
    s = data.std(0, true, true);
  } else if (kind_ == "scalar") {
    m = data.mean().reshape({1});
    s = data.std().reshape({1});
  } else {
    return;
  }
  assign(m, s);
}

void NormalizerImpl::allocate(const std::vector<std::int64_t>& shape) {
  if (kind_ == "none") return;
  assign(torch::zeros(shape), torch::ones(shape));
}

std::pair<at::Tensor, at::Tensor> NormalizerImpl::stats_for(const at::Tensor& x) const {
  PHYSML_CHECK(fitted(), "Normalizer (", kind_, ") used before fit() or loading its state");
  if (kind_ == "scalar") return {mean_, std_};
  PHYSML_CHECK(x.dim() == mean_.dim() && x.size(1) == mean_.size(1), "Normalizer fitted on data ", mean_.sizes(),
               " cannot normalize data of shape ", x.sizes(), " (channel count or rank differs)");
  if (x.sizes().slice(2) == mean_.sizes().slice(2)) return {mean_, std_};
  namespace F = torch::nn::functional;
  const auto d = x.dim() - 2;
  PHYSML_CHECK(d >= 1 && d <= 3, "pointwise Normalizer supports 1 to 3 spatial axes, got ", d);
  auto opts = F::InterpolateFuncOptions().size(x.sizes().slice(2).vec()).align_corners(true);
  if (d == 1)
    opts.mode(torch::kLinear);
  else if (d == 2)
    opts.mode(torch::kBilinear);
  else
    opts.mode(torch::kTrilinear);
  return {F::interpolate(mean_, opts), F::interpolate(std_, opts)};
}

at::Tensor NormalizerImpl::encode(const at::Tensor& x) const {
  if (kind_ == "none") return x;
  auto [m, s] = stats_for(x);
  return (x - m) / (s + eps_);
}

at::Tensor NormalizerImpl::decode(const at::Tensor& x) const {
  if (kind_ == "none") return x;
  auto [m, s] = stats_for(x);
  return x * (s + eps_) + m;
}

}  // namespace physml::operators
