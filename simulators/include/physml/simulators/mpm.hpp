#pragma once
/// \file mpm.hpp
/// Forward MLS-MPM with APIC transfers in 2-D and 3-D (Hu et al., "A moving least squares
/// material point method with displacement discontinuity and two-way rigid body coupling",
/// SIGGRAPH 2018; Jiang et al. 2015 for APIC), the explicit step of NCLaw's simulator
/// (the simulator step of NCLaw, Ma et al., ICML 2023) with the analytic laws of physml/physics/constitutive.hpp.
///
/// One substep of size dt, quadratic B-spline weights w_ip on the grid nodes x_i = i dx:
///   P2G   A_p   = -dt V_p (4/dx^2) tau_p + m_p C_p            (tau_p = Kirchhoff stress of F_p)
///         m_i  += w_ip m_p,   (m v)_i += w_ip (m_p v_p + A_p (x_i - x_p))
///   grid  v_i   = (m v)_i / m_i + dt g, then the wall condition in the boundary band
///   G2P   v_p   = sum_i w_ip v_i,  C_p = (4/dx^2) sum_i w_ip v_i (x_i - x_p)^T
///         x_p  <- clamp(x_p + dt v_p),  F_p <- Project((I + dt C_p) F_p)
/// P2G and G2P conserve total mass, linear momentum and (through C_p) angular momentum
/// exactly in the absence of gravity and walls.
///
/// Units: SI. Positions [m], velocities [m/s], C [1/s], time [s], gravity [m/s^2], stresses
/// [Pa], density [kg/m^3]. In 3-D, volume [m^3] and mass [kg]; in 2-D the model is plane
/// strain: volume is an area [m^2] and mass is per metre of depth [kg/m].
///
/// 2-D plane strain with the 3-D laws: each particle carries F [2, 2] plus the out-of-plane
/// stretch F_zz (1 at rest); the law sees the 3x3 matrix [[F, 0], [0, F_zz]]. The in-plane
/// velocity gradient never changes F_zz, only a return mapping does (e.g. a von Mises flow
/// that changes the in-plane volume), which is exact plane strain. The in-plane 2x2 block of
/// tau enters P2G.
///
/// Particle state (mesh::ParticleSet, every floating tensor of one dtype, float32 or float64):
///   positions [N, d], velocities [N, d], "C" [N, d, d], "F" [N, d, d], "F_zz" [N] (2-D only),
///   "volume" [N], "mass" [N], "material" int64 [N] (index into the simulator's materials).
/// The kernels are loops over these raw contiguous buffers (OpenMP over particles; P2G
/// scatters into one grid per thread, summed afterwards in thread order, so a run is bit-for-
/// bit reproducible for a fixed thread count).

#include "physml/mesh/grid.hpp"
#include "physml/mesh/particles.hpp"
#include "physml/mesh/surface.hpp"
#include "physml/physics/constitutive.hpp"

#include <torch/arg.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace physml {
class Options;
}
namespace physml::io {
class PvdWriter;
}

