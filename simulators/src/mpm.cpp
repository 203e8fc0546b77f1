#include "physml/simulators/mpm.hpp"

#include "physml/core/error.hpp"
#include "physml/core/log.hpp"
#include "physml/core/options_reader.hpp"
#include "physml/io/vtk.hpp"

#include "mpm_kernels.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <random>

namespace physml::simulators {

// ------------------------------------------------------------------------------------------
// Shapes, bodies, materials
// ------------------------------------------------------------------------------------------
MPMShape MPMShape::box(std::vector<double> lower, std::vector<double> upper) {
  PHYSML_CHECK(!lower.empty() && lower.size() == upper.size() && lower.size() <= 3,
               "MPMShape::box: lower and upper must both have d = 2 or 3 values, got ", lower.size(), " and ",
               upper.size());
  for (std::size_t a = 0; a < lower.size(); ++a)
    PHYSML_CHECK(lower[a] < upper[a], "MPMShape::box: lower[", a, "] = ", lower[a], " must be < upper[", a,
                 "] = ", upper[a]);
  MPMShape s;
  s.kind = Kind::box;
  s.a = std::move(lower);
  s.b = std::move(upper);
  return s;
}

MPMShape MPMShape::sphere(std::vector<double> center, double radius) {
  PHYSML_CHECK(!center.empty() && center.size() <= 3, "MPMShape::sphere: centre must have d = 2 or 3 values, got ",
               center.size());
  PHYSML_CHECK(std::isfinite(radius) && radius > 0, "MPMShape::sphere: radius must be > 0 m, got ", radius);
  MPMShape s;
  s.kind = Kind::sphere;
  s.a = std::move(center);
  s.radius = radius;
  return s;
}

MPMShape MPMShape::torus(std::vector<double> center, double major, double minor) {
  PHYSML_CHECK(center.size() == 2 || center.size() == 3, "MPMShape::torus: centre must have d = 2 or 3 values, got ",
               center.size());
  PHYSML_CHECK(std::isfinite(major) && std::isfinite(minor) && minor > 0 && minor < major,
               "MPMShape::torus: expected 0 < minor radius < major radius, got minor ", minor, " m and major ", major, " m");
  MPMShape s;
  s.kind = Kind::torus;
  s.a = std::move(center);
  s.radius = major;
  s.minor = minor;
  return s;
}

MPMShape MPMShape::mesh(std::shared_ptr<const mesh::SurfaceMesh> surface) {
  PHYSML_CHECK(surface != nullptr, "MPMShape::mesh: no surface");
  MPMShape s;
  s.kind = Kind::mesh;
  s.a.assign(surface->lower().begin(), surface->lower().end());
  s.b.assign(surface->upper().begin(), surface->upper().end());
  s.surface = std::move(surface);
  return s;
}

bool MPMShape::contains(const double* x) const {
  switch (kind) {
    case Kind::box:
      for (std::size_t d = 0; d < a.size(); ++d)
        if (x[d] < a[d] || x[d] > b[d]) return false;
      return true;
    case Kind::sphere: {
      double r2 = 0;
      for (std::size_t d = 0; d < a.size(); ++d) r2 += (x[d] - a[d]) * (x[d] - a[d]);
      return r2 <= radius * radius;
    }
    case Kind::torus: {
      if (a.size() == 2) {
        const double r = std::hypot(x[0] - a[0], x[1] - a[1]);
        return std::abs(r - radius) <= minor;
      }
      const double rho = std::hypot(x[0] - a[0], x[2] - a[2]), y = x[1] - a[1];
      return (rho - radius) * (rho - radius) + y * y <= minor * minor;
    }
    case Kind::mesh: return surface->contains(x);
  }
  return false;
}

double MPMShape::lower_bound(std::size_t axis) const {
  switch (kind) {
    case Kind::box:
    case Kind::mesh: return a[axis];
    case Kind::sphere: return a[axis] - radius;
    case Kind::torus: return a[axis] - (a.size() == 3 && axis == 1 ? minor : radius + minor);
  }
  return a[axis];
}

double MPMShape::upper_bound(std::size_t axis) const {
  switch (kind) {
    case Kind::box:
    case Kind::mesh: return b[axis];
    case Kind::sphere: return a[axis] + radius;
    case Kind::torus: return a[axis] + (a.size() == 3 && axis == 1 ? minor : radius + minor);
  }
  return a[axis];
}

std::vector<physics::Material> mpm_materials(const std::vector<std::string>& names) {
  std::vector<physics::Material> out;
  for (const auto& n : names) out.push_back(physics::nclaw_material(n));
  return out;
}

physics::Material stress_free_material(double density) {
  physics::Material m;
  m.name = "stress_free";
  m.youngs_modulus = 0;
  m.poisson_ratio = 0;
  m.density = density;
  return m;
}

namespace {

bool stress_free(const physics::Material& m) { return detail::is_stress_free(m); }

/// Validate a material by building its laws once (their constructors check the parameters).
void check_material(const physics::Material& m, std::size_t index) {
  PHYSML_CHECK(std::isfinite(m.density) && m.density > 0, "MPM material ", index, " ('", m.name,
               "'): density must be > 0 kg/m^3, got ", m.density);
  if (stress_free(m)) return;
  try {
    physics::ElasticModuli(m.youngs_modulus, m.poisson_ratio);
    if (m.plasticity == physics::PlasticityModel::von_mises)
      physics::VonMisesReturnMapping(m.youngs_modulus, m.poisson_ratio, m.yield_stress);
    if (m.plasticity == physics::PlasticityModel::drucker_prager)
      physics::DruckerPragerReturnMapping(m.youngs_modulus, m.poisson_ratio, m.friction_angle_deg);
    (void)m.kirchhoff<double>(physics::Mat3<double>::Identity());
  } catch (const Error& e) {
    PHYSML_THROW("MPM material ", index, " ('", m.name, "'): ", e.what());
  }
}

/// Elastic P-wave speed sqrt((lambda + 2 mu) / rho) [m/s] (0 for a stress-free material).
double wave_speed(const physics::Material& m) {
  if (stress_free(m)) return 0;
  physics::ElasticModuli k(m.youngs_modulus, m.poisson_ratio);
  return std::sqrt((k.lambda + 2 * k.mu) / m.density);
}

}  // namespace

// ------------------------------------------------------------------------------------------
// Simulator state
// ------------------------------------------------------------------------------------------
struct MPMSimulator::Impl {
  MPMOptions o;
  std::vector<physics::Material> materials;
  int dim = 3;
  std::array<std::int64_t, 3> cells{1, 1, 1};  // cells per axis
  std::array<std::int64_t, 3> nodes{1, 1, 1};  // nodes per axis = cells + 2 (0..cells and one guard)
  std::array<double, 3> length{0, 0, 0};       // domain extent per axis [m]
  std::array<double, 3> gravity{0, 0, 0};
  double dx = 0;
  bool no_slip = false;
  int threads = 1;
  std::int64_t num_nodes = 0;
  std::vector<std::vector<double>> grid_d;  // per thread: [num_nodes * (dim + 1)] = (m, m v) per node
  std::vector<std::vector<float>> grid_f;
  mesh::ParticleSet particles;
  std::int64_t substeps = 0;
  std::int64_t clamped = 0;
  bool warned_velocity = false, warned_wave = false;
  double grid_mass = 0;
  std::vector<double> grid_momentum;

