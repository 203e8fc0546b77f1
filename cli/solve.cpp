// `physml solve`: solve a linear system from a PETSc binary or PhysML HDF5 file (format
// "physml.linear_system", docs/file-formats.md) with any PETSc or DCDM
// solver, configured entirely by PETSc options; prints iterations, setup and solve
// times and the residual history.
#include "command.hpp"

#include "physml/core/error.hpp"
#include "physml/core/log.hpp"
#include "physml/core/options.hpp"
#include "physml/io/png.hpp"
#include "physml/solvers/linear/dcdm.hpp"
#include "physml/solvers/linear/operator.hpp"
#include "physml/solvers/linear/system_io.hpp"

#include <petscksp.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace {

int run_solve(const std::vector<std::string>& args) {
  PHYSML_CHECK(args.size() == 1, "physml solve: expected one system file (PETSc binary with a Mat then a Vec, or a PhysML "
               "HDF5 linear system), got ",
               args.size(), " arguments");
  const std::string path = args[0];
  PHYSML_CHECK(std::filesystem::exists(path), "physml solve: system file '", path, "' does not exist");
  physml::Options o;
  const std::string history_csv = o.get_string("history", "");
  const bool quiet = o.get_bool("quiet", false);
  const std::string plot = o.get_string("plot", "");
  physml::solvers::register_petsc_types();

  physml::solvers::LinearSystem system = physml::solvers::load_linear_system(path);
  Mat A = system.A;
  Vec b = system.b, x;
  PHYSML_PETSC(VecDuplicate(b, &x));

  // One KSP per solver name; each reads the options with prefix "<name>_" (none if no -solvers).
  std::vector<std::string> names;
  {
    const std::string list = o.get_string("solvers", "");
    std::string cur;
    for (char c : list + ",") {
      if (c == ',') {
        if (!cur.empty()) names.push_back(cur);
        cur.clear();
      } else {
        cur += c;
      }
    }
  }
  const bool prefixed = !names.empty();
  if (!prefixed) names.push_back("");
  PetscInt n;
  PHYSML_PETSC(MatGetSize(A, &n, nullptr));
  std::printf("system      %s (%ld unknowns)\n", path.c_str(), static_cast<long>(n));
  std::vector<physml::io::Series> series;
  std::ofstream csv;
  if (!history_csv.empty()) {
    csv.open(history_csv);
    PHYSML_CHECK(csv.good(), "physml solve: cannot write '", history_csv, "'");
    csv << "solver,iteration,residual,relative_residual\n";
  }
  int status = 0;
  auto op = std::make_shared<physml::solvers::PetscMatOperator>(A);
  for (const auto& name : names) {
    physml::solvers::KSPSolver solver(PETSC_COMM_WORLD, prefixed ? name + "_" : "");
    KSP ksp = solver.ksp();
    solver.set_operator(op);
    PHYSML_PETSC(KSPSetResidualHistory(ksp, nullptr, PETSC_DECIDE, PETSC_TRUE));
    PHYSML_PETSC(KSPSetNormType(ksp, KSP_NORM_UNPRECONDITIONED));
    solver.set_from_options();
    solver.set_throw_on_divergence(false);  // reported below, exit code 2
    PHYSML_PETSC(VecSet(x, 0.0));
    physml::Timer t;
    PHYSML_PETSC(KSPSetUp(ksp));
    const double setup = t.seconds();
    t.reset();
    solver.apply(b, x);
    const double solve = t.seconds();
    const PetscInt its = solver.iterations();
    const KSPConvergedReason reason = solver.reason();
    KSPType type;
    PC pc;
    PCType pctype;
    PHYSML_PETSC(KSPGetType(ksp, &type));
    PHYSML_PETSC(KSPGetPC(ksp, &pc));
    PHYSML_PETSC(PCGetType(pc, &pctype));
    const PetscReal* hist;
    PetscInt nh;
    PHYSML_PETSC(KSPGetResidualHistory(ksp, &hist, &nh));
    const std::string label = prefixed ? name : std::string(type) + "+" + (pctype ? pctype : "none");
    std::printf("solver      %s: %s + %s\n", label.c_str(), type, pctype ? pctype : "none");
    std::printf("iterations  %ld (%s)\n", static_cast<long>(its), KSPConvergedReasons[reason]);
    std::printf("setup       %.4f s\nsolve       %.4f s\n", setup, solve);
    if (!quiet) {
      std::printf("residual history (|r_k| / |r_0|):\n");
      for (PetscInt i = 0; i < nh; ++i) std::printf("  %4ld  %.6e\n", static_cast<long>(i), hist[i] / hist[0]);
    }
    physml::io::Series s;
    s.name = label;
    for (PetscInt i = 0; i < nh; ++i) {
      s.x.push_back(static_cast<double>(i));
      s.y.push_back(hist[i] / hist[0]);
      if (csv.is_open()) csv << label << ',' << i << ',' << hist[i] << ',' << hist[i] / hist[0] << '\n';
    }
    series.push_back(s);
    if (reason <= 0) status = 2;
  }
  if (!plot.empty()) {
    physml::io::LinePlotOptions po;
    po.title = "convergence";
    po.xlabel = "iteration";
    po.ylabel = "|r| / |r0|";
    po.log_y = true;
    physml::io::write_line_plot_png(plot, series, po);
    std::printf("plot        %s\n", plot.c_str());
  }
  VecDestroy(&x);
  system.destroy();
  return status;
}

PHYSML_COMMAND({"solve", "solve a linear system (PETSc binary or HDF5) with any PETSc or DCDM solver",
                "physml solve SYSTEM.bin|SYSTEM.h5 [-solvers a,b,...] [-history out.csv] [-plot conv.png] [-quiet]\n"
                "             [PETSc KSP/PC options]\n\n"
                "With -solvers a,b each solver reads its options with prefix a_, b_ (-a_ksp_type cg\n"
                "-a_pc_type icc -b_ksp_type dcdm -b_ksp_dcdm_model net.h5) and all are run on the same\n"
                "system; -plot draws their residual histories side by side (log scale).\n"
                "SYSTEM.bin holds a Mat followed by a right-hand side Vec (MatView + VecView to one\n"
                "binary viewer), or SYSTEM.h5 is a PhysML HDF5 linear system (CSR: /A/row_ptr, /A/col_idx,\n"
                "/A/values, /b, root attributes rows, cols; docs/file-formats.md), recognized by content.\n"
                "The solver is configured by PETSc options, e.g.\n"
                "  -ksp_type cg -pc_type gamg            -ksp_type dcdm -ksp_dcdm_model net.h5\n"
                "  -ksp_type fcg -ksp_fcg_mmax 2 -ksp_fcg_truncation_type standard -pc_type dcdm -pc_dcdm_model net.h5\n"
                "The norm is the unpreconditioned residual unless -ksp_norm_type says otherwise.\n"
                "Prints iterations, setup and solve seconds and the residual history; exits 2 if\n"
                "the solver did not converge.",
                run_solve});

}  // namespace
