#include "physml/operators/dcdm_net.hpp"

#include "physml/core/error.hpp"
#include "physml/core/options_reader.hpp"
#include "config_text.hpp"

#include <torch/torch.h>


namespace physml::operators {

namespace {

torch::nn::AnyModule make_conv(int dim, int in, int out, int k) {
  if (dim == 2) return torch::nn::AnyModule(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).padding(k / 2)));
  return torch::nn::AnyModule(torch::nn::Conv3d(torch::nn::Conv3dOptions(in, out, k).padding(k / 2)));
}

}  // namespace

DCDMNetImpl::DCDMNetImpl(const DCDMNetOptions& o) : Model("DCDMNet"), options_(o) {
  PHYSML_CHECK(o.dim() == 2 || o.dim() == 3, "DCDMNet: dim must be 2 or 3, got ", o.dim());
  PHYSML_CHECK(o.channels() > 0, "DCDMNet: channels must be positive, got ", o.channels());
  if (o.variant() == "from64") {
    pre_pairs_ = 1; coarse_pairs_ = 3; post_pairs_ = 2;
  } else if (o.variant() == "from128") {
    pre_pairs_ = 2; coarse_pairs_ = 5; post_pairs_ = 3;
  } else {
    PHYSML_THROW("DCDMNet: unknown variant '", o.variant(), "'; expected from64 or from128");
  }
  PHYSML_CHECK(o.init() == "keras" || o.init() == "torch", "DCDMNet: unknown init '", o.init(),
               "'; expected keras or torch");
  const int c = o.channels();
  convs_ = register_module("convs", torch::nn::ModuleList());
  convs_->push_back(make_conv(o.dim(), in_channels(), c, 3).ptr());
  // fine level: la, pre_pairs x (lb, la+), lb; coarse pairs; post pairs
  const int n_hidden = 1 + 2 * pre_pairs_ + 1 + 2 * coarse_pairs_ + 2 * post_pairs_;
  for (int i = 0; i < n_hidden; ++i) convs_->push_back(make_conv(o.dim(), c, c, 3).ptr());
  convs_->push_back(make_conv(o.dim(), c, 1, 1).ptr());
  if (o.init() == "keras") {
    // Keras' Conv defaults, as in the paper's model: glorot_uniform kernels, zero biases.
    torch::NoGradGuard no_grad;
    for (auto& p : convs_->named_parameters()) {
      if (p.value().dim() == 1) {
        p.value().zero_();
      } else {
        torch::nn::init::xavier_uniform_(p.value());
      }
    }
  }
}

at::Tensor DCDMNetImpl::conv(size_t i, const at::Tensor& x) {
  const bool two = options_.dim() == 2;
  const at::Tensor& w = two ? convs_->ptr<torch::nn::Conv2dImpl>(i)->weight : convs_->ptr<torch::nn::Conv3dImpl>(i)->weight;
  const at::Tensor& b = two ? convs_->ptr<torch::nn::Conv2dImpl>(i)->bias : convs_->ptr<torch::nn::Conv3dImpl>(i)->bias;
  if (options_.onednn() && x.device().is_cpu() && !x.is_mkldnn() && x.scalar_type() == torch::kFloat &&
      w.scalar_type() == torch::kFloat && at::hasMKLDNN() && at::globalContext().userEnabledMkldnn()) {
    // Same arithmetic as Conv{2,3}d (stride 1, padding k/2), differentiable; bypasses the
    // size heuristic that sends batch-1 3D inputs to the slow native path (see header).
    const int64_t pad = w.size(-1) / 2;
    const std::vector<int64_t> padding(options_.dim(), pad), ones(options_.dim(), 1);
    return at::mkldnn_convolution(x.contiguous(), w, b, padding, ones, ones, 1);
  }
  if (two) return convs_->ptr<torch::nn::Conv2dImpl>(i)->forward(x);
  return convs_->ptr<torch::nn::Conv3dImpl>(i)->forward(x);
}

