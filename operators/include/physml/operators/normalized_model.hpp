#pragma once
/// \file normalized_model.hpp
/// A model together with its input and output normalizers, so the normalization is saved in
/// (and restored from) the same Checkpoint: forward(x) = y_norm.decode(model(x_norm.encode(x))).

#include "physml/operators/registry.hpp"
#include "physml/operators/normalizer.hpp"

#include <memory>
#include <string>

namespace physml::operators {

/// Registered type "normalized". Its config holds the inner model's type ("model"), the inner
/// options prefixed "model.", the normalizer kinds ("x_normalizer", "y_normalizer") and the
/// shapes of their statistics ("x_stats_shape", "y_stats_shape"), so create() rebuilds it with
/// buffers of the right shape before a Checkpoint is loaded into it.
class NormalizedModel : public Model {
public:
  NormalizedModel(std::shared_ptr<Model> inner, Normalizer x_normalizer, Normalizer y_normalizer);
  /// x [batch, C_in, spatial...] in physical units -> prediction in physical units.
  at::Tensor forward(const at::Tensor& x) override;
  std::string type() const override { return "normalized"; }
  ModelConfig config() const override;
  /// Rebuild from config() (the registry's factory for "normalized"): the inner model through
  /// create(), normalizers with statistics buffers of the recorded shapes.
  static std::shared_ptr<Model> from_config(const ModelConfig& config);
  const std::shared_ptr<Model>& inner() const { return inner_; }
  Normalizer& x_normalizer() { return x_norm_; }
  Normalizer& y_normalizer() { return y_norm_; }

private:
  std::shared_ptr<Model> inner_;
  Normalizer x_norm_, y_norm_;
};

}  // namespace physml::operators
