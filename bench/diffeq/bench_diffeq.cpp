// Benchmarks of the neural-DE solvers (results in docs/results-diffeq.md):
//  1. toy neural ODE (2-D state, MLP 2-50-2 tanh, batch 256, dopri5 at rtol 1e-3 and 1e-6):
//     time per solve and per forward+backward, forward/backward NFE for each gradient method;
//  2. peak memory of forward+backward against the number of steps, per gradient method
//     (each measurement in a forked child, peak RSS above the child's baseline);
//  3. Brownian sampling cost against the number of queries: sequential increments on [256, 2];
//     random (s, t) queries and a solver's dt = 0.01 steps on [256, 4] (docs/results-speed.md).
//  4. (--ode-overhead) the toy neural ODE's step-control overhead: solve time against the
//     same number of bare field evaluations, and a LibTorch op profile of one solve
//     (chrome trace in ode_profile.json; ops per step summarised by the bench).
//  5. (--side-by-side [reps]) the neural ODE toy and neural SDE of issue 14, as timed against
//     the Python reference by bench/side_by_side.py ("SBS key value" lines + tables).
// Usage: bench_diffeq [--quick | --brownian | --brownian-queries | --memory | --ode-overhead
//                      | --side-by-side [reps]]
//   (--brownian-queries: only the random / solver-query tables of section 3)
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "physml/core/environment.hpp"
#include "physml/core/log.hpp"
#include "physml/solvers/diffeq/brownian.hpp"
#include "physml/solvers/diffeq/ode.hpp"
#include "physml/solvers/diffeq/sde.hpp"

namespace de = physml::solvers::diffeq;

namespace {

struct MlpImpl : torch::nn::Module {
  explicit MlpImpl(torch::Dtype dt) {
    l1 = register_module("l1", torch::nn::Linear(2, 50));
    l2 = register_module("l2", torch::nn::Linear(50, 2));
    to(dt);
  }
  torch::Tensor forward(const torch::Tensor& y) { return l2(torch::tanh(l1(y))); }
  torch::nn::Linear l1{nullptr}, l2{nullptr};
};

long max_rss_kb() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return r.ru_maxrss;
}

