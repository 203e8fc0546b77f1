// One HDF5 file written by several ranks at once (H5File::create(path, comm): parallel HDF5
// through MPI-IO). The ParallelHDF5MPI.* cases need two ranks and are run by the ctest
// io.mpi.parallel_hdf5 (mpiexec -n 2 test_io --gtest_filter=*ParallelHDF5MPI*); on one rank they
// skip. ParallelHDF5.* runs on any rank count.
#include "physml/core/error.hpp"
#include "physml/io/hdf5.hpp"
#include "test_util.hpp"

#include <torch/torch.h>

#include <filesystem>

namespace fs = std::filesystem;
using physml::io::Attribute;
using physml::io::H5File;
using physml::test::no_temporaries;
using physml::test::world_rank;

namespace {

/// Rows [begin, end) of the reference table t[i][j] = 10 i + j (float64, 3 columns).
at::Tensor table_rows(std::int64_t begin, std::int64_t end) {
  auto i = torch::arange(begin, end, torch::kDouble).unsqueeze(1);
  return (10 * i + torch::arange(3, torch::kDouble).unsqueeze(0)).contiguous();
}

}  // namespace

TEST(ParallelHDF5, OnOneRankTheCollectiveCreateIsTheSerialOne) {
  // (Under mpiexec each rank writes a file of its own with PETSC_COMM_SELF.)
  const auto dir = physml::test::shared_scratch_dir();
  const auto path = (dir / ("one" + std::to_string(world_rank()) + ".h5")).string();
  {
    auto f = H5File::create(path, PETSC_COMM_SELF);
    EXPECT_EQ(f.ranks(), 1);
    f.create_dataset("t", torch::kDouble, {4, 3});
    f.write_rows("t", 1, table_rows(1, 4));
    f.write_rows("t", 0, table_rows(0, 0));  // no rows: nothing written
    f.write_rows("t", 0, table_rows(0, 1));
    f.set_attribute("/", "n", std::int64_t{4});
    f.commit();
  }
  auto f = H5File::open(path);
  EXPECT_TRUE(torch::equal(f.read("t"), table_rows(0, 4)));
  EXPECT_EQ(f.attribute_int("/", "n"), 4);
  MPI_Barrier(PETSC_COMM_WORLD);
  EXPECT_TRUE(no_temporaries(dir));
}

TEST(ParallelHDF5MPI, TwoRanksFillOneFileWithTheirOwnRows) {
  REQUIRE_TWO_RANKS("io.mpi.parallel_hdf5");
  const auto dir = physml::test::shared_scratch_dir();
  const auto path = (dir / "two.h5").string();
  const int r = world_rank();
  {
    auto f = H5File::create(path, PETSC_COMM_WORLD);
    EXPECT_EQ(f.ranks(), 2);
    // Uneven split: rank 0 rows [0, 5), rank 1 rows [5, 7).
    f.create_dataset("table", torch::kDouble, {7, 3});
    f.write_rows("table", r == 0 ? 0 : 5, r == 0 ? table_rows(0, 5) : table_rows(5, 7));
    // All rows from rank 1, none from rank 0 (which still takes part, selecting nothing).
    f.create_dataset("group/ids", torch::kLong, {4});
    f.write_rows("group/ids", 0, r == 1 ? torch::arange(100, 104, torch::kLong) : torch::empty({0}, torch::kLong));
    // Attributes and whole-tensor writes take rank 0's values.
    f.set_attribute("/", "writer_rank", std::int64_t{r});
    f.set_attribute("/", "label", std::string(r == 0 ? "from rank zero" : "rank one's longer label"));
    f.set_attribute("group", "weights", std::vector<double>(static_cast<std::size_t>(r + 2), 0.5 + r));
    f.write("whole", torch::full({2, 2}, static_cast<float>(r + 1)));
    f.write("from_rank0_only", r == 0 ? torch::arange(3, torch::kLong) : at::Tensor());  // rank 1's is not looked at
    f.commit();
  }
  MPI_Barrier(PETSC_COMM_WORLD);
  auto f = H5File::open(path);  // every rank reads the finished file
  EXPECT_TRUE(torch::equal(f.read("table"), table_rows(0, 7)));
  EXPECT_TRUE(torch::equal(f.read("group/ids"), torch::arange(100, 104, torch::kLong)));
  EXPECT_EQ(f.attribute_int("/", "writer_rank"), 0);
  EXPECT_EQ(f.attribute_string("/", "label"), "from rank zero");
  EXPECT_EQ(std::get<std::vector<double>>(f.attribute("group", "weights")), std::vector<double>(2, 0.5));
  EXPECT_TRUE(torch::equal(f.read("whole"), torch::full({2, 2}, 1.0f)));
  EXPECT_TRUE(torch::equal(f.read("from_rank0_only"), torch::arange(3, torch::kLong)));
  EXPECT_TRUE(no_temporaries(dir));
}

