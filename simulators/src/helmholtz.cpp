#include "physml/simulators/helmholtz.hpp"

#include "pde_options.hpp"
#include "physml/core/options_reader.hpp"
#include "physml/core/random.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace physml::simulators {

HelmholtzOptions HelmholtzOptions::scaled() { return HelmholtzOptions{}; }

HelmholtzOptions& HelmholtzOptions::set_from_options(const Options& options) {
  return detail::read_in_own_section(*this, options, "Helmholtz -lap(u) - (omega/c)^2 u = 0 (data distribution and grid)");
}

HelmholtzOptions& HelmholtzOptions::read_options(OptionsReader& r) {
  resolution = r.integer("resolution", resolution, "nodes per side", 3);
  omega = detail::positive_option(r, "omega", omega, "angular frequency omega");
  tau = detail::positive_option(r, "tau", tau, "tau of the cosine-expansion eigenvalues of log c");
  terms = r.integer("terms", terms, "cosine modes of the wave-speed field", 1);
  source_center = detail::finite_option(r, "source_center", source_center, "x0 of the top-edge flux window");
  source_width = detail::positive_option(r, "source_width", source_width, "d0: flux 1 where |x - x0| <= d0/2");
  return *this;
}

mesh::Grid HelmholtzOptions::grid() const { return detail::unit_vertex_grid(2, resolution, mesh::Boundary::neumann); }

HelmholtzOptions& HelmholtzOptions::on(const mesh::Grid& g) {
  resolution = detail::points_per_side(g, detail::unit_vertex_grid(2, 3, mesh::Boundary::neumann), "HelmholtzOptions::on");
  return *this;
}

at::Tensor helmholtz_log_speed(int64_t s, int64_t terms, double tau, std::uint64_t seed) {
  PHYSML_CHECK(s >= 2, "Helmholtz: resolution ", s, " must be at least 2");
  PHYSML_CHECK(terms >= 1, "Helmholtz: number of terms ", terms, " must be positive");
  PHYSML_CHECK(tau > 0, "Helmholtz: tau = ", tau, " must be positive");
  std::vector<std::pair<int64_t, int64_t>> modes;
  const auto lmax = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(terms)))) + 2;
  for (int64_t l1 = 0; l1 <= 2 * lmax; ++l1)
    for (int64_t l2 = 0; l2 <= 2 * lmax; ++l2)
      if (l1 || l2) modes.emplace_back(l1, l2);
  std::stable_sort(modes.begin(), modes.end(), [](const auto& p, const auto& q) {
    const auto np = p.first * p.first + p.second * p.second, nq = q.first * q.first + q.second * q.second;
    return np != nq ? np < nq : p.first < q.first;
  });
  modes.resize(static_cast<size_t>(terms));
  std::mt19937_64 engine(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  auto a = torch::zeros({s, s}, torch::kDouble);
  auto A = a.accessor<double, 2>();
  for (const auto& [l1, l2] : modes) {
    const double theta = normal(engine);
    const double k2 = M_PI * M_PI * static_cast<double>(l1 * l1 + l2 * l2);
    const double amp = theta / (k2 + tau * tau);  // √λ = (π²|l|² + τ²)^(−1)
    const double c1 = l1 ? std::sqrt(2.0) : 1.0, c2 = l2 ? std::sqrt(2.0) : 1.0;
    for (int64_t j = 0; j < s; ++j) {
      const double y = static_cast<double>(j) / static_cast<double>(s - 1);
      const double py = c2 * std::cos(M_PI * static_cast<double>(l2) * y);
      for (int64_t i = 0; i < s; ++i) {
        const double x = static_cast<double>(i) / static_cast<double>(s - 1);
        A[j][i] += amp * c1 * std::cos(M_PI * static_cast<double>(l1) * x) * py;
      }
    }
  }
  return a;
}

HelmholtzSolver::HelmholtzSolver(const HelmholtzOptions& options, const std::string& prefix, PetscOptions db)
    : options_(options), solver_(PETSC_COMM_SELF, prefix, db) {
  PHYSML_CHECK(options_.resolution >= 3, "Helmholtz: resolution ", options_.resolution, " must be at least 3");
  PHYSML_CHECK(options_.omega > 0, "Helmholtz: omega ", options_.omega, " must be positive");
  KSP ksp = solver_.ksp();
  PC pc = nullptr;
  PHYSML_PETSC(KSPGetPC(ksp, &pc));
#if defined(PETSC_HAVE_MUMPS)
  PHYSML_PETSC(KSPSetType(ksp, KSPPREONLY));
  PHYSML_PETSC(PCSetType(pc, PCLU));
  PHYSML_PETSC(PCFactorSetMatSolverType(pc, MATSOLVERMUMPS));
#else
  PHYSML_PETSC(KSPSetType(ksp, KSPGMRES));
  PHYSML_PETSC(PCSetType(pc, PCILU));
#endif
  PHYSML_PETSC(KSPSetFromOptions(ksp));  // options (-<prefix>ksp_type ...) override the default again
}

SolveReport HelmholtzSolver::solve_with(const at::Tensor& k_squared, const std::array<BoundaryCondition, 6>& boundary) {
  PoissonProblem pb;
  pb.shape = {options_.resolution, options_.resolution};
  pb.centering = GridCentering::vertex;
  pb.reaction = -k_squared.to(torch::kDouble);
  pb.boundary = boundary;
  for (int f = 0; f < 4; ++f)
    PHYSML_CHECK(boundary[static_cast<size_t>(f)].type == BoundaryType::neumann,
                 "Helmholtz: the benchmark has Neumann data on every face");
  auto sys = assemble_poisson(pb, PETSC_COMM_SELF);
  return solver_.solve(sys);
}

SolveReport HelmholtzSolver::solve(const at::Tensor& c) {
  PHYSML_CHECK(c.dim() == 2 && c.size(0) == options_.resolution && c.size(1) == options_.resolution,
               "Helmholtz: wave speed has shape ", c.sizes(), ", expected [", options_.resolution, ", ",
               options_.resolution, "]");
  PHYSML_CHECK(c.min().item<double>() > 0, "Helmholtz: wave speed must be positive");
  std::array<BoundaryCondition, 6> bc;
  bc.fill(BoundaryCondition::neumann(0.0));
  const double x0 = options_.source_center, half = options_.source_width / 2;
  bc[y_hi].function = [x0, half](const std::array<double, 3>& x) { return std::abs(x[0] - x0) <= half + 1e-12 ? 1.0 : 0.0; };
  auto k2 = (options_.omega / c.to(torch::kDouble)).pow(2);
  return solve_with(k2, bc);
}

std::pair<at::Tensor, at::Tensor> HelmholtzSolver::generate(std::uint64_t seed, std::uint64_t index) {
  auto a = helmholtz_log_speed(options_.resolution, options_.terms, options_.tau, derive_seed(seed, index));
  auto c = 20.0 + torch::tanh(a);
  return {c, solve(c).solution};
}

}  // namespace physml::simulators
