// SDE-GAN (Kidger et al. 2021, "Neural SDEs as infinite-dimensional GANs"; thesis, neural SDEs)
// on a time-dependent Ornstein–Uhlenbeck process
//   dY = (mu t - theta Y) dt + sigma (2 t / T) dW,  Y0 ~ U[-1, 1],  mu 0.02, theta 0.1, sigma 0.4,
// observed at t = 0, 1, ..., T - 1 (T = 64 in the reference setting; default 32 for a short run).
// Generator: initial noise V ~ N(0, I_5) -> z0 = zeta(V); Stratonovich SDE
//   dz = f(t, z) dt + g(t, z) o dW (hidden 16, Brownian motion of 3 channels, general noise),
// solved with reversible Heun, dt = 1; output Y = l(z).
// Discriminator: a neural CDE driven by the linear interpolation of (t / T, Y):
//   h0 = xi(X(0)), dh = F(t, h) dX(t), score = m . h(T).
// Wasserstein loss; the discriminator is kept Lipschitz by LipSwish activations and by clipping
// every linear layer after each step (clip_lipschitz_), not by a gradient penalty.
// Reports the marginal mean / std errors against the exact moments at several times, for the
// untrained and the trained generator; PNGs: sample paths, marginal histograms, loss curve.
//
//   ./build/examples/sde_gan/sde_gan -threads 1 [-gan_steps 600] [-gan_batch 128] [-gan_length 32] [-gan_lr_g 2e-4]
//       [-gan_lr_d 1e-3] [-gan_hidden 16] [-gan_swa_start steps/2] [-gan_seed 0] [-gan_out dir]
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "physml/core/environment.hpp"
#include "physml/core/error.hpp"
#include "physml/core/log.hpp"
#include "physml/core/options.hpp"
#include "physml/core/random.hpp"
#include "physml/io/png.hpp"
#include "physml/solvers/diffeq/cde.hpp"
#include "physml/solvers/diffeq/neural_sde.hpp"

namespace de = physml::solvers::diffeq;
namespace io = physml::io;