long current_rss_kb() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  long pages = 0, rss = 0;
  if (f) {
    if (std::fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
    std::fclose(f);
  }
  return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

de::OdeOptions method_options(const std::string& g, double rtol) {
  auto o = de::OdeOptions().method("dopri5").rtol(rtol).atol(rtol * 1e-3);
  if (g == "adjoint") o.gradient("adjoint");
  if (g == "adjoint+seminorm") o.gradient("adjoint").seminorm(true);
  if (g == "checkpoint") o.gradient("checkpoint").checkpoints(8);
  return o;
}

void toy_neural_ode(int repeats) {
  torch::manual_seed(0);
  auto net = std::make_shared<MlpImpl>(torch::kDouble);
  // Scale the last layer so the field is non-trivial: a spiral-like flow.
  {
    torch::NoGradGuard ng;
    net->l2->weight.mul_(3.0);
  }
  de::VectorField f(net);
  auto y0 = torch::randn({256, 2}, torch::kDouble);
  auto ts = torch::linspace(0, 10, 11, torch::kDouble);
  std::printf("\n## Toy neural ODE: 2-D state, MLP 2-50-2 (tanh, float64), batch 256, t in [0, 10], 11 outputs, dopri5\n\n");
  std::printf("| rtol / atol | gradient | solve [ms] | fwd+bwd [ms] | fwd NFE | bwd NFE | max accepted steps |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  for (double rtol : {1e-3, 1e-6}) {
    for (std::string g : {"backprop", "adjoint", "adjoint+seminorm", "checkpoint"}) {
      auto o = method_options(g, rtol);
      double t_solve = 1e30, t_grad = 1e30;
      de::OdeStats st;
      std::int64_t bnfe = 0;
      for (int r = 0; r < repeats; ++r) {
        {
          torch::NoGradGuard ng;
          physml::Timer tm;
          auto sol = de::odesolve(f, y0, ts, de::OdeOptions(o).gradient("backprop"));
          t_solve = std::min(t_solve, tm.seconds());
          st = sol.stats;
        }
        net->zero_grad();
        physml::Timer tm;
        auto sol = de::odesolve(f, y0, ts, o);
        sol.ys.pow(2).mean().backward();
        t_grad = std::min(t_grad, tm.seconds());
        bnfe = g == "backprop" ? 0 : *sol.stats.backward_nfe;
      }
      std::printf("| %.0e / %.0e | %s | %.1f | %.1f | %ld | %s | %ld |\n", rtol, rtol * 1e-3, g.c_str(), 1e3 * t_solve,
                  1e3 * t_grad, static_cast<long>(st.nfe),
                  g == "backprop" ? "(autograd)" : std::to_string(bnfe).c_str(), static_cast<long>(st.accepted_max));
    }
  }
}

/// Peak RSS growth of one forward+backward with `steps` fixed steps (measured in a child).
long memory_child(const std::string& g, int steps) {
  int fd[2];
  if (pipe(fd) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    torch::manual_seed(0);
    auto net = std::make_shared<MlpImpl>(torch::kFloat);
    de::VectorField f(net);
    auto y0 = torch::randn({256, 2});
    auto ts = torch::tensor({0.0, 1.0}, torch::kDouble);
    const double dt = 1.0 / steps;
    de::OdeOptions o;
    if (g == "reversible") o.method("reversible_heun").dt(dt).gradient("reversible");
    else if (g == "backprop(rev. Heun)") o.method("reversible_heun").dt(dt);
    else o.method("rk4").dt(dt).adaptive(false).gradient(g.rfind("checkpoint", 0) == 0 ? "checkpoint" : g);
    if (g.rfind("checkpoint", 0) == 0) o.checkpoints(8);
    if (g == "checkpoint(binomial)") o.checkpoint_schedule("binomial");
    if (g.find("shared") != std::string::npos) {
      o.step_control("shared");
      if (g.rfind("checkpoint", 0) == 0) o.gradient("checkpoint");
      if (g.rfind("adjoint", 0) == 0) o.gradient("adjoint");
      if (g.rfind("backprop", 0) == 0) o.gradient("backprop");
    }
    // Warm-up at small size so allocator/threads are in the baseline.
    { auto o2 = o; o2.dt(0.5); de::odeint(f, y0, ts, o2).sum().backward(); }
    long base = current_rss_kb();
    de::odeint(f, y0, ts, o).sum().backward();
    long grow = max_rss_kb() - base;
    if (write(fd[1], &grow, sizeof grow) != sizeof grow) _exit(1);
    _exit(0);
  }
  close(fd[1]);
  long grow = -1;
  if (read(fd[0], &grow, sizeof grow) != sizeof grow) grow = -1;
  close(fd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return grow;
}

void memory_vs_steps(bool quick) {
  std::printf("\n## Peak memory growth of forward+backward vs number of steps (batch 256, MLP 2-50-2 float32, MB)\n\n");
  std::vector<int> steps = quick ? std::vector<int>{100, 1000} : std::vector<int>{100, 1000, 4000};
  std::printf("| gradient |");
  for (int s : steps) std::printf(" %d steps |", s);
  std::printf("\n|---|");
  for (size_t i = 0; i < steps.size(); ++i) std::printf("---|");
  std::printf("\n");
  for (std::string g : {"backprop", "adjoint", "checkpoint", "checkpoint(binomial)", "backprop(rev. Heun)", "reversible",
                        "backprop(shared)", "adjoint(shared)", "checkpoint(shared)"}) {
    std::printf("| %s (%s) |", g.c_str(), g.find("ev") != std::string::npos ? "reversible_heun" : "rk4");
    for (int s : steps) std::printf(" %.1f |", memory_child(g, s) / 1024.0);
    std::printf("\n");
  }
}

void brownian_cost(bool quick) {
  std::printf("\n## Brownian motion: cost of n sequential increments W(t_k, t_k+1) on [0, 1], shape [256, 2]\n\n");
  std::printf("| n queries | BrownianInterval depth 40 [us/query] | BrownianInterval depth 20 [us/query] | VirtualBrownianTree tol 1e-6 [us/query] | plain randn [us/query] |\n");
  std::printf("|---|---|---|---|---|\n");
  std::vector<int> ns = quick ? std::vector<int>{100, 1000} : std::vector<int>{100, 1000, 10000};
  for (int n : ns) {
    double us[4];
    {
      de::BrownianInterval bm(0, 1, {256, 2}, 1);
      physml::Timer tm;
      for (int k = 0; k < n; ++k) bm.increment(double(k) / n, double(k + 1) / n);
      us[0] = 1e6 * tm.seconds() / n;
    }
    {
      de::BrownianInterval bm(0, 1, {256, 2}, 1, torch::kDouble, 20);
      physml::Timer tm;
      for (int k = 0; k < n; ++k) bm.increment(double(k) / n, double(k + 1) / n);
      us[3] = 1e6 * tm.seconds() / n;
    }
    {
      de::VirtualBrownianTree bm(0, 1, {256, 2}, 1, 1e-6);
      physml::Timer tm;
      for (int k = 0; k < n; ++k) bm.increment(double(k) / n, double(k + 1) / n);
      us[1] = 1e6 * tm.seconds() / n;
    }
    {
      physml::Timer tm;
      for (int k = 0; k < n; ++k) (void)(torch::randn({256, 2}, torch::kDouble) * std::sqrt(1.0 / n));
      us[2] = 1e6 * tm.seconds() / n;
    }
    std::printf("| %d | %.1f | %.1f | %.1f | %.1f |\n", n, us[0], us[3], us[1], us[2]);
  }
}

void ode_overhead() {
  torch::manual_seed(0);
  auto net = std::make_shared<MlpImpl>(torch::kDouble);
  {
    torch::NoGradGuard ng;
    net->l2->weight.mul_(3.0);
  }
  de::VectorField f(net);
  auto y0 = torch::randn({256, 2}, torch::kDouble);
  auto ts = torch::linspace(0, 10, 11, torch::kDouble);
  torch::NoGradGuard ng;
  std::printf("\n## Toy neural ODE step control: dopri5, batch 256, MLP 2-50-2 float64, no gradient\n\n");
  std::printf("| rtol | solve [ms] | NFE | step attempts | NFE bare evaluations [ms] | overhead per attempt [us] |\n|---|---|---|---|---|---|\n");
  for (double rtol : {1e-3, 1e-6}) {
    auto o = method_options("backprop", rtol);
    double t_solve = 1e30, t_eval = 1e30;
    de::OdeStats st;
    for (int r = 0; r < 5; ++r) {
      physml::Timer tm;
      auto sol = de::odesolve(f, y0, ts, o);
      t_solve = std::min(t_solve, tm.seconds());
      st = sol.stats;
    }
    for (int r = 0; r < 5; ++r) {
      physml::Timer tm;
      for (std::int64_t k = 0; k < st.nfe; ++k) (void)net->forward(y0);
      t_eval = std::min(t_eval, tm.seconds());
    }
    std::printf("| %.0e | %.2f | %ld | %ld | %.2f | %.0f |\n", rtol, 1e3 * t_solve, static_cast<long>(st.nfe),
                static_cast<long>(st.steps), 1e3 * t_eval, 1e6 * (t_solve - t_eval) / static_cast<double>(st.steps));
  }
  {
    torch::autograd::profiler::RecordProfile guard("ode_profile.json");
    (void)de::odesolve(f, y0, ts, method_options("backprop", 1e-3));
  }
  std::printf("\n(op profile of one rtol 1e-3 solve: ode_profile.json)\n");
}

// ------------------------------------------------------------------ side by side (bench/side_by_side.py)
// The problems of issue 14, with the Python reference in bench/reference/reference.py:
// machine-readable lines "SBS <key> <value>" for the driver, plus a readable table.

struct CubeMlpImpl : torch::nn::Module {  // dy/dt = MLP(y^3), MLP 2-50-2 tanh
  CubeMlpImpl() {
    l1 = register_module("l1", torch::nn::Linear(2, 50));
    l2 = register_module("l2", torch::nn::Linear(50, 2));
  }
  torch::Tensor forward(const torch::Tensor& y) { return l2(torch::tanh(l1(y.pow(3)))); }
  torch::nn::Linear l1{nullptr}, l2{nullptr};
};

struct Mlp4Impl : torch::nn::Module {  // 4-64-4 tanh
  Mlp4Impl() {
    l1 = register_module("l1", torch::nn::Linear(4, 64));
    l2 = register_module("l2", torch::nn::Linear(64, 4));
  }
  torch::Tensor forward(const torch::Tensor& y) { return l2(torch::tanh(l1(y))); }
  torch::nn::Linear l1{nullptr}, l2{nullptr};
};

std::int64_t count_params(const torch::nn::Module& m) {
  std::int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

void side_by_side(int reps) {
  torch::manual_seed(0);
  auto net = std::make_shared<CubeMlpImpl>();
  de::VectorField f(net);
  auto y0 = torch::randn({256, 2}) * 0.5 + torch::tensor({2.0f, 0.0f});
  auto ts = torch::linspace(0, 10, 20, torch::kDouble);
  std::printf("SBS ode_params %ld\n", static_cast<long>(count_params(*net)));
  std::printf("\n## Neural ODE toy (issue 14): dy/dt = MLP(y^3), 2-50-2 tanh, float32, batch 256, 20 outputs in [0, 10], dopri5, atol = rtol 1e-2\n\n");
  std::printf("| rtol | gradient | step control | fwd [ms] | fwd+bwd [ms] | fwd NFE | bwd NFE | steps |\n|---|---|---|---|---|---|---|---|\n");
  for (double rtol : {1e-3, 1e-6}) {
    for (std::string g : {"backprop", "adjoint", "checkpoint"}) {
      for (std::string sc : {"per_element", "shared"}) {
        auto o = de::OdeOptions().method("dopri5").rtol(rtol).atol(rtol * 1e-2).gradient(g).step_control(sc);
        double best = 1e30, best_fwd = 1e30;
        de::OdeStats st;
        std::int64_t bnfe = 0;
        for (int r = 0; r < reps; ++r) {
          net->zero_grad();
          physml::Timer tm;
          auto sol = de::odesolve(f, y0, ts, o);
          auto loss = sol.ys[-1].pow(2).mean();
          best_fwd = std::min(best_fwd, tm.seconds());  // forward with the graph recorded
          loss.backward();
          best = std::min(best, tm.seconds());
          st = sol.stats;
          bnfe = *sol.stats.backward_nfe;
        }
        const std::string key = "ode_" + g + "_" + sc + "_" + (rtol > 1e-4 ? "1e-3" : "1e-6");
        std::printf("SBS %s_fwd_ms %.3f\n", key.c_str(), 1e3 * best_fwd);
        std::printf("SBS %s_ms %.3f\nSBS %s_nfe %ld\nSBS %s_bnfe %ld\n", key.c_str(), 1e3 * best, key.c_str(),
                    static_cast<long>(st.nfe), key.c_str(), static_cast<long>(bnfe));
        if (g == "backprop" && sc == "shared") {
          // The floor: the same number of bare field evaluations (with their graph) and one
          // backward through all of them, no solver.
          double floor = 1e30;
          for (int r = 0; r < reps; ++r) {
            net->zero_grad();
            physml::Timer tm;
            at::Tensor acc;
            for (std::int64_t e = 0; e < st.nfe; ++e) {
              auto fe = net->forward(y0 + 1e-3 * static_cast<double>(e));
              acc = acc.defined() ? acc + fe : fe;
            }
            acc.pow(2).mean().backward();
            floor = std::min(floor, tm.seconds());
          }
          std::printf("SBS ode_floor_%s_ms %.3f\n", rtol > 1e-4 ? "1e-3" : "1e-6", 1e3 * floor);
        }
        std::printf("| %.0e | %s | %s | %.2f | %.2f | %ld | %s | %ld |\n", rtol, g.c_str(), sc.c_str(), 1e3 * best_fwd, 1e3 * best,
                    static_cast<long>(st.nfe), g == "backprop" ? "(autograd)" : std::to_string(bnfe).c_str(),
                    static_cast<long>(st.steps));
      }
    }
  }

  // Neural SDE: 4-dim, diagonal noise, drift MLP 4-64-4 tanh, diffusion 0.3 sigmoid(MLP 4-64-4),
  // batch 256, Euler dt 0.01 on [0, 1], 11 outputs, loss mean(y(1)^2).
  torch::manual_seed(0);
  auto drift = std::make_shared<Mlp4Impl>();
  auto diff = std::make_shared<Mlp4Impl>();
  de::VectorField fd(drift);
  de::VectorField gd([diff](const at::Tensor&, const at::Tensor& y) { return 0.3 * torch::sigmoid(diff->forward(y)); },
                     diff->parameters());
  auto x0 = torch::randn({256, 4});
  auto sts = torch::linspace(0, 1, 11, torch::kDouble);
  std::printf("SBS sde_params %ld\n", static_cast<long>(count_params(*drift) + count_params(*diff)));
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    drift->zero_grad();
    diff->zero_grad();
    physml::Timer tm;
    auto ys = de::sdeint(fd, gd, x0, sts, de::SdeOptions().method("euler").dt(0.01).seed(static_cast<std::uint64_t>(r)));
    ys[-1].pow(2).mean().backward();
    best = std::min(best, tm.seconds());
  }
  std::printf("SBS sde_euler_ms %.3f\n", 1e3 * best);
  std::printf("\n## Neural SDE (issue 14), Euler, 100 steps, fwd+bwd: %.2f ms\n", 1e3 * best);
}

/// Microseconds per query of `n` random pairs 0 <= s < t <= 1 (fixed seed) on a fresh path.
double random_queries_us(de::BrownianInterval& bm, int n) {
  std::mt19937_64 rng(2024);
  std::uniform_real_distribution<double> U(0, 1);
  std::vector<std::pair<double, double>> q(n);
  for (auto& p : q) {
    double a = U(rng), b = U(rng);
    while (a == b) b = U(rng);
    p = {std::min(a, b), std::max(a, b)};
  }
  const auto splits0 = bm.splits();
  physml::Timer tm;
  for (const auto& p : q) (void)bm.increment(p.first, p.second);
  const double us = 1e6 * tm.seconds() / n;
  std::fprintf(stderr, "  [depth %d, %d queries: %.1f splits/query]\n", bm.depth(), n,
               static_cast<double>(bm.splits() - splits0) / n);
  return us;
}

void brownian_queries() {
  // Depth 17 = ceil(log2(1 / 0.01)) + 10: the grid a solver with dt = 0.01 asks for
  // (BrownianInterval::depth_for_step(0, 1, 0.01)).
  const std::vector<std::int64_t> shape{256, 4};
  std::printf("\n## Brownian Interval: random queries, n pairs 0 <= s < t <= 1, shape [256, 4], float64 [us/query]\n\n");
  std::printf("| n queries | depth 40 (default) | depth 20 | depth 17 | VirtualBrownianTree depth 20 |\n|---|---|---|---|---|\n");
  for (int n : {100, 1000}) {
    double us[4];
    int k = 0;
    for (int depth : {40, 20, 17}) {
      de::BrownianInterval bm(0, 1, shape, 1, torch::kDouble, depth);
      us[k++] = random_queries_us(bm, n);
    }
    de::VirtualBrownianTree v(0, 1, shape, 1, std::ldexp(1.0, -20));
    us[k] = random_queries_us(v, n);
    std::printf("| %d | %.1f | %.1f | %.1f | %.1f |\n", n, us[0], us[1], us[2], us[3]);
  }
  std::printf("\n## Brownian Interval: a solver's sequential queries W(k dt, (k+1) dt), dt = 0.01 on [0, 1], shape [256, 4] [us/query]\n\n");
  std::printf("| dtype | depth 40 (default) | depth 17 | for_step(dt) (what sdeint builds) | VirtualBrownianTree depth 17 | plain randn |\n|---|---|---|---|---|---|\n");
  for (auto dtype : {torch::kDouble, torch::kFloat}) {
    double us[5];
    int k = 0;
    for (int depth : {40, 17}) {
      de::BrownianInterval bm(0, 1, shape, 1, dtype, depth);
      physml::Timer tm;
      for (int j = 0; j < 100; ++j) (void)bm.increment(0.01 * j, 0.01 * (j + 1));
      us[k++] = 1e6 * tm.seconds() / 100;
    }
    {
      auto bm = de::BrownianInterval::for_step(0, 1, 0.01, shape, 1, dtype);
      physml::Timer tm;
      for (int j = 0; j < 100; ++j) (void)bm->increment(0.01 * j, 0.01 * (j + 1));
      us[k++] = 1e6 * tm.seconds() / 100;
    }
    {
      de::VirtualBrownianTree v(0, 1, shape, 1, std::ldexp(1.0, -17), dtype);
      physml::Timer tm;
      for (int j = 0; j < 100; ++j) (void)v.increment(0.01 * j, 0.01 * (j + 1));
      us[k++] = 1e6 * tm.seconds() / 100;
    }
    {
      physml::Timer tm;
      for (int j = 0; j < 100; ++j) (void)(torch::randn(shape, dtype) * 0.1);
      us[k++] = 1e6 * tm.seconds() / 100;
    }
    std::printf("| %s | %.1f | %.1f | %.1f | %.1f | %.1f |\n", dtype == torch::kDouble ? "float64" : "float32", us[0],
                us[1], us[2], us[3], us[4]);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const bool only_brownian = argc > 1 && std::strcmp(argv[1], "--brownian") == 0;
  const bool only_memory = argc > 1 && std::strcmp(argv[1], "--memory") == 0;
  const bool only_queries = argc > 1 && std::strcmp(argv[1], "--brownian-queries") == 0;
  const bool only_ode_overhead = argc > 1 && std::strcmp(argv[1], "--ode-overhead") == 0;
  physml::EnvironmentOptions eo;
  eo.threads = 1;
  physml::Environment env(argc, argv, eo);
  std::printf("# bench_diffeq (1 thread)\n");
  if (only_memory) {
    memory_vs_steps(false);
    return 0;
  }
  if (only_ode_overhead) {
    ode_overhead();
    return 0;
  }
  if (argc > 1 && std::strcmp(argv[1], "--side-by-side") == 0) {
    side_by_side(argc > 2 ? std::max(1, std::atoi(argv[2])) : 5);
    return 0;
  }
  if (only_queries) {
    brownian_queries();
    return 0;
  }
  if (!only_brownian) {
    toy_neural_ode(quick ? 1 : 3);
    memory_vs_steps(quick);
  }
  brownian_cost(quick);
  brownian_queries();
  return 0;
}
