#include "physml/operators/fno.hpp"

#include "config_text.hpp"
#include "physml/core/error.hpp"
#include "physml/core/options_reader.hpp"

#include <torch/torch.h>

#include <cmath>
#include <sstream>

namespace physml::operators {
namespace {

using detail::shape_text;

/// 1x1 convolution parameters with PyTorch's Linear/Conv default initialization.
std::pair<at::Tensor, at::Tensor> pointwise(std::int64_t out, std::int64_t in, std::size_t d) {
  std::vector<std::int64_t> shape{out, in};
  shape.resize(2 + d, 1);
  auto w = torch::empty(shape);
  torch::NoGradGuard guard;
  torch::nn::init::kaiming_uniform_(w, std::sqrt(5.0));
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  return {w, torch::empty({out}).uniform_(-bound, bound)};
}

at::Tensor apply_pointwise(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  const auto d = static_cast<std::size_t>(x.dim() - 2);
  const std::vector<std::int64_t> ones(d, 1), zeros(d, 0);
  return at::convolution(x, w, b, ones, zeros, ones, false, zeros, 1);
}

}  // namespace

SpectralConvImpl::SpectralConvImpl(std::int64_t in_channels, std::int64_t out_channels, std::vector<std::int64_t> modes)
    : in_(in_channels), out_(out_channels), modes_(std::move(modes)) {
  PHYSML_CHECK(!modes_.empty() && modes_.size() <= 3, "SpectralConv needs 1 to 3 mode counts, got ", modes_.size());
  for (auto m : modes_) PHYSML_CHECK(m >= 1, "SpectralConv modes must be >= 1, got ", m);
  PHYSML_CHECK(in_ >= 1 && out_ >= 1, "SpectralConv channels must be >= 1, got in=", in_, " out=", out_);
  const std::size_t blocks = std::size_t{1} << (modes_.size() - 1);
  std::vector<std::int64_t> shape{in_, out_};
  shape.insert(shape.end(), modes_.begin(), modes_.end());
  shape.push_back(2);
  const double scale = 1.0 / static_cast<double>(in_ * out_);
  for (std::size_t b = 0; b < blocks; ++b)
    weights_.push_back(register_parameter("weight" + std::to_string(b + 1), scale * torch::rand(shape)));
}

at::Tensor SpectralConvImpl::forward(const at::Tensor& x) {
  const auto d = static_cast<std::int64_t>(modes_.size());
  PHYSML_CHECK(x.dim() == d + 2 && x.size(1) == in_, "SpectralConv expects [batch, ", in_, ", spatial(", d,
               ")], got ", shape_text(x.sizes()));
  std::vector<std::int64_t> dims, n;
  for (std::int64_t a = 0; a < d; ++a) {
    dims.push_back(2 + a);
    n.push_back(x.size(2 + a));
  }
  for (std::int64_t a = 0; a + 1 < d; ++a)
    PHYSML_CHECK(n[a] >= 2 * modes_[a], "SpectralConv with ", modes_[a], " modes on axis ", a, " needs at least ",
                 2 * modes_[a], " points there, got input ", shape_text(x.sizes()));
  PHYSML_CHECK(n[d - 1] / 2 + 1 >= modes_[d - 1], "SpectralConv with ", modes_[d - 1], " modes on the last axis needs at least ",
               2 * (modes_[d - 1] - 1), " points there, got input ", shape_text(x.sizes()));
  auto x_ft = torch::fft::rfftn(x, c10::nullopt, dims);
  std::vector<std::int64_t> out_shape{x.size(0), out_};
  for (std::int64_t a = 0; a < d; ++a) out_shape.push_back(x_ft.size(2 + a));
  auto out_ft = torch::zeros(out_shape, x_ft.options());
  std::int64_t M = 1;
  for (auto m : modes_) M *= m;
  for (std::size_t b = 0; b < weights_.size(); ++b) {
    // Bit a of b selects the high-frequency block of axis a (axes 0..d-2).
    auto select = [&](at::Tensor t) {
      for (std::int64_t a = 0; a < d; ++a) {
        const bool high = a + 1 < d && ((b >> a) & 1U);
        t = t.narrow(2 + a, high ? t.size(2 + a) - modes_[a] : 0, modes_[a]);
      }
      return t;
    };
    auto block = select(x_ft).reshape({x.size(0), in_, M});
    auto w = torch::view_as_complex(weights_[b]).reshape({in_, out_, M});
    auto y = torch::einsum("bim,iom->bom", {block, w});
    std::vector<std::int64_t> yshape{x.size(0), out_};
    yshape.insert(yshape.end(), modes_.begin(), modes_.end());
    select(out_ft).copy_(y.reshape(yshape));
  }
  return torch::fft::irfftn(out_ft, n, dims);
}

// ------------------------------------------------------------------------------------------
ModelConfig FNOOptions::to_config() const {
  std::ostringstream pad;
  pad.precision(17);
  pad << domain_padding();
  return {{"in_channels", std::to_string(in_channels())},
          {"out_channels", std::to_string(out_channels())},
          {"modes", detail::join(modes())},
          {"width", std::to_string(width())},
          {"layers", std::to_string(layers())},
          {"projection_channels", std::to_string(projection_channels())},
          {"dim", std::to_string(spatial_dim())},
          {"append_grid", append_grid() ? "true" : "false"},
          {"domain_padding", pad.str()}};
}

FNOOptions FNOOptions::from_config(const ModelConfig& c) {
  using namespace detail;
  const std::string m = "fno";
  check_keys(m, c, {"in_channels", "out_channels", "modes", "width", "layers", "projection_channels", "dim",
                    "append_grid", "domain_padding"});
  auto int_or = [&](const std::string& k, std::int64_t def) { auto* v = find(c, k); return v ? parse_int(m, k, *v) : def; };
  FNOOptions o(int_or("in_channels", 1), int_or("out_channels", 1));
  if (auto* v = find(c, "modes")) o.modes(parse_int_list(m, "modes", *v));
  o.width(int_or("width", o.width())).layers(int_or("layers", o.layers()));
  o.projection_channels(int_or("projection_channels", o.projection_channels())).dim(int_or("dim", o.dim()));
  if (auto* v = find(c, "append_grid")) o.append_grid(parse_bool(m, "append_grid", *v));
  if (auto* v = find(c, "domain_padding")) o.domain_padding(parse_real(m, "domain_padding", *v));
  return o;
}

// ------------------------------------------------------------------------------------------
FNOImpl::FNOImpl(FNOOptions options) : Model("FNO"), options_(std::move(options)) {
  auto& o = options_;
  d_ = o.spatial_dim();
  PHYSML_CHECK(d_ >= 1 && d_ <= 3, "FNO dim must be 1, 2 or 3, got ", d_);
  auto modes = o.modes();
  if (modes.size() == 1) modes.assign(static_cast<std::size_t>(d_), modes[0]);
  PHYSML_CHECK(static_cast<std::int64_t>(modes.size()) == d_, "FNO modes has ", o.modes().size(),
               " entries but dim = ", d_, "; give one entry or one per axis");
  o.modes(modes).dim(d_);
  PHYSML_CHECK(o.in_channels() >= 1 && o.out_channels() >= 1 && o.width() >= 1 && o.projection_channels() >= 1,
               "FNO channels must be >= 1");
  PHYSML_CHECK(o.layers() >= 1, "FNO layers must be >= 1, got ", o.layers());
  PHYSML_CHECK(o.domain_padding() >= 0 && o.domain_padding() < 1, "FNO domain_padding is a fraction in [0, 1), got ",
               o.domain_padding());
  const auto d = static_cast<std::size_t>(d_);
  const auto lift_in = o.in_channels() + (o.append_grid() ? d_ : 0);
  std::tie(lift_w_, lift_b_) = pointwise(o.width(), lift_in, d);
  register_parameter("lift_weight", lift_w_);
  register_parameter("lift_bias", lift_b_);
  for (std::int64_t k = 0; k < o.layers(); ++k) {
    spectral_.push_back(register_module("spectral" + std::to_string(k), SpectralConv(o.width(), o.width(), modes)));
    auto [w, b] = pointwise(o.width(), o.width(), d);
    skip_w_.push_back(register_parameter("skip" + std::to_string(k) + "_weight", w));
    skip_b_.push_back(register_parameter("skip" + std::to_string(k) + "_bias", b));
  }
  std::tie(proj1_w_, proj1_b_) = pointwise(o.projection_channels(), o.width(), d);
  register_parameter("proj1_weight", proj1_w_);
  register_parameter("proj1_bias", proj1_b_);
  std::tie(proj2_w_, proj2_b_) = pointwise(o.out_channels(), o.projection_channels(), d);
  register_parameter("proj2_weight", proj2_w_);
  register_parameter("proj2_bias", proj2_b_);
}

at::Tensor FNOImpl::forward(const at::Tensor& x) {
  const auto& o = options_;
  PHYSML_CHECK(x.dim() == d_ + 2, "FNO (dim ", d_, ") expects input [batch, ", o.in_channels(), ", spatial(", d_,
               ")], got a tensor of shape ", shape_text(x.sizes()));
  PHYSML_CHECK(x.size(1) == o.in_channels(), "FNO was built for ", o.in_channels(), " input channels, got input of shape ",
               shape_text(x.sizes()), " with ", x.size(1), " channels");
  at::Tensor u = x;
  if (o.append_grid()) {
    std::vector<at::Tensor> parts{x};
    for (std::int64_t a = 0; a < d_; ++a) {
      const auto n = x.size(2 + a);
      std::vector<std::int64_t> view(static_cast<std::size_t>(d_ + 2), 1);
      view[static_cast<std::size_t>(2 + a)] = n;
      auto shape = x.sizes().vec();
      shape[1] = 1;
      parts.push_back(torch::linspace(0.0, 1.0, n, x.options()).view(view).expand(shape));
    }
    u = torch::cat(parts, 1);
  }
  u = apply_pointwise(u, lift_w_, lift_b_);
  std::vector<std::int64_t> pad;  // F::pad order: last axis first
  bool padded = false;
  for (std::int64_t a = d_ - 1; a >= 0; --a) {
    const auto p = static_cast<std::int64_t>(std::lround(o.domain_padding() * static_cast<double>(x.size(2 + a))));
    pad.push_back(0);
    pad.push_back(p);
    padded = padded || p > 0;
  }
  if (padded) u = torch::constant_pad_nd(u, pad, 0.0);
  for (std::size_t k = 0; k < spectral_.size(); ++k) {
    u = spectral_[k]->forward(u) + apply_pointwise(u, skip_w_[k], skip_b_[k]);
    if (k + 1 < spectral_.size()) u = torch::gelu(u);
  }
  if (padded)
    for (std::int64_t a = 0; a < d_; ++a) u = u.narrow(2 + a, 0, x.size(2 + a));
  u = torch::gelu(apply_pointwise(u, proj1_w_, proj1_b_));
  return apply_pointwise(u, proj2_w_, proj2_b_);
}

FNOOptions& FNOOptions::set_from_options(const Options& options) {
  OptionsReader r(options, "FNO: Fourier neural operator (Li et al., ICLR 2021)");
  auto m = r.int_list("modes", {modes().begin(), modes().end()}, "Fourier modes kept per axis (one entry: every axis)");
  modes({m.begin(), m.end()});
  width(r.integer("width", width(), "channels of the Fourier layers", 1));
  layers(r.integer("layers", layers(), "number of Fourier layers", 1));
  projection_channels(r.integer("projection_channels", projection_channels(), "hidden channels of the projection", 1));
  domain_padding(r.real("domain_padding", domain_padding(),
                        "zero padding at the end of each axis, as a fraction of its size (non-periodic problems)"));
  append_grid(r.boolean("append_grid", append_grid(), "append the coordinates of every axis to the input"));
  return *this;
}

}  // namespace physml::operators
