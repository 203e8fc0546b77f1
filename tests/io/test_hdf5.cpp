// HDF5 tensor files: round trips per dtype, attributes, hyperslabs, atomic writes, and a
// clear physml::Error for every kind of bad input a reader can meet.
#include "physml/core/error.hpp"
#include "physml/io/hdf5.hpp"
#include "test_util.hpp"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <iterator>

namespace fs = std::filesystem;
using physml::io::Attribute;
using physml::io::H5File;

namespace {

using physml::test::file_bytes;
using physml::test::no_temporaries;

/// A small valid file with one float32 dataset of 1000 values and a few attributes.
fs::path make_file(const fs::path& dir, const std::string& name = "a.h5") {
  auto path = dir / name;
  auto f = H5File::create(path.string());
  f.write("group/x", torch::arange(1000, torch::kFloat32).reshape({10, 100}));
  f.set_attribute("/", "note", std::string("hello"));
  f.commit();
  return path;
}


}  // namespace

TEST(Hdf5, RoundTripsEveryDtypeBitExact) {
  auto dir = physml::test::scratch_dir();
  auto path = (dir / "t.h5").string();
  auto f32 = torch::randn({3, 4, 5});
  auto f64 = torch::randn({7}, torch::kFloat64);
  f64[0] = std::numeric_limits<double>::denorm_min();
  f64[1] = -0.0;
  auto i64 = torch::tensor({std::numeric_limits<std::int64_t>::min(), std::int64_t(0), std::int64_t(1) << 62});
  auto i32 = torch::tensor({-5, 7}, torch::kInt32);
  auto u8 = torch::tensor({0, 255, 17}, torch::kUInt8);
  auto scalar = torch::tensor(3.5, torch::kFloat64);
  auto empty = torch::zeros({0, 3});
  auto strided = torch::arange(24, torch::kFloat64).reshape({4, 6}).t();  // non-contiguous
  {
    auto f = H5File::create(path);
    f.write("f32", f32);
    f.write("nested/deeper/f64", f64);
    f.write("i64", i64);
    f.write("i32", i32);
    f.write("u8", u8);
    f.write("scalar", scalar);
    f.write("empty", empty);
    f.write("strided", strided);
    f.commit();
  }
  auto f = H5File::open(path);
  auto check = [&](const std::string& name, const torch::Tensor& expected) {
    auto got = f.read(name);
    EXPECT_EQ(got.scalar_type(), expected.scalar_type()) << name;
    EXPECT_EQ(got.sizes(), expected.sizes()) << name;
    // bit-exact: compare raw bytes
    auto e = expected.contiguous();
    ASSERT_EQ(got.nbytes(), e.nbytes()) << name;
    if (e.nbytes() > 0) {  // memcmp must not see the null data pointer of an empty tensor
      EXPECT_EQ(std::memcmp(got.data_ptr(), e.data_ptr(), e.nbytes()), 0) << name;
    }
  };
  check("f32", f32);
  check("nested/deeper/f64", f64);
  check("/i64", i64);
  check("i32", i32);
  check("u8", u8);
  check("scalar", scalar);
  check("empty", empty);
  check("strided", strided);
  EXPECT_EQ(f.list("/"), (std::vector<std::string>{"empty", "f32", "i32", "i64", "nested", "scalar", "strided", "u8"}));
  EXPECT_EQ(f.list("nested"), (std::vector<std::string>{"deeper"}));
  EXPECT_TRUE(f.exists("nested/deeper/f64"));
  EXPECT_FALSE(f.exists("nested/missing/f64"));
  EXPECT_FALSE(f.exists("f32/below_a_dataset"));
  EXPECT_EQ(f.shape("f32"), (std::vector<std::int64_t>{3, 4, 5}));
  EXPECT_EQ(f.dtype("u8"), torch::kUInt8);
}