  bool is_double() const {
    return !particles.positions().defined() || particles.positions().scalar_type() == at::kDouble;
  }
  std::vector<std::vector<double>>& grids(double*) { return grid_d; }
  std::vector<std::vector<float>>& grids(float*) { return grid_f; }

  template <typename T, int D>
  void run_substep();
};

template <typename T, int D>
void MPMSimulator::Impl::run_substep() {
  detail::MPMKernelParams prm;
  prm.cells = cells;
  prm.nodes = nodes;
  prm.length = length;
  prm.gravity = gravity;
  prm.dx = dx;
  prm.dt = o.dt();
  prm.clamp_cells = o.clamp_cells();
  prm.boundary_cells = o.boundary_cells();
  prm.no_slip = no_slip;
  prm.apic = o.apic();
  prm.threads = threads;
  prm.substep = substeps + 1;
  prm.time = static_cast<double>(substeps) * o.dt();
  prm.materials = &materials;
  detail::MPMParticleBuffers<T> buf;
  buf.n = particles.size();
  buf.x = particles.positions().data_ptr<T>();
  buf.v = particles.velocities().data_ptr<T>();
  buf.C = particles.get("C").data_ptr<T>();
  buf.F = particles.get("F").data_ptr<T>();
  buf.F_zz = D == 2 ? particles.get("F_zz").data_ptr<T>() : nullptr;
  buf.volume = particles.get("volume").data_ptr<T>();
  buf.mass = particles.get("mass").data_ptr<T>();
  buf.material = particles.get("material").data_ptr<std::int64_t>();
  detail::MPMKernelResult r;
  try {
    r = detail::mpm_substep<T, D>(prm, buf, grids(static_cast<T*>(nullptr)));
  } catch (...) {
    substeps += 1;  // the failed substep counts: the state is that of the failed substep
    throw;
  }
  substeps += 1;
  clamped += r.clamped;
  grid_mass = r.grid_mass;
  grid_momentum.assign(r.grid_momentum.begin(), r.grid_momentum.begin() + dim);
  if (!warned_velocity && r.max_speed * o.dt() > o.cfl() * dx) {
    warned_velocity = true;
    log_warning("MPM: time step dt = ", o.dt(), " s breaks the CFL condition at substep ", substeps,
                ": max particle speed ", r.max_speed, " m/s moves ", r.max_speed * o.dt(),
                " m per substep, more than cfl * dx = ", o.cfl() * dx, " m (warned once)");
  }
}

// ------------------------------------------------------------------------------------------
MPMOptions& MPMOptions::set_from_options(const Options& options) {
  OptionsReader r(options, "MLS-MPM simulator (grid, time step, walls)");
  dim(r.integer("dim", dim(), "spatial dimension", 2, 3));
  std::vector<long> c(cells().begin(), cells().end());
  c = r.int_list("cells", c, "grid cells per axis (one value for all axes, or one per axis)");
  cells(std::vector<std::int64_t>(c.begin(), c.end()));
  domain_size(r.real("domain_size", domain_size(), "length of the domain along axis 0 [m]; dx = domain_size / cells[0]"));
  dt(r.real("dt", dt(), "substep size [s]"));
  substeps(r.integer("substeps", substeps(), "substeps per frame", 1));
  gravity(r.real_list("gravity", gravity(), "gravitational acceleration [m/s^2], d values (default -9.8 along axis 1)"));
  boundary(r.choice("boundary", {"free_slip", "no_slip"}, boundary(), "wall condition on the boundary band"));
  boundary_cells(r.integer("boundary_cells", boundary_cells(), "width of the wall band in cells (0 = no walls)", 0));
  clamp_cells(r.real("clamp_cells", clamp_cells(), "particles are clamped this many cells inside the domain (>= 0.5)"));
  apic(r.boolean("apic", apic(), "APIC transfers (false: PIC)"));
  threads(r.integer("threads", threads(), "OpenMP threads of the kernels (0 = all)", 0));
  cfl(r.real("cfl", cfl(), "Courant factor of the time-step warning"));
  r.end();
  return *this;
}

mesh::Grid MPMOptions::grid() const {
  PHYSML_CHECK(dim() == 2 || dim() == 3, "MPMOptions: dim must be 2 or 3, got ", dim());
  PHYSML_CHECK(cells().size() == 1 || static_cast<std::int64_t>(cells().size()) == dim(), "MPMOptions: cells needs 1 or ",
               dim(), " values, got ", cells().size());
  PHYSML_CHECK(std::isfinite(domain_size()) && domain_size() > 0, "MPMOptions: domain_size must be > 0 m, got ", domain_size());
  const double dx = domain_size() / static_cast<double>(cells()[0]);
  std::vector<std::int64_t> sizes;
  std::vector<double> upper;
  for (std::int64_t a = 0; a < dim(); ++a) {
    const auto n = cells().size() == 1 ? cells()[0] : cells()[static_cast<size_t>(a)];
    PHYSML_CHECK(n >= 2, "MPMOptions: cells[", a, "] = ", n, " must be >= 2");
    sizes.push_back(n + 1);
    upper.push_back(dx * static_cast<double>(n));
  }
  return mesh::Grid(mesh::GridOptions(sizes).upper(upper).boundary(boundary() == "no_slip" ? mesh::Boundary::dirichlet
                                                                                           : mesh::Boundary::neumann));
}

detail::MPMKernelParams detail::mpm_kernel_params(const MPMOptions& o) {
  PHYSML_CHECK(o.dim() == 2 || o.dim() == 3, "MPMOptions: dim must be 2 or 3, got ", o.dim());
  const int dim = static_cast<int>(o.dim());
  PHYSML_CHECK(o.cells().size() == 1 || static_cast<std::int64_t>(o.cells().size()) == o.dim(),
               "MPMOptions: cells must have 1 or dim = ", o.dim(), " values, got ", o.cells().size());
  PHYSML_CHECK(std::isfinite(o.domain_size()) && o.domain_size() > 0, "MPMOptions: domain_size must be > 0 m, got ",
               o.domain_size());
  PHYSML_CHECK(std::isfinite(o.dt()) && o.dt() > 0, "MPMOptions: dt must be > 0 s, got ", o.dt());
  PHYSML_CHECK(o.substeps() >= 1, "MPMOptions: substeps must be >= 1, got ", o.substeps());
  PHYSML_CHECK(o.boundary() == "free_slip" || o.boundary() == "no_slip",
               "MPMOptions: boundary must be 'free_slip' or 'no_slip', got '", o.boundary(), "'");
  PHYSML_CHECK(o.boundary_cells() >= 0, "MPMOptions: boundary_cells must be >= 0, got ", o.boundary_cells());
  PHYSML_CHECK(std::isfinite(o.clamp_cells()) && o.clamp_cells() >= 0.5,
               "MPMOptions: clamp_cells must be >= 0.5 (the stencil must stay on the grid), got ", o.clamp_cells());
  PHYSML_CHECK(o.threads() >= 0, "MPMOptions: threads must be >= 0, got ", o.threads());
  PHYSML_CHECK(std::isfinite(o.cfl()) && o.cfl() > 0, "MPMOptions: cfl must be > 0, got ", o.cfl());
  detail::MPMKernelParams prm;
  prm.no_slip = o.boundary() == "no_slip";
  for (int a = 0; a < dim; ++a) {
    const std::int64_t c = o.cells().size() == 1 ? o.cells()[0] : o.cells()[a];
    PHYSML_CHECK(c >= 2 && 2 * o.clamp_cells() < static_cast<double>(c), "MPMOptions: cells[", a, "] = ", c,
                 " is too small (need >= 2 and > 2 clamp_cells)");
    prm.cells[a] = c;
    prm.nodes[a] = c + 2;
  }
  prm.dx = o.domain_size() / static_cast<double>(prm.cells[0]);
  for (int a = 0; a < dim; ++a) prm.length[a] = static_cast<double>(prm.cells[a]) * prm.dx;
  if (o.gravity().empty()) {
    prm.gravity[1] = -9.8;
  } else {
    PHYSML_CHECK(static_cast<std::int64_t>(o.gravity().size()) == o.dim(),
                 "MPMOptions: gravity must have dim = ", o.dim(), " values (or none for -9.8 m/s^2 along axis 1), got ",
                 o.gravity().size());
    for (int a = 0; a < dim; ++a) prm.gravity[a] = o.gravity()[a];
  }
  prm.dt = o.dt();
  prm.clamp_cells = o.clamp_cells();
  prm.boundary_cells = o.boundary_cells();
  prm.apic = o.apic();
  prm.threads = o.threads() > 0 ? static_cast<int>(o.threads()) : detail::mpm_max_threads();
  return prm;
}

MPMSimulator::MPMSimulator(MPMOptions options, std::vector<physics::Material> materials)
    : impl_(std::make_unique<Impl>()) {
  auto& I = *impl_;
  I.o = std::move(options);
  const auto& o = I.o;
  const auto prm = detail::mpm_kernel_params(o);
  I.dim = static_cast<int>(o.dim());
  I.no_slip = prm.no_slip;
  I.cells = prm.cells;
  I.nodes = prm.nodes;
  I.dx = prm.dx;
  I.length = prm.length;
  I.gravity = prm.gravity;
  I.num_nodes = 1;
  for (int a = 0; a < I.dim; ++a) I.num_nodes *= I.nodes[a];
  I.threads = o.threads() > 0 ? static_cast<int>(o.threads()) : detail::mpm_max_threads();
  PHYSML_CHECK(!materials.empty(), "MPMSimulator: at least one material is needed");
  for (std::size_t m = 0; m < materials.size(); ++m) check_material(materials[m], m);
  I.materials = std::move(materials);
  for (const auto& m : I.materials) {
    const double c = wave_speed(m);
    if (!I.warned_wave && c * o.dt() > o.cfl() * I.dx) {
      I.warned_wave = true;
      log_warning("MPM: time step dt = ", o.dt(), " s breaks the elastic CFL condition of material '", m.name,
                  "': P-wave speed c = sqrt((lambda + 2 mu)/rho) = ", c, " m/s gives c dt = ", c * o.dt(),
                  " m > cfl * dx = ", o.cfl() * I.dx, " m; expected dt <= ", o.cfl() * I.dx / c, " s (warned once)");
    }
  }
}

MPMSimulator::~MPMSimulator() = default;

std::int64_t MPMSimulator::add_body(const MPMBody& body) {
  auto& I = *impl_;
  const int D = I.dim;
  PHYSML_CHECK(!body.shapes().empty(), "MPMBody: at least one shape is needed");
  for (const auto& s : body.shapes())
    PHYSML_CHECK(static_cast<int>(s.a.size()) == D, "MPMBody: a shape has ", s.a.size(),
                 " coordinates, the simulator is ", D, "-D");
  PHYSML_CHECK(body.material() >= 0 && body.material() < static_cast<std::int64_t>(I.materials.size()),
               "MPMBody: material index ", body.material(), " is out of range [0, ", I.materials.size(), ")");
  PHYSML_CHECK(body.particles_per_cell_axis() >= 1, "MPMBody: particles_per_cell_axis must be >= 1, got ",
               body.particles_per_cell_axis());
  PHYSML_CHECK(body.jitter() >= 0 && body.jitter() < 1, "MPMBody: jitter must be in [0, 1), got ", body.jitter());
  PHYSML_CHECK(body.velocity().empty() || static_cast<int>(body.velocity().size()) == D, "MPMBody: velocity must have ",
               D, " values, got ", body.velocity().size());
  const int nw = D == 2 ? 1 : 3;
  PHYSML_CHECK(body.angular_velocity().empty() || static_cast<int>(body.angular_velocity().size()) == nw,
               "MPMBody: angular_velocity must have ", nw, " value(s) in ", D, "-D, got ",
               body.angular_velocity().size());
  PHYSML_CHECK(body.center().empty() || static_cast<int>(body.center().size()) == D, "MPMBody: center must have ", D,
               " values, got ", body.center().size());

  const double h = I.dx / static_cast<double>(body.particles_per_cell_axis());
  std::array<std::int64_t, 3> k0{0, 0, 0}, k1{0, 0, 0};
  for (int a = 0; a < D; ++a) {
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (const auto& s : body.shapes()) {
      lo = std::min(lo, s.lower_bound(static_cast<std::size_t>(a)));
      hi = std::max(hi, s.upper_bound(static_cast<std::size_t>(a)));
    }
    k0[a] = static_cast<std::int64_t>(std::floor(lo / h)) - 1;
    k1[a] = static_cast<std::int64_t>(std::ceil(hi / h)) + 1;
  }
  std::vector<double> pts;
  for (std::int64_t i = k0[0]; i <= k1[0]; ++i)
    for (std::int64_t j = k0[1]; j <= k1[1]; ++j)
      for (std::int64_t k = (D == 3 ? k0[2] : 0); k <= (D == 3 ? k1[2] : 0); ++k) {
        const double q[3] = {(i + 0.5) * h, (j + 0.5) * h, (k + 0.5) * h};
        bool in = false;
        for (const auto& s : body.shapes()) in = in || s.contains(q);
        if (in) pts.insert(pts.end(), q, q + D);
      }
  const std::int64_t n = static_cast<std::int64_t>(pts.size()) / D;
  PHYSML_CHECK(n > 0, "MPMBody: the shapes contain no lattice point (spacing ", h, " m)");
  if (body.jitter() > 0) {
    std::mt19937_64 eng(body.seed());
    std::uniform_real_distribution<double> U(-0.5 * body.jitter() * h, 0.5 * body.jitter() * h);
    for (auto& c : pts) c += U(eng);
  }
  std::array<double, 3> ctr{0, 0, 0};
  if (body.center().empty()) {
    for (std::int64_t p = 0; p < n; ++p)
      for (int a = 0; a < D; ++a) ctr[a] += pts[p * D + a];
    for (int a = 0; a < D; ++a) ctr[a] /= static_cast<double>(n);
  } else {
    for (int a = 0; a < D; ++a) ctr[a] = body.center()[a];
  }
  // Velocity gradient W of the rotation: v = v0 + W (x - c).
  double W[3][3] = {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}};
  if (!body.angular_velocity().empty()) {
    const auto& om = body.angular_velocity();
    if (D == 2) {
      W[0][1] = -om[0];
      W[1][0] = om[0];
    } else {
      W[0][1] = -om[2], W[0][2] = om[1];
      W[1][0] = om[2], W[1][2] = -om[0];
      W[2][0] = -om[1], W[2][1] = om[0];
    }
  }
  auto X = torch::from_blob(pts.data(), {n, D}, torch::kDouble).clone();
  auto V = torch::zeros({n, D}, torch::kDouble);
  auto acc = V.accessor<double, 2>();
  for (std::int64_t p = 0; p < n; ++p)
    for (int a = 0; a < D; ++a) {
      double s = body.velocity().empty() ? 0 : body.velocity()[a];
      for (int b = 0; b < D; ++b) s += W[a][b] * (pts[p * D + b] - ctr[b]);
      acc[p][a] = s;
    }
  auto Wt = torch::zeros({D, D}, torch::kDouble);
  for (int a = 0; a < D; ++a)
    for (int b = 0; b < D; ++b) Wt[a][b] = W[a][b];
  const double vol = std::pow(h, D);
  const double rho = I.materials[static_cast<std::size_t>(body.material())].density;
  mesh::ParticleSet ps(X, V);
  ps.set("C", Wt.unsqueeze(0).expand({n, D, D}).clone());
  ps.set("F", torch::eye(D, torch::kDouble).unsqueeze(0).expand({n, D, D}).clone());
  if (D == 2) ps.set("F_zz", torch::ones({n}, torch::kDouble));
  ps.set("volume", torch::full({n}, vol, torch::kDouble));
  ps.set("mass", torch::full({n}, rho * vol, torch::kDouble));
  ps.set("material", torch::full({n}, body.material(), torch::kLong));

