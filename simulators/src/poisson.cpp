#include "physml/simulators/poisson.hpp"

#include "physml/core/views.hpp"

#include <torch/torch.h>

#include <cmath>

namespace physml::simulators {

// ---------------------------------------------------------------------------------------
// PoissonProblem

double PoissonProblem::spacing(int axis) const {
  const double L = lengths.empty() ? 1.0 : lengths.at(static_cast<size_t>(axis));
  const auto n = shape.at(static_cast<size_t>(axis));
  return centering == GridCentering::vertex ? L / static_cast<double>(n - 1) : L / static_cast<double>(n);
}

double PoissonProblem::coordinate(int axis, int64_t i) const {
  const double h = spacing(axis);
  return centering == GridCentering::vertex ? static_cast<double>(i) * h : (static_cast<double>(i) + 0.5) * h;
}

mesh::Grid PoissonProblem::grid() const {
  validate();
  const int d = dim();
  std::vector<int64_t> sizes(shape.rbegin(), shape.rend());
  std::vector<double> upper;
  for (int a = 0; a < d; ++a) upper.push_back(lengths.empty() ? 1.0 : lengths[static_cast<size_t>(d - 1 - a)]);
  mesh::GridOptions o(sizes);
  o.upper(upper).centering(centering);
  for (int a = 0; a < d; ++a)  // grid axis a (x = 0) is face pair 2a, 2a + 1
    o.boundary(a, boundary[static_cast<size_t>(2 * a)].type, boundary[static_cast<size_t>(2 * a + 1)].type);
  return mesh::Grid(o);
}

PoissonProblem PoissonProblem::on(const mesh::Grid& g) {
  PHYSML_CHECK(g.dim() == 2 || g.dim() == 3, "PoissonProblem::on: a ", g.dim(), "-D grid; expected 2-D or 3-D");
  PoissonProblem p;
  p.shape = g.shape();
  for (int a = g.dim() - 1; a >= 0; --a) {  // lengths in tensor order
    PHYSML_CHECK(g.lower(a) == 0.0, "PoissonProblem::on: the box must start at the origin, axis ", a, " starts at ",
                 g.lower(a));
    p.lengths.push_back(g.upper(a));
  }
  p.centering = g.centering();
  for (int a = 0; a < g.dim(); ++a)
    for (int side = 0; side < 2; ++side) {
      PHYSML_CHECK(g.boundary(a, side) != mesh::Boundary::periodic, "PoissonProblem::on: axis ", a,
                   " is periodic; the Poisson assembly supports dirichlet and neumann faces");
      p.boundary[static_cast<size_t>(2 * a + side)].type = g.boundary(a, side);
    }
  p.validate();
  return p;
}

namespace {

void check_field(const at::Tensor& t, const std::vector<int64_t>& shape, const char* name) {
  if (!t.defined()) return;
  PHYSML_CHECK(t.sizes().vec() == shape, "Poisson problem: ", name, " has shape ", t.sizes(),
               " but the grid shape is ", c10::IntArrayRef(shape));
}

}  // namespace

void PoissonProblem::validate() const {
  PHYSML_CHECK(shape.size() == 2 || shape.size() == 3, "Poisson problem: grid shape ", c10::IntArrayRef(shape),
               " has ", shape.size(), " axes; expected [ny, nx] or [nz, ny, nx]");
  const int64_t min_n = centering == GridCentering::vertex ? 2 : 1;
  for (auto n : shape)
    PHYSML_CHECK(n >= min_n, "Poisson problem: grid shape ", c10::IntArrayRef(shape), " has an axis with ", n,
                 " points; expected at least ", min_n);
  PHYSML_CHECK(lengths.empty() || lengths.size() == shape.size(), "Poisson problem: ", lengths.size(),
               " box lengths given for a ", shape.size(), "D grid");
  for (double L : lengths)
    PHYSML_CHECK(L > 0 && std::isfinite(L), "Poisson problem: box length ", L, " must be positive and finite");
  for (int f = 0; f < 2 * dim(); ++f)
    PHYSML_CHECK(boundary[static_cast<size_t>(f)].type != mesh::Boundary::periodic, "Poisson problem: face ", f,
                 " is periodic; expected dirichlet or neumann (x_lo = 0, x_hi, y_lo, y_hi, z_lo, z_hi)");
  check_field(coefficient, shape, "coefficient a");
  check_field(source, shape, "source f");
  check_field(solid, shape, "solid mask");
  check_field(reaction, shape, "reaction r");
  if (reaction.defined())
    PHYSML_CHECK(torch::isfinite(reaction).all().item<bool>(), "Poisson problem: reaction r contains NaN or Inf");
  if (coefficient.defined()) {
    PHYSML_CHECK(torch::isfinite(coefficient).all().item<bool>(),
                 "Poisson problem: coefficient a contains NaN or Inf");
    const double amin = coefficient.min().item<double>();
    PHYSML_CHECK(amin > 0, "Poisson problem: coefficient a must be positive everywhere, its minimum is ", amin);
  }
  if (source.defined())
    PHYSML_CHECK(torch::isfinite(source).all().item<bool>(), "Poisson problem: source f contains NaN or Inf");
}

// ---------------------------------------------------------------------------------------
// PoissonSystem

PoissonSystem::~PoissonSystem() {
  if (A_) MatDestroy(&A_);
  if (b_) VecDestroy(&b_);
}

PoissonSystem::PoissonSystem(PoissonSystem&& o) noexcept { *this = std::move(o); }

PoissonSystem& PoissonSystem::operator=(PoissonSystem&& o) noexcept {
  if (this == &o) return *this;
  if (A_) MatDestroy(&A_);
  if (b_) VecDestroy(&b_);
  A_ = o.A_;
  b_ = o.b_;
  o.A_ = nullptr;
  o.b_ = nullptr;
  singular_ = o.singular_;
  n_rows_ = o.n_rows_;
  shape_ = std::move(o.shape_);
  row_of_point_ = std::move(o.row_of_point_);
  fixed_values_ = std::move(o.fixed_values_);
  comm_ = o.comm_;
  return *this;
}

at::Tensor PoissonSystem::to_grid(Vec x) const {
  PHYSML_CHECK(A_ != nullptr, "PoissonSystem::to_grid: the system is empty");
  PetscInt n = 0;
  PHYSML_PETSC(VecGetSize(x, &n));
  PHYSML_CHECK(n == n_rows_, "PoissonSystem::to_grid: the Vec has ", n, " entries, the system ", n_rows_);
  VecScatter ctx = nullptr;
  Vec all = nullptr;
  PHYSML_PETSC(VecScatterCreateToAll(x, &ctx, &all));
  PHYSML_PETSC(VecScatterBegin(ctx, x, all, INSERT_VALUES, SCATTER_FORWARD));
  PHYSML_PETSC(VecScatterEnd(ctx, x, all, INSERT_VALUES, SCATTER_FORWARD));
  at::Tensor grid = fixed_values_.clone();
  double* g = grid.data_ptr<double>();
  const PetscScalar* xa = nullptr;
  PHYSML_PETSC(VecGetArrayRead(all, &xa));
  for (size_t p = 0; p < row_of_point_.size(); ++p)
    if (row_of_point_[p] >= 0) g[p] = PetscRealPart(xa[row_of_point_[p]]);
  PHYSML_PETSC(VecRestoreArrayRead(all, &xa));
  PHYSML_PETSC(VecScatterDestroy(&ctx));
  PHYSML_PETSC(VecDestroy(&all));
  return grid;
}

Vec PoissonSystem::from_grid(const at::Tensor& field) const {
  PHYSML_CHECK(A_ != nullptr, "PoissonSystem::from_grid: the system is empty");
  PHYSML_CHECK(field.sizes().vec() == shape_, "PoissonSystem::from_grid: field has shape ", field.sizes(),
               ", the grid is ", c10::IntArrayRef(shape_));
  at::Tensor f = field.to(torch::kCPU, torch::kDouble).contiguous();
  const double* fa = f.data_ptr<double>();
  Vec v = nullptr;
  PHYSML_PETSC(MatCreateVecs(A_, &v, nullptr));
  PetscInt lo = 0, hi = 0;
  PHYSML_PETSC(VecGetOwnershipRange(v, &lo, &hi));
  PetscScalar* va = nullptr;
  PHYSML_PETSC(VecGetArray(v, &va));
  for (size_t p = 0; p < row_of_point_.size(); ++p) {
    PetscInt r = row_of_point_[p];
    if (r >= lo && r < hi) va[r - lo] = fa[p];
  }
  PHYSML_PETSC(VecRestoreArray(v, &va));
  return v;
}

// ---------------------------------------------------------------------------------------
// Assembly

PoissonSystem assemble_poisson(const PoissonProblem& problem, MPI_Comm comm) {
  problem.validate();
  const int dim = problem.dim();
  const bool vertex = problem.centering == GridCentering::vertex;
  const auto& shape = problem.shape;
  int64_t npoints = 1;
  for (auto n : shape) npoints *= n;
  // Strides of the flattened grid (x fastest).
  std::vector<int64_t> stride(static_cast<size_t>(dim), 1);
  for (int a = dim - 2; a >= 0; --a) stride[static_cast<size_t>(a)] = stride[static_cast<size_t>(a + 1)] * shape[static_cast<size_t>(a + 1)];
  std::vector<double> h(static_cast<size_t>(dim));
  for (int a = 0; a < dim; ++a) h[static_cast<size_t>(a)] = problem.spacing(a);
  // Face of tensor axis a on side s (0 = low, 1 = high): x faces belong to the last axis.
  auto face_of = [dim](int axis, int side) { return 2 * (dim - 1 - axis) + side; };

  auto as_double = [&](const at::Tensor& t, double fill) {
    if (!t.defined()) return torch::full(shape, fill, torch::kDouble);
    return t.to(torch::kCPU, torch::kDouble).contiguous();
  };
  const at::Tensor a_t = as_double(problem.coefficient, 1.0);
  const at::Tensor f_t = as_double(problem.source, 0.0);
  const at::Tensor s_t = problem.solid.defined() ? (problem.solid.to(torch::kCPU) != 0).contiguous()
                                                 : torch::zeros(shape, torch::kBool);
  const double* a = a_t.data_ptr<double>();
  const double* f = f_t.data_ptr<double>();
  const at::Tensor r_t = as_double(problem.reaction, 0.0);
  const double* react = r_t.data_ptr<double>();
  const bool* solid = s_t.data_ptr<bool>();

  auto index_of = [&](int64_t p, std::array<int64_t, 3>& idx) {
    for (int ax = 0; ax < dim; ++ax) {
      idx[static_cast<size_t>(ax)] = (p / stride[static_cast<size_t>(ax)]) % shape[static_cast<size_t>(ax)];
    }
  };
  auto coords_of = [&](const std::array<int64_t, 3>& idx) {
    std::array<double, 3> x{0, 0, 0};
    for (int ax = 0; ax < dim; ++ax) x[static_cast<size_t>(dim - 1 - ax)] = problem.coordinate(ax, idx[static_cast<size_t>(ax)]);
    return x;
  };
  // The Dirichlet face a vertex lies on (or -1).
  auto dirichlet_face = [&](const std::array<int64_t, 3>& idx) {
    if (!vertex) return -1;
    for (int ax = 0; ax < dim; ++ax) {
      const auto i = idx[static_cast<size_t>(ax)];
      for (int side = 0; side < 2; ++side) {
        const bool on = side == 0 ? i == 0 : i == shape[static_cast<size_t>(ax)] - 1;
        if (on && problem.boundary[static_cast<size_t>(face_of(ax, side))].type == BoundaryType::dirichlet)
          return face_of(ax, side);
      }
    }
    return -1;
  };

  bool any_dirichlet = false;
  for (int fc = 0; fc < 2 * dim; ++fc)
    any_dirichlet = any_dirichlet || problem.boundary[static_cast<size_t>(fc)].type == BoundaryType::dirichlet;

  PoissonSystem sys;
  sys.comm_ = comm;
  sys.shape_ = shape;
  sys.singular_ = !any_dirichlet && !(problem.reaction.defined() && (problem.reaction != 0).any().item<bool>());
  sys.row_of_point_.assign(static_cast<size_t>(npoints), -1);
  sys.fixed_values_ = torch::zeros(shape, torch::kDouble);
  double* fixed = sys.fixed_values_.data_ptr<double>();
  std::vector<char> active(static_cast<size_t>(npoints), 0);
  const bool identity = problem.inactive == InactiveRows::identity;
  PetscInt nrows = 0;
  std::vector<int64_t> point_of_row;
  point_of_row.reserve(static_cast<size_t>(npoints));
  for (int64_t p = 0; p < npoints; ++p) {
    std::array<int64_t, 3> idx{0, 0, 0};
    index_of(p, idx);
    bool is_active = !solid[p];
    if (is_active) {
      const int df = dirichlet_face(idx);
      if (df >= 0) {
        is_active = false;
        fixed[p] = problem.boundary[static_cast<size_t>(df)].at(coords_of(idx));
      }
    }
    active[static_cast<size_t>(p)] = is_active;
    if (is_active || identity) {
      sys.row_of_point_[static_cast<size_t>(p)] = nrows++;
      point_of_row.push_back(p);
    }
  }
  PHYSML_CHECK(nrows > 0, "Poisson problem: no unknowns (every point is solid or a Dirichlet boundary point)");
  sys.n_rows_ = nrows;

  Mat A = nullptr;
  Vec b = nullptr;
  PHYSML_PETSC(MatCreate(comm, &A));
  PHYSML_PETSC(MatSetSizes(A, PETSC_DECIDE, PETSC_DECIDE, nrows, nrows));
  PHYSML_PETSC(MatSetType(A, MATAIJ));
  const PetscInt nnz = 2 * dim + 1;
  PHYSML_PETSC(MatSeqAIJSetPreallocation(A, nnz, nullptr));
  PHYSML_PETSC(MatMPIAIJSetPreallocation(A, nnz, nullptr, nnz, nullptr));
  PHYSML_PETSC(MatSetOption(A, MAT_SYMMETRIC, PETSC_TRUE));
  PHYSML_PETSC(MatCreateVecs(A, nullptr, &b));
  sys.A_ = A;
  sys.b_ = b;
  PetscInt rstart = 0, rend = 0;
  PHYSML_PETSC(MatGetOwnershipRange(A, &rstart, &rend));

  std::vector<PetscInt> cols;
  std::vector<PetscScalar> vals;
  for (PetscInt r = rstart; r < rend; ++r) {
    const int64_t p = point_of_row[static_cast<size_t>(r)];
    if (!active[static_cast<size_t>(p)]) {
      const PetscScalar one = 1.0, g = fixed[p];
      PHYSML_PETSC(MatSetValues(A, 1, &r, 1, &r, &one, INSERT_VALUES));
      PHYSML_PETSC(VecSetValues(b, 1, &r, &g, INSERT_VALUES));
      continue;
    }
    std::array<int64_t, 3> idx{0, 0, 0};
    index_of(p, idx);
    // Fraction of a full control volume per axis: ½ for vertex points on a (Neumann) boundary.
    std::array<double, 3> frac{1, 1, 1};
    if (vertex)
      for (int ax = 0; ax < dim; ++ax) {
        const auto i = idx[static_cast<size_t>(ax)];
        if (i == 0 || i == shape[static_cast<size_t>(ax)] - 1) frac[static_cast<size_t>(ax)] = 0.5;
      }
    double volume = 1;
    for (int ax = 0; ax < dim; ++ax) volume *= frac[static_cast<size_t>(ax)];
    double diag = react[p] * volume, rhs = f[p] * volume;
    cols.clear();
    vals.clear();
    for (int ax = 0; ax < dim; ++ax) {
      const auto axs = static_cast<size_t>(ax);
      double area = 1;  // face area fraction normal to this axis
      for (int e = 0; e < dim; ++e)
        if (e != ax) area *= frac[static_cast<size_t>(e)];
      const double inv_h2 = 1.0 / (h[axs] * h[axs]);
      for (int side = 0; side < 2; ++side) {
        const bool at_boundary = side == 0 ? idx[axs] == 0 : idx[axs] == shape[axs] - 1;
        if (at_boundary) {
          const auto& bc = problem.boundary[static_cast<size_t>(face_of(ax, side))];
          auto x = coords_of(idx);
          if (!vertex) x[static_cast<size_t>(dim - 1 - ax)] = side == 0 ? 0.0 : (problem.lengths.empty() ? 1.0 : problem.lengths[axs]);
          if (bc.type == BoundaryType::neumann) {
            rhs += bc.at(x) * area / h[axs];
          } else {
            // Cell centring: ghost-cell reflection across the face at distance h/2.
            const double w = 2.0 * a[p] * area * inv_h2;
            diag += w;
            rhs += w * bc.at(x);
          }
          continue;
        }
        const int64_t q = p + (side == 0 ? -stride[axs] : stride[axs]);
        if (solid[q]) continue;  // zero-flux wall
        const double w = 0.5 * (a[p] + a[q]) * area * inv_h2;
        diag += w;
        if (active[static_cast<size_t>(q)]) {
          cols.push_back(sys.row_of_point_[static_cast<size_t>(q)]);
          vals.push_back(-w);
        } else {
          rhs += w * fixed[q];  // fixed Dirichlet vertex: moved to the right-hand side
        }
      }
    }
    cols.push_back(r);
    vals.push_back(diag);
    PHYSML_PETSC(MatSetValues(A, 1, &r, static_cast<PetscInt>(cols.size()), cols.data(), vals.data(), INSERT_VALUES));
    const PetscScalar rv = rhs;
    PHYSML_PETSC(VecSetValues(b, 1, &r, &rv, INSERT_VALUES));
  }
  PHYSML_PETSC(MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY));
  PHYSML_PETSC(MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY));
  PHYSML_PETSC(VecAssemblyBegin(b));
  PHYSML_PETSC(VecAssemblyEnd(b));

  if (sys.singular_) {
    // Null space: constant on the active points (0 on identity rows).
    Vec z = nullptr;
    PHYSML_PETSC(MatCreateVecs(A, &z, nullptr));
    PetscScalar* za = nullptr;
    PHYSML_PETSC(VecGetArray(z, &za));
    for (PetscInt r = rstart; r < rend; ++r) za[r - rstart] = active[static_cast<size_t>(point_of_row[static_cast<size_t>(r)])] ? 1.0 : 0.0;
    PHYSML_PETSC(VecRestoreArray(z, &za));
    PHYSML_PETSC(VecNormalize(z, nullptr));
    MatNullSpace ns = nullptr;
    PHYSML_PETSC(MatNullSpaceCreate(comm, PETSC_FALSE, 1, &z, &ns));
    PHYSML_PETSC(MatSetNullSpace(A, ns));
    PHYSML_PETSC(MatNullSpaceRemove(ns, b));  // make b compatible (removes the O(h²) flux imbalance)
    PHYSML_PETSC(MatNullSpaceDestroy(&ns));
    PHYSML_PETSC(VecDestroy(&z));
  }
  return sys;
}