TEST(ParallelHDF5MPI, ABadWriteOnOneRankStopsBothAndLeavesTheOldFile) {
  REQUIRE_TWO_RANKS("io.mpi.parallel_hdf5");
  const auto dir = physml::test::shared_scratch_dir();
  const auto path = dir / "kept.h5";
  if (world_rank() == 0) {
    auto f = H5File::create(path.string());
    f.write("old", torch::arange(5, torch::kDouble));
    f.commit();
  }
  MPI_Barrier(PETSC_COMM_WORLD);
  const std::string before = physml::test::file_bytes(path);
  ASSERT_FALSE(before.empty());
  {
    auto f = H5File::create(path.string(), PETSC_COMM_WORLD);
    f.create_dataset("table", torch::kDouble, {4, 3});
    // Rank 1 writes past the end: both ranks throw rank 1's message, before any data moves.
    const auto rows = world_rank() == 0 ? table_rows(0, 2) : table_rows(2, 5);
    EXPECT_THROW_MSG(f.write_rows("table", world_rank() == 0 ? 0 : 2, rows), "rows [2, 5) out of range");
    if (world_rank() == 0) EXPECT_THROW_MSG(f.write_rows("table", 0, rows), "had a failed write earlier");
    // The file then refuses writes on every rank (no rank is left inside a collective call).
    EXPECT_THROW_MSG(f.set_attribute("/", "x", std::int64_t{1}), "had a failed write earlier");
    EXPECT_THROW_MSG(f.commit(), "had a failed write earlier");
  }  // destroyed without commit, on both ranks: the temporary goes
  MPI_Barrier(PETSC_COMM_WORLD);
  EXPECT_EQ(physml::test::file_bytes(path), before);
  EXPECT_TRUE(no_temporaries(dir));
}

TEST(ParallelHDF5MPI, ThrowingRankNamesItselfOnTheOtherRank) {
  REQUIRE_TWO_RANKS("io.mpi.parallel_hdf5");
  const auto dir = physml::test::shared_scratch_dir();
  auto f = H5File::create((dir / "dtype.h5").string(), PETSC_COMM_WORLD);
  f.create_dataset("ids", torch::kLong, {4});
  // Rank 1 passes float64 rows into an int64 dataset.
  const auto rows = world_rank() == 0 ? torch::zeros({2}, torch::kLong) : torch::zeros({2}, torch::kDouble);
  try {
    f.write_rows("ids", 2 * world_rank(), rows);
    ADD_FAILURE() << "expected a physml::Error";
  } catch (const physml::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("cannot write rows of dtype float64"), std::string::npos) << msg;
    if (world_rank() == 0) {
      EXPECT_NE(msg.find("on rank 1"), std::string::npos) << msg;
    }
  }
}

TEST(ParallelHDF5MPI, AnUndefinedTensorOnRankZeroStopsBoth) {
  REQUIRE_TWO_RANKS("io.mpi.parallel_hdf5");
  const auto dir = physml::test::shared_scratch_dir();
  auto f = H5File::create((dir / "undefined.h5").string(), PETSC_COMM_WORLD);
  EXPECT_THROW_MSG(f.write("x", world_rank() == 0 ? at::Tensor() : torch::ones({2})), "cannot write an undefined tensor");
  EXPECT_THROW_MSG(f.commit(), "had a failed write earlier");
}

TEST(ParallelHDF5MPI, ANonexistentDirectoryIsReportedOnEveryRank) {
  REQUIRE_TWO_RANKS("io.mpi.parallel_hdf5");
  const auto dir = physml::test::shared_scratch_dir();
  EXPECT_THROW_MSG(H5File::create((dir / "no" / "such.h5").string(), PETSC_COMM_WORLD), "/no' does not exist");
  MPI_Barrier(PETSC_COMM_WORLD);
  EXPECT_TRUE(no_temporaries(dir));
}