TEST(Hdf5, AttributesOfEveryKind) {
  auto dir = physml::test::scratch_dir();
  auto path = (dir / "attrs.h5").string();
  {
    auto f = H5File::create(path);
    f.write("x", torch::zeros({2}));
    f.set_attribute("/", "name", std::string("darcy"));
    f.set_attribute("/", "json", std::string(R"({"a": [1, 2], "b": "é"})"));
    f.set_attribute("/", "empty", std::string());
    f.set_attribute("/", "seed", std::int64_t(-42));
    f.set_attribute("x", "h", 0.1);
    f.set_attribute("x", "list", std::vector<double>{1.5, -2.0, 1e300});
    f.set_attribute("x", "nolist", std::vector<double>{});
    f.set_attribute("/", "seed", std::int64_t(43));  // replaced
    f.set_attribute("state", "epoch", std::int64_t(7));  // creates group "state"
    physml::io::stamp_file(f, "physml.test", 3);
    f.commit();
  }
  auto f = H5File::open(path);
  EXPECT_EQ(f.attribute_string("/", "name"), "darcy");
  EXPECT_EQ(f.attribute_string("/", "json"), R"({"a": [1, 2], "b": "é"})");
  EXPECT_EQ(f.attribute_string("/", "empty"), "");
  EXPECT_EQ(f.attribute_int("/", "seed"), 43);
  EXPECT_EQ(f.attribute_real("x", "h"), 0.1);
  EXPECT_EQ(f.attribute_real("/", "seed"), 43.0);
  EXPECT_EQ(std::get<std::vector<double>>(f.attribute("x", "list")), (std::vector<double>{1.5, -2.0, 1e300}));
  EXPECT_TRUE(std::get<std::vector<double>>(f.attribute("x", "nolist")).empty());
  EXPECT_EQ(f.attribute_int("state", "epoch"), 7);
  EXPECT_FALSE(f.find_attribute("/", "nope").has_value());
  EXPECT_FALSE(f.find_attribute("no/such/object", "nope").has_value());
  auto all = f.attributes("x");
  EXPECT_EQ(all.size(), 3u);
  EXPECT_EQ(f.attribute_string("/", "format"), "physml.test");
  EXPECT_EQ(f.attribute_int("/", "format_version"), 3);
  EXPECT_FALSE(f.attribute_string("/", "physml_version").empty());
  EXPECT_FALSE(f.attribute_string("/", "torch_version").empty());
  EXPECT_EQ(f.attribute_string("/", "created").size(), 20u);  // 2026-01-01T00:00:00Z
  EXPECT_NO_THROW(physml::io::check_format(f, "physml.test", 3));
  EXPECT_THROW_MSG(physml::io::check_format(f, "physml.test", 2), "format_version 3");
  EXPECT_THROW_MSG(physml::io::check_format(f, "physml.dataset", 1), "expected 'physml.dataset'");
  EXPECT_THROW_MSG(f.attribute("/", "nope"), "missing attribute 'nope'");
  EXPECT_THROW_MSG(f.attribute_int("/", "name"), "is a string, expected an integer");
  EXPECT_THROW_MSG(f.attribute_string("/", "seed"), "is an integer, expected a string");
  EXPECT_THROW_MSG(f.attribute_real("x", "list"), "is a list of reals, expected a real");
}

TEST(Hdf5, RowsHyperslabsAndResumableWrites) {
  auto dir = physml::test::scratch_dir();
  auto path = (dir / "rows.h5").string();
  auto data = torch::randn({6, 2, 3}, torch::kFloat64);
  {
    auto f = H5File::create(path);
    f.create_dataset("d", torch::kFloat64, {6, 2, 3});
    f.write_rows("d", 4, data.slice(0, 4, 6));
    f.commit();
  }
  {
    auto f = H5File::open(path, H5File::Mode::read_write);
    f.write_rows("d", 0, data.slice(0, 0, 4));
    EXPECT_THROW_MSG(f.write_rows("d", 5, data.slice(0, 0, 2)), "rows [5, 7) out of range");
    EXPECT_THROW_MSG(f.write_rows("d", 0, data.slice(0, 0, 2).to(torch::kFloat32)), "dtype float32");
    EXPECT_THROW_MSG(f.write_rows("d", 0, torch::zeros({1, 3, 2}, torch::kFloat64)), "do not fit dataset");
    f.commit();
  }
  auto f = H5File::open(path);
  EXPECT_TRUE(torch::equal(f.read("d"), data));
  EXPECT_TRUE(torch::equal(f.read_rows("d", 2, 5), data.slice(0, 2, 5)));
  EXPECT_EQ(f.read_rows("d", 3, 3).size(0), 0);
  EXPECT_THROW_MSG(f.read_rows("d", 4, 7), "rows [4, 7) out of range for dataset 'd'");
  EXPECT_THROW_MSG(f.read_rows("d", -1, 2), "out of range");
  // read-only files refuse writes
  EXPECT_THROW_MSG(const_cast<H5File&>(f).write("e", torch::zeros({1})), "opened read-only");
  // a fresh dataset is zero-filled
  auto g = H5File::create((dir / "zeros.h5").string());
  g.create_dataset("z", torch::kInt64, {3, 2});
  EXPECT_TRUE(torch::equal(g.read("z"), torch::zeros({3, 2}, torch::kInt64)));
}

TEST(Hdf5, OverwriteDatasetWithOtherShape) {
  auto dir = physml::test::scratch_dir();
  auto f = H5File::create((dir / "o.h5").string());
  f.write("x", torch::zeros({3}));
  f.write("x", torch::ones({2, 2}, torch::kFloat64));
  EXPECT_TRUE(torch::equal(f.read("x"), torch::ones({2, 2}, torch::kFloat64)));
}

TEST(Hdf5, ReadChecksDtypeAndShape) {
  auto dir = physml::test::scratch_dir();
  auto path = make_file(dir).string();
  auto f = H5File::open(path);
  EXPECT_EQ(f.read("group/x", torch::kFloat32, {10, -1}).size(1), 100);
  EXPECT_THROW_MSG(f.read("group/x", torch::kFloat64), "has dtype float32, expected float64");
  EXPECT_THROW_MSG(f.read("group/x", torch::kFloat32, {10, 99}), "has shape [10, 100], expected [10, 99]");
  EXPECT_THROW_MSG(f.read("group/x", torch::kFloat32, {10}), "has shape [10, 100], expected [10]");
  EXPECT_THROW_MSG(f.read("group/y"), "missing dataset 'group/y' in HDF5 file");
  EXPECT_THROW_MSG(f.read("nogroup/y"), "missing dataset 'nogroup/y'");
  EXPECT_THROW_MSG(f.read("group"), "is not a dataset");
  EXPECT_THROW_MSG(f.list("group/x"), "is not a group");
  EXPECT_THROW_MSG(f.list("nogroup"), "no object 'nogroup'");
}

