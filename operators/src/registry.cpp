#include "physml/operators/registry.hpp"

#include "physml/core/error.hpp"

namespace physml::operators {
namespace {
std::map<std::string, ModelFactory>& table() {
  static std::map<std::string, ModelFactory> t;
  return t;
}
}  // namespace

void register_model(const std::string& type, ModelFactory factory) {
  PHYSML_CHECK(!table().count(type), "register_model: model type '", type, "' is already registered");
  table()[type] = std::move(factory);
}

std::shared_ptr<Model> create(const std::string& type, const ModelConfig& config) {
  auto it = table().find(type);
  if (it == table().end()) {
    std::string names;
    for (const auto& [n, f] : table()) names += (names.empty() ? "" : ", ") + n;
    PHYSML_THROW("unknown model type '", type, "'; registered types: ", names.empty() ? "(none)" : names);
  }
  return it->second(config);
}

std::vector<std::string> registered_models() {
  std::vector<std::string> names;
  for (const auto& [n, f] : table()) names.push_back(n);
  return names;
}

}  // namespace physml::operators
