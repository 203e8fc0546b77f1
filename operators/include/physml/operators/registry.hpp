#pragma once
/// \file registry.hpp
/// The model registry: every learned model type registers a factory under its type
/// name, so a model can be rebuilt from the options saved in a Checkpoint file.

#include <torch/nn/module.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace physml::operators {

/// A model's options as name -> value text, exactly as stored in a Checkpoint's
/// attributes (e.g. {"channels","24"}, {"levels","6"}).
using ModelConfig = std::map<std::string, std::string>;

/// Common interface of PhysML's field-to-field models (neural operators, closures).
/// forward maps [batch, in_channels, spatial...] to [batch, out_channels, spatial...].
class Model : public torch::nn::Module {
public:
  explicit Model(const std::string& name) : torch::nn::Module(name) {}
  virtual at::Tensor forward(const at::Tensor& x) = 0;
  /// Registered type name ("mgno", "fno", ...).
  virtual std::string type() const = 0;
  /// The options that rebuild this model through create().
  virtual ModelConfig config() const = 0;
};

using ModelFactory = std::function<std::shared_ptr<Model>(const ModelConfig&)>;

/// Register a factory for `type`; throws if the type is already registered.
void register_model(const std::string& type, ModelFactory factory);

/// Build a model of a registered type from its options; throws physml::Error naming
/// the registered types if `type` is unknown.
std::shared_ptr<Model> create(const std::string& type, const ModelConfig& config);

/// Registered type names, sorted.
std::vector<std::string> registered_models();

}  // namespace physml::operators
