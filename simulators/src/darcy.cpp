#include "physml/simulators/darcy.hpp"

#include "pde_options.hpp"
#include "physml/core/options_reader.hpp"
#include "physml/physics/random_field.hpp"

#include <torch/torch.h>

namespace physml::simulators {

DarcyOptions DarcyOptions::smooth() { return DarcyOptions{}; }

DarcyOptions DarcyOptions::rough() {
  DarcyOptions o;
  o.resolution = 512;
  o.tau = 5.0;
  return o;
}

DarcyOptions DarcyOptions::scaled(const std::string& preset) {
  PHYSML_CHECK(preset == "smooth" || preset == "rough", "DarcyOptions::scaled: unknown preset '", preset,
               "'; expected smooth or rough");
  DarcyOptions o = preset == "rough" ? rough() : smooth();
  o.resolution = preset == "rough" ? 128 : 85;
  return o;
}

DarcyOptions& DarcyOptions::set_from_options(const Options& options) {
  return detail::read_in_own_section(*this, options, "Darcy flow -div(a grad u) = f (data distribution and grid)");
}

DarcyOptions& DarcyOptions::read_options(OptionsReader& r) {
  resolution = r.integer("resolution", resolution, "vertices per side of the solve grid (published: 421; rough 512)", 3);
  alpha = detail::positive_option(r, "alpha", alpha, "GRF exponent alpha of the coefficient's level-set field");
  tau = detail::positive_option(r, "tau", tau, "GRF inverse length scale tau (smooth 3, rough 5)");
  // Threshold T(g) = high (g >= 0) / low (g < 0). Smooth: 12/3 (FNO paper). Rough: MgNO's
  // values are undocumented; the same 12/3 by default (docs/results-pde-data.md).
  high = detail::positive_option(r, "high", high, "coefficient where the GRF is >= 0");
  low = detail::positive_option(r, "low", low, "coefficient where the GRF is < 0");
  source = detail::finite_option(r, "source", source, "constant source f");
  return *this;
}

mesh::Grid DarcyOptions::grid() const { return detail::unit_vertex_grid(2, resolution, mesh::Boundary::dirichlet); }

DarcyOptions& DarcyOptions::on(const mesh::Grid& g) {
  resolution = detail::points_per_side(g, detail::unit_vertex_grid(2, 3, mesh::Boundary::dirichlet), "DarcyOptions::on");
  return *this;
}

struct DarcyGenerator::Impl {
  physics::GaussianRandomField grf;
};

DarcyGenerator::DarcyGenerator(const DarcyOptions& options, const std::string& prefix, PetscOptions db)
    : options_(options) {
  PHYSML_CHECK(options_.resolution >= 3, "Darcy: resolution ", options_.resolution,
               " is too small; expected at least 3 vertices per side");
  PHYSML_CHECK(options_.tau > 0, "Darcy: tau = ", options_.tau, " must be positive");
  PHYSML_CHECK(options_.alpha > 0, "Darcy: alpha = ", options_.alpha, " must be positive");
  PHYSML_CHECK(options_.high > 0 && options_.low > 0, "Darcy: threshold values ", options_.high, " / ",
               options_.low, " must be positive (they are the permeability)");
  physics::GaussianRandomFieldOptions g;
  g.shape = {options_.resolution, options_.resolution};
  g.alpha = options_.alpha;
  g.tau = options_.tau;
  g.boundary = physics::FieldBoundary::neumann;
  impl_ = std::make_unique<Impl>(Impl{physics::GaussianRandomField(g)});
  solver_ = std::make_unique<PoissonSolver>(PETSC_COMM_SELF, prefix, db);
}

DarcyGenerator::~DarcyGenerator() = default;

SolveReport DarcyGenerator::solve(const at::Tensor& coefficient, const at::Tensor& source) {
  PoissonProblem pb;
  pb.shape = {options_.resolution, options_.resolution};
  pb.centering = GridCentering::vertex;
  pb.coefficient = coefficient;
  pb.source = source.defined() ? source : torch::full(pb.shape, options_.source, torch::kDouble);
  pb.set_all_boundaries(BoundaryCondition::dirichlet(0.0));
  PoissonSystem sys = assemble_poisson(pb, PETSC_COMM_SELF);
  return solver_->solve(sys);
}

DarcySample DarcyGenerator::generate(std::uint64_t seed, std::uint64_t index) {
  DarcySample s;
  s.coefficient = physics::threshold(impl_->grf.sample(seed, index), options_.high, options_.low);
  s.report = solve(s.coefficient);
  s.solution = s.report.solution;
  return s;
}

at::Tensor downsample_vertex(const at::Tensor& field, int64_t r) {
  PHYSML_CHECK(field.dim() >= 2, "downsample_vertex: expected a field [..., s, s], got shape ", field.sizes());
  PHYSML_CHECK(r >= 1, "downsample_vertex: factor ", r, " must be positive");
  const auto ny = field.size(-2), nx = field.size(-1);
  PHYSML_CHECK((ny - 1) % r == 0 && (nx - 1) % r == 0, "downsample_vertex: grid ", ny, "x", nx,
               " cannot be subsampled by ", r, " keeping the corners; (s - 1) must be divisible by the factor");
  return field.slice(-2, 0, ny, r).slice(-1, 0, nx, r).contiguous();
}

at::Tensor downsample_stride(const at::Tensor& field, int64_t r) {
  PHYSML_CHECK(field.dim() >= 2, "downsample_stride: expected a field [..., n, n], got shape ", field.sizes());
  PHYSML_CHECK(r >= 1, "downsample_stride: factor ", r, " must be positive");
  const auto ny = field.size(-2), nx = field.size(-1);
  PHYSML_CHECK(ny % r == 0 && nx % r == 0, "downsample_stride: grid ", ny, "x", nx, " is not divisible by ", r);
  return field.slice(-2, 0, ny, r).slice(-1, 0, nx, r).contiguous();
}

mesh::Grid downsample_grid(const mesh::Grid& grid, int64_t r, bool keep_corners) {
  PHYSML_CHECK(r >= 1, "downsample_grid: factor ", r, " must be positive");
  // Every r-th cell centre is not the centre of a coarser cell: only vertex grids subsample.
  PHYSML_CHECK(grid.centering() == mesh::Centering::vertex, "downsample_grid: expected a vertex-centred grid, got ",
               grid.to_json());
  std::vector<int64_t> sizes;
  std::vector<double> lower, upper;
  for (int a = 0; a < grid.dim(); ++a) {
    const int64_t n = grid.size(a);
    const bool periodic = grid.periodic(a);
    lower.push_back(grid.lower(a));
    if (keep_corners && !periodic) {
      PHYSML_CHECK((n - 1) % r == 0, "downsample_grid: axis ", a, " has ", n,
                   " points; keeping the corners needs (n - 1) divisible by ", r);
      sizes.push_back((n - 1) / r + 1);
      upper.push_back(grid.upper(a));
    } else {
      PHYSML_CHECK(n % r == 0, "downsample_grid: axis ", a, " has ", n, " points, not divisible by ", r);
      sizes.push_back(n / r);
      // A periodic axis keeps its period; otherwise the box ends at the last point kept.
      upper.push_back(periodic ? grid.upper(a) : grid.lower(a) + static_cast<double>((n / r - 1) * r) * grid.spacing(a));
    }
  }
  mesh::GridOptions o(sizes);
  o.lower(lower).upper(upper).centering(grid.centering());
  for (int a = 0; a < grid.dim(); ++a) o.boundary(a, grid.boundary(a, 0), grid.boundary(a, 1));
  return mesh::Grid(o);
}

}  // namespace physml::simulators
