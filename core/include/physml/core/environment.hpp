#pragma once
/// \file environment.hpp
/// RAII start and stop of MPI, PETSc (options database) and LibTorch threads.

#include <mpi.h>

#include <cstdint>
#include <string>

namespace physml {

/// Settings for Environment that are not taken from the command line.
struct EnvironmentOptions {
  /// Threads for LibTorch and the BLAS (physml::set_num_threads); 0 = all cores.
  int threads = 0;
  /// Global seed (torch, std RNGs through physml::seed_everything); < 0 leaves them untouched.
  std::int64_t seed = -1;
  /// Let PETSc print its own errors (traceback) instead of only returning codes.
  bool petsc_traceback = false;
  /// Help text PETSc prints for -help.
  std::string help;
};

/// Starts MPI, PETSc and LibTorch threads on construction and stops what it
/// started on destruction. If the host program already initialized MPI or PETSc
/// they are reused and left running. Options come from the command line, from
/// `-options_file f` and from `-options_file_yaml f.yaml` (command line wins).
/// Options: `-threads N`, `-seed S`; also runs physml::use_best_openblas_kernels().
class Environment {
public:
  Environment(int& argc, char**& argv, const EnvironmentOptions& options = {});
  /// Construct without a command line (tests, embedded use).
  explicit Environment(const EnvironmentOptions& options = {});
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  /// PETSC_COMM_WORLD.
  MPI_Comm comm() const;
  int rank() const;
  int size() const;
  /// Whether this object started MPI / PETSc (false when the host did).
  bool owns_mpi() const { return owns_mpi_; }
  bool owns_petsc() const { return owns_petsc_; }
  /// Whether an Environment (or the host) has initialized PETSc in this process.
  static bool active();

private:
  void start(int* argc, char*** argv, const EnvironmentOptions& options);
  void configure(const EnvironmentOptions& options);
  void stop();
  bool owns_mpi_ = false;
  bool owns_petsc_ = false;
  bool pushed_handler_ = false;
};

/// Number of cores of the machine (std::thread::hardware_concurrency, at least 1).
int hardware_threads();

}  // namespace physml
