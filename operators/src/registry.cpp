#include "physml/operators/registry.hpp"

#include "physml/core/error.hpp"
#include "physml/operators/fno.hpp"
#include "physml/operators/mgno.hpp"
#include "physml/operators/nclaw.hpp"

namespace physml::operators {
namespace {
/// The registry, with PhysML's own models registered on first use (no reliance on static
/// initializers of a shared library being run).
std::map<std::string, ModelFactory>& table() {
  static std::map<std::string, ModelFactory> t = [] {
    std::map<std::string, ModelFactory> builtin;
    builtin["mgno"] = [](const ModelConfig& c) -> std::shared_ptr<Model> {
      return std::make_shared<MgNOImpl>(MgNOOptions::from_config(c));
    };
    builtin["fno"] = [](const ModelConfig& c) -> std::shared_ptr<Model> {
      return std::make_shared<FNOImpl>(FNOOptions::from_config(c));
    };
    builtin["nclaw_elastic"] = [](const ModelConfig& c) -> std::shared_ptr<Model> {
      return std::make_shared<NCLawElasticImpl>(NCLawElasticOptions::from_config(c));
    };
    builtin["nclaw_plastic"] = [](const ModelConfig& c) -> std::shared_ptr<Model> {
      return std::make_shared<NCLawPlasticImpl>(NCLawPlasticOptions::from_config(c));
    };
    builtin["nclaw_unconstrained"] = [](const ModelConfig& c) -> std::shared_ptr<Model> {
      return std::make_shared<NCLawUnconstrainedImpl>(NCLawUnconstrainedOptions::from_config(c));
    };
    return builtin;
  }();
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