  if (I.particles.size() > 0) {
    const auto& old = I.particles;
    const auto dtype = old.positions().scalar_type();
    mesh::ParticleSet merged(torch::cat({old.positions(), ps.positions().to(dtype)}),
                             torch::cat({old.velocities(), ps.velocities().to(dtype)}));
    for (const auto& name : ps.names()) {
      const auto& a = old.get(name);
      merged.set(name, torch::cat({a, ps.get(name).to(a.scalar_type())}));
    }
    ps = std::move(merged);
  }
  set_particles(std::move(ps));
  return n;
}

void MPMSimulator::set_particles(mesh::ParticleSet p) {
  auto& I = *impl_;
  const int D = I.dim;
  PHYSML_CHECK(p.size() > 0, "MPMSimulator::set_particles: the particle set is empty");
  PHYSML_CHECK(p.dim() == D, "MPMSimulator::set_particles: positions are ", p.dim(), "-D, the simulator is ", D, "-D");
  const auto dtype = p.positions().scalar_type();
  PHYSML_CHECK(dtype == at::kDouble || dtype == at::kFloat,
               "MPMSimulator::set_particles: positions must be float32 or float64, got ", dtype);
  const std::int64_t N = p.size();
  auto prep = [&](const at::Tensor& t) { return t.to(torch::kCPU, dtype).contiguous().clone(); };
  mesh::ParticleSet q(prep(p.positions()), prep(p.velocities()));
  auto need = [&](const std::string& name, std::vector<std::int64_t> shape) {
    PHYSML_CHECK(p.has(name), "MPMSimulator::set_particles: attribute '", name, "' is missing");
    const auto& t = p.get(name);
    PHYSML_CHECK(t.sizes() == at::IntArrayRef(shape), "MPMSimulator::set_particles: attribute '", name,
                 "' must have shape ", at::IntArrayRef(shape), ", got ", t.sizes());
    return t;
  };
  for (const char* name : {"mass", "volume"}) {
    auto t = prep(need(name, {N}));
    PHYSML_CHECK(t.gt(0).all().item<bool>() && t.isfinite().all().item<bool>(), "MPMSimulator::set_particles: ", name,
                 " must be finite and > 0 for every particle");
    q.set(name, t);
  }
  auto mat = need("material", {N});
  PHYSML_CHECK(!mat.is_floating_point(), "MPMSimulator::set_particles: 'material' must be an integer tensor, got ",
               mat.scalar_type());
  mat = mat.to(torch::kCPU, torch::kLong).contiguous().clone();
  const std::int64_t lo = mat.min().item<std::int64_t>(), hi = mat.max().item<std::int64_t>();
  PHYSML_CHECK(lo >= 0 && hi < static_cast<std::int64_t>(I.materials.size()),
               "MPMSimulator::set_particles: material ids must be in [0, ", I.materials.size(), "), got range [", lo,
               ", ", hi, "]");
  q.set("material", mat);
  q.set("C", p.has("C") ? prep(need("C", {N, D, D})) : torch::zeros({N, D, D}, dtype));
  q.set("F",
        p.has("F") ? prep(need("F", {N, D, D})) : torch::eye(D, dtype).unsqueeze(0).expand({N, D, D}).contiguous());
  if (D == 2) q.set("F_zz", p.has("F_zz") ? prep(need("F_zz", {N})) : torch::ones({N}, dtype));
  for (const auto& name : p.names())  // other attributes (colours, ids, ...) travel along untouched
    if (!q.has(name)) q.set(name, p.get(name));
  PHYSML_CHECK(q.positions().isfinite().all().item<bool>() && q.velocities().isfinite().all().item<bool>(),
               "MPMSimulator::set_particles: positions and velocities must be finite");
  const double lo_x = I.o.clamp_cells() * I.dx;
  for (int a = 0; a < D; ++a) {
    const double hi_x = I.length[a] - I.o.clamp_cells() * I.dx;
    auto col = q.positions().select(1, a);
    const double mn = col.min().item<double>(), mx = col.max().item<double>();
    PHYSML_CHECK(mn >= lo_x && mx <= hi_x, "MPMSimulator::set_particles: positions on axis ", a, " span [", mn, ", ",
                 mx, "] m, outside the domain [", lo_x, ", ", hi_x, "] m (clamp_cells dx from the grid's edges)");
  }
  I.particles = std::move(q);
}

