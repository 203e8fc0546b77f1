#pragma once
/// \file navier_stokes.hpp
/// 2D incompressible Navier–Stokes in vorticity form on the unit torus,
///   ∂ₜw + u·∇w = νΔw + f,  u = (ψ_y, −ψ_x),  −Δψ = w,
/// solved pseudo-spectrally on FFTW (batched r2c/c2r), 2/3 dealiasing of the nonlinear
/// term, Crank–Nicolson for the viscous term and an explicit (Heun by default, forward
/// Euler as in the FNO script) treatment of advection and forcing. The FNO benchmark uses
/// f = 0.1(sin 2π(x+y) + cos 2π(x+y)), w₀ ~ N(0, 7^{3/2}(−Δ + 49I)^(−2.5)), dt = 1e-4 on
/// 256², snapshots at unit times, stored at 64² (Kovachki, Li et al., "Neural Operator", JMLR 2023, §6.4).

#include "physml/core/options.hpp"
#include "physml/mesh/grid.hpp"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace physml {
class OptionsReader;
}

namespace physml::simulators {

/// Settings of the Navier–Stokes solver and data distribution. The member defaults are the
/// published ones; `scaled()` is what `physml generate navier-stokes` starts from.
struct NavierStokesOptions {
  /// Grid points per side (x_j = j/n); FNO: 256.
  int64_t resolution = 256;
  /// Viscosity ν ∈ {1e-3, 1e-4, 1e-5} in the FNO data sets.
  double viscosity = 1e-3;
  /// Time step (FNO: 1e-4). Output times must be multiples of it.
  double dt = 1e-4;
  /// Amplitude of the forcing 0.1(sin 2π(x+y) + cos 2π(x+y)); 0 = unforced.
  double forcing_amplitude = 0.1;
  /// Explicit part: "heun" (2nd order, paper text) or "euler" (FNO script).
  std::string time_stepping = "heun";
  /// Initial-vorticity GRF N(0, σ²(−Δ + τ²I)^(−α)), periodic, σ = τ^{(2α−2)/2}.
  double alpha = 2.5;
  double tau = 7.0;

  /// The published distribution on 64² with dt 1e-3 (published: 256², dt 1e-4), what `physml generate navier-stokes` uses by default.
  static NavierStokesOptions scaled();
  /// Read -<prefix>resolution, viscosity, dt, forcing, time_stepping, alpha, tau in a section of their own (the defaults are the current values; `-help`
  /// lists them) and check them.
  NavierStokesOptions& set_from_options(const Options& options);
  /// The same keys inside a section that is already open (a data generator's).
  NavierStokesOptions& read_options(OptionsReader& reader);
  /// The solve grid: resolution² periodic points (j/n, k/n) of the unit torus.
  mesh::Grid grid() const;
  /// Solve on `grid` (a 2-D periodic grid of the unit torus with equal sizes); anything else throws physml::Error naming what was expected.
  NavierStokesOptions& on(const mesh::Grid& grid);
};

/// Batched pseudo-spectral vorticity solver. Not thread-safe (reuses FFTW buffers).
class NavierStokes2D {
public:
  explicit NavierStokes2D(const NavierStokesOptions& options);
  ~NavierStokes2D();
  /// Advance w₀ [batch, n, n] (float64) and return snapshots at `times` (increasing
  /// multiples of dt): [batch, len(times), n, n]. All samples advance together.
  /// Throws physml::Error if the vorticity becomes non-finite.
  at::Tensor solve(const at::Tensor& w0, const std::vector<double>& times);
  /// The forcing f on the grid, [n, n].
  at::Tensor forcing() const;
  const NavierStokesOptions& options() const { return options_; }

private:
  struct Impl;
  NavierStokesOptions options_;
  std::unique_ptr<Impl> impl_;
};

/// A batch of Navier–Stokes samples: w₀ [B, n, n] and snapshots [B, T, n, n].
struct NavierStokesBatch {
  at::Tensor initial;
  at::Tensor snapshots;
};

/// Draws w₀ per sample index (derive_seed) and advances the batch together.
class NavierStokesGenerator {
public:
  explicit NavierStokesGenerator(const NavierStokesOptions& options);
  ~NavierStokesGenerator();
  /// Samples first..first+count−1 of the data set with master seed `seed`, snapshots at `times`.
  NavierStokesBatch generate(std::uint64_t seed, std::uint64_t first, int64_t count, const std::vector<double>& times);
  NavierStokes2D& solver() { return *solver_; }

private:
  struct Impl;
  std::unique_ptr<NavierStokes2D> solver_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace physml::simulators
