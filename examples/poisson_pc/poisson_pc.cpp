// poisson_pc: a learned preconditioner in an ordinary PETSc program.
//
// Assembles the 2-D Poisson system -laplace(u) = f on the unit square, u = 0 on the boundary,
// on an n x n vertex grid (the (n-2)^2 interior points are the unknowns; simulators/poisson.hpp),
// with f a Gaussian random field (the distribution `physml generate poisson` trains on) or
// uniform noise, and solves it with five KSPs, each under its own options prefix:
//
//   cg_        CG, no preconditioner              (-cg_ksp_type cg -cg_pc_type none)
//   icc_       CG + ICC(0)
//   gamg_      CG + GAMG
//   fcg_       FCG + PC physml (the model of -model alone; FCG allows a nonlinear PC)
//   fgmres_    FGMRES + PC physml
//   fcgmg_     FCG + PCCOMPOSITE multiplicative (SOR, PC physml, SOR): a two-level cycle
//              with the network as the coarse correction and SOR sweeps as the smoother
//   fgmresmg_  FGMRES + the same cycle
//   fcgsor_    FCG + PCCOMPOSITE multiplicative (SOR, SOR): the cycle without the network,
//              to see what the network adds
//   oneshot_   PREONLY + PC physml with -pc_physml_scale linear: the model as a one-shot solver
//
// and prints one table row per KSP: iterations, setup and solve seconds, converged reason,
// true relative residual and the relative L2 error against a reference solution (CG + GAMG to
// 1e-12). Every default is an ordinary PETSc option the command line overrides
// (-fcg_ksp_fcg_mmax 10, -gamg_pc_gamg_threshold 0.02, -fcgmg_sub_0_pc_sor_its 2, ...).
//
//   ./poisson_pc -model runs/mgno/best.h5 -n 65 -rtol 1e-6 [-rhs grf|random] [-seed S]
//                [-max_it 500] [-methods cg,icc,gamg,fcg,fgmres,fcgmg,fgmresmg,fcgsor,oneshot] [-threads T]
//
// The model maps f -> u on the full n x n grid (boundary points included), so the PC pads
// the interior residual by one point of zeros (-pc_physml_pad 1) and crops the correction.
#include "physml/physics/random_field.hpp"
#include "physml/simulators/poisson.hpp"
#include "physml/solvers/linear/pc_physml.hpp"

#include <petscksp.h>
#include <petsctime.h>
#include <torch/torch.h>

#include <sstream>
#include <string>
#include <vector>

namespace {

// Set -<key> <value> unless the command line (or an options file) already gave it.
PetscErrorCode default_option(const std::string& key, const std::string& value) {
  PetscBool set;
  PetscFunctionBeginUser;
  PetscCall(PetscOptionsHasName(nullptr, nullptr, key.c_str(), &set));
  if (!set) PetscCall(PetscOptionsSetValue(nullptr, key.c_str(), value.empty() ? nullptr : value.c_str()));
  PetscFunctionReturn(0);
}

struct Method {
  const char* prefix;
  const char* label;
  std::vector<std::pair<std::string, std::string>> defaults;
};

}  // namespace

