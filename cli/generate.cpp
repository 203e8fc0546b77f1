// `physml generate <pde>`: builds the named DataGenerator and the GenerateOptions from the
// options database and runs simulators::generate_dataset (data_generator.hpp,
// generate_dataset.hpp), which owns the MPI split, resume, interruption and snapshots.
#include "command.hpp"

#include "physml/core/error.hpp"
#include "physml/core/options.hpp"
#include "physml/simulators/data_generator.hpp"
#include "physml/simulators/generate_dataset.hpp"

namespace {

namespace sim = physml::simulators;

std::string generator_list(const char* sep) {
  std::string s;
  for (const auto& n : sim::registered_generators()) s += (s.empty() ? "" : sep) + n;
  return s;
}

const char* kUsage =
    "physml generate darcy|poisson|helmholtz|burgers|navier-stokes -output FILE.h5 [options]\n\n"
    "Generates a benchmark data set (Kovachki, Li et al., \"Neural Operator\", JMLR 2023, sections\n"
    "6.2-6.4; Helmholtz: de Hoop, Huang, Qian, Stuart 2022; docs/results-pde-data.md) as a PhysML\n"
    "Dataset file with splits 'train', 'test' and (with -nvalid) 'valid'. Sample i is drawn from seed derive_seed(seed, i),\n"
    "i counting train, then test, then valid samples, so the file does not depend on the number of MPI\n"
    "ranks (mpirun -n N physml generate ...) and adding a valid split leaves train and test unchanged.\n"
    "Ctrl-C (SIGINT) or SIGTERM finishes the sample in flight, keeps FILE.h5.partial and exits with\n"
    "128 + signal; rerunning the same command completes the missing samples. A sample whose solve\n"
    "fails is reported and not written.\n\n"
    "'physml generate PDE -help' lists every option of the data set and of that PDE's generator with\n"
    "its default and meaning. Common options:\n"
    "  -output FILE.h5      output file (required)\n"
    "  -ntrain N, -ntest M, -nvalid V  split sizes (default 32 / 8 / 0)\n"
    "  -seed S              master seed (default 0)\n"
    "  -dtype float32|float64  storage type (default float32)\n"
    "  -snapshots DIR       write PNG pictures and VTK files (.vti; .pvd time series for navier-stokes)\n"
    "                       of the first -snapshot_count (3) samples\n\n"
    "Each PDE reads its keys under its own prefix: -darcy_*, -poisson_*, -helmholtz_*, -burgers_*,\n"
    "-navier_stokes_* (e.g. -darcy_resolution 85, -darcy_preset rough); the PETSc solvers of the\n"
    "elliptic problems take -<prefix>ksp_* / -<prefix>pc_* (e.g. -darcy_pc_type hypre).";

int run_generate(const std::vector<std::string>& args) {
  PHYSML_CHECK(args.size() == 1, "expected one PDE name (", generator_list(", "), "), got ", args.size(),
               " positional arguments");
  auto generator = sim::create_generator(args[0]);
  const physml::Options opt;
  generator->set_from_options(opt.sub(generator->default_prefix()));
  const auto options = sim::GenerateOptions().set_from_options(opt);
  if (opt.has("help")) return 0;
  // Every option is read by now except the generator's PETSc solver keys (-darcy_ksp_*, read at
  // the first solve; generate_dataset checks the rest of its prefix): a misspelled -ntrian is
  // an error before any sample is computed or any file written, not after the whole run.
  const std::string prefix = "-" + generator->default_prefix();
  for (const auto& o : physml::unused_options(opt.database())) {
    const std::string name = o.substr(0, o.find(' '));
    PHYSML_CHECK(name.rfind(prefix, 0) == 0, "unknown option ", name,
                 " (misspelled? 'physml generate PDE -help' lists the options)");
  }
  const auto result = sim::generate_dataset(*generator, options);
  return result.status == sim::GenerateResult::Status::interrupted ? 128 + result.signal : 0;
}

PHYSML_COMMAND({"generate", "generate a benchmark PDE data set (darcy, poisson, helmholtz, burgers, navier-stokes) as HDF5",
                kUsage, run_generate});

}  // namespace