TEST(Hdf5, UnsupportedDtypeIsRejected) {
  auto dir = physml::test::scratch_dir();
  auto f = H5File::create((dir / "c.h5").string());
  EXPECT_THROW_MSG(f.write("c", torch::zeros({2}, torch::kComplexFloat)), "supported dtypes are float32");
  EXPECT_THROW_MSG(f.write("h", torch::zeros({2}, torch::kHalf)), "cannot store dataset 'h'");
}

TEST(Hdf5, MissingFileNotHdf5AndDirectory) {
  auto dir = physml::test::scratch_dir();
  EXPECT_THROW_MSG(H5File::open((dir / "none.h5").string()), "does not exist");
  std::ofstream((dir / "text.h5").string()) << "this is plain text, not HDF5\n";
  EXPECT_THROW_MSG(H5File::open((dir / "text.h5").string()), "is not an HDF5 file");
  std::ofstream((dir / "empty.h5").string());
  EXPECT_THROW_MSG(H5File::open((dir / "empty.h5").string()), "is not an HDF5 file");
  EXPECT_THROW_MSG(H5File::open(dir.string()), "is not a regular file");
  EXPECT_THROW_MSG(H5File::create((dir / "nodir" / "x.h5").string()), "does not exist");
}

TEST(Hdf5, TruncatedFileGivesClearError) {
  auto dir = physml::test::scratch_dir();
  auto good = make_file(dir);
  auto bytes = file_bytes(good);
  ASSERT_GT(bytes.size(), 4000u);
  auto cut = dir / "cut.h5";
  {
    std::ofstream out(cut, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  }
  EXPECT_THROW_MSG(H5File::open(cut.string()), "is truncated");
  auto before = file_bytes(cut);
  EXPECT_THROW(H5File::open(cut.string(), H5File::Mode::read_write), physml::Error);
  EXPECT_EQ(file_bytes(cut), before);  // failed open did not touch it
}

TEST(Hdf5, AbandonedWriteLeavesPreviousFileByteIdentical) {
  auto dir = physml::test::scratch_dir();
  auto path = make_file(dir, "keep.h5");
  auto before = file_bytes(path);
  {
    auto f = H5File::create(path.string());
    f.write("group/x", torch::ones({10, 100}));  // different content, same name
    // destroyed without commit()
  }
  EXPECT_EQ(file_bytes(path), before);
  EXPECT_TRUE(no_temporaries(dir));
  // a write that fails half way (unsupported dtype) leaves it intact as well
  try {
    auto f = H5File::create(path.string());
    f.write("a", torch::ones({5}));
    f.write("b", torch::zeros({2}, torch::kComplexDouble));
    f.commit();
    FAIL() << "expected an error";
  } catch (const physml::Error&) {
  }
  EXPECT_EQ(file_bytes(path), before);
  EXPECT_TRUE(no_temporaries(dir));
  // and a committed write replaces it
  {
    auto f = H5File::create(path.string());
    f.write("y", torch::ones({1}));
    f.commit();
    EXPECT_THROW_MSG(f.write("z", torch::ones({1})), "closed");
  }
  EXPECT_NE(file_bytes(path), before);
  EXPECT_TRUE(H5File::open(path.string()).exists("y"));
  EXPECT_FALSE(H5File::open(path.string()).exists("group"));
  EXPECT_TRUE(no_temporaries(dir));
}

TEST(Hdf5, ReadersNeverModifyTheFile) {
  auto dir = physml::test::scratch_dir();
  auto path = make_file(dir);
  auto before = file_bytes(path);
  auto time_before = fs::last_write_time(path);
  {
    auto f = H5File::open(path.string());
    f.read("group/x");
    EXPECT_THROW(f.read("missing"), physml::Error);
    EXPECT_THROW(f.read("group/x", torch::kInt64), physml::Error);
  }
  EXPECT_EQ(file_bytes(path), before);
  EXPECT_EQ(fs::last_write_time(path), time_before);
}

TEST(Hdf5, TwoWritersOfOnePathDoNotCollide) {
  auto dir = physml::test::scratch_dir();
  auto path = (dir / "two.h5").string();
  auto a = H5File::create(path);
  auto b = H5File::create(path);  // distinct temporary files
  a.write("x", torch::zeros({1}));
  b.write("x", torch::ones({1}));
  a.commit();
  EXPECT_EQ(H5File::open(path).read("x").item<float>(), 0.0f);
  b.commit();  // the last commit wins, whole
  EXPECT_EQ(H5File::open(path).read("x").item<float>(), 1.0f);
  EXPECT_TRUE(no_temporaries(dir));
}