int main(int argc, char** argv) {
  PetscCall(PetscInitialize(&argc, &argv, nullptr, "poisson_pc: a learned preconditioner against CG, ICC and GAMG"));
  PetscInt n = 65, seed = 123456, max_it = 500;
  PetscReal rtol = 1e-6;
  char model[PETSC_MAX_PATH_LEN] = "", rhs[32] = "grf", methods[256] = "cg,icc,gamg,fcg,fgmres,fcgmg,fgmresmg,fcgsor,oneshot";
  PetscCall(PetscOptionsGetInt(nullptr, nullptr, "-n", &n, nullptr));
  PetscCall(PetscOptionsGetInt(nullptr, nullptr, "-seed", &seed, nullptr));
  PetscCall(PetscOptionsGetReal(nullptr, nullptr, "-rtol", &rtol, nullptr));
  PetscCall(PetscOptionsGetInt(nullptr, nullptr, "-max_it", &max_it, nullptr));
  PetscCall(PetscOptionsGetString(nullptr, nullptr, "-model", model, sizeof(model), nullptr));
  PetscCall(PetscOptionsGetString(nullptr, nullptr, "-rhs", rhs, sizeof(rhs), nullptr));
  PetscCall(PetscOptionsGetString(nullptr, nullptr, "-methods", methods, sizeof(methods), nullptr));
  PetscCheck(n >= 4, PETSC_COMM_WORLD, PETSC_ERR_ARG_OUTOFRANGE, "-n must be >= 4 (grid points per side), got %" PetscInt_FMT, n);
  const std::string rhs_kind = rhs;
  PetscCheck(rhs_kind == "grf" || rhs_kind == "random", PETSC_COMM_WORLD, PETSC_ERR_ARG_OUTOFRANGE,
             "-rhs must be grf or random, got %s", rhs);
  std::vector<std::string> wanted;
  {
    std::stringstream ss(methods);
    std::string m;
    while (std::getline(ss, m, ',')) wanted.push_back(m);
  }
  bool learned = false;
  for (const auto& m : wanted) learned = learned || !(m == "cg" || m == "icc" || m == "gamg" || m == "fcgsor");
  PetscCheck(!learned || model[0], PETSC_COMM_WORLD, PETSC_ERR_ARG_WRONG,
             "-model FILE is required for the learned rows (a PhysML Checkpoint mapping f -> u); "
             "or give -methods cg,icc,gamg");

  // PC physml, registered like any PETSc type (or load libphysml_solvers.so with -dll_append).
  try {
    physml::solvers::register_petsc_types();
  } catch (const std::exception& e) {
    SETERRQ(PETSC_COMM_WORLD, PETSC_ERR_LIB, "%s", e.what());
  }

  // The system: f on the full grid, A and b on the interior unknowns.
  physml::simulators::PoissonProblem problem;
  problem.shape = {n, n};
  if (rhs_kind == "grf") {
    physml::physics::GaussianRandomFieldOptions go;
    go.shape = problem.shape;
    problem.source = physml::physics::GaussianRandomField(go).sample(static_cast<std::uint64_t>(seed));
  } else {
    torch::manual_seed(static_cast<std::uint64_t>(seed));
    problem.source = torch::rand({n, n}, torch::kDouble) * 2 - 1;
  }
  physml::simulators::PoissonSystem system;
  try {
    system = physml::simulators::assemble_poisson(problem, PETSC_COMM_WORLD);
  } catch (const std::exception& e) {
    SETERRQ(PETSC_COMM_WORLD, PETSC_ERR_LIB, "%s", e.what());
  }
  Mat A = system.matrix();
  Vec b = system.rhs(), x, r;
  PetscCall(VecDuplicate(b, &x));
  PetscCall(VecDuplicate(b, &r));
  PetscReal bn;
  PetscCall(VecNorm(b, NORM_2, &bn));

  const std::string interior = std::to_string(n - 2) + "," + std::to_string(n - 2);
  const std::vector<std::pair<std::string, std::string>> physml_pc = {
      {"pc_physml_model", model}, {"pc_physml_grid", interior}, {"pc_physml_pad", "1"}};
  auto with = [](std::vector<std::pair<std::string, std::string>> a, const std::string& sub,
                 const std::vector<std::pair<std::string, std::string>>& b) {
    for (const auto& [k, v] : b) a.emplace_back(sub + k, v);
    return a;
  };
  const std::vector<std::pair<std::string, std::string>> cycle = {
      {"pc_type", "composite"}, {"pc_composite_type", "multiplicative"}, {"pc_composite_pcs", "sor,physml,sor"}};
  const std::vector<Method> all = {
      {"cg_", "CG", {{"ksp_type", "cg"}, {"pc_type", "none"}}},
      {"icc_", "CG + ICC(0)", {{"ksp_type", "cg"}, {"pc_type", "icc"}}},
      {"gamg_", "CG + GAMG", {{"ksp_type", "cg"}, {"pc_type", "gamg"}}},
      {"fcg_", "FCG + physml", with({{"ksp_type", "fcg"}, {"pc_type", "physml"}}, "", physml_pc)},
      {"fgmres_", "FGMRES + physml", with({{"ksp_type", "fgmres"}, {"pc_type", "physml"}}, "", physml_pc)},
      {"fcgmg_", "FCG + SOR/physml/SOR", with(with({{"ksp_type", "fcg"}}, "", cycle), "sub_1_", physml_pc)},
      {"fgmresmg_", "FGMRES + SOR/physml/SOR", with(with({{"ksp_type", "fgmres"}}, "", cycle), "sub_1_", physml_pc)},
      {"fcgsor_", "FCG + SOR/SOR (no model)",
       {{"ksp_type", "fcg"}, {"pc_type", "composite"}, {"pc_composite_type", "multiplicative"},
        {"pc_composite_pcs", "sor,sor"}}},
      {"oneshot_", "one-shot model",
       with({{"ksp_type", "preonly"}, {"pc_type", "physml"}, {"pc_physml_scale", "linear"}}, "", physml_pc)},
  };

  // Reference solution for the error column: CG + GAMG to 1e-12.
  Vec x_ref;
  PetscCall(VecDuplicate(b, &x_ref));
  {
    KSP ref;
    PetscCall(KSPCreate(PETSC_COMM_WORLD, &ref));
    PetscCall(KSPSetOperators(ref, A, A));
    PetscCall(KSPSetType(ref, KSPCG));
    PC pc;
    PetscCall(KSPGetPC(ref, &pc));
    PetscCall(PCSetType(pc, PCGAMG));
    PetscCall(KSPSetTolerances(ref, 1e-12, 1e-50, PETSC_DEFAULT, 10000));
    PetscCall(KSPSolve(ref, b, x_ref));
    PetscCall(KSPDestroy(&ref));
  }
  PetscReal xn;
  PetscCall(VecNorm(x_ref, NORM_2, &xn));

  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "system: %" PetscInt_FMT "^2 vertex grid, %" PetscInt_FMT
                        " unknowns, rhs %s (seed %" PetscInt_FMT "), rtol %g (unpreconditioned norm)\n",
                        n, system.size(), rhs, seed, (double)rtol));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%-24s %6s %9s %9s %9s  %-18s %-10s %s\n", "method", "its", "setup_s",
                        "solve_s", "total_s", "reason", "relres", "error"));
  for (const auto& name : wanted) {
    const Method* m = nullptr;
    for (const auto& c : all)
      if (name + "_" == c.prefix) m = &c;
    PetscCheck(m, PETSC_COMM_WORLD, PETSC_ERR_ARG_WRONG,
               "-methods: unknown method '%s'; expected cg, icc, gamg, fcg, fgmres, fcgmg, fgmresmg, fcgsor, oneshot",
               name.c_str());
    const std::string p = std::string("-") + m->prefix;
    for (const auto& [k, v] : m->defaults) PetscCall(default_option(p + k, v));
    PetscCall(default_option(p + "ksp_rtol", std::to_string(rtol)));
    PetscCall(default_option(p + "ksp_norm_type", "unpreconditioned"));
    PetscCall(default_option(p + "ksp_max_it", std::to_string(max_it)));
    KSP ksp;
    PetscCall(KSPCreate(PETSC_COMM_WORLD, &ksp));
    PetscCall(KSPSetOptionsPrefix(ksp, m->prefix));
    PetscCall(KSPSetOperators(ksp, A, A));
    PetscCall(KSPSetFromOptions(ksp));
    PetscLogDouble t0, t1, t2;
    PetscCall(PetscTime(&t0));
    PetscCall(KSPSetUp(ksp));
    PetscCall(PetscTime(&t1));
    PetscCall(KSPSolve(ksp, b, x));
    PetscCall(PetscTime(&t2));
    PetscInt its;
    KSPConvergedReason reason;
    PetscReal rn;
    PetscCall(KSPGetIterationNumber(ksp, &its));
    PetscCall(KSPGetConvergedReason(ksp, &reason));
    PetscCall(MatMult(A, x, r));
    PetscCall(VecAYPX(r, -1.0, b));
    PetscCall(VecNorm(r, NORM_2, &rn));
    PetscCall(VecWAXPY(r, -1.0, x_ref, x));
    PetscReal en;
    PetscCall(VecNorm(r, NORM_2, &en));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%-24s %6" PetscInt_FMT " %9.4f %9.4f %9.4f  %-18s %.3e  %.3e\n", m->label,
                          its, t1 - t0, t2 - t1, t2 - t0, KSPConvergedReasons[reason], (double)(rn / bn),
                          (double)(en / xn)));
    PetscCall(KSPDestroy(&ksp));
  }
  PetscCall(VecDestroy(&x_ref));
  PetscCall(VecDestroy(&r));
  PetscCall(VecDestroy(&x));
  {
    physml::simulators::PoissonSystem done = std::move(system);  // A and b freed before PetscFinalize
  }
  PetscCall(PetscFinalize());
  return 0;
}
