// `physml solve`: solve a linear system from a PETSc binary file with any PETSc or DCDM
// solver, configured entirely by PETSc options; prints iterations, setup and solve
// times and the residual history.
#include "command.hpp"

#include "physml/core/error.hpp"
#include "physml/core/log.hpp"
#include "physml/core/options.hpp"
#include "physml/solvers/linear/dcdm.hpp"

#include <petscksp.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace {

int run_solve(const std::vector<std::string>& args) {
  PHYSML_CHECK(args.size() == 1, "physml solve: expected one system file (PETSc binary with a Mat then a Vec), got ",
               args.size(), " arguments");
  const std::string path = args[0];
  PHYSML_CHECK(std::filesystem::exists(path), "physml solve: system file '", path, "' does not exist");
  physml::Options o;
  const std::string history_csv = o.get_string("history", "");
  const bool quiet = o.get_bool("quiet", false);
  physml::solvers::register_petsc_types();

  PetscViewer viewer;
  Mat A;
  Vec b, x;
  PHYSML_PETSC(PetscViewerBinaryOpen(PETSC_COMM_WORLD, path.c_str(), FILE_MODE_READ, &viewer));
  PHYSML_PETSC(MatCreate(PETSC_COMM_WORLD, &A));
  PHYSML_PETSC(MatSetFromOptions(A));
  PHYSML_PETSC(MatLoad(A, viewer));
  PHYSML_PETSC(VecCreate(PETSC_COMM_WORLD, &b));
  PetscErrorCode ierr = VecLoad(b, viewer);
  PHYSML_CHECK(ierr == 0, "physml solve: '", path, "' has no right-hand side Vec after the Mat");
  PHYSML_PETSC(PetscViewerDestroy(&viewer));
  PHYSML_PETSC(VecDuplicate(b, &x));

  KSP ksp;
  PHYSML_PETSC(KSPCreate(PETSC_COMM_WORLD, &ksp));
  PHYSML_PETSC(KSPSetOperators(ksp, A, A));
  PHYSML_PETSC(KSPSetResidualHistory(ksp, nullptr, PETSC_DECIDE, PETSC_TRUE));
  PHYSML_PETSC(KSPSetNormType(ksp, KSP_NORM_UNPRECONDITIONED));
  PHYSML_PETSC(KSPSetFromOptions(ksp));
  physml::Timer t;
  PHYSML_PETSC(KSPSetUp(ksp));
  const double setup = t.seconds();
  t.reset();
  PHYSML_PETSC(KSPSolve(ksp, b, x));
  const double solve = t.seconds();
  PetscInt its;
  KSPConvergedReason reason;
  KSPType type;
  PC pc;
  PCType pctype;
  PHYSML_PETSC(KSPGetIterationNumber(ksp, &its));
  PHYSML_PETSC(KSPGetConvergedReason(ksp, &reason));
  PHYSML_PETSC(KSPGetType(ksp, &type));
  PHYSML_PETSC(KSPGetPC(ksp, &pc));
  PHYSML_PETSC(PCGetType(pc, &pctype));
  const PetscReal* hist;
  PetscInt nh;
  PHYSML_PETSC(KSPGetResidualHistory(ksp, &hist, &nh));
  PetscInt n;
  PHYSML_PETSC(MatGetSize(A, &n, nullptr));
  std::printf("system      %s (%ld unknowns)\n", path.c_str(), static_cast<long>(n));
  std::printf("solver      %s + %s\n", type, pctype ? pctype : "none");
  std::printf("iterations  %ld (%s)\n", static_cast<long>(its), KSPConvergedReasons[reason]);
  std::printf("setup       %.4f s\nsolve       %.4f s\n", setup, solve);
  if (!quiet) {
    std::printf("residual history (|r_k| / |r_0|):\n");
    for (PetscInt i = 0; i < nh; ++i) std::printf("  %4ld  %.6e\n", static_cast<long>(i), hist[i] / hist[0]);
  }
  if (!history_csv.empty()) {
    std::ofstream f(history_csv);
    PHYSML_CHECK(f.good(), "physml solve: cannot write '", history_csv, "'");
    f << "iteration,residual,relative_residual\n";
    for (PetscInt i = 0; i < nh; ++i) f << i << ',' << hist[i] << ',' << hist[i] / hist[0] << '\n';
  }
  KSPDestroy(&ksp);
  VecDestroy(&x);
  VecDestroy(&b);
  MatDestroy(&A);
  return reason > 0 ? 0 : 2;
}

PHYSML_COMMAND({"solve", "solve a linear system (PETSc binary) with any PETSc or DCDM solver",
                "physml solve SYSTEM.bin [-history out.csv] [-quiet] [PETSc KSP/PC options]\n\n"
                "SYSTEM.bin holds a Mat followed by a right-hand side Vec (MatView + VecView to one\n"
                "binary viewer). The solver is configured by PETSc options, e.g.\n"
                "  -ksp_type cg -pc_type gamg            -ksp_type dcdm -ksp_dcdm_model net.pt\n"
                "  -ksp_type fcg -ksp_fcg_mmax 2 -ksp_fcg_truncation_type standard -pc_type dcdm -pc_dcdm_model net.pt\n"
                "The norm is the unpreconditioned residual unless -ksp_norm_type says otherwise.\n"
                "Prints iterations, setup and solve seconds and the residual history; exits 2 if\n"
                "the solver did not converge.",
                run_solve});

}  // namespace
