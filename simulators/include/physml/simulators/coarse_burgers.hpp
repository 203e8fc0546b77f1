#pragma once
/// \file coarse_burgers.hpp
/// Burgers u_t + (u²/2)_x = ν u_xx + f + c(u) on LibTorch FFTs, for learning closures c of
/// the unresolved scales: batched, device- and dtype-agnostic, and differentiable (autograd
/// runs through a whole rollout, so a closure can be trained a-posteriori on the error of the
/// trajectories it produces). Same equation, forcing and 2/3 dealiasing as BurgersSolver
/// (FFTW, the fine reference), with a fixed time step: Lawson integrating-factor RK4, the
/// viscous term exact.
///
/// Filtering: the coarse field ū on n points is the fine field's Fourier modes |k| < n/3
/// (the modes the dealiased coarse solver carries), so for a fine solution u
///   dū/dt = −P(u u_x) + ν ū_xx + f = −(ū ū_x)_dealiased + ν ū_xx + f + τ,
/// with the subgrid term τ = (ū ū_x)_dealiased − P(u u_x) (subgrid_term): the target of an
/// a-priori closure. Smagorinsky's eddy viscosity (smagorinsky_term) is the classical model.

#include "physml/simulators/burgers.hpp"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>

namespace physml::simulators {

/// A closure term c(ū, t): [batch, n] -> [batch, n] in physical space (the solver projects
/// it onto its resolved modes).
using BurgersClosure = std::function<at::Tensor(const at::Tensor& u, double t)>;

/// The resolved part of `u` [..., N] on n points: Fourier modes |k| < n/3, sampled at x_j = j/n
/// (N >= n; n = N keeps the dealiased modes). Differentiable; any dtype and device.
at::Tensor spectral_filter(const at::Tensor& u, std::int64_t n);

/// τ = (ū ū_x)_dealiased − P(u u_x) on n points for fine fields u [..., N] (ū = spectral_filter(u, n)):
/// what a closure must add to the coarse right-hand side to follow the filtered fine solution.
at::Tensor subgrid_term(const at::Tensor& u, std::int64_t n);

/// Smagorinsky's eddy-viscosity term ∂x((c_s Δ)² |u_x| u_x), Δ = 1/n, for u [..., n] periodic
/// on [0, 1) (spectral derivatives). Dissipative: ∫ u · term dx = −(c_s Δ)² ∫ |u_x|³ dx <= 0.
at::Tensor smagorinsky_term(const at::Tensor& u, double cs);

/// Fine solutions filtered to a coarse grid: what closures are trained and judged on.
struct FilteredBurgers {
  at::Tensor coarse;    ///< ū = spectral_filter(u, n) at the times: [trajectories, times, n] float64
  at::Tensor subgrid;   ///< τ = subgrid_term(u, n) at the times: same shape
  std::vector<double> times;
  /// The coarse solver's options of each trajectory: resolution n, the fine viscosity and
  /// that trajectory's forcing (CoarseBurgers(options[i], dt) follows trajectory i).
  std::vector<BurgersOptions> options;
};

/// Trajectories `first`..`first + count - 1` of the fine problem `fine` (u₀ from its GRF with
/// derive_seed(seed, index) as BurgersGenerator draws it; with `vary_forcing` each trajectory
/// also gets its own forcing seed derive_seed(fine.forcing_seed, index)), solved by the FFTW
/// BurgersSolver to `times` and filtered to n points.
FilteredBurgers filtered_burgers(const BurgersOptions& fine, std::int64_t n, const std::vector<double>& times,
                                 std::uint64_t seed, std::int64_t first, std::int64_t count, bool vary_forcing);

class CoarseBurgers {
public:
  /// options.resolution points (at least 8), options.viscosity and forcing; `dt` > 0 the fixed
  /// time step. Throws physml::Error naming a bad value.
  CoarseBurgers(const BurgersOptions& options, double dt);

  /// One step from time t of u [batch, n] (or [n]); adds closure(u, t) to the right-hand side
  /// when given. Throws physml::Error on a wrong shape or a closure output of another shape.
  at::Tensor step(const at::Tensor& u, double t, const BurgersClosure& closure = {}) const;
  /// `steps` steps from u0 [batch, n] at time t0, recording every `every`-th state:
  /// [batch, steps / every, n] (the states after steps every, 2·every, ...). Throws
  /// physml::NonFiniteError naming the step if the state becomes non-finite.
  at::Tensor rollout(const at::Tensor& u0, double t0, std::int64_t steps, std::int64_t every,
                     const BurgersClosure& closure = {}) const;
  /// The same for a batch whose sample b starts at time t0[b] with forcing forcings[b] (the
  /// windows of several trajectories in one rollout); the solver's own forcing is not used.
  /// The closure receives the time of sample 0.
  at::Tensor rollout(const at::Tensor& u0, const std::vector<double>& t0, const std::vector<BurgersForcing>& forcings,
                     std::int64_t steps, std::int64_t every, const BurgersClosure& closure = {}) const;
  /// −(u²/2)_x + f(t), dealiased: the resolved right-hand side without viscosity and closure.
  at::Tensor nonlinear(const at::Tensor& u, double t) const;

  std::int64_t resolution() const { return n_; }
  double dt() const { return dt_; }
  const BurgersOptions& options() const { return options_; }
  const BurgersForcing& forcing() const { return forcing_; }

private:
  /// One step of u [B, n] from t0[b] + offset with per-sample forcings.
  at::Tensor step_batch(const at::Tensor& u, const std::vector<double>& t0, const std::vector<BurgersForcing>& forcings,
                        double offset, const BurgersClosure& closure) const;
  BurgersOptions options_;
  BurgersForcing forcing_;
  std::int64_t n_ = 0;
  double dt_ = 0;
};

}  // namespace physml::simulators
