/// \file fuzz_common.hpp
/// What every libFuzzer target of PhysML shares (fuzz/README.md):
/// - PETSc started once, its errors returned as codes (no stack traces on stderr);
/// - a private scratch directory for the files a reader is given;
/// - the contract under test: a reader given bad input throws physml::Error (or a subclass)
///   and nothing else. Any other exception, a crash, a sanitizer report, a hang or an
///   allocation past -rss_limit_mb is a finding.
#pragma once

#include "physml/core/error.hpp"

#include <petscsys.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace physml::fuzz {

/// Start PETSc (no arguments: argv belongs to libFuzzer) once per process.
inline void start_petsc() {
  static bool started = [] {
    if (PetscInitializeNoArguments() != 0) std::abort();
    PetscPushErrorHandler(PetscReturnErrorHandler, nullptr);
    return true;
  }();
  (void)started;
}

/// A scratch directory of this process (under $TMPDIR or /tmp), created once and removed at
/// a normal exit (libFuzzer exits normally after its runs; after a finding it is left).
inline const std::string& scratch_dir() {
  struct Dir {
    std::string path;
    Dir() {
      const char* tmp = std::getenv("TMPDIR");
      path = std::string(tmp && *tmp ? tmp : "/tmp") + "/physml-fuzz-XXXXXX";
      if (!mkdtemp(path.data())) std::abort();
    }
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static const Dir dir;
  return dir.path;
}

/// `name` inside the scratch directory.
inline std::string scratch(const std::string& name) { return scratch_dir() + "/" + name; }

/// Write `size` bytes to `path` (replacing it).
inline void write_bytes(const std::string& path, const std::uint8_t* data, std::size_t size) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!f) std::abort();
}

/// Run `body`; physml::Error is the expected answer to bad input. Anything else that is
/// thrown is reported and aborts, so libFuzzer records the input as a crash.
template <class F>
void expect_physml_errors_only(const char* target, F&& body) {
  try {
    body();
  } catch (const physml::Error&) {
    // the contract: bad input named by a physml::Error
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: a reader threw something other than physml::Error: %s\n", target, e.what());
    std::abort();
  }
}

}  // namespace physml::fuzz
