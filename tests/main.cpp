// GoogleTest main for PhysML: one physml::Environment for the whole test process.
#include <gtest/gtest.h>

#include "physml/core/environment.hpp"
#include "physml/core/random.hpp"

#if defined(__SANITIZE_ADDRESS__)
// Sanitizer builds: MPI and PETSc keep intentional process-lifetime allocations, so leak
// reports would only list those. This also covers ctest's test discovery, which runs the
// executable without the tests' ENVIRONMENT. Every other ASan/UBSan check stays on.
// The options are those of cmake/sanitizer-options.env (PHYSML_ASAN_OPTIONS, from CMake).
extern "C" const char* __asan_default_options() { return PHYSML_ASAN_OPTIONS; }
#endif

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  physml::EnvironmentOptions opts;
  opts.threads = 1;  // ctest runs two test processes at once on a 2-core machine
  physml::Environment env(argc, argv, opts);
  physml::seed_everything(1234);
  return RUN_ALL_TESTS();
}
