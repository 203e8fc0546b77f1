#include "test_util.hpp"

#include "physml/core/options.hpp"

#include <fstream>

TEST(OptionsFiles, YamlNestedKeysBecomePrefixedOptions) {
  auto dir = physml::test::scratch_dir();
  auto path = (dir / "run.yaml").string();
  std::ofstream(path) << "yamltest:\n  model:\n    channels: 24\n    levels: 6\n  lr: 5.0e-4\n  name: darcy\n";
  physml::Options root;
  root.insert_file(path);
  physml::Options model("yamltest_model_");
  EXPECT_EQ(model.get_int("channels", 0), 24);
  EXPECT_EQ(model.get_int("levels", 0), 6);
  physml::Options top("yamltest_");
  EXPECT_DOUBLE_EQ(top.get_real("lr", 0), 5.0e-4);
  EXPECT_EQ(top.get_string("name", ""), "darcy");
}

TEST(OptionsFiles, PlainOptionsFile) {
  auto dir = physml::test::scratch_dir();
  auto path = (dir / "run.opts").string();
  std::ofstream(path) << "-plainfile_epochs 3\n-plainfile_batch 8\n";
  physml::Options o("plainfile_");
  o.insert_file(path);
  EXPECT_EQ(o.get_int("epochs", 0), 3);
  EXPECT_EQ(o.get_int("batch", 0), 8);
}

TEST(OptionsFiles, MissingOrMalformedFilesGiveClearErrors) {
  auto dir = physml::test::scratch_dir();
  physml::Options o;
  EXPECT_THROW_MSG(o.insert_file((dir / "nope.yaml").string()), "cannot be opened");
  auto bad = (dir / "bad.yaml").string();
  std::ofstream(bad) << "a: [1, 2\n  b: {\n";
  EXPECT_THROW(o.insert_file(bad), physml::Error);
}
