// Writing one distributed linear system to one HDF5 file (docs/parallel.md, "One file from
// several ranks"): every rank writes its own rows at once (save_linear_system_hdf5, parallel
// HDF5 through MPI-IO) against funnelling the system to rank 0 (MatCreateSubMatrices with every
// row on rank 0 and none elsewhere, VecScatterCreateToZero) and writing it there with one process. Prints a table.
// usage: [mpirun -n R] bench_system_write SYSTEM.h5 [-repeats 3] [-output_dir .]
//   SYSTEM.h5 from build/tests/cli/physml_bad_input_fixtures poisson2d p1024.h5 1024
#include "physml/core/environment.hpp"
#include "physml/core/error.hpp"
#include "physml/core/options.hpp"
#include "physml/solvers/linear/system_io.hpp"

#include <petscmat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace {

double now() { return MPI_Wtime(); }

/// Funnel: the whole system gathered to rank 0 only (a sequential copy there, nothing on the
/// other ranks), written there.
void funnel_save(const std::string& path, Mat A, Vec b) {
  int rank = 0;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  PetscInt n;
  PHYSML_PETSC(MatGetSize(A, &n, nullptr));
  IS all;  // every row and column on rank 0, none elsewhere
  PHYSML_PETSC(ISCreateStride(PETSC_COMM_SELF, rank == 0 ? n : 0, 0, 1, &all));
  Mat* parts = nullptr;
  PHYSML_PETSC(MatCreateSubMatrices(A, 1, &all, &all, MAT_INITIAL_MATRIX, &parts));
  Mat whole = parts[0];
  VecScatter s;
  Vec b0;
  PHYSML_PETSC(VecScatterCreateToZero(b, &s, &b0));
  PHYSML_PETSC(VecScatterBegin(s, b, b0, INSERT_VALUES, SCATTER_FORWARD));
  PHYSML_PETSC(VecScatterEnd(s, b, b0, INSERT_VALUES, SCATTER_FORWARD));
  if (rank == 0) {
    Vec bs;  // b0 on rank 0 as a sequential Vec for the one-rank writer
    PetscInt n;
    PHYSML_PETSC(VecGetSize(b0, &n));
    const PetscScalar* a;
    PHYSML_PETSC(VecGetArrayRead(b0, &a));
    PHYSML_PETSC(VecCreateSeqWithArray(PETSC_COMM_SELF, 1, n, a, &bs));
    physml::solvers::save_linear_system_hdf5(path, whole, bs);
    VecDestroy(&bs);
    PHYSML_PETSC(VecRestoreArrayRead(b0, &a));
  }
  MPI_Barrier(PETSC_COMM_WORLD);
  VecScatterDestroy(&s);
  VecDestroy(&b0);
  MatDestroyMatrices(1, &parts);
  ISDestroy(&all);
}

}  // namespace

int main(int argc, char** argv) {
  physml::Environment env(argc, argv);
  try {
    PHYSML_CHECK(argc >= 2 && argv[1][0] != '-', "usage: bench_system_write SYSTEM.h5 [-repeats 3] [-output_dir DIR]");
    const std::string input = argv[1];
    PetscInt repeats = 3;
    char dir_buf[PETSC_MAX_PATH_LEN] = ".";
    PetscBool set = PETSC_FALSE;
    PHYSML_PETSC(PetscOptionsGetInt(nullptr, nullptr, "-repeats", &repeats, nullptr));
    PHYSML_PETSC(PetscOptionsGetString(nullptr, nullptr, "-output_dir", dir_buf, sizeof dir_buf, &set));
    const std::filesystem::path dir = dir_buf;
    int rank = 0, size = 1;
    MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
    MPI_Comm_size(PETSC_COMM_WORLD, &size);
    auto s = physml::solvers::load_linear_system(input);
    PetscInt n;
    MatInfo info;
    PHYSML_PETSC(MatGetSize(s.A, &n, nullptr));
    PHYSML_PETSC(MatGetInfo(s.A, MAT_GLOBAL_SUM, &info));
    const double mbytes = (8.0 * (n + 1) + 16.0 * info.nz_used + 8.0 * n) / 1e6;
    std::vector<double> par, fun;
    for (PetscInt r = 0; r < repeats; ++r) {
      MPI_Barrier(PETSC_COMM_WORLD);
      double t = now();
      physml::solvers::save_linear_system_hdf5((dir / "parallel.h5").string(), s.A, s.b);
      MPI_Barrier(PETSC_COMM_WORLD);
      par.push_back(now() - t);
      t = now();
      funnel_save((dir / "funnel.h5").string(), s.A, s.b);
      fun.push_back(now() - t);
    }
    if (rank == 0) {
      std::sort(par.begin(), par.end());
      std::sort(fun.begin(), fun.end());
      std::printf("| ranks | unknowns | nonzeros | MB | parallel write s (min / median) | funnel to rank 0 s (min / median) | funnel / parallel (min) |\n");
      std::printf("|---|---|---|---|---|---|---|\n");
      const double p = par[par.size() / 2], f = fun[fun.size() / 2];
      std::printf("| %d | %d | %.0f | %.1f | %.3f / %.3f | %.3f / %.3f | %.2f |\n", size, static_cast<int>(n), info.nz_used,
                  mbytes, par[0], p, fun[0], f, fun[0] / par[0]);
      std::printf("all parallel:");
      for (double v : par) std::printf(" %.3f", v);
      std::printf("\nall funnel:  ");
      for (double v : fun) std::printf(" %.3f", v);
      std::printf("\n");
    }
    s.destroy();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_system_write: %s\n", e.what());
    return 1;
  }
  return 0;
}
