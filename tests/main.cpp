// GoogleTest main for PhysML: one physml::Environment for the whole test process.
#include <gtest/gtest.h>

#include "physml/core/environment.hpp"
#include "physml/core/random.hpp"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  physml::EnvironmentOptions opts;
  opts.threads = 1;  // ctest runs two test processes at once on a 2-core machine
  physml::Environment env(argc, argv, opts);
  physml::seed_everything(1234);
  return RUN_ALL_TESTS();
}
