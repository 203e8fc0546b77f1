#pragma once
// Helpers shared by the PhysML tests.
#include <gtest/gtest.h>

#include "physml/core/error.hpp"

#include <petscsys.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace physml::test {

/// A fresh, empty scratch directory for one test (under the build tree), named after the test.
inline std::filesystem::path scratch_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::filesystem::path p = std::filesystem::path(PHYSML_TEST_DATA_DIR) /
                            (std::string(info->test_suite_name()) + "." + info->name());
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p;
}

/// The whole content of a file as bytes ("" if it cannot be read): for checking that a file
/// did not change.
inline std::string file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// True if no writer's temporary ("<name>.tmp-...") is left under `dir` (recursively).
inline bool no_temporaries(const std::filesystem::path& dir) {
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.path().filename().string().find(".tmp-") != std::string::npos) return false;
  return true;
}

/// The number of ranks of PETSC_COMM_WORLD.
inline int world_size() {
  int n = 1;
  MPI_Comm_size(PETSC_COMM_WORLD, &n);
  return n;
}

/// This process's rank in PETSC_COMM_WORLD.
inline int world_rank() {
  int r = 0;
  MPI_Comm_rank(PETSC_COMM_WORLD, &r);
  return r;
}

/// One scratch directory of the test shared by the ranks of PETSC_COMM_WORLD (rank 0 makes
/// it fresh and empty, as scratch_dir(); the others wait for it).
inline std::filesystem::path shared_scratch_dir() {
  std::filesystem::path p;
  if (world_rank() == 0) p = scratch_dir();
  MPI_Barrier(PETSC_COMM_WORLD);
  if (world_rank() != 0) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    p = std::filesystem::path(PHYSML_TEST_DATA_DIR) / (std::string(info->test_suite_name()) + "." + info->name());
  }
  return p;
}

/// A private PETSc options database for one test (so tests do not see each other's keys).
struct OptionsDatabase {
  PetscOptions db = nullptr;
  OptionsDatabase() { PHYSML_PETSC(PetscOptionsCreate(&db)); }
  ~OptionsDatabase() { PetscOptionsDestroy(&db); }
  OptionsDatabase(const OptionsDatabase&) = delete;
  OptionsDatabase& operator=(const OptionsDatabase&) = delete;
  void set(const char* name, const char* value) { PHYSML_PETSC(PetscOptionsSetValue(db, name, value)); }
};

}  // namespace physml::test

/// Skip a test written for two MPI ranks when run on another count; `ctest_name` is the ctest
/// that runs it under mpiexec -n 2.
#define REQUIRE_TWO_RANKS(ctest_name) \
  if (::physml::test::world_size() != 2) GTEST_SKIP() << "needs 2 MPI ranks (ctest " ctest_name ")"

/// Expect `stmt` to throw physml::Error whose message contains `substr`.
#define EXPECT_THROW_MSG(stmt, substr)                                                    \
  do {                                                                                    \
    try {                                                                                 \
      stmt;                                                                               \
      ADD_FAILURE() << "expected physml::Error containing \"" << (substr) << "\"";        \
    } catch (const physml::Error& e) {                                                    \
      EXPECT_NE(std::string(e.what()).find(substr), std::string::npos)                    \
          << "message was: " << e.what();                                                 \
    }                                                                                     \
  } while (0)
