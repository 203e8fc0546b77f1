// Linear systems on disk (solvers/linear/system_io.hpp): the HDF5 CSR path gives the same
// matrix, right-hand side and solution as the PETSc binary path; malformed files fail clearly.
#include "dcdm_test_problems.hpp"
#include "physml/io/hdf5.hpp"
#include "physml/solvers/linear/system_io.hpp"
#include "test_util.hpp"

#include <petscksp.h>
#include <torch/torch.h>

#include <fstream>

using namespace physml;
using namespace physml::solvers;

namespace {

// A 2D 12 x 10 Poisson system with a solid block (decoupled identity rows).
LinearSystem make_system() {
  LinearSystem s;
  s.A = test::poisson_matrix({12, 10}, [](PetscInt i, PetscInt j, PetscInt) { return i >= 4 && i < 7 && j >= 3 && j < 6; });
  s.b = test::random_vec(120, 7);
  return s;
}

void write_petsc_binary(const std::string& path, Mat A, Vec b) {
  PetscViewer v;
  PHYSML_PETSC(PetscViewerBinaryOpen(PETSC_COMM_SELF, path.c_str(), FILE_MODE_WRITE, &v));
  PHYSML_PETSC(MatView(A, v));
  PHYSML_PETSC(VecView(b, v));
  PHYSML_PETSC(PetscViewerDestroy(&v));
}

// x = A⁻¹ b by CG to a tight tolerance.
Vec solve(const LinearSystem& s) {
  KSP ksp;
  Vec x;
  PHYSML_PETSC(VecDuplicate(s.b, &x));
  PHYSML_PETSC(KSPCreate(PETSC_COMM_SELF, &ksp));
  PHYSML_PETSC(KSPSetOperators(ksp, s.A, s.A));
  PHYSML_PETSC(KSPSetType(ksp, KSPCG));
  PHYSML_PETSC(KSPSetTolerances(ksp, 1e-13, 1e-50, PETSC_DEFAULT, 2000));
  PHYSML_PETSC(KSPSolve(ksp, s.b, x));
  KSPConvergedReason reason;
  PHYSML_PETSC(KSPGetConvergedReason(ksp, &reason));
  EXPECT_GT(reason, 0);
  KSPDestroy(&ksp);
  return x;
}

// A hand-written CSR file (as h5py would write it): [[2, -1], [-1, 2]] unless modified.
void write_csr(const std::string& path, std::vector<int64_t> row_ptr, std::vector<int64_t> col, std::vector<double> val,
               std::vector<double> b, int64_t rows, int64_t cols) {
  auto f = io::H5File::create(path);
  f.set_attribute("/", "rows", rows);
  f.set_attribute("/", "cols", cols);
  f.write("A/row_ptr", torch::tensor(row_ptr, torch::kLong));
  f.write("A/col_idx", torch::tensor(col, torch::kLong));
  f.write("A/values", torch::tensor(val, torch::kDouble));
  f.write("b", torch::tensor(b, torch::kDouble));
  f.commit();
}

}  // namespace

TEST(DCDMSystemIO, HDF5AndPetscBinaryGiveTheSameSystemAndSolution) {
  const auto dir = test::scratch_dir();
  LinearSystem s = make_system();
  const std::string bin = (dir / "system.bin").string(), h5 = (dir / "system.h5").string();
  write_petsc_binary(bin, s.A, s.b);
  save_linear_system_hdf5(h5, s.A, s.b);
  EXPECT_TRUE(is_hdf5_file(h5));
  EXPECT_FALSE(is_hdf5_file(bin));

  LinearSystem from_bin = load_linear_system(bin), from_h5 = load_linear_system(h5);
  PetscBool same;
  PHYSML_PETSC(MatEqual(from_bin.A, from_h5.A, &same));
  EXPECT_TRUE(same);
  PHYSML_PETSC(MatEqual(s.A, from_h5.A, &same));
  EXPECT_TRUE(same);
  PHYSML_PETSC(VecEqual(from_bin.b, from_h5.b, &same));
  EXPECT_TRUE(same);

  Vec x_bin = solve(from_bin), x_h5 = solve(from_h5);
  // Same matrix, same b, same deterministic CG: the solutions agree to rounding, and solve A x = b.
  PHYSML_PETSC(VecAXPY(x_bin, -1.0, x_h5));
  PetscReal diff, xn;
  PHYSML_PETSC(VecNorm(x_bin, NORM_2, &diff));
  PHYSML_PETSC(VecNorm(x_h5, NORM_2, &xn));
  EXPECT_LT(diff, 1e-14 * xn);
  Vec r;
  PHYSML_PETSC(VecDuplicate(x_h5, &r));
  PHYSML_PETSC(MatMult(s.A, x_h5, r));
  PHYSML_PETSC(VecAXPY(r, -1.0, s.b));
  PetscReal rn, bn;
  PHYSML_PETSC(VecNorm(r, NORM_2, &rn));
  PHYSML_PETSC(VecNorm(s.b, NORM_2, &bn));
  EXPECT_LT(rn, 1e-11 * bn);
  VecDestroy(&r);
  VecDestroy(&x_bin);
  VecDestroy(&x_h5);
  from_bin.destroy();
  from_h5.destroy();
  s.destroy();
}

