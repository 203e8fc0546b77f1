// The model registry rebuilds MgNO and FNO from their saved options.
#include "physml/core/error.hpp"
#include "physml/core/options.hpp"
#include "physml/operators/fno.hpp"
#include "physml/operators/mgno.hpp"
#include "physml/operators/registry.hpp"
#include "test_util.hpp"

#include <torch/torch.h>

using namespace physml::operators;

TEST(Registry, BuiltinModelsRebuildFromConfig) {
  auto names = registered_models();
  EXPECT_NE(std::find(names.begin(), names.end(), "mgno"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "fno"), names.end());
  auto mgno = create("mgno", MgNOOptions(1, 1).channels(24).levels(6).layers(4).to_config());
  std::int64_t n = 0;
  for (const auto& p : mgno->parameters()) n += p.numel();
  EXPECT_EQ(n, 572661);
  EXPECT_EQ(mgno->type(), "mgno");
  auto fno = create("fno", {{"modes", "12,12"}, {"width", "32"}});
  n = 0;
  for (const auto& p : fno->parameters()) n += p.numel();
  EXPECT_EQ(n, 2368001);
  EXPECT_EQ(fno->config().at("modes"), "12,12");
  EXPECT_THROW_MSG(create("unet", {}), "unknown model type 'unet'; registered types: ");
  EXPECT_THROW_MSG(create("unet", {}), "fno, giorom, giorom_evaluator, gns, mgno");  // other layers may register more types
  EXPECT_THROW_MSG(create("fno", {{"levels", "6"}}), "fno: unknown option 'levels'");
}

TEST(Registry, EveryBuiltinTypeIsRegisteredWithoutAnyRegistrationCall) {
  // One explicit table: dcdm (a static initializer before) and normalized (an explicit call
  // in the train layer before) are there from the first use, in a binary without train.
  auto names = registered_models();
  for (const char* t : {"dcdm", "fno", "mgno", "normalized"})
    EXPECT_NE(std::find(names.begin(), names.end(), t), names.end()) << t;
  EXPECT_EQ(configurable_models(),
            (std::vector<std::string>{"dcdm", "fno", "giorom", "giorom_evaluator", "gns", "mgno", "nclaw", "nclaw_elastic",
                                      "nclaw_unconstrained"}));
  EXPECT_THROW_MSG(register_model("mgno", [](const ModelConfig&) -> std::shared_ptr<Model> { return nullptr; }),
                   "already registered");
}

TEST(Registry, UnknownConfigKeysAreErrorsForEveryType) {
  EXPECT_THROW_MSG(create("dcdm", {{"dim", "2"}, {"depth", "3"}}), "dcdm: unknown option 'depth'");
  EXPECT_THROW_MSG(create("dcdm", {{"dim", "two"}}), "dcdm option 'dim': expected an integer, got 'two'");
  EXPECT_THROW_MSG(create("mgno", {{"chanels", "8"}}), "mgno: unknown option 'chanels'");
  EXPECT_THROW_MSG(create("normalized", {{"model", "mgno"}, {"x_normalizer", "none"}, {"y_normalizer", "none"},
                                         {"scale", "2"}}),
                   "normalized model: unknown option 'scale'");
}

namespace {
struct Database {
  PetscOptions db = nullptr;
  Database() { PHYSML_PETSC(PetscOptionsCreate(&db)); }
  ~Database() { PetscOptionsDestroy(&db); }
  void set(const char* name, const char* value) { PHYSML_PETSC(PetscOptionsSetValue(db, name, value)); }
};
std::int64_t count(const Model& m) {
  std::int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}
}  // namespace

TEST(Registry, CreateFromOptionsBuildsTheSameModelAsTheOptionsType) {
  Database d;
  d.set("-mgno_channels", "8");
  d.set("-mgno_levels", "3");
  d.set("-mgno_layers", "2");
  d.set("-mgno_padding_mode", "circular");
  d.set("-fno_width", "16");
  d.set("-fno_modes", "6");
  d.set("-dcdm_variant", "from128");
  const physml::Options o("", d.db);
  auto mgno = create_from_options("mgno", o, {2, 1, {16, 12}});
  auto want = MgNOOptions(2, 1).channels(8).levels(3).layers(2).padding_mode("circular").grid_size({16, 12});
  EXPECT_EQ(mgno->config(), want.to_config());
  EXPECT_EQ(count(*mgno), count(MgNOImpl(want)));
  auto fno = create_from_options("fno", o, {1, 1, {32, 32}});
  EXPECT_EQ(fno->config(), FNOImpl(FNOOptions(1, 1).modes({6}).width(16).dim(2)).config());
  EXPECT_EQ(fno->config().at("modes"), "6,6");  // one entry serves every axis
  auto dcdm = create_from_options("dcdm", o, {1, 1, {8, 16}});
  EXPECT_EQ(dcdm->config().at("variant"), "from128");
  EXPECT_EQ(dcdm->config().at("train_grid"), "16,8");  // DCDM records its grid x first
  EXPECT_EQ(dcdm->config().at("dim"), "2");
  EXPECT_TRUE(physml::unused_options(d.db).empty());
  EXPECT_THROW_MSG(create_from_options("normalized", o, {1, 1, {8}}), "cannot be built from options");
  d.set("-mgno_padding_mode", "mirror");
  EXPECT_THROW_MSG(create_from_options("mgno", o, {1, 1, {8}}), "-mgno_padding_mode: unknown value 'mirror'");
}
