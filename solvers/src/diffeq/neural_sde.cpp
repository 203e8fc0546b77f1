// Latent-SDE KL term (logqp) and Lipschitz control for SDE-GAN discriminators.
#include "physml/solvers/diffeq/neural_sde.hpp"

#include "physml/core/error.hpp"

#include <torch/torch.h>

namespace physml::solvers::diffeq {

LogqpSolution sdeint_logqp(const VectorField& posterior_drift, const VectorField& prior_drift,
                           const VectorField& diffusion, const at::Tensor& y0, const at::Tensor& ts,
                           const SdeOptions& options, std::shared_ptr<BrownianInterval> bm, SdeStats* stats) {
  PHYSML_CHECK(y0.defined() && y0.dim() == 2, "sdeint_logqp: y0 must be [batch, d], got dim ",
               y0.defined() ? y0.dim() : -1);
  PHYSML_CHECK(options.noise_type() == "diagonal", "sdeint_logqp: needs diagonal noise (g -> [batch, d]), got '",
               options.noise_type(), "'");
  const auto d = y0.size(1);
  // Augmented state [y, kl]: the integrand uses the posterior and prior drifts at the same (t, y).
  VectorField f_aug(
      [posterior_drift, prior_drift, diffusion, d](const at::Tensor& t, const at::Tensor& ya) {
        auto y = ya.narrow(1, 0, d);
        auto fq = posterior_drift(t, y), fp = prior_drift(t, y), g = diffusion(t, y);
        PHYSML_CHECK(fq.sizes() == y.sizes() && fp.sizes() == y.sizes() && g.sizes() == y.sizes(),
                     "sdeint_logqp: posterior drift, prior drift and diffusion must return [batch, d] = [", y.size(0),
                     ", ", d, "]");
        PHYSML_CHECK((g.detach() != 0).all().item<bool>(),
                     "sdeint_logqp: the diffusion vanishes at t = ", t[0].item<double>(),
                     "; the KL term needs g != 0 (use a positive diffusion, e.g. softplus or sigmoid)");
        auto u = (fq - fp) / g;
        return torch::cat({fq, 0.5 * u.pow(2).sum(1, true)}, 1);
      },
      [&] {
        auto p = posterior_drift.parameters();
        for (auto& q : prior_drift.parameters()) p.push_back(q);
        for (auto& q : diffusion.parameters()) p.push_back(q);
        return p;
      }());
  VectorField g_aug(
      [diffusion, d](const at::Tensor& t, const at::Tensor& ya) {
        auto g = diffusion(t, ya.narrow(1, 0, d));
        return torch::cat({g, torch::zeros({g.size(0), 1}, g.options())}, 1);
      },
      diffusion.parameters());
  auto y0a = torch::cat({y0, torch::zeros({y0.size(0), 1}, y0.options())}, 1);
  auto ys = sdeint(f_aug, g_aug, y0a, ts, options, std::move(bm), stats);
  return {ys.narrow(2, 0, d), ys.select(2, d)};
}

at::Tensor gaussian_kl(const at::Tensor& mean_q, const at::Tensor& logstd_q, const at::Tensor& mean_p,
                       const at::Tensor& logstd_p) {
  // KL = log(s_p / s_q) + (s_q^2 + (m_q - m_p)^2) / (2 s_p^2) - 1/2.
  auto vq = torch::exp(2 * logstd_q), vp = torch::exp(2 * logstd_p);
  auto kl = (logstd_p - logstd_q) + (vq + (mean_q - mean_p).pow(2)) / (2 * vp) - 0.5;
  return kl.sum(-1);
}

at::Tensor lipswish(const at::Tensor& x) { return 0.909 * x * torch::sigmoid(x); }

void clip_lipschitz_(torch::nn::Module& module) {
  torch::NoGradGuard ng;
  for (auto& m : module.modules(/*include_self=*/true)) {
    if (auto* lin = m->as<torch::nn::Linear>()) {
      const double lim = 1.0 / static_cast<double>(lin->options.out_features());
      lin->weight.clamp_(-lim, lim);
    }
  }
}

}  // namespace physml::solvers::diffeq
