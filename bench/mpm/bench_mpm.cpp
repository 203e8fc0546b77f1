// bench_mpm: throughput of the forward MLS-MPM substep (3-D, float64, NCLaw's jelly: fixed
// corotated, E = 1e5 Pa, nu = 0.2) at about 1k, 10k and 100k particles, 1 and 2 OpenMP threads.
//
// Scene: a cube of m^3 particles (8 per cell, m = 10, 22, 46) of side 0.5 m in the middle of
// [0, 1]^3 on an m^3 grid (dx = 1/m, about one grid node per particle), released at rest under
// gravity with NCLaw's 3-cell free-slip band (the 10^3 cube starts inside the band's reach); dt = 2e-4 s.
// Prints particle-substeps per second and the 2-thread / 1-thread ratio measured in the same run,
// for the cube at rest and spinning (F far from I: the law's polar decomposition does more work).
//
// Second table: the differentiable substep (simulators/mpm_diff.hpp: the law in LibTorch, the
// hand-written transfer and its adjoint) with a Neo-Hookean torch law and with NCLaw's elastic
// network, forward only (no graph) and forward + backward over a 10-substep rollout (the rate
// counts the forward substeps; the backward pass is included in the time).
//
// Usage: bench_mpm [min_seconds_per_row = 1.0] [--law | --profile | --checkpoints]
//   --law: only the NCLaw law's pieces (signed SVD, features, tau, tau + backward) per call.
//   --profile: LibTorch op profiles (chrome traces) of a 10-substep forward + backward, 1 and 2 threads.
//   --checkpoints: time and peak memory of a 100-substep rollout's forward + backward by the number of
//     stored states (DifferentiableMPM::rollout: the whole graph, binomial checkpointing with 32, 8, 4).

#include "physml/core/blas.hpp"
#include "physml/core/environment.hpp"
#include "physml/core/log.hpp"
#include "physml/operators/nclaw.hpp"
#include "physml/simulators/mpm.hpp"
#include "physml/simulators/mpm_diff.hpp"

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <malloc.h>
#include <string>
#include <vector>

using namespace physml::simulators;

