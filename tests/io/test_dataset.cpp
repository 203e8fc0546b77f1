// Dataset files: round trip, resumable generation, refusal of changed settings, and the
// documented layout as seen through the plain HDF5 API (what h5py sees).
#include "physml/core/error.hpp"
#include "physml/io/dataset.hpp"
#include "physml/io/hdf5.hpp"
#include "test_util.hpp"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>

namespace fs = std::filesystem;
using namespace physml::io;

namespace {

using physml::test::file_bytes;

DatasetInfo small_info() {
  DatasetInfo info;
  info.generator = "darcy";
  info.parameters_json = R"({"alpha": 2.0, "tau": 3.0})";
  info.grid_json = R"({"shape": [4, 5], "extent": [1.0, 1.0]})";
  info.seed = 17;
  info.split_sizes = {{"train", 3}, {"test", 2}};
  info.input_shape = {1, 4, 5};
  info.output_shape = {2, 4, 5};
  return info;
}

/// Deterministic sample `i` of a split: values encode split, index and position.
std::pair<torch::Tensor, torch::Tensor> sample(const std::string& split, std::int64_t i) {
  double base = (split == "train" ? 100.0 : 200.0) + 10.0 * static_cast<double>(i);
  auto in = base + torch::arange(20, torch::kFloat64).reshape({1, 4, 5});
  auto out = -base - torch::arange(40, torch::kFloat64).reshape({2, 4, 5});
  return {in, out};
}

void write_all(DatasetWriter& w) {
  for (const auto& [split, n] : w.info().split_sizes)
    for (std::int64_t i = 0; i < n; ++i)
      if (!w.has_sample(split, i)) {
        auto [in, out] = sample(split, i);
        w.write_sample(split, i, in, out);
      }
}

}  // namespace

TEST(Dataset, WriteFinishAndReadBack) {
  auto dir = physml::test::scratch_dir();
  auto path = (dir / "d.h5").string();
  auto info = small_info();
  {
    auto w = DatasetWriter::open(path, info);
    EXPECT_FALSE(w.already_complete());
    EXPECT_EQ(w.missing("train"), 3);
    EXPECT_TRUE(fs::exists(path + ".partial"));
    EXPECT_FALSE(fs::exists(path));
    write_all(w);
    w.set_attribute("solver_rtol", 1e-10);
    EXPECT_EQ(w.missing("train"), 0);
    w.finish();
  }
  EXPECT_TRUE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".partial"));
  auto r = DatasetReader::open(path);
  EXPECT_EQ(first_difference(r.info(), info), "");
  EXPECT_EQ(r.splits(), (std::vector<std::string>{"test", "train"}));
  EXPECT_EQ(r.size("train"), 3);
  EXPECT_EQ(r.size("test"), 2);
  auto in = r.read("train", "inputs", 1, 3);
  EXPECT_EQ(in.sizes(), (std::vector<std::int64_t>{2, 1, 4, 5}));
  EXPECT_EQ(in.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(in[0], sample("train", 1).first.to(torch::kFloat32)));
  EXPECT_TRUE(torch::equal(in[1], sample("train", 2).first.to(torch::kFloat32)));
  EXPECT_TRUE(torch::equal(r.read("test", "outputs", 0, 2)[1], sample("test", 1).second.to(torch::kFloat32)));
  EXPECT_EQ(std::get<double>(r.attribute("solver_rtol")), 1e-10);
  EXPECT_EQ(std::get<std::string>(r.attribute("generator")), "darcy");
  EXPECT_THROW_MSG(r.size("valid"), "has no split 'valid'; its splits are test, train");
  EXPECT_THROW_MSG(r.read("train", "labels", 0, 1), "expected 'inputs' or 'outputs'");
  EXPECT_THROW_MSG(r.read("train", "inputs", 2, 4), "rows [2, 4) out of range for split 'train'");
}

