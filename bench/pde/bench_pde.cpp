// Benchmarks for the PDE data generators (docs/results-pde-data.md):
//   ns-fft   one Navier–Stokes step, FFTW (NavierStokes2D) vs torch::fft, at 64², 256², 1024²
//   darcy    Darcy 421²: CG with ICC, GAMG, BoomerAMG (iterations, setup, solve time)
//   samples  time per sample at the published resolutions (Darcy 421, Helmholtz 101,
//            Burgers 8192, Navier–Stokes 256² per step)
//   burgers-resolution  is a coarser Burgers solve good enough? The same u₀ (drawn at 8192,
//            Fourier-truncated to the coarse grid) solved at 8192, 4096 and 2048 points,
//            u(·, 1) compared on the 1024 points FNO keeps (-burgers_sigma, -samples)
// usage: bench_pde [-bench ns-fft,darcy,samples,burgers-resolution] [-threads 1]
#include "physml/core/environment.hpp"
#include "physml/core/log.hpp"
#include "physml/core/options.hpp"
#include "physml/physics/random_field.hpp"
#include "physml/simulators/burgers.hpp"
#include "physml/simulators/darcy.hpp"
#include "physml/simulators/helmholtz.hpp"
#include "physml/simulators/navier_stokes.hpp"
#include "physml/simulators/poisson.hpp"

#include <torch/torch.h>

#include <cstdio>

namespace sim = physml::simulators;

