// Writes that run out of disk space part-way (issue 16): every writer of the io layer, writing
// into a file system that fills up in the middle of its file, throws physml::Error naming the
// file, leaves an existing file of that name byte for byte as it was, and leaves no temporary
// file behind; a resumable DatasetWriter never publishes an incomplete data set.
//
// The full disk is real: each test mounts a 256 KiB tmpfs on its scratch directory (ENOSPC from
// write(2), as on any full file system) and unmounts it at the end. Mounting needs
// CAP_SYS_ADMIN (root in CI); without it the tests are skipped, saying so.
#include "physml/core/error.hpp"
#include "physml/io/atomic_file.hpp"
#include "physml/io/checkpoint.hpp"
#include "physml/io/dataset.hpp"
#include "physml/io/hdf5.hpp"
#include "physml/io/png.hpp"
#include "physml/io/vtk.hpp"
#include "test_util.hpp"

#include <sys/mount.h>

#include <torch/torch.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <algorithm>
#include <fstream>
#include <functional>
#include <iterator>

namespace fs = std::filesystem;
using namespace physml::io;

namespace {

using physml::test::file_bytes;

/// Files in `dir` other than `keep`.
std::vector<std::string> others(const fs::path& dir, const std::vector<std::string>& keep) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const auto name = e.path().filename().string();
    if (std::find(keep.begin(), keep.end(), name) == keep.end()) out.push_back(name);
  }
  return out;
}

constexpr std::size_t limit = 256 * 1024;

/// A `limit`-byte tmpfs mounted on a fresh scratch directory for the test's lifetime.
class SmallDisk {
public:
  SmallDisk() : dir_(physml::test::scratch_dir() / "disk") {
    fs::create_directories(dir_);
    const std::string options = "size=" + std::to_string(limit);
    if (::mount("physml-test", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) == 0)
      mounted_ = true;
    else
      error_ = std::strerror(errno);
  }
  ~SmallDisk() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  SmallDisk(const SmallDisk&) = delete;
  SmallDisk& operator=(const SmallDisk&) = delete;
  /// Make the disk `bytes` large (remount): space again, the files kept.
  void grow(std::size_t bytes) {
    const std::string options = "size=" + std::to_string(bytes);
    ASSERT_EQ(::mount("physml-test", dir_.c_str(), "tmpfs", MS_REMOUNT | MS_NOSUID | MS_NODEV, options.c_str()), 0)
        << std::strerror(errno);
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  const fs::path& dir() const { return dir_; }

private:
  fs::path dir_;
  bool mounted_ = false;
  std::string error_;
};

#define REQUIRE_SMALL_DISK(disk)                                                                             \
  if (!(disk).mounted())                                                                                     \
  GTEST_SKIP() << "cannot mount a small tmpfs to fill (" << (disk).error() << "; needs CAP_SYS_ADMIN)"

/// Run `write`; the message of the physml::Error it threw, or "" when it did not throw.
std::string error_of(const std::function<void()>& write) {
  try {
    write();
  } catch (const physml::Error& e) {
    const std::string m = e.what();
    return m.empty() ? "(empty message)" : m;
  }
  return "";
}

/// A tensor whose file is far larger than `limit` (random, so no compression shrinks it).
at::Tensor big(std::int64_t values) { return torch::rand({values}, torch::TensorOptions().dtype(torch::kFloat64)); }

/// The existing file `target` holds `good`; writing over it under the limit must throw
/// naming it, keep its bytes and leave nothing else in its directory.
void expect_refused_and_untouched(const fs::path& target, const std::string& good, const std::function<void()>& write,
                                  const std::string& names) {
  const auto message = error_of(write);
  EXPECT_FALSE(message.empty()) << "the write into a full " << limit << "-byte disk did not throw";
  EXPECT_NE(message.find(names), std::string::npos) << message;
  EXPECT_EQ(file_bytes(target), good) << "the existing " << target << " changed";
  EXPECT_EQ(others(target.parent_path(), {target.filename().string()}), std::vector<std::string>{})
      << "temporary files left behind";
}

}  // namespace