namespace physml::simulators {

/// Settings of an MPMSimulator. Defaults are NCLaw's "low" preset in 3-D (20^3 cells on
/// [0, 1]^3, dt = 5e-4 s, a 3-cell free-slip band, gravity -9.8 m/s^2 along axis 1).
struct MPMOptions {
  MPMOptions() = default;
  explicit MPMOptions(std::int64_t dim) : dim_(dim) {}
  /// Spatial dimension: 2 or 3.
  TORCH_ARG(std::int64_t, dim) = 3;
  /// Grid cells per axis: one value (the same on every axis) or one per axis. Grid nodes sit
  /// at x_i = i dx, i = 0..cells (plus one guard layer); the domain is [0, cells_a dx] on axis a.
  TORCH_ARG(std::vector<std::int64_t>, cells) = {20};
  /// Length of the domain along axis 0 [m]; dx = domain_size / cells[0] (cells are cubes).
  TORCH_ARG(double, domain_size) = 1.0;
  /// Substep size dt [s].
  TORCH_ARG(double, dt) = 5e-4;
  /// MPM substeps per step() (one output frame = substeps * dt seconds).
  TORCH_ARG(std::int64_t, substeps) = 1;
  /// Gravitational acceleration [m/s^2], d values; empty = -9.8 along axis 1 (y up).
  TORCH_ARG(std::vector<double>, gravity) = {};
  /// Wall condition on the grid nodes of the boundary band: "free_slip" (on each axis the
  /// velocity component into the wall is set to 0, motion along or away from the wall is free;
  /// NCLaw's condition) or "no_slip" (the whole node velocity is set to 0: sticky walls).
  TORCH_ARG(std::string, boundary) = "free_slip";
  /// Width of the boundary band in cells: nodes with index < boundary_cells or
  /// > cells - boundary_cells on an axis are wall nodes (NCLaw: 3). 0 = no walls.
  TORCH_ARG(std::int64_t, boundary_cells) = 3;
  /// Particles are clamped to [clamp_cells dx, L_a - clamp_cells dx] on every axis after each
  /// advection (>= 0.5 keeps the 3-node stencil on the grid; NCLaw: 0.5). Each clamped
  /// particle-substep is counted (MPMSimulator::clamped_count).
  TORCH_ARG(double, clamp_cells) = 0.5;
  /// APIC (true): C_p is transferred back to the grid. false: PIC, C_p is used for the F update
  /// only and stored as 0, which dissipates angular momentum (for comparison).
  TORCH_ARG(bool, apic) = true;
  /// OpenMP threads of the kernels; 0 = omp_get_max_threads().
  TORCH_ARG(std::int64_t, threads) = 0;
  /// Courant factor of the time-step check: warn once if max_p |v_p| dt > cfl dx, and once if
  /// c dt > cfl dx for a material's elastic P-wave speed c = sqrt((lambda + 2 mu) / rho).
  TORCH_ARG(double, cfl) = 1.0;

public:
  /// Read -dim, -cells, -domain_size, -dt, -substeps, -gravity, -boundary, -boundary_cells,
  /// -clamp_cells, -apic, -threads, -cfl under the prefix of `options` (PetscOptionsBegin/End:
  /// `-help` lists them); the current values are the defaults.
  MPMOptions& set_from_options(const Options& options);
  /// The background grid as a mesh::Grid: nodes x_i = i dx, i = 0..cells_a on axis a (vertex
  /// centred, sizes cells_a + 1, x first), Dirichlet faces for no_slip walls, Neumann for
  /// free_slip (the tangential components are free). Throws for invalid cells / domain_size.
  mesh::Grid grid() const;
};

/// One procedural shape: an axis-aligned box [lower, upper] or a ball (centre, radius) [m].
struct MPMShape {
  enum class Kind { box, sphere, torus, mesh };
  /// Box with corners `lower`, `upper` (d values each, lower < upper).
  static MPMShape box(std::vector<double> lower, std::vector<double> upper);
  /// Ball with centre `center` (d values) and radius `radius` > 0.
  static MPMShape sphere(std::vector<double> center, double radius);
  /// Torus with centre `center`, lying flat (its axis along y, the gravity axis): the points
  /// within `minor` of the circle of radius `major` about the axis; 0 < minor < major. In 2-D
  /// the ring major - minor <= |x - center| <= major + minor.
  static MPMShape torus(std::vector<double> center, double major, double minor);
  /// The inside of a closed triangle surface (3-D; mesh::SurfaceMesh, io::read_surface_mesh).
  static MPMShape mesh(std::shared_ptr<const mesh::SurfaceMesh> surface);
  /// Whether the point x (d values) is inside or on the boundary (mesh: |winding number| > 1/2;
  /// a point on the surface itself either way, SurfaceMesh::contains).
  bool contains(const double* x) const;
  /// Bounds of the shape along axis `axis`.
  double lower_bound(std::size_t axis) const;
  double upper_bound(std::size_t axis) const;
  Kind kind = Kind::box;
  /// Box: lower corner; sphere, torus: centre; mesh: the bounding box's lower corner.
  std::vector<double> a;
  /// Box: upper corner; mesh: the bounding box's upper corner; otherwise unused.
  std::vector<double> b;
  /// Sphere radius, torus major radius [m].
  double radius = 0;
  /// Torus minor radius [m].
  double minor = 0;
  /// The surface of a mesh shape.
  std::shared_ptr<const mesh::SurfaceMesh> surface;
};

/// A body of one material: the union of `shapes` filled with particles on a regular lattice of
/// spacing h = dx / particles_per_cell_axis (points (k + 1/2) h, aligned with the grid), each
/// particle with volume h^d and mass rho h^d, F = I, and the velocity field
///   v(x) = velocity + omega x (x - center)  (2-D: omega (-(y - c_y), x - c_x)),
/// C = grad v (the rotation's skew matrix), so the affine APIC field starts consistent.
struct MPMBody {
  /// Shapes whose union is the body (at least one).
  TORCH_ARG(std::vector<MPMShape>, shapes) = {};
  /// Index of the body's material in the simulator's material list.
  TORCH_ARG(std::int64_t, material) = 0;
  /// Lattice points per cell along each axis (2 gives 4 particles per cell in 2-D, 8 in 3-D).
  TORCH_ARG(std::int64_t, particles_per_cell_axis) = 2;
  /// Random displacement of each lattice point, uniform in [-jitter/2, jitter/2] h per axis
  /// (0 = none, < 1). Points are selected by the shapes before jittering.
  TORCH_ARG(double, jitter) = 0;
  /// Seed of the jitter (std::mt19937_64).
  TORCH_ARG(std::uint64_t, seed) = 0;
  /// Initial linear velocity [m/s], d values; empty = 0.
  TORCH_ARG(std::vector<double>, velocity) = {};
  /// Initial angular velocity [rad/s]: 1 value in 2-D, 3 in 3-D; empty = 0.
  TORCH_ARG(std::vector<double>, angular_velocity) = {};
  /// Centre of the rotation [m]; empty = the centroid of the body's particles.
  TORCH_ARG(std::vector<double>, center) = {};
};

/// NCLaw's materials by name (physics::nclaw_material: "jelly", "plasticine", "sand",
/// "water"); an unknown name is a physml::Error.
std::vector<physics::Material> mpm_materials(const std::vector<std::string>& names);

/// A stress-free material (tau = 0, no plasticity), marked by youngs_modulus = 0: particles
/// move ballistically under gravity and walls (free fall tests, tracer particles).
physics::Material stress_free_material(double density = 1e3);

/// Explicit MLS-MPM simulator: one shared grid, any number of materials, particles in a
/// mesh::ParticleSet (see the file comment for the attributes). Not copyable.
class MPMSimulator {
public:
  /// Throws physml::Error for invalid options or materials (bad moduli, density <= 0).
  /// A material with youngs_modulus == 0 is stress free (stress_free_material).
  MPMSimulator(MPMOptions options, std::vector<physics::Material> materials);
  ~MPMSimulator();
  MPMSimulator(const MPMSimulator&) = delete;
  MPMSimulator& operator=(const MPMSimulator&) = delete;