TEST(Dataset, FileLayoutIsTheDocumentedOne) {
  auto dir = physml::test::scratch_dir();
  auto path = (dir / "d.h5").string();
  auto info = small_info();
  info.dtype = torch::kFloat64;
  auto w = DatasetWriter::open(path, info);
  write_all(w);
  w.finish();
  // Read with the generic HDF5 layer only, as an h5py user would.
  auto f = H5File::open(path);
  EXPECT_EQ(f.attribute_string("/", "format"), "physml.dataset");
  EXPECT_EQ(f.attribute_int("/", "format_version"), 1);
  EXPECT_EQ(f.attribute_string("/", "generator"), "darcy");
  EXPECT_EQ(f.attribute_string("/", "parameters"), info.parameters_json);
  EXPECT_EQ(f.attribute_string("/", "grid"), info.grid_json);
  EXPECT_EQ(f.attribute_int("/", "seed"), 17);
  EXPECT_EQ(f.attribute_string("/", "dtype"), "float64");
  EXPECT_FALSE(f.attribute_string("/", "physml_version").empty());
  EXPECT_EQ(f.list("/"), (std::vector<std::string>{"test", "train"}));
  EXPECT_EQ(f.list("train"), (std::vector<std::string>{"done", "inputs", "outputs"}));
  EXPECT_TRUE(torch::equal(f.read("train/inputs", torch::kFloat64, {3, 1, 4, 5})[2], sample("train", 2).first));
  EXPECT_TRUE(torch::equal(f.read("test/outputs", torch::kFloat64, {2, 2, 4, 5})[0], sample("test", 0).second));
  EXPECT_TRUE(torch::equal(f.read("train/done"), torch::ones({3}, torch::kUInt8)));
}

TEST(Dataset, ResumesAnInterruptedGeneration) {
  auto dir = physml::test::scratch_dir();
  auto path = (dir / "d.h5").string();
  auto info = small_info();
  {
    auto w = DatasetWriter::open(path, info);
    auto [in, out] = sample("train", 2);
    w.write_sample("train", 2, in, out);
    auto [tin, tout] = sample("test", 0);
    w.write_sample("test", 0, tin, tout);
    EXPECT_THROW_MSG(w.finish(), "split 'test' misses 1 of 2 samples (first missing index 1)");
  }  // "killed" here: the partial file stays
  EXPECT_THROW_MSG(DatasetReader::open(path + ".partial"), "is incomplete");
  {
    auto w = DatasetWriter::open(path, info);
    EXPECT_FALSE(w.has_sample("train", 0));
    EXPECT_FALSE(w.has_sample("train", 1));
    EXPECT_TRUE(w.has_sample("train", 2));
    EXPECT_TRUE(w.has_sample("test", 0));
    EXPECT_EQ(w.missing("train"), 2);
    EXPECT_EQ(w.missing("test"), 1);
    write_all(w);
    w.finish();
  }
  auto r = DatasetReader::open(path);
  for (std::int64_t i = 0; i < 3; ++i)
    EXPECT_TRUE(torch::equal(r.read("train", "inputs", i, i + 1)[0], sample("train", i).first.to(torch::kFloat32)));
  // opening again with identical settings: nothing to do
  auto before = file_bytes(path);
  {
    auto w = DatasetWriter::open(path, info);
    EXPECT_TRUE(w.already_complete());
    EXPECT_TRUE(w.has_sample("train", 1));
    EXPECT_EQ(w.missing("test"), 0);
    EXPECT_THROW_MSG(w.write_sample("train", 0, sample("train", 0).first, sample("train", 0).second),
                     "already complete");
    w.finish();
  }
  EXPECT_EQ(file_bytes(path), before);
  EXPECT_FALSE(fs::exists(path + ".partial"));
}

