#pragma once
// Internal pieces of the ODE integrator shared by ode.cpp and ode_gradients.cpp.
#include "physml/solvers/diffeq/ode.hpp"

#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

namespace physml::solvers::diffeq::internal {

/// An explicit Runge–Kutta method: y_{n+1} = y_n + h sum_i b_i k_i,
/// k_i = f(t_n + c_i h, y_n + h sum_{j<i} a_ij k_j); error estimate h sum_i e_i k_i, e = b - bhat.
struct Tableau {
  std::string name;
  int order = 1;        // order of the propagated solution
  int error_order = 0;  // order of the embedded estimate (0 = fixed step)
  bool fsal = false;    // last stage is f(t_{n+1}, y_{n+1})
  std::vector<double> c, b, e;
  std::vector<double> e3;
  std::vector<double> dense;  // optional quartic dense output: Hermite + theta^2 (1-theta)^2 h sum d_i k_i  // optional second (lower-order) estimator, combined as in DOP853
  std::vector<std::vector<double>> a;
  int stages() const { return static_cast<int>(b.size()); }
  bool adaptive() const { return error_order > 0; }
};

const Tableau& tableau(const std::string& method);
/// Adds Dormand–Prince 8(5,3) (dopri8.cpp).
void add_dopri8(std::map<std::string, Tableau>& m);

/// Everything fixed during one solve.
struct Ctx {
  const VectorField* f = nullptr;
  const Tableau* tab = nullptr;
  OdeOptions opt;
  at::Tensor ts;             // [n] with graph (float64)
  std::vector<double> ts_cpu;
  at::Tensor t_end;          // [B] detached
  at::Tensor t_end_graph;    // [B] ts[-1] expanded (graph)
  std::int64_t batch = 0;
  bool adaptive = true;               // tab->adaptive() && opt.adaptive()
  std::int64_t norm_components = -1;  // >0: error norm over the first components only (seminorm)
  bool shared = false;    // opt.step_control() == "shared": one step size for the batch
  bool ts_graph = false;  // shared: ts requires grad, so times carry its graph (0-dim tensors)
};

/// The loop state of all batch elements.
struct LoopState {
  at::Tensor t, y, k1, h, done, r1, r2, g, accepted, event_times;
  std::vector<at::Tensor> out;  // per output time: [B, state...]
  std::int64_t step = 0, rejected = 0;
  // Shared step control (Ctx::shared): the batch's time, step size, error ratios of the last
  // two accepted steps, done flag and accepted steps live on the host; t, h, done, r1, r2,
  // accepted above stay undefined. t_graph: the time as a 0-dim tensor with the graph of ts
  // (only when Ctx::ts_graph).
  double t_s = 0, h_s = 0, r1_s = 1, r2_s = 1;
  bool done_s = false;
  std::int64_t accepted_s = 0;
  at::Tensor t_graph;
};

/// Largest number of accepted steps of one element so far.
std::int64_t accepted_max(const LoopState& s);

/// A copy of the loop state without the outputs (a checkpoint).
inline LoopState snapshot(const LoopState& s) {
  LoopState r = s;
  r.out.clear();
  return r;
}

/// Recorded step of the batch (for exact replay in the checkpointed adjoint).
struct StepRecord {
  at::Tensor h, accept;  // [B] double, [B] bool (per-element control)
  double h_s = 0;        // shared control: the batch's step and decision
  bool accept_s = false;
};

Ctx make_ctx(const VectorField& f, const at::Tensor& y0, const at::Tensor& ts, const OdeOptions& o);
/// Initial state at ts[0]: k1 = f(t0, y0), first step size (dt or Hairer's choice).
LoopState init_state(const Ctx& c, const at::Tensor& y0);
/// One step attempt of every element; replay != nullptr reuses a recorded step (no control).
void attempt(const Ctx& c, LoopState& s, const StepRecord* replay, std::vector<StepRecord>* record);
bool all_done(const LoopState& s);
/// Plain integration from y0 over ts (autograd records everything = backprop gradient).
OdeSolution integrate(const Ctx& c, const at::Tensor& y0);

/// Checks on y0 and ts shared by all solve kinds; throws physml::Error.
void check_inputs(const at::Tensor& y0, const at::Tensor& ts, const char* what);

// Gradient methods (ode_gradients.cpp).
OdeSolution solve_adjoint(const VectorField& f, const at::Tensor& y0, const at::Tensor& ts, const OdeOptions& o);
OdeSolution solve_checkpoint(const VectorField& f, const at::Tensor& y0, const at::Tensor& ts, const OdeOptions& o);
OdeSolution solve_petsc(const VectorField& f, const at::Tensor& y0, const at::Tensor& ts, const OdeOptions& o);
OdeSolution solve_reversible_heun(const VectorField& f, const at::Tensor& y0, const at::Tensor& ts, const OdeOptions& o);

/// Reshape a [B] tensor to broadcast against [B, state...] of `like`.
inline at::Tensor bview(const at::Tensor& s, const at::Tensor& like) {
  std::vector<int64_t> shape(like.dim(), 1);
  shape[0] = s.size(0);
  return s.view(shape);
}

}  // namespace physml::solvers::diffeq::internal
