// Network-call cost and break-even (docs/results-dcdm.md, "Network-call cost and break-even").
// For the 3-D DCDM network (default architecture of model type "dcdm": from64, random weights;
// the cost does not depend on them) at each grid N³:
//   - the wall time of one call (bare forward, float32, NoGrad) and of the solver step
//     NetworkDirection::apply (PETSc Vec in, Vec out);
//   - its arithmetic, counted analytically from the architecture: 2·Cin·Cout·k³·voxels per
//     convolution at the level where it runs (biases, ReLUs, adds, pooling not counted);
//   - the machine's measured convolution rate: one 16→16 3×3×3 conv3d on [1, 16, N, N, N], timed
//     through the same oneDNN call the network makes and through LibTorch's dispatcher, FLOPs /
//     time, the faster of the two; hence the fraction of that rate one network call reaches;
//   - on the pressure-Poisson scene of examples/dcdm_poisson (poisson_scene.hpp, frame 0 of
//     dcdm_poisson: the sphere at x = 0.3, right-hand side seed 1000), setup, solve, iterations and
//     time per iteration of CG+ICC(0), CG+GAMG and CG+BoomerAMG (if PETSc has hypre) to
//     ‖r‖/‖b‖ < rtol (unpreconditioned norm, x0 = 0), and DCDM's cost per iteration without the
//     network (KSP dcdm with q = r: SpMV, A-orthogonalization, dots) and its setup;
//   - the break-even network-call time t* at which DCDM with K iterations (-dcdm_its, one per
//     grid; the documented counts) matches each classical solver:
//       setup_dcdm + K (t* + t_rest) = setup_R + solve_R   (matrix new every solve)
//       K (t* + t_rest) = solve_R                          (matrix fixed, setup amortized)
//     and the speed-up of the network call that would need.
// usage: bench_dcdm_cost [-threads 1] [-grids 64,128] [-dcdm_its 23,83] [-reps 3] [-rtol 1e-6]
//        [-icc_* / -gamg_* / -boomeramg_* PETSc options of the three classical KSPs]
#include "../../examples/dcdm_poisson/poisson_scene.hpp"
#include "physml/core/environment.hpp"
#include "physml/core/error.hpp"
#include "physml/core/options.hpp"
#include "physml/operators/dcdm_net.hpp"
#include "physml/solvers/linear/dcdm.hpp"

#include <petscksp.h>
#include <petsctime.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace op = physml::operators;
namespace sv = physml::solvers;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

std::string first_line_with(const char* path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return line;
  return "";
}