TEST(Dataset, DifferentSettingsAreRefusedAndFilesUntouched) {
  auto dir = physml::test::scratch_dir();
  auto path = (dir / "d.h5").string();
  auto info = small_info();
  {
    auto w = DatasetWriter::open(path, info);
    auto [in, out] = sample("train", 0);
    w.write_sample("train", 0, in, out);
  }
  auto partial_before = file_bytes(path + ".partial");
  auto other = info;
  other.seed = 18;
  EXPECT_THROW_MSG(DatasetWriter::open(path, other), "seed: 17 in the file, 18 requested");
  other = info;
  other.split_sizes["train"] = 4;
  EXPECT_THROW_MSG(DatasetWriter::open(path, other), "split_sizes: {test: 2, train: 3} in the file, {test: 2, train: 4}");
  other = info;
  other.parameters_json = R"({"alpha": 2.5, "tau": 3.0})";
  EXPECT_THROW_MSG(DatasetWriter::open(path, other), "parameters: {\"alpha\": 2.0");
  other = info;
  other.dtype = torch::kFloat64;
  EXPECT_THROW_MSG(DatasetWriter::open(path, other), "dtype: float32 in the file, float64 requested");
  EXPECT_EQ(file_bytes(path + ".partial"), partial_before);
  // finish it, then a different request against the final file
  {
    auto w = DatasetWriter::open(path, info);
    write_all(w);
    w.finish();
  }
  auto final_before = file_bytes(path);
  other = info;
  other.output_shape = {1, 4, 5};
  EXPECT_THROW_MSG(DatasetWriter::open(path, other), "already exists with different settings (output_shape: [2, 4, 5]");
  other = info;
  other.generator = "poisson";
  EXPECT_THROW_MSG(DatasetWriter::open(path, other), "generator: 'darcy' in the file, 'poisson' requested");
  EXPECT_EQ(file_bytes(path), final_before);
  EXPECT_FALSE(fs::exists(path + ".partial"));
}

TEST(Dataset, BadSamplesAreRejected) {
  auto dir = physml::test::scratch_dir();
  auto path = (dir / "d.h5").string();
  auto w = DatasetWriter::open(path, small_info());
  auto [in, out] = sample("train", 0);
  EXPECT_THROW_MSG(w.write_sample("train", 0, in.reshape({4, 5}), out), "input of sample 0 of split 'train' has shape [4, 5], expected [1, 4, 5]");
  EXPECT_THROW_MSG(w.write_sample("train", 0, in, out[0]), "output of sample 0");
  EXPECT_THROW_MSG(w.write_sample("train", 3, in, out), "sample index 3 out of range for split 'train' with 3 samples");
  EXPECT_THROW_MSG(w.write_sample("valid", 0, in, out), "unknown split 'valid'");
  auto bad = in.clone();
  bad[0][1][2] = std::nan("");
  EXPECT_THROW_MSG(w.write_sample("train", 1, bad, out), "contains NaN or Inf");
  EXPECT_THROW_MSG(w.write_sample("train", 1, in.to(torch::kInt64), out), "expected a floating dtype");
  EXPECT_THROW_MSG(w.set_attribute("seed", std::int64_t(3)), "reserved");
  EXPECT_FALSE(w.has_sample("train", 0));
  EXPECT_FALSE(w.has_sample("train", 1));
  EXPECT_EQ(w.missing("train"), 3);
}

TEST(Dataset, InvalidInfoIsRejected) {
  auto dir = physml::test::scratch_dir();
  auto path = (dir / "d.h5").string();
  auto info = small_info();
  info.generator = "";
  EXPECT_THROW_MSG(DatasetWriter::open(path, info), "generator is empty");
  info = small_info();
  info.split_sizes = {{"a/b", 2}};
  EXPECT_THROW_MSG(DatasetWriter::open(path, info), "invalid split name 'a/b'");
  info = small_info();
  info.input_shape = {1, 0, 5};
  EXPECT_THROW_MSG(DatasetWriter::open(path, info), "input_shape [1, 0, 5] has a non-positive extent");
  info = small_info();
  info.dtype = torch::kInt64;
  EXPECT_THROW_MSG(DatasetWriter::open(path, info), "expected float32 or float64");
  EXPECT_FALSE(fs::exists(path + ".partial"));
}

