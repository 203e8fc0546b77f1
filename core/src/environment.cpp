#include "physml/core/environment.hpp"

#include "physml/core/blas.hpp"
#include "physml/core/error.hpp"
#include "physml/core/random.hpp"

#include <petscsys.h>
#include <torch/torch.h>

#include <string>
#include <thread>

namespace physml {

int hardware_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

Environment::Environment(int& argc, char**& argv, const EnvironmentOptions& options) { start(&argc, &argv, options); }

Environment::Environment(const EnvironmentOptions& options) { start(nullptr, nullptr, options); }

void Environment::start(int* argc, char*** argv, const EnvironmentOptions& options) {
  int mpi_up = 0;
  MPI_Initialized(&mpi_up);
  if (!mpi_up) {
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
      PHYSML_THROW("Environment: MPI_Init_thread failed");
    owns_mpi_ = true;
  }
  PetscBool petsc_up = PETSC_FALSE;
  PetscInitialized(&petsc_up);
  if (!petsc_up) {
    PetscErrorCode ierr =
        argc ? PetscInitialize(argc, argv, nullptr, options.help.empty() ? nullptr : options.help.c_str())
             : PetscInitializeNoArguments();
    if (ierr) {
      // The usual cause is an options file PETSc cannot parse (PETSc printed its own stack):
      // name the files so the message says what to fix.
      std::string files;
      for (int i = 1; argc && i + 1 < *argc; ++i) {
        const std::string key = (*argv)[i];
        if (key == "-options_file_yaml" || key == "-options_file")
          files += std::string(files.empty() ? "" : ", ") + "'" + (*argv)[i + 1] + "' (" + key + ")";
      }
      stop();
      if (!files.empty())
        PHYSML_THROW("Environment: PETSc could not start (PetscInitialize error code ", ierr,
                     "): it could not read the options file ", files,
                     "; expected a readable PETSc options file (YAML for -options_file_yaml: 'key: value' lines, "
                     "nested keys for prefixes)");
      PHYSML_THROW("Environment: PetscInitialize failed with code ", ierr);
    }
    owns_petsc_ = true;
  }
  if (!options.petsc_traceback) pushed_handler_ = PetscPushErrorHandler(PetscReturnErrorHandler, nullptr) == 0;
  try {
    configure(options);
  } catch (...) {
    // A constructor that throws runs no destructor: undo what start() did so that a bad
    // option neither leaves our error handler pushed nor MPI/PETSc half started.
    stop();
    throw;
  }
}

void Environment::configure(const EnvironmentOptions& options) {
  PetscInt threads = options.threads;
  PetscBool set = PETSC_FALSE;
  PHYSML_PETSC(PetscOptionsGetInt(nullptr, nullptr, "-threads", &threads, &set));
  PHYSML_CHECK(threads >= 0, "Environment: -threads must be >= 0 (0 = all cores), got ", threads);
  // Before any GEMM: OpenBLAS's start-up dispatch may have fallen back to SSE3 kernels.
  use_best_openblas_kernels();
  physml::set_num_threads(threads == 0 ? hardware_threads() : static_cast<int>(threads));

  PetscInt seed = static_cast<PetscInt>(options.seed);
  PHYSML_PETSC(PetscOptionsGetInt(nullptr, nullptr, "-seed", &seed, &set));
  if (seed >= 0) seed_everything(static_cast<std::uint64_t>(seed));
}

Environment::~Environment() { stop(); }

void Environment::stop() {
  PetscBool petsc_up = PETSC_FALSE;
  PetscInitialized(&petsc_up);
  if (petsc_up && pushed_handler_) PetscPopErrorHandler();
  pushed_handler_ = false;
  if (owns_petsc_) {
    PetscBool finalized = PETSC_FALSE;
    PetscFinalized(&finalized);
    if (!finalized) PetscFinalize();
    owns_petsc_ = false;
  }
  if (owns_mpi_) {
    int done = 0;
    MPI_Finalized(&done);
    if (!done) MPI_Finalize();
    owns_mpi_ = false;
  }
}

MPI_Comm Environment::comm() const { return PETSC_COMM_WORLD; }

int Environment::rank() const {
  int r = 0;
  MPI_Comm_rank(PETSC_COMM_WORLD, &r);
  return r;
}

int Environment::size() const {
  int s = 1;
  MPI_Comm_size(PETSC_COMM_WORLD, &s);
  return s;
}

bool Environment::active() {
  PetscBool up = PETSC_FALSE;
  PetscInitialized(&up);
  return up == PETSC_TRUE;
}

}  // namespace physml
