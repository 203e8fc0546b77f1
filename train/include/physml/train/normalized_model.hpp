#pragma once
/// \file normalized_model.hpp
/// A model together with its input and output normalizers, so the normalization is saved in
/// (and restored from) the same Checkpoint: forward(x) = y_norm.decode(model(x_norm.encode(x))).

#include "physml/operators/registry.hpp"
#include "physml/train/normalizer.hpp"

#include <memory>
#include <string>

namespace physml::train {

/// Registered type "normalized". Its config holds the inner model's type ("model"), the inner
/// options prefixed "model.", the normalizer kinds ("x_normalizer", "y_normalizer") and the
/// shapes of their statistics ("x_stats_shape", "y_stats_shape"), so create() rebuilds it with
/// buffers of the right shape before a Checkpoint is loaded into it.
class NormalizedModel : public operators::Model {
public:
  NormalizedModel(std::shared_ptr<operators::Model> inner, Normalizer x_normalizer, Normalizer y_normalizer);
  /// x [batch, C_in, spatial...] in physical units -> prediction in physical units.
  at::Tensor forward(const at::Tensor& x) override;
  std::string type() const override { return "normalized"; }
  operators::ModelConfig config() const override;
  const std::shared_ptr<operators::Model>& inner() const { return inner_; }
  Normalizer& x_normalizer() { return x_norm_; }
  Normalizer& y_normalizer() { return y_norm_; }

private:
  std::shared_ptr<operators::Model> inner_;
  Normalizer x_norm_, y_norm_;
};

/// Register "normalized" with the operators registry (idempotent). Called by the Trainer and
/// load_model; call it before operators::create("normalized", ...) elsewhere.
void register_models();

/// Load any model (including a "normalized" one) from a Checkpoint file.
std::shared_ptr<operators::Model> load_model(const std::string& path);

}  // namespace physml::train
