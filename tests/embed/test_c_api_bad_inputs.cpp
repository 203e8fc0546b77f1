// The C API's catalogue of bad inputs (docs/bad-inputs.md): every entry is one call with one
// thing wrong; it must return the expected status code, leave a message in physml_last_error()
// that names what was wrong and what was expected (a regular expression), and leave every file
// it was given byte for byte as it was (and create no output file).
#include "embed_fixtures.hpp"
#include "physml/embed/physml_c.h"
#include "physml/io/dataset.hpp"
#include "physml/operators/fno.hpp"
#include "physml/operators/checkpoint.hpp"
#include "test_util.hpp"

#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <regex>
#include <string>
#include <vector>

using physml::test::embed_fixture;
namespace fs = std::filesystem;

namespace {

using physml::test::file_bytes;

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// One catalogue entry: `call` returns a status; `files` must keep their bytes, `absent` must
/// not exist afterwards.
struct BadInput {
  std::string what;
  std::function<int()> call;
  int status;
  std::string message;  // ECMAScript regex searched in physml_last_error()
  std::vector<std::string> files = {};
  std::vector<std::string> absent = {};
};

void check(const BadInput& c) {
  SCOPED_TRACE(c.what);
  std::vector<std::string> before;
  for (const auto& f : c.files) {
    ASSERT_TRUE(fs::exists(f)) << f;
    before.push_back(file_bytes(f));
  }
  const int status = c.call();
  const std::string message = physml_last_error();
  EXPECT_EQ(status, c.status) << physml_status_name(status) << " instead of " << physml_status_name(c.status) << ": "
                              << message;
  EXPECT_TRUE(std::regex_search(message, std::regex(c.message))) << "message: " << message << "\nexpected: " << c.message;
  for (std::size_t i = 0; i < c.files.size(); ++i) EXPECT_EQ(file_bytes(c.files[i]), before[i]) << c.files[i] << " changed";
  for (const auto& f : c.absent) EXPECT_FALSE(fs::exists(f)) << f << " was created";
}

/// Fixture files of other kinds and corrupt files, made in a scratch directory.
struct Files {
  fs::path dir;
  std::string mlp, linear, random, truncated_script, empty, dataset, checkpoint, truncated_checkpoint, png_as_pt,
      yaml_bad, fno_trained;
  Files() {
    dir = physml::test::scratch_dir();
    mlp = embed_fixture("mlp.pt");
    linear = embed_fixture("linear.pt");
    std::string bytes(4096, '\0');
    std::uint32_t s = 12345;
    for (auto& b : bytes) b = static_cast<char>((s = s * 1664525u + 1013904223u) >> 24);
    random = (dir / "random.pt").string();
    write_bytes(random, bytes);
    const auto script = file_bytes(mlp);
    truncated_script = (dir / "truncated.pt").string();
    write_bytes(truncated_script, script.substr(0, script.size() / 2));
    empty = (dir / "empty.h5").string();
    write_bytes(empty, "");
    // A Dataset file (a file of another kind where a model is expected).
    physml::io::DatasetInfo info;
    info.generator = "bad_inputs";
    info.parameters_json = "{}";
    info.grid_json = R"({"shape": [8]})";
    info.split_sizes = {{"train", 2}};
    info.input_shape = {1, 8};
    info.output_shape = {1, 8};
    dataset = (dir / "data.h5").string();
    auto w = physml::io::DatasetWriter::open(dataset, info);
    for (std::int64_t i = 0; i < 2; ++i) w.write_sample("train", i, torch::ones({1, 8}), torch::ones({1, 8}));
    w.finish();
    physml::operators::FNO fno(physml::operators::FNOOptions(1, 1).modes({4}).width(8).layers(1).projection_channels(8));
    checkpoint = (dir / "fno.h5").string();
    physml::operators::save(checkpoint, *fno);
    const auto ck = file_bytes(checkpoint);
    truncated_checkpoint = (dir / "fno_truncated.h5").string();
    write_bytes(truncated_checkpoint, ck.substr(0, ck.size() / 3));
    // PNG signature and an IHDR chunk: a picture renamed .pt.
    png_as_pt = (dir / "picture.pt").string();
    write_bytes(png_as_pt, std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0", 29));
    yaml_bad = (dir / "bad.yaml").string();
    write_bytes(yaml_bad, "capi_bad:\n  lr: [1, 2\n   : : :\n");
  }
};

physml_tensor view(void* data, int dtype, std::vector<int64_t>& shape) {
  return physml_tensor{data, dtype, PHYSML_ROW_MAJOR, static_cast<int>(shape.size()), shape.data(), nullptr};
}

}  // namespace

TEST(EmbedCApiBadInputs, Loading) {
  Files f;
  physml_model* m = nullptr;
  const std::vector<BadInput> cases = {
      {"NULL path", [&] { return physml_model_load(nullptr, nullptr, &m); }, PHYSML_ERR_INVALID_ARGUMENT,
       "path is NULL"},
      {"NULL result pointer", [&] { return physml_model_load(f.mlp.c_str(), nullptr, nullptr); },
       PHYSML_ERR_INVALID_ARGUMENT, "model \\(the handle to fill\\) is NULL"},
      {"missing file", [&] { return physml_model_load((f.dir / "no_such.pt").c_str(), nullptr, &m); },
       PHYSML_ERR_FILE_NOT_FOUND, "no_such\\.pt.*does not exist"},
      {"a directory", [&] { return physml_model_load(f.dir.c_str(), nullptr, &m); }, PHYSML_ERR_FILE_FORMAT,
       "model file '.*EmbedCApiBadInputs.Loading' is a directory; expected a PhysML Checkpoint or a TorchScript file"},
      {"empty file", [&] { return physml_model_load(f.empty.c_str(), nullptr, &m); }, PHYSML_ERR_FILE_FORMAT,
       "empty\\.h5.*is neither a PhysML Checkpoint \\(HDF5\\) nor a TorchScript archive"},
      {"random bytes", [&] { return physml_model_load(f.random.c_str(), nullptr, &m); }, PHYSML_ERR_FILE_FORMAT,
       "random\\.pt.*is neither a PhysML Checkpoint \\(HDF5\\) nor a TorchScript archive"},
      {"a PNG renamed .pt", [&] { return physml_model_load(f.png_as_pt.c_str(), nullptr, &m); },
       PHYSML_ERR_FILE_FORMAT, "picture\\.pt.*is neither a PhysML Checkpoint \\(HDF5\\) nor a TorchScript archive"},
      {"truncated TorchScript archive", [&] { return physml_model_load(f.truncated_script.c_str(), nullptr, &m); },
       PHYSML_ERR_FILE_FORMAT, "truncated\\.pt.*(not a readable TorchScript|TorchScript)"},
      {"a zip that is not TorchScript", [&] { return physml_model_load(embed_fixture("notmodel.zip").c_str(), nullptr, &m); },
       PHYSML_ERR_FILE_FORMAT, "notmodel\\.zip.*TorchScript"},
      {"a Dataset file as a model", [&] { return physml_model_load(f.dataset.c_str(), nullptr, &m); },
       PHYSML_ERR_FILE_FORMAT, "data\\.h5.*physml\\.dataset.*expected 'physml\\.checkpoint'"},
      {"truncated checkpoint", [&] { return physml_model_load(f.truncated_checkpoint.c_str(), nullptr, &m); },
       PHYSML_ERR_FILE_FORMAT, "fno_truncated\\.h5.*(truncated|not an HDF5 file|cannot open)"},
      {"unknown -dtype", [&] {
         physml_options_set("-capi_dt_dtype", "float16");
         return physml_model_load(f.mlp.c_str(), "capi_dt_", &m);
       },
       PHYSML_ERR_RUNTIME, "option -capi_dt_dtype: unknown value 'float16'; expected one of: float32, float64"},
      {"unknown -device", [&] {
         physml_options_set("-capi_dev_device", "tpu");
         return physml_model_load(f.mlp.c_str(), "capi_dev_", &m);
       },
       PHYSML_ERR_RUNTIME, "option -capi_dev_device: 'tpu' is not a torch device; expected cpu, cuda or cuda:N"},
      {"missing options file", [&] { return physml_options_insert_file((f.dir / "none.yaml").c_str()); },
       PHYSML_ERR_RUNTIME, "options file '.*none\\.yaml' cannot be opened"},
      {"malformed YAML options file", [&] { return physml_options_insert_file(f.yaml_bad.c_str()); },
       PHYSML_ERR_RUNTIME,
       "options file '.*bad\\.yaml' cannot be read; expected YAML \\('key: value' lines.*YAML parser loading error",
       {f.yaml_bad}},
      {"NULL option name", [&] { return physml_options_set(nullptr, "1"); }, PHYSML_ERR_INVALID_ARGUMENT,
       "name is NULL"},
  };
  for (const auto& c : cases) {
    BadInput e = c;
    if (e.files.empty())
      for (const auto& p : {f.random, f.truncated_script, f.empty, f.dataset, f.truncated_checkpoint, f.png_as_pt})
        e.files.push_back(p);
    check(e);
    EXPECT_EQ(m, nullptr) << c.what;
  }
}

TEST(EmbedCApiBadInputs, Inference) {
  physml_model* m = nullptr;
  ASSERT_EQ(physml_model_load(embed_fixture("mlp.pt").c_str(), nullptr, &m), PHYSML_OK) << physml_last_error();
  float x[8] = {0}, y[8] = {0};
  double xd[6] = {0};
  std::vector<int64_t> s23{2, 3}, s22{2, 2}, s24{2, 4}, s6{6}, s2neg{2, -3}, s32{3, 2};
  physml_tensor in = view(x, PHYSML_FLOAT32, s23), out = view(y, PHYSML_FLOAT32, s22);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<BadInput> cases = {
      {"NULL model", [&] { return physml_model_forward(nullptr, 1, &in, 1, &out); }, PHYSML_ERR_INVALID_ARGUMENT,
       "model is NULL"},
      {"two inputs to a one-input model", [&] {
         physml_tensor two[2] = {in, in};
         return physml_model_forward(m, 2, two, 1, &out);
       },
       PHYSML_ERR_RUNTIME,
       "model forward failed on inputs of shape \\[2, 3\\], \\[2, 3\\]: Expected at most 2 argument\\(s\\) for operator 'forward', but received 3"},
      {"input of the wrong width", [&] {
         physml_tensor bad = view(x, PHYSML_FLOAT32, s24);
         return physml_model_forward(m, 1, &bad, 1, &out);
       },
       PHYSML_ERR_RUNTIME,
       "model forward failed on inputs of shape \\[2, 4\\]: [\\s\\S]*mat1 and mat2 shapes cannot be multiplied \\(2x4 and 3x16\\)"},
      {"input of the wrong rank", [&] {
         physml_tensor bad = view(x, PHYSML_FLOAT32, s6);
         return physml_model_forward(m, 1, &bad, 1, &out);
       },
       PHYSML_ERR_RUNTIME, "model forward failed on inputs of shape \\[6\\]: "},
      {"negative extent", [&] {
         physml_tensor bad = view(x, PHYSML_FLOAT32, s2neg);
         return physml_model_forward(m, 1, &bad, 1, &out);
       },
       PHYSML_ERR_SHAPE, "array of shape \\[2, \\*\\] has a negative extent"},
      {"float64 input to a float32 model", [&] {
         physml_tensor bad = view(xd, PHYSML_FLOAT64, s23);
         return physml_model_forward(m, 1, &bad, 1, &out);
       },
       PHYSML_ERR_DTYPE, "float64.*float32|Double.*Float"},
      {"unknown dtype code", [&] {
         physml_tensor bad = view(x, 42, s23);
         return physml_model_forward(m, 1, &bad, 1, &out);
       },
       PHYSML_ERR_DTYPE, "dtype code 42"},
      {"unknown layout code", [&] {
         physml_tensor bad = in;
         bad.layout = 7;
         return physml_model_forward(m, 1, &bad, 1, &out);
       },
       PHYSML_ERR_INVALID_ARGUMENT, "unknown layout code 7"},
      {"NULL data pointer", [&] {
         physml_tensor bad = in;
         bad.data = nullptr;
         return physml_model_forward(m, 1, &bad, 1, &out);
       },
       PHYSML_ERR_RUNTIME, "array of shape \\[2, 3\\] has a null data pointer"},
      {"output array of the wrong shape", [&] {
         physml_tensor bad = view(y, PHYSML_FLOAT32, s32);
         return physml_model_forward(m, 1, &in, 1, &bad);
       },
       PHYSML_ERR_SHAPE, "\\[3, 2\\].*\\[2, 2\\]|\\[2, 2\\].*\\[3, 2\\]"},
      {"NaN input with -check_finite", [&] {
         physml_model* checked = nullptr;
         physml_options_set("-capi_nan_check_finite", "true");
         int st = physml_model_load(embed_fixture("mlp.pt").c_str(), "capi_nan_", &checked);
         if (st != PHYSML_OK) return st;
         x[4] = nan;
         st = physml_model_forward(checked, 1, &in, 1, &out);
         x[4] = 0;
         physml_model_destroy(&checked);
         return st;
       },
       PHYSML_ERR_NON_FINITE, "NaN|non-finite"},
  };
  for (const auto& c : cases) check(c);
  physml_model_destroy(&m);
}

TEST(EmbedCApiBadInputs, TrainingAndFiles) {
  Files f;
  physml_model* m = nullptr;
  physml_trainer* t = nullptr;
  ASSERT_EQ(physml_model_load(f.mlp.c_str(), nullptr, &m), PHYSML_OK) << physml_last_error();
  ASSERT_EQ(physml_trainer_create(m, nullptr, &t), PHYSML_OK) << physml_last_error();
  float x[6] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f}, y[6] = {0};
  std::vector<int64_t> s23{2, 3}, s22{2, 2}, s32{3, 2};
  physml_tensor in = view(x, PHYSML_FLOAT32, s23), target = view(y, PHYSML_FLOAT32, s22);
  const auto saved = (f.dir / "trainer.pt").string();
  ASSERT_EQ(physml_trainer_save(t, saved.c_str()), PHYSML_OK) << physml_last_error();
  const std::vector<BadInput> cases = {
      {"trainer of a NULL model", [&] {
         physml_trainer* other = nullptr;
         return physml_trainer_create(nullptr, nullptr, &other);
       },
       PHYSML_ERR_INVALID_ARGUMENT, "model is NULL"},
      {"negative learning rate", [&] {
         physml_trainer* other = nullptr;
         physml_options_set("-capi_lr_lr", "-1");
         return physml_trainer_create(m, "capi_lr_", &other);
       },
       PHYSML_ERR_RUNTIME, "physml_trainer_create: learning rate must be > 0, got -1"},
      {"learning rate that is not a number", [&] {
         physml_trainer* other = nullptr;
         physml_options_set("-capi_lrs_lr", "fast");
         return physml_trainer_create(m, "capi_lrs_", &other);
       },
       PHYSML_ERR_RUNTIME, "option -capi_lrs_lr: expected a real number, got 'fast'"},
      {"NaN target", [&] {
         y[1] = std::numeric_limits<float>::quiet_NaN();
         const int st = physml_trainer_step(t, 1, &in, 1, &target, nullptr);
         y[1] = 0;
         return st;
       },
       PHYSML_ERR_NON_FINITE, "target.*(NaN|non-finite)|(NaN|non-finite).*target"},
      {"target of the wrong shape", [&] {
         physml_tensor bad = view(y, PHYSML_FLOAT32, s32);
         return physml_trainer_step(t, 1, &in, 1, &bad, nullptr);
       },
       PHYSML_ERR_SHAPE, "\\[3, 2\\]"},
      {"resume from a missing file", [&] { return physml_trainer_resume(t, (f.dir / "none.pt").c_str()); },
       PHYSML_ERR_FILE_NOT_FOUND, "none\\.pt.*does not exist", {saved}},
      {"resume from a Dataset file", [&] { return physml_trainer_resume(t, f.dataset.c_str()); },
       PHYSML_ERR_FILE_FORMAT, "data\\.h5.*physml\\.dataset", {saved, f.dataset}},
      {"resume from random bytes", [&] { return physml_trainer_resume(t, f.random.c_str()); },
       PHYSML_ERR_FILE_FORMAT, "random\\.pt", {saved, f.random}},
      {"resume from a checkpoint without optimizer state (another model)", [&] { return physml_trainer_resume(t, f.checkpoint.c_str()); },
       PHYSML_ERR_RUNTIME,
       "checkpoint .*fno\\.h5 has no optimizer state; cannot resume online training from it", {saved, f.checkpoint}},
      {"save into a missing directory", [&] { return physml_trainer_save(t, (f.dir / "no/dir/t.pt").c_str()); },
       PHYSML_ERR_RUNTIME, "directory '.*no/dir' does not exist", {saved}, {(f.dir / "no/dir/t.pt").string()}},
      {"save into a read-only file system", [&] { return physml_model_save(m, "/proc/physml_capi.pt"); },
       PHYSML_ERR_RUNTIME, "/proc/physml_capi\\.pt", {saved}, {"/proc/physml_capi.pt"}},
      {"save over a directory", [&] { return physml_model_save(m, f.dir.c_str()); }, PHYSML_ERR_RUNTIME,
       "a directory of that name exists", {saved}},
      {"NULL model for saving", [&] { return physml_model_save(nullptr, saved.c_str()); },
       PHYSML_ERR_INVALID_ARGUMENT, "model is NULL", {saved}},
  };
  for (const auto& c : cases) check(c);
  physml_trainer_destroy(&t);
  physml_model_destroy(&m);
}