namespace {

/// Particle-substeps per second for an m^3 jelly cube with `threads` threads; `spinning`: the
/// cube turns at omega = (40, 40, 40) rad/s (69 rad/s about (1, 1, 1)) and is timed after 100 substeps
/// (1.4 rad), so F is far from I, as in NCLaw's training scene (at rest F stays near I, where the polar
/// decomposition and the SVD converge in fewer iterations).
double measure(int64_t m, int64_t threads, double min_seconds, int64_t& particles, int64_t& substeps,
               bool spinning = false) {
  MPMSimulator sim(MPMOptions(3).cells({m}).dt(2e-4).threads(threads), mpm_materials({"jelly"}));
  MPMBody body = MPMBody().shapes({MPMShape::box({0.25, 0.25, 0.25}, {0.75, 0.75, 0.75})}).particles_per_cell_axis(2);
  if (spinning) body.angular_velocity({40.0, 40.0, 40.0});
  sim.add_body(body);
  particles = sim.particles().size();
  for (int s = 0; s < (spinning ? 100 : 3); ++s) sim.substep();  // warm-up: grids allocated, pages touched
  physml::Timer timer;
  substeps = 0;
  while (substeps < 5 || timer.seconds() < min_seconds) {
    sim.substep();
    ++substeps;
  }
  return static_cast<double>(particles) * static_cast<double>(substeps) / timer.seconds();
}

/// Particle-substeps per second of the differentiable substep: `law` "neo_hookean" or
/// "nclaw"; `backward`: 10-substep rollouts with gradients and backward().
double measure_diff(int64_t m, int64_t threads, const std::string& law_kind, bool backward, double min_seconds,
                    int64_t& particles, torch::Dtype dtype = torch::kDouble) {
  physml::set_num_threads(static_cast<int>(threads));  // LibTorch and OpenBLAS
  MPMOptions o = MPMOptions(3).cells({m}).dt(2e-4).threads(threads);
  MPMSimulator sim(o, mpm_materials({"jelly"}));
  sim.add_body(MPMBody().shapes({MPMShape::box({0.25, 0.25, 0.25}, {0.75, 0.75, 0.75})}).particles_per_cell_axis(2));
  particles = sim.particles().size();
  DifferentiableMPM mpm(o, sim.particles());
  auto mu = torch::tensor(4.1667e4, torch::kDouble), lambda = torch::tensor(2.7778e4, torch::kDouble);
  std::shared_ptr<physml::operators::NCLawElasticImpl> net;
  TorchLaw law;
  if (law_kind == "nclaw") {
    net = std::make_shared<physml::operators::NCLawElasticImpl>();
    net->to(dtype);
    law = nclaw_law(net);
  } else {
    mu.requires_grad_(backward);
    law = neo_hookean_law(mu, lambda);
  }
  const int64_t K = 10;
  int64_t substeps = 0;
  physml::Timer timer;
  while (substeps < 2 * K || timer.seconds() < min_seconds) {
    auto s = DifferentiableMPM::state_of(sim.particles());
    for (at::Tensor* t : {&s.x, &s.v, &s.C, &s.F}) *t = t->to(dtype);
    if (backward) {
      s.v.requires_grad_(true);
      for (int64_t k = 0; k < K; ++k) s = mpm.substep(s, law);
      s.x.sum().backward();
    } else {
      torch::NoGradGuard ng;
      for (int64_t k = 0; k < K; ++k) s = mpm.substep(s, law);
    }
    substeps += K;
  }
  return static_cast<double>(particles) * static_cast<double>(substeps) / timer.seconds();
}

/// Milliseconds per call of `f`, the best of three timed blocks of at least min_seconds / 3.
template <class Fn>
double ms_per_call(Fn&& f, double min_seconds) {
  f();  // warm-up
  double best = 1e300;
  for (int block = 0; block < 3; ++block) {
    physml::Timer timer;
    int64_t calls = 0;
    while (calls < 3 || timer.seconds() < min_seconds / 3) {
      f();
      ++calls;
    }
    best = std::min(best, 1e3 * timer.seconds() / static_cast<double>(calls));
  }
  return best;
}

/// Where the NCLaw law's time goes: its pieces on the deformation gradients of a jelly cube
/// after 200 substeps (F away from I), float64, per call.
void law_breakdown(int64_t m, int64_t threads, double min_seconds) {
  physml::set_num_threads(static_cast<int>(threads));  // LibTorch and OpenBLAS
  MPMSimulator sim(MPMOptions(3).cells({m}).dt(2e-4).threads(threads), mpm_materials({"jelly"}));
  sim.add_body(MPMBody().shapes({MPMShape::box({0.25, 0.25, 0.25}, {0.75, 0.75, 0.75})}).particles_per_cell_axis(2));
  for (int s = 0; s < 200; ++s) sim.substep();
  const auto F = DifferentiableMPM::state_of(sim.particles()).F.contiguous();
  const int64_t n = F.size(0);
  auto net = std::make_shared<physml::operators::NCLawElasticImpl>();
  net->to(torch::kDouble);
  const double svd = ms_per_call([&] { torch::NoGradGuard g; physml::operators::batch_signed_svd(F); }, min_seconds);
  const double feat = ms_per_call([&] { torch::NoGradGuard g; physml::operators::nclaw_features(F); }, min_seconds);
  const double fwd = ms_per_call([&] { torch::NoGradGuard g; net->forward(F); }, min_seconds);
  const double fb = ms_per_call(
      [&] {
        auto Fg = F.detach().requires_grad_(true);
        net->forward(Fg).sum().backward();
      },
      min_seconds);
  std::printf("  %9lld %8lld %10.3f %10.3f %10.3f %12.3f %14.3e %14.3e\n", static_cast<long long>(n),
              static_cast<long long>(threads), svd, feat, fwd, fb, 1e3 * static_cast<double>(n) / fwd,
              1e3 * static_cast<double>(n) / fb);
}

/// LibTorch op profile (chrome trace mpm_profile_<law>_t<threads>.json) of one 10-substep
/// forward + backward rollout of the differentiable substep at 22^3 particles.
void profile(const std::string& law_kind, int64_t threads) {
  physml::set_num_threads(static_cast<int>(threads));  // LibTorch and OpenBLAS
  MPMOptions o = MPMOptions(3).cells({22}).dt(2e-4).threads(threads);
  MPMSimulator sim(o, mpm_materials({"jelly"}));
  sim.add_body(MPMBody().shapes({MPMShape::box({0.25, 0.25, 0.25}, {0.75, 0.75, 0.75})}).particles_per_cell_axis(2));
  DifferentiableMPM mpm(o, sim.particles());
  auto mu = torch::tensor(4.1667e4, torch::kDouble).requires_grad_(true), lambda = torch::tensor(2.7778e4, torch::kDouble);
  auto net = std::make_shared<physml::operators::NCLawElasticImpl>();
  net->to(torch::kDouble);
  const TorchLaw law = law_kind == "nclaw" ? nclaw_law(net) : neo_hookean_law(mu, lambda);
  auto run = [&] {
    auto s = DifferentiableMPM::state_of(sim.particles());
    s.v.requires_grad_(true);
    for (int k = 0; k < 10; ++k) s = mpm.substep(s, law);
    s.x.sum().backward();
  };
  run();  // warm-up
  const std::string path = "mpm_profile_" + law_kind + "_t" + std::to_string(threads) + ".json";
  {
    torch::autograd::profiler::RecordProfile guard(path);
    run();
  }
  std::printf("# profile of a 10-substep forward + backward (%s law, %lld thread(s)): %s\n", law_kind.c_str(),
              static_cast<long long>(threads), path.c_str());
}

/// Peak resident memory since the last reset [MiB] (VmHWM of /proc/self/status); reset_peak()
/// restarts it from the current size (Linux: "5" to /proc/self/clear_refs). -1 if unavailable.
double peak_mib() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  double kib = -1;
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, "VmHWM:", 6) == 0) kib = std::strtod(line + 6, nullptr);
  std::fclose(f);
  return kib / 1024.0;
}
bool reset_peak() {
  std::FILE* f = std::fopen("/proc/self/clear_refs", "w");
  if (!f) return false;
  const bool ok = std::fputs("5", f) >= 0;
  return std::fclose(f) == 0 && ok;
}