std::string cpu_model() {
  std::string l = first_line_with("/proc/cpuinfo", "model name");
  const auto colon = l.find(':');
  return colon == std::string::npos ? "unknown" : l.substr(colon + 2);
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

// FLOPs of one forward of the DCDM net on an N³ grid, from the architecture: convolution i runs
// on the fine level (N³) or, for the coarse residual pairs, on (N/2)³ after AvgPool(2). The
// layer order is that of DCDMNetImpl::forward: first conv, la, pre pairs, lb | coarse pairs |
// post pairs, head. Each weight [Cout, Cin, k, k, k] costs 2·Cin·Cout·k³ per output voxel.
struct Flops {
  double total = 0, fine = 0, coarse = 0;
  int convs = 0;
};
Flops network_flops(const op::DCDMNetImpl& net, int64_t n) {
  const auto& o = net.options();
  const int pre = o.variant() == "from128" ? 2 : 1, coarse_pairs = o.variant() == "from128" ? 5 : 3;
  const int first_coarse = 1 + 1 + 2 * pre + 1, end_coarse = first_coarse + 2 * coarse_pairs;
  const double fine_vox = double(n) * n * n, coarse_vox = fine_vox / 8;
  Flops f;
  int index = 0;
  for (const auto& p : net.named_parameters()) {
    const at::Tensor& w = p.value();
    if (w.dim() != 5) continue;  // biases
    const double per_voxel = 2.0 * w.size(0) * w.size(1) * w.size(2) * w.size(3) * w.size(4);
    const bool is_coarse = index >= first_coarse && index < end_coarse;
    (is_coarse ? f.coarse : f.fine) += per_voxel * (is_coarse ? coarse_vox : fine_vox);
    ++index;
  }
  f.total = f.fine + f.coarse;
  f.convs = index;
  return f;
}

struct Solve {
  std::string name;
  bool available = true;
  PetscInt its = 0;
  double setup = 0, solve = 0;
  std::string reason;
  double per_it() const { return its > 0 ? solve / its : 0; }
};

// Setup once, solve `solves` times from x0 = 0 (the fastest solve counts). The KSP reads the
// options database under `prefix` after its types are set, as -ksp_type cg -pc_type gamg would
// configure it in dcdm_poisson (GAMG's defaults are partly set in its PCSetFromOptions: without
// it the same scene took 8 iterations and 3x the setup time), and -gamg_pc_gamg_threshold 0.02
// etc. reach it.
Solve run_classical(const std::string& name, const char* prefix, Mat A, Vec b, Vec x, double rtol, const char* ksp_type,
                    const char* pc_type, const char* hypre_type, int solves) {
  Solve s;
  s.name = name;
  KSP ksp;
  PHYSML_PETSC(KSPCreate(PETSC_COMM_SELF, &ksp));
  PHYSML_PETSC(KSPSetOptionsPrefix(ksp, prefix));
  PHYSML_PETSC(KSPSetOperators(ksp, A, A));
  PHYSML_PETSC(KSPSetType(ksp, ksp_type));
  PHYSML_PETSC(KSPSetTolerances(ksp, rtol, 1e-50, PETSC_DEFAULT, 5000));
  PHYSML_PETSC(KSPSetNormType(ksp, KSP_NORM_UNPRECONDITIONED));
  PC pc;
  PHYSML_PETSC(KSPGetPC(ksp, &pc));
  // A PC type PETSc was built without (hypre) fails cleanly here: no row, no crash.
  PHYSML_PETSC(PetscPushErrorHandler(PetscReturnErrorHandler, nullptr));
  PetscErrorCode ierr = PCSetType(pc, pc_type);
  if (!ierr && hypre_type) ierr = PCHYPRESetType(pc, hypre_type);
  PHYSML_PETSC(PetscPopErrorHandler());
  if (ierr) {
    s.available = false;
    KSPDestroy(&ksp);
    return s;
  }
  PHYSML_PETSC(KSPSetFromOptions(ksp));
  const double t0 = now();
  PHYSML_PETSC(KSPSetUp(ksp));
  s.setup = now() - t0;
  s.solve = 1e300;
  for (int k = 0; k < solves; ++k) {
    const double t1 = now();
    PHYSML_PETSC(KSPSolve(ksp, b, x));
    s.solve = std::min(s.solve, now() - t1);
  }
  PHYSML_PETSC(KSPGetIterationNumber(ksp, &s.its));
  KSPConvergedReason reason;
  PHYSML_PETSC(KSPGetConvergedReason(ksp, &reason));
  s.reason = KSPConvergedReasons[reason];
  KSPDestroy(&ksp);
  return s;
}

// q = r: DCDM's iteration with a free "network" (CG directions), for the cost of the rest.
class Copy : public sv::DirectionOperator {
public:
  void apply(Vec r, Vec q) override { PHYSML_PETSC(VecCopy(r, q)); }
  std::string name() const override { return "copy"; }
};

void bench_grid(int64_t n, int dcdm_its, int reps, double rtol) {
  std::printf("\n## %lld^3 (%lld unknowns)\n\n", (long long)n, (long long)(n * n * n));
  // --- the network
  torch::manual_seed(0);
  auto net = std::make_shared<op::DCDMNetImpl>(op::DCDMNetOptions(3));
  net->eval();
  const Flops fl = network_flops(*net, n);
  const at::Tensor x = torch::randn({1, 1, n, n, n});
  // --- the scene (frame 0 of dcdm_poisson -obstacle sphere -seed 1)
  DM da;
  PHYSML_PETSC(DMDACreate3d(PETSC_COMM_SELF, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DMDA_STENCIL_STAR, n, n,
                            n, 1, 1, 1, 1, 1, nullptr, nullptr, nullptr, &da));
  PHYSML_PETSC(DMSetUp(da));
  Mat A;
  Vec b, xv;
  PHYSML_PETSC(DMCreateMatrix(da, &A));
  PHYSML_PETSC(DMCreateGlobalVector(da, &b));
  PHYSML_PETSC(VecDuplicate(b, &xv));
  scene::Obstacle o;
  o.shape = "sphere";
  scene::configure(o, 3, 4, 1);
  o.cx = 0.3;
  PHYSML_PETSC(scene::assemble(da, o, A));
  PHYSML_PETSC(scene::divergence_rhs(da, o, 1000, b));
  double t_forward = 1e300, t_forward_b = 1e300, t_apply = 1e300, t_conv_onednn = 1e300, t_conv_dispatch = 1e300;
  {
    // Interleaved (forward, solver step, conv, conv) rounds, so that a change of the machine's
    // load hits the network and the reference convolution alike; the fastest of each counts.
    // The solver step NetworkDirection::apply runs on a residual-like Vec (the scene's b).
    sv::NetworkDirection dir(net, {n, n, n});
    dir.set_mask(sv::solid_mask_from_matrix(A));
    torch::NoGradGuard ng;
    const at::Tensor h = torch::randn({1, 16, n, n, n});
    const at::Tensor w = torch::randn({16, 16, 3, 3, 3}) * 0.05, bias = torch::zeros({16});
    const std::vector<int64_t> pad(3, 1), one(3, 1);
    // The bare forward also on the input the solver step builds (b/|b| in float32), to tell the
    // wrapper's cost from a dependence of the convolutions' speed on the input values.
    const at::Tensor xb = [&] {
      PetscReal bn;
      PHYSML_PETSC(VecNorm(b, NORM_2, &bn));
      const PetscScalar* a;
      PHYSML_PETSC(VecGetArrayRead(b, &a));
      at::Tensor t = torch::from_blob(const_cast<PetscScalar*>(a), {n, n, n}, torch::kDouble).clone();
      PHYSML_PETSC(VecRestoreArrayRead(b, &a));
      return (t / bn).to(torch::kFloat).reshape({1, 1, n, n, n});
    }();
    const std::function<void()> forward = [&] { net->forward(x); }, forward_b = [&] { net->forward(xb); },
                                step = [&] { dir.apply(b, xv); },
                                conv_onednn = [&] { at::mkldnn_convolution(h, w, bias, pad, one, one, 1); },
                                conv_dispatch = [&] { torch::conv3d(h, w, bias, 1, 1); };
    for (const auto* f : {&forward, &forward_b, &step, &conv_onednn, &conv_dispatch}) (*f)();  // warm-up
    auto once = [](const std::function<void()>& f) {
      const double t0 = now();
      f();
      return now() - t0;
    };
    for (int round = 0; round < reps; ++round) {
      t_forward = std::min(t_forward, once(forward));
      t_forward_b = std::min(t_forward_b, once(forward_b));
      t_apply = std::min(t_apply, once(step));
      t_conv_onednn = std::min(t_conv_onednn, once(conv_onednn));
      t_conv_dispatch = std::min(t_conv_dispatch, once(conv_dispatch));
    }
  }
  const double conv_flops = 2.0 * 16 * 16 * 27 * double(n) * n * n;
  const double rate = conv_flops / std::min(t_conv_onednn, t_conv_dispatch);
  std::printf("network (from64, %d convs): %.3g GFLOP per call (fine level %.3g, coarse %.3g; %.0f MAC/voxel)\n", fl.convs,
              fl.total / 1e9, fl.fine / 1e9, fl.coarse / 1e9, fl.total / 2 / (double(n) * n * n));
  std::printf("one 16->16 3x3x3 conv3d on [1,16,%lld^3]: %.3g GFLOP, oneDNN direct %.4f s, LibTorch dispatch %.4f s -> "
              "%.2f GFLOP/s\n\n",
              (long long)n, conv_flops / 1e9, t_conv_onednn, t_conv_dispatch, rate / 1e9);
  std::printf("| quantity | value |\n|---|---|\n");
  std::printf("| network forward (float32, NoGrad) on randn input, s / call | %.4f |\n", t_forward);
  std::printf("| network forward on the solver's input b/|b|, s / call | %.4f |\n", t_forward_b);
  std::printf("| NetworkDirection::apply (Vec -> Vec, the solver's call), s / call | %.4f |\n", t_apply);
  std::printf("| network arithmetic, GFLOP / call | %.2f |\n", fl.total / 1e9);
  std::printf("| network rate, GFLOP/s (forward) | %.2f |\n", fl.total / t_forward / 1e9);
  std::printf("| measured conv3d rate, GFLOP/s | %.2f |\n", rate / 1e9);
  std::printf("| fraction of the conv3d rate one call reaches | %.2f |\n\n", fl.total / t_forward / rate);

  // --- classical solvers and DCDM's cost besides the network
  // Each classical solver twice from scratch (setup + 2 solves); the fastest setup and solve count.
  std::vector<Solve> solves;
  auto best_of_two = [&](const char* name, const char* prefix, const char* pc, const char* hypre) {
    Solve a = run_classical(name, prefix, A, b, xv, rtol, KSPCG, pc, hypre, 2);
    if (!a.available) return a;
    const Solve c = run_classical(name, prefix, A, b, xv, rtol, KSPCG, pc, hypre, 2);
    a.setup = std::min(a.setup, c.setup);
    a.solve = std::min(a.solve, c.solve);
    return a;
  };
  solves.push_back(best_of_two("CG+ICC(0)", "icc_", PCICC, nullptr));
  solves.push_back(best_of_two("CG+GAMG", "gamg_", PCGAMG, nullptr));
  solves.push_back(best_of_two("CG+BoomerAMG", "boomeramg_", PCHYPRE, "boomeramg"));
  // DCDM without the network: a fixed number of iterations (q = r, no safeguard).
  sv::register_petsc_types();
  KSP dk;
  PHYSML_PETSC(KSPCreate(PETSC_COMM_SELF, &dk));
  PHYSML_PETSC(KSPSetOperators(dk, A, A));
  PHYSML_PETSC(KSPSetType(dk, "dcdm"));
  PHYSML_PETSC(KSPSetTolerances(dk, 1e-30, 1e-50, PETSC_DEFAULT, 20));
  PHYSML_PETSC(KSPSetNormType(dk, KSP_NORM_UNPRECONDITIONED));
  sv::ksp_dcdm_set_direction(dk, std::make_shared<Copy>());
  sv::DCDMSafeguard off;
  off.window = 0;
  off.early_its = 0;
  sv::ksp_dcdm_set_safeguard(dk, off);
  double t0 = now();
  PHYSML_PETSC(KSPSetUp(dk));  // symmetry check
  const at::Tensor mask = sv::solid_mask_from_matrix(A);  // what the KSP computes for a model from options
  const double dcdm_setup = now() - t0;
  (void)mask;
  t0 = now();
  PHYSML_PETSC(KSPSolve(dk, b, xv));
  PetscInt dits;
  PHYSML_PETSC(KSPGetIterationNumber(dk, &dits));
  const double t_rest = (now() - t0) / dits;
  KSPDestroy(&dk);

  std::printf("| solver | its | setup s | solve s | s / iteration | setup + solve s |\n|---|---|---|---|---|---|\n");
  for (const auto& s : solves) {
    if (!s.available) {
      std::printf("| %s | (PETSc built without it: PCSetType failed) | | | | |\n", s.name.c_str());
      continue;
    }
    std::printf("| %s | %d | %.4f | %.4f | %.5f | %.4f |%s\n", s.name.c_str(), (int)s.its, s.setup, s.solve, s.per_it(),
                s.setup + s.solve, s.reason == "CONVERGED_RTOL" ? "" : (" " + s.reason).c_str());
  }
  std::printf("| DCDM without the network (q = r) | %d (fixed) | %.4f | | %.5f | |\n", (int)dits, dcdm_setup, t_rest);
  std::printf("| DCDM at K = %d, network as measured | %d | %.4f | %.2f | %.4f | %.2f |\n\n", dcdm_its, dcdm_its, dcdm_setup,
              dcdm_its * (t_apply + t_rest), t_apply + t_rest, dcdm_setup + dcdm_its * (t_apply + t_rest));

  std::printf("break-even network call t* for DCDM at K = %d iterations (t_call now %.4f s):\n\n", dcdm_its, t_apply);
  std::printf("| against | its | t* (new matrix: setup + solve), s | speed-up needed | t* (fixed matrix: solve only), s | "
              "speed-up needed | K at which today's call breaks even (new matrix) |\n|---|---|---|---|---|---|---|\n");
  for (const auto& s : solves) {
    if (!s.available) continue;
    const double t_new = (s.setup + s.solve - dcdm_setup) / dcdm_its - t_rest;
    const double t_fixed = s.solve / dcdm_its - t_rest;
    auto cell = [&](double t) {
      char buf[96];
      if (t <= 0) std::snprintf(buf, sizeof buf, "none (<= 0) | never");
      else std::snprintf(buf, sizeof buf, "%.5f | %.0fx", t, t_apply / t);
      return std::string(buf);
    };
    const double k_even = (s.setup + s.solve - dcdm_setup) / (t_apply + t_rest);
    std::printf("| %s | %d | %s | %s | %.1f |\n", s.name.c_str(), (int)s.its, cell(t_new).c_str(), cell(t_fixed).c_str(),
                k_even);
  }
  std::fflush(stdout);
  VecDestroy(&xv);
  VecDestroy(&b);
  MatDestroy(&A);
  DMDestroy(&da);
}

}  // namespace

