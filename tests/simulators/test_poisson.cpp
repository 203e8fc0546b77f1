#include "test_util.hpp"

#include "physml/simulators/poisson.hpp"

#include <torch/torch.h>

#include <cmath>

using namespace physml::simulators;

namespace {

// Manufactured solution u = sin(k·x + c0) with a = 1.5 + 0.5 sin(2x + y − z);
// f = −∇·(a∇u) = −(∇a·∇u + a Δu). In 2D z = 0 and k_z = 0.
struct Manufactured {
  int dim;
  double kx = 1.1 * M_PI, ky = 0.8 * M_PI, kz = 0.6 * M_PI, c0 = 0.3;
  double kz_eff() const { return dim == 3 ? kz : 0.0; }
  double phase(const std::array<double, 3>& x) const { return kx * x[0] + ky * x[1] + kz_eff() * x[2] + c0; }
  double u(const std::array<double, 3>& x) const { return std::sin(phase(x)); }
  double a(const std::array<double, 3>& x) const { return 1.5 + 0.5 * std::sin(2 * x[0] + x[1] - x[2]); }
  std::array<double, 3> grad_a(const std::array<double, 3>& x) const {
    const double c = 0.5 * std::cos(2 * x[0] + x[1] - x[2]);
    return {2 * c, c, -c};
  }
  std::array<double, 3> grad_u(const std::array<double, 3>& x) const {
    const double c = std::cos(phase(x));
    return {kx * c, ky * c, kz_eff() * c};
  }
  double f(const std::array<double, 3>& x) const {
    const auto ga = grad_a(x), gu = grad_u(x);
    const double k2 = kx * kx + ky * ky + kz_eff() * kz_eff();
    return -(ga[0] * gu[0] + ga[1] * gu[1] + ga[2] * gu[2] - a(x) * k2 * u(x));
  }
  // Outward conormal flux a ∂u/∂n on face `face`.
  double flux(int face, const std::array<double, 3>& x) const {
    const auto gu = grad_u(x);
    const int comp = face / 2;
    const double sign = face % 2 == 0 ? -1.0 : 1.0;
    return a(x) * sign * gu[static_cast<size_t>(comp)];
  }
};

template <typename F>
at::Tensor sample(const PoissonProblem& pb, F fn) {
  auto t = torch::zeros(pb.shape, torch::kDouble);
  auto* d = t.data_ptr<double>();
  const int dim = pb.dim();
  const int64_t nz = dim == 3 ? pb.shape[0] : 1, ny = pb.shape[dim - 2], nx = pb.shape[dim - 1];
  for (int64_t k = 0; k < nz; ++k)
    for (int64_t j = 0; j < ny; ++j)
      for (int64_t i = 0; i < nx; ++i) {
        std::array<double, 3> x{pb.coordinate(dim - 1, i), pb.coordinate(dim - 2, j),
                                dim == 3 ? pb.coordinate(0, k) : 0.0};
        d[(k * ny + j) * nx + i] = fn(x);
      }
  return t;
}

PoissonProblem manufactured_problem(const Manufactured& m, int n, GridCentering c, BoundaryType bt) {
  PoissonProblem pb;
  pb.shape.assign(static_cast<size_t>(m.dim), n);
  pb.centering = c;
  pb.coefficient = sample(pb, [&](const auto& x) { return m.a(x); });
  pb.source = sample(pb, [&](const auto& x) { return m.f(x); });
  for (int face = 0; face < 2 * m.dim; ++face) {
    BoundaryCondition bc;
    bc.type = bt;
    if (bt == BoundaryType::dirichlet)
      bc.function = [m](const std::array<double, 3>& x) { return m.u(x); };
    else
      bc.function = [m, face](const std::array<double, 3>& x) { return m.flux(face, x); };
    pb.boundary[static_cast<size_t>(face)] = bc;
  }
  return pb;
}

// Max-norm error of the discrete solution (both sides mean-free if the problem is singular).
double solve_error(const Manufactured& m, int n, GridCentering c, BoundaryType bt) {
  auto pb = manufactured_problem(m, n, c, bt);
  auto sys = assemble_poisson(pb, PETSC_COMM_SELF);
  PoissonSolver solver(PETSC_COMM_SELF, "test_poisson_");
  PetscCallAbort(PETSC_COMM_SELF, KSPSetTolerances(solver.ksp(), 1e-13, 1e-50, PETSC_DEFAULT, 2000));
  auto rep = solver.solve(sys);
  auto exact = sample(pb, [&](const auto& x) { return m.u(x); });
  auto uh = rep.solution;
  if (sys.singular()) {
    EXPECT_NEAR(uh.mean().item<double>(), 0.0, 1e-10);
    exact = exact - exact.mean();
  }
  return (uh - exact).abs().max().item<double>();
}

struct Case {
  int dim;
  GridCentering centering;
  BoundaryType bc;
};

class PoissonConvergence : public ::testing::TestWithParam<Case> {};

}  // namespace