/// Memory and time of one differentiable rollout (NCLaw elastic network, float64, 2 threads,
/// 10,648 particles) of `substeps` substeps with `checkpoints` stored states (0: the whole
/// graph kept), forward + backward of the sum of every substep's positions. peak < 0: the
/// peak could not be reset (no /proc/self/clear_refs), so it is not measured.
void checkpoint_row(int64_t substeps, int64_t checkpoints, double& seconds, double& peak, int64_t& stored) {
  physml::set_num_threads(2);
  MPMOptions o = MPMOptions(3).cells({22}).dt(2e-4).threads(2);
  MPMSimulator sim(o, mpm_materials({"jelly"}));
  sim.add_body(MPMBody().shapes({MPMShape::box({0.25, 0.25, 0.25}, {0.75, 0.75, 0.75})}).particles_per_cell_axis(2));
  DifferentiableMPM mpm(o, sim.particles());
  torch::manual_seed(0);
  auto net = std::make_shared<physml::operators::NCLawElasticImpl>();
  net->to(torch::kDouble);
  const TorchLaw law = nclaw_law(net);
  auto s = DifferentiableMPM::state_of(sim.particles());
  s.v.requires_grad_(true);
  {  // warm-up (thread pools, first-touch allocations), not timed
    const auto w = mpm.rollout(s, law, 2, MPMRolloutOptions().checkpoints(checkpoints), net->parameters());
    w.positions.sum().backward();
  }
  net->zero_grad();
  const bool reset = reset_peak();
  const double base = peak_mib();
  physml::Timer timer;
  const auto r = mpm.rollout(s, law, substeps, MPMRolloutOptions().checkpoints(checkpoints), net->parameters());
  r.positions.sum().backward();
  seconds = timer.seconds();
  peak = reset && base > 0 ? peak_mib() - base : -1;
  stored = checkpoints == 0 ? substeps + 1 : *r.stored_states_max;
}

}  // namespace