const mesh::ParticleSet& MPMSimulator::particles() const { return impl_->particles; }

void MPMSimulator::substep() {
  auto& I = *impl_;
  PHYSML_CHECK(I.particles.size() > 0, "MPMSimulator::substep: no particles (add_body or set_particles first)");
  const bool dbl = I.is_double();
  if (I.dim == 2)
    dbl ? I.run_substep<double, 2>() : I.run_substep<float, 2>();
  else
    dbl ? I.run_substep<double, 3>() : I.run_substep<float, 3>();
}

void MPMSimulator::step() {
  for (std::int64_t s = 0; s < impl_->o.substeps(); ++s) substep();
}

double MPMSimulator::time() const { return static_cast<double>(impl_->substeps) * impl_->o.dt(); }
std::int64_t MPMSimulator::substeps_taken() const { return impl_->substeps; }
std::int64_t MPMSimulator::clamped_count() const { return impl_->clamped; }
double MPMSimulator::grid_mass() const { return impl_->grid_mass; }
std::vector<double> MPMSimulator::grid_momentum() const { return impl_->grid_momentum; }
bool MPMSimulator::cfl_warned() const { return impl_->warned_velocity || impl_->warned_wave; }
double MPMSimulator::dx() const { return impl_->dx; }
const MPMOptions& MPMSimulator::options() const { return impl_->o; }
const std::vector<physics::Material>& MPMSimulator::materials() const { return impl_->materials; }

