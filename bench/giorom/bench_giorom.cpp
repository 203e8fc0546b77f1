// bench_giorom: time per frame of the learned particle simulators against the number of
// points, in one run (issue 15's speed report; untrained networks: the cost does not depend on
// the weights).
//
//  1. GIOROM: one step of the time stepper on a sparse graph of S points (default 1000) plus
//     the point evaluator at Q query points, Q = 1k .. 100k: the stepper's cost is fixed, the
//     evaluator's grows with Q (a splat of S points and a gather at Q points).
//  2. GNS (published size: latent 128, 10 message-passing steps) on the full graph of N = Q
//     points (radius for a mean degree of about 16), up to -gns_max points.
//  3. The MLS-MPM simulator: one frame (-substeps substeps) of a 3-D jelly block of about N
//     particles, float64, the project's OpenMP kernels.
//
// 3-D, float32 networks, points uniform in [0.2, 0.8]^3, -threads threads (default 1).
// Usage: bench_giorom [-threads T] [-sparse 1000] [-gns_max 30000] [-substeps 10] [-reps 3]
#include "physml/core/blas.hpp"
#include "physml/core/environment.hpp"
#include "physml/core/log.hpp"
#include "physml/core/options.hpp"
#include "physml/operators/giorom.hpp"
#include "physml/operators/gns.hpp"
#include "physml/simulators/mpm.hpp"

#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <vector>

namespace ops = physml::operators;
namespace sim = physml::simulators;

namespace {

double best_of(int reps, const std::function<void()>& f) {
  f();  // warm-up
  double best = 1e300;
  for (int r = 0; r < reps; ++r) {
    physml::Timer t;
    f();
    best = std::min(best, t.seconds());
  }
  return best;
}

/// Radius for a mean degree of `degree` among n uniform points in a box of volume 0.216.
double radius_for(std::int64_t n, double degree) {
  return std::cbrt(degree * 0.216 / (static_cast<double>(n) * 4.0 / 3.0 * M_PI));
}

ops::ParticleWindow window(std::int64_t n, std::uint64_t seed) {
  auto g = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto x0 = 0.2 + 0.6 * torch::rand({n, 3}, g, torch::kFloat);
  const auto v = 1e-3 * torch::randn({n, 3}, g, torch::kFloat);
  std::vector<at::Tensor> frames;
  for (int k = 0; k < 6; ++k) frames.push_back(x0 + static_cast<float>(k) * v);
  return {torch::stack(frames), torch::zeros({n}, torch::kLong), {}};
}

}  // namespace

int main(int argc, char** argv) {
  physml::Environment env(argc, argv);
  const physml::Options o;
  const auto threads = o.get_int("threads", 1);
  const auto sparse = o.get_int("sparse", 1000);
  const auto gns_max = o.get_int("gns_max", 30000);
  const auto substeps = o.get_int("substeps", 10);
  const int reps = static_cast<int>(o.get_int("reps", 3));
  physml::set_num_threads(static_cast<int>(threads));
  torch::NoGradGuard ng;
  torch::manual_seed(0);

  const double r_sparse = radius_for(sparse, 16);
  ops::GIOROM giorom(ops::GIOROMOptions()
                         .inputs(ops::ParticleInputOptions().dim(3).radius(r_sparse).noise(0))
                         .latent_grid(16)
                         .gno_radius(0.07));
  giorom->eval();
  ops::PointEvaluator evaluator(ops::PointEvaluatorOptions().dim(3).grid(32));
  evaluator->eval();
  const auto w = window(sparse, 1);
  std::int64_t edges = giorom->inputs(w).edge_index.size(1);
  const double t_step = best_of(reps, [&] { giorom->step(w); });
  std::printf("GIOROM time stepper: %lld sparse points, radius %.4f (%lld edges), latent grid 16^3, %lld parameters: "
              "%.2f ms per step\n\n",
              static_cast<long long>(sparse), r_sparse, static_cast<long long>(edges),
              static_cast<long long>([&] {
                std::int64_t n = 0;
                for (const auto& p : giorom->parameters()) n += p.numel();
                return n;
              }()),
              1e3 * t_step);

  std::printf("| points N | GIOROM evaluator [ms] | GIOROM step + evaluator [ms] | GNS full graph [ms] (edges) | MPM frame, %lld substeps [ms] (particles) |\n",
              static_cast<long long>(substeps));
  std::printf("|---|---|---|---|---|\n");
  ops::GNS gns{ops::GNSOptions().inputs(ops::ParticleInputOptions().dim(3).radius(0.05).noise(0))};
  gns->eval();
  for (std::int64_t n : {1000, 3000, 10000, 30000, 100000}) {
    auto g = at::make_generator<at::CPUGeneratorImpl>(2);
    const auto Xq = 0.2 + 0.6 * torch::rand({n, 3}, g, torch::kFloat);
    const auto Xs = w.positions[0], xs = w.positions[5];
    const double t_eval = best_of(reps, [&] { evaluator->evaluate(Xs, xs, Xq); });
    char gns_cell[96] = "(not run: -gns_max)";
    if (n <= gns_max) {
      ops::GNS full{ops::GNSOptions().inputs(ops::ParticleInputOptions().dim(3).radius(radius_for(n, 16)).noise(0))};
      full->eval();
      const auto wf = window(n, 3);
      const auto e = full->inputs(wf).edge_index.size(1);
      const double t = best_of(reps, [&] { full->step(wf); });
      std::snprintf(gns_cell, sizeof gns_cell, "%.1f (%lld)", 1e3 * t, static_cast<long long>(e));
    }
    // MPM: a cube of m^3 cells with 8 particles per cell, m = (n/8)^(1/3).
    const auto m = std::max<std::int64_t>(4, static_cast<std::int64_t>(std::llround(std::cbrt(static_cast<double>(n) / 8.0))));
    sim::MPMSimulator mpm(sim::MPMOptions(3).cells({2 * m}).dt(2e-4).threads(threads), sim::mpm_materials({"jelly"}));
    mpm.add_body(sim::MPMBody().shapes({sim::MPMShape::box({0.25, 0.25, 0.25}, {0.75, 0.75, 0.75})}).particles_per_cell_axis(2));
    const double t_mpm = best_of(reps, [&] {
      for (std::int64_t s = 0; s < substeps; ++s) mpm.substep();
    });
    std::printf("| %lld | %.2f | %.2f | %s | %.1f (%lld) |\n", static_cast<long long>(n), 1e3 * t_eval, 1e3 * (t_step + t_eval),
                gns_cell, 1e3 * t_mpm, static_cast<long long>(mpm.particles().size()));
    std::fflush(stdout);
  }
  return 0;
}
