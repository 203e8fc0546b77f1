#include "physml/operators/particle_model.hpp"

#include "config_text.hpp"
#include "physml/core/error.hpp"
#include "physml/core/options_reader.hpp"
#include "physml/mesh/graph.hpp"

#include <torch/torch.h>

#include <cmath>
#include <sstream>

namespace physml::operators {
double ParticleInputOptions::lower_at(std::int64_t a) const { return lower().empty() ? 0.0 : lower()[static_cast<size_t>(a)]; }
double ParticleInputOptions::upper_at(std::int64_t a) const { return upper().empty() ? 1.0 : upper()[static_cast<size_t>(a)]; }

void ParticleInputOptions::validate(const std::string& who) const {
  PHYSML_CHECK(dim() == 2 || dim() == 3, who, ": dim must be 2 or 3, got ", dim());
  PHYSML_CHECK(window() >= 1, who, ": window must be >= 1 velocity, got ", window());
  PHYSML_CHECK(radius() > 0 && std::isfinite(radius()), who, ": radius must be positive, got ", radius());
  PHYSML_CHECK(materials() >= 1 && embedding() >= 1, who, ": materials and embedding must be >= 1, got ", materials(),
               " and ", embedding());
  PHYSML_CHECK(noise() >= 0 && std::isfinite(noise()), who, ": noise must be >= 0, got ", noise());
  for (const auto* box : {&lower(), &upper()})
    PHYSML_CHECK(box->empty() || static_cast<std::int64_t>(box->size()) == dim(), who, ": the domain box needs ", dim(),
                 " values per corner, got ", box->size());
  for (std::int64_t a = 0; a < dim(); ++a)
    PHYSML_CHECK(upper_at(a) > lower_at(a), who, ": the domain box is empty on axis ", a, " (", lower_at(a), " .. ",
                 upper_at(a), ")");
}

void ParticleInputOptions::to_config(ModelConfig& c) const {
  c["dim"] = std::to_string(dim());
  c["window"] = std::to_string(window());
  c["radius"] = detail::join_reals({radius()});
  c["lower"] = detail::join_reals(lower());
  c["upper"] = detail::join_reals(upper());
  c["materials"] = std::to_string(materials());
  c["embedding"] = std::to_string(embedding());
  c["noise"] = detail::join_reals({noise()});
}

ParticleInputOptions ParticleInputOptions::from_config(const std::string& m, const ModelConfig& c) {
  ParticleInputOptions o;
  if (auto* v = detail::find(c, "dim")) o.dim(detail::parse_int(m, "dim", *v));
  if (auto* v = detail::find(c, "window")) o.window(detail::parse_int(m, "window", *v));
  if (auto* v = detail::find(c, "radius")) o.radius(detail::parse_real(m, "radius", *v));
  if (auto* v = detail::find(c, "lower")) o.lower(detail::parse_real_list(m, "lower", *v));
  if (auto* v = detail::find(c, "upper")) o.upper(detail::parse_real_list(m, "upper", *v));
  if (auto* v = detail::find(c, "materials")) o.materials(detail::parse_int(m, "materials", *v));
  if (auto* v = detail::find(c, "embedding")) o.embedding(detail::parse_int(m, "embedding", *v));
  if (auto* v = detail::find(c, "noise")) o.noise(detail::parse_real(m, "noise", *v));
  o.validate(m);
  return o;
}

ParticleInputOptions& ParticleInputOptions::read_options(OptionsReader& r) {
  dim(r.integer("dim", dim(), "spatial dimension", 2, 3));
  window(r.integer("window", window(), "past velocities in the input", 1));
  radius(r.real("radius", radius(), "connectivity radius R of the particle graph"));
  lower(r.real_list("lower", lower(), "lower corner of the domain box (default 0 on every axis)"));
  upper(r.real_list("upper", upper(), "upper corner of the domain box (default 1 on every axis)"));
  materials(r.integer("materials", materials(), "number of material types", 1));
  embedding(r.integer("embedding", embedding(), "width of the material embedding", 1));
  noise(r.real("noise", noise(), "random-walk noise std at the last velocity (training)"));
  validate("option -" + r.prefix());
  return *this;
}

ParticleStatistics ParticleStatistics::of(const std::vector<at::Tensor>& trajectories) {
  PHYSML_CHECK(!trajectories.empty(), "ParticleStatistics::of: no trajectories");
  std::vector<at::Tensor> v, a;
  for (std::size_t k = 0; k < trajectories.size(); ++k) {
    const auto& x = trajectories[k];
    PHYSML_CHECK(x.dim() == 3 && x.size(0) >= 3, "ParticleStatistics::of: trajectory ", k,
                 " must be [T >= 3, N, d], got ", detail::shape_text(x.sizes()));
    const auto vk = (x.slice(0, 1) - x.slice(0, 0, -1)).to(torch::kDouble);
    v.push_back(vk.reshape({-1, x.size(2)}));
    a.push_back((vk.slice(0, 1) - vk.slice(0, 0, -1)).reshape({-1, x.size(2)}));
  }
  const auto V = torch::cat(v), A = torch::cat(a);
  return {V.mean(0), V.std(0, false), A.mean(0), A.std(0, false)};
}

ParticleModel::ParticleModel(const std::string& name, ParticleInputOptions inputs)
    : Model(name), inputs_(std::move(inputs)) {
  inputs_.validate(name);
  const auto d = inputs_.dim();
  embedding_ = register_parameter("embedding", torch::randn({inputs_.materials(), inputs_.embedding()}));
  vel_mean_ = register_buffer("vel_mean", torch::zeros({d}));
  vel_std_ = register_buffer("vel_std", torch::ones({d}));
  acc_mean_ = register_buffer("acc_mean", torch::zeros({d}));
  acc_std_ = register_buffer("acc_std", torch::ones({d}));
}

at::Tensor ParticleModel::forward(const at::Tensor&) {
  PHYSML_THROW(type(), ": a particle model takes a window of positions, not a field; call step(window) or "
               "acceleration(window)");
}

void ParticleModel::check_window(const ParticleWindow& w) const {
  const auto W = inputs_.window(), d = inputs_.dim();
  PHYSML_CHECK(w.positions.defined() && w.positions.dim() == 3 && w.positions.size(0) == W + 1 &&
                   w.positions.size(2) == d,
               type(), ": expected positions [", W + 1, ", N, ", d, "] (", W + 1, " frames of ", d,
               "-D points), got ", w.positions.defined() ? detail::shape_text(w.positions.sizes()) : std::string("undefined"));
  const auto n = w.positions.size(1);
  PHYSML_CHECK(w.material.defined() && w.material.dim() == 1 && w.material.size(0) == n &&
                   w.material.scalar_type() == torch::kLong,
               type(), ": expected material int64 [", n, "]");
  if (n > 0) {
    const auto lo = w.material.min().item<std::int64_t>(), hi = w.material.max().item<std::int64_t>();
    PHYSML_CHECK(lo >= 0 && hi < inputs_.materials(), type(), ": material ids ", lo, " .. ", hi,
                 " are outside the model's material set [0, ", inputs_.materials(), ")");
  }
  PHYSML_CHECK(!w.system.defined() || (w.system.dim() == 1 && w.system.size(0) == n && w.system.scalar_type() == torch::kLong),
               type(), ": expected system int64 [", n, "]");
  PHYSML_CHECK(torch::isfinite(w.positions).all().item<bool>(), type(), ": the positions contain NaN or Inf");
}

GraphBatch ParticleModel::inputs(const ParticleWindow& w) {
  check_window(w);
  const auto d = inputs_.dim(), W = inputs_.window();
  const double R = inputs_.radius();
  const auto x = w.positions.to(embedding_.scalar_type());
  const auto xt = x[W];
  const auto n = xt.size(0);
  const auto v = x.slice(0, 1) - x.slice(0, 0, W);  // [W, N, d]
  const auto vn = (v - vel_mean_) / torch::sqrt(vel_std_ * vel_std_ + inputs_.noise() * inputs_.noise());
  const auto opts = xt.options();
  std::vector<double> lo, hi;
  for (std::int64_t a = 0; a < d; ++a) lo.push_back(inputs_.lower_at(a)), hi.push_back(inputs_.upper_at(a));
  const auto lower = torch::tensor(lo, opts), upper = torch::tensor(hi, opts);
  const auto walls = torch::cat({(xt - lower) / R, (upper - xt) / R}, 1).clamp(-1.0, 1.0);
  GraphBatch g;
  g.nodes = torch::cat({embedding_.index_select(0, w.material.to(embedding_.device())), vn.permute({1, 0, 2}).reshape({n, W * d}),
                        walls},
                       1);
  // Edges within each system.
  const mesh::GraphOptions go = mesh::GraphOptions().loop(true);
  if (!w.system.defined()) {
    g.edge_index = mesh::radius_graph(xt.detach(), R, go);
    g.graph = torch::zeros({n}, torch::TensorOptions().dtype(torch::kLong).device(xt.device()));
    g.graphs = 1;
  } else {
    const auto systems = n > 0 ? w.system.max().item<std::int64_t>() + 1 : 0;
    std::vector<at::Tensor> parts;
    for (std::int64_t s = 0; s < systems; ++s) {
      const auto idx = torch::nonzero(w.system == s).flatten();
      if (idx.numel() == 0) continue;
      const auto e = mesh::radius_graph(xt.detach().index_select(0, idx), R, go);
      parts.push_back(idx.index_select(0, e.flatten()).view({2, -1}));
    }
    g.edge_index = parts.empty() ? torch::zeros({2, 0}, torch::kLong) : torch::cat(parts, 1);
    g.graph = w.system;
    g.graphs = systems;
  }
  const auto rel = (xt.index_select(0, g.edge_index[0]) - xt.index_select(0, g.edge_index[1])) / R;
  g.edges = torch::cat({rel, rel.norm(2, 1, true)}, 1);
  return g;
}

at::Tensor ParticleModel::acceleration(const ParticleWindow& w) {
  const auto g = inputs(w);
  return network(g, w.positions[inputs_.window()].to(embedding_.scalar_type()));
}

at::Tensor ParticleModel::normalised_acceleration(const ParticleWindow& w, const at::Tensor& next) const {
  const auto W = inputs_.window();
  const auto x = w.positions.to(embedding_.scalar_type());
  const auto a = next.to(x.scalar_type()) - 2 * x[W] + x[W - 1];
  return (a - acc_mean_) / torch::sqrt(acc_std_ * acc_std_ + inputs_.noise() * inputs_.noise());
}

at::Tensor ParticleModel::integrate(const ParticleWindow& w, const at::Tensor& an) const {
  const auto W = inputs_.window();
  const auto x = w.positions.to(an.scalar_type());
  const auto a = an * torch::sqrt(acc_std_ * acc_std_ + inputs_.noise() * inputs_.noise()) + acc_mean_;
  const auto v = x[W] - x[W - 1] + a;
  return x[W] + v;
}

at::Tensor ParticleModel::step(const ParticleWindow& w) { return integrate(w, acceleration(w)); }

void ParticleModel::set_statistics(const ParticleStatistics& s) {
  torch::NoGradGuard ng;
  const auto d = inputs_.dim();
  for (auto [dst, src, name] : {std::tuple{vel_mean_, s.vel_mean, "vel_mean"}, std::tuple{vel_std_, s.vel_std, "vel_std"},
                                std::tuple{acc_mean_, s.acc_mean, "acc_mean"}, std::tuple{acc_std_, s.acc_std, "acc_std"}}) {
    PHYSML_CHECK(src.defined() && src.numel() == d && torch::isfinite(src).all().item<bool>(), type(),
                 ": statistics ", name, " must be ", d, " finite values");
    const bool is_std = std::string(name).find("std") != std::string::npos;
    // A constant component (std 0) would divide by zero when noise is 0 too.
    dst.copy_(is_std ? src.reshape({d}).clamp_min(1e-12) : src.reshape({d}));
  }
}

ParticleStatistics ParticleModel::statistics() const {
  return {vel_mean_.clone(), vel_std_.clone(), acc_mean_.clone(), acc_std_.clone()};
}

}  // namespace physml::operators
