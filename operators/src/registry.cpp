#include "physml/operators/registry.hpp"

#include "physml/core/error.hpp"
#include "physml/core/options_reader.hpp"
#include "physml/operators/dcdm_net.hpp"
#include "physml/operators/fno.hpp"
#include "physml/operators/giorom.hpp"
#include "physml/operators/gns.hpp"
#include "physml/operators/mgno.hpp"
#include "physml/operators/nclaw.hpp"
#include "physml/operators/normalized_model.hpp"

namespace physml::operators {
namespace {

struct Entry {
  ModelFactory from_config;
  OptionsModelFactory from_options;
};

/// Field-to-field models need channels and a grid from the data.
void require_field_shape(const char* type, const ModelShape& shape) {
  PHYSML_CHECK(!shape.grid.empty() && shape.in_channels > 0 && shape.out_channels > 0, "create_from_options(", type,
               "): a model needs data with channels and a grid, got ", shape.in_channels, " -> ", shape.out_channels,
               " channels on a ", shape.grid.size(), "-D grid");
}

std::shared_ptr<Model> mgno_from_options(const Options& options, const ModelShape& shape) {
  require_field_shape("mgno", shape);
  const auto o = options.sub("mgno_");
  MgNOOptions m(shape.in_channels, shape.out_channels);
  m.dim(static_cast<std::int64_t>(shape.grid.size())).set_from_options(o);
  OptionsReader r(o, "MgNO fitted to the data");
  if (r.boolean("fit_grid", true, "size the prolongations for the data's grid (MgNOOptions::grid_size)"))
    m.grid_size(shape.grid);
  return std::make_shared<MgNOImpl>(m);
}

std::shared_ptr<Model> fno_from_options(const Options& options, const ModelShape& shape) {
  require_field_shape("fno", shape);
  // One entry of modes serves every axis; the default keeps FNOOptions' first entry.
  FNOOptions f(shape.in_channels, shape.out_channels);
  f.dim(static_cast<std::int64_t>(shape.grid.size())).modes({f.modes().front()});
  f.set_from_options(options.sub("fno_"));
  return std::make_shared<FNOImpl>(f);
}

std::shared_ptr<Model> dcdm_from_options(const Options& options, const ModelShape& shape) {
  require_field_shape("dcdm", shape);
  PHYSML_CHECK(shape.in_channels == 1 && shape.out_channels == 1, "dcdm: the network maps one channel to one, got ",
               shape.in_channels, " -> ", shape.out_channels);
  DCDMNetOptions d(static_cast<std::int64_t>(shape.grid.size()));
  d.set_from_options(options.sub("dcdm_"));
  d.train_grid({shape.grid.rbegin(), shape.grid.rend()});  // DCDM records its grid x first
  return std::make_shared<DCDMNetImpl>(d);
}

/// The registry. PhysML's own model types are listed here, explicitly, and exist from the
/// first use on, whatever the link order, however often PETSc is initialized and finalized:
/// nothing depends on a static initializer of a shared library having run. Outside types
/// join through register_model().
std::map<std::string, Entry>& table() {
  static std::map<std::string, Entry> t = [] {
    std::map<std::string, Entry> builtin;
    builtin["mgno"] = {[](const ModelConfig& c) -> std::shared_ptr<Model> {
                         return std::make_shared<MgNOImpl>(MgNOOptions::from_config(c));
                       },
                       mgno_from_options};
    builtin["fno"] = {[](const ModelConfig& c) -> std::shared_ptr<Model> {
                        return std::make_shared<FNOImpl>(FNOOptions::from_config(c));
                      },
                      fno_from_options};
    builtin["dcdm"] = {[](const ModelConfig& c) -> std::shared_ptr<Model> {
                         return std::make_shared<DCDMNetImpl>(DCDMNetOptions::from_config(c));
                       },
                       dcdm_from_options};
    builtin["normalized"] = {NormalizedModel::from_config, nullptr};
    builtin["nclaw_elastic"] = {[](const ModelConfig& c) -> std::shared_ptr<Model> {
                                  return std::make_shared<NCLawElasticImpl>(NCLawElasticOptions::from_config(c));
                                },
                                [](const Options& o, const ModelShape&) -> std::shared_ptr<Model> {
                                  return std::make_shared<NCLawElasticImpl>(
                                      NCLawElasticOptions().set_from_options(o.sub("nclaw_elastic_")));
                                }};
    builtin["nclaw_plastic"] = {[](const ModelConfig& c) -> std::shared_ptr<Model> {
                                  return std::make_shared<NCLawPlasticImpl>(NCLawPlasticOptions::from_config(c));
                                },
                                nullptr};
    builtin["nclaw_unconstrained"] = {[](const ModelConfig& c) -> std::shared_ptr<Model> {
                                        return std::make_shared<NCLawUnconstrainedImpl>(
                                            NCLawUnconstrainedOptions::from_config(c));
                                      },
                                      [](const Options& o, const ModelShape&) -> std::shared_ptr<Model> {
                                        return std::make_shared<NCLawUnconstrainedImpl>(
                                            NCLawUnconstrainedOptions().set_from_options(o.sub("nclaw_unconstrained_")));
                                      }};
    builtin["nclaw"] = {[](const ModelConfig& c) -> std::shared_ptr<Model> {
                          return std::make_shared<NCLawImpl>(NCLawOptions::from_config(c));
                        },
                        [](const Options& o, const ModelShape&) -> std::shared_ptr<Model> {
                          return std::make_shared<NCLawImpl>(NCLawOptions().set_from_options(o.sub("nclaw_")));
                        }};
    builtin["gns"] = {[](const ModelConfig& c) -> std::shared_ptr<Model> {
                        return std::make_shared<GNSImpl>(GNSOptions::from_config(c));
                      },
                      [](const Options& o, const ModelShape&) -> std::shared_ptr<Model> {
                        return std::make_shared<GNSImpl>(GNSOptions().set_from_options(o.sub("gns_")));
                      }};
    builtin["giorom"] = {[](const ModelConfig& c) -> std::shared_ptr<Model> {
                           return std::make_shared<GIOROMImpl>(GIOROMOptions::from_config(c));
                         },
                         [](const Options& o, const ModelShape&) -> std::shared_ptr<Model> {
                           return std::make_shared<GIOROMImpl>(GIOROMOptions().set_from_options(o.sub("giorom_")));
                         }};
    builtin["giorom_evaluator"] = {[](const ModelConfig& c) -> std::shared_ptr<Model> {
                                     return std::make_shared<PointEvaluatorImpl>(PointEvaluatorOptions::from_config(c));
                                   },
                                   [](const Options& o, const ModelShape&) -> std::shared_ptr<Model> {
                                     return std::make_shared<PointEvaluatorImpl>(
                                         PointEvaluatorOptions().set_from_options(o.sub("giorom_evaluator_")));
                                   }};
    return builtin;
  }();
  return t;
}

std::string names(bool configurable_only) {
  std::string list;
  for (const auto& [n, e] : table())
    if (!configurable_only || e.from_options) list += (list.empty() ? "" : ", ") + n;
  return list.empty() ? "(none)" : list;
}

const Entry& entry(const std::string& type) {
  auto it = table().find(type);
  if (it == table().end()) PHYSML_THROW("unknown model type '", type, "'; registered types: ", names(false));
  return it->second;
}

}  // namespace

void register_model(const std::string& type, ModelFactory factory, OptionsModelFactory from_options) {
  PHYSML_CHECK(!table().count(type), "register_model: model type '", type, "' is already registered");
  PHYSML_CHECK(factory != nullptr, "register_model: model type '", type, "' needs a factory");
  table()[type] = {std::move(factory), std::move(from_options)};
}

std::shared_ptr<Model> create(const std::string& type, const ModelConfig& config) {
  return entry(type).from_config(config);
}

std::shared_ptr<Model> create_from_options(const std::string& type, const Options& options, const ModelShape& shape) {
  const auto& e = entry(type);
  PHYSML_CHECK(e.from_options != nullptr, "model type '", type,
               "' cannot be built from options; types that can: ", names(true));
  return e.from_options(options, shape);
}

std::vector<std::string> registered_models() {
  std::vector<std::string> list;
  for (const auto& [n, e] : table()) list.push_back(n);
  return list;
}

std::vector<std::string> configurable_models() {
  std::vector<std::string> list;
  for (const auto& [n, e] : table())
    if (e.from_options) list.push_back(n);
  return list;
}

}  // namespace physml::operators