namespace {

// One Heun/CN step of the vorticity equation with torch::fft (same algorithm as NavierStokes2D).
struct TorchNS {
  int64_t n;
  double nu, dt;
  torch::Tensor kx, ky, lap, inv_lap, mask, f_hat;
  TorchNS(int64_t n_, double nu_, double dt_) : n(n_), nu(nu_), dt(dt_) {
    auto o = torch::TensorOptions().dtype(torch::kDouble);
    auto k1 = torch::fft::fftfreq(n, 1.0 / n, o);
    auto k2 = torch::fft::rfftfreq(n, 1.0 / n, o);
    auto kyf = k1.view({n, 1}).expand({n, n / 2 + 1});
    auto kxf = k2.view({1, n / 2 + 1}).expand({n, n / 2 + 1});
    lap = 4 * M_PI * M_PI * (kxf * kxf + kyf * kyf);
    // zero derivative symbol at the Nyquist wavenumbers, as NavierStokes2D does
    ky = torch::where(kyf.abs() == n / 2, torch::zeros_like(kyf), kyf);
    kx = torch::where(kxf.abs() == n / 2, torch::zeros_like(kxf), kxf);
    inv_lap = torch::where(lap > 0, 1.0 / lap, torch::zeros_like(lap));
    const double kmax = 2.0 / 3.0 * (n / 2.0);
    mask = ((kxf.abs() <= kmax) & (kyf.abs() <= kmax)).to(torch::kDouble);
    auto x = torch::arange(n, o) / static_cast<double>(n);
    auto s = 2 * M_PI * (x.view({1, n}) + x.view({n, 1}));
    f_hat = torch::fft::rfft2(0.1 * (torch::sin(s) + torch::cos(s)));
  }
  torch::Tensor advection(const torch::Tensor& wh) {
    const c10::complex<double> I2pi(0, 2 * M_PI);
    auto psi = wh * inv_lap;
    auto u = torch::fft::irfft2(I2pi * ky * psi, c10::IntArrayRef{n, n});
    auto v = torch::fft::irfft2(-I2pi * kx * psi, c10::IntArrayRef{n, n});
    auto wx = torch::fft::irfft2(I2pi * kx * wh, c10::IntArrayRef{n, n});
    auto wy = torch::fft::irfft2(I2pi * ky * wh, c10::IntArrayRef{n, n});
    return torch::fft::rfft2(u * wx + v * wy) * mask;
  }
  torch::Tensor step(const torch::Tensor& wh) {
    auto num = 1.0 - 0.5 * dt * nu * lap, den = 1.0 + 0.5 * dt * nu * lap;
    auto F1 = advection(wh);
    auto ws = (num * wh + dt * (f_hat - F1)) / den;
    auto F = 0.5 * (F1 + advection(ws));
    return (num * wh + dt * (f_hat - F)) / den;
  }
};

void bench_ns_fft() {
  std::printf("\n## One Navier-Stokes step (Heun + CN, batch 1, %d torch thread(s); FFTW single-threaded)\n\n",
              torch::get_num_threads());
  std::printf("| grid | FFTW (ms/step) | torch::fft (ms/step) | max abs. difference after the steps (200 / 40 / 5) |\n|---|---|---|---|\n");
  for (int64_t n : {64, 256, 1024}) {
    const int steps = n == 1024 ? 5 : (n == 256 ? 40 : 200);
    sim::NavierStokesOptions o;
    o.resolution = n;
    o.dt = 1e-4;
    physml::physics::GaussianRandomFieldOptions g;
    g.shape = {n, n};
    g.alpha = 2.5;
    g.tau = 7;
    g.boundary = physml::physics::FieldBoundary::periodic;
    auto w0 = physml::physics::GaussianRandomField(g).sample(1, 0).unsqueeze(0);
    sim::NavierStokes2D ns(o);
    ns.solve(w0, {o.dt});  // warm-up
    physml::Timer t;
    auto w_fftw = ns.solve(w0, {o.dt * steps});
    const double fftw_ms = t.seconds() * 1e3 / steps;
    TorchNS tn(n, o.viscosity, o.dt);
    auto wh = torch::fft::rfft2(w0[0]);
    tn.step(wh);  // warm-up
    t.reset();
    for (int i = 0; i < steps; ++i) wh = tn.step(wh);
    const double torch_ms = t.seconds() * 1e3 / steps;
    auto w_torch = torch::fft::irfft2(wh, c10::IntArrayRef{n, n});
    const double diff = (w_torch - w_fftw[0][0]).abs().max().item<double>();
    std::printf("| %ld² | %.3f | %.3f | %.1e |\n", static_cast<long>(n), fftw_ms, torch_ms, diff);
    std::fflush(stdout);
  }
}

void bench_darcy() {
  std::printf("\n## Darcy 421² (smooth setting, sample 0 of seed 0), CG to rtol 1e-10\n\n");
  std::printf("| preconditioner | iterations | setup (s) | solve (s) |\n|---|---|---|---|\n");
  sim::DarcyOptions d;
  physml::physics::GaussianRandomFieldOptions g;
  g.shape = {421, 421};
  auto a = physml::physics::threshold(physml::physics::GaussianRandomField(g).sample(0, 0), 12, 3);
  sim::PoissonProblem pb;
  pb.shape = {421, 421};
  pb.coefficient = a;
  pb.source = torch::ones({421, 421}, torch::kDouble);
  auto sys = sim::assemble_poisson(pb, PETSC_COMM_SELF);
  for (const char* pc_name : {"icc", "gamg", "hypre"}) {
    KSP ksp;
    KSPCreate(PETSC_COMM_SELF, &ksp);
    KSPSetType(ksp, KSPCG);
    PC pc;
    KSPGetPC(ksp, &pc);
    PCSetType(pc, pc_name);
    if (std::string(pc_name) == "hypre") PCHYPRESetType(pc, "boomeramg");
    KSPSetTolerances(ksp, 1e-10, 1e-50, PETSC_DEFAULT, 20000);
    KSPSetNormType(ksp, KSP_NORM_UNPRECONDITIONED);
    KSPSetOperators(ksp, sys.matrix(), sys.matrix());
    Vec x;
    MatCreateVecs(sys.matrix(), &x, nullptr);
    physml::Timer t;
    KSPSetUp(ksp);
    PCSetUp(pc);
    const double setup = t.seconds();
    t.reset();
    KSPSolve(ksp, sys.rhs(), x);
    const double solve = t.seconds();
    PetscInt its;
    KSPGetIterationNumber(ksp, &its);
    KSPConvergedReason reason;
    KSPGetConvergedReason(ksp, &reason);
    std::printf("| %s%s | %ld | %.3f | %.3f |\n", pc_name, std::string(pc_name) == "hypre" ? " (BoomerAMG)" : "",
                static_cast<long>(its), setup, solve);
    if (reason < 0) std::printf("  (did not converge: %s)\n", KSPConvergedReasons[reason]);
    std::fflush(stdout);
    VecDestroy(&x);
    KSPDestroy(&ksp);
  }
}

void bench_samples() {
  std::printf("\n## Time per sample at published resolutions\n\n| generator | setting | time per sample |\n|---|---|---|\n");
  {
    sim::DarcyGenerator gen(sim::DarcyOptions::smooth(), "bench_darcy_");
    gen.generate(0, 0);
    physml::Timer t;
    for (int i = 1; i <= 3; ++i) gen.generate(0, static_cast<std::uint64_t>(i));
    std::printf("| darcy smooth | 421², CG + GAMG, rtol 1e-10 | %.2f s |\n", t.seconds() / 3);
    std::fflush(stdout);
  }
  {
    sim::DarcyGenerator gen(sim::DarcyOptions::rough(), "bench_darcy_");
    physml::Timer t;
    for (int i = 0; i < 2; ++i) gen.generate(0, static_cast<std::uint64_t>(i));
    std::printf("| darcy rough | 512², CG + GAMG, rtol 1e-10 | %.2f s |\n", t.seconds() / 2);
    std::fflush(stdout);
  }
  {
    sim::HelmholtzSolver h(sim::HelmholtzOptions{}, "bench_helmholtz_");
    h.generate(0, 0);
    physml::Timer t;
    for (int i = 1; i <= 3; ++i) h.generate(0, static_cast<std::uint64_t>(i));
    std::printf("| helmholtz | 101², omega 1000, MUMPS LU | %.3f s |\n", t.seconds() / 3);
    std::fflush(stdout);
  }
  {
    sim::BurgersOptions b;  // 8192 points, nu = 0.1, T = 1
    sim::BurgersGenerator gen(b);
    physml::Timer t;
    gen.generate(0, 0);
    std::printf("| burgers | 8192 points, T = 1, IF-RK4, %ld steps | %.1f s |\n",
                static_cast<long>(gen.solver().steps()), t.seconds());
    std::fflush(stdout);
  }
  {
    sim::NavierStokesOptions o;  // 256², dt 1e-4
    sim::NavierStokes2D ns(o);
    auto w0 = torch::zeros({1, 256, 256}, torch::kDouble);
    for (int64_t B : {1, 8}) {
      auto w = w0.expand({B, 256, 256}).contiguous();
      ns.solve(w, {o.dt});
      physml::Timer t;
      ns.solve(w, {o.dt * 20});
      const double per_step = t.seconds() / 20;
      std::printf("| navier-stokes | 256², dt 1e-4, batch %ld | %.2f ms per step per sample -> %.0f s per sample for T = 50 "
                  "(500000 steps, extrapolated) |\n",
                  static_cast<long>(B), per_step * 1e3 / B, per_step / B * 500000);
      std::fflush(stdout);
    }
  }
}

// u₀ drawn at 8192 points and Fourier-truncated to n points (exact for the modes |k| < n/2).
torch::Tensor truncate(const torch::Tensor& u, int64_t n) {
  const int64_t N = u.size(0);
  auto c = torch::fft::rfft(u).slice(0, 0, n / 2 + 1).clone();
  c.index_put_({n / 2}, 0.0);  // drop the coarse Nyquist mode
  return torch::fft::irfft(c, n) * (static_cast<double>(n) / static_cast<double>(N));
}

void bench_burgers_resolution(double sigma, int samples) {
  std::printf("\n## Burgers: coarser solve grids against 8192 (sigma %g, nu 0.1, T = 1, %d samples)\n\n"
              "u(., 1) on the 1024 points FNO keeps; relative L2 against the 8192 solve of the same u0\n\n"
              "| sample | grid | steps | time | rel. L2 of u(., 1) vs 8192 | std u0 | std u(., 1) |\n|---|---|---|---|---|---|---|\n",
              sigma, samples);
  sim::BurgersOptions fine;  // 8192 points, the published grid
  fine.sigma = sigma;
  sim::BurgersGenerator gen(fine);
  for (int i = 0; i < samples; ++i) {
    auto u0 = gen.initial(0, static_cast<std::uint64_t>(i));
    torch::Tensor reference;
    for (int64_t n : {int64_t{8192}, int64_t{4096}, int64_t{2048}}) {
      sim::BurgersOptions o = fine;
      o.resolution = n;
      sim::BurgersSolver solver(o);
      physml::Timer t;
      auto u1 = solver.solve(n == 8192 ? u0 : truncate(u0, n)).slice(0, 0, n, n / 1024);
      const double seconds = t.seconds();
      if (n == 8192) reference = u1;
      const double err = (u1 - reference).norm().item<double>() / reference.norm().item<double>();
      std::printf("| %d | %ld | %ld | %.2f s | %.2e | %.3g | %.3g |\n", i, static_cast<long>(n),
                  static_cast<long>(solver.steps()), seconds, err, u0.std().item<double>(),
                  u1.std().item<double>());
      std::fflush(stdout);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  physml::Environment env(argc, argv);
  physml::Options o("");
  const std::string which = o.get_string("bench", "ns-fft,darcy,samples");
  const double sigma = o.get_real("burgers_sigma", 625.0);
  const int samples = static_cast<int>(o.get_int("samples", 3));
  if (which.find("ns-fft") != std::string::npos) bench_ns_fft();
  if (which.find("darcy") != std::string::npos) bench_darcy();
  if (which.find("samples") != std::string::npos) bench_samples();
  if (which.find("burgers-resolution") != std::string::npos) bench_burgers_resolution(sigma, samples);
  physml::check_no_unused_options();
  return 0;
}
