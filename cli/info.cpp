// `physml info`: versions of PhysML and every dependency, threads, ranks, model types;
// `physml info FILE...`: what a PhysML HDF5 file holds, after reading every stored tensor.
#include "command.hpp"

#include "physml/core/error.hpp"
#include "physml/io/checkpoint.hpp"
#include "physml/io/dataset.hpp"
#include "physml/io/hdf5.hpp"

#include "physml/core/blas.hpp"
#include "physml/core/environment.hpp"
#include "physml/core/version.hpp"
#include "physml/io/versions.hpp"
#include "physml/operators/registry.hpp"

#include <petscsys.h>
#include <torch/torch.h>
#include <torch/version.h>
#include <Eigen/Core>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <variant>

namespace {

namespace io = physml::io;

std::string attribute_text(const io::H5File& f, const std::string& key) {
  const auto a = f.find_attribute("/", key);
  if (!a) return "(none)";
  if (const auto* s = std::get_if<std::string>(&*a)) return *s;
  if (const auto* i = std::get_if<std::int64_t>(&*a)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&*a)) return std::to_string(*d);
  return "(list)";
}

/// Every dataset under `group`, read in full (a damaged file fails here, naming the object).
void list_tensors(const io::H5File& f, const std::string& group, std::int64_t& count) {
  for (const auto& name : f.list(group)) {
    const std::string path = group == "/" ? name : group + "/" + name;
    bool is_group = false;
    try {
      f.shape(path);
    } catch (const physml::Error&) {
      is_group = true;
    }
    if (is_group) {
      list_tensors(f, path, count);
      continue;
    }
    const auto t = f.read(path).contiguous();
    // FNV-1a of the stored bytes: equal tensors of two files print the same hash.
    std::uint64_t h = 1469598103934665603ULL;
    const auto* p = static_cast<const unsigned char*>(t.data_ptr());
    for (std::size_t i = 0, n = static_cast<std::size_t>(t.numel()) * t.element_size(); i < n; ++i)
      h = (h ^ p[i]) * 1099511628211ULL;
    std::printf("  %-28s %-8s %-18s %016llx\n", path.c_str(), io::dtype_name(t.scalar_type()).c_str(),
                io::shape_string(t.sizes().vec()).c_str(), static_cast<unsigned long long>(h));
    ++count;
  }
}

/// `physml info FILE`: format, versions, every tensor (read in full), and per format what it holds.
void describe_file(const std::string& path) {
  PHYSML_CHECK(std::filesystem::exists(path), "file '", path, "' does not exist");
  const auto f = io::H5File::open(path);
  const std::string format = attribute_text(f, "format");
  std::printf("file        %s\nformat      %s (version %s, PhysML %s, created %s)\n", path.c_str(), format.c_str(),
              attribute_text(f, "format_version").c_str(), attribute_text(f, "physml_version").c_str(),
              attribute_text(f, "created").c_str());
  std::int64_t count = 0;
  list_tensors(f, "/", count);
  if (format == "physml.dataset") {
    bool complete = true;
    for (const auto& split : f.list("/"))
      if (f.exists(split + "/done")) {
        const auto done = f.read(split + "/done");
        const auto written = done.sum().item<std::int64_t>();
        complete = complete && written == done.numel();
        std::printf("split       %s: %lld of %lld samples written\n", split.c_str(), static_cast<long long>(written),
                    static_cast<long long>(done.numel()));
      }
    if (complete) std::printf("checksum    %s\n", io::content_checksum(io::DatasetReader::open(path)).c_str());
  } else if (format == "physml.checkpoint") {
    const auto info = io::read_checkpoint_info(path);
    const auto epoch = info.state.find("epoch");
    std::printf("model       %s%s%s\n", info.model_type.c_str(),
                epoch != info.state.end() && std::holds_alternative<std::int64_t>(epoch->second)
                    ? (", epoch " + std::to_string(std::get<std::int64_t>(epoch->second))).c_str()
                    : "",
                info.has_optimizer ? ", with optimizer state" : "");
  } else if (format == "physml.trajectory" && f.exists("frames/done")) {
    const auto done = f.read("frames/done");
    std::printf("frames      %lld of %lld written\n", static_cast<long long>(done.sum().item<std::int64_t>()),
                static_cast<long long>(done.numel()));
  }
  std::printf("tensors     %lld, all readable\n", static_cast<long long>(count));
}

int run_info(const std::vector<std::string>& args) {
  if (!args.empty()) {
    for (const auto& path : args) describe_file(path);
    return 0;
  }
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
                "physml info [-threads N]\nphysml info FILE.h5...\n\nPrints the versions of PhysML, LibTorch, PETSc, VTK, HDF5, FFTW, "
                "PLplot,\nEigen and MPI, the BLAS/LAPACK and oneDNN ISA in use, the torch thread count, the number of MPI ranks and the\nregistered "
                "model types. With files: the format of each PhysML HDF5 file (Dataset, Checkpoint, Trajectory,\n"
                "linear system, also a .partial file), every tensor in it (each read in full, so a damaged file\n"
                "fails naming what is wrong), the samples or frames written, a Dataset's content checksum and a\n"
                "Checkpoint's model type and epoch.",
                run_info});

}  // namespace