TEST(EmbedCApiBadInputs, DivergingTrainingIsReported) {
  physml_model* m = nullptr;
  physml_trainer* t = nullptr;
  ASSERT_EQ(physml_model_load(embed_fixture("mlp.pt").c_str(), nullptr, &m), PHYSML_OK) << physml_last_error();
  physml_options_set("-capi_div_lr", "1e30");
  ASSERT_EQ(physml_trainer_create(m, "capi_div_", &t), PHYSML_OK) << physml_last_error();
  float x[6] = {1, 2, 3, 4, 5, 6}, y[4] = {10, -10, 10, -10};
  std::vector<int64_t> s23{2, 3}, s22{2, 2};
  physml_tensor in = view(x, PHYSML_FLOAT32, s23), target = view(y, PHYSML_FLOAT32, s22);
  int status = PHYSML_OK, steps = 0;
  for (; steps < 10 && status == PHYSML_OK; ++steps) status = physml_trainer_step(t, 1, &in, 1, &target, nullptr);
  EXPECT_EQ(status, PHYSML_ERR_NON_FINITE) << physml_last_error();
  EXPECT_TRUE(std::regex_search(std::string(physml_last_error()), std::regex("(loss|parameters?|gradient).*(nan|inf|non-finite)",
                                                                             std::regex::icase)))
      << physml_last_error();
  physml_trainer_destroy(&t);
  physml_model_destroy(&m);
}
