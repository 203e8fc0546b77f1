// solvers::run_solve and its reports: iterations and history of a known system, CSV and PNG.
#include "physml/solvers/linear/solve_report.hpp"
#include "test_util.hpp"

#include <petscksp.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace {

/// The 1-D Dirichlet Laplacian tridiag(-1, 2, -1) of size n. With b = ones (symmetric under
/// i -> n-1-i) the Krylov space holds only the n/2 symmetric eigenvectors, so CG ends in n/2
/// steps in exact arithmetic.
Mat laplacian(PetscInt n) {
  Mat A;
  PHYSML_PETSC(MatCreateSeqAIJ(PETSC_COMM_SELF, n, n, 3, nullptr, &A));
  for (PetscInt i = 0; i < n; ++i) {
    if (i > 0) PHYSML_PETSC(MatSetValue(A, i, i - 1, -1.0, INSERT_VALUES));
    PHYSML_PETSC(MatSetValue(A, i, i, 2.0, INSERT_VALUES));
    if (i + 1 < n) PHYSML_PETSC(MatSetValue(A, i, i + 1, -1.0, INSERT_VALUES));
  }
  PHYSML_PETSC(MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY));
  PHYSML_PETSC(MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY));
  return A;
}

}  // namespace

TEST(SolveReport, RecordsIterationsHistoryAndWritesCsv) {
  const auto dir = physml::test::scratch_dir();
  const PetscInt n = 20;
  Mat A = laplacian(n);
  Vec b, x;
  PHYSML_PETSC(MatCreateVecs(A, &x, &b));
  PHYSML_PETSC(VecSet(b, 1.0));
  PHYSML_PETSC(PetscOptionsSetValue(nullptr, "-sr_cg_ksp_type", "cg"));
  PHYSML_PETSC(PetscOptionsSetValue(nullptr, "-sr_cg_pc_type", "none"));
  PHYSML_PETSC(PetscOptionsSetValue(nullptr, "-sr_cg_ksp_rtol", "1e-10"));
  PHYSML_PETSC(PetscOptionsSetValue(nullptr, "-sr_its_ksp_type", "richardson"));
  PHYSML_PETSC(PetscOptionsSetValue(nullptr, "-sr_its_pc_type", "jacobi"));
  PHYSML_PETSC(PetscOptionsSetValue(nullptr, "-sr_its_ksp_max_it", "5"));
  const auto cg = physml::solvers::run_solve(A, b, x, "sr_cg_");
  EXPECT_TRUE(cg.converged());
  EXPECT_EQ(cg.label, "sr_cg");
  EXPECT_EQ(cg.ksp_type, "cg");
  EXPECT_EQ(cg.pc_type, "none");
  EXPECT_EQ(cg.iterations, n / 2);  // b = ones is symmetric: CG ends in n/2 steps
  ASSERT_EQ(cg.history.size(), static_cast<size_t>(cg.iterations + 1));
  EXPECT_NEAR(cg.history[0], std::sqrt(static_cast<double>(n)), 1e-12);  // |b| with x0 = 0
  EXPECT_LT(cg.history.back() / cg.history[0], 1e-10);
  const auto rich = physml::solvers::run_solve(A, b, x, "sr_its_");
  EXPECT_FALSE(rich.converged());  // reported, not thrown
  EXPECT_EQ(rich.reason, KSP_DIVERGED_ITS);
  EXPECT_EQ(rich.iterations, 5);
  const auto csv = (dir / "h.csv").string();
  physml::solvers::write_history_csv(csv, {cg, rich});
  std::ifstream in(csv);
  std::string line;
  int lines = 0;
  std::getline(in, line);
  EXPECT_EQ(line, "solver,iteration,residual,relative_residual");
  while (std::getline(in, line)) ++lines;
  EXPECT_EQ(lines, static_cast<int>(cg.history.size() + rich.history.size()));
  physml::solvers::write_history_png((dir / "h.png").string(), {cg, rich});
  EXPECT_GT(std::filesystem::file_size(dir / "h.png"), 1000u);
  EXPECT_THROW_MSG(physml::solvers::write_history_csv((dir / "no" / "h.csv").string(), {cg}), "does not exist");
  VecDestroy(&x);
  VecDestroy(&b);
  MatDestroy(&A);
}