TEST(DiskFull, TheSmallDiskReallyFills) {
  // The set-up itself: a large write fails with ENOSPC after at most `limit` bytes, and the
  // same HDF5 write succeeds off the small disk, with a file larger than the disk.
  SmallDisk disk;
  REQUIRE_SMALL_DISK(disk);
  const auto free_path = disk.dir().parent_path() / "free.h5";
  {
    auto f = H5File::create(free_path.string());
    f.write("x", big(1 << 16));
    f.commit();
  }
  EXPECT_GT(fs::file_size(free_path), 2 * limit);
  const auto raw = disk.dir() / "raw.bin";
  std::FILE* f = std::fopen(raw.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::string block(2 * limit, 'x');
  const auto n = std::fwrite(block.data(), 1, block.size(), f);
  const int flushed = std::fflush(f);
  const int error = errno;
  std::fclose(f);
  EXPECT_TRUE(n < block.size() || flushed != 0);
  EXPECT_EQ(error, ENOSPC);
  EXPECT_LE(fs::file_size(raw), limit);
}

TEST(DiskFull, H5FileOverAnExistingFileKeepsIt) {
  SmallDisk disk;
  REQUIRE_SMALL_DISK(disk);
  const auto dir = disk.dir();
  const auto path = dir / "data.h5";
  {
    auto f = H5File::create(path.string());
    f.write("x", torch::arange(10, torch::kFloat64));
    f.commit();
  }
  const auto good = file_bytes(path);
  expect_refused_and_untouched(
      path, good,
      [&] {
        auto f = H5File::create(path.string());
        f.write("x", big(1 << 16));
        f.commit();
      },
      path.string());
  // The kept file still reads as before.
  EXPECT_TRUE(torch::equal(H5File::open(path.string()).read("x"), torch::arange(10, torch::kFloat64)));
}

TEST(DiskFull, CheckpointOverAnExistingCheckpointKeepsIt) {
  SmallDisk disk;
  REQUIRE_SMALL_DISK(disk);
  const auto dir = disk.dir();
  const auto path = dir / "last.h5";
  torch::nn::Linear small(2, 2), large(512, 256);
  save_checkpoint(path.string(), *small, "net", {{"width", "2"}});
  const auto good = file_bytes(path);
  expect_refused_and_untouched(
      path, good, [&] { save_checkpoint(path.string(), *large, "net", {{"width", "512"}}); }, path.string());
  EXPECT_EQ(read_checkpoint_info(path.string()).config.at("width"), "2");
}

TEST(DiskFull, PngOverAnExistingPictureKeepsIt) {
  SmallDisk disk;
  REQUIRE_SMALL_DISK(disk);
  const auto dir = disk.dir();
  const auto path = dir / "field.png";
  write_field_png(path.string(), {"small", torch::rand({4, 4})}, FieldPlotOptions{64, 48});
  const auto good = file_bytes(path);
  // Noise does not compress: a 1600x1200 picture of it is far over the limit.
  expect_refused_and_untouched(
      path, good,
      [&] { write_field_png(path.string(), {"noise", torch::rand({400, 400})}, FieldPlotOptions{1600, 1200}); },
      path.string());
}

TEST(DiskFull, VtkOverAnExistingFileKeepsIt) {
  SmallDisk disk;
  REQUIRE_SMALL_DISK(disk);
  const auto dir = disk.dir();
  const auto path = dir / "particles.vtp";
  write_vtp(path.string(), torch::rand({4, 3}));
  const auto good = file_bytes(path);
  expect_refused_and_untouched(
      path, good, [&] { write_vtp(path.string(), torch::rand({40000, 3}), {{"v", torch::rand({40000, 3})}}); },
      path.string());
}

TEST(DiskFull, DatasetWriterKeepsItsPartialFileAndResumes) {
  SmallDisk disk;
  REQUIRE_SMALL_DISK(disk);
  const auto dir = disk.dir();
  const auto path = dir / "data.h5";
  DatasetInfo info;
  info.generator = "test";
  info.parameters_json = "{}";
  info.grid_json = R"({"shape": [64, 64], "extent": [1.0, 1.0]})";
  info.seed = 3;
  info.split_sizes = {{"train", 8}};
  info.input_shape = {1, 64, 64};
  info.output_shape = {1, 64, 64};
  info.dtype = torch::kFloat64;
  auto sample = [](std::int64_t i) { return torch::full({1, 64, 64}, static_cast<double>(i), torch::kFloat64); };
  // 64x64 float64 = 32 KiB per field: the limit is reached within the first few samples.
  std::int64_t written = 0;
  const auto message = error_of([&] {
    auto w = DatasetWriter::open(path.string(), info);
    for (std::int64_t i = 0; i < 8; ++i) {
      w.write_sample("train", i, sample(i), sample(i) * 2);
      written = i + 1;
    }
    w.finish();
  });
  ASSERT_FALSE(message.empty()) << "generation onto a full disk did not throw";
  EXPECT_NE(message.find("data.h5"), std::string::npos) << message;
  EXPECT_LT(written, 8);
  EXPECT_FALSE(fs::exists(path)) << "an incomplete data set was published";
  // Once there is space again (the disk grown to 4 MiB, the partial file kept), reopening with the same settings either resumes the partial
  // file or, when libhdf5 could not extend the file to the size its metadata records (which
  // needs the space that ran out), refuses it saying what happened and what to do; it never
  // resumes a damaged file silently. Deleting it starts over.
  disk.grow(16 * limit);
  std::int64_t resumed = 0;
  try {
    auto w = DatasetWriter::open(path.string(), info);
    for (std::int64_t i = 0; i < 8; ++i)
      if (!w.has_sample("train", i)) {
        w.write_sample("train", i, sample(i), sample(i) * 2);
        ++resumed;
      }
    EXPECT_LE(resumed, 8 - written);
    w.finish();
  } catch (const physml::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("cannot resume the partial Dataset file '" + path.string() + ".partial'"), std::string::npos) << m;
    EXPECT_NE(m.find("delete it to start over"), std::string::npos) << m;
    fs::remove(path.string() + ".partial");
    auto w = DatasetWriter::open(path.string(), info);
    for (std::int64_t i = 0; i < 8; ++i) w.write_sample("train", i, sample(i), sample(i) * 2);
    w.finish();
  }
  auto r = DatasetReader::open(path.string());
  const auto inputs = r.read("train", "inputs", 0, 8);
  const auto outputs = r.read("train", "outputs", 0, 8);
  for (std::int64_t i = 0; i < 8; ++i) {
    EXPECT_TRUE(torch::equal(inputs[i], sample(i))) << i;
    EXPECT_TRUE(torch::equal(outputs[i], sample(i) * 2)) << i;
  }
  EXPECT_EQ(others(dir, {"data.h5"}), std::vector<std::string>{});
}