namespace {

constexpr double kMu = 0.02, kTheta = 0.1, kSigma = 0.4;
long kT = 32;      // observation times 0..T-1 (-gan_length)
long kSpan = 32;   // Brownian motion on [0, kSpan], kSpan = 2^kDepth >= T: integer times are dyadic nodes
int kDepth = 5;

/// Brownian motion resolved to 2^-extra_depth in time.
std::shared_ptr<de::BrownianInterval> brownian(long batch, long channels, std::uint64_t seed, int extra_depth,
                                               torch::Dtype dtype) {
  return std::make_shared<de::BrownianInterval>(0.0, static_cast<double>(kSpan), std::vector<std::int64_t>{batch, channels},
                                                seed, torch::TensorOptions().dtype(dtype), std::max(1, kDepth + extra_depth));
}

/// Real data: Euler–Maruyama with dt = 1/16 (additive noise: strong order 1) -> [n, T].
torch::Tensor sample_real(long n, const torch::Tensor& ts, std::uint64_t seed) {
  torch::NoGradGuard ng;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto y0 = torch::rand({n, 1}, gen, torch::kDouble) * 2 - 1;
  de::VectorField f([](const torch::Tensor& t, const torch::Tensor& y) { return kMu * t.view({-1, 1}) - kTheta * y; });
  de::VectorField g([](const torch::Tensor& t, const torch::Tensor& y) {
    return (kSigma * 2 * t / kT).view({-1, 1, 1}).expand({y.size(0), 1, 1}).contiguous();
  });
  auto ys = de::sdeint(f, g, y0, ts, de::SdeOptions().noise_type("additive").brownian_size(1).dt(1.0 / 16),
                       brownian(n, 1, seed + 1, 4, torch::kDouble));
  return ys.squeeze(2).t().contiguous();  // [n, T]
}

/// Exact marginal moments: m' = mu t - theta m, v' = -2 theta v + (2 sigma t / T)^2, m(0) = 0, v(0) = 1/3
/// (RK4 with 1000 steps per unit time; exact to ~1e-12).
std::pair<std::vector<double>, std::vector<double>> exact_moments() {
  std::vector<double> m{0.0}, v{1.0 / 3};
  double mm = 0, vv = 1.0 / 3;
  auto F = [](double t, double a, double b) {
    const double s = 2 * kSigma * t / kT;
    return std::pair<double, double>{kMu * t - kTheta * a, -2 * kTheta * b + s * s};
  };
  const int sub = 1000;
  for (long i = 1; i < kT; ++i) {
    for (int k = 0; k < sub; ++k) {
      const double t = (i - 1) + static_cast<double>(k) / sub, h = 1.0 / sub;
      auto k1 = F(t, mm, vv);
      auto k2 = F(t + h / 2, mm + h / 2 * k1.first, vv + h / 2 * k1.second);
      auto k3 = F(t + h / 2, mm + h / 2 * k2.first, vv + h / 2 * k2.second);
      auto k4 = F(t + h, mm + h * k3.first, vv + h * k3.second);
      mm += h / 6 * (k1.first + 2 * k2.first + 2 * k3.first + k4.first);
      vv += h / 6 * (k1.second + 2 * k2.second + 2 * k3.second + k4.second);
    }
    m.push_back(mm);
    v.push_back(vv);
  }
  return {m, v};
}

/// MLP in -> width -> out with LipSwish inside (and tanh at the end when `final_tanh`).
struct MlpImpl : torch::nn::Module {
  MlpImpl(long in, long width, long out, bool final_tanh) : tanh_out(final_tanh) {
    l1 = register_module("l1", torch::nn::Linear(in, width));
    l2 = register_module("l2", torch::nn::Linear(width, width));
    l3 = register_module("l3", torch::nn::Linear(width, out));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = l3(de::lipswish(l2(de::lipswish(l1(x)))));
    return tanh_out ? torch::tanh(y) : y;
  }
  bool tanh_out;
  torch::nn::Linear l1{nullptr}, l2{nullptr}, l3{nullptr};
};
TORCH_MODULE(Mlp);

struct GeneratorImpl : torch::nn::Module {
  GeneratorImpl(long noise, long hidden, long brownian_ch, long width)
      : V(noise), H(hidden), M(brownian_ch) {
    init = register_module("init", Mlp(noise, width, hidden, false));
    drift = register_module("drift", Mlp(1 + hidden, width, hidden, true));
    diffusion = register_module("diffusion", Mlp(1 + hidden, width, hidden * brownian_ch, true));
    readout = register_module("readout", torch::nn::Linear(hidden, 1));
  }
  /// n sample paths [n, T] at ts, Brownian seed `seed`.
  torch::Tensor forward(long n, const torch::Tensor& ts, std::uint64_t seed) {
    auto z0 = init(torch::randn({n, V}));
    auto tz = [](const torch::Tensor& t, const torch::Tensor& z) {
      return torch::cat({(t / kT).view({-1, 1}).to(z.scalar_type()), z}, 1);
    };
    de::VectorField f([&](const torch::Tensor& t, const torch::Tensor& z) { return drift(tz(t, z)); });
    de::VectorField g([&](const torch::Tensor& t, const torch::Tensor& z) {
      return diffusion(tz(t, z)).view({z.size(0), H, M});
    });
    auto opts = de::SdeOptions()
                    .method("reversible_heun")
                    .sde_type("stratonovich")
                    .noise_type("general")
                    .brownian_size(M)
                    .dt(1.0);
    auto zs = de::sdeint(f, g, z0, ts, opts, brownian(n, M, seed, 0, torch::kFloat));  // [T, n, H]
    return readout(zs).squeeze(2).t();
  }
  long V, H, M;
  Mlp init{nullptr}, drift{nullptr}, diffusion{nullptr};
  torch::nn::Linear readout{nullptr};
};
TORCH_MODULE(Generator);

struct DiscriminatorImpl : torch::nn::Module {
  DiscriminatorImpl(long hidden, long width) : H(hidden) {
    init = register_module("init", Mlp(2, width, hidden, false));
    field = register_module("field", Mlp(1 + hidden, width, hidden * 2, true));
    readout = register_module("readout", torch::nn::Linear(hidden, 1));
  }
  /// Mean score of paths y [n, T] observed at ts.
  torch::Tensor forward(const torch::Tensor& y, const torch::Tensor& ts) {
    const long n = y.size(0);
    auto tc = (ts.to(y.scalar_type()) / kT).view({1, -1, 1}).expand({n, ts.size(0), 1});
    auto X = de::CubicPath::linear(ts, torch::cat({tc, y.unsqueeze(2)}, 2));
    auto h0 = init(X.evaluate(ts[0].expand({n})));
    std::vector<torch::Tensor> params;
    for (auto& p : parameters()) params.push_back(p);
    de::VectorField F(
        [this](const torch::Tensor& t, const torch::Tensor& h) {
          auto in = torch::cat({(t / kT).view({-1, 1}).to(h.scalar_type()), h}, 1);
          return field(in).view({h.size(0), H, 2});
        },
        params);
    auto hs = de::cdeint(F, X, h0, torch::stack({ts[0], ts[-1]}), de::OdeOptions().method("reversible_heun").dt(1.0));
    return readout(hs[-1]).mean();
  }
  long H;
  Mlp init{nullptr}, field{nullptr};
  torch::nn::Linear readout{nullptr};
};
TORCH_MODULE(Discriminator);

std::vector<double> col(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, torch::kDouble).contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

std::vector<long> kReportTimes;  // 0, (T-1)/8, (T-1)/4, (T-1)/2, 3(T-1)/4, T-1

/// Mean over the report times of |mean error| and |std error| against the exact moments.
std::pair<double, double> moment_errors(const torch::Tensor& y, const std::vector<double>& m,
                                        const std::vector<double>& v, std::vector<std::pair<double, double>>* per = nullptr) {
  double em = 0, es = 0;
  for (long i : kReportTimes) {
    auto c = y.select(1, i).to(torch::kDouble);
    const double a = std::abs(c.mean().item<double>() - m[static_cast<size_t>(i)]);
    const double b = std::abs(c.std().item<double>() - std::sqrt(v[static_cast<size_t>(i)]));
    if (per) per->push_back({a, b});
    em += a / kReportTimes.size();
    es += b / kReportTimes.size();
  }
  return {em, es};
}

}  // namespace

