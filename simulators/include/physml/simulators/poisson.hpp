#pragma once
/// \file poisson.hpp
/// Variable-coefficient Poisson problems −∇·(a∇u) = f on uniform 2D and 3D grids,
/// assembled as PETSc AIJ matrices (5-/7-point stencil, arithmetic-mean face
/// coefficients) and solved with a PETSc KSP (CG + GAMG by default).
///
/// Grids are stored like tensors: shape [ny, nx] (2D) or [nz, ny, nx] (3D), x fastest.
/// Two placements of the unknowns are supported:
///  - `GridCentering::vertex`: n points per axis at x_i = i·h, h = L/(n−1), boundary
///    points lie on the boundary (the FNO Darcy s×s vertex grid). Dirichlet boundary
///    points are fixed (not unknowns); Neumann boundary points are unknowns with a
///    half control volume.
///  - `GridCentering::cell`: n cells per axis with centres (i+½)·h, h = L/n (MAC-grid
///    pressure, as in fluid solvers). Dirichlet data sit on the boundary faces
///    (ghost-cell reflection), Neumann data are face fluxes.
///
/// The discretisation is the finite-volume form of the 5-point scheme: for neighbours
/// p, q along axis d, the flux is a_f (u_p − u_q)/h_d² with a_f = (a_p + a_q)/2
/// (MATLAB solve_gwf.m in the FNO data generator, data_generation/darcy of the FNO code).
/// Rows are scaled by (control volume)/(h_x h_y [h_z]) so that the matrix is symmetric
/// positive (semi-)definite also with Neumann boundaries.
///
/// Solid cells (a boolean mask) are not part of the domain: faces between a fluid and
/// a solid point are zero-flux walls (homogeneous Neumann), and the solid points are
/// either excluded from the system or kept as decoupled identity rows.

#include "physml/core/error.hpp"

#include <ATen/core/Tensor.h>
#include "physml/mesh/grid.hpp"

#include <petscksp.h>

#include <array>
#include <functional>
#include <string>
#include <vector>

namespace physml::simulators {

/// Where the unknowns of a uniform grid sit (see the file comment): the one grid description's
/// centering, mesh::Centering.
using GridCentering = mesh::Centering;

/// Kind of boundary condition on one face of the box: mesh::Boundary (dirichlet or neumann;
/// periodic faces are refused by PoissonProblem::validate).
using BoundaryType = mesh::Boundary;

/// Boundary data at a point: coordinates {x, y, z} (z = 0 in 2D) -> value.
using BoundaryFunction = std::function<double(const std::array<double, 3>& x)>;

/// One face's boundary condition. Dirichlet: u = value. Neumann: the outward conormal
/// flux a ∂u/∂n = value (so a Darcy wall with no through-flow is Neumann 0). If
/// `function` is set it overrides the constant `value`.
struct BoundaryCondition {
  BoundaryType type = BoundaryType::dirichlet;
  double value = 0.0;
  BoundaryFunction function;
  /// Value at point x (function if set, else the constant).
  double at(const std::array<double, 3>& x) const { return function ? function(x) : value; }
  static BoundaryCondition dirichlet(double v = 0.0) { return {BoundaryType::dirichlet, v, {}}; }
  static BoundaryCondition neumann(double flux = 0.0) { return {BoundaryType::neumann, flux, {}}; }
};

/// Index of a face in PoissonProblem::boundary.
enum Face : int { x_lo = 0, x_hi = 1, y_lo = 2, y_hi = 3, z_lo = 4, z_hi = 5 };

/// How points that are not unknowns (solid cells; fixed Dirichlet vertices) appear in
/// the linear system: left out (the matrix has one row per active point), or kept as
/// identity rows u = value so that vectors match the full grid point for point.
enum class InactiveRows { exclude, identity };

/// A variable-coefficient Poisson problem −∇·(a∇u) = f on the box
/// [0, Lx] × [0, Ly] (× [0, Lz]).
struct PoissonProblem {
  /// Grid shape [ny, nx] or [nz, ny, nx] (points per axis, each ≥ 2).
  std::vector<int64_t> shape;
  /// Box lengths in the same order as shape ([Ly, Lx] or [Lz, Ly, Lx]); empty = all 1.
  std::vector<double> lengths;
  GridCentering centering = GridCentering::vertex;
  /// Coefficient a > 0 at the points, float64 tensor of `shape`; undefined = 1.
  at::Tensor coefficient;
  /// Source f at the points, float64 tensor of `shape`; undefined = 0.
  at::Tensor source;
  /// Optional reaction coefficient r at the points (float64 tensor of `shape`; undefined = 0)
  /// for −∇·(a∇u) + r u = f; r < 0 gives Helmholtz operators (indefinite, use GMRES/LU).
  at::Tensor reaction;
  /// Solid mask (bool or 0/1 tensor of `shape`, nonzero = solid); undefined = all fluid.
  at::Tensor solid;
  /// Boundary conditions, indexed by Face (z faces ignored in 2D). Default: u = 0.
  std::array<BoundaryCondition, 6> boundary{};
  InactiveRows inactive = InactiveRows::exclude;

