#pragma once
/// \file checkpoint.hpp
/// Saving and loading operators::Model objects through PhysML Checkpoint files
/// (io/checkpoint.hpp): the model type and options are stored with the tensors, so load()
/// rebuilds the model through the registry without the caller knowing its type.

#include "physml/io/hdf5.hpp"
#include "physml/operators/registry.hpp"

#include <memory>
#include <string>

namespace torch::optim {
class Optimizer;
}

namespace physml::operators {

/// Write `model` (type, options, parameters, buffers), optional training `state` and optional
/// optimizer state to a Checkpoint file at `path` (atomically).
void save(const std::string& path, const Model& model, const io::Attributes& state = {},
          torch::optim::Optimizer* optimizer = nullptr);

/// Rebuild a model from a Checkpoint: create(model_type, config), then load its tensors.
std::shared_ptr<Model> load(const std::string& path);

/// Load a Checkpoint into an existing `model` (and optimizer). Throws physml::Error if the file
/// holds another model type or options that differ from model.config() (naming the first
/// differing option), before anything in `model` changes.
void load_into(const std::string& path, Model& model, torch::optim::Optimizer* optimizer = nullptr);

}  // namespace physml::operators