TEST_P(PoissonConvergence, SecondOrderAgainstManufacturedSolution) {
  const auto cs = GetParam();
  Manufactured m{cs.dim};
  const bool vertex = cs.centering == GridCentering::vertex;
  // Three refinements (h halves each time).
  // (3D cell-centred Dirichlet is pre-asymptotic on coarse grids: order 1.87 at 8 -> 16, 1.90 at 10 -> 20.)
  std::vector<int> ns = cs.dim == 2 ? std::vector<int>{16, 32, 64} : std::vector<int>{8, 16, 32};
  if (cs.dim == 3 && !vertex) ns = {12, 24, 48};
  if (vertex)
    for (auto& n : ns) n += 1;
  std::vector<double> err;
  for (int n : ns) err.push_back(solve_error(m, n, cs.centering, cs.bc));
  for (size_t i = 0; i + 1 < err.size(); ++i) {
    const double order = std::log2(err[i] / err[i + 1]);
    EXPECT_GE(order, 1.9) << "errors " << err[i] << " -> " << err[i + 1];
    EXPECT_LE(order, 2.1) << "errors " << err[i] << " -> " << err[i + 1];
    std::printf("  h/%d -> h/%d: error %.3e -> %.3e, order %.3f\n", ns[i], ns[i + 1], err[i], err[i + 1], order);
  }
  EXPECT_LT(err.back(), 2e-3);
}

INSTANTIATE_TEST_SUITE_P(
    Grids, PoissonConvergence,
    ::testing::Values(Case{2, GridCentering::vertex, BoundaryType::dirichlet},
                      Case{2, GridCentering::vertex, BoundaryType::neumann},
                      Case{2, GridCentering::cell, BoundaryType::dirichlet},
                      Case{2, GridCentering::cell, BoundaryType::neumann},
                      Case{3, GridCentering::vertex, BoundaryType::dirichlet},
                      Case{3, GridCentering::vertex, BoundaryType::neumann},
                      Case{3, GridCentering::cell, BoundaryType::dirichlet},
                      Case{3, GridCentering::cell, BoundaryType::neumann}),
    [](const ::testing::TestParamInfo<Case>& info) {
      return std::to_string(info.param.dim) + "D_" +
             (info.param.centering == GridCentering::vertex ? "vertex_" : "cell_") +
             (info.param.bc == BoundaryType::dirichlet ? "dirichlet" : "neumann");
    });

TEST(Poisson, MatrixIsSymmetricWithMixedBoundariesAndSolids) {
  for (auto c : {GridCentering::vertex, GridCentering::cell}) {
    PoissonProblem pb;
    pb.shape = {7, 9, 11};
    pb.centering = c;
    pb.coefficient = torch::rand(pb.shape, torch::kDouble) + 0.1;
    pb.solid = torch::rand(pb.shape) < 0.2;
    pb.boundary[x_lo] = BoundaryCondition::neumann(1.0);
    pb.boundary[z_hi] = BoundaryCondition::neumann(0.0);
    auto sys = assemble_poisson(pb, PETSC_COMM_SELF);
    PetscBool sym = PETSC_FALSE;
    PetscCallAbort(PETSC_COMM_SELF, MatIsSymmetric(sys.matrix(), 1e-14, &sym));
    EXPECT_TRUE(sym);
  }
}

// A solid block occupying the top rows is a zero-flux wall: the fluid part must equal
// the solution of the smaller box with a homogeneous Neumann top face (cell centring).
TEST(Poisson, SolidCellsActAsZeroFluxWalls) {
  PoissonProblem full;
  full.shape = {16, 12};
  full.centering = GridCentering::cell;
  full.lengths = {16.0 / 12.0, 1.0};
  full.coefficient = torch::rand(full.shape, torch::kDouble) + 0.5;
  full.source = torch::randn(full.shape, torch::kDouble);
  full.solid = torch::zeros(full.shape, torch::kBool);
  full.solid.slice(0, 10).fill_(true);
  full.boundary[x_lo] = BoundaryCondition::dirichlet(1.0);

  PoissonProblem part;
  part.shape = {10, 12};
  part.centering = GridCentering::cell;
  part.lengths = {10.0 / 12.0, 1.0};
  part.coefficient = full.coefficient.slice(0, 0, 10).contiguous();
  part.source = full.source.slice(0, 0, 10).contiguous();
  part.boundary[x_lo] = BoundaryCondition::dirichlet(1.0);
  part.boundary[y_hi] = BoundaryCondition::neumann(0.0);

  auto u_full = solve_poisson(full, "test_poisson_");
  auto u_part = solve_poisson(part, "test_poisson_");
  EXPECT_LT((u_full.slice(0, 0, 10) - u_part).abs().max().item<double>(), 1e-8);
  EXPECT_EQ(u_full.slice(0, 10).abs().max().item<double>(), 0.0);

  // Identity rows for the solid cells give the same solution.
  full.inactive = InactiveRows::identity;
  auto sys = assemble_poisson(full, PETSC_COMM_SELF);
  EXPECT_EQ(sys.size(), 16 * 12);
  auto u_id = solve_poisson(full, "test_poisson_");
  EXPECT_LT((u_id - u_full).abs().max().item<double>(), 1e-8);
}

