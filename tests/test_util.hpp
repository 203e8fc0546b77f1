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
