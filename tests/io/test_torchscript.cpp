// io::load_torchscript: a valid archive loads with its tensors; a missing file, bytes that are
// no archive, a truncated archive and a damaged one are physml::Errors naming the file.
#include "physml/core/error.hpp"
#include "physml/io/torchscript.hpp"
#include "test_util.hpp"

#include <torch/script.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <iterator>

namespace {

std::string save_module(const std::filesystem::path& dir) {
  torch::jit::Module m("TestModel");
  m.register_parameter("weight", torch::arange(6, torch::kFloat).reshape({2, 3}), false);
  m.define("def forward(self, x):\n  return torch.mv(self.weight, x)\n");
  const auto path = (dir / "model.pt").string();
  m.save(path);
  return path;
}

std::string bytes_of(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void write(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << bytes;
}

}  // namespace

TEST(TorchScriptFile, AValidArchiveLoadsWithItsTensorsAndCode) {
  const auto dir = physml::test::scratch_dir();
  auto m = physml::io::load_torchscript(save_module(dir));
  const auto y = m.forward({torch::ones({3})}).toTensor();
  EXPECT_TRUE(torch::equal(y, torch::tensor({3.0f, 12.0f})));  // rows 0+1+2, 3+4+5
}

TEST(TorchScriptFile, BadFilesArePhysMLErrorsNamingTheFile) {
  const auto dir = physml::test::scratch_dir();
  const auto good = save_module(dir);
  const auto bytes = bytes_of(good);
  ASSERT_GT(bytes.size(), 200u);
  const auto missing = (dir / "missing.pt").string();
  EXPECT_THROW_MSG(physml::io::load_torchscript(missing), "'" + missing + "' does not exist");
  const auto text = (dir / "text.pt").string();
  write(text, "not a zip archive\n");
  EXPECT_THROW_MSG(physml::io::load_torchscript(text), "'" + text + "' is not a TorchScript model LibTorch can load");
  const auto cut = (dir / "cut.pt").string();
  write(cut, bytes.substr(0, bytes.size() / 2));
  EXPECT_THROW_MSG(physml::io::load_torchscript(cut), "'" + cut + "' is not a TorchScript model LibTorch can load");
  // The end-of-central-directory record damaged: no archive LibTorch can open.
  auto damaged = bytes;
  for (std::size_t k = damaged.size() - 22; k < damaged.size(); ++k) damaged[k] = '\x7f';
  const auto bad = (dir / "damaged.pt").string();
  write(bad, damaged);
  EXPECT_THROW_MSG(physml::io::load_torchscript(bad), "'" + bad + "' is not a TorchScript model LibTorch can load");
}
