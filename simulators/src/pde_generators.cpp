// PhysML's benchmark data generators (Kovachki, Li et al., "Neural Operator", JMLR 2023,
// sections 6.2-6.4; Helmholtz: de Hoop, Huang, Qian, Stuart 2022; docs/results-pde-data.md):
// Darcy, Poisson, Helmholtz, Burgers and Navier-Stokes as DataGenerators. Each reads its
// options once (defaults from the simulator's options struct) and stores its fields on a
// mesh::Grid of the unit box: vertex grids for the elliptic problems, periodic grids
// (x_j = j/n) for the spectral time steppers.
#include "pde_generators.hpp"

#include "pde_options.hpp"
#include "physml/core/error.hpp"
#include "physml/core/options_reader.hpp"
#include "physml/physics/random_field.hpp"
#include "physml/simulators/burgers.hpp"
#include "physml/simulators/darcy.hpp"
#include "physml/simulators/helmholtz.hpp"
#include "physml/simulators/navier_stokes.hpp"
#include "physml/simulators/poisson.hpp"

#include <torch/torch.h>


namespace physml::simulators::detail {
namespace {

namespace phys = physml::physics;

/// -<prefix>downsample r of a periodic grid of n points (r divides n).
int64_t stride_factor(OptionsReader& r, int64_t n) {
  const int64_t f = r.integer("downsample", 1, "keep every r-th point of the solve grid (r divides the resolution)", 1);
  PHYSML_CHECK(n % f == 0, "option -", r.prefix(), "downsample = ", f, " does not divide the resolution ", n);
  return f;
}

// ---------------------------------------------------------------------------------------

class Darcy final : public SampleGenerator {
public:
  std::string name() const override { return "darcy"; }
  std::string default_prefix() const override { return "darcy_"; }
  std::string summary() const override { return "-div(a grad u) = f, u = 0 on the boundary, a piecewise constant"; }
  mesh::Grid grid() const override { return grid_; }
  FieldName input_name() const override { return {"a", "coefficient a"}; }
  FieldName output_name() const override { return {"u", "solution u"}; }

protected:
  void read_options(OptionsReader& r) override {
    const std::string preset =
        r.choice("preset", {"smooth", "rough"}, "smooth", "FNO piecewise-constant (smooth) or MgNO's rough coefficients");
    // Scaled default: 85^2 solved directly (published: 421 solved, stored at 85/141/211/421).
    auto d = DarcyOptions::scaled(preset);
    d.read_options(r);
    r_ = r.integer("downsample", 1, "keep every r-th vertex (421 -> 85/141/211 with 5/3/2)", 1);
    // Keep the corners when (s-1) % r == 0 (FNO 421 -> 85/141/211); otherwise plain striding
    // [::r] as MgNO does for 512 -> 256.
    keep_corners_ = (d.resolution - 1) % r_ == 0;
    PHYSML_CHECK(keep_corners_ || d.resolution % r_ == 0, "option -", r.prefix(), "downsample = ", r_,
                 ": neither resolution - 1 = ", d.resolution - 1, " nor resolution = ", d.resolution, " is divisible by it");
    record("downsample_mode", keep_corners_ ? "vertex (corners kept)" : "stride [::r]");
    record("equation", "-div(a grad u) = f, u = 0 on the boundary");
    grid_ = downsample_grid(d.grid(), r_, keep_corners_);
    gen_ = std::make_unique<DarcyGenerator>(d, r.prefix(), options().database());  // reads -<prefix>ksp_*, -<prefix>pc_*
    record_solver(gen_->solver().ksp());
  }
  std::pair<at::Tensor, at::Tensor> solve(std::uint64_t seed, std::uint64_t index) override {
    auto smp = gen_->generate(seed, index);
    auto down = [&](const at::Tensor& t) { return keep_corners_ ? downsample_vertex(t, r_) : downsample_stride(t, r_); };
    return {down(smp.coefficient), down(smp.solution)};
  }

private:
  std::unique_ptr<DarcyGenerator> gen_;
  mesh::Grid grid_ = detail::unit_vertex_grid(2, 3, mesh::Boundary::dirichlet);
  int64_t r_ = 1;
  bool keep_corners_ = true;
};

class Poisson final : public SampleGenerator {
public:
  std::string name() const override { return "poisson"; }
  std::string default_prefix() const override { return "poisson_"; }
  std::string summary() const override { return "-laplace(u) = f, f a Gaussian random field, u = 0 on the boundary"; }
  mesh::Grid grid() const override { return grid_; }
  FieldName input_name() const override { return {"f", "source f"}; }
  FieldName output_name() const override { return {"u", "solution u"}; }

protected:
  void read_options(OptionsReader& r) override {
    const int64_t dim = r.integer("dim", 2, "space dimension (2 or 3)", 2, 3);
    const int64_t s = r.integer("resolution", dim == 2 ? 65 : 17, "vertices per side", 3);
    phys::GaussianRandomFieldOptions go;
    grid_ = unit_vertex_grid(static_cast<int>(dim), s, mesh::Boundary::dirichlet);
    go.shape = grid_.shape();
    go.alpha = positive(r, "alpha", 2.0, "GRF exponent alpha of the source");
    go.tau = positive(r, "tau", 3.0, "GRF inverse length scale tau of the source");
    go.boundary = phys::FieldBoundary::neumann;
    record("equation", "-laplace(u) = f, f ~ GRF (zero-Neumann), u = 0 on the boundary");
    grf_ = std::make_unique<phys::GaussianRandomField>(go);
    solver_ = std::make_unique<PoissonSolver>(PETSC_COMM_SELF, r.prefix(), options().database());
    record_solver(solver_->ksp());
  }
  std::pair<at::Tensor, at::Tensor> solve(std::uint64_t seed, std::uint64_t index) override {
    PoissonProblem pb = PoissonProblem::on(grid_);
    pb.source = grf_->sample(seed, index);
    auto sys = assemble_poisson(pb, PETSC_COMM_SELF);
    return {pb.source, solver_->solve(sys).solution};
  }

private:
  mesh::Grid grid_ = unit_vertex_grid(2, 3, mesh::Boundary::dirichlet);
  std::unique_ptr<phys::GaussianRandomField> grf_;
  std::unique_ptr<PoissonSolver> solver_;
};

class Helmholtz final : public SampleGenerator {
public:
  std::string name() const override { return "helmholtz"; }
  std::string default_prefix() const override { return "helmholtz_"; }
  std::string summary() const override { return "-lap(u) - (omega/c)^2 u = 0 with a Neumann source on the top edge"; }
  mesh::Grid grid() const override { return grid_; }
  FieldName input_name() const override { return {"c", "wave speed c"}; }
  FieldName output_name() const override { return {"u", "solution u"}; }

protected:
  void read_options(OptionsReader& r) override {
    auto h = HelmholtzOptions::scaled();
    h.read_options(r);
    record("equation", "-lap(u) - (omega/c)^2 u = 0, c = 20 + tanh(a), du/dn = 1 on top |x-x0|<=d0/2");
    grid_ = h.grid();
    solver_ = std::make_unique<HelmholtzSolver>(h, r.prefix(), options().database());  // MUMPS LU by default; -<prefix>ksp_*, pc_*
    record_solver(solver_->solver().ksp());
  }
  std::pair<at::Tensor, at::Tensor> solve(std::uint64_t seed, std::uint64_t index) override {
    return solver_->generate(seed, index);
  }

private:
  mesh::Grid grid_ = unit_vertex_grid(2, 3, mesh::Boundary::neumann);
  std::unique_ptr<HelmholtzSolver> solver_;
};

class Burgers final : public SampleGenerator {
public:
  std::string name() const override { return "burgers"; }
  std::string default_prefix() const override { return "burgers_"; }
  std::string summary() const override { return "u_t + (u^2/2)_x = nu u_xx on the periodic unit interval"; }
  mesh::Grid grid() const override { return grid_; }
  FieldName input_name() const override { return {"u0", "u0"}; }
  FieldName output_name() const override { return {"u", "u(T)"}; }

protected:
  void read_options(OptionsReader& r) override {
    auto b = BurgersOptions::scaled();
    b.read_options(r);
    r_ = stride_factor(r, b.resolution);
    record("equation", "u_t + (u^2/2)_x = nu u_xx, periodic on [0,1)");
    grid_ = downsample_grid(b.grid(), r_, false);
    gen_ = std::make_unique<BurgersGenerator>(b);
  }
  std::pair<at::Tensor, at::Tensor> solve(std::uint64_t seed, std::uint64_t index) override {
    auto smp = gen_->generate(seed, index);
    return {smp.initial.slice(0, 0, smp.initial.size(0), r_), smp.solution.slice(0, 0, smp.solution.size(0), r_)};
  }

private:
  std::unique_ptr<BurgersGenerator> gen_;
  mesh::Grid grid_ = unit_periodic_grid(1, 1);
  int64_t r_ = 1;
};

class NavierStokes final : public DataGenerator {
public:
  std::string name() const override { return "navier-stokes"; }
  std::string default_prefix() const override { return "navier_stokes_"; }
  std::string summary() const override { return "vorticity w_t + u.grad w = nu lap w + f on the unit torus"; }
  mesh::Grid grid() const override { return grid_; }
  std::int64_t output_channels() const override { return static_cast<std::int64_t>(times_.size()); }
  FieldName input_name() const override { return {"w0", "w0"}; }
  FieldName output_name() const override { return {"w", "w"}; }
  std::vector<double> times() const override { return times_; }
  std::int64_t unit() const override { return batch_; }

