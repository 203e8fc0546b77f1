#pragma once
/// \file checkpoint.hpp
/// The one way to save and load an operators::Model: PhysML Checkpoint files
/// (io/checkpoint.hpp). The model type and options are stored with the tensors, so load()
/// rebuilds the model through the registry (registry.hpp) without the caller knowing its type;
/// load_into() restores an existing model (and optimizer) for an exact resume.

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

/// Rebuild a model of any registered type from a Checkpoint: create(model_type, config), then
/// load its tensors. Throws physml::Error if the file is missing or not a Checkpoint, if its
/// config has a key the model type does not know, or, when `expected_type` is non-empty, if
/// the stored type differs from it.
std::shared_ptr<Model> load(const std::string& path, const std::string& expected_type = "");

/// Load a Checkpoint into an existing `model` (and optimizer). Throws physml::Error if the file
/// holds another model type or options that differ from model.config() (naming the first
/// differing option), before anything in `model` changes.
void load_into(const std::string& path, Model& model, torch::optim::Optimizer* optimizer = nullptr);

}  // namespace physml::operators
