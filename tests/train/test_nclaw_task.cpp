// NCLaw training through the one Trainer: the segment schedule, learning a jelly law from one
// trajectory inside the differentiable simulator (the rollout error falls), and exact resume.
#include "physml/core/options.hpp"
#include "physml/operators/checkpoint.hpp"
#include "physml/operators/nclaw.hpp"
#include "physml/simulators/mpm_scene.hpp"
#include "physml/train/nclaw_task.hpp"
#include "test_util.hpp"

#include <torch/torch.h>

namespace {

using Database = physml::test::OptionsDatabase;

/// A 2-D jelly block (56 particles) thrown onto the floor of a 16^2 grid (3-cell wall band), so
/// that it deforms and the law matters: 24 frames of 2 substeps of 1 ms.
std::string jelly_trajectory(const std::filesystem::path& dir) {
  Database d;
  d.set("-mpm_dim", "2");
  d.set("-mpm_cells", "16");
  d.set("-mpm_dt", "1e-3");
  d.set("-mpm_substeps", "2");
  d.set("-mpm_threads", "1");
  d.set("-body0_lower", "0.3,0.2");
  d.set("-body0_upper", "0.55,0.4");
  d.set("-body0_particles_per_cell_axis", "2");
  d.set("-body0_velocity", "0.5,-4");
  d.set("-body0_angular_velocity", "0");
  auto scene = physml::simulators::MPMScene().set_from_options(physml::Options("", d.db));
  const auto path = (dir / "jelly.h5").string();
  physml::simulators::simulate(scene, physml::simulators::SimulateOptions().output(path).frames(24).dtype("float64").progress(false));
  return path;
}

std::shared_ptr<physml::operators::Model> fresh_law() {
  torch::manual_seed(0);
  auto net = std::make_shared<physml::operators::NCLawElasticImpl>();
  net->to(torch::kDouble);
  return net;
}

physml::train::TrainerOptions options(int epochs) {
  physml::train::TrainerOptions o;
  o.epochs(epochs).batch_size(2).weight_decay(0).grad_clip(1.0).verbose(false).seed(1);
  o.schedule().lr = 1.0;  // NCLaw's learning rate of the elastic network (Adam)
  return o;
}

}  // namespace

TEST(NCLawTask, SegmentsGrowOnACosineAndCoverTheTrajectory) {
  const auto dir = physml::test::scratch_dir();
  physml::train::NCLawTask task(jelly_trajectory(dir), physml::train::NCLawTaskOptions().segment_min(4).segment_max(12));
  EXPECT_EQ(task.frames(), 25);
  EXPECT_EQ(task.particles(), 56);  // an 8 x 7 lattice (spacing dx / 2) in the block
  EXPECT_EQ(task.segment_length(0, 5), 4);
  EXPECT_EQ(task.segment_length(2, 5), 8);   // halfway on the cosine
  EXPECT_EQ(task.segment_length(4, 5), 12);
  task.begin_epoch(0, 5);
  EXPECT_EQ(task.size(), 6);                 // 24 frames in segments of 4
  task.begin_epoch(4, 5);
  EXPECT_EQ(task.size(), 2);                 // 12 + 12
  const auto b = task.batch({1}, 0);
  EXPECT_EQ(b.input.item<double>(), 12.0);   // segment 1 starts at frame 12
}

TEST(NCLawTask, LearnsAJellyLawFromOneTrajectory) {
  const auto dir = physml::test::scratch_dir();
  physml::train::NCLawTask task(jelly_trajectory(dir), physml::train::NCLawTaskOptions().segment_min(4).segment_max(12));
  auto law = fresh_law();
  const double before = task.rollout_mse(*law, 0, 4);
  physml::train::Trainer trainer(law, options(6));
  const auto records = trainer.fit(task);
  const double after = task.rollout_mse(*law, 0, 4);
  std::printf("rollout MSE of the whole trajectory: %.3e untrained, %.3e after %zu epochs\n", before, after, records.size());
  EXPECT_LT(after, before / 3.0) << "rollout MSE before " << before << ", after " << after;
  EXPECT_DOUBLE_EQ(records.back().metric("rollout_mse"), task.rollout_mse(*law, 0, 5));
}

TEST(NCLawTask, ResumedTrainingEqualsUninterruptedBitForBit) {
  const auto dir = physml::test::scratch_dir();
  const auto traj = jelly_trajectory(dir);
  const auto opts = physml::train::NCLawTaskOptions().segment_min(4).segment_max(12);
  physml::train::NCLawTask t1(traj, opts), t2(traj, opts);
  auto a = fresh_law();
  physml::train::Trainer(a, options(3)).fit(t1);
  auto b = fresh_law();
  physml::train::Trainer(b, options(3).output_dir((dir / "run").string()).stop_after(1)).fit(t2);
  physml::train::Trainer resumed(b, options(3).output_dir((dir / "run").string()));
  resumed.resume((dir / "run" / "last.h5").string());
  resumed.fit(t2);
  const auto pa = a->parameters(), pb = b->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i])) << "parameter " << i;
}
