// Latent SDE (Li et al. 2020; Kidger's thesis, neural SDEs as VAEs) fitted to Ornstein–Uhlenbeck
// data dY = theta (mu - Y) dt + sigma dW observed at 33 times on [0, 2] with small noise.
// Model: a GRU encoder run backwards in time gives a context c(t) summarising the future
// observations; posterior q: z(0) ~ N(m(c0), s(c0)^2), dz = f_post(t, z, c(t)) dt + g(z) dW;
// prior p: z(0) ~ N(m_p, s_p^2), dz = f_prior(z) dt + g(z) dW (same diagonal diffusion);
// decoder x = W z + b with Gaussian likelihood. Loss = -log p(x | z) + KL(z0) + KL(paths),
// the path KL from the Girsanov integrand 1/2 |(f_post - f_prior)/g|^2 (sdeint_logqp).
// After training, samples of the *prior* SDE are compared with the exact OU marginals.
//
//   ./build/examples/latent_sde/latent_sde -threads 1 [-latent_iters 500] [-latent_batch 128]
//       [-latent_dim 4] [-latent_hidden 32] [-latent_lr 1e-2] [-latent_seed 0] [-latent_out dir]
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
#include "physml/solvers/diffeq/neural_sde.hpp"

namespace de = physml::solvers::diffeq;
namespace io = physml::io;