  /// Number of space dimensions (2 or 3).
  int dim() const { return static_cast<int>(shape.size()); }
  /// Grid spacing along tensor axis `axis` (0 = z in 3D / y in 2D, last = x).
  double spacing(int axis) const;
  /// Coordinate along tensor axis `axis` of index i (vertex: i·h, cell: (i+½)·h).
  double coordinate(int axis, int64_t i) const;
  /// Set every face to the same condition.
  void set_all_boundaries(const BoundaryCondition& bc) { boundary.fill(bc); }
  /// Throws physml::Error naming the first thing that is wrong (shape, lengths, a ≤ 0, NaN,
  /// a periodic face).
  void validate() const;
  /// The problem's grid as the one grid description: sizes x first (the reverse of shape),
  /// the box [0, L], the centering and each face's boundary type.
  mesh::Grid grid() const;
  /// A problem (coefficient 1, source 0, homogeneous boundary values) on `grid`, whose lower
  /// corner must be the origin and whose faces must not be periodic.
  static PoissonProblem on(const mesh::Grid& grid);
};

/// The assembled linear system A x = b of a PoissonProblem on a communicator. Rows are
/// split in contiguous blocks over the ranks (PETSc's default layout); every rank holds
/// the full problem tensors. Owns its Mat and Vec (move-only).
class PoissonSystem {
public:
  PoissonSystem() = default;
  ~PoissonSystem();
  PoissonSystem(PoissonSystem&& other) noexcept;
  PoissonSystem& operator=(PoissonSystem&& other) noexcept;
  PoissonSystem(const PoissonSystem&) = delete;
  PoissonSystem& operator=(const PoissonSystem&) = delete;

  /// The SPD (or, with only Neumann faces, symmetric positive semi-definite) matrix (AIJ).
  Mat matrix() const { return A_; }
  /// The right-hand side b (already projected onto range(A) when A is singular).
  Vec rhs() const { return b_; }
  /// True if no face is Dirichlet and there is no reaction term: A has the constant null
  /// space (attached to A).
  bool singular() const { return singular_; }
  /// Number of unknowns (global rows of A).
  PetscInt size() const { return n_rows_; }
  /// Grid shape of the problem.
  const std::vector<int64_t>& shape() const { return shape_; }
  /// Row of grid point p (flattened index, x fastest), or −1 if p is not in the system.
  const std::vector<PetscInt>& row_of_point() const { return row_of_point_; }

  /// Scatter a solution Vec (layout of A) back onto the full grid on every rank: float64
  /// tensor of shape(); solid points get 0 and fixed Dirichlet vertices their value.
  at::Tensor to_grid(Vec x) const;
  /// A new Vec (layout of A) holding the active points of a grid tensor of shape().
  Vec from_grid(const at::Tensor& field) const;

private:
  friend PoissonSystem assemble_poisson(const PoissonProblem& problem, MPI_Comm comm);
  Mat A_ = nullptr;
  Vec b_ = nullptr;
  bool singular_ = false;
  PetscInt n_rows_ = 0;
  std::vector<int64_t> shape_;
  std::vector<PetscInt> row_of_point_;
  at::Tensor fixed_values_;  ///< values of inactive points on the grid (Dirichlet vertices)
  MPI_Comm comm_ = MPI_COMM_NULL;
};

/// Assemble A and b of `problem` on `comm` (default PETSC_COMM_WORLD; use PETSC_COMM_SELF
/// for one independent solve per rank, as data generation does).
PoissonSystem assemble_poisson(const PoissonProblem& problem, MPI_Comm comm = PETSC_COMM_WORLD);

/// Outcome of one solve.
struct SolveReport {
  /// Solution on the full grid (float64, problem shape).
  at::Tensor solution;
  PetscInt iterations = 0;
  KSPConvergedReason reason = KSP_CONVERGED_ITERATING;
  /// Final residual norm as reported by the KSP.
  PetscReal residual_norm = 0;
  bool converged() const { return reason > 0; }
  /// PETSc's name of `reason` (e.g. "CONVERGED_RTOL", "DIVERGED_ITS").
  std::string reason_name() const;
};

/// A KSP for Poisson systems: CG with a preconditioner chosen by options (default GAMG),
/// relative tolerance 1e-10. The options prefix (default "poisson_") lets every KSP/PC
/// option be set from the command line: -poisson_ksp_type, -poisson_pc_type hypre,
/// -poisson_ksp_rtol, -poisson_ksp_monitor, ...
class PoissonSolver {
public:
  /// The KSP reads -<prefix>ksp_* / -<prefix>pc_* from `db` (nullptr = PETSc's global database).
  explicit PoissonSolver(MPI_Comm comm = PETSC_COMM_WORLD, const std::string& prefix = "poisson_",
                         PetscOptions db = nullptr);
  ~PoissonSolver();
  PoissonSolver(const PoissonSolver&) = delete;
  PoissonSolver& operator=(const PoissonSolver&) = delete;

  /// The underlying KSP (to set tolerances or types in code; options still apply).
  KSP ksp() const { return ksp_; }
  /// If true (default), solve() throws physml::Error with PETSc's KSPConvergedReason when
  /// the solve does not converge; if false the report carries the reason.
  void set_throw_on_divergence(bool on) { throw_on_divergence_ = on; }

  /// Solve the system. With a singular (all-Neumann) system the constant null space is
  /// removed and the returned solution has zero mean over the active points.
  SolveReport solve(const PoissonSystem& system);

private:
  KSP ksp_ = nullptr;
  bool throw_on_divergence_ = true;
};

/// Convenience: assemble on PETSC_COMM_SELF and solve with a PoissonSolver of `prefix`;
/// returns the full-grid solution tensor.
at::Tensor solve_poisson(const PoissonProblem& problem, const std::string& prefix = "poisson_");

}  // namespace physml::simulators
