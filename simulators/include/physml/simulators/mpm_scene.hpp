#pragma once
/// \file mpm_scene.hpp
/// MPM scenes read from options and simulated into Trajectory files: what `physml simulate`
/// runs, and what a driver runs through the library.
///
///   const physml::Options opt;
///   auto scene = physml::simulators::MPMScene().set_from_options(opt);          // -mpm_*, -bodies, -body0_*
///   auto run = physml::simulators::SimulateOptions().set_from_options(opt);     // -output, -frames, -vtk, ...
///   auto result = physml::simulators::simulate(scene, run);
///
/// The default scene is NCLaw's training scene: a 10 x 10 x 10 lattice (1000 particles) filling
/// the cube of side 0.5 centred at (0.5, 0.5, 0.5), jelly, initial velocity (1, -1.5, -2) m/s plus
/// the rotation (4, 4, 4) rad/s about the centre, on NCLaw's low preset (20^3 cells, dt 5e-4 s,
/// 3-cell free-slip band, gravity -9.8 along axis 1), 1000 frames of one substep.

#include "physml/core/options.hpp"
#include "physml/simulators/mpm.hpp"
#include "physml/simulators/trajectory_metrics.hpp"

#include <petscsys.h>
#include <torch/arg.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace physml {
class OptionsReader;
}

namespace physml::simulators {

/// One shape as options read it: -shape box|sphere|torus|mesh and its dimensions.
struct MPMShapeOptions {
  /// "box" (lower, upper), "sphere" (center, radius), "torus" (center, radius = the major
  /// radius, minor_radius; lying flat, MPMShape::torus) or "mesh" (the inside of the closed
  /// surface in the file `mesh`, scaled by mesh_scale and shifted by mesh_offset; 3-D).
  TORCH_ARG(std::string, shape) = "box";
  TORCH_ARG(std::vector<double>, lower) = {0.25, 0.25, 0.25};
  TORCH_ARG(std::vector<double>, upper) = {0.75, 0.75, 0.75};
  TORCH_ARG(std::vector<double>, center) = {0.5, 0.5, 0.5};
  TORCH_ARG(double, radius) = 0.25;
  TORCH_ARG(double, minor_radius) = 0.1;
  /// A surface file (.obj, .stl, .vtk, .vtp: io::read_surface_mesh).
  TORCH_ARG(std::string, mesh) = "";
  TORCH_ARG(double, mesh_scale) = 1.0;
  TORCH_ARG(std::vector<double>, mesh_offset) = {0.0, 0.0, 0.0};

public:
  /// Read the keys above under the prefix of `options` (e.g. "body0_part1_").
  MPMShapeOptions& set_from_options(const Options& options);
  /// Defaults for a `dim`-D scene (the 3-D corner and centre lists cut to `dim` values).
  static MPMShapeOptions defaults(std::int64_t dim);
  /// The shape in a `dim`-D scene (a mesh file is read here). Throws physml::Error for a
  /// shape of another dimension, a mesh without a file or in 2-D, and what MPMShape and
  /// io::read_surface_mesh throw.
  MPMShape build(std::int64_t dim) const;

protected:
  /// The keys of the shape, read by `r` (shared by the body's own reader).
  void read(OptionsReader& r);
};

/// One body of a scene as options read it: a shape (its own keys, MPMShapeOptions) and any
/// further shapes of the union (parts), a material name and its initial motion.
struct MPMBodyOptions : MPMShapeOptions {
  /// Shapes 1, 2, ... of the body (read from -parts P and -part<j>_*, j = 1 .. P-1): the body
  /// is the union of its own shape and these, filled with one particle lattice.
  TORCH_ARG(std::vector<MPMShapeOptions>, parts) = {};
  /// A material of physics::nclaw_material: jelly, plasticine, sand, water.
  TORCH_ARG(std::string, material) = "jelly";
  TORCH_ARG(std::int64_t, particles_per_cell_axis) = 1;
  TORCH_ARG(double, jitter) = 0;
  TORCH_ARG(std::int64_t, seed) = 0;
  TORCH_ARG(std::vector<double>, velocity) = {1.0, -1.5, -2.0};
  TORCH_ARG(std::vector<double>, angular_velocity) = {4.0, 4.0, 4.0};
  /// Centre of the initial rotation; empty = the body's centroid.
  TORCH_ARG(std::vector<double>, rotation_center) = {};

public:
  /// Read the keys above under the prefix of `options` (e.g. "body0_"), then -parts P and the
  /// further shapes' keys under "part<j>_" (e.g. -body0_part1_shape sphere).
  MPMBodyOptions& set_from_options(const Options& options);
  /// Defaults for a `dim`-D scene (the 3-D lists cut to their first `dim` values; angular
  /// velocity 4 rad/s about z in 2-D).
  static MPMBodyOptions defaults(std::int64_t dim);
  /// The body's shapes: its own and its parts, in a `dim`-D scene (MPMShapeOptions::build).
  std::vector<MPMShape> shapes(std::int64_t dim) const;
};

/// A scene: the simulator, its bodies, the materials they use.
struct MPMScene {
  MPMOptions simulator;
  std::vector<MPMBodyOptions> bodies{MPMBodyOptions()};

