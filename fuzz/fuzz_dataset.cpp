// libFuzzer target: io::DatasetReader (open, info, every split and field read, the content
// checksum) on edits of a valid Dataset file (hdf5_mutator.hpp).
#include "fuzz_common.hpp"
#include "hdf5_mutator.hpp"

#include "physml/io/dataset.hpp"

#include <filesystem>

namespace {

const std::string& base_file() {
  static const std::string path = [] {
    const std::string p = physml::fuzz::scratch("base_dataset.h5");
    physml::io::DatasetInfo info;
    info.generator = "fuzz";
    info.parameters_json = "{\"a\":1}";
    info.grid_json = "{\"sizes\":[4]}";
    info.split_sizes = {{"train", 2}, {"test", 1}};
    info.input_shape = {1, 4};
    info.output_shape = {1, 4};
    auto w = physml::io::DatasetWriter::open(p, info);
    for (const auto& [split, n] : info.split_sizes)
      for (std::int64_t i = 0; i < n; ++i)
        w.write_sample(split, i, at::rand({1, 4}), at::rand({1, 4}));
    w.finish();
    return p;
  }();
  return path;
}

const physml::fuzz::Vocabulary& vocabulary() {
  static const physml::fuzz::Vocabulary v = [] {
    physml::fuzz::Vocabulary v;
    v.objects = {"train/inputs", "train/outputs", "train/done", "test/inputs", "test/outputs", "test/done",
                 "train", "test", "valid/inputs", "inputs"};
    v.keys = {"format", "format_version", "generator", "parameters", "grid", "seed", "dtype",
              "split_sizes", "input_shape", "output_shape", "physml_version", "created"};
    return v;
  }();
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  physml::fuzz::start_petsc();
  base_file();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider p(data, size);
  const std::string path = physml::fuzz::scratch("case_dataset.h5");
  std::filesystem::copy_file(base_file(), path, std::filesystem::copy_options::overwrite_existing);
  physml::fuzz::expect_physml_errors_only("fuzz_dataset (editing)", [&] {
    auto f = physml::io::H5File::open(path, physml::io::H5File::Mode::read_write);
    physml::fuzz::mutate(f, p, vocabulary());
  });
  physml::fuzz::expect_physml_errors_only("fuzz_dataset", [&] {
    const auto reader = physml::io::DatasetReader::open(path);
    for (const auto& split : reader.splits()) {
      const auto n = reader.size(split);
      for (const char* field : {"inputs", "outputs"}) (void)reader.read(split, field, 0, n);
    }
    (void)physml::io::content_checksum(reader);
  });
  return 0;
}
