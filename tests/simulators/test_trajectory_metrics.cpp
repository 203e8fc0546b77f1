// NCLaw's rollout metric (simulators/trajectory_metrics.hpp): exact values on manufactured
// trajectories, the frames it scores, the refusal of files of another scene, and
// `simulate -reference` scoring a run against the analytic simulator's trajectory.
#include "physml/core/options.hpp"
#include "physml/io/trajectory.hpp"
#include "physml/simulators/mpm_scene.hpp"
#include "physml/simulators/trajectory_metrics.hpp"
#include "test_util.hpp"

#include <torch/torch.h>

#include <filesystem>

namespace sim = physml::simulators;
using physml::io::TrajectoryInfo;
using physml::io::TrajectoryWriter;

namespace {

constexpr std::int64_t kN = 7, kD = 3, kT = 12;  // particles, dimension, last frame

TrajectoryInfo info(std::int64_t particles = kN, double frame_dt = 0.01) {
  TrajectoryInfo i;
  i.particles = particles;
  i.frames = kT + 1;
  i.frame_dt = frame_dt;
  i.fields = {{"positions", {kD}}};
  i.dtype = torch::kDouble;
  return i;
}

/// Frame k of the "truth": a drifting lattice, x0 + 0.01 k.
at::Tensor truth_frame(std::int64_t k, std::int64_t n = kN) {
  return torch::arange(n * kD, torch::kDouble).reshape({n, kD}) * 0.1 + 0.01 * static_cast<double>(k);
}

/// Writes frames 0..kT of x(k) into `path`.
template <class F>
void write(const std::filesystem::path& path, const TrajectoryInfo& i, F x) {
  auto w = TrajectoryWriter::open(path.string(), i);
  for (std::int64_t k = 0; k <= kT; ++k) w.write_frame(k, static_cast<double>(k) * i.frame_dt, {{"positions", x(k)}});
  w.finish();
}

/// The rollout: the truth with coordinate 0 of every particle off by k * delta at frame k, so
/// that the position MSE of frame k (over particles and coordinates) is (k delta)^2 / d.
constexpr double kDelta = 1e-3;
at::Tensor rollout_frame(std::int64_t k) {
  auto x = truth_frame(k);
  x.select(1, 0).add_(kDelta * static_cast<double>(k));
  return x;
}

double frame_mse(std::int64_t k) { return kDelta * kDelta * static_cast<double>(k * k) / kD; }

}  // namespace