  /// Read -mpm_* (MPMOptions), -bodies N and -body<k>_* (MPMBodyOptions) under the prefix of
  /// `options`. Every value read is recorded for parameters_json().
  MPMScene& set_from_options(const Options& options);
  /// The material names in material-index order (each distinct name of the bodies once).
  std::vector<std::string> materials() const;
  /// A simulator with every body added (physml::Error for an unknown material, a body outside
  /// the domain or one with no particle).
  std::unique_ptr<MPMSimulator> build() const;
  /// The options read by set_from_options, as a JSON object (nlohmann/json).
  std::string parameters_json() const;
  /// Record `key` = `value` for parameters_json() (replacing an earlier value of the key), e.g.
  /// the velocity an ensemble member was given.
  MPMScene& record(const std::string& key, const std::string& value);

private:
  std::vector<std::pair<std::string, std::string>> recorded_;
};

/// The simulator options a scene was run with, from the "parameters" JSON of its Trajectory
/// file (the -mpm_* keys the scene recorded, read back through MPMOptions::set_from_options).
MPMOptions mpm_options_from_parameters(const std::string& parameters_json);

/// Settings of simulate().
struct SimulateOptions {
  /// Material name -> trained law file (material_laws).
  using MaterialLaws = std::map<std::string, std::string>;
  /// -output: the Trajectory file (.h5; FILE.partial while incomplete). Required.
  TORCH_ARG(std::string, output) = "";
  /// -frames: frames after the initial state (each MPMOptions::substeps substeps).
  TORCH_ARG(std::int64_t, frames) = 1000;
  /// -store: per-frame fields, "state" (positions, velocities, C, F, and F_zz in 2-D: what
  /// NCLaw's teacher forcing resets) or "kinematics" (positions, velocities).
  TORCH_ARG(std::string, store) = "state";
  /// -dtype: storage type of the per-frame fields.
  TORCH_ARG(std::string, dtype) = "float32";
  /// -vtk DIR: a .vtp every -vtk_every frames and the .pvd series ("" = none).
  TORCH_ARG(std::string, vtk) = "";
  TORCH_ARG(std::int64_t, vtk_every) = 10;
  /// -png DIR: a render (projection on the x-y plane) every -png_every frames ("" = none).
  TORCH_ARG(std::string, png) = "";
  TORCH_ARG(std::int64_t, png_every) = 100;
  /// -png_color speed|material.
  TORCH_ARG(std::string, png_color) = "speed";
  TORCH_ARG(bool, progress) = true;
  TORCH_ARG(bool, handle_signals) = true;
  /// -law FILE.h5: a trained elastic law (a Checkpoint of nclaw_elastic or nclaw_unconstrained,
  /// e.g. `physml train -model nclaw_elastic`'s best.h5) in place of every body's analytic
  /// elastic law; the substeps then run through DifferentiableMPM (no plasticity). "" = the
  /// analytic laws.
  TORCH_ARG(std::string, law) = "";
  /// -law_jelly, -law_plasticine, -law_sand, -law_water FILE.h5: a trained law per material
  /// instead of -law for all (NCLaw's multi-material scenes: each body's particles go through
  /// the law of its material, per_material_law); every material of the scene then needs one.
  TORCH_ARG(MaterialLaws, material_laws) = {};
  /// -law_allow_inverted: with -law, carry on through inverted elements (J <= 0) as NCLaw's
  /// training does (DifferentiableMPM::allow_inverted), counting them, instead of stopping at
  /// the first one; so that a law that inverts elements (e.g. the unconstrained baseline) can
  /// still be rolled out and scored. Recorded in the file's parameters.
  TORCH_ARG(bool, law_allow_inverted) = false;
  /// -model FILE.h5: a learned particle simulator (gns or giorom Checkpoint) instead of MPM;
  /// it steps from the first frames of -initial (simulate_learned, particle_rollout.hpp).
  TORCH_ARG(std::string, model) = "";
  /// -initial FILE.h5: the Trajectory whose first W + 1 frames start a -model rollout (and
  /// whose later frames, if any, score it).
  TORCH_ARG(std::string, initial) = "";
  /// -evaluator FILE.h5: with -model, GIOROM's reduced-order rollout: the model steps a sparse
  /// subset of the particles (-evaluator_sparse, -evaluator_sampling, chosen on frame 0 by
  /// sparse_subset), and this point evaluator (a giorom_evaluator Checkpoint, `physml train
  /// -model giorom_evaluator`) gives every particle's position each frame. "" = the model steps
  /// every particle.
  TORCH_ARG(std::string, evaluator) = "";
  TORCH_ARG(std::int64_t, evaluator_sparse) = 1000;
  TORCH_ARG(std::string, evaluator_sampling) = "fps";
  /// -reference TRUTH.h5: once the output is complete, score it against this Trajectory of the
  /// same scene (e.g. the analytic simulator's, for a -law or -model rollout) with NCLaw's
  /// metric, the mean position MSE over every -reference_every-th frame
  /// (trajectory_position_mse); logged and returned in SimulateResult::reference. Checked to
  /// exist and to hold the same particles before simulating. "" = no score.
  TORCH_ARG(std::string, reference) = "";
  TORCH_ARG(std::int64_t, reference_every) = 5;
  /// (testing) raise SIGINT after this many frames are written in this run.
  TORCH_ARG(std::int64_t, test_interrupt_after) = 0;

public:
  SimulateOptions& set_from_options(const Options& options);
};

struct SimulateResult {
  enum class Status { complete, already_complete, interrupted };
  Status status = Status::complete;
  int signal = 0;
  std::int64_t frames_written = 0;  ///< in this run
  std::int64_t particles = 0;
  std::int64_t clamped = 0;         ///< clamped particle-substeps over the whole trajectory
  std::int64_t inverted = 0;        ///< particle-substeps with J <= 0 in this run (-law_allow_inverted)
  double seconds = 0;               ///< wall time of this run's simulation
  /// With SimulateOptions::reference: the output scored against it (frames empty otherwise).
  TrajectoryMSE reference;
};

/// Simulate `scene` for options.frames() frames into a Trajectory file (io/trajectory.hpp):
/// frame 0 the initial state; resumable bit for bit from the partial file's last frame (the
/// full-precision state is stored with it); SIGINT/SIGTERM finish the frame in flight. Throws
/// physml::Error for bad settings, an existing file with other settings (left intact), or a
/// failing step (inverted element, NaN stress: the message names particle and substep; the
/// partial file keeps the frames before it).
SimulateResult simulate(const MPMScene& scene, const SimulateOptions& options);

/// With options.reference() set: checks, before a run (so that a wrong reference fails at
/// once, not after it), that the reference Trajectory can be read and is of the same scene: the
/// particle count, the frame interval `frame_dt` and the initial positions `x0` [N, d] (to
/// float32 rounding, as trajectory_position_mse); no-op otherwise.
void check_reference(const SimulateOptions& options, std::int64_t particles, double frame_dt, const at::Tensor& x0);
/// With options.reference() set: scores the complete options.output() against it
/// (trajectory_position_mse, every options.reference_every(), frames >= first_frame), logs
/// the score and returns it; an empty TrajectoryMSE otherwise. simulate() and
/// simulate_learned() call it at the end (the latter from the first predicted frame).
TrajectoryMSE score_against_reference(const SimulateOptions& options, std::int64_t first_frame = 1);

/// Settings of simulate_ensemble(): several trajectories of one scene with random initial motions
/// (GNS/GIOROM training data: "several trajectories each with random initial velocities").
struct EnsembleOptions {
  /// -trajectories N: members of the ensemble (`physml simulate` runs simulate() alone for
  /// N = 1 without spreads; simulate_ensemble() itself always writes OUTPUT_<k>.h5).
  TORCH_ARG(std::int64_t, trajectories) = 1;
  /// -velocity_spread S: every body's initial velocity plus U(-S, S) per component [m/s].
  TORCH_ARG(double, velocity_spread) = 0;
  /// -angular_velocity_spread S: every body's angular velocity plus U(-S, S) per component [rad/s].
  TORCH_ARG(double, angular_velocity_spread) = 0;
  /// -ensemble_seed: the draws of member k depend only on (seed, k, body), not on the rank count.
  TORCH_ARG(std::int64_t, seed) = 0;

public:
  EnsembleOptions& set_from_options(const Options& options);
};

/// Member k of the ensemble: `scene` with each body's velocity and angular velocity perturbed by
/// the draws of (options.seed(), k, body), recorded in parameters_json() (with "ensemble_member").
MPMScene ensemble_member(const MPMScene& scene, const EnsembleOptions& options, std::int64_t k);

/// The file of member k of n: OUTPUT's stem + "_" + k zero-padded to the digits of n - 1 +
/// its extension ("jelly.h5", 20 members: "jelly_00.h5" ... "jelly_19.h5"). The VTK / PNG
/// directories of a member are DIR/<its stem>.
std::string ensemble_file(const std::string& output, std::int64_t k, std::int64_t n);

struct EnsembleResult {
  std::vector<std::string> files;  ///< every member's file, in member order (all ranks)
  std::int64_t simulated = 0;      ///< members simulated (or finished) in this run, all ranks
  std::int64_t already_complete = 0;
  SimulateResult::Status status = SimulateResult::Status::complete;  ///< interrupted if any rank was
  int signal = 0;
};

/// Simulate the members of the ensemble round-robin over the ranks of `comm` (rank r runs
/// k = r, r + size, ...), each into ensemble_file(options.output(), k, n) through simulate(): a
/// member's file depends only on (scene, seed, k), whatever the rank count; a rerun skips
/// complete members and resumes partial ones. Stops at the first interrupted member (status
/// interrupted on every rank). Collective: a failure on any rank (bad scene, failed step, full
/// disk) is thrown on every rank with the failing member named, once every rank has finished
/// its members (a failing rank stops at its failure; the others run on to the end).
EnsembleResult simulate_ensemble(const MPMScene& scene, const SimulateOptions& options, const EnsembleOptions& ensemble,
                                 MPI_Comm comm = PETSC_COMM_WORLD);

/// A PNG render of the particles projected on the plane of axes 0 (right) and 1 (up), on
/// `pixels` x `pixels` cells of the domain, coloured by the mean speed or the material index
/// (+1; 0 where no particle).
void render_particles_png(const std::string& path, const MPMSimulator& sim, const std::string& color = "speed",
                          int pixels = 160, const std::string& title = "");
/// The same render of points `positions` [N, d] with values [N] on the box [0, lx] x [0, ly];
/// each point paints the pixels within half of `spacing`.
void render_points_png(const std::string& path, const at::Tensor& positions, const at::Tensor& values, double spacing,
                       double lx, double ly, const std::string& label, int pixels = 160, const std::string& title = "");

}  // namespace physml::simulators
