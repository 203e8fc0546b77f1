// generate_dataset: a Dataset file from a DataGenerator, split over MPI ranks by work unit,
// resumable, interruptible, with snapshots of the first samples.
#include "physml/simulators/generate_dataset.hpp"

#include "physml/core/collective.hpp"
#include "physml/core/error.hpp"
#include "physml/core/interrupt.hpp"
#include "physml/core/log.hpp"
#include "physml/core/options.hpp"
#include "physml/core/options_reader.hpp"
#include "physml/core/progress.hpp"
#include "physml/io/dataset.hpp"

#include <mpi.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>

namespace physml::simulators {

GenerateOptions& GenerateOptions::set_from_options(const Options& options) {
  OptionsReader r(options, "Data set generation (splits, seed, storage, snapshots)");
  output(r.string("output", output(), "Dataset file to write (required; FILE.partial while incomplete)"));
  ntrain(r.integer("ntrain", ntrain(), "samples of the train split (indices [0, ntrain))"));
  ntest(r.integer("ntest", ntest(), "samples of the test split (after train)"));
  nvalid(r.integer("nvalid", nvalid(), "samples of the valid split (after test)"));
  seed(r.integer("seed", seed(), "master seed: sample i is drawn from derive_seed(seed, i)", 0));
  dtype(r.choice("dtype", {"float32", "float64"}, dtype(), "storage type"));
  snapshots(r.string("snapshots", snapshots(), "directory for PNG and VTK pictures of the first samples"));
  snapshot_count(r.integer("snapshot_count", snapshot_count(), "samples that get snapshots", 0));
  progress(r.boolean("progress", progress(), "print a progress line (rate, ETA)"));
  test_interrupt_after(r.integer("test_interrupt_after", test_interrupt_after(),
                                 "(testing) raise SIGINT after this many samples are written", 0));
  r.end();
  return *this;
}

namespace {

/// Throw on a given option of the generator's prefix that nothing has read (a misspelled
/// -darcy_tua), before any sample is computed. PETSc solver options (-darcy_ksp_*, -darcy_pc_*,
/// -darcy_mg_levels_*, ...) may be read only at the first solve; they are left to the caller's
/// check_no_unused_options at the end.
void check_generator_options(const Options& options) {
  const std::string& prefix = options.prefix();
  static const char* solver_families[] = {"ksp_", "pc_", "mg_", "mat_", "sub_", "fieldsplit_", "gamg_", "hypre_", "redundant_"};
  if (prefix.empty()) return;
  for (const auto& opt : physml::unused_options(options.database())) {
    const std::string name = opt.substr(0, opt.find(' '));
    if (name.rfind("-" + prefix, 0) != 0) continue;
    const std::string rest = name.substr(prefix.size() + 1);
    bool solver = false;
    for (const char* f : solver_families) solver = solver || rest.rfind(f, 0) == 0;
    PHYSML_CHECK(solver, "unknown option ", name, " (-help lists the options of each generator)");
  }
}

/// Mark the solver-family options under the generator's prefix as used, on a process that will
/// not solve (a complete file, an idle rank): PETSc reads some of them only at the first solve,
/// and they are the user's, not misspellings.
void mark_solver_options_used(const Options& options) {
  static const char* solver_families[] = {"ksp_", "pc_", "mg_", "mat_", "sub_", "fieldsplit_", "gamg_", "hypre_", "redundant_"};
  const std::string& prefix = options.prefix();
  if (prefix.empty()) return;
  for (const auto& opt : physml::unused_options(options.database())) {
    const std::string name = opt.substr(0, opt.find(' '));
    if (name.rfind("-" + prefix, 0) != 0) continue;
    const std::string rest = name.substr(prefix.size() + 1);
    for (const char* f : solver_families)
      if (rest.rfind(f, 0) == 0) {
        PetscBool set = PETSC_FALSE;
        PHYSML_PETSC(PetscOptionsHasName(options.database(), nullptr, name.c_str(), &set));
      }
  }
}

// MPI transport of results to rank 0 (float64 fields of the known per-sample shapes).
void send_result(const GeneratedSample& r, int dest, MPI_Comm comm) {
  int head[2] = {r.ok ? 1 : 0, static_cast<int>(r.message.size())};
  MPI_Send(head, 2, MPI_INT, dest, 11, comm);
  if (!r.ok) {
    MPI_Send(r.message.data(), head[1], MPI_CHAR, dest, 12, comm);
    return;
  }
  auto in = r.input.to(torch::kDouble).contiguous(), out = r.output.to(torch::kDouble).contiguous();
  MPI_Send(in.data_ptr<double>(), static_cast<int>(in.numel()), MPI_DOUBLE, dest, 13, comm);
  MPI_Send(out.data_ptr<double>(), static_cast<int>(out.numel()), MPI_DOUBLE, dest, 14, comm);
}

GeneratedSample recv_result(const io::DatasetInfo& info, int src, MPI_Comm comm) {
  GeneratedSample r;
  int head[2];
  MPI_Recv(head, 2, MPI_INT, src, 11, comm, MPI_STATUS_IGNORE);
  r.ok = head[0] != 0;
  if (!r.ok) {
    r.message.resize(static_cast<size_t>(head[1]));
    MPI_Recv(r.message.data(), head[1], MPI_CHAR, src, 12, comm, MPI_STATUS_IGNORE);
    return r;
  }
  r.input = torch::empty(info.input_shape, torch::kDouble);
  r.output = torch::empty(info.output_shape, torch::kDouble);
  MPI_Recv(r.input.data_ptr<double>(), static_cast<int>(r.input.numel()), MPI_DOUBLE, src, 13, comm, MPI_STATUS_IGNORE);
  MPI_Recv(r.output.data_ptr<double>(), static_cast<int>(r.output.numel()), MPI_DOUBLE, src, 14, comm,
           MPI_STATUS_IGNORE);
  return r;
}

}  // namespace

GenerateResult generate_dataset(DataGenerator& g, const GenerateOptions& o, MPI_Comm comm) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);

  PHYSML_CHECK(!o.output().empty(), "no output file: set -output FILE.h5");
  // Splits in sample-index order: train [0, ntrain), test, then valid.
  const std::vector<std::pair<std::string, int64_t>> splits{{"train", o.ntrain()}, {"test", o.ntest()}, {"valid", o.nvalid()}};
  int64_t total = 0;
  for (const auto& [name, n] : splits) {
    PHYSML_CHECK(n >= 0, "-n", name, " ", n, ": expected a non-negative split size");
    total += n;
  }
  PHYSML_CHECK(total > 0, "-ntrain / -ntest / -nvalid are all 0: expected at least one sample");
  PHYSML_CHECK(o.seed() >= 0, "-seed ", o.seed(), " must be non-negative");
  PHYSML_CHECK(o.snapshot_count() >= 0, "-snapshot_count ", o.snapshot_count(), " must be non-negative");
  PHYSML_CHECK(o.dtype() == "float32" || o.dtype() == "float64", "-dtype '", o.dtype(), "': expected float32 or float64");
  check_generator_options(g.options());
  const auto seed = static_cast<std::uint64_t>(o.seed());
  const int64_t unit = std::max<int64_t>(1, g.unit());

  io::DatasetInfo info;
  info.generator = g.name();
  info.parameters_json = g.parameters_json();
  const mesh::Grid grid = g.grid();
  info.grid_json = grid.to_json();
  info.seed = o.seed();
  for (const auto& [name, n] : splits)
    if (n > 0) info.split_sizes[name] = n;
  info.input_shape = {g.input_channels()};
  info.output_shape = {g.output_channels()};
  for (auto n : grid.shape()) {
    info.input_shape.push_back(n);
    info.output_shape.push_back(n);
  }
  info.dtype = o.dtype() == "float32" ? torch::kFloat : torch::kDouble;
  auto split_of = [&](int64_t gidx) {
    for (const auto& [name, n] : splits) {
      if (gidx < n) return std::make_pair(name, gidx);
      gidx -= n;
    }
    PHYSML_THROW("sample index ", gidx, " out of range");
  };

  // Rank 0 opens (or resumes) the file and tells everyone which work units are needed.
  std::unique_ptr<io::DatasetWriter> writer;
  const int64_t nunits = (total + unit - 1) / unit;
  std::vector<int> needed(static_cast<size_t>(nunits), 0);
  run_collectively(comm, [&] {
    if (rank != 0) return;
    const auto parent = std::filesystem::absolute(o.output()).parent_path();
    PHYSML_CHECK(std::filesystem::is_directory(parent), "output directory '", parent.string(), "' does not exist");
    PHYSML_CHECK(access(parent.c_str(), W_OK) == 0, "output directory '", parent.string(), "' is not writable");
    writer = std::make_unique<io::DatasetWriter>(io::DatasetWriter::open(o.output(), info));
    for (int64_t u = 0; u < nunits; ++u) {
      int need = 0;
      for (int64_t i = u * unit; i < std::min(total, (u + 1) * unit); ++i) {
        auto [sp, idx] = split_of(i);
        need = need || !writer->has_sample(sp, idx);
      }
      needed[static_cast<size_t>(u)] = need;
    }
  });
  MPI_Bcast(needed.data(), static_cast<int>(nunits), MPI_INT, 0, comm);
  std::vector<int64_t> todo;
  for (int64_t u = 0; u < nunits; ++u)
    if (needed[static_cast<size_t>(u)]) todo.push_back(u);
  int64_t missing_samples = 0;  // samples not in the file (a needed unit may hold some already)
  if (rank == 0)
    for (int64_t i = 0; i < total; ++i) {
      auto [sp, idx] = split_of(i);
      missing_samples += writer->has_sample(sp, idx) ? 0 : 1;
    }
  MPI_Bcast(&missing_samples, 1, MPI_INT64_T, 0, comm);

  GenerateResult result;
  result.total = total;
  int complete = rank == 0 && todo.empty() && writer->already_complete();
  MPI_Bcast(&complete, 1, MPI_INT, 0, comm);
  if (complete) {
    if (rank == 0) log_info("'", o.output(), "' is already complete (", total, " samples); nothing to do");
    mark_solver_options_used(g.options());
    result.status = GenerateResult::Status::already_complete;
    result.present = total;
    return result;
  }
  Timer run_timer;
  if (rank == 0)
    log_info("generating ", missing_samples, " of ", total, " ", g.name(), " samples into '", o.output(), "' on ", size,
             " rank(s)");

  std::unique_ptr<InterruptGuard> guard;
  if (o.handle_signals()) guard = std::make_unique<InterruptGuard>();
  std::unique_ptr<Progress> progress;
  if (rank == 0 && o.progress()) progress = std::make_unique<Progress>(g.name(), total, total - missing_samples);
  int64_t failures = 0, written = 0;
  std::string first_failure, fatal;
  int interrupted = 0;
  size_t next = 0;  // first work unit not yet computed
  // Rounds: in round k, rank r computes todo[k*size + r]; rank 0 collects and writes in order.
  bool computed = false;  // whether this rank solved anything (else its solver options stay unread)
  for (size_t base = 0; base < todo.size() && !interrupted; base = next) {
    next = base + static_cast<size_t>(size);
    std::vector<GeneratedSample> mine;
    const size_t my = base + static_cast<size_t>(rank);
    if (my < todo.size()) {
      computed = true;
      const int64_t u = todo[my], first = u * unit, count = std::min(total, first + unit) - first;
      // Any exception of the generator becomes failed samples: every rank must still send and
      // reach the collectives below (an escaping throw on one rank would leave the others blocked).
      try {
        mine = g.compute(seed, first, count);
        PHYSML_CHECK(static_cast<int64_t>(mine.size()) == count, "generator '", g.name(), "' returned ", mine.size(),
                     " samples for ", count, " requested");
      } catch (const std::exception& e) {
        mine.assign(static_cast<size_t>(count), GeneratedSample{});
        for (auto& x : mine) {
          x.ok = false;
          x.message = e.what();
        }
      }
      if (rank != 0)
        for (const auto& r : mine) send_result(r, 0, comm);
    }
    for (int src = 0; rank == 0 && src < size && base + static_cast<size_t>(src) < todo.size(); ++src) {
      const int64_t u = todo[base + static_cast<size_t>(src)], first = u * unit, count = std::min(total, first + unit) - first;
      for (int64_t i = 0; i < count; ++i) {
        GeneratedSample r = src == 0 ? mine[static_cast<size_t>(i)] : recv_result(info, src, comm);
        if (!fatal.empty()) continue;  // keep receiving this round's results, write nothing more
        const int64_t gidx = first + i;
        auto [sp, idx] = split_of(gidx);
        if (!r.ok) {
          ++failures;
          if (first_failure.empty()) first_failure = r.message;
          log_warning("sample ", sp, "[", idx, "] not written: ", r.message);
          continue;
        }
        if (writer->has_sample(sp, idx)) continue;
        try {
          const Timer write_timer;
          writer->write_sample(sp, idx, r.input, r.output);  // refuses NaN/Inf, naming the sample
          result.write_seconds += write_timer.seconds();
        } catch (const std::exception& e) {
          if (writer->write_failed()) {  // the file, not the sample: nothing more can be written
            fatal = detail::concat("cannot write '", o.output(), ".partial' (sample ", sp, "[", idx, "]): ", e.what());
            continue;
          }
          ++failures;
          if (first_failure.empty()) first_failure = e.what();
          log_warning("sample ", sp, "[", idx, "] not written: ", e.what());
          continue;
        }
        try {
          if (!o.snapshots().empty() && gidx < o.snapshot_count()) {
            std::filesystem::create_directories(o.snapshots());
            std::string stem = g.name();
            std::replace(stem.begin(), stem.end(), '-', '_');
            stem += "_" + std::to_string(gidx);
            write_snapshot(g, o.snapshots() + "/" + stem, g.name() + " sample " + std::to_string(gidx), r);
          }
        } catch (const std::exception& e) {
          fatal = detail::concat("snapshot of sample ", gidx, ": ", e.what());
        }
        if (progress) progress->advance(1);
        if (++written == o.test_interrupt_after()) std::raise(SIGINT);
      }
    }
    // A fatal error on rank 0 stops every rank after this round, with rank 0's message.
    if (!fatal.empty()) writer.reset();  // the partial file keeps every sample written so far
    run_collectively(comm, [&] { PHYSML_CHECK(fatal.empty(), fatal); });
    // Every rank stops after the same round once any rank has seen a signal.
    interrupted = InterruptGuard::signal();
    MPI_Allreduce(MPI_IN_PLACE, &interrupted, 1, MPI_INT, MPI_MAX, comm);
  }
  if (!computed) mark_solver_options_used(g.options());
  result.written = written;
  MPI_Bcast(&result.written, 1, MPI_INT64_T, 0, comm);
  if (interrupted && next < todo.size()) {  // (a signal during the last round changes nothing)
    int64_t missing = 0;
    if (rank == 0) {
      for (const auto& [name, n] : splits)
        if (n > 0) missing += writer->missing(name);
      writer.reset();  // closes the partial file, every written sample flushed
      log_warning("interrupted by signal ", interrupted, " after writing ", written, " sample(s) in this run; '",
                  o.output(), ".partial' holds ", total - missing, " of ", total,
                  " samples; rerun the same command to complete it");
    }
    MPI_Bcast(&missing, 1, MPI_INT64_T, 0, comm);
    result.status = GenerateResult::Status::interrupted;
    result.signal = interrupted;
    result.present = total - missing;
    return result;
  }
  run_collectively(comm, [&] {
    if (failures == 0) return;  // (counted on rank 0 only)
    writer.reset();
    PHYSML_THROW(failures, " sample(s) failed and were not written (first: ", first_failure, "); the partial file '",
                 o.output(), ".partial' keeps the others");
  });
  if (rank == 0) {
    writer->finish();
    if (progress) progress->finish();
    writer.reset();
    result.checksum = io::content_checksum(io::DatasetReader::open(o.output()));
    result.seconds = run_timer.seconds();
    log_info("wrote '", o.output(), "' (content checksum ", result.checksum, ") in ", result.seconds, " s; rank 0 spent ",
             result.write_seconds, " s of it writing samples");
  }
  result.present = total;
  return result;
}

}  // namespace physml::simulators
