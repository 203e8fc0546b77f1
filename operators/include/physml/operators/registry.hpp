#pragma once
/// \file registry.hpp
/// The model registry: every learned model type registers a factory under its type
/// name, so a model can be rebuilt from the options saved in a Checkpoint file.

#include <torch/nn/module.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace physml {
class Options;
}

namespace physml::operators {

/// A model's options as name -> value text, exactly as stored in a Checkpoint's
/// attributes (e.g. {"channels","24"}, {"levels","6"}).
using ModelConfig = std::map<std::string, std::string>;

/// Parameters that an optimizer treats together, with their learning rate as a multiple of
/// the schedule's (e.g. NCLaw's plastic network at 0.1 times the elastic network's).
struct ParameterGroup {
  std::string name;
  std::vector<at::Tensor> parameters;
  double lr_scale = 1.0;
};

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
  /// The optimizer's parameter groups: by default one group {"all", parameters(), 1}. Every
  /// parameter belongs to exactly one group; the Trainer clips gradient norms per group.
  virtual std::vector<ParameterGroup> parameter_groups() { return {{"all", parameters(), 1.0}}; }
};

/// What a new model must fit: the channels of the data and its spatial sizes in tensor order
/// ([n], [ny, nx] or [nz, ny, nx], as the data tensors [batch, channels, spatial...]).
struct ModelShape {
  std::int64_t in_channels = 1;
  std::int64_t out_channels = 1;
  std::vector<std::int64_t> grid;
};

/// Rebuilds a model from the config it saved (Checkpoint loading).
using ModelFactory = std::function<std::shared_ptr<Model>(const ModelConfig&)>;
/// Builds a new model from an options database (each type reads its own keys, under
/// "-<type>_", e.g. -mgno_channels) for data of the given shape.
using OptionsModelFactory = std::function<std::shared_ptr<Model>(const Options&, const ModelShape&)>;

/// Register `type`: `factory` rebuilds it from a saved config; `from_options` (optional)
/// builds a new one from options. Throws if the type is already registered.
void register_model(const std::string& type, ModelFactory factory, OptionsModelFactory from_options = nullptr);

/// Build a model of a registered type from its options; throws physml::Error naming
/// the registered types if `type` is unknown.
std::shared_ptr<Model> create(const std::string& type, const ModelConfig& config);

/// Build a new model of `type` for data of `shape` from the options under the prefix of
/// `options` (the type's own keys: -mgno_*, -fno_*, -dcdm_*; -help lists them). Throws
/// physml::Error if the type is unknown or cannot be built from options.
std::shared_ptr<Model> create_from_options(const std::string& type, const Options& options, const ModelShape& shape);

/// Registered type names, sorted.
std::vector<std::string> registered_models();
/// Registered type names that create_from_options can build, sorted.
std::vector<std::string> configurable_models();

}  // namespace physml::operators
