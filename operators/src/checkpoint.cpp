#include "physml/operators/checkpoint.hpp"

#include "physml/core/error.hpp"
#include "physml/io/checkpoint.hpp"

#include <torch/torch.h>

#include <filesystem>

namespace physml::operators {

void save(const std::string& path, const Model& model, const io::Attributes& state, torch::optim::Optimizer* optimizer) {
  io::save_checkpoint(path, model, model.type(), model.config(), state, optimizer);
}

std::shared_ptr<Model> load(const std::string& path, const std::string& expected_type) {
  PHYSML_CHECK(std::filesystem::exists(path), "load: model file '", path, "' does not exist");
  io::CheckpointInfo info;
  try {
    info = io::read_checkpoint_info(path);
  } catch (const Error& e) {
    PHYSML_THROW("load: '", path, "' is not a PhysML model file (Checkpoint): ", e.what());
  }
  PHYSML_CHECK(!info.model_type.empty(), "checkpoint ", path, " has no model_type");
  PHYSML_CHECK(expected_type.empty() || info.model_type == expected_type, "load: '", path,
               "' holds a model of type '", info.model_type, "', expected type '", expected_type, "'");
  auto model = create(info.model_type, info.config);
  io::load_checkpoint(path, *model);
  return model;
}

void load_into(const std::string& path, Model& model, torch::optim::Optimizer* optimizer) {
  auto info = io::read_checkpoint_info(path);
  PHYSML_CHECK(info.model_type == model.type(), "checkpoint ", path, " holds a '", info.model_type,
               "' model, cannot load it into a '", model.type(), "' model");
  const auto mine = model.config();
  for (const auto& [k, v] : mine) {
    auto it = info.config.find(k);
    PHYSML_CHECK(it != info.config.end(), "checkpoint ", path, " lacks model option '", k, "' (model has '", v, "')");
    PHYSML_CHECK(it->second == v, "checkpoint ", path, " has incompatible model option ", k, " = '", it->second,
                 "', the model has '", v, "'");
  }
  for (const auto& [k, v] : info.config)
    PHYSML_CHECK(mine.count(k), "checkpoint ", path, " has model option '", k, "' = '", v, "' unknown to the model");
  io::load_checkpoint(path, model, optimizer);
}

}  // namespace physml::operators
