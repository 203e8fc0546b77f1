#pragma once
/// \file helmholtz.hpp
/// The Helmholtz benchmark of de Hoop, Huang, Qian and Stuart used by MgNO
/// ("The cost-accuracy trade-off in operator learning with neural networks", 2022): −Δu − (ω/c(x))² u = 0 on [0,1]², ω = 1000,
/// c = 20 + tanh(a), a = Σ_{l=1}^{100} θ_l √λ_l φ_l (cosine basis ordered by |l|²,
/// λ_l = (π²|l|² + τ²)^(−2), τ = 3), ∂u/∂n = 1 on the top edge for |x − 0.5| ≤ 0.15 and 0
/// elsewhere, on 101×101 nodes. Discretised by the second-order vertex-centred 5-point
/// scheme with half control volumes at Neumann boundaries (the Poisson assembly of
/// poisson.hpp with the reaction term −(ω/c)²), solved through PETSc: by default
/// MUMPS LU (-helmholtz_ksp_type preonly -helmholtz_pc_type lu
/// -helmholtz_pc_factor_mat_solver_type mumps), any KSP/PC by options.

#include "physml/core/options.hpp"
#include "physml/mesh/grid.hpp"
#include "physml/simulators/poisson.hpp"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace physml {
class OptionsReader;
}

namespace physml::simulators {

/// Settings of the Helmholtz data distribution and solve (the published ones; the data
/// generator uses them as they are, so `scaled()` equals the defaults).
struct HelmholtzOptions {
  int64_t resolution = 101;  ///< nodes per side
  double omega = 1000.0;     ///< angular frequency ω
  double tau = 3.0;          ///< τ of the cosine-expansion eigenvalues
  int64_t terms = 100;       ///< number of cosine modes in a
  double source_center = 0.5;  ///< x₀ of the top-edge flux window
  double source_width = 0.3;   ///< d₀: flux 1 where |x − x₀| ≤ d₀/2

  /// What `physml generate helmholtz` starts from: the published 101², omega 1000 (small enough to run as published).
  static HelmholtzOptions scaled();
  /// Read -<prefix>resolution, omega, tau, terms, source_center, source_width in a section of their own (the defaults are the current values; `-help`
  /// lists them) and check them.
  HelmholtzOptions& set_from_options(const Options& options);
  /// The same keys inside a section that is already open (a data generator's).
  HelmholtzOptions& read_options(OptionsReader& reader);
  /// The solve grid: resolution² vertices on [0, 1]², Neumann on every face.
  mesh::Grid grid() const;
  /// Solve on `grid` (a square vertex grid of the unit box with Neumann faces, any number of vertices per side); anything else throws physml::Error naming what was expected.
  HelmholtzOptions& on(const mesh::Grid& grid);
};

/// a(x) = Σ_{l=1}^{terms} θ_l √λ_l φ_l(x) on the s×s node grid (x_i = i/(s−1)) with θ_l ~ N(0,1)
/// from `seed`; φ are √2 cos(πl₁x) cos-products normalised on [0,1]² (2 cos cos when both
/// indices are nonzero), ordered by |l|² then l₁, (0,0) excluded. Returns [s, s] float64.
at::Tensor helmholtz_log_speed(int64_t resolution, int64_t terms, double tau, std::uint64_t seed);

/// Solves −Δu − (ω/c)² u = 0 with the benchmark's Neumann data for a wave speed c [s, s].
class HelmholtzSolver {
public:
  /// The KSP reads -<prefix>ksp_* / -<prefix>pc_* from `db` (nullptr = PETSc's global database).
  explicit HelmholtzSolver(const HelmholtzOptions& options, const std::string& prefix = "helmholtz_",
                           PetscOptions db = nullptr);
  /// u [s, s] for the wave speed c [s, s] (positive). Throws with PETSc's reason if the solve fails.
  SolveReport solve(const at::Tensor& wave_speed);
  /// Solve −Δu − k² u = 0 with given Neumann data per face (∂u/∂n = bc on each face) for a
  /// wavenumber field k² [s, s]; used by the tests with exact solutions.
  SolveReport solve_with(const at::Tensor& k_squared, const std::array<BoundaryCondition, 6>& boundary);
  /// Sample number `index` of seed `seed`: returns {c, u}.
  std::pair<at::Tensor, at::Tensor> generate(std::uint64_t seed, std::uint64_t index);
  PoissonSolver& solver() { return solver_; }
  const HelmholtzOptions& options() const { return options_; }

private:
  HelmholtzOptions options_;
  PoissonSolver solver_;
};

}  // namespace physml::simulators
