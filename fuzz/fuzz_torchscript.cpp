// libFuzzer target: io::load_torchscript (what embed::Model::load and physml_model_load do with
// a TorchScript archive) on damaged archives: the first byte chooses between up to 16 byte edits
// and a truncation of a valid archive (a module with a parameter, a buffer and a method, saved
// by LibTorch at start-up), or the remaining bytes as the whole file. The contract: the file
// loads, or a physml::Error names it. LibTorch's archive reader and unpickler are fuzzed along
// with PhysML's handling of their errors: a finding inside LibTorch is reported upstream (long
// runs by hand; see fuzz/README.md).
#include "fuzz_common.hpp"

#include "physml/io/torchscript.hpp"

#include <fuzzer/FuzzedDataProvider.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <fstream>
#include <iterator>
#include <vector>

namespace {

const std::vector<std::uint8_t>& base_archive() {
  static const std::vector<std::uint8_t> bytes = [] {
    torch::jit::Module m("FuzzModel");
    m.register_parameter("weight", torch::linspace(0, 1, 6).reshape({2, 3}), false);
    m.register_buffer("scale", torch::full({2}, 0.5));
    m.define("def forward(self, x):\n  return torch.mv(self.weight, x) * self.scale\n");
    const std::string path = physml::fuzz::scratch("base.pt");
    m.save(path);
    std::ifstream f(path, std::ios::binary);
    return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(f), {});
  }();
  return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  physml::fuzz::start_petsc();
  if (base_archive().empty()) std::abort();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider p(data, size);
  std::vector<std::uint8_t> file;
  if (p.ConsumeBool()) {
    file = base_archive();
    if (p.ConsumeBool()) {
      file.resize(p.ConsumeIntegralInRange<std::size_t>(0, file.size() - 1));
    } else {
      const int edits = p.ConsumeIntegralInRange(1, 16);
      for (int k = 0; k < edits && p.remaining_bytes() > 0; ++k)
        file[p.ConsumeIntegralInRange<std::size_t>(0, file.size() - 1)] = p.ConsumeIntegral<std::uint8_t>();
    }
  } else {
    file = p.ConsumeRemainingBytes<std::uint8_t>();
  }
  const std::string path = physml::fuzz::scratch("case.pt");
  physml::fuzz::write_bytes(path, file.data(), file.size());
  physml::fuzz::expect_physml_errors_only("fuzz_torchscript", [&] {
    auto m = physml::io::load_torchscript(path);
    for (const auto& t : m.parameters()) (void)t.sum();
    for (const auto& t : m.buffers()) (void)t.sum();
  });
  return 0;
}
