#pragma once
/// \file darcy.hpp
/// The FNO/MgNO Darcy flow benchmark: −∇·(a∇u) = f on (0,1)², u = 0 on ∂D, f ≡ 1, with
/// a = T(g) a thresholded Gaussian random field (Kovachki, Li et al., JMLR 2023, §6.2; rough: MgNO's data),
/// discretised by the 5-point scheme with arithmetic-mean face coefficients on an s×s
/// vertex grid (physml/simulators/poisson.hpp) and solved by CG + algebraic multigrid.

#include "physml/core/options.hpp"
#include "physml/mesh/grid.hpp"
#include "physml/simulators/poisson.hpp"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>

namespace physml {
class OptionsReader;
}

namespace physml::simulators {

/// Settings of the Darcy data distribution and solve. The member defaults are the published
/// ones; `scaled()` is what `physml generate darcy` starts from on a small machine.
struct DarcyOptions {
  /// Vertices per side s of the solve grid (FNO smooth: 421; MgNO rough: 512).
  int64_t resolution = 421;
  /// GRF exponent α and inverse length τ of g ~ N(0, τ^{2α−2}(−Δ + τ²I)^(−α)), zero-Neumann.
  double alpha = 2.0;
  double tau = 3.0;
  /// Threshold T(g) = high for g ≥ 0, low otherwise (FNO: 12 / 3).
  double high = 12.0;
  double low = 3.0;
  /// Constant source f.
  double source = 1.0;
  /// "smooth": FNO piececonst (α=2, τ=3, 12/3, s=421). "rough": MgNO/HANO (α=2, τ=5, s=512;
  /// thresholds undocumented there, 12/3 used here).
  static DarcyOptions smooth();
  static DarcyOptions rough();
  /// The preset ("smooth" or "rough") solved at the size `physml generate darcy` uses by
  /// default: 85² (smooth) and 128² (rough) instead of the published 421² and 512².
  static DarcyOptions scaled(const std::string& preset);

  /// Read -<prefix>resolution, alpha, tau, high, low, source in a section of their own (the
  /// defaults are the current values; `-help` lists them) and check them.
  DarcyOptions& set_from_options(const Options& options);
  /// The same keys inside a section that is already open (a data generator's).
  DarcyOptions& read_options(OptionsReader& reader);
  /// The solve grid: resolution² vertices on [0, 1]², Dirichlet on every face.
  mesh::Grid grid() const;
  /// Solve on `grid` (a square vertex grid of the unit box with Dirichlet faces, any number of
  /// vertices per side); anything else throws physml::Error naming what was expected.
  DarcyOptions& on(const mesh::Grid& grid);
};

/// One Darcy sample: coefficient a and solution u on the s×s vertex grid ([s, s], float64).
struct DarcySample {
  at::Tensor coefficient;
  at::Tensor solution;
  SolveReport report;
};

/// Draws coefficients and solves for the solutions, one sample at a time, on one rank
/// (PETSC_COMM_SELF). The KSP uses the options prefix given (default "darcy_"), e.g.
/// -darcy_pc_type hypre, -darcy_ksp_rtol 1e-12.
class DarcyGenerator {
public:
  /// The KSP reads its options from `db` (nullptr = PETSc's global database).
  explicit DarcyGenerator(const DarcyOptions& options, const std::string& prefix = "darcy_", PetscOptions db = nullptr);
  ~DarcyGenerator();
  /// Sample number `index` of the data set with master seed `seed` (same on every rank).
  /// A solve that does not converge throws physml::Error naming PETSc's reason.
  DarcySample generate(std::uint64_t seed, std::uint64_t index);
  /// Solve −∇·(a∇u) = f, u = 0 on ∂D for a given coefficient a [s, s] (f = options().source
  /// if `source` is undefined, else a tensor [s, s]).
  SolveReport solve(const at::Tensor& coefficient, const at::Tensor& source = {});
  const DarcyOptions& options() const { return options_; }
  PoissonSolver& solver() { return *solver_; }

private:
  struct Impl;
  DarcyOptions options_;
  std::unique_ptr<PoissonSolver> solver_;
  std::unique_ptr<Impl> impl_;
};

/// Subsample a vertex-grid field [..., s, s] by taking every r-th point ([..., ::r, ::r]);
/// (s − 1) must be divisible by r so that the corners are kept (421 -> 85, 141, 211 with
/// r = 5, 3, 2). Returns [..., (s−1)/r + 1, (s−1)/r + 1].
at::Tensor downsample_vertex(const at::Tensor& field, int64_t r);

/// Subsample a field [..., n, n] on a cell/periodic grid by taking every r-th point
/// (n divisible by r; 512 -> 256 with r = 2, 256 -> 64 with r = 4).
at::Tensor downsample_stride(const at::Tensor& field, int64_t r);

/// The grid of the points downsample_vertex (`keep_corners`) or downsample_stride keep of
/// `grid`: every r-th point per axis, on the same lower corner; with keep_corners the same box,
/// otherwise the box shrinks on non-periodic axes to the last point kept
/// ((n/r − 1) r h), and periodic axes keep their period.
mesh::Grid downsample_grid(const mesh::Grid& grid, int64_t r, bool keep_corners);

}  // namespace physml::simulators
