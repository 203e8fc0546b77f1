#pragma once
/// \file burgers.hpp
/// Viscous Burgers equation u_t + (u²/2)_x = ν u_xx on the periodic unit interval, solved
/// pseudo-spectrally on FFTW (r2c/c2r, 2/3 dealiasing) with the viscous term integrated
/// exactly (integrating factor e^{−νk²t}, Lawson/IF-RK4 for the nonlinear term). The FNO
/// benchmark maps u₀ ~ N(0, 625(−Δ + 25I)^(−2)) to u(·, 1) with ν = 0.1 on 8192 points
/// (Kovachki, Li et al., "Neural Operator", JMLR 2023, §6.3).

#include "physml/core/options.hpp"
#include "physml/mesh/grid.hpp"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace physml {
class OptionsReader;
}

namespace physml::simulators {

/// Settings of the Burgers solver and data distribution. The member defaults are the
/// published ones; `scaled()` is what `physml generate burgers` starts from.
struct BurgersOptions {
  /// Grid points on [0, 1) (x_j = j/n); FNO: 8192.
  int64_t resolution = 8192;
  /// Viscosity ν (FNO: 0.1).
  double viscosity = 0.1;
  /// Output time (FNO: 1).
  double final_time = 1.0;
  /// Time step: dt = min(max_dt, cfl · dx / max|u|), the last step shortened to hit the output time.
  double cfl = 0.5;
  double max_dt = 1e-3;
  /// Initial-condition GRF: N(0, σ²(−Δ + τ²I)^(−α)), periodic (FNO: σ = 25, τ = 5, α = 2), on
  /// the modes k ≠ 0 unless random_mean.
  double sigma = 25.0;
  double tau = 5.0;
  double alpha = 2.0;
  /// Draw the constant mode k = 0 as a random mode too (variance σ²τ^(−2α) = 1 for the FNO
  /// values). Off by default: the FNO paper's generator (GRF1 in the neural-operator data
  /// scripts) fixes the k = 0 coefficient to the mean m = 0, so every u₀ has zero spatial mean.
  /// With the mean drawn, u(·, 1) is nearly the constant mean(u₀) at ν = 0.1 (the k ≥ 1 modes
  /// decay like e^(−4π²νk²)), and relative L2 measures mostly that constant.
  bool random_mean = false;
  /// Large-scale forcing f(x, t) = A Σ_{k=1..K} sin(2πk x + φ_k + ω_k t) on the right-hand
  /// side (A = forcing_amplitude, K = forcing_modes; 0 = unforced, the FNO benchmark). The
  /// phases φ_k ∈ [0, 2π) and frequencies ω_k ∈ [−2π, 2π) are drawn from forcing_seed
  /// (BurgersForcing::draw), so a forced trajectory is a pure function of (u₀, options).
  double forcing_amplitude = 0.0;
  int64_t forcing_modes = 3;
  std::uint64_t forcing_seed = 0;

  /// The published distribution on 1024 points (published: 8192), the size `physml generate burgers` uses by default.
  static BurgersOptions scaled();
  /// Read -<prefix>resolution, viscosity, final_time, sigma, tau, alpha, random_mean, cfl, max_dt in a section of their own (the defaults are the current values; `-help`
  /// lists them) and check them.
  BurgersOptions& set_from_options(const Options& options);
  /// The same keys inside a section that is already open (a data generator's).
  BurgersOptions& read_options(OptionsReader& reader);
  /// The solve grid: resolution periodic points x_j = j/n on [0, 1).
  mesh::Grid grid() const;
  /// Solve on `grid` (a 1-D periodic grid of [0, 1), any number of points); anything else throws physml::Error naming what was expected.
  BurgersOptions& on(const mesh::Grid& grid);
};

/// The forcing f(x, t) = A Σ_k sin(2πk x + φ_k + ω_k t), k = 1..K, of one trajectory.
struct BurgersForcing {
  double amplitude = 0;
  std::vector<double> phase, frequency;  ///< φ_k, ω_k for k = 1..K
  /// The forcing of `options` (its amplitude, modes and seed): φ_k and ω_k from a 64-bit
  /// Mersenne twister seeded with derive_seed(forcing_seed, k), mapped to doubles by hand so
  /// the draw is the same with every standard library.
  static BurgersForcing draw(const BurgersOptions& options);
  bool active() const { return amplitude != 0 && !phase.empty(); }
  /// f(x_j, t) at x_j = j/n: [n] float64.
  at::Tensor evaluate(int64_t n, double t) const;
};

/// Pseudo-spectral Burgers integrator for one field at a time. Not thread-safe (FFTW buffers).
class BurgersSolver {
public:
  explicit BurgersSolver(const BurgersOptions& options);
  ~BurgersSolver();
  /// Integrate u₀ [n] (float64) from t = 0 to each of `times` (increasing, > 0); returns
  /// [len(times), n]. Throws physml::Error if the solution becomes non-finite.
  at::Tensor solve(const at::Tensor& u0, const std::vector<double>& times);
  /// u(·, final_time) for u₀ [n] -> [n].
  at::Tensor solve(const at::Tensor& u0);
  /// Time steps taken by the last solve.
  int64_t steps() const { return steps_; }
  const BurgersOptions& options() const { return options_; }

private:
  struct Impl;
  BurgersOptions options_;
  std::unique_ptr<Impl> impl_;
  int64_t steps_ = 0;
};

/// One Burgers sample: u₀ and u(·, T), both [n] float64.
struct BurgersSample {
  at::Tensor initial;
  at::Tensor solution;
};

/// Draws u₀ from the GRF (seeded per sample with derive_seed) and solves.
class BurgersGenerator {
public:
  explicit BurgersGenerator(const BurgersOptions& options);
  ~BurgersGenerator();
  BurgersSample generate(std::uint64_t seed, std::uint64_t index);
  /// u₀ of sample `index` alone (what generate solves from).
  at::Tensor initial(std::uint64_t seed, std::uint64_t index);
  BurgersSolver& solver() { return *solver_; }

private:
  struct Impl;
  std::unique_ptr<BurgersSolver> solver_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace physml::simulators