  std::vector<GeneratedSample> compute(std::uint64_t seed, std::int64_t first, std::int64_t count) override {
    std::vector<GeneratedSample> out(static_cast<size_t>(count));
    try {
      auto b = gen_->generate(seed, static_cast<std::uint64_t>(first), count, times_);
      for (std::int64_t i = 0; i < count; ++i) {
        out[static_cast<size_t>(i)].input = downsample_stride(b.initial[i], r_).unsqueeze(0);
        out[static_cast<size_t>(i)].output = downsample_stride(b.snapshots[i], r_);
      }
    } catch (const physml::Error& e) {
      for (auto& x : out) {
        x.ok = false;
        x.message = e.what();
      }
    }
    return out;
  }

protected:
  void read_options(OptionsReader& r) override {
    auto n = NavierStokesOptions::scaled();
    n.read_options(r);
    r_ = stride_factor(r, n.resolution);
    const int64_t steps = r.integer("steps", 10, "recorded states w(t_1..t_T) (published: 50 / 30 / 20)", 1);
    const double interval = positive(r, "record_interval", 1.0, "time between recorded states");
    batch_ = r.integer("batch", 8, "samples advanced together", 1);
    record("equation", "w_t + u.grad w = nu lap w + f on the unit torus; outputs w(t_1..t_T)");
    times_.clear();
    for (int64_t i = 1; i <= steps; ++i) times_.push_back(interval * static_cast<double>(i));
    grid_ = downsample_grid(n.grid(), r_, false);
    gen_ = std::make_unique<NavierStokesGenerator>(n);
  }

private:
  std::unique_ptr<NavierStokesGenerator> gen_;
  std::vector<double> times_;
  mesh::Grid grid_ = unit_periodic_grid(2, 1);
  int64_t r_ = 1, batch_ = 8;
};

}  // namespace

std::unique_ptr<DataGenerator> make_darcy_generator() { return std::make_unique<Darcy>(); }
std::unique_ptr<DataGenerator> make_poisson_generator() { return std::make_unique<Poisson>(); }
std::unique_ptr<DataGenerator> make_helmholtz_generator() { return std::make_unique<Helmholtz>(); }
std::unique_ptr<DataGenerator> make_burgers_generator() { return std::make_unique<Burgers>(); }
std::unique_ptr<DataGenerator> make_navier_stokes_generator() { return std::make_unique<NavierStokes>(); }

}  // namespace physml::simulators::detail