int main(int argc, char** argv) {
  physml::Environment env(argc, argv);
  double min_seconds = 1.0;
  bool only_law = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--law") {
      only_law = true;
    } else if (a == "--checkpoints") {
      const int64_t T = 100;
      std::printf("# differentiable rollout of %lld substeps, 10,648 particles, NCLaw elastic network, float64, 2 threads:\n"
                  "# forward + backward of the sum of the positions of every substep, by stored states\n",
                  static_cast<long long>(T));
      std::printf("# %11s %14s %10s %14s %16s\n", "checkpoints", "states stored", "seconds", "time / full", "peak MiB added");
      // Smallest memory first, the heap trimmed before each row, so that each row's peak is its own.
      const std::vector<int64_t> Ks{4, 8, 32, 0};
      std::vector<double> sec(Ks.size()), peak(Ks.size());
      std::vector<int64_t> stored(Ks.size());
      for (size_t i = 0; i < Ks.size(); ++i) {
        malloc_trim(0);
        checkpoint_row(T, Ks[i], sec[i], peak[i], stored[i]);
      }
      for (size_t i = Ks.size(); i-- > 0;)
        std::printf("  %11s %14lld %10.2f %14.2f %16s\n", Ks[i] == 0 ? "0 (graph)" : std::to_string(Ks[i]).c_str(),
                    static_cast<long long>(stored[i]), sec[i], sec[i] / sec.back(),
                    peak[i] < 0 ? "n/a" : std::to_string(static_cast<long long>(std::lround(peak[i]))).c_str());
      return 0;
    } else if (a == "--profile") {
      for (const char* law : {"neo_hookean", "nclaw"})
        for (int64_t t : {1, 2}) profile(law, t);
      return 0;
    } else {
      char* end = nullptr;
      min_seconds = std::strtod(argv[i], &end);
      if (end == argv[i] || *end != '\0' || !(min_seconds > 0)) {
        std::fprintf(stderr, "bench_mpm: unknown argument '%s'; usage: bench_mpm [min_seconds_per_row > 0] [--law | --profile | --checkpoints]\n",
                     argv[i]);
        return 2;
      }
    }
  }
  if (only_law) {
    std::printf("# NCLaw elastic law alone (13 features, MLP 64-64, GELU), float64, F of a jelly cube after 200 substeps\n");
    std::printf("# %8s %8s %10s %10s %10s %12s %14s %14s\n", "particles", "threads", "svd ms", "features ms",
                "tau ms", "tau+bwd ms", "particles/s fwd", "particles/s f+b");
    for (int64_t m : {22, 46})
      for (int64_t t : {1, 2}) law_breakdown(m, t, min_seconds);
    return 0;
  }
  std::printf("# bench_mpm: 3-D MLS-MPM forward substep, jelly (fixed corotated), float64, dt = 2e-4 s\n");
  std::printf("# %8s %6s %9s %8s %10s %16s %12s\n", "particles", "grid", "cube", "threads", "substeps",
              "particle-steps/s", "us/particle");
  for (bool spinning : {false, true})
    for (int64_t m : {10, 22, 46}) {
      double rate[2] = {0, 0};
      for (int64_t t : {1, 2}) {
        int64_t n = 0, steps = 0;
        rate[t - 1] = measure(m, t, min_seconds, n, steps, spinning);
        std::printf("  %9lld %3lld^3 %9s %8lld %10lld %16.3e %12.3f\n", static_cast<long long>(n),
                    static_cast<long long>(m), spinning ? "spinning" : "at rest", static_cast<long long>(t),
                    static_cast<long long>(steps), rate[t - 1], 1e6 / rate[t - 1]);
      }
      std::printf("  # speed-up 2 threads / 1 thread at %lld^3 particles: %.2f\n", static_cast<long long>(m),
                  rate[1] / rate[0]);
    }
  std::printf("\n# differentiable substep (mpm_diff.hpp), jelly cube as above, float64\n");
  std::printf("# %8s %6s %12s %12s %8s %16s\n", "particles", "grid", "law", "pass", "threads", "particle-steps/s");
  for (int64_t m : {10, 22, 46})
    for (const char* law : {"neo_hookean", "nclaw"})
      for (bool bwd : {false, true}) {
        double rate[2] = {0, 0};
        for (int64_t t : {1, 2}) {
          int64_t n = 0;
          rate[t - 1] = measure_diff(m, t, law, bwd, min_seconds, n);
          std::printf("  %9lld %3lld^3 %12s %12s %8lld %16.3e\n", static_cast<long long>(n), static_cast<long long>(m),
                      law, bwd ? "fwd+bwd" : "fwd", static_cast<long long>(t), rate[t - 1]);
        }
      }
  // The same substep in float32 (NCLaw's own precision; PhysML's training runs in float64).
  std::printf("\n# differentiable substep in float32 (state and network), NCLaw network\n");
  std::printf("# %8s %6s %12s %8s %16s\n", "particles", "grid", "pass", "threads", "particle-steps/s");
  for (int64_t m : {22, 46})
    for (bool bwd : {false, true})
      for (int64_t t : {1, 2}) {
        int64_t n = 0;
        const double rate = measure_diff(m, t, "nclaw", bwd, min_seconds, n, torch::kFloat);
        std::printf("  %9lld %3lld^3 %12s %8lld %16.3e\n", static_cast<long long>(n), static_cast<long long>(m),
                    bwd ? "fwd+bwd" : "fwd", static_cast<long long>(t), rate);
      }
  return 0;
}