int run(int argc, char** argv) {
  physml::Environment env(argc, argv);
  physml::Options opt("gan_");
  const long steps = opt.get_int("steps", 600);
  const long batch = opt.get_int("batch", 128);
  kT = opt.get_int("length", 32);
  const long hidden = opt.get_int("hidden", 16), width = opt.get_int("width", 16);
  const long noise = opt.get_int("noise", 5), bm_ch = opt.get_int("brownian", 3);
  const double lr_g = opt.get_real("lr_g", 2e-4), lr_d = opt.get_real("lr_d", 1e-3);
  const long dataset = opt.get_int("dataset", 8192);
  const long swa_start = opt.get_int("swa_start", steps / 2);
  const auto seed = static_cast<std::uint64_t>(opt.get_int("seed", 0));
  const std::string out = opt.get_string("out", "sde_gan_out");
  physml::check_no_unused_options();
  PHYSML_CHECK(steps >= 1, "-gan_steps must be >= 1, got ", steps);
  PHYSML_CHECK(kT >= 9 && kT <= 4096, "-gan_length must be in [9, 4096], got ", kT);
  kSpan = 1, kDepth = 0;
  while (kSpan < kT) kSpan *= 2, ++kDepth;
  for (double q : {0.0, 0.125, 0.25, 0.5, 0.75, 1.0}) kReportTimes.push_back(std::lround(q * (kT - 1)));
  PHYSML_CHECK(batch >= 2 && batch <= dataset, "-gan_batch must be in [2, -gan_dataset], got ", batch);
  PHYSML_CHECK(hidden >= 1 && width >= 1 && noise >= 1 && bm_ch >= 1,
               "-gan_hidden, -gan_width, -gan_noise, -gan_brownian must be >= 1");
  PHYSML_CHECK(lr_g > 0 && lr_d > 0, "-gan_lr_g and -gan_lr_d must be positive");
  PHYSML_CHECK(swa_start >= 0 && swa_start < steps, "-gan_swa_start must be in [0, -gan_steps), got ", swa_start);
  std::filesystem::create_directories(out);
  physml::seed_everything(seed);

  auto ts = torch::arange(kT, torch::kDouble);
  physml::Timer data_timer;
  auto real = sample_real(dataset, ts, physml::derive_seed(seed, 1)).to(torch::kFloat);
  auto heldout = sample_real(4096, ts, physml::derive_seed(seed, 2));
  auto [m_ex, v_ex] = exact_moments();
  std::printf("SDE-GAN on time-dependent OU: %ld real paths of %ld times (%.1f s to simulate); generator hidden %ld,"
              " noise %ld, Brownian %ld; discriminator neural CDE hidden %ld; batch %ld, %ld steps\n",
              dataset, kT, data_timer.seconds(), hidden, noise, bm_ch, hidden, batch, steps);

  Generator gen(noise, hidden, bm_ch, width);
  Discriminator disc(hidden, width);
  de::clip_lipschitz_(*disc);
  torch::optim::Adam opt_g(gen->parameters(), torch::optim::AdamOptions(lr_g).betas({0.5, 0.9}));
  torch::optim::Adam opt_d(disc->parameters(), torch::optim::AdamOptions(lr_d).betas({0.5, 0.9}));

  auto evaluate = [&](std::uint64_t s) {
    torch::NoGradGuard ng;
    return gen->forward(4096, ts, s).to(torch::kDouble);
  };
  auto untrained = evaluate(physml::derive_seed(seed, 3));
  auto [um, us] = moment_errors(untrained, m_ex, v_ex);
  std::printf("untrained generator: mean |mean error| %.3f, mean |std error| %.3f\n", um, us);

  std::vector<double> its, wdist;
  std::vector<torch::Tensor> swa;
  long swa_n = 0;
  physml::Timer timer;
  for (long it = 0; it < steps; ++it) {
    auto idx = torch::randint(dataset, {batch}, torch::kLong);
    auto fake = gen->forward(batch, ts, physml::derive_seed(seed, 1000 + it));
    auto gs = disc->forward(fake, ts), rs = disc->forward(real.index_select(0, idx), ts);
    auto loss = gs - rs;  // the discriminator minimises it; the generator maximises it
    opt_g.zero_grad();
    opt_d.zero_grad();
    loss.backward();
    for (auto& p : gen->parameters())
      if (p.grad().defined()) p.mutable_grad().neg_();
    opt_g.step();
    opt_d.step();
    de::clip_lipschitz_(*disc);
    if (it >= swa_start) {  // stochastic weight averaging of the generator (running mean)
      torch::NoGradGuard ng;
      auto ps = gen->parameters();
      for (size_t k = 0; k < ps.size(); ++k) {
        if (swa_n == 0) swa.push_back(ps[k].detach().clone());
        else swa[k].add_((ps[k].detach() - swa[k]) / static_cast<double>(swa_n + 1));
      }
      ++swa_n;
    }
    its.push_back(it);
    wdist.push_back((rs - gs).item<double>());
    if (it % 50 == 0 || it + 1 == steps) {
      std::printf("step %4ld  D(real) - D(fake) %.4f  (%.0f s)\n", it, wdist.back(), timer.seconds());
      std::fflush(stdout);
    }
  }
  const double train_s = timer.seconds();
  auto last = evaluate(physml::derive_seed(seed, 4));
  {
    torch::NoGradGuard ng;
    auto ps = gen->parameters();
    for (size_t k = 0; k < ps.size(); ++k) ps[k].copy_(swa[k]);
  }
  auto trained = evaluate(physml::derive_seed(seed, 4));  // the averaged generator
  std::vector<std::pair<double, double>> pt, pu, pr, pl;
  auto [tm, tsd] = moment_errors(trained, m_ex, v_ex, &pt);
  auto [lm, lsd] = moment_errors(last, m_ex, v_ex, &pl);
  moment_errors(untrained, m_ex, v_ex, &pu);
  auto [rm, rsd] = moment_errors(heldout, m_ex, v_ex, &pr);
  std::printf("training: %ld steps in %.0f s\n", steps, train_s);
  std::printf("generator weights averaged over steps %ld..%ld (SWA); errors: untrained / last weights / SWA\n",
              swa_start, steps - 1);
  std::printf("\n| t | exact mean | exact std | |mean err| untrained / last / SWA | |std err| untrained / last / SWA |"
              " |mean err|, |std err| of 4096 real paths |\n|---|---|---|---|---|---|\n");
  for (size_t k = 0; k < kReportTimes.size(); ++k) {
    const auto i = static_cast<size_t>(kReportTimes[k]);
    std::printf("| %ld | %.3f | %.3f | %.3f / %.3f / %.3f | %.3f / %.3f / %.3f | %.3f, %.3f |\n", kReportTimes[k],
                m_ex[i], std::sqrt(v_ex[i]), pu[k].first, pl[k].first, pt[k].first, pu[k].second, pl[k].second,
                pt[k].second, pr[k].first, pr[k].second);
  }
  std::printf("| average | | | %.3f / %.3f / %.3f | %.3f / %.3f / %.3f | %.3f, %.3f |\n", um, lm, tm, us, lsd, tsd, rm,
              rsd);

  // Plots.
  std::vector<double> tv = col(ts);
  std::vector<io::Series> ss;
  for (long k = 0; k < 3; ++k) ss.push_back({"real " + std::to_string(k + 1), tv, col(heldout[k])});
  for (long k = 0; k < 3; ++k) ss.push_back({"generated " + std::to_string(k + 1), tv, col(trained[k]), true});
  io::LinePlotOptions lp;
  lp.title = "Time-dependent OU: real vs SDE-GAN sample paths";
  lp.xlabel = "t";
  lp.ylabel = "y";
  io::write_line_plot_png(out + "/samples.png", ss, lp);
  std::vector<io::Series> hs;
  for (long ti : {(kT - 1) / 4, (5 * (kT - 1)) / 8, kT - 1}) {
    auto r = heldout.select(1, ti), g = trained.select(1, ti);
    const double lo = std::min(r.min().item<double>(), g.min().item<double>());
    const double hi = std::max(r.max().item<double>(), g.max().item<double>());
    const long bins = 30;
    const double w = (hi - lo) / bins;
    auto hist = [&](const torch::Tensor& c) {
      auto h = torch::histc(c, bins, lo, hi) / (c.size(0) * w);
      return col(h);
    };
    std::vector<double> centres;
    for (long b = 0; b < bins; ++b) centres.push_back(lo + (b + 0.5) * w);
    hs.push_back({"real t=" + std::to_string(ti), centres, hist(r)});
    hs.push_back({"generated t=" + std::to_string(ti), centres, hist(g), true});
  }
  io::LinePlotOptions lh;
  lh.title = "Marginal densities (histograms, 4096 paths)";
  lh.xlabel = "y";
  lh.ylabel = "density";
  io::write_line_plot_png(out + "/marginals.png", hs, lh);
  io::LinePlotOptions ll;
  ll.title = "SDE-GAN: Wasserstein estimate D(real) - D(fake)";
  ll.xlabel = "step";
  ll.ylabel = "D(real) - D(fake)";
  io::write_line_plot_png(out + "/loss.png", {{"D(real) - D(fake)", its, wdist}}, ll);
  std::printf("plots written to %s/{samples,marginals,loss}.png\n", out.c_str());
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sde_gan: %s\n", e.what());
    return 1;
  }
}