TEST(DiskFull, TextFilesKeepTheirLastCompleteVersion) {
  // write_text_file is what the training log, the residual history and .pvd series use.
  SmallDisk disk;
  REQUIRE_SMALL_DISK(disk);
  const auto dir = disk.dir();
  const auto path = dir / "log.csv";
  write_text_file(path.string(), "training log", "epoch,loss\n1,0.5\n");
  const auto good = file_bytes(path);
  expect_refused_and_untouched(
      path, good, [&] { write_text_file(path.string(), "training log", std::string(4 * limit, 'x')); },
      "cannot write training log '" + path.string() + "' (disk full or no permission?)");

  const auto pvd = dir / "series.pvd";
  PvdWriter series(pvd.string());
  series.add(0.0, "frame_0.vtp");
  const auto good_pvd = file_bytes(pvd);
  // Enough entries that the collection outgrows the limit: the .pvd keeps its last version.
  const auto message = error_of([&] {
    for (int i = 1; i < 8000; ++i) series.add(i, "frame_with_a_long_name_" + std::to_string(i) + ".vtp");
  });
  EXPECT_NE(message.find("cannot write VTK file '" + pvd.string() + "'"), std::string::npos) << message;
  const auto kept = file_bytes(pvd);
  EXPECT_EQ(kept.rfind("</VTKFile>\n"), kept.size() - 11) << "the kept .pvd is not complete";
  EXPECT_GE(kept.size(), good_pvd.size());
  EXPECT_EQ(others(dir, {"log.csv", "series.pvd"}), std::vector<std::string>{});
}
