#pragma once
/// \file neural_sde.hpp
/// Pieces of neural SDE models (Kidger, "On Neural Differential Equations", ch. on neural SDEs):
///   * the latent-SDE KL term: a posterior SDE solved together with the Girsanov log-ratio
///     against a prior SDE with the same diffusion (Li et al. 2020, torchsde's logqp), and the
///     KL divergence of the Gaussian initial conditions;
///   * Lipschitz control of an SDE-GAN discriminator: the 1-Lipschitz LipSwish activation and
///     weight clipping of every linear layer (Kidger et al. 2021, "Efficient and accurate
///     gradients for neural SDEs", used instead of a gradient penalty).

#include "physml/solvers/diffeq/sde.hpp"

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <memory>

namespace physml::solvers::diffeq {

/// Posterior path and its accumulated KL divergence from the prior.
struct LogqpSolution {
  at::Tensor ys;  ///< [len(ts), batch, d]: the posterior SDE solution
  at::Tensor kl;  ///< [len(ts), batch]: int_{ts[0]}^{t} 1/2 |u(s, y_s)|^2 ds, u = (f_post - f_prior) / g
};

/// Solve the posterior SDE dy = f_post(t, y) dt + g(t, y) dW (diagonal noise: g -> [batch, d])
/// and, along the same path, the Girsanov integrand of the prior dy = f_prior(t, y) dt + g dW:
///   KL(Q || P) on [t0, t] = E_Q int_{t0}^{t} 1/2 |(f_post - f_prior) / g|^2 ds  (Li et al. 2020, eq. 9).
/// Implemented by augmenting the state with one channel whose drift is the integrand and whose
/// diffusion is zero, so any sdeint method, Itô or Stratonovich (the difference of drifts is the
/// same in both), and backprop work unchanged. `bm`, if given, must have shape [batch, d + 1]
/// (its last channel is unused). g must not vanish on the path (error otherwise).
LogqpSolution sdeint_logqp(const VectorField& posterior_drift, const VectorField& prior_drift,
                           const VectorField& diffusion, const at::Tensor& y0, const at::Tensor& ts,
                           const SdeOptions& options = {}, std::shared_ptr<BrownianInterval> bm = nullptr,
                           SdeStats* stats = nullptr);

/// KL( N(mean_q, exp(logstd_q)^2) || N(mean_p, exp(logstd_p)^2) ) summed over the last
/// dimension, for diagonal Gaussians [batch, d] (broadcasting) -> [batch]. Used for the latent
/// SDE's initial condition z(t0).
at::Tensor gaussian_kl(const at::Tensor& mean_q, const at::Tensor& logstd_q, const at::Tensor& mean_p,
                       const at::Tensor& logstd_p);

/// LipSwish(x) = 0.909 x sigmoid(x) (Chen et al. 2019): the constant makes it 1-Lipschitz
/// (the largest slope of x sigmoid(x) is 1.0998).
at::Tensor lipswish(const at::Tensor& x);

/// Clip the weights of every torch::nn::Linear in `module` (recursively) to
/// [-1/out_features, 1/out_features] in place, so every column of W has absolute sum <= 1:
/// each linear map, hence an MLP of them with 1-Lipschitz activations (LipSwish, tanh), is
/// 1-Lipschitz in the l1 norm. Call after every discriminator optimiser step (SDE-GAN).
void clip_lipschitz_(torch::nn::Module& module);

}  // namespace physml::solvers::diffeq
