#include "physml/operators/giorom.hpp"

#include "config_text.hpp"
#include "physml/core/error.hpp"
#include "physml/core/options_reader.hpp"

#include <torch/torch.h>

#include <cmath>
#include <sstream>

namespace physml::operators {
namespace {

/// Coordinates of a G^d grid over the box, [G^d, d], x fastest.
at::Tensor grid_points(std::int64_t d, std::int64_t G, const std::vector<double>& lo, const std::vector<double>& hi) {
  std::vector<at::Tensor> axes;
  for (std::int64_t a = d - 1; a >= 0; --a)  // tensor order z, y, x
    axes.push_back(torch::linspace(lo[static_cast<size_t>(a)], hi[static_cast<size_t>(a)], G, torch::kDouble));
  auto mesh = torch::meshgrid(axes, "ij");
  std::vector<at::Tensor> cols;
  for (std::int64_t a = 0; a < d; ++a) cols.push_back(mesh[static_cast<size_t>(d - 1 - a)].reshape({-1}));
  return torch::stack(cols, 1);
}

std::vector<double> box(const std::vector<double>& v, std::int64_t d, double fill) {
  return v.empty() ? std::vector<double>(static_cast<size_t>(d), fill) : v;
}

/// Multilinear (tent) weights of points p [P, d] on a G^d grid over the box: the 2^d corner
/// node indices [P, 2^d] (x fastest) and weights [P, 2^d].
std::pair<at::Tensor, at::Tensor> multilinear(const at::Tensor& p, std::int64_t G, const std::vector<double>& lo,
                                              const std::vector<double>& hi) {
  const auto d = p.size(1);
  std::vector<at::Tensor> i0, t;
  for (std::int64_t a = 0; a < d; ++a) {
    const double l = lo[static_cast<size_t>(a)], h = hi[static_cast<size_t>(a)];
    const auto s = (p.select(1, a) - l) / (h - l) * static_cast<double>(G - 1);
    const auto base = s.floor().clamp(0, static_cast<double>(G - 2));
    i0.push_back(base.to(torch::kLong));
    t.push_back(s - base);
  }
  std::vector<at::Tensor> idx, w;
  for (std::int64_t c = 0; c < (std::int64_t{1} << d); ++c) {
    auto flat = torch::zeros_like(i0[0]);
    auto weight = torch::ones_like(t[0]);
    std::int64_t stride = 1;
    for (std::int64_t a = 0; a < d; ++a) {
      const bool up = (c >> a) & 1;
      flat = flat + (i0[static_cast<size_t>(a)] + (up ? 1 : 0)) * stride;
      weight = weight * (up ? t[static_cast<size_t>(a)] : 1 - t[static_cast<size_t>(a)]);
      stride *= G;
    }
    idx.push_back(flat);
    w.push_back(weight);
  }
  return {torch::stack(idx, 1), torch::stack(w, 1)};
}

}  // namespace

// ----------------------------------------------------------------------------------------
// GIOROM time stepper

ModelConfig GIOROMOptions::to_config() const {
  ModelConfig c;
  inputs().to_config(c);
  c["latent"] = std::to_string(latent());
  c["mp_steps"] = std::to_string(mp_steps());
  c["mlp_hidden"] = std::to_string(mlp_hidden());
  c["latent_grid"] = std::to_string(latent_grid());
  c["gno_radius"] = detail::join_reals({gno_radius()});
  c["gno_width"] = std::to_string(gno_width());
  c["fno_modes"] = std::to_string(fno_modes());
  c["fno_width"] = std::to_string(fno_width());
  c["fno_layers"] = std::to_string(fno_layers());
  return c;
}

GIOROMOptions GIOROMOptions::from_config(const ModelConfig& c) {
  const std::string m = "giorom";
  detail::check_keys(m, c, {"dim", "window", "radius", "lower", "upper", "materials", "embedding", "noise", "latent",
                            "mp_steps", "mlp_hidden", "latent_grid", "gno_radius", "gno_width", "fno_modes", "fno_width",
                            "fno_layers"});
  GIOROMOptions o;
  o.inputs(ParticleInputOptions::from_config(m, c));
  auto integer = [&](const char* k, std::int64_t v) {
    auto* t = detail::find(c, k);
    return t ? detail::parse_int(m, k, *t) : v;
  };
  o.latent(integer("latent", o.latent())).mp_steps(integer("mp_steps", o.mp_steps()));
  o.mlp_hidden(integer("mlp_hidden", o.mlp_hidden())).latent_grid(integer("latent_grid", o.latent_grid()));
  if (auto* t = detail::find(c, "gno_radius")) o.gno_radius(detail::parse_real(m, "gno_radius", *t));
  o.gno_width(integer("gno_width", o.gno_width())).fno_modes(integer("fno_modes", o.fno_modes()));
  o.fno_width(integer("fno_width", o.fno_width())).fno_layers(integer("fno_layers", o.fno_layers()));
  o.validate();
  return o;
}

GIOROMOptions& GIOROMOptions::set_from_options(const Options& options) {
  OptionsReader r(options, "GIOROM: GNN -> GNO -> FNO -> GNO -> GNN time stepper (particle inputs and widths)");
  inputs().read_options(r);
  latent(r.integer("latent", latent(), "latent width of nodes and edges", 1));
  mp_steps(r.integer("mp_steps", mp_steps(), "Interaction Network layers before and after the operator block", 0));
  mlp_hidden(r.integer("mlp_hidden", mlp_hidden(), "hidden layers of every MLP", 0));
  latent_grid(r.integer("latent_grid", latent_grid(), "points per axis of the latent grid", 2));
  gno_radius(r.real("gno_radius", gno_radius(), "radius of the particle <-> grid kernel integrals"));
  gno_width(r.integer("gno_width", gno_width(), "channels of the latent field", 1));
  fno_modes(r.integer("fno_modes", fno_modes(), "Fourier modes per axis of the latent FNO", 1));
  fno_width(r.integer("fno_width", fno_width(), "width of the latent FNO", 1));
  fno_layers(r.integer("fno_layers", fno_layers(), "Fourier layers of the latent FNO", 1));
  r.end();
  validate();
  return *this;
}

void GIOROMOptions::validate() const {
  inputs().validate("GIOROM");
  PHYSML_CHECK(latent() >= 1 && mp_steps() >= 0 && mlp_hidden() >= 0, "GIOROM: latent >= 1, mp_steps >= 0, mlp_hidden >= 0");
  PHYSML_CHECK(latent_grid() >= 2, "GIOROM: latent_grid must be >= 2, got ", latent_grid());
  PHYSML_CHECK(fno_modes() >= 1 && fno_modes() <= latent_grid() / 2 + 1, "GIOROM: fno_modes ", fno_modes(),
               " must be in 1 .. latent_grid/2 + 1 = ", latent_grid() / 2 + 1);
  PHYSML_CHECK(gno_radius() > 0 && std::isfinite(gno_radius()), "GIOROM: gno_radius must be positive, got ", gno_radius());
  // Every particle must reach a grid point: the radius covers half a cell diagonal.
  for (std::int64_t a = 0; a < inputs().dim(); ++a) {
    const double h = (inputs().upper_at(a) - inputs().lower_at(a)) / static_cast<double>(latent_grid() - 1);
    PHYSML_CHECK(gno_radius() >= 0.5 * h * std::sqrt(static_cast<double>(inputs().dim())), "GIOROM: gno_radius ",
                 gno_radius(), " is below half a latent cell diagonal (", 0.5 * h * std::sqrt(static_cast<double>(inputs().dim())),
                 "): particles between grid points would see none");
  }
}

GIOROMImpl::GIOROMImpl(GIOROMOptions options) : ParticleModel("GIOROM", options.inputs()), options_(std::move(options)) {
  options_.validate();
  const auto& in = options_.inputs();
  const auto L = options_.latent(), H = options_.mlp_hidden(), C = options_.gno_width(), d = in.dim();
  node_encoder_ = register_module("node_encoder", GraphMLP(in.node_features(), L, H, L, true));
  edge_encoder_ = register_module("edge_encoder", GraphMLP(in.edge_features(), L, H, L, true));
  for (std::int64_t s = 0; s < options_.mp_steps(); ++s)
    before_.push_back(register_module("before" + std::to_string(s), InteractionNetwork(L, H)));
  k_in_ = register_module("gno_in", GraphMLP(d + L, 64, H, C, false));
  k_out_ = register_module("gno_out", GraphMLP(d, 64, H, C, false));
  fno_ = register_module("fno", FNO(FNOOptions(C, C)
                                        .modes({options_.fno_modes()})
                                        .width(options_.fno_width())
                                        .layers(options_.fno_layers())
                                        .projection_channels(2 * options_.fno_width())
                                        .dim(d)));
  projection_ = register_module("projection", GraphMLP(C, 2 * L, 1, L, false));
  for (std::int64_t s = 0; s < options_.mp_steps(); ++s)
    after_.push_back(register_module("after" + std::to_string(s), InteractionNetwork(L, H)));
  decoder_ = register_module("decoder", GraphMLP(L, L, H, d, false));
}

at::Tensor GIOROMImpl::latent_points() const {
  const auto& in = options_.inputs();
  const auto d = in.dim();
  return grid_points(d, options_.latent_grid(), box(in.lower(), d, 0.0), box(in.upper(), d, 1.0));
}

at::Tensor GIOROMImpl::network(const GraphBatch& g, const at::Tensor& x) {
  const auto& in = options_.inputs();
  check_graph("GIOROM", g.nodes, in.node_features(), g.edges, in.edge_features(), g.edge_index);
  const auto d = in.dim(), G = options_.latent_grid(), C = options_.gno_width();
  const double r = options_.gno_radius();
  const auto Q = latent_points().to(x.options());
  const std::int64_t nq = Q.size(0), S = g.graphs;
  auto h = node_encoder_->forward(g.nodes);
  auto e = edge_encoder_->forward(g.edges);
  for (auto& layer : before_) std::tie(h, e) = layer->forward(h, e, g.edge_index);

  // Particle <-> grid-point pairs within r, per system; grid points of system s are s * nq + q.
  std::vector<at::Tensor> part, node;
  for (std::int64_t s = 0; s < S; ++s) {
    const auto idx = S == 1 ? torch::arange(x.size(0), torch::TensorOptions().dtype(torch::kLong).device(x.device()))
                            : torch::nonzero(g.graph == s).flatten();
    if (idx.numel() == 0) continue;
    const auto pairs = torch::nonzero(torch::cdist(x.detach().index_select(0, idx), Q) <= r);  // [P, 2]: (particle, q)
    part.push_back(idx.index_select(0, pairs.select(1, 0)));
    node.push_back(pairs.select(1, 1) + s * nq);
  }
  const auto pj = torch::cat(part), qi = torch::cat(node);
  const auto rel = (x.index_select(0, pj) - Q.index_select(0, qi.remainder(nq))) / r;  // (x_j - q) / r
  // GNO in: z(q) = mean_j k_in([rel, h_j]).
  const auto z = scatter_edges(k_in_->forward(torch::cat({rel, h.index_select(0, pj)}, 1)), qi, S * nq, true);
  std::vector<std::int64_t> shape{S};
  for (std::int64_t a = 0; a < d; ++a) shape.push_back(G);
  shape.push_back(C);
  auto field = z.view(shape);  // [S, G.., C] with x fastest
  std::vector<std::int64_t> to_channels{0, d + 1};
  for (std::int64_t a = 1; a <= d; ++a) to_channels.push_back(a);
  const auto Z = fno_->forward(field.permute(to_channels).contiguous());  // [S, C, G..]
  std::vector<std::int64_t> to_last{0};
  for (std::int64_t a = 2; a <= d + 1; ++a) to_last.push_back(a);
  to_last.push_back(1);
  const auto Zflat = Z.permute(to_last).reshape({S * nq, C});
  // GNO out: g_j = mean_q k_out(rel) * Z(q).
  const auto gj = scatter_edges(k_out_->forward(rel) * Zflat.index_select(0, qi), pj, x.size(0), true);
  h = h + projection_->forward(gj);
  for (auto& layer : after_) std::tie(h, e) = layer->forward(h, e, g.edge_index);
  return decoder_->forward(h);
}

// ----------------------------------------------------------------------------------------
// Point evaluator

PointEvaluatorOptions& PointEvaluatorOptions::set_from_options(const Options& options) {
  OptionsReader r(options, "GIOROM point evaluator: displacements of the sparse points at any query point");
  dim(r.integer("dim", dim(), "spatial dimension (2 or 3)", 2, 3));
  grid(r.integer("grid", grid(), "points per axis of the splatting grid", 2));
  width(r.integer("width", width(), "width of the correction MLP", 1));
  hidden(r.integer("hidden", hidden(), "hidden layers of the correction MLP", 0));
  frequencies(r.integer("frequencies", frequencies(), "frequencies of the positional encoding", 0));
  lower(r.real_list("lower", lower(), "lower corner of the box of the reference positions (default 0)"));
  upper(r.real_list("upper", upper(), "upper corner of the box of the reference positions (default 1)"));
  r.end();
  validate();
  return *this;
}

ModelConfig PointEvaluatorOptions::to_config() const {
  return {{"dim", std::to_string(dim())},           {"grid", std::to_string(grid())},
          {"width", std::to_string(width())},       {"hidden", std::to_string(hidden())},
          {"frequencies", std::to_string(frequencies())}, {"lower", detail::join_reals(lower())},
          {"upper", detail::join_reals(upper())}};
}

PointEvaluatorOptions PointEvaluatorOptions::from_config(const ModelConfig& c) {
  const std::string m = "giorom_evaluator";
  detail::check_keys(m, c, {"dim", "grid", "width", "hidden", "frequencies", "lower", "upper"});
  PointEvaluatorOptions o;
  if (auto* v = detail::find(c, "dim")) o.dim(detail::parse_int(m, "dim", *v));
  if (auto* v = detail::find(c, "grid")) o.grid(detail::parse_int(m, "grid", *v));
  if (auto* v = detail::find(c, "width")) o.width(detail::parse_int(m, "width", *v));
  if (auto* v = detail::find(c, "hidden")) o.hidden(detail::parse_int(m, "hidden", *v));
  if (auto* v = detail::find(c, "frequencies")) o.frequencies(detail::parse_int(m, "frequencies", *v));
  if (auto* v = detail::find(c, "lower")) o.lower(detail::parse_real_list(m, "lower", *v));
  if (auto* v = detail::find(c, "upper")) o.upper(detail::parse_real_list(m, "upper", *v));
  o.validate();
  return o;
}

void PointEvaluatorOptions::validate() const {
  PHYSML_CHECK(dim() == 2 || dim() == 3, "giorom_evaluator: dim must be 2 or 3, got ", dim());
  PHYSML_CHECK(grid() >= 2 && width() >= 1 && hidden() >= 0 && frequencies() >= 0,
               "giorom_evaluator: grid >= 2, width >= 1, hidden >= 0, frequencies >= 0");
  for (const auto* b : {&lower(), &upper()})
    PHYSML_CHECK(b->empty() || static_cast<std::int64_t>(b->size()) == dim(), "giorom_evaluator: the box needs ", dim(),
                 " values per corner");
  const auto lo = box(lower(), dim(), 0.0), hi = box(upper(), dim(), 1.0);
  for (std::int64_t a = 0; a < dim(); ++a)
    PHYSML_CHECK(hi[static_cast<size_t>(a)] > lo[static_cast<size_t>(a)], "giorom_evaluator: empty box on axis ", a);
}

PointEvaluatorImpl::PointEvaluatorImpl(PointEvaluatorOptions options)
    : Model("PointEvaluator"), options_(std::move(options)) {
  options_.validate();
  const auto d = options_.dim();
  const double bound = 1.0 / std::sqrt(static_cast<double>(d));
  feature_w_ = register_parameter("feature_weight", torch::empty({d, d}).uniform_(-bound, bound));
  feature_b_ = register_parameter("feature_bias", torch::empty({d}).uniform_(-bound, bound));
  correction_ = register_module("correction", GraphMLP(2 * d + 2 * options_.frequencies() * d, options_.width(),
                                                       options_.hidden(), d, false));
  // The last layer starts at zero: the untrained evaluator is the splat interpolation.
  torch::NoGradGuard ng;
  const auto last = std::to_string(options_.hidden());
  for (auto& p : correction_->named_parameters())
    if (p.key() == "weight" + last || p.key() == "bias" + last) p.value().zero_();
}

at::Tensor PointEvaluatorImpl::forward(const at::Tensor&) {
  PHYSML_THROW("giorom_evaluator: the evaluator maps point sets; call evaluate(sparse_reference, sparse_current, queries)");
}

at::Tensor PointEvaluatorImpl::evaluate(const at::Tensor& Xs, const at::Tensor& xs, const at::Tensor& Xq) {
  const auto d = options_.dim(), G = options_.grid();
  auto check = [&](const at::Tensor& t, const char* what) {
    PHYSML_CHECK(t.defined() && t.dim() == 2 && t.size(1) == d, "giorom_evaluator: ", what, " must be [n, ", d,
                 "], got ", t.defined() ? detail::shape_text(t.sizes()) : std::string("undefined"));
    PHYSML_CHECK(torch::isfinite(t).all().item<bool>(), "giorom_evaluator: ", what, " contain NaN or Inf");
  };
  check(Xs, "sparse reference positions");
  check(xs, "sparse current positions");
  check(Xq, "query reference positions");
  PHYSML_CHECK(Xs.size(0) == xs.size(0) && Xs.size(0) > 0, "giorom_evaluator: ", Xs.size(0), " reference and ", xs.size(0),
               " current sparse positions; expected the same, non-zero number");
  const auto lo = box(options_.lower(), d, 0.0), hi = box(options_.upper(), d, 1.0);
  for (std::int64_t a = 0; a < d; ++a)
    for (const auto* t : {&Xs, &Xq}) {
      const double mn = t->select(1, a).min().item<double>(), mx = t->select(1, a).max().item<double>();
      PHYSML_CHECK(mn >= lo[static_cast<size_t>(a)] && mx <= hi[static_cast<size_t>(a)], "giorom_evaluator: ",
                   t == &Xs ? "sparse" : "query", " reference positions on axis ", a, " span ", mn, " .. ", mx,
                   ", outside the evaluator's box ", lo[static_cast<size_t>(a)], " .. ", hi[static_cast<size_t>(a)]);
    }
  const auto opts = feature_w_.options();
  const auto u = (xs - Xs).to(opts);
  const auto c = torch::cat({torch::gelu(at::linear(u, feature_w_, feature_b_)), torch::ones({u.size(0), 1}, opts), u}, 1);
  const auto [is, ws] = multilinear(Xs.to(opts), G, lo, hi);  // [S, 2^d]
  const auto K = is.size(1);
  std::int64_t nodes = 1;
  for (std::int64_t a = 0; a < d; ++a) nodes *= G;
  const auto grid = torch::zeros({nodes, c.size(1)}, opts)
                        .index_add(0, is.reshape({-1}), (ws.unsqueeze(2) * c.unsqueeze(1)).reshape({-1, c.size(1)}));
  const auto [iq, wq] = multilinear(Xq.to(opts), G, lo, hi);
  const auto s = (grid.index_select(0, iq.reshape({-1})).view({Xq.size(0), K, c.size(1)}) * wq.unsqueeze(2)).sum(1);
  const auto density = s.select(1, d);
  const auto ok = (density > 1e-5).unsqueeze(1);
  const auto safe = density.clamp_min(1e-5).unsqueeze(1);
  const auto f = torch::where(ok, s.slice(1, 0, d) / safe, torch::zeros_like(s.slice(1, 0, d)));
  const auto uq = torch::where(ok, s.slice(1, d + 1) / safe, torch::zeros_like(s.slice(1, d + 1)));
  std::vector<at::Tensor> enc{f, uq};
  std::vector<double> span;
  for (std::int64_t a = 0; a < d; ++a) span.push_back(hi[static_cast<size_t>(a)] - lo[static_cast<size_t>(a)]);
  const auto unit = (Xq.to(opts) - torch::tensor(lo, opts)) / torch::tensor(span, opts);
  for (std::int64_t i = 0; i < options_.frequencies(); ++i) {
    const double w = std::pow(2.0, static_cast<double>(i)) * M_PI;
    enc.push_back(torch::sin(w * unit));
    enc.push_back(torch::cos(w * unit));
  }
  return Xq.to(opts) + uq + correction_->forward(torch::cat(enc, 1));
}

}  // namespace physml::operators
