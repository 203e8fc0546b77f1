// libFuzzer target: the linear-system readers of `physml solve -system FILE`. The first
// byte picks the format:
//   even: the remaining bytes are a PETSc binary file (Mat then Vec), read by
//         solvers::load_linear_system_petsc;
//   odd:  edits of a valid PhysML HDF5 linear-system file (hdf5_mutator.hpp), read by
//         solvers::load_linear_system_hdf5.
#include "fuzz_common.hpp"
#include "hdf5_mutator.hpp"

#include "physml/solvers/linear/system_io.hpp"

#include <filesystem>

namespace {

const std::string& base_hdf5() {
  static const std::string path = [] {
    const std::string p = physml::fuzz::scratch("base_system.h5");
    Mat A;
    Vec b;
    if (MatCreateSeqAIJ(PETSC_COMM_SELF, 3, 3, 3, nullptr, &A) != 0) std::abort();
    for (PetscInt i = 0; i < 3; ++i) {
      MatSetValue(A, i, i, 2.0, INSERT_VALUES);
      if (i > 0) MatSetValue(A, i, i - 1, -1.0, INSERT_VALUES);
      if (i < 2) MatSetValue(A, i, i + 1, -1.0, INSERT_VALUES);
    }
    MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY);
    MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY);
    MatCreateVecs(A, nullptr, &b);
    VecSet(b, 1.0);
    physml::solvers::save_linear_system_hdf5(p, A, b);
    MatDestroy(&A);
    VecDestroy(&b);
    return p;
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  physml::fuzz::start_petsc();
  base_hdf5();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  if ((data[0] & 1) == 0) {
    const std::string path = physml::fuzz::scratch("system.petsc");
    physml::fuzz::write_bytes(path, data + 1, size - 1);
    physml::fuzz::expect_physml_errors_only("fuzz_linear_system (petsc)", [&] {
      auto system = physml::solvers::load_linear_system_petsc(path);
      system.destroy();
    });
    return 0;
  }
  FuzzedDataProvider p(data + 1, size - 1);
  const std::string path = physml::fuzz::scratch("case_system.h5");
  std::filesystem::copy_file(base_hdf5(), path, std::filesystem::copy_options::overwrite_existing);
  physml::fuzz::Vocabulary v;
  v.objects = {"A/row_ptr", "A/col_idx", "A/values", "b", "A"};
  v.keys = {"format", "rows", "cols"};
  v.strings.push_back("physml.linear_system");
  physml::fuzz::expect_physml_errors_only("fuzz_linear_system (hdf5 editing)", [&] {
    auto f = physml::io::H5File::open(path, physml::io::H5File::Mode::read_write);
    physml::fuzz::mutate(f, p, v);
  });
  physml::fuzz::expect_physml_errors_only("fuzz_linear_system (hdf5)", [&] {
    auto system = physml::solvers::load_linear_system_hdf5(path);
    system.destroy();
  });
  return 0;
}
