#pragma once
/// \file generate_dataset.hpp
/// Write a whole Dataset file from a DataGenerator: splits "train", "test" and "valid" in
/// sample-index order (train [0, ntrain), then test, then valid), sample i drawn from the master
/// seed alone, so the file does not depend on the number of MPI ranks and adding a valid split
/// leaves train and test unchanged. The work is split over the ranks of `comm` round-robin by
/// work unit; rank 0 writes. The file is resumable (a rerun with the same settings computes
/// only the missing samples), interruptible (SIGINT/SIGTERM finish the samples in flight and
/// keep FILE.partial) and never overwrites a finished file with other settings.
///
///   auto g = physml::simulators::create_generator("darcy");
///   g->set_from_options(physml::Options("darcy_"));
///   auto o = physml::simulators::GenerateOptions().set_from_options(physml::Options());
///   auto result = physml::simulators::generate_dataset(*g, o);   // -output, -ntrain, ...

#include "physml/simulators/data_generator.hpp"

#include <petscsys.h>
#include <torch/arg.h>

#include <cstdint>
#include <string>

namespace physml::simulators {

/// Settings of generate_dataset (keys under the prefix of the Options given to set_from_options).
struct GenerateOptions {
  /// -output: the Dataset file to write (required; FILE.partial while incomplete).
  TORCH_ARG(std::string, output) = "";
  /// -ntrain, -ntest, -nvalid: split sizes.
  TORCH_ARG(std::int64_t, ntrain) = 32;
  TORCH_ARG(std::int64_t, ntest) = 8;
  TORCH_ARG(std::int64_t, nvalid) = 0;
  /// -seed: master seed; sample i uses derive_seed(seed, i).
  TORCH_ARG(std::int64_t, seed) = 0;
  /// -dtype: storage type, "float32" or "float64".
  TORCH_ARG(std::string, dtype) = "float32";
  /// -snapshots: directory for PNG pictures and VTK files of the first samples ("" = none).
  TORCH_ARG(std::string, snapshots) = "";
  /// -snapshot_count: how many samples get snapshots.
  TORCH_ARG(std::int64_t, snapshot_count) = 3;
  /// -progress: print a progress line (rate and ETA on a terminal, periodic lines otherwise).
  TORCH_ARG(bool, progress) = true;
  /// Handle SIGINT/SIGTERM (InterruptGuard) while generating.
  TORCH_ARG(bool, handle_signals) = true;
  /// -test_interrupt_after K (testing): raise SIGINT after K samples are written in this run.
  TORCH_ARG(std::int64_t, test_interrupt_after) = 0;

public:
  /// Read the keys above under the prefix of `options`; the current values are the defaults.
  GenerateOptions& set_from_options(const Options& options);
};

/// What generate_dataset did.
struct GenerateResult {
  enum class Status { complete, already_complete, interrupted };
  Status status = Status::complete;
  int signal = 0;              ///< the signal that interrupted the run (status interrupted)
  std::int64_t total = 0;      ///< samples of the data set
  std::int64_t written = 0;    ///< samples written by this run
  std::int64_t present = 0;    ///< samples in the file when the run ended
  std::string checksum;        ///< io::content_checksum of the finished file (rank 0)
  /// Wall time of this run and, of it, rank 0's time writing samples into the file (what
  /// funnelling every sample through rank 0 costs its compute; rank 0 only).
  double seconds = 0, write_seconds = 0;
};

/// Generate the data set `options` describes with `generator` (set_from_options already
/// called) on the ranks of `comm`. Collective. Throws physml::Error (on every rank) for bad
/// settings, an unwritable output directory, an existing file with other settings (left
/// intact), or samples whose solve failed (not written; FILE.partial keeps the others and a
/// rerun retries them). Options under the generator's prefix that nothing read, other than
/// PETSc solver families (-<prefix>ksp_*, -<prefix>pc_*, ...), are refused before any sample
/// is computed.
GenerateResult generate_dataset(DataGenerator& generator, const GenerateOptions& options, MPI_Comm comm = PETSC_COMM_WORLD);

/// The snapshot of one sample: `<stem>.png` (input | output panels; a line plot in 1-D; the
/// middle z slice in 3-D) and `<stem>.vti` (`<stem>_t<k>.vti` + `<stem>.pvd` for a time
/// series: k = 0 the input, k >= 1 the output at times()[k-1]).
void write_snapshot(const DataGenerator& generator, const std::string& stem, const std::string& label,
                    const GeneratedSample& sample);

}  // namespace physml::simulators