namespace {

// Data: OU with theta = 2, mu = 1, sigma = 0.6, Y0 ~ N(0, 0.3^2), observation noise 0.02.
constexpr double kTheta = 2.0, kMu = 1.0, kSigma = 0.6, kY0Std = 0.3, kObsStd = 0.02, kT = 2.0;
constexpr long kObs = 33;  // times k/16, k = 0..32: on the dyadic grid of the Brownian motion

/// Exact OU sampling at the grid times: Y_{t+h} = mu + (Y_t - mu) e^{-theta h} + sqrt(sigma^2 (1 - e^{-2 theta h}) / (2 theta)) N.
torch::Tensor sample_ou(long n, const torch::Tensor& ts, torch::Generator& gen) {
  const long T = ts.size(0);
  auto y = torch::empty({T, n}, torch::kDouble);
  y[0] = torch::randn({n}, gen, torch::kDouble) * kY0Std;
  for (long i = 1; i < T; ++i) {
    const double h = (ts[i] - ts[i - 1]).item<double>(), e = std::exp(-kTheta * h);
    y[i] = kMu + (y[i - 1] - kMu) * e +
           std::sqrt(kSigma * kSigma * (1 - e * e) / (2 * kTheta)) * torch::randn({n}, gen, torch::kDouble);
  }
  return y + kObsStd * torch::randn({T, n}, gen, torch::kDouble);  // [T, n]
}
double exact_mean(double t) { return kMu * (1 - std::exp(-kTheta * t)); }
double exact_var(double t) {
  const double e = std::exp(-2 * kTheta * t);
  return kY0Std * kY0Std * e + kSigma * kSigma * (1 - e) / (2 * kTheta) + kObsStd * kObsStd;
}

struct LatentSdeImpl : torch::nn::Module {
  LatentSdeImpl(long latent, long hidden, long context) : d(latent) {
    gru = register_module("gru", torch::nn::GRU(torch::nn::GRUOptions(1, context)));
    qz0 = register_module("qz0", torch::nn::Linear(context, 2 * latent));
    post1 = register_module("post1", torch::nn::Linear(latent + context + 1, hidden));
    post2 = register_module("post2", torch::nn::Linear(hidden, hidden));
    post3 = register_module("post3", torch::nn::Linear(hidden, latent));
    prior1 = register_module("prior1", torch::nn::Linear(latent, hidden));
    prior2 = register_module("prior2", torch::nn::Linear(hidden, hidden));
    prior3 = register_module("prior3", torch::nn::Linear(hidden, latent));
    // Diagonal diffusion: each g_i depends on z_i only (one small MLP per channel, batched).
    gw1 = register_parameter("gw1", torch::randn({latent, 16}) * 0.5);
    gb1 = register_parameter("gb1", torch::zeros({latent, 16}));
    gw2 = register_parameter("gw2", torch::randn({latent, 16}) * 0.1);
    gb2 = register_parameter("gb2", torch::zeros({latent}));
    pz0_mean = register_parameter("pz0_mean", torch::zeros({1, latent}));
    pz0_logstd = register_parameter("pz0_logstd", torch::zeros({1, latent}));
    dec = register_module("dec", torch::nn::Linear(latent, 1));
  }
  torch::Tensor prior_drift(const torch::Tensor& z) { return prior3(torch::softplus(prior2(torch::softplus(prior1(z))))); }
  torch::Tensor post_drift(const torch::Tensor& t, const torch::Tensor& z, const torch::Tensor& c) {
    auto in = torch::cat({z, c, t.view({-1, 1}).to(z.scalar_type())}, 1);
    return post3(torch::softplus(post2(torch::softplus(post1(in)))));
  }
  torch::Tensor diffusion(const torch::Tensor& z) {
    auto h = torch::softplus(z.unsqueeze(2) * gw1 + gb1);      // [B, d, 16]
    return torch::sigmoid((h * gw2).sum(2) + gb2);               // [B, d] in (0, 1)
  }
  long d;
  torch::nn::GRU gru{nullptr};
  torch::nn::Linear qz0{nullptr}, post1{nullptr}, post2{nullptr}, post3{nullptr}, prior1{nullptr}, prior2{nullptr},
      prior3{nullptr}, dec{nullptr};
  torch::Tensor gw1, gb1, gw2, gb2, pz0_mean, pz0_logstd;
};
TORCH_MODULE(LatentSde);

std::vector<double> col(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, torch::kDouble).contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

std::shared_ptr<de::BrownianInterval> brownian(long batch, long channels, std::uint64_t seed) {
  // [0, 2] with depth 6: grid 1/32, so the observation times and the steps dt = 1/32 are exact nodes.
  return std::make_shared<de::BrownianInterval>(0.0, kT, std::vector<std::int64_t>{batch, channels}, seed,
                                                torch::TensorOptions().dtype(torch::kFloat), 6);
}

/// Prior samples decoded to data space: [T, n].
torch::Tensor sample_prior(LatentSde& model, long n, const torch::Tensor& ts, std::uint64_t seed) {
  torch::NoGradGuard ng;
  auto z0 = model->pz0_mean + torch::exp(model->pz0_logstd) * torch::randn({n, model->d});
  de::VectorField f([&](const torch::Tensor&, const torch::Tensor& z) { return model->prior_drift(z); });
  de::VectorField g([&](const torch::Tensor&, const torch::Tensor& z) { return model->diffusion(z); });
  auto zs = de::sdeint(f, g, z0, ts, de::SdeOptions().method("euler").dt(1.0 / 32), brownian(n, model->d, seed));
  return model->dec(zs).squeeze(2);
}

/// Largest error of the sample mean and standard deviation against the exact OU marginals,
/// over the observation times.
std::pair<double, double> marginal_errors(const torch::Tensor& x, const torch::Tensor& ts) {
  double em = 0, es = 0;
  for (long i = 0; i < ts.size(0); ++i) {
    const double t = ts[i].item<double>();
    em = std::max(em, std::abs(x[i].mean().item<double>() - exact_mean(t)));
    es = std::max(es, std::abs(x[i].std().item<double>() - std::sqrt(exact_var(t))));
  }
  return {em, es};
}

}  // namespace

