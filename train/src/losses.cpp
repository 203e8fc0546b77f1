#include "physml/train/losses.hpp"

#include "physml/core/error.hpp"

#include <torch/torch.h>

#include <sstream>

namespace physml::train {
namespace {

void check_pair(const char* what, const at::Tensor& pred, const at::Tensor& target) {
  if (pred.sizes() != target.sizes() || pred.dim() < 2) {
    std::ostringstream os;
    os << what << ": prediction " << pred.sizes() << " and target " << target.sizes()
       << " must have the same shape [batch, channels, spatial...]";
    PHYSML_THROW(os.str());
  }
}

at::Tensor per_sample_sq(const at::Tensor& x) { return x.abs().pow(2).reshape({x.size(0), -1}).sum(1); }

/// Finite-difference derivative along `axis` on the unit interval (see relative_h1).
at::Tensor fd_derivative(const at::Tensor& u, std::int64_t axis, bool periodic) {
  const auto n = u.size(axis);
  if (n < 2) return torch::zeros_like(u);
  if (periodic) {
    const double h = 1.0 / static_cast<double>(n);
    return (torch::roll(u, {-1}, {axis}) - torch::roll(u, {1}, {axis})) / (2 * h);
  }
  const double h = 1.0 / static_cast<double>(n - 1);
  auto first = (u.narrow(axis, 1, 1) - u.narrow(axis, 0, 1)) / h;
  auto last = (u.narrow(axis, n - 1, 1) - u.narrow(axis, n - 2, 1)) / h;
  if (n == 2) return torch::cat({first, last}, axis);
  auto inner = (u.narrow(axis, 2, n - 2) - u.narrow(axis, 0, n - 2)) / (2 * h);
  return torch::cat({first, inner, last}, axis);
}

at::Tensor h1_sq(const at::Tensor& u, bool periodic) {
  auto s = per_sample_sq(u);
  for (std::int64_t a = 2; a < u.dim(); ++a) s = s + per_sample_sq(fd_derivative(u, a, periodic));
  return s;
}

}  // namespace

at::Tensor relative_lp(const at::Tensor& pred, const at::Tensor& target, double p) {
  check_pair("relative_lp", pred, target);
  const auto b = pred.size(0);
  auto diff = torch::norm((pred - target).reshape({b, -1}), p, 1);
  auto ref = torch::norm(target.reshape({b, -1}), p, 1);
  return diff / ref;
}

at::Tensor relative_lp_loss(const at::Tensor& pred, const at::Tensor& target, double p) {
  return relative_lp(pred, target, p).mean();
}

at::Tensor relative_h1(const at::Tensor& pred, const at::Tensor& target, bool periodic) {
  check_pair("relative_h1", pred, target);
  return torch::sqrt(h1_sq(pred - target, periodic) / h1_sq(target, periodic));
}

at::Tensor relative_h1_loss(const at::Tensor& pred, const at::Tensor& target, bool periodic) {
  return relative_h1(pred, target, periodic).mean();
}

at::Tensor spectral_h1(const at::Tensor& pred, const at::Tensor& target, bool truncation) {
  check_pair("spectral_h1", pred, target);
  PHYSML_CHECK(pred.dim() >= 3, "spectral_h1 needs at least one spatial axis, got ", pred.dim(), " dims");
  std::vector<std::int64_t> dims;
  for (std::int64_t a = 2; a < pred.dim(); ++a) dims.push_back(a);
  auto real_opts = pred.options().dtype(c10::toRealValueType(pred.scalar_type()));
  at::Tensor k2 = torch::zeros({1}, real_opts);
  for (auto a : dims) {
    const auto n = pred.size(a);
    // Integer wavenumbers 0, 1, ..., -2, -1 (numpy fftfreq * n).
    auto k = torch::fft::fftfreq(n, 1.0 / static_cast<double>(n), real_opts).round();
    if (truncation) k = k * (k.abs() < 20).to(k.scalar_type());
    std::vector<std::int64_t> shape(static_cast<std::size_t>(pred.dim()), 1);
    shape[static_cast<std::size_t>(a)] = n;
    k2 = k2 + k.pow(2).view(shape);
  }
  auto weight = torch::sqrt(1 + k2);
  auto ex = torch::fft::fftn(pred - target, c10::nullopt, dims, "ortho") * weight;
  auto ey = torch::fft::fftn(target, c10::nullopt, dims, "ortho") * weight;
  return torch::sqrt(per_sample_sq(ex) / per_sample_sq(ey));
}

at::Tensor spectral_h1_loss(const at::Tensor& pred, const at::Tensor& target, bool truncation) {
  return spectral_h1(pred, target, truncation).mean();
}

at::Tensor mean_squared_error(const at::Tensor& pred, const at::Tensor& target) {
  check_pair("mean_squared_error", pred, target);
  return (pred - target).pow(2).mean();
}

at::Tensor loss_by_name(const std::string& name, const at::Tensor& pred, const at::Tensor& target, bool periodic) {
  if (name == "l2") return relative_lp_loss(pred, target, 2.0);
  if (name == "h1") return relative_h1_loss(pred, target, periodic);
  if (name == "h1_spectral") return spectral_h1_loss(pred, target, true);
  if (name == "mse") return mean_squared_error(pred, target);
  PHYSML_THROW("unknown loss '", name, "'; expected l2, h1, h1_spectral or mse");
}

}  // namespace physml::train
