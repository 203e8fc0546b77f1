// `physml info`: versions of PhysML and every dependency, threads, ranks, model types.
#include "command.hpp"

#include "physml/core/blas.hpp"
#include "physml/core/environment.hpp"
#include "physml/core/version.hpp"
#include "physml/io/versions.hpp"
#include "physml/operators/registry.hpp"

#include <petscsys.h>
#include <torch/torch.h>
#include <torch/version.h>
#include <Eigen/Core>

#include <cstdio>

namespace {

int run_info(const std::vector<std::string>& args) {
  int rank = 0, size = 1;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  if (rank != 0) return 0;
  char petsc[256];
  PetscGetVersion(petsc, sizeof petsc);
  char mpi[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(mpi, &len);
  std::string mpi_line(mpi, static_cast<size_t>(len));
  if (auto nl = mpi_line.find_first_of("\n,"); nl != std::string::npos) mpi_line.resize(nl);
  auto deps = physml::io::dependency_versions();
  std::printf("PhysML      %s\n", PHYSML_VERSION_STRING);
  std::printf("LibTorch    %s\n", TORCH_VERSION);
  std::printf("PETSc       %s (PetscScalar %zu bytes, PetscInt %zu bytes)\n", petsc, sizeof(PetscScalar),
              sizeof(PetscInt));
  std::printf("VTK         %s\n", deps.vtk.c_str());
  std::printf("HDF5        %s%s\n", deps.hdf5.c_str(), deps.hdf5_parallel ? " (parallel)" : "");
  std::printf("FFTW        %s\n", deps.fftw.c_str());
  std::printf("PLplot      %s\n", deps.plplot.c_str());
  std::printf("Eigen       %d.%d.%d\n", EIGEN_WORLD_VERSION, EIGEN_MAJOR_VERSION, EIGEN_MINOR_VERSION);
  std::printf("MPI         %s\n", mpi_line.c_str());
  const auto blas = physml::blas_info();
  std::printf("BLAS        %s", blas.name.c_str());
  if (!blas.core.empty()) std::printf(", %s kernels%s", blas.core.c_str(), blas.retargeted ? " (chosen by PhysML)" : "");
  if (blas.threads > 0) std::printf(", %d threads", blas.threads);
  std::printf(" (%s)\n", blas.library.c_str());
  if (!blas.config.empty()) std::printf("            %s\n", blas.config.c_str());
  std::printf("LAPACK      %s\n", blas.lapack.empty() ? "(none)" : blas.lapack.c_str());
  const auto dnnl = physml::onednn_info();
  if (dnnl.version.empty()) std::printf("oneDNN      (not loaded)\n");
  else std::printf("oneDNN      %s, ISA %s, %s\n", dnnl.version.c_str(), dnnl.isa.c_str(), dnnl.runtime.c_str());
  std::printf("ATen ISA    %s\n", physml::aten_cpu_capability().c_str());
  std::printf("threads     %d (torch intra-op and BLAS; -threads N to change)\n", torch::get_num_threads());
  std::printf("MPI ranks   %d\n", size);
  std::printf("devices     cpu%s\n", torch::cuda::is_available() ? ", cuda" : "");
  std::string models;
  for (const auto& m : physml::operators::registered_models()) models += (models.empty() ? "" : ", ") + m;
  std::printf("models      %s\n", models.empty() ? "(none registered)" : models.c_str());
  return 0;
}

PHYSML_COMMAND({"info", "print versions of PhysML and its dependencies, threads, ranks and model types",
                "physml info [-threads N]\n\nPrints the versions of PhysML, LibTorch, PETSc, VTK, HDF5, FFTW, "
                "PLplot,\nEigen and MPI, the BLAS/LAPACK and oneDNN ISA in use, the torch thread count, the number of MPI ranks and the\nregistered "
                "model types.",
                run_info});

}  // namespace