  /// Sample `body` and append its particles (float64 unless particles of another dtype
  /// already exist). Returns the number of particles added; throws if the body has no shape,
  /// its material index is out of range or it contains no lattice point.
  std::int64_t add_body(const MPMBody& body);
  /// Replace all particles. Required: positions [N, d], "mass" [N] > 0, "volume" [N] > 0,
  /// "material" [N] (integer, in range); optional "C" (default 0), "F" (default I), "F_zz"
  /// (2-D, default 1). Tensors are made contiguous CPU tensors of the positions' dtype
  /// (float32 or float64). Other attributes are kept, carried along unchanged.
  void set_particles(mesh::ParticleSet particles);
  /// The particles (updated in place by every substep).
  const mesh::ParticleSet& particles() const;

  /// `substeps` substeps (one frame).
  void step();
  /// One MLS-MPM substep (file comment). Throws physml::Error naming the particle, its
  /// material and the substep if a stress is not finite or J = det F <= 0 (or NaN) after the
  /// update; the particle state is then that of the failed substep.
  void substep();

  /// Simulated time [s] (substeps_taken * dt).
  double time() const;
  /// Substeps taken since construction.
  std::int64_t substeps_taken() const;
  /// Particle-substeps in which a particle left [clamp_cells dx, L - clamp_cells dx] on some
  /// axis and was clamped back, summed since construction.
  std::int64_t clamped_count() const;
  /// Grid mass sum_i m_i after the last P2G (equals total_mass() up to rounding: the weights
  /// sum to 1).
  double grid_mass() const;
  /// Grid momentum sum_i (m v)_i after the last P2G, before gravity and walls (equals the
  /// particle momentum before that substep: sum_i w_ip (x_i - x_p) = 0); d values.
  std::vector<double> grid_momentum() const;
  /// Whether the time-step warning (velocity or wave-speed CFL) has been issued.
  bool cfl_warned() const;

  /// Cell size dx [m].
  double dx() const;
  const MPMOptions& options() const;
  const std::vector<physics::Material>& materials() const;

  /// Total mass sum_p m_p [kg] (2-D: kg/m).
  double total_mass() const;
  /// Total linear momentum sum_p m_p v_p, d values.
  std::vector<double> linear_momentum() const;
  /// Total angular momentum about the origin including APIC's affine part,
  ///   L = sum_p m_p (x_p x v_p + dx^2/4 eps : C_p^T)   (eps_abc C_cb),
  /// the quantity the transfers conserve exactly; 1 value in 2-D, 3 in 3-D.
  std::vector<double> angular_momentum() const;
  /// Centre of mass sum_p m_p x_p / sum_p m_p [m], d values.
  std::vector<double> center_of_mass() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Writes one .vtp per frame (<directory>/<name>_<frame>.vtp: velocity, mass, volume,
/// material, J) and the time series <directory>/<name>.pvd after each frame.
class MPMFrameWriter {
public:
  /// Creates `directory` if needed.
  MPMFrameWriter(std::string directory, std::string name = "mpm");
  ~MPMFrameWriter();
  /// Write the simulator's particles as the next frame at time sim.time(); returns the path.
  std::string write(const MPMSimulator& sim);
  /// Frames written.
  std::int64_t frames() const { return frames_; }

private:
  std::string directory_, name_;
  std::unique_ptr<io::PvdWriter> pvd_;
  std::int64_t frames_ = 0;
};

}  // namespace physml::simulators
