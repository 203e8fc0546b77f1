#pragma once
// Helpers shared by the PhysML tests.
#include <gtest/gtest.h>

#include "physml/core/error.hpp"

#include <filesystem>
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