// Darcy-type system on the FNO vertex grid: exactly the interior points are unknowns.
TEST(Poisson, VertexDirichletExcludesBoundaryPoints) {
  PoissonProblem pb;
  pb.shape = {9, 9};
  pb.source = torch::ones(pb.shape, torch::kDouble);
  auto sys = assemble_poisson(pb, PETSC_COMM_SELF);
  EXPECT_EQ(sys.size(), 7 * 7);
  EXPECT_FALSE(sys.singular());
  auto u = solve_poisson(pb, "test_poisson_");
  EXPECT_EQ(u.select(0, 0).abs().max().item<double>(), 0.0);
  EXPECT_EQ(u.select(1, 8).abs().max().item<double>(), 0.0);
  EXPECT_GT(u.min().item<double>(), -1e-14);  // maximum principle: f ≥ 0 -> u ≥ 0
}

TEST(Poisson, BadInputGivesClearErrors) {
  PoissonProblem pb;
  pb.shape = {8, 8};
  pb.coefficient = torch::ones({8, 7}, torch::kDouble);
  EXPECT_THROW_MSG(assemble_poisson(pb, PETSC_COMM_SELF), "coefficient a has shape [8, 7]");
  pb.coefficient = torch::ones({8, 8}, torch::kDouble);
  pb.coefficient[3][3] = 0.0;
  EXPECT_THROW_MSG(assemble_poisson(pb, PETSC_COMM_SELF), "must be positive everywhere");
  pb.coefficient[3][3] = NAN;
  EXPECT_THROW_MSG(assemble_poisson(pb, PETSC_COMM_SELF), "coefficient a contains NaN");
  pb.coefficient = torch::Tensor();
  pb.shape = {8};
  EXPECT_THROW_MSG(assemble_poisson(pb, PETSC_COMM_SELF), "expected [ny, nx] or [nz, ny, nx]");
}

TEST(Poisson, NonConvergenceIsReportedWithPetscReason) {
  PoissonProblem pb;
  pb.shape = {33, 33};
  pb.source = torch::ones(pb.shape, torch::kDouble);
  auto sys = assemble_poisson(pb, PETSC_COMM_SELF);
  PoissonSolver solver(PETSC_COMM_SELF, "test_poisson_noconv_");
  PCSetType([&] { PC pc; KSPGetPC(solver.ksp(), &pc); return pc; }(), PCNONE);
  KSPSetTolerances(solver.ksp(), 1e-12, 1e-50, PETSC_DEFAULT, 2);
  EXPECT_THROW_MSG(solver.solve(sys), "DIVERGED_ITS");
  solver.set_throw_on_divergence(false);
  auto rep = solver.solve(sys);
  EXPECT_FALSE(rep.converged());
  EXPECT_EQ(rep.reason_name(), "DIVERGED_ITS");
}

TEST(Poisson, ProblemAndTheOneGridDescriptionAgree) {
  using physml::mesh::Boundary;
  const physml::mesh::Grid g(physml::mesh::GridOptions({9, 5})
                                 .upper({2.0, 1.0})
                                 .centering(physml::mesh::Centering::cell)
                                 .boundary(0, Boundary::neumann, Boundary::dirichlet));
  auto p = physml::simulators::PoissonProblem::on(g);
  EXPECT_EQ(p.shape, (std::vector<int64_t>{5, 9}));        // tensor order [ny, nx]
  EXPECT_EQ(p.lengths, (std::vector<double>{1.0, 2.0}));   // [Ly, Lx]
  EXPECT_EQ(p.boundary[physml::simulators::x_lo].type, Boundary::neumann);
  EXPECT_EQ(p.boundary[physml::simulators::x_hi].type, Boundary::dirichlet);
  EXPECT_EQ(p.boundary[physml::simulators::y_lo].type, Boundary::dirichlet);
  EXPECT_DOUBLE_EQ(p.spacing(1), g.spacing(0));            // x spacing 2 / 9 (cells)
  EXPECT_DOUBLE_EQ(p.spacing(0), g.spacing(1));
  EXPECT_DOUBLE_EQ(p.coordinate(1, 3), g.axis_coordinates(0)[3].item<double>());
  EXPECT_EQ(p.grid(), g);
  EXPECT_THROW_MSG(physml::simulators::PoissonProblem::on(physml::mesh::Grid(physml::mesh::GridOptions({8, 8}).periodic(1))),
                   "axis 1 is periodic");
  p.boundary[physml::simulators::y_hi].type = Boundary::periodic;
  EXPECT_THROW_MSG(p.validate(), "face 3 is periodic");
}
