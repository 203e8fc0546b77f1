#pragma once
/// \file ode.hpp
/// Ordinary differential equations dy/dt = f(t, y) for batches of states, solved with
/// explicit Runge–Kutta methods (Butcher tableaux), one adaptive step size per batch element
/// (PID controller, Hairer's initial step), cubic Hermite dense output, events, and four
/// gradient methods: backpropagation through the solver, the continuous (backsolve) adjoint
/// with the optional seminorm, a checkpointed discrete adjoint with bounded memory, and the
/// algebraically reversible Heun method with its exact O(1)-memory adjoint.

#include "physml/solvers/diffeq/vector_field.hpp"

#include <ATen/core/Tensor.h>
#include <torch/arg.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <string>
#include <vector>

namespace physml::solvers::diffeq {

/// Event function g(t, y): t [batch], y [batch, state...] -> [batch]. A batch element stops
/// at the first time its g changes sign; that time is located on the dense output.
using EventFunction = std::function<at::Tensor(const at::Tensor& t, const at::Tensor& y)>;

/// Options of odeint/odesolve (chainable setters, LibTorch style).
struct OdeOptions {
  /// "euler", "midpoint", "heun", "rk4" (fixed step; need dt), "bosh3", "dopri5", "tsit5",
  /// "dopri8" (adaptive), "reversible_heun" (fixed step, ODE version of Kidger et al. 2021),
  /// or "petsc:bdf", "petsc:arkimex", "petsc:rosw" (implicit, through PETSc TS; see petsc_ts.hpp).
  TORCH_ARG(std::string, method) = "dopri5";
  /// Relative / absolute tolerance of the per-element RMS error norm (adaptive methods).
  TORCH_ARG(double, rtol) = 1e-6;
  TORCH_ARG(double, atol) = 1e-8;
  /// Fixed step (fixed-step methods), or the first step of adaptive methods (0 = Hairer's choice).
  TORCH_ARG(double, dt) = 0.0;
  /// false: take fixed steps of dt even with an embedded (adaptive) method (for order studies).
  TORCH_ARG(bool, adaptive) = true;
  /// Smallest and largest allowed step; a step below dtmin is an error (0 = 1e-14 |t|).
  TORCH_ARG(double, dtmin) = 0.0;
  TORCH_ARG(double, dtmax) = 0.0;  ///< 0 = unlimited
  /// Step-size control of the adaptive methods:
  /// "per_element" (default; diffrax-like): each batch element has its own step size, error
  ///   norm and accept/reject decision (RMS over that element's components);
  /// "shared" (torchdiffeq-like): one step size for the whole batch, error norm = RMS over
  ///   all components of the batch (or over the first `norm_components` of every element for
  ///   the seminorm), one accept/reject per attempt. The batch then takes as many steps as its
  ///   hardest element needs, but step control runs on host scalars: a handful of tensor ops
  ///   per attempt instead of hundreds. Events need "per_element".
  TORCH_ARG(std::string, step_control) = "per_element";
  /// Maximum number of step attempts (accepted + rejected) of any batch element.
  TORCH_ARG(std::int64_t, max_steps) = 100000;
  /// PID controller h_{n+1} = h_n * safety * r_n^{-(p+i+d)/k} r_{n-1}^{(p+2d)/k} r_{n-2}^{-d/k},
  /// r = error ratio, k = order of the error estimate + 1 (Söderlind; defaults = I controller).
  TORCH_ARG(double, pcoeff) = 0.0;
  TORCH_ARG(double, icoeff) = 1.0;
  TORCH_ARG(double, dcoeff) = 0.0;
  TORCH_ARG(double, safety) = 0.9;
  TORCH_ARG(double, factor_min) = 0.2;
  TORCH_ARG(double, factor_max) = 10.0;
  /// Gradient method: "backprop" (differentiate the solver's operations), "adjoint"
  /// (continuous backsolve adjoint, Chen et al. 2018), "checkpoint" (discrete adjoint that
  /// stores `checkpoints` states and recomputes the segments between them; equals backprop),
  /// "reversible" (requires method "reversible_heun"; exact, memory independent of steps).
  TORCH_ARG(std::string, gradient) = "backprop";
  /// Tolerances of the backward (adjoint) solve; <= 0 means: same as forward.
  TORCH_ARG(double, adjoint_rtol) = 0.0;
  TORCH_ARG(double, adjoint_atol) = 0.0;
  /// Adjoint error norm over the state and its adjoint only, not the parameter adjoint
  /// (Kidger, Chen & Lyons 2021, "Hey, that's not an ODE").
  TORCH_ARG(bool, seminorm) = false;
  /// Number of stored states for gradient "checkpoint" (>= 2).
  TORCH_ARG(std::int64_t, checkpoints) = 8;
  /// Checkpoint placement for gradient "checkpoint":
  /// "uniform": `checkpoints` evenly spaced states are kept in the forward pass and each
  ///   segment between them is replayed with its full graph (memory: checkpoints states +
  ///   N / checkpoints steps of graph; one extra forward pass);
  /// "binomial": revolve-style schedule (Griewank & Walther 2000): at most `checkpoints` states
  ///   (the initial one included) and one step's graph are alive at any time; with s = checkpoints
  ///   - 1 free slots, N <= C(s + r, s) steps cost at most r extra forward passes.
  TORCH_ARG(std::string, checkpoint_schedule) = "uniform";
  /// Terminal event (element stops at the first sign change of g); located to event_tol in t.
  TORCH_ARG(EventFunction, event) = nullptr;
  TORCH_ARG(double, event_tol) = 1e-12;
};

/// Work counters of a solve.
struct OdeStats {
  std::int64_t nfe = 0;             ///< vector-field evaluations (whole batch each)
  std::int64_t steps = 0;           ///< loop iterations (step attempts of the batch)
  std::int64_t accepted_max = 0;    ///< largest number of accepted steps of one element
  std::int64_t rejected_total = 0;  ///< rejected steps summed over elements
  /// Vector-field evaluations of the backward pass of the adjoint, checkpoint and reversible
  /// methods; filled when backward runs (shared with the solve, so read it after backward()).
  std::shared_ptr<std::int64_t> backward_nfe = std::make_shared<std::int64_t>(0);
  /// Gradient "checkpoint": the largest number of states stored at the same time (filled by
  /// the forward pass for "uniform", by backward for "binomial").
  std::shared_ptr<std::int64_t> stored_states_max = std::make_shared<std::int64_t>(0);
};

/// Result of odesolve.
struct OdeSolution {
  at::Tensor ys;           ///< [len(ts), batch, state...]; after an event the state is frozen
  at::Tensor event_times;  ///< [batch] time of the event (NaN where none happened); undefined without event
  OdeStats stats;
};

/// Solve dy/dt = f(t, y), y(ts[0]) = y0, returning y at ts: [len(ts), batch, state...].
/// y0: [batch, state...]; ts: strictly increasing 1-D tensor (float64 recommended), shared by
/// the batch; each batch element takes its own adaptive steps.
at::Tensor odeint(const VectorField& f, const at::Tensor& y0, const at::Tensor& ts,
                  const OdeOptions& options = {});

/// odeint plus event times and work statistics.
OdeSolution odesolve(const VectorField& f, const at::Tensor& y0, const at::Tensor& ts,
                     const OdeOptions& options = {});

/// One reversible Heun step (Kidger, Foster, Li & Lyons 2021, ODE case) from t to t + h:
/// z1 = 2y - z + h f(t, z); y1 = y + h/2 (f(t, z) + f(t + h, z1)). t is [batch]. Returns (y1, z1).
std::pair<at::Tensor, at::Tensor> reversible_heun_step(const VectorField& f, const at::Tensor& t, double h,
                                                       const at::Tensor& y, const at::Tensor& z);
/// Its exact algebraic inverse: from (y1, z1) at t + h back to (y, z) at t:
/// z = 2 y1 - z1 - h f(t + h, z1); y = y1 - h/2 (f(t, z) + f(t + h, z1)).
std::pair<at::Tensor, at::Tensor> reversible_heun_reverse(const VectorField& f, const at::Tensor& t, double h,
                                                          const at::Tensor& y1, const at::Tensor& z1);

/// Names of the explicit Runge–Kutta methods odeint knows.
std::vector<std::string> ode_methods();

/// Classical order of a method's propagated solution (e.g. 5 for "dopri5").
int ode_method_order(const std::string& method);

}  // namespace physml::solvers::diffeq
