#include "physml/operators/mgno.hpp"

#include "config_text.hpp"
#include "physml/core/error.hpp"
#include "physml/core/options_reader.hpp"

#include <torch/torch.h>

#include <cmath>
#include <sstream>

namespace physml::operators {
namespace {

using detail::shape_text;

std::vector<std::array<std::int64_t, 2>> default_smoothing(std::int64_t levels) {
  std::vector<std::array<std::int64_t, 2>> s(static_cast<std::size_t>(levels), {1, 0});
  s.back() = {2, 0};
  return s;
}

/// PyTorch's default convolution initialization: kaiming_uniform(a = sqrt 5) on the weight,
/// i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = size(1) * prod(kernel).
void init_conv_weight(at::Tensor& w) {
  torch::NoGradGuard guard;
  torch::nn::init::kaiming_uniform_(w, std::sqrt(5.0));
}

at::Tensor make_weight(std::int64_t d0, std::int64_t d1, const std::vector<std::int64_t>& kernel) {
  std::vector<std::int64_t> shape{d0, d1};
  shape.insert(shape.end(), kernel.begin(), kernel.end());
  auto w = torch::empty(shape);
  init_conv_weight(w);
  return w;
}

/// The fast CPU path (float32, 2-D, oneDNN available): channels-last activations, which
/// oneDNN convolves 2-4x faster than NCHW at MgNO's sizes (24 channels, 3x3, docs/
/// results-speed.md §4), and transposed convolutions as sub-pixel convolutions. The weights
/// (parameters) stay NCHW: converting them to channels-last inside the graph as well gave wrong,
/// run-to-run different parameter gradients in LibTorch 1.13 / oneDNN 2.6 (a 2-layer MgNO
/// with one input channel; the test Float32FastPathMatchesTheReferenceConvolutions). Only the
/// sub-pixel kernel, built per call, is channels-last.
bool fast_path(const at::Tensor& x) {
  return x.dim() == 4 && x.device().is_cpu() && x.scalar_type() == torch::kFloat && at::hasMKLDNN() &&
         at::globalContext().userEnabledMkldnn();
}

at::Tensor channels_last(const at::Tensor& t) { return t.contiguous(at::MemoryFormat::ChannelsLast); }

/// ConvTranspose2d(kernel 4, stride 2, padding 1) as one 3x3 convolution (padding 1) to
/// 4 cout channels followed by pixel_shuffle(2): output row 2m + a takes kernel rows
/// {1, 3} from input rows {m, m - 1} (a = 0) and rows {2, 0} from {m, m + 1} (a = 1), same in
/// x. Same sums as the transposed convolution, which LibTorch runs on a slow native kernel
/// (~6 GFLOP/s here, against ~100 for this form). w: [cin, cout, 4, 4].
at::Tensor conv_transpose4_subpixel(const at::Tensor& x, const at::Tensor& w) {
  static const at::Tensor sel = [] {
    auto s = torch::zeros({2, 3, 4});
    s[0][0][3] = 1;
    s[0][1][1] = 1;
    s[1][1][2] = 1;
    s[1][2][0] = 1;
    return s;
  }();
  const auto cin = w.size(0), cout = w.size(1);
  auto S = sel.to(w.options());
  auto k = torch::einsum("aup,bvq,copq->oabcuv", {S, S, w}).reshape({4 * cout, cin, 3, 3});
  return torch::pixel_shuffle(at::convolution(x, channels_last(k), {}, {1, 1}, {1, 1}, {1, 1}, false, {0, 0}, 1), 2);
}

void check_padding_mode(const std::string& mode) {
  PHYSML_CHECK(mode == "zeros" || mode == "circular" || mode == "reflect", "MgNO padding_mode '", mode,
               "' is not supported; expected zeros (Dirichlet), circular (periodic) or reflect (Neumann)");
}

}  // namespace

std::vector<std::vector<std::int64_t>> mg_level_sizes(const std::vector<std::int64_t>& fine, std::int64_t levels) {
  PHYSML_CHECK(levels >= 1, "multigrid levels must be >= 1, got ", levels);
  std::vector<std::vector<std::int64_t>> sizes{fine};
  for (std::int64_t l = 1; l < levels; ++l) {
    auto next = sizes.back();
    for (auto& n : next) n = (n + 1) / 2;
    sizes.push_back(next);
  }
  for (std::size_t d = 0; d < fine.size(); ++d) {
    if (sizes.back()[d] < 2) {
      // Smallest size whose coarsest level keeps 2 points: 2^(L-1) + 1.
      std::int64_t need = (std::int64_t{1} << (levels - 1)) + 1;
      std::int64_t max_levels = 1;
      for (std::int64_t n = fine[d]; n >= 3; n = (n + 1) / 2) ++max_levels;
      PHYSML_THROW("grid ", shape_text(fine), " is too small for ", levels, " multigrid levels: axis ", d, " has ",
                   fine[d], " points and its coarsest level would have ", sizes.back()[d],
                   " (need >= 2); use a grid with at least ", need, " points per axis or at most ", max_levels,
                   " levels");
    }
  }
  return sizes;
}

// ------------------------------------------------------------------------------------------
VCycleImpl::VCycleImpl(VCycleOptions options) : options_(std::move(options)) { reset(); }

void VCycleImpl::reset() {
  const auto& o = options_;
  PHYSML_CHECK(o.dim() >= 1 && o.dim() <= 3, "VCycle dim must be 1, 2 or 3, got ", o.dim());
  PHYSML_CHECK(o.u_channels() >= 1 && o.f_channels() >= 1, "VCycle channels must be >= 1, got u=", o.u_channels(),
               " f=", o.f_channels());
  PHYSML_CHECK(o.levels() >= 1, "VCycle levels must be >= 1, got ", o.levels());
  check_padding_mode(o.padding_mode());
  const auto L = static_cast<std::size_t>(o.levels());
  smoothing_ = o.smoothing().empty() ? default_smoothing(o.levels()) : o.smoothing();
  PHYSML_CHECK(smoothing_.size() == L, "VCycle smoothing has ", smoothing_.size(), " entries but levels = ", L,
               "; give one {pre, post} pair per level");
  PHYSML_CHECK(smoothing_[0][0] >= 1, "VCycle: level 0 needs at least one pre-smoothing step (u0 = S f0), got ",
               smoothing_[0][0]);
  for (std::size_t l = 0; l < L; ++l)
    PHYSML_CHECK(smoothing_[l][0] >= 0 && smoothing_[l][1] >= 0, "VCycle: negative smoothing steps at level ", l);
  PHYSML_CHECK(L == 1 || smoothing_[L - 1][1] == 0, "VCycle: post-smoothing on the coarsest level (", L - 1,
               ") is never applied; move those steps to pre-smoothing");

  const std::size_t d = static_cast<std::size_t>(o.dim());
  // Prolongation kernels: 4 (even fine size) or 3 (odd fine size) per axis, from grid_size.
  kernels_.assign(L > 0 ? L - 1 : 0, std::vector<std::int64_t>(d, 4));
  if (!o.grid_size().empty()) {
    auto g = o.grid_size();
    if (g.size() == 1 && d > 1) g.assign(d, g[0]);
    PHYSML_CHECK(g.size() == d, "VCycle grid_size has ", g.size(), " entries, expected ", d, " (dim)");
    auto sizes = mg_level_sizes(g, o.levels());
    for (std::size_t l = 1; l < L; ++l)
      for (std::size_t a = 0; a < d; ++a) kernels_[l - 1][a] = sizes[l - 1][a] - 2 * sizes[l][a] + 4;
  }

  const std::vector<std::int64_t> k3(d, 3);
  const auto cu = o.u_channels(), cf = o.f_channels();
  A_pre_.assign(L, {});
  S_pre_.assign(L, {});
  A_post_.assign(L, {});
  S_post_.assign(L, {});
  R_.assign(L, {});
  Pi_.assign(L, {});
  P_.assign(L, {});
  norm_w_.assign(L, {});
  norm_b_.assign(L, {});
  for (std::size_t l = 0; l < L; ++l) {
    const std::string lv = "l" + std::to_string(l);
    if (l >= 1) {
      R_[l] = register_parameter("R_" + lv, make_weight(cf, cf, k3));
      Pi_[l] = register_parameter("Pi_" + lv, make_weight(cu, cu, k3));
    }
    for (std::int64_t s = 0; s < smoothing_[l][0]; ++s) {
      const std::string st = lv + "_s" + std::to_string(s);
      if (!(l == 0 && s == 0)) A_pre_[l].push_back(register_parameter("A_pre_" + st, make_weight(cf, cu, k3)));
      S_pre_[l].push_back(register_parameter("S_pre_" + st, make_weight(cu, cf, k3)));
    }
  }
  // Coarse-to-fine order mirrors the forward pass: prolongation, normalization, post-smoothing.
  for (std::size_t j = L - 1; j-- > 0;) {
    const std::string lv = "l" + std::to_string(j);
    P_[j + 1] = register_parameter("P_l" + std::to_string(j + 1), make_weight(cu, cu, kernels_[j]));
    if (o.normalization()) {
      norm_w_[j] = register_parameter("norm_weight_" + lv, torch::ones({cu}));
      norm_b_[j] = register_parameter("norm_bias_" + lv, torch::zeros({cu}));
    }
    for (std::int64_t s = 0; s < smoothing_[j][1]; ++s) {
      const std::string st = lv + "_s" + std::to_string(s);
      A_post_[j].push_back(register_parameter("A_post_" + st, make_weight(cf, cu, k3)));
      S_post_[j].push_back(register_parameter("S_post_" + st, make_weight(cu, cf, k3)));
    }
  }
}

at::Tensor VCycleImpl::conv(const at::Tensor& x, const at::Tensor& w, std::int64_t stride) const {
  const auto d = static_cast<std::size_t>(options_.dim());
  const std::vector<std::int64_t> strides(d, stride), ones(d, 1), zeros(d, 0);
  if (options_.padding_mode() == "zeros") {
    return at::convolution(x, w, {}, strides, ones, ones, false, zeros, 1);
  }
  const std::vector<std::int64_t> pad(2 * d, 1);
  namespace F = torch::nn::functional;
  auto opts = F::PadFuncOptions(pad);
  if (options_.padding_mode() == "circular")
    opts.mode(torch::kCircular);
  else
    opts.mode(torch::kReflect);
  return at::convolution(F::pad(x, opts), w, {}, strides, zeros, ones, false, zeros, 1);
}

at::Tensor VCycleImpl::smooth(const at::Tensor& u, const at::Tensor& f, std::size_t level, std::size_t step,
                              bool post) {
  const auto& A = post ? A_post_[level][step] : A_pre_[level][level == 0 ? step - 1 : step];
  const auto& S = post ? S_post_[level][step] : S_pre_[level][step];
  return u + conv(f - conv(u, A, 1), S, 1);
}

at::Tensor VCycleImpl::forward(const at::Tensor& f) {
  const auto d = options_.dim();
  PHYSML_CHECK(f.dim() == d + 2 && f.size(1) == options_.f_channels(), "VCycle expects f of shape [batch, ",
               options_.f_channels(), ", spatial(", d, ")], got ", shape_text(f.sizes()));
  std::vector<std::int64_t> fine(f.sizes().begin() + 2, f.sizes().end());
  const auto sizes = mg_level_sizes(fine, options_.levels());
  const std::size_t L = sizes.size();
  std::vector<at::Tensor> fs(L), us(L);
  fs[0] = f;
  us[0] = conv(f, S_pre_[0][0], 1);  // MgIte_init: u0 = S f0
  for (std::int64_t s = 1; s < smoothing_[0][0]; ++s) us[0] = smooth(us[0], fs[0], 0, s, false);
  for (std::size_t l = 1; l < L; ++l) {
    fs[l] = conv(fs[l - 1], R_[l], 2);
    us[l] = conv(us[l - 1], Pi_[l], 2);
    for (std::int64_t s = 0; s < smoothing_[l][0]; ++s) us[l] = smooth(us[l], fs[l], l, s, false);
  }
  for (std::size_t j = L - 1; j-- > 0;) {
    at::Tensor p;
    const auto& k = kernels_[j];
    const std::vector<std::int64_t> strides(static_cast<std::size_t>(d), 2), ones(d, 1), zeros(d, 0);
    if (options_.padding_mode() == "circular") {
      // Periodic prolongation: the full transposed convolution (no padding), with what falls
      // outside the period wrapped around, i.e. fine index (j - 1) mod n. Keeps the V-cycle
      // shift-equivariant on periodic grids (a zero-padded transposed convolution does not).
      p = at::convolution(us[j + 1], P_[j + 1], {}, strides, zeros, ones, true, zeros, 1);
      for (std::int64_t a = 0; a < d; ++a) {
        const auto n = sizes[j][a];
        auto idx = torch::remainder(torch::arange(p.size(2 + a), torch::dtype(torch::kLong).device(p.device())) - 1, n);
        auto shape = p.sizes().vec();
        shape[static_cast<std::size_t>(2 + a)] = n;
        p = torch::zeros(shape, p.options()).index_add(2 + a, idx, p);
      }
    } else {
      // Transposed convolution, stride 2, padding 1: size 2 n - 4 + k (+ output_padding); add
      // one cell of output padding or crop one so the result has exactly the level-j size.
      std::vector<std::int64_t> out_pad(static_cast<std::size_t>(d), 0);
      std::vector<bool> crop(static_cast<std::size_t>(d), false);
      for (std::int64_t a = 0; a < d; ++a) {
        const std::int64_t base = 2 * sizes[j + 1][a] - 4 + k[a];
        const std::int64_t diff = sizes[j][a] - base;
        PHYSML_CHECK(diff >= -1 && diff <= 1, "VCycle: cannot prolong level ", j + 1, " (", sizes[j + 1][a],
                     " points) to level ", j, " (", sizes[j][a], " points) with kernel ", k[a]);
        if (diff == 1) out_pad[a] = 1;
        if (diff == -1) crop[a] = true;
      }
      const bool subpixel = fast_path(us[j + 1]) && k.size() == 2 && k[0] == 4 && k[1] == 4 && out_pad[0] == 0 &&
                            out_pad[1] == 0;
      if (subpixel)
        p = conv_transpose4_subpixel(channels_last(us[j + 1]), P_[j + 1]);
      else
        p = at::convolution(us[j + 1], P_[j + 1], {}, strides, ones, ones, true, out_pad, 1);
      for (std::int64_t a = 0; a < d; ++a)
        if (crop[a]) p = p.narrow(2 + a, 0, sizes[j][a]);
    }
    us[j] = us[j] + p;
    if (options_.normalization()) us[j] = torch::group_norm(us[j], 1, norm_w_[j], norm_b_[j], 1e-5);
    for (std::int64_t s = 0; s < smoothing_[j][1]; ++s) us[j] = smooth(us[j], fs[j], j, s, true);
  }
  return us[0];
}

// ------------------------------------------------------------------------------------------
ModelConfig MgNOOptions::to_config() const {
  std::string smooth;
  for (const auto& s : smoothing()) smooth += (smooth.empty() ? "" : ";") + std::to_string(s[0]) + "," + std::to_string(s[1]);
  return {{"in_channels", std::to_string(in_channels())},
          {"out_channels", std::to_string(out_channels())},
          {"channels", std::to_string(channels())},
          {"levels", std::to_string(levels())},
          {"smoothing", smooth},
          {"layers", std::to_string(layers())},
          {"padding_mode", padding_mode()},
          {"dim", std::to_string(dim())},
          {"normalization", normalization() ? "true" : "false"},
          {"residual", residual() ? "true" : "false"},
          {"grid_size", detail::join(grid_size())}};
}

MgNOOptions MgNOOptions::from_config(const ModelConfig& c) {
  using namespace detail;
  const std::string m = "mgno";
  check_keys(m, c, {"in_channels", "out_channels", "channels", "levels", "smoothing", "layers", "padding_mode", "dim",
                    "normalization", "residual", "grid_size"});
  auto int_or = [&](const std::string& k, std::int64_t def) { auto* v = find(c, k); return v ? parse_int(m, k, *v) : def; };
  MgNOOptions o(int_or("in_channels", 1), int_or("out_channels", 1));
  o.channels(int_or("channels", o.channels())).levels(int_or("levels", o.levels())).layers(int_or("layers", o.layers()));
  o.dim(int_or("dim", o.dim()));
  if (auto* v = find(c, "padding_mode")) o.padding_mode(*v);
  if (auto* v = find(c, "normalization")) o.normalization(parse_bool(m, "normalization", *v));
  if (auto* v = find(c, "residual")) o.residual(parse_bool(m, "residual", *v));
  if (auto* v = find(c, "grid_size")) o.grid_size(parse_int_list(m, "grid_size", *v));
  if (auto* v = find(c, "smoothing"); v && !v->empty()) {
    std::vector<std::array<std::int64_t, 2>> s;
    for (auto pair : [&] {
           std::vector<std::string> parts;
           std::stringstream ss(*v);
           std::string item;
           while (std::getline(ss, item, ';')) parts.push_back(item);
           return parts;
         }()) {
      auto p = parse_int_list(m, "smoothing", pair);
      PHYSML_CHECK(p.size() == 2, "mgno option 'smoothing': expected 'pre,post;pre,post;...', got '", *v, "'");
      s.push_back({p[0], p[1]});
    }
    o.smoothing(s);
  }
  return o;
}

// ------------------------------------------------------------------------------------------
MgNOImpl::MgNOImpl(MgNOOptions options) : Model("MgNO"), options_(std::move(options)) {
  const auto& o = options_;
  PHYSML_CHECK(o.in_channels() >= 1 && o.out_channels() >= 1 && o.channels() >= 1,
               "MgNO channels must be >= 1, got in=", o.in_channels(), " out=", o.out_channels(),
               " channels=", o.channels());
  PHYSML_CHECK(o.layers() >= 1, "MgNO layers must be >= 1, got ", o.layers());
  PHYSML_CHECK(o.dim() >= 1 && o.dim() <= 3, "MgNO dim must be 1, 2 or 3, got ", o.dim());
  PHYSML_CHECK(!o.residual() || o.in_channels() == o.out_channels(), "MgNO residual output (out = head(u) + x) needs ",
               "as many output as input channels, got ", o.in_channels(), " in and ", o.out_channels(), " out");
  check_padding_mode(o.padding_mode());
  const std::vector<std::int64_t> k1(static_cast<std::size_t>(o.dim()), 1);
  for (std::int64_t k = 0; k < o.layers(); ++k) {
    const auto cin = k == 0 ? o.in_channels() : o.channels();
    auto vo = VCycleOptions(o.channels(), cin)
                  .levels(o.levels())
                  .smoothing(o.smoothing())
                  .padding_mode(o.padding_mode())
                  .dim(o.dim())
                  .normalization(o.normalization())
                  .grid_size(o.grid_size());
    cycles_.push_back(register_module("vcycle" + std::to_string(k), VCycle(vo)));
    auto w = make_weight(o.channels(), cin, k1);
    const double bound = 1.0 / std::sqrt(static_cast<double>(cin));
    skip_w_.push_back(register_parameter("skip" + std::to_string(k) + "_weight", w));
    skip_b_.push_back(register_parameter("skip" + std::to_string(k) + "_bias", torch::empty({o.channels()}).uniform_(-bound, bound)));
  }
  head_w_ = register_parameter("head_weight", make_weight(o.out_channels(), o.channels(), k1));
}

at::Tensor MgNOImpl::forward(const at::Tensor& x) {
  const auto& o = options_;
  PHYSML_CHECK(x.dim() == o.dim() + 2, "MgNO (dim ", o.dim(), ") expects input [batch, ", o.in_channels(),
               ", spatial(", o.dim(), ")], got a tensor of shape ", shape_text(x.sizes()));
  PHYSML_CHECK(x.size(1) == o.in_channels(), "MgNO was built for ", o.in_channels(),
               " input channels, got input of shape ", shape_text(x.sizes()), " with ", x.size(1), " channels");
  mg_level_sizes(std::vector<std::int64_t>(x.sizes().begin() + 2, x.sizes().end()), o.levels());
  const auto d = static_cast<std::size_t>(o.dim());
  const std::vector<std::int64_t> ones(d, 1), zeros(d, 0);
  // Fast path: channels-last activations from here to the head (see fast_path), the result
  // back in the caller's contiguous layout.
  const bool fast = fast_path(x);
  at::Tensor u = fast ? channels_last(x) : x;
  for (std::size_t k = 0; k < cycles_.size(); ++k) {
    auto skip = at::convolution(u, skip_w_[k], skip_b_[k], ones, zeros, ones, false, zeros, 1);
    u = torch::gelu(cycles_[k]->forward(u) + skip);
  }
  auto out = at::convolution(u, head_w_, {}, ones, zeros, ones, false, zeros, 1);
  if (fast) out = out.contiguous();
  return o.residual() ? out + x : out;
}

MgNOOptions& MgNOOptions::on(const mesh::Grid& grid) {
  dim(grid.dim());
  grid_size(grid.shape());
  return *this;
}

MgNOOptions& MgNOOptions::set_from_options(const Options& options) {
  OptionsReader r(options, "MgNO: multigrid neural operator (Liu, Xu & Zhang, ICLR 2024)");
  channels(r.integer("channels", channels(), "hidden channels of every V-cycle", 1));
  levels(r.integer("levels", levels(), "multigrid levels per V-cycle (level 0 = the input grid)", 1));
  layers(r.integer("layers", layers(), "layers u <- GELU(VCycle(u) + W u + b)", 1));
  padding_mode(r.choice("padding_mode", {"zeros", "circular", "reflect"}, padding_mode(),
                        "padding of the 3x3 convolutions: zeros = Dirichlet, circular = periodic, reflect = Neumann"));
  normalization(r.boolean("normalization", normalization(), "group normalization after each coarse-to-fine correction"));
  residual(r.boolean("residual", residual(), "out = head(u) + x (needs in_channels == out_channels)"));
  std::vector<long> flat;
  for (const auto& s : smoothing()) flat.insert(flat.end(), {static_cast<long>(s[0]), static_cast<long>(s[1])});
  auto s = r.int_list("smoothing", flat, "pre,post smoothing steps per level, finest first (empty = 1,0,...,1,0,2,0)");
  PHYSML_CHECK(s.size() % 2 == 0, "option -", options.prefix(), "smoothing takes pre,post pairs (e.g. 1,0,1,0,2,0), got ",
               s.size(), " numbers");
  Smoothing pairs;
  for (std::size_t i = 0; i < s.size(); i += 2) pairs.push_back({s[i], s[i + 1]});
  smoothing(pairs);
  return *this;
}

}  // namespace physml::operators
