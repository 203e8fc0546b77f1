#pragma once
/// \file solve_report.hpp
/// One PETSc solve measured the way `physml solve` reports it (and a driver compares solvers):
/// the KSP and PC types, iterations, converged reason, setup and solve seconds and the
/// unpreconditioned residual history; written as CSV and as a convergence plot.

#include <petscksp.h>

#include <string>
#include <vector>

namespace physml::solvers {

struct SolveReport {
  std::string label;       ///< the solver's name (its options prefix without '_', or "type+pc")
  std::string ksp_type, pc_type;
  PetscInt iterations = 0;
  KSPConvergedReason reason = KSP_CONVERGED_ITERATING;
  double setup_seconds = 0, solve_seconds = 0;
  std::vector<double> history;  ///< |r_k| (unpreconditioned 2-norm unless -<prefix>ksp_norm_type says otherwise)
  bool converged() const { return reason > 0; }
};

/// Solve A x = b (x zeroed first) with a KSP configured by the options under `prefix`
/// ("" = the global -ksp_*, -pc_* keys) on A's communicator, recording the report; x keeps
/// the solution. A solve that does not converge is reported (reason < 0), not thrown.
SolveReport run_solve(Mat A, Vec b, Vec x, const std::string& prefix = "");

/// How `ksp` is configured, as (PETSc option name without the prefix, value text) pairs:
/// ksp_type, pc_type, ksp_rtol, ksp_atol, ksp_max_it, ksp_norm_type and, for a factorization PC
/// with a solver package chosen, pc_factor_mat_solver_type. For the metadata of files made with
/// the KSP: passing these keys under the KSP's prefix reproduces its configuration.
std::vector<std::pair<std::string, std::string>> ksp_settings(KSP ksp);

/// Residual histories as CSV (solver,iteration,residual,relative_residual), written atomically.
void write_history_csv(const std::string& path, const std::vector<SolveReport>& reports);
/// |r_k| / |r_0| of each report on a log scale (PNG).
void write_history_png(const std::string& path, const std::vector<SolveReport>& reports);

}  // namespace physml::solvers