int main(int argc, char** argv) {
  physml::Environment env(argc, argv);
  physml::Options o("");
  at::set_num_threads(static_cast<int>(o.get_int("threads", 1)));
  const int reps = static_cast<int>(o.get_int("reps", 3));
  const double rtol = o.get_real("rtol", 1e-6);
  const auto grids = o.get_int_list("grids", {64, 128});
  const auto its = o.get_int_list("dcdm_its", {23, 83});
  PHYSML_CHECK(its.size() == grids.size(), "bench_dcdm_cost: -dcdm_its needs one iteration count per grid (", grids.size(),
               " grids), got ", its.size());
  for (auto g : grids) PHYSML_CHECK(g >= 2 && g % 2 == 0, "bench_dcdm_cost: grid sizes must be even, got ", g);
  std::printf("# bench_dcdm_cost\n\nCPU: %s; LibTorch threads %d (PETSc: 1 rank); load average at start %s; rtol %.0e; "
              "network and conv times: fastest of %d interleaved rounds after a warm-up call; solvers: fastest of 2 setups and 4 solves\n",
              cpu_model().c_str(), at::get_num_threads(), load_average().c_str(), rtol, reps);
  for (size_t i = 0; i < grids.size(); ++i) bench_grid(grids[i], static_cast<int>(its[i]), reps, rtol);
  std::printf("\nload average at the end %s\n", load_average().c_str());
  physml::check_no_unused_options();  // at the end: the KSPs read their -icc_/-gamg_/-boomeramg_ keys
  return 0;
}
