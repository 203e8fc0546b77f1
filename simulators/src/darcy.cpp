#include "physml/simulators/darcy.hpp"

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

struct DarcyGenerator::Impl {
  physics::GaussianRandomField grf;
};

DarcyGenerator::DarcyGenerator(const DarcyOptions& options, const std::string& prefix) : options_(options) {
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
  solver_ = std::make_unique<PoissonSolver>(PETSC_COMM_SELF, prefix);
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

}  // namespace physml::simulators