double MPMSimulator::total_mass() const {
  return impl_->particles.size() ? impl_->particles.get("mass").to(torch::kDouble).sum().item<double>() : 0.0;
}

std::vector<double> MPMSimulator::linear_momentum() const {
  const auto& P = impl_->particles;
  auto m = P.get("mass").to(torch::kDouble);
  auto p = (m.unsqueeze(1) * P.velocities().to(torch::kDouble)).sum(0);
  return std::vector<double>(p.data_ptr<double>(), p.data_ptr<double>() + p.numel());
}

std::vector<double> MPMSimulator::angular_momentum() const {
  const auto& P = impl_->particles;
  const int D = impl_->dim;
  auto m = P.get("mass").to(torch::kDouble).contiguous();
  auto x = P.positions().to(torch::kDouble).contiguous();
  auto v = P.velocities().to(torch::kDouble).contiguous();
  auto C = P.get("C").to(torch::kDouble).contiguous();
  const double* mp = m.data_ptr<double>();
  const double* xp = x.data_ptr<double>();
  const double* vp = v.data_ptr<double>();
  const double* cp = C.data_ptr<double>();
  const double k = impl_->dx * impl_->dx / 4;
  std::vector<double> L(D == 2 ? 1 : 3, 0.0);
  for (std::int64_t p = 0; p < P.size(); ++p) {
    const double* X = xp + p * D;
    const double* V = vp + p * D;
    const double* c = cp + p * D * D;
    if (D == 2) {
      L[0] += mp[p] * (X[0] * V[1] - X[1] * V[0] + k * (c[2] - c[1]));
    } else {
      L[0] += mp[p] * (X[1] * V[2] - X[2] * V[1] + k * (c[7] - c[5]));
      L[1] += mp[p] * (X[2] * V[0] - X[0] * V[2] + k * (c[2] - c[6]));
      L[2] += mp[p] * (X[0] * V[1] - X[1] * V[0] + k * (c[3] - c[1]));
    }
  }
  return L;
}

