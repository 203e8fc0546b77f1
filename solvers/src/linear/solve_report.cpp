#include "physml/solvers/linear/solve_report.hpp"

#include "physml/core/error.hpp"
#include "physml/core/log.hpp"
#include "physml/io/atomic_file.hpp"
#include "physml/io/png.hpp"
#include "physml/solvers/linear/operator.hpp"

#include <fstream>
#include <memory>

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
  KSPType kt;
  PC pc;
  PCType pt;
  PHYSML_PETSC(KSPGetType(ksp, &kt));
  PHYSML_PETSC(KSPGetPC(ksp, &pc));
  PHYSML_PETSC(PCGetType(pc, &pt));
  r.ksp_type = kt ? kt : "";
  r.pc_type = pt ? pt : "none";
  r.label = prefix.empty() ? r.ksp_type + "+" + r.pc_type : prefix.substr(0, prefix.size() - (prefix.back() == '_'));
  const PetscReal* h;
  PetscInt nh;
  PHYSML_PETSC(KSPGetResidualHistory(ksp, &h, &nh));
  r.history.assign(h, h + nh);
  return r;
}

void write_history_csv(const std::string& path, const std::vector<SolveReport>& reports) {
  io::check_writable_path(path, "residual history");
  const std::string tmp = io::temporary_path(path);
  {
    std::ofstream csv(tmp);
    PHYSML_CHECK(csv.good(), "cannot write the residual history '", tmp, "'");
    csv.precision(10);
    csv << "solver,iteration,residual,relative_residual\n";
    for (const auto& r : reports) {
      const double r0 = !r.history.empty() && r.history[0] > 0 ? r.history[0] : 1.0;  // b = 0: |r_0| = 0
      for (std::size_t i = 0; i < r.history.size(); ++i)
        csv << r.label << ',' << i << ',' << r.history[i] << ',' << r.history[i] / r0 << '\n';
    }
    PHYSML_CHECK(csv.good(), "writing the residual history '", tmp, "' failed");
  }
  io::publish_file(tmp, path);
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
