// A C++ driver through the installed PhysML library only: generate Poisson data, train an MgNO
// on it, evaluate it, and use it inside a PETSc solve (FGMRES preconditioned by the cycle
// SOR / network / SOR, PC type "physml") against CG and CG + ICC. Every object reads its own
// options, so `./driver -help` lists them all; the defaults here are a tiny run (seconds).
#include <physml/core/environment.hpp>
#include <physml/core/error.hpp>
#include <physml/core/options.hpp>
#include <physml/operators/checkpoint.hpp>
#include <physml/operators/registry.hpp>
#include <physml/simulators/data_generator.hpp>
#include <physml/simulators/generate_dataset.hpp>
#include <physml/simulators/poisson.hpp>
#include <physml/solvers/linear/petsc_types.hpp>
#include <physml/solvers/linear/solve_report.hpp>
#include <physml/train/supervised_data.hpp>
#include <physml/train/trainer.hpp>

#include <petscksp.h>

#include <cstdio>
#include <string>

namespace {

/// Solve with a KSP configured by `options` (key, value pairs set under `prefix`); iterations
/// to 1e-8, or -1 if it did not converge.
PetscInt solve(Mat A, Vec b, const std::string& prefix, const std::vector<std::pair<std::string, std::string>>& options) {
  for (const auto& [k, v] : options) PHYSML_PETSC(PetscOptionsSetValue(nullptr, ("-" + prefix + k).c_str(), v.c_str()));
  PHYSML_PETSC(PetscOptionsSetValue(nullptr, ("-" + prefix + "ksp_rtol").c_str(), "1e-8"));
  Vec x;
  PHYSML_PETSC(VecDuplicate(b, &x));
  const auto report = physml::solvers::run_solve(A, b, x, prefix);
  VecDestroy(&x);
  return report.converged() ? report.iterations : -1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    physml::Environment env(argc, argv);
    namespace sim = physml::simulators;
    namespace tr = physml::train;
    const physml::Options opt;

    // 1. Data: f -> u pairs of -laplace(u) = f on a vertex grid (physml generate poisson).
    auto poisson = sim::create_generator("poisson");
    // This example's own defaults (a 17^2 grid, so an MgNO of 4 levels); the command line wins.
    if (!opt.has("poisson_resolution")) opt.set("poisson_resolution", "17");
    if (!opt.has("mgno_levels")) opt.set("mgno_levels", "4");
    poisson->set_from_options(opt.sub("poisson_"));
    const auto gen = sim::GenerateOptions().output("driver_poisson.h5").ntrain(48).ntest(8).nvalid(8).set_from_options(opt);

    // 2. Training: an MgNO between normalizers fitted on the training split (physml train).
    const auto data_options = tr::SupervisedDataOptions().set_from_options(opt);
    auto trainer_options = tr::TrainerOptions().epochs(8).output_dir("driver_run").set_from_options(opt);
    if (opt.has("help")) return 0;
    sim::generate_dataset(*poisson, gen);
    tr::SupervisedData data(gen.output(), data_options);
    auto model = data.normalized(physml::operators::create_from_options("mgno", opt, data.model_shape()));
    tr::Trainer trainer(model, trainer_options);
    const auto records = trainer.fit(data.train(), data.valid());
    std::printf("trained %lld epochs: valid L2 %.3e\n", static_cast<long long>(records.back().epoch),
                records.back().metric("valid_l2"));

    // 3. Evaluation of the best checkpoint on the test split (physml eval).
    const std::string best_path = trainer_options.output_dir() + "/best.h5";
    auto best = physml::operators::load(best_path);
    tr::GridDataset test(gen.output(), "test");
    const auto m = tr::evaluate(*best, test);
    std::printf("test: relative L2 %.3e (max %.3e) over %lld samples\n", m.l2_mean, m.l2_max,
                static_cast<long long>(m.samples));

    // 4. The network inside a PETSc solve of a new system (the interior unknowns; the PC pads
    //    the residual with the Dirichlet boundary the network was trained with).
    physml::solvers::register_petsc_types();  // PC "physml", KSP/PC "dcdm"
    const auto shape = poisson->grid().shape();
    sim::PoissonProblem problem = sim::PoissonProblem::on(poisson->grid());
    problem.source = test.range(0, 1).first[0][0].to(torch::kDouble);  // a test source f
    auto system = sim::assemble_poisson(problem, PETSC_COMM_WORLD);
    const std::string interior = std::to_string(shape[1] - 2) + "," + std::to_string(shape[0] - 2);
    const PetscInt cg = solve(system.matrix(), system.rhs(), "cg_", {{"ksp_type", "cg"}, {"pc_type", "none"}});
    const PetscInt icc = solve(system.matrix(), system.rhs(), "icc_", {{"ksp_type", "cg"}, {"pc_type", "icc"}});
    const PetscInt learned =
        solve(system.matrix(), system.rhs(), "nn_",
              {{"ksp_type", "fgmres"}, {"pc_type", "composite"}, {"pc_composite_type", "multiplicative"},
               {"pc_composite_pcs", "sor,physml,sor"}, {"sub_1_pc_physml_model", best_path},
               {"sub_1_pc_physml_grid", interior}, {"sub_1_pc_physml_pad", "1"}});
    const PetscInt sor = solve(system.matrix(), system.rhs(), "sor_",
                               {{"ksp_type", "fgmres"}, {"pc_type", "composite"}, {"pc_composite_type", "multiplicative"},
                                {"pc_composite_pcs", "sor,sor"}});
    std::printf("iterations to 1e-8: CG %ld, CG+ICC %ld, FGMRES+SOR/SOR %ld, FGMRES+SOR/network/SOR %ld\n",
                static_cast<long>(cg), static_cast<long>(icc), static_cast<long>(sor), static_cast<long>(learned));
    physml::check_no_unused_options();
    return learned > 0 ? 0 : 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "driver: error: %s\n", e.what());
    return 1;
  }
}