std::vector<double> MPMSimulator::center_of_mass() const {
  const auto& P = impl_->particles;
  auto m = P.get("mass").to(torch::kDouble);
  auto c = (m.unsqueeze(1) * P.positions().to(torch::kDouble)).sum(0) / m.sum();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

// ------------------------------------------------------------------------------------------
MPMFrameWriter::MPMFrameWriter(std::string directory, std::string name)
    : directory_(std::move(directory)), name_(std::move(name)) {
  std::filesystem::create_directories(directory_);
  pvd_ = std::make_unique<io::PvdWriter>((std::filesystem::path(directory_) / (name_ + ".pvd")).string());
}

MPMFrameWriter::~MPMFrameWriter() = default;

std::string MPMFrameWriter::write(const MPMSimulator& sim) {
  const auto& P = sim.particles();
  PHYSML_CHECK(P.size() > 0, "MPMFrameWriter: the simulator has no particles");
  char file[64];
  std::snprintf(file, sizeof file, "_%05lld.vtp", static_cast<long long>(frames_));
  const std::string path = (std::filesystem::path(directory_) / (name_ + file)).string();
  auto J = P.get("F").to(torch::kDouble).det();
  if (P.has("F_zz")) J = J * P.get("F_zz").to(torch::kDouble);
  io::write_vtp(path, P.positions(),
                {{"velocity", P.velocities()},
                 {"mass", P.get("mass")},
                 {"volume", P.get("volume")},
                 {"material", P.get("material")},
                 {"J", J}});
  pvd_->add(sim.time(), path);
  ++frames_;
  return path;
}

}  // namespace physml::simulators