// ---------------------------------------------------------------------------------------
// Solver

std::string SolveReport::reason_name() const { return KSPConvergedReasons[reason]; }

PoissonSolver::PoissonSolver(MPI_Comm comm, const std::string& prefix, PetscOptions db) {
  PHYSML_PETSC(KSPCreate(comm, &ksp_));
  if (db) PHYSML_PETSC(PetscObjectSetOptions(reinterpret_cast<PetscObject>(ksp_), db));  // before the PC exists
  PHYSML_PETSC(KSPSetType(ksp_, KSPCG));
  PC pc = nullptr;
  PHYSML_PETSC(KSPGetPC(ksp_, &pc));
  PHYSML_PETSC(PCSetType(pc, PCGAMG));
  PHYSML_PETSC(KSPSetTolerances(ksp_, 1e-10, 1e-50, PETSC_DEFAULT, 10000));
  PHYSML_PETSC(KSPSetNormType(ksp_, KSP_NORM_UNPRECONDITIONED));
  if (!prefix.empty()) PHYSML_PETSC(KSPSetOptionsPrefix(ksp_, prefix.c_str()));
  PHYSML_PETSC(KSPSetFromOptions(ksp_));
}

PoissonSolver::~PoissonSolver() {
  if (ksp_) KSPDestroy(&ksp_);
}

