// The model registry rebuilds MgNO and FNO from their saved options.
#include "physml/core/error.hpp"
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
  EXPECT_THROW_MSG(create("unet", {}), "fno, mgno");  // other layers may register more types
  EXPECT_THROW_MSG(create("fno", {{"levels", "6"}}), "fno: unknown option 'levels'");
}
