#pragma once
/// \file sde.hpp
/// Stochastic differential equations dy = f(t, y) dt + g(t, y) dW (Itô) or ∘dW (Stratonovich)
/// for batches y [batch, d], with diagonal, scalar, additive or general noise, solved by
/// Euler–Maruyama, Milstein (derivative-free form), stochastic Heun, reversible Heun, and an
/// adaptive step-doubling scheme on top of any of them. Brownian increments come from a
/// BrownianInterval, so a path can be re-queried at any resolution.

#include "physml/solvers/diffeq/brownian.hpp"
#include "physml/solvers/diffeq/vector_field.hpp"

#include <ATen/core/Tensor.h>
#include <torch/arg.h>

#include <cstdint>
#include <memory>
#include <string>

namespace physml::solvers::diffeq {

/// Options of sdeint.
struct SdeOptions {
  /// "euler" (Euler–Maruyama; Itô or additive noise), "milstein" (diagonal/scalar/additive),
  /// "heun" (Stratonovich), "reversible_heun" (Stratonovich, Kidger et al. 2021).
  TORCH_ARG(std::string, method) = "euler";
  /// "ito" or "stratonovich".
  TORCH_ARG(std::string, sde_type) = "ito";
  /// "diagonal": g -> [batch, d], dW [batch, d];  "scalar": g -> [batch, d], dW [batch, 1];
  /// "additive" / "general": g -> [batch, d, m], dW [batch, m] (additive: g independent of y).
  TORCH_ARG(std::string, noise_type) = "diagonal";
  /// Brownian channels m for additive/general noise (diagonal: d, scalar: 1).
  TORCH_ARG(std::int64_t, brownian_size) = 0;
  /// Fixed step (each output interval is split into ceil(span/dt) equal steps) or first step.
  TORCH_ARG(double, dt) = 1e-2;
  /// Adaptive step doubling: a step of h is compared with two steps of h/2 on the same
  /// Brownian path; accepted when the RMS of the difference over atol + rtol|y| is <= 1.
  TORCH_ARG(bool, adaptive) = false;
  TORCH_ARG(double, rtol) = 1e-3;
  TORCH_ARG(double, atol) = 1e-4;
  TORCH_ARG(double, dtmin) = 1e-8;
  TORCH_ARG(std::int64_t, max_steps) = 1000000;
  /// Seed of the Brownian Interval created when none is passed.
  TORCH_ARG(std::uint64_t, seed) = 0;
};

/// Work counters of sdeint.
struct SdeStats {
  std::int64_t steps = 0, rejected = 0, drift_evals = 0, diffusion_evals = 0;
};

/// Solve the SDE from y0 [batch, d] over the strictly increasing times ts; returns
/// [len(ts), batch, d]. `bm` supplies dW (shape [batch, d], [batch, 1] or [batch, m] by noise
/// type) and must cover [ts[0], ts[-1]]; if null, a BrownianInterval seeded with options.seed()
/// is created with the grid of the steps: equal fixed steps h -> cells of h
/// (BrownianInterval::for_step, one node per step); other fixed steps -> 2^-10 of the smallest;
/// adaptive -> dtmin. Gradients: backpropagation through the solver.
at::Tensor sdeint(const VectorField& drift, const VectorField& diffusion, const at::Tensor& y0, const at::Tensor& ts,
                  const SdeOptions& options = {}, std::shared_ptr<BrownianInterval> bm = nullptr,
                  SdeStats* stats = nullptr);

}  // namespace physml::solvers::diffeq
