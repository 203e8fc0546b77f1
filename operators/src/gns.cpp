#include "physml/operators/gns.hpp"

#include "config_text.hpp"
#include "physml/core/error.hpp"
#include "physml/core/options_reader.hpp"

#include <torch/torch.h>

namespace physml::operators {

ModelConfig GNSOptions::to_config() const {
  ModelConfig c;
  inputs().to_config(c);
  c["latent"] = std::to_string(latent());
  c["steps"] = std::to_string(steps());
  c["mlp_hidden"] = std::to_string(mlp_hidden());
  return c;
}

GNSOptions GNSOptions::from_config(const ModelConfig& c) {
  const std::string m = "gns";
  detail::check_keys(m, c, {"dim", "window", "radius", "lower", "upper", "materials", "embedding", "noise", "latent", "steps",
                            "mlp_hidden"});
  GNSOptions o;
  o.inputs(ParticleInputOptions::from_config(m, c));
  if (auto* v = detail::find(c, "latent")) o.latent(detail::parse_int(m, "latent", *v));
  if (auto* v = detail::find(c, "steps")) o.steps(detail::parse_int(m, "steps", *v));
  if (auto* v = detail::find(c, "mlp_hidden")) o.mlp_hidden(detail::parse_int(m, "mlp_hidden", *v));
  return o;
}

GNSOptions& GNSOptions::set_from_options(const Options& options) {
  OptionsReader r(options, "GNS: encode-process-decode graph network (particle inputs and widths)");
  inputs().read_options(r);
  latent(r.integer("latent", latent(), "latent width of nodes and edges", 1));
  steps(r.integer("steps", steps(), "message-passing steps (unshared)", 1));
  mlp_hidden(r.integer("mlp_hidden", mlp_hidden(), "hidden layers of every MLP", 0));
  r.end();
  return *this;
}

GNSImpl::GNSImpl(GNSOptions options) : ParticleModel("GNS", options.inputs()), options_(std::move(options)) {
  PHYSML_CHECK(options_.latent() >= 1 && options_.steps() >= 1 && options_.mlp_hidden() >= 0,
               "GNS: latent, steps must be >= 1 and mlp_hidden >= 0");
  const auto L = options_.latent(), H = options_.mlp_hidden();
  const auto& in = options_.inputs();
  node_encoder_ = register_module("node_encoder", GraphMLP(in.node_features(), L, H, L, true));
  edge_encoder_ = register_module("edge_encoder", GraphMLP(in.edge_features(), L, H, L, true));
  for (std::int64_t s = 0; s < options_.steps(); ++s)
    processor_.push_back(register_module("processor" + std::to_string(s), InteractionNetwork(L, H)));
  decoder_ = register_module("decoder", GraphMLP(L, L, H, in.dim(), false));
}

at::Tensor GNSImpl::network(const GraphBatch& g, const at::Tensor&) {
  const auto& in = options_.inputs();
  check_graph("GNS", g.nodes, in.node_features(), g.edges, in.edge_features(), g.edge_index);
  auto h = node_encoder_->forward(g.nodes);
  auto e = edge_encoder_->forward(g.edges);
  for (auto& layer : processor_) std::tie(h, e) = layer->forward(h, e, g.edge_index);
  return decoder_->forward(h);
}

}  // namespace physml::operators
