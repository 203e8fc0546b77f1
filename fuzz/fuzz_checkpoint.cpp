// libFuzzer target: operators::load (checkpoint info, the model rebuilt from its saved
// config, every parameter and buffer loaded) on edits of valid checkpoints of three model
// types (hdf5_mutator.hpp). Sizes in the fuzzed config are kept small by the harness (see
// README.md: a config asking for more memory than the machine has is a different test).
#include "fuzz_common.hpp"
#include "hdf5_mutator.hpp"

#include "physml/io/checkpoint.hpp"
#include "physml/operators/checkpoint.hpp"
#include "physml/operators/registry.hpp"

#include <torch/torch.h>

#include <cctype>
#include <filesystem>

namespace {

struct Base {
  std::string path;
  std::vector<std::string> objects;
};

Base save_base(const std::string& type, const physml::operators::ModelConfig& config) {
  Base b;
  b.path = physml::fuzz::scratch("base_" + type + ".h5");
  auto model = physml::operators::create(type, config);
  physml::operators::save(b.path, *model, {{"epoch", std::int64_t{3}}});
  for (const auto& p : model->named_parameters()) b.objects.push_back("parameters/" + p.key());
  for (const auto& p : model->named_buffers()) b.objects.push_back("buffers/" + p.key());
  return b;
}

const std::vector<Base>& bases() {
  static const std::vector<Base> b = [] {
    torch::manual_seed(0);
    return std::vector<Base>{
        save_base("fno", {{"in_channels", "1"}, {"out_channels", "1"}, {"modes", "3"}, {"width", "4"},
                          {"layers", "1"}, {"projection_channels", "4"}, {"dim", "1"}}),
        save_base("mgno", {{"in_channels", "1"}, {"out_channels", "1"}, {"channels", "4"}, {"levels", "2"},
                           {"layers", "1"}}),
        save_base("dcdm", {{"dim", "2"}}),
    };
  }();
  return b;
}

// A fuzzed config value with every run of digits cut to at most two digits (sizes <= 99).
std::string small_numbers(std::string s) {
  std::string out;
  int digits = 0;
  for (char c : s) {
    digits = std::isdigit(static_cast<unsigned char>(c)) ? digits + 1 : 0;
    if (digits <= 2) out += c;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  physml::fuzz::start_petsc();
  torch::set_num_threads(1);
  bases();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider p(data, size);
  const auto& base = bases()[p.ConsumeIntegralInRange<std::size_t>(0, bases().size() - 1)];
  const std::string path = physml::fuzz::scratch("case_checkpoint.h5");
  std::filesystem::copy_file(base.path, path, std::filesystem::copy_options::overwrite_existing);
  physml::fuzz::Vocabulary v;
  v.objects = base.objects;
  v.objects.insert(v.objects.end(), {"config", "state", "parameters", "buffers", "optimizer"});
  v.keys = {"format", "format_version", "model_type", "in_channels", "out_channels", "modes", "width", "layers",
            "projection_channels", "dim", "channels", "levels", "append_grid", "domain_padding", "epoch", "encoding"};
  v.strings.insert(v.strings.end(), {"0", "1", "2", "3", "-1", "4,4", "1,2,3", "false", "0.5", "dcdm", "normalized"});
  physml::fuzz::expect_physml_errors_only("fuzz_checkpoint (editing)", [&] {
    auto f = physml::io::H5File::open(path, physml::io::H5File::Mode::read_write);
    physml::fuzz::mutate(f, p, v);
    // config values are strings; keep any number in them small
    if (f.exists("config"))
      for (const auto& [key, value] : f.attributes("config"))
        if (const auto* s = std::get_if<std::string>(&value)) f.set_attribute("config", key, small_numbers(*s));
  });
  physml::fuzz::expect_physml_errors_only("fuzz_checkpoint", [&] {
    (void)physml::io::read_checkpoint_info(path);
    auto model = physml::operators::load(path);
    (void)model->config();
  });
  return 0;
}