TEST(DCDMSystemIO, HandWrittenCSRIsReadAsWritten) {
  const auto dir = test::scratch_dir();
  const std::string p = (dir / "hand.h5").string();
  // [[4, -1, 0], [-1, 4, -1], [0, -1, 4]], b = [1, 2, 3]; no format attributes (h5py style).
  write_csr(p, {0, 2, 5, 7}, {0, 1, 0, 1, 2, 1, 2}, {4, -1, -1, 4, -1, -1, 4}, {1, 2, 3}, 3, 3);
  LinearSystem s = load_linear_system(p);
  PetscInt m, n;
  PHYSML_PETSC(MatGetSize(s.A, &m, &n));
  EXPECT_EQ(m, 3);
  EXPECT_EQ(n, 3);
  PetscScalar v;
  PetscInt r = 1, c = 2;
  PHYSML_PETSC(MatGetValues(s.A, 1, &r, 1, &c, &v));
  EXPECT_EQ(v, -1.0);
  r = 2;
  PHYSML_PETSC(MatGetValues(s.A, 1, &r, 1, &c, &v));
  EXPECT_EQ(v, 4.0);
  c = 0;
  PHYSML_PETSC(MatGetValues(s.A, 1, &r, 1, &c, &v));
  EXPECT_EQ(v, 0.0);
  PHYSML_PETSC(VecGetValues(s.b, 1, &r, &v));
  EXPECT_EQ(v, 3.0);
  s.destroy();
}

TEST(DCDMSystemIO, MalformedFilesGiveClearErrors) {
  const auto dir = test::scratch_dir();
  auto path = [&](const char* name) { return (dir / name).string(); };
  EXPECT_THROW_MSG(load_linear_system(path("missing.h5")), "does not exist");

  write_csr(path("nonsquare.h5"), {0, 1, 2}, {0, 2}, {1, 1}, {1, 1}, 2, 3);
  EXPECT_THROW_MSG(load_linear_system(path("nonsquare.h5")), "non-square matrix (2 x 3)");

  write_csr(path("short_rowptr.h5"), {0, 2}, {0, 1}, {1, 1}, {1, 1}, 2, 2);
  EXPECT_THROW_MSG(load_linear_system(path("short_rowptr.h5")), "A/row_ptr");

  write_csr(path("decreasing.h5"), {0, 2, 1}, {0, 1}, {1, 1}, {1, 1}, 2, 2);
  EXPECT_THROW_MSG(load_linear_system(path("decreasing.h5")), "row_ptr decreases at row 1");

  write_csr(path("nnz.h5"), {0, 1, 3}, {0, 1}, {1, 1}, {1, 1}, 2, 2);
  EXPECT_THROW_MSG(load_linear_system(path("nnz.h5")), "A/col_idx has 2 entries");

  write_csr(path("column.h5"), {0, 1, 2}, {0, 5}, {1, 1}, {1, 1}, 2, 2);
  EXPECT_THROW_MSG(load_linear_system(path("column.h5")), "expected 0 <= column < 2");

  write_csr(path("b.h5"), {0, 1, 2}, {0, 1}, {1, 1}, {1, 1, 1}, 2, 2);
  EXPECT_THROW_MSG(load_linear_system(path("b.h5")), "'b'");

  write_csr(path("nan.h5"), {0, 1, 2}, {0, 1}, {1, std::nan("")}, {1, 1}, 2, 2);
  EXPECT_THROW_MSG(load_linear_system(path("nan.h5")), "A/values contains NaN");

  {
    auto f = io::H5File::create(path("novalues.h5"));
    f.set_attribute("/", "rows", int64_t{2});
    f.set_attribute("/", "cols", int64_t{2});
    f.write("A/row_ptr", torch::tensor({0, 1, 2}, torch::kLong));
    f.write("A/col_idx", torch::tensor({0, 1}, torch::kLong));
    f.write("b", torch::tensor({1.0, 1.0}, torch::kDouble));
    f.commit();
  }
  EXPECT_THROW_MSG(load_linear_system(path("novalues.h5")), "no dataset '/A/values'");

  {
    std::ofstream junk(path("junk.bin"), std::ios::binary);
    junk << "this is not a linear system";
  }
  EXPECT_THROW_MSG(load_linear_system(path("junk.bin")), "neither a PhysML HDF5 linear system nor a PETSc binary");
}
