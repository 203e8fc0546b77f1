#pragma once
/// \file revolve.hpp
/// Reversing a long chain of steps with bounded memory: the binomial checkpointing schedule
/// (revolve; Griewank 1992, Griewank & Walther 2000), written once for every discrete adjoint
/// that needs it (solvers/diffeq's checkpointed ODE gradient, simulators' differentiable MPM
/// rollouts).
///
/// A computation s_{i+1} = step_i(s_i), i = 0 .. N-1, is to be reversed (its adjoint pulled
/// from s_N back to s_0) while at most `checkpoints` states, the initial one included, are
/// stored. With c free slots and r recomputations, beta(c, r) = C(c + r, c) steps can be
/// reversed; a range of t steps is split at m = max(1, t - beta(c - 1, r)) with the smallest
/// r such that beta(c, r) >= t: the state at a + m is computed and kept, the right part is
/// reversed with c - 1 slots, then the left part with c. Each step is reversed exactly once,
/// last first, from the state at its start; the number of forward re-evaluations grows like
/// r N with r ~ N^(1/c) (c = checkpoints - 1; with one checkpoint every step is recomputed from s_0).
///
///   std::int64_t most = physml::reverse_binomial<State>(N, 8, s0,
///       [&](const State& s, std::int64_t a, std::int64_t b) { return run_steps(s, a, b); },
///       [&](std::int64_t i, const State& si) { adjoint_of_step(i, si); });

#include "physml/core/error.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>

namespace physml {

/// beta(c, r) = C(c + r, c), the number of steps c slots and r recomputations can reverse
/// (saturating at 1e18).
inline double revolve_beta(std::int64_t slots, std::int64_t recomputations) {
  double b = 1;
  for (std::int64_t i = 1; i <= slots; ++i)
    b = std::min(b * static_cast<double>(recomputations + i) / static_cast<double>(i), 1e18);
  return b;
}

/// Reverse `steps` steps from `initial` (the state before step 0) with at most `checkpoints`
/// (>= 1) states stored at a time, the initial one included. `advance(s, a, b)` returns the
/// state before step b from the state s before step a (a < b; no adjoint work);
/// `reverse(i, s)` pulls the adjoint back through step i from the state s before it. The
/// reverse calls come in the order i = steps-1, steps-2, ..., 0. Returns the largest number of
/// states stored at the same time (besides them, one working state: the one advance() builds
/// and the one reverse() receives). Throws physml::Error for steps < 0 or checkpoints < 1.
template <class State>
std::int64_t reverse_binomial(std::int64_t steps, std::int64_t checkpoints, const State& initial,
                              const std::function<State(const State&, std::int64_t, std::int64_t)>& advance,
                              const std::function<void(std::int64_t, const State&)>& reverse) {
  PHYSML_CHECK(steps >= 0, "reverse_binomial: ", steps, " steps; expected >= 0");
  PHYSML_CHECK(checkpoints >= 1, "reverse_binomial: ", checkpoints, " checkpoints; expected >= 1 (the initial state)");
  std::int64_t live = 1, live_max = 1;
  // Recursion only into the right part (one slot fewer each time, so the depth is at most
  // checkpoints); the left part, with the same slots, is the loop.
  std::function<void(std::int64_t, std::int64_t, const State&, std::int64_t)> revolve =
      [&](std::int64_t a, std::int64_t b, const State& snap, std::int64_t slots) {
        while (true) {
          const auto t = b - a;
          if (t <= 0) return;
          if (t == 1) return reverse(a, snap);
          if (slots == 0) {  // no free slot: recompute from a for every step, last first
            for (auto i = b - 1; i >= a; --i) reverse(i, i == a ? snap : advance(snap, a, i));
            return;
          }
          std::int64_t r = 1;
          while (revolve_beta(slots, r) < static_cast<double>(t)) ++r;
          const auto m = std::max<std::int64_t>(1, t - static_cast<std::int64_t>(revolve_beta(slots - 1, r)));
          {
            const State mid = advance(snap, a, a + m);
            live_max = std::max(live_max, ++live);
            revolve(a + m, b, mid, slots - 1);
            --live;
          }
          b = a + m;  // then the left part [a, a + m) with the same slots
        }
      };
  revolve(0, steps, initial, checkpoints - 1);
  return live_max;
}

}  // namespace physml
