// `physml simulate`: builds an MPMScene and SimulateOptions from the options database and runs
// simulators::simulate (mpm_scene.hpp), which writes the Trajectory file, the VTK series and
// the PNG renders, resumable and interruptible.
#include "command.hpp"

#include "physml/core/error.hpp"
#include "physml/core/log.hpp"
#include "physml/core/options.hpp"
#include "physml/simulators/mpm_scene.hpp"
#include "physml/simulators/particle_rollout.hpp"

namespace {

namespace sim = physml::simulators;

const char* kUsage =
    "physml simulate -output TRAJ.h5 [-vtk DIR] [-png DIR] [options]\n\n"
    "Simulates an MLS-MPM scene (simulators/mpm.hpp) and writes its particle trajectory as a PhysML\n"
    "Trajectory file (positions, velocities, C and F of every frame; docs/file-formats.md), with an\n"
    "optional .vtp/.pvd series for ParaView and PNG renders. The default scene is NCLaw's training\n"
    "scene (Ma et al., ICML 2023): a 1000-particle jelly cube of side 0.5 centred at (0.5, 0.5, 0.5),\n"
    "initial velocity (1, -1.5, -2) m/s plus the rotation (4, 4, 4) rad/s, on a 20^3 grid with\n"
    "dt = 5e-4 s, 1000 frames. Ctrl-C (SIGINT) or SIGTERM finishes the frame in flight, keeps\n"
    "TRAJ.h5.partial and exits with 128 + signal; the same command continues it bit for bit.\n\n"
    "'physml simulate -help' lists every option with its default. The main ones:\n"
    "  -frames N                 frames after the initial state (1000)\n"
    "  -bodies N                 bodies of the scene, each read from -body<k>_*:\n"
    "  -body0_material M         jelly|plasticine|sand|water\n"
    "  -body0_shape box|sphere|torus|mesh   with -body0_lower/-body0_upper, -body0_center/-body0_radius\n"
    "                            (torus: + -body0_minor_radius), or -body0_mesh FILE (.obj/.stl/.vtk/.vtp,\n"
    "                            a closed surface; -body0_mesh_scale, -body0_mesh_offset)\n"
    "  -body0_velocity, -body0_angular_velocity   initial motion\n"
    "  -mpm_dim 2|3, -mpm_cells N, -mpm_dt S, -mpm_substeps K, -mpm_boundary free_slip|no_slip\n"
    "  -store state|kinematics   per-frame fields (x, v, C, F) or (x, v)\n"
    "  -vtk DIR -vtk_every K, -png DIR -png_every K -png_color speed|material\n"
    "  -law FILE.h5              a trained NCLaw law (elastic, or elastic + plastic) in place of the analytic ones\n"
    "  -law_jelly A.h5 -law_plasticine B.h5 ...   a trained law per material (also -law_sand, -law_water)\n"
    "  -reference TRUTH.h5       score the output against TRUTH.h5 of the same scene: NCLaw's rollout metric,\n"
    "                            the mean position MSE over every -reference_every (5)-th frame\n"
    "  -trajectories N           N trajectories TRAJ_<k>.h5, each body's velocity and angular velocity\n"
    "                            plus U(-S, S) per component (-velocity_spread S, -angular_velocity_spread S,\n"
    "                            -ensemble_seed): GNS/GIOROM training data; round-robin over MPI ranks\n\n"
    "physml simulate -model RUN/best.h5 -initial TRUTH.h5 -output PRED.h5 -frames N rolls a learned\n"
    "particle simulator (physml train -model gns|giorom) out from the first frames of TRUTH.h5 and\n"
    "reports its position MSE against the frames TRUTH.h5 holds (same outputs, resumable).\n"
    "With -evaluator EV.h5 (physml train -model giorom_evaluator) it is GIOROM's reduced-order rollout: the\n"
    "model steps -evaluator_sparse K particles (-evaluator_sampling fps|random on frame 0) and the evaluator\n"
    "gives every particle's position each frame.";

int run_simulate(const std::vector<std::string>& args) {
  PHYSML_CHECK(args.empty(), "physml simulate takes no positional arguments, got '", args.front(), "'");
  const physml::Options opt;
  auto scene = sim::MPMScene().set_from_options(opt);
  const auto options = sim::SimulateOptions().set_from_options(opt);
  const auto ensemble = sim::EnsembleOptions().set_from_options(opt);
  if (opt.has("help")) return 0;
  if (ensemble.trajectories() > 1 || ensemble.velocity_spread() > 0 || ensemble.angular_velocity_spread() > 0) {
    const auto r = sim::simulate_ensemble(scene, options, ensemble);
    if (r.status == sim::SimulateResult::Status::interrupted) return 128 + r.signal;
    physml::log_info(r.simulated, " of ", r.files.size(), " trajectories simulated in this run, ", r.already_complete,
                     " already complete: '", r.files.front(), "' ... '", r.files.back(), "'");
    return 0;
  }
  if (!options.model().empty()) {  // a learned particle simulator instead of MPM
    const auto learned = sim::simulate_learned(options);
    return learned.run.status == sim::SimulateResult::Status::interrupted ? 128 + learned.run.signal : 0;
  }
  const auto result = sim::simulate(scene, options);
  return result.status == sim::SimulateResult::Status::interrupted ? 128 + result.signal : 0;
}

PHYSML_COMMAND({"simulate", "simulate an MPM scene (jelly, plasticine, sand, water) into a trajectory file (+ VTK, PNG)",
                kUsage, run_simulate});

}  // namespace
