#include "physml/solvers/linear/solve_report.hpp"

#include "physml/core/error.hpp"
#include "physml/core/log.hpp"
#include "physml/io/atomic_file.hpp"
#include "physml/io/png.hpp"
#include "physml/solvers/linear/operator.hpp"

#include <cctype>
#include <fstream>
#include <memory>
#include <sstream>

namespace physml::solvers {

SolveReport run_solve(Mat A, Vec b, Vec x, const std::string& prefix) {
  MPI_Comm comm;
  PHYSML_PETSC(PetscObjectGetComm(reinterpret_cast<PetscObject>(A), &comm));
  KSPSolver solver(comm, prefix);
  KSP ksp = solver.ksp();
  solver.set_operator(std::make_shared<PetscMatOperator>(A));
  PHYSML_PETSC(KSPSetResidualHistory(ksp, nullptr, PETSC_DECIDE, PETSC_TRUE));
  PHYSML_PETSC(KSPSetNormType(ksp, KSP_NORM_UNPRECONDITIONED));
  solver.set_from_options();
  solver.set_throw_on_divergence(false);
  PHYSML_PETSC(VecSet(x, 0.0));
  SolveReport r;
  Timer t;
  PHYSML_PETSC(KSPSetUp(ksp));
  r.setup_seconds = t.seconds();
  t.reset();
  solver.apply(b, x);
  r.solve_seconds = t.seconds();
  r.iterations = solver.iterations();
  r.reason = solver.reason();
  const auto settings = ksp_settings(ksp);  // ksp_type, pc_type first
  r.ksp_type = settings[0].second;
  r.pc_type = settings[1].second;
  r.label = prefix.empty() ? r.ksp_type + "+" + r.pc_type : prefix.substr(0, prefix.size() - (prefix.back() == '_'));
  const PetscReal* h;
  PetscInt nh;
  PHYSML_PETSC(KSPGetResidualHistory(ksp, &h, &nh));
  r.history.assign(h, h + nh);
  return r;
}

std::vector<std::pair<std::string, std::string>> ksp_settings(KSP ksp) {
  PHYSML_CHECK(ksp != nullptr, "ksp_settings: no KSP");
  KSPType kt = nullptr;
  PC pc = nullptr;
  PCType pt = nullptr;
  PetscReal rtol = 0, abstol = 0, dtol = 0;
  PetscInt max_it = 0;
  KSPNormType norm = KSP_NORM_DEFAULT;
  PHYSML_PETSC(KSPGetType(ksp, &kt));
  PHYSML_PETSC(KSPGetPC(ksp, &pc));
  PHYSML_PETSC(PCGetType(pc, &pt));
  PHYSML_PETSC(KSPGetTolerances(ksp, &rtol, &abstol, &dtol, &max_it));
  PHYSML_PETSC(KSPGetNormType(ksp, &norm));
  auto lower = [](std::string t) {
    for (auto& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return t;
  };
  auto real = [](PetscReal v) {
    std::ostringstream s;
    s.precision(17);
    s << static_cast<double>(v);
    return s.str();
  };
  std::vector<std::pair<std::string, std::string>> out{{"ksp_type", kt ? kt : ""},
                                                       {"pc_type", pt ? pt : "none"},
                                                       {"ksp_rtol", real(rtol)},
                                                       {"ksp_atol", real(abstol)},
                                                       {"ksp_max_it", std::to_string(max_it)},
                                                       {"ksp_norm_type", lower(KSPNormTypes[norm])}};
  PetscBool factor = PETSC_FALSE;
  if (pt) PHYSML_PETSC(PetscObjectTypeCompareAny(reinterpret_cast<PetscObject>(pc), &factor, PCLU, PCCHOLESKY, PCILU, PCICC, ""));
  if (factor) {
    MatSolverType package = nullptr;
    PHYSML_PETSC(PCFactorGetMatSolverType(pc, &package));
    if (package) out.emplace_back("pc_factor_mat_solver_type", package);
  }
  return out;
}

void write_history_csv(const std::string& path, const std::vector<SolveReport>& reports) {
  std::ostringstream csv;
  csv.precision(10);
  csv << "solver,iteration,residual,relative_residual\n";
  for (const auto& r : reports) {
    const double r0 = !r.history.empty() && r.history[0] > 0 ? r.history[0] : 1.0;  // b = 0: |r_0| = 0
    for (std::size_t i = 0; i < r.history.size(); ++i)
      csv << r.label << ',' << i << ',' << r.history[i] << ',' << r.history[i] / r0 << '\n';
  }
  io::write_text_file(path, "residual history", csv.str());
}

void write_history_png(const std::string& path, const std::vector<SolveReport>& reports) {
  std::vector<io::Series> series;
  for (const auto& r : reports) {
    io::Series s;
    s.name = r.label;
    const double r0 = !r.history.empty() && r.history[0] > 0 ? r.history[0] : 1.0;
    for (std::size_t i = 0; i < r.history.size(); ++i) {
      s.x.push_back(static_cast<double>(i));
      s.y.push_back(r.history[i] / r0);
    }
    series.push_back(s);
  }
  io::LinePlotOptions po;
  po.title = "convergence";
  po.xlabel = "iteration";
  po.ylabel = "|r| / |r0|";
  po.log_y = true;
  io::write_line_plot_png(path, series, po);
}

}  // namespace physml::solvers