at::Tensor DCDMNetImpl::forward(const at::Tensor& x) {
  const int d = options_.dim();
  PHYSML_CHECK(x.dim() == d + 2 && x.size(1) == in_channels(), "DCDMNet.forward: expected input [batch, ",
               in_channels(), d == 3 ? ", nz, ny, nx]" : ", ny, nx]", ", got ", x.sizes());
  for (int k = 2; k < x.dim(); ++k) {
    PHYSML_CHECK(x.size(k) % 2 == 0 && x.size(k) >= 2, "DCDMNet.forward: spatial sizes must be even (one AvgPool(2) level), got ",
                 x.sizes());
  }
  size_t i = 0;
  auto relu_conv = [&](const at::Tensor& t) { return torch::relu(conv(++i, t)); };
  at::Tensor l1 = conv(i, x);  // linear first conv
  at::Tensor la = relu_conv(l1);
  at::Tensor lb;
  for (int p = 0; p < pre_pairs_; ++p) {
    lb = relu_conv(la);
    la = relu_conv(lb) + la;
  }
  lb = relu_conv(la);
  at::Tensor apa = d == 3 ? torch::avg_pool3d(lb, 2) : torch::avg_pool2d(lb, 2);
  for (int p = 0; p < coarse_pairs_; ++p) {
    at::Tensor apb = relu_conv(apa);
    apa = relu_conv(apb) + apa;
  }
  std::vector<int64_t> size(lb.sizes().begin() + 2, lb.sizes().end());
  at::Tensor upa = (d == 3 ? torch::upsample_nearest3d(apa, size) : torch::upsample_nearest2d(apa, size)) + lb;
  for (int p = 0; p < post_pairs_; ++p) {
    at::Tensor upb = relu_conv(upa);
    upa = relu_conv(upb) + upa;
  }
  return conv(++i, upa);
}

ModelConfig DCDMNetOptions::to_config() const {
  return {{"dim", std::to_string(dim())},
          {"variant", variant()},
          {"channels", std::to_string(channels())},
          {"mask_channel", mask_channel() ? "1" : "0"},
          {"train_grid", detail::join(train_grid())}};
}

DCDMNetOptions DCDMNetOptions::from_config(const ModelConfig& c) {
  using namespace detail;
  const std::string m = "dcdm";
  check_keys(m, c, {"dim", "variant", "channels", "mask_channel", "train_grid"});
  DCDMNetOptions o;
  if (auto* v = find(c, "dim")) o.dim(parse_int(m, "dim", *v));
  if (auto* v = find(c, "variant")) o.variant(*v);
  if (auto* v = find(c, "channels")) o.channels(parse_int(m, "channels", *v));
  if (auto* v = find(c, "mask_channel")) o.mask_channel(parse_bool(m, "mask_channel", *v));
  if (auto* v = find(c, "train_grid")) o.train_grid(parse_int_list(m, "train_grid", *v));
  return o;
}

DCDMNetOptions& DCDMNetOptions::set_from_options(const Options& options) {
  OptionsReader r(options, "DCDM network (Kaneda et al., ICML 2023)");
  variant(r.choice("variant", {"from64", "from128"}, variant(),
                   "network depth: from64 (1/3/2 residual pairs) or from128 (2/5/3)"));
  channels(r.integer("channels", channels(), "hidden channels (16 in the paper)", 1));
  mask_channel(r.boolean("mask_channel", mask_channel(), "fluid/solid mask as a second input channel"));
  init(r.choice("init", {"keras", "torch"}, init(),
                "initialization of a new network: keras (Glorot kernels, zero biases) or torch (LibTorch's)"));
  return *this;
}

at::Tensor sparse_apply(const at::Tensor& A, const at::Tensor& x) {
  PHYSML_CHECK(x.dim() == 2 && A.dim() == 2 && A.size(1) == x.size(1), "sparse_apply: expected A [n, n] and x [batch, n], got A ",
               A.sizes(), " and x ", x.sizes());
  return torch::mm(A, x.t()).t();
}

at::Tensor dcdm_loss(const at::Tensor& q_in, const at::Tensor& b_in,
                     const std::function<at::Tensor(const at::Tensor&)>& apply_A) {
  PHYSML_CHECK(q_in.dim() >= 2 && q_in.sizes() == b_in.sizes(), "dcdm_loss: q and b must have the same shape [batch, ...], got ",
               q_in.sizes(), " and ", b_in.sizes());
  const auto batch = q_in.size(0);
  at::Tensor q = q_in.reshape({batch, -1});
  at::Tensor b = b_in.reshape({batch, -1});
  at::Tensor Aq = apply_A(q);
  at::Tensor qAq = (q * Aq).sum(1, /*keepdim=*/true);
  at::Tensor qb = (q * b).sum(1, /*keepdim=*/true);
  at::Tensor r = b - (qb / qAq) * Aq;
  return (r * r).sum(1).mean();
}

}  // namespace physml::operators