int run(int argc, char** argv) {
  physml::Environment env(argc, argv);
  physml::Options opt("latent_");
  const long iters = opt.get_int("iters", 500);
  const long batch = opt.get_int("batch", 128);
  const long latent = opt.get_int("dim", 4), hidden = opt.get_int("hidden", 32), context = opt.get_int("context", 16);
  const double lr = opt.get_real("lr", 1e-2);
  const long anneal = opt.get_int("kl_anneal", 200);
  const auto seed = static_cast<std::uint64_t>(opt.get_int("seed", 0));
  const std::string out = opt.get_string("out", "latent_sde_out");
  physml::check_no_unused_options();
  PHYSML_CHECK(iters >= 1, "-latent_iters must be >= 1, got ", iters);
  PHYSML_CHECK(batch >= 2, "-latent_batch must be >= 2, got ", batch);
  PHYSML_CHECK(latent >= 1 && hidden >= 1 && context >= 1, "-latent_dim, -latent_hidden, -latent_context must be >= 1");
  PHYSML_CHECK(lr > 0, "-latent_lr must be positive, got ", lr);
  PHYSML_CHECK(anneal >= 0, "-latent_kl_anneal must be >= 0, got ", anneal);
  std::filesystem::create_directories(out);
  physml::seed_everything(seed);

  auto ts = torch::linspace(0, kT, kObs, torch::kDouble);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(physml::derive_seed(seed, 1));
  auto train = sample_ou(1024, ts, gen).to(torch::kFloat);  // [T, 1024]
  auto test = sample_ou(4096, ts, gen);                     // held out, for the plot only

  LatentSde model(latent, hidden, context);
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(lr));
  const auto sde_opts = de::SdeOptions().method("euler").dt(1.0 / 32);
  auto [m0, s0] = marginal_errors(sample_prior(model, 4096, ts, physml::derive_seed(seed, 2)), ts);
  std::printf("latent SDE on OU (theta %.1f, mu %.1f, sigma %.1f): %ld observations on [0, %.0f], latent %ld,"
              " hidden %ld, context %ld, batch %ld, %ld iterations, Euler dt 1/32\n",
              kTheta, kMu, kSigma, kObs, kT, latent, hidden, context, batch, iters);
  std::printf("untrained prior: max |mean error| %.3f, max |std error| %.3f\n", m0, s0);

  std::vector<double> its, elbo_hist, kl_hist;
  physml::Timer timer;
  for (long it = 0; it < iters; ++it) {
    auto idx = torch::randint(train.size(1), {batch}, torch::kLong);
    auto x = train.index_select(1, idx);  // [T, B]
    // Encoder: GRU over the reversed sequence; ctx[i] summarises observations i..T-1.
    auto [h, hn] = model->gru->forward(x.flip(0).unsqueeze(2));
    (void)hn;
    auto ctx = h.flip(0);  // [T, B, context]
    auto q = model->qz0(ctx[0]);
    auto qm = q.narrow(1, 0, latent), qls = q.narrow(1, latent, latent);
    auto z0 = qm + torch::exp(qls) * torch::randn_like(qm);
    const double t_last = ts[-1].item<double>();
    de::VectorField post(
        [&](const torch::Tensor& t, const torch::Tensor& z) {
          // Context of the next observation at or after t (piecewise constant in t).
          auto i = torch::clamp(torch::ceil(t.to(torch::kDouble) / t_last * (kObs - 1) - 1e-9), 0, kObs - 1).to(torch::kLong);
          auto c = ctx.index_select(0, i.slice(0, 0, 1)).squeeze(0);
          return model->post_drift(t, z, c);
        });
    de::VectorField prior([&](const torch::Tensor&, const torch::Tensor& z) { return model->prior_drift(z); });
    de::VectorField g([&](const torch::Tensor&, const torch::Tensor& z) { return model->diffusion(z); });
    auto sol = de::sdeint_logqp(post, prior, g, z0, ts, sde_opts,
                                brownian(batch, latent + 1, physml::derive_seed(seed, 100 + it)));
    auto xhat = model->dec(sol.ys).squeeze(2);  // [T, B]
    const double obs_std = 0.05;                // likelihood scale (>= the data's observation noise)
    auto nll = (0.5 * ((x - xhat) / obs_std).pow(2) + std::log(obs_std) + 0.5 * std::log(2 * M_PI)).sum(0).mean();
    auto kl0 = de::gaussian_kl(qm, qls, model->pz0_mean, model->pz0_logstd).mean();
    auto klp = sol.kl[-1].mean();
    const double beta = anneal > 0 ? std::min(1.0, static_cast<double>(it + 1) / anneal) : 1.0;
    auto loss = nll + beta * (kl0 + klp);
    adam.zero_grad();
    loss.backward();
    adam.step();
    its.push_back(it);
    elbo_hist.push_back((nll + kl0 + klp).item<double>());
    kl_hist.push_back((kl0 + klp).item<double>());
    if (it % 50 == 0 || it + 1 == iters)
      std::printf("iter %4ld  -ELBO %.2f  nll %.2f  KL(z0) %.3f  KL(path) %.3f  beta %.2f  (%.0f s)\n", it,
                  elbo_hist.back(), nll.item<double>(), kl0.item<double>(), klp.item<double>(), beta, timer.seconds());
    std::fflush(stdout);
    if (it == iters / 2) {
      for (auto& group : adam.param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr / 3);
    }
  }
  const double train_s = timer.seconds();

  auto samples = sample_prior(model, 4096, ts, physml::derive_seed(seed, 3)).to(torch::kDouble);
  auto [m1, s1] = marginal_errors(samples, ts);
  auto [md, sd] = marginal_errors(test, ts);  // the data's own sampling error (4096 exact samples)
  std::printf("training: %ld iterations in %.0f s, final -ELBO %.2f\n", iters, train_s, elbo_hist.back());
  std::printf("prior samples (4096) vs exact OU marginals at the %ld times: max |mean error| %.3f (untrained %.3f),"
              " max |std error| %.3f (untrained %.3f); 4096 exact OU samples give %.3f / %.3f\n",
              kObs, m1, m0, s1, s0, md, sd);

  // Plots: sample paths of data and model, mean +- 2 std bands, loss curve.
  auto tv = col(ts);
  std::vector<io::Series> ss;
  for (long k = 0; k < 3; ++k) ss.push_back({"OU data " + std::to_string(k + 1), tv, col(test.select(1, k))});
  for (long k = 0; k < 3; ++k)
    ss.push_back({"prior sample " + std::to_string(k + 1), tv, col(samples.select(1, k)), true});
  io::LinePlotOptions lp;
  lp.title = "Ornstein-Uhlenbeck data and latent SDE samples";
  lp.xlabel = "t";
  lp.ylabel = "y";
  io::write_line_plot_png(out + "/samples.png", ss, lp);
  std::vector<double> em, ep, el, xm, xp, xl;
  for (long i = 0; i < kObs; ++i) {
    const double t = tv[static_cast<size_t>(i)], m = exact_mean(t), s = std::sqrt(exact_var(t));
    em.push_back(m), ep.push_back(m + 2 * s), el.push_back(m - 2 * s);
    const double sm = samples[i].mean().item<double>(), sv = samples[i].std().item<double>();
    xm.push_back(sm), xp.push_back(sm + 2 * sv), xl.push_back(sm - 2 * sv);
  }
  io::LinePlotOptions lb;
  lb.title = "Marginals: exact OU vs latent SDE prior (mean, mean +- 2 std)";
  lb.xlabel = "t";
  lb.ylabel = "y";
  io::write_line_plot_png(out + "/marginals.png",
                          {{"OU mean", tv, em}, {"OU +2 std", tv, ep}, {"OU -2 std", tv, el},
                           {"model mean", tv, xm, true}, {"model +2 std", tv, xp, true}, {"model -2 std", tv, xl, true}},
                          lb);
  io::LinePlotOptions ll;
  ll.title = "Latent SDE training: -ELBO and KL";
  ll.xlabel = "iteration";
  ll.ylabel = "nats per series";
  io::write_line_plot_png(out + "/loss.png", {{"-ELBO", its, elbo_hist}, {"KL", its, kl_hist}}, ll);
  std::printf("plots written to %s/{samples,marginals,loss}.png\n", out.c_str());
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "latent_sde: %s\n", e.what());
    return 1;
  }
}
