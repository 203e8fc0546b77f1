// `physml solve`: solve a linear system from a PETSc binary or PhysML HDF5 file (format
// "physml.linear_system", docs/file-formats.md) with any PETSc or DCDM
// solver, configured entirely by PETSc options; prints iterations, setup and solve
// times and the residual history.
#include "command.hpp"

#include "physml/core/error.hpp"
#include "physml/core/log.hpp"
#include "physml/core/options.hpp"
#include "physml/core/options_reader.hpp"
#include "physml/core/views.hpp"
#include "physml/solvers/linear/dcdm.hpp"
#include "physml/solvers/linear/solve_report.hpp"
#include "physml/solvers/linear/system_io.hpp"

#include <petscksp.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace {

int run_solve(const std::vector<std::string>& args) {
  physml::Options o;
  std::string history_csv, plot, list;
  bool quiet = false;
  {
    physml::OptionsReader r(o, "physml solve: solvers and reports");
    list = r.string("solvers", "", "comma-separated solver names; each reads its KSP/PC keys under <name>_");
    history_csv = r.string("history", "", "write the residual histories as CSV");
    plot = r.string("plot", "", "write the convergence plot (PNG)");
    quiet = r.boolean("quiet", false, "do not print the residual histories");
    r.end();
  }
  if (o.has("help")) return 0;
  PHYSML_CHECK(args.size() == 1, "expected one system file (PETSc binary with a Mat then a Vec, or a PhysML "
               "HDF5 linear system), got ",
               args.size(), " arguments");
  const std::string path = args[0];
  PHYSML_CHECK(std::filesystem::exists(path), "system file '", path, "' does not exist");
  physml::solvers::register_petsc_types();

  // On several ranks (mpirun -n R physml solve ...) the system is read distributed by rows and
  // every solver runs on all ranks (a DCDM network on the field gathered to rank 0:
  // solvers/linear/gathered_operator.hpp); rank 0 prints and writes the files.
  int rank = 0, ranks = 1;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  MPI_Comm_size(PETSC_COMM_WORLD, &ranks);
  const bool root = rank == 0;
  physml::solvers::LinearSystem system = physml::solvers::load_linear_system(path, PETSC_COMM_WORLD);
  struct Release {  // the system and x are freed on every path out, thrown errors included
    physml::solvers::LinearSystem& s;
    ~Release() { s.destroy(); }
  } release{system};
  Mat A = system.A;
  Vec b = system.b, x = nullptr;
  PHYSML_PETSC(VecDuplicate(b, &x));
  physml::VecHandle x_guard(x);

  // One KSP per solver name; each reads the options with prefix "<name>_" (none if no -solvers).
  std::vector<std::string> names = physml::cli::split_list(list);
  const bool prefixed = !names.empty();
  if (!prefixed) names.push_back("");
  PetscInt n;
  PHYSML_PETSC(MatGetSize(A, &n, nullptr));
  if (root) {
    if (ranks > 1) std::printf("system      %s (%ld unknowns on %d ranks)\n", path.c_str(), static_cast<long>(n), ranks);
    else std::printf("system      %s (%ld unknowns)\n", path.c_str(), static_cast<long>(n));
  }
  std::vector<physml::solvers::SolveReport> reports;
  int status = 0;
  for (const auto& name : names) {
    const auto r = physml::solvers::run_solve(A, b, x, prefixed ? name + "_" : "");
    if (!r.converged()) status = 2;
    reports.push_back(r);
    if (!root) continue;
    std::printf("solver      %s: %s + %s\n", r.label.c_str(), r.ksp_type.c_str(), r.pc_type.c_str());
    std::printf("iterations  %ld (%s)\n", static_cast<long>(r.iterations), KSPConvergedReasons[r.reason]);
    std::printf("setup       %.4f s\nsolve       %.4f s\n", r.setup_seconds, r.solve_seconds);
    if (!quiet) {
      std::printf("residual history (|r_k| / |r_0|):\n");
      const double r0 = !r.history.empty() && r.history[0] > 0 ? r.history[0] : 1.0;  // b = 0
      for (std::size_t i = 0; i < r.history.size(); ++i) std::printf("  %4zu  %.6e\n", i, r.history[i] / r0);
    }
  }
  if (!root) return status;
  if (!history_csv.empty()) physml::solvers::write_history_csv(history_csv, reports);
  if (!plot.empty()) {
    physml::solvers::write_history_png(plot, reports);
    std::printf("plot        %s\n", plot.c_str());
  }
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
                "the solver did not converge.\n"
                "On several ranks (mpirun -n R physml solve ...) the system is read distributed by rows\n"
                "and every solver runs distributed; a DCDM or physml PC network runs on the field\n"
                "gathered to rank 0 (the iterations are those of one rank). Rank 0 prints and writes.",
                run_solve});

}  // namespace