TEST(RolloutMSE, ScoresEveryKthFrameOfManufacturedTrajectoriesExactly) {
  const auto dir = physml::test::scratch_dir();
  write(dir / "truth.h5", info(), [](std::int64_t k) { return truth_frame(k); });
  write(dir / "roll.h5", info(), rollout_frame);
  const auto truth = (dir / "truth.h5").string(), roll = (dir / "roll.h5").string();

  // NCLaw's setting: every 5th frame of 1..12 -> frames 5 and 10.
  auto r = sim::trajectory_position_mse(truth, roll);
  EXPECT_EQ(r.frames, (std::vector<std::int64_t>{5, 10}));
  EXPECT_EQ(r.last, kT);
  ASSERT_EQ(r.per_frame.size(), 2u);
  EXPECT_NEAR(r.per_frame[0], frame_mse(5), 1e-15);
  EXPECT_NEAR(r.per_frame[1], frame_mse(10), 1e-15);
  EXPECT_NEAR(r.mean, (frame_mse(5) + frame_mse(10)) / 2, 1e-15);
  // Every frame: the mean of (k delta)^2 / d over k = 1..12 = delta^2 (12 13 25 / 6) / (12 d).
  EXPECT_NEAR(sim::trajectory_position_mse(truth, roll, 1).mean, kDelta * kDelta * (13.0 * 25.0 / 6.0) / kD, 1e-15);
  // Up to frame 7 only: frame 5; up to frame 3 (fewer than `every`): frames 1, 2, 3.
  EXPECT_EQ(sim::trajectory_position_mse(truth, roll, 5, 7).frames, (std::vector<std::int64_t>{5}));
  const auto short_run = sim::trajectory_position_mse(truth, roll, 5, 3);
  EXPECT_EQ(short_run.frames, (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_NEAR(short_run.mean, (frame_mse(1) + frame_mse(2) + frame_mse(3)) / 3, 1e-15);
  // From frame 6 on (a learned rollout whose frames 0..5 are copies): frame 10 only; from frame
  // 11 on there is none.
  const auto late = sim::trajectory_position_mse(truth, roll, 5, 0, 6);
  EXPECT_EQ(late.frames, (std::vector<std::int64_t>{10}));
  EXPECT_NEAR(late.mean, frame_mse(10), 1e-15);
  EXPECT_THROW_MSG(sim::trajectory_position_mse(truth, roll, 5, 0, 11), "no frame to score from frame 11");
  // A file against itself scores 0 exactly.
  EXPECT_EQ(sim::trajectory_position_mse(truth, truth).mean, 0.0);

  // The in-memory form (what NCLawTask's validation uses) gives the same number, with gradients.
  std::vector<at::Tensor> pt, tt;
  for (std::int64_t k = 1; k <= kT; ++k) {
    pt.push_back(rollout_frame(k));
    tt.push_back(truth_frame(k));
  }
  auto pred = torch::stack(pt).requires_grad_(true);
  const auto m = sim::rollout_position_mse(pred, torch::stack(tt), 5);
  EXPECT_NEAR(m.item<double>(), r.mean, 1e-15);
  m.backward();
  // d/dx of mean over 2 frames x N x d of squared errors: 2 err / (2 N d) on frames 5 and 10 only.
  const auto g = pred.grad();
  EXPECT_NEAR(g[4][0][0].item<double>(), 2 * 5 * kDelta / (2.0 * kN * kD), 1e-15);
  EXPECT_NEAR(g[9][3][0].item<double>(), 2 * 10 * kDelta / (2.0 * kN * kD), 1e-15);
  EXPECT_EQ(g[4][0][1].item<double>(), 0.0);
  EXPECT_EQ(g[5].abs().sum().item<double>(), 0.0);
}

TEST(RolloutMSE, RefusesFilesOfAnotherSceneAndBadStrides) {
  const auto dir = physml::test::scratch_dir();
  write(dir / "truth.h5", info(), [](std::int64_t k) { return truth_frame(k); });
  write(dir / "more.h5", info(kN + 1), [](std::int64_t k) { return truth_frame(k, kN + 1); });
  write(dir / "slow.h5", info(kN, 0.02), [](std::int64_t k) { return truth_frame(k); });
  write(dir / "moved.h5", info(), [](std::int64_t k) { return truth_frame(k) + 1e-3; });
  const auto truth = (dir / "truth.h5").string();
  EXPECT_THROW_MSG(sim::trajectory_position_mse(truth, (dir / "more.h5").string()),
                   "has 8 particles in 3-D, the reference '" + truth + "' 7 in 3-D: expected the same scene");
  EXPECT_THROW_MSG(sim::trajectory_position_mse(truth, (dir / "slow.h5").string()),
                   "has frames every 0.02 s, the reference '" + truth + "' every 0.01 s");
  EXPECT_THROW_MSG(sim::trajectory_position_mse(truth, (dir / "moved.h5").string()),
                   "frame 0 of '" + (dir / "moved.h5").string() + "' differs from frame 0 of the reference");
  EXPECT_THROW_MSG(sim::trajectory_position_mse(truth, truth, 5, 13), "frame 13 requested, but '" + truth + "' has frames 0..12");
  EXPECT_THROW_MSG(sim::trajectory_position_mse(truth, truth, 0), "the scoring stride (every) must be >= 1, got 0");
  EXPECT_THROW_MSG(sim::trajectory_position_mse(truth, (dir / "none.h5").string()), "none.h5");
  EXPECT_THROW_MSG(sim::rollout_position_mse(torch::zeros({3, kN, kD}), torch::zeros({4, kN, kD}), 1),
                   "expected two tensors [frames, N, d] of one shape");
}

TEST(Simulate, ScoresTheRunAgainstAReferenceTrajectory) {
  const auto dir = physml::test::scratch_dir();
  physml::test::OptionsDatabase d, e, f;
  for (auto* db : {&d, &e, &f}) {
    db->set("-mpm_dim", "2");
    db->set("-mpm_cells", "16");
    db->set("-mpm_dt", "1e-3");
    db->set("-mpm_substeps", "2");
    db->set("-mpm_threads", "1");
    db->set("-body0_lower", "0.3,0.3");
    db->set("-body0_upper", "0.5,0.5");
    db->set("-body0_particles_per_cell_axis", "2");
  }
  e.set("-body0_velocity", "0.5,-1");  // the same body, another initial velocity
  f.set("-body0_upper", "0.6,0.5");    // another body
  const auto scene = sim::MPMScene().set_from_options(physml::Options("", d.db));
  const auto moving = sim::MPMScene().set_from_options(physml::Options("", e.db));
  const auto wider = sim::MPMScene().set_from_options(physml::Options("", f.db));
  auto o = sim::SimulateOptions().frames(12).dtype("float64").progress(false);
  const auto truth = (dir / "truth.h5").string();
  EXPECT_TRUE(sim::simulate(scene, sim::SimulateOptions(o).output(truth)).reference.frames.empty());

  // The same scene again (deterministic): 0 exactly, on frames 5 and 10.
  const auto same = sim::simulate(scene, sim::SimulateOptions(o).output((dir / "same.h5").string()).reference(truth));
  EXPECT_EQ(same.reference.frames, (std::vector<std::int64_t>{5, 10}));
  EXPECT_EQ(same.reference.mean, 0.0);
  // Another initial velocity: the score of the two files, and the bodies did move apart.
  const auto other = (dir / "other.h5").string();
  const auto r = sim::simulate(moving, sim::SimulateOptions(o).output(other).reference(truth).reference_every(2));
  EXPECT_EQ(r.reference.frames, (std::vector<std::int64_t>{2, 4, 6, 8, 10, 12}));
  EXPECT_GT(r.reference.mean, 1e-6);
  EXPECT_EQ(r.reference.mean, sim::trajectory_position_mse(truth, other, 2).mean);
  // Rerunning the complete file scores it again.
  const auto again = sim::simulate(moving, sim::SimulateOptions(o).output(other).reference(truth).reference_every(2));
  EXPECT_EQ(again.status, sim::SimulateResult::Status::already_complete);
  EXPECT_EQ(again.reference.mean, r.reference.mean);
  // A reference of another scene or a missing one is refused before anything is written.
  const auto wide = (dir / "wide.h5").string();
  EXPECT_THROW_MSG(sim::simulate(wider, sim::SimulateOptions(o).output(wide).reference(truth)),
                   "holds 36 particles; this scene has 54: expected a Trajectory of the same scene");
  EXPECT_THROW_MSG(sim::simulate(scene, sim::SimulateOptions(o).output(wide).reference((dir / "no.h5").string())),
                   "-reference '" + (dir / "no.h5").string() + "' does not exist");
  // The same particle count but another time step, or another placement: refused before too.
  physml::test::OptionsDatabase g, h;
  for (auto* db : {&g, &h}) {
    db->set("-mpm_dim", "2");
    db->set("-mpm_cells", "16");
    db->set("-mpm_substeps", "2");
    db->set("-mpm_threads", "1");
    db->set("-body0_particles_per_cell_axis", "2");
  }
  g.set("-mpm_dt", "5e-4");
  g.set("-body0_lower", "0.3,0.3");
  g.set("-body0_upper", "0.5,0.5");
  h.set("-mpm_dt", "1e-3");
  h.set("-body0_lower", "0.4,0.3");
  h.set("-body0_upper", "0.6,0.5");
  EXPECT_THROW_MSG(sim::simulate(sim::MPMScene().set_from_options(physml::Options("", g.db)),
                                 sim::SimulateOptions(o).output(wide).reference(truth)),
                   "has frames every 0.002 s; this run every 0.001 s");
  EXPECT_THROW_MSG(sim::simulate(sim::MPMScene().set_from_options(physml::Options("", h.db)),
                                 sim::SimulateOptions(o).output(wide).reference(truth)),
                   "its frame 0 differs from this scene's initial positions");
  EXPECT_FALSE(std::filesystem::exists(wide));
  EXPECT_FALSE(std::filesystem::exists(wide + ".partial"));
}
