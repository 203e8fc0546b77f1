#pragma once
/// \file gns.hpp
/// GNS, "Learning to Simulate Complex Physics with Graph Networks" (Sanchez-Gonzalez et al.,
/// ICML 2020), the baseline of GIOROM: encoder (node and edge
/// MLPs with LayerNorm) -> `steps` unshared Interaction Networks with residuals and sum
/// aggregation -> decoder MLP (no LayerNorm) -> normalised acceleration. Latent 128, MLPs of 2
/// hidden layers of 128, 10 steps. Inputs and integration: particle_model.hpp.
#include "physml/operators/particle_model.hpp"

#include <torch/nn/pimpl.h>

namespace physml::operators {

struct GNSOptions {
  TORCH_ARG(ParticleInputOptions, inputs) = {};
  /// Latent width of nodes and edges.
  TORCH_ARG(std::int64_t, latent) = 128;
  /// Message-passing steps (unshared weights).
  TORCH_ARG(std::int64_t, steps) = 10;
  /// Hidden layers of every MLP.
  TORCH_ARG(std::int64_t, mlp_hidden) = 2;

public:
  /// Keys: the inputs' (dim, window, radius, ...) and latent, steps, mlp_hidden.
  ModelConfig to_config() const;
  /// Unknown keys or bad values throw physml::Error.
  static GNSOptions from_config(const ModelConfig& config);
  /// -gns_dim, -gns_radius, ..., -gns_latent, -gns_steps, -gns_mlp_hidden (current values = defaults).
  GNSOptions& set_from_options(const Options& options);
};

class GNSImpl : public ParticleModel {
public:
  explicit GNSImpl(GNSOptions options = {});
  std::string type() const override { return "gns"; }
  ModelConfig config() const override { return options_.to_config(); }
  const GNSOptions& options() const { return options_; }

protected:
  at::Tensor network(const GraphBatch& graph, const at::Tensor& positions) override;

private:
  GNSOptions options_;
  GraphMLP node_encoder_{nullptr}, edge_encoder_{nullptr}, decoder_{nullptr};
  std::vector<InteractionNetwork> processor_;
};
TORCH_MODULE(GNS);

}  // namespace physml::operators