TEST(Dataset, ReaderRejectsOtherFiles) {
  auto dir = physml::test::scratch_dir();
  EXPECT_THROW_MSG(DatasetReader::open((dir / "none.h5").string()), "does not exist");
  std::ofstream((dir / "text.h5").string()) << "not hdf5";
  EXPECT_THROW_MSG(DatasetReader::open((dir / "text.h5").string()), "is not an HDF5 file");
  {
    auto f = H5File::create((dir / "plain.h5").string());
    f.write("x", torch::zeros({2}));
    f.commit();
  }
  EXPECT_THROW_MSG(DatasetReader::open((dir / "plain.h5").string()), "no string attribute 'format'");
  {
    auto f = H5File::create((dir / "ckpt.h5").string());
    stamp_file(f, "physml.checkpoint", 1);
    f.commit();
  }
  EXPECT_THROW_MSG(DatasetReader::open((dir / "ckpt.h5").string()), "holds format 'physml.checkpoint', expected 'physml.dataset'");
  {
    auto f = H5File::create((dir / "future.h5").string());
    stamp_file(f, "physml.dataset", 2);
    f.commit();
  }
  EXPECT_THROW_MSG(DatasetReader::open((dir / "future.h5").string()), "format_version 2");
  // truncated copy of a real dataset
  auto path = (dir / "d.h5").string();
  auto w = DatasetWriter::open(path, small_info());
  write_all(w);
  w.finish();
  auto bytes = file_bytes(path);
  {
    std::ofstream out(dir / "cut.h5", std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  }
  EXPECT_THROW_MSG(DatasetReader::open((dir / "cut.h5").string()), "truncated");
  // a damaged partial file cannot be resumed, and is left alone
  fs::copy_file(dir / "cut.h5", path + "x.partial");
  EXPECT_THROW_MSG(DatasetWriter::open(path + "x", small_info()), "delete it to start over");
  EXPECT_EQ(file_bytes(path + "x.partial"), bytes.substr(0, bytes.size() / 2));
}

// A NaN or Inf that reached a file (another writer, a bit flip, an edited file) is reported by
// the reader naming the file, split, field, sample, flat index and channel of the first one,
// and the checksum (raw bytes) still works. DatasetWriter refuses non-finite samples, so the
// value is put into the finished file through H5File, as another program would.
TEST(Dataset, ReaderReportsTheFirstNonFiniteValue) {
  auto dir = physml::test::scratch_dir();
  const auto path = (dir / "nan.h5").string();
  {
    auto w = DatasetWriter::open(path, small_info());
    write_all(w);
    w.finish();
  }
  {
    auto f = H5File::open(path, H5File::Mode::read_write);
    auto rows = f.read_rows("test/outputs", 1, 2).contiguous();
    rows.view({-1})[27] = std::numeric_limits<double>::quiet_NaN();  // channel 1, point 7 of [2, 4, 5]
    rows.view({-1})[33] = std::numeric_limits<double>::infinity();   // a later one: not the one named
    f.write_rows("test/outputs", 1, rows);
    f.commit();
  }
  const auto before = file_bytes(path);
  auto r = DatasetReader::open(path);
  EXPECT_NO_THROW(r.read("train", "outputs", 0, 3));  // other splits and fields are fine
  EXPECT_NO_THROW(r.read("test", "inputs", 0, 2));
  EXPECT_NO_THROW(r.read("test", "outputs", 0, 1));  // rows before the bad sample are fine
  try {
    r.read("test", "outputs", 0, 2);
    ADD_FAILURE() << "no error for a NaN in test/outputs";
  } catch (const physml::NonFiniteError& e) {
    EXPECT_NE(std::string(e.what()).find("Dataset file '" + path +
                                         "' has a non-finite value (nan) in split 'test', outputs of sample 1, flat "
                                         "index 27 (channel 1, point 7 of [C, spatial...] [2, 4, 5]); expected finite "
                                         "data"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW_MSG(r.read("test", "outputs", 1, 2), "outputs of sample 1, flat index 27");
  EXPECT_EQ(content_checksum(r).size(), 16u);  // the checksum reads raw bytes
  EXPECT_EQ(file_bytes(path), before);                // reading changed nothing
}