SolveReport PoissonSolver::solve(const PoissonSystem& system) {
  PHYSML_CHECK(system.matrix() != nullptr, "PoissonSolver::solve: the system is empty (assemble it first)");
  PHYSML_PETSC(KSPSetOperators(ksp_, system.matrix(), system.matrix()));
  Vec x = nullptr;
  PHYSML_PETSC(MatCreateVecs(system.matrix(), &x, nullptr));
  VecHandle guard(x);
  PHYSML_PETSC(KSPSolve(ksp_, system.rhs(), x));
  SolveReport rep;
  PHYSML_PETSC(KSPGetConvergedReason(ksp_, &rep.reason));
  PHYSML_PETSC(KSPGetIterationNumber(ksp_, &rep.iterations));
  PHYSML_PETSC(KSPGetResidualNorm(ksp_, &rep.residual_norm));
  if (!rep.converged() && throw_on_divergence_) {
    const char* prefix = nullptr;
    KSPGetOptionsPrefix(ksp_, &prefix);
    PHYSML_THROW("Poisson solve did not converge: ", rep.reason_name(), " after ", rep.iterations,
                 " iterations (residual norm ", rep.residual_norm, "); try other -", prefix ? prefix : "",
                 "ksp_type/-", prefix ? prefix : "", "pc_type or a larger -", prefix ? prefix : "", "ksp_max_it");
  }
  if (system.singular()) {
    MatNullSpace ns = nullptr;
    PHYSML_PETSC(MatGetNullSpace(system.matrix(), &ns));
    if (ns) PHYSML_PETSC(MatNullSpaceRemove(ns, x));
  }
  rep.solution = system.to_grid(x);
  return rep;
}

at::Tensor solve_poisson(const PoissonProblem& problem, const std::string& prefix) {
  PoissonSystem sys = assemble_poisson(problem, PETSC_COMM_SELF);
  PoissonSolver solver(PETSC_COMM_SELF, prefix);
  return solver.solve(sys).solution;
}

}  // namespace physml::simulators
