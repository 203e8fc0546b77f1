// NCLaw training through the one Trainer: the segment schedule, learning a jelly law from one
// trajectory inside the differentiable simulator (the rollout error falls), and exact resume.
#include "physml/core/options.hpp"
#include "physml/operators/checkpoint.hpp"
#include "physml/operators/nclaw.hpp"
#include "physml/simulators/mpm_scene.hpp"
#include "physml/train/nclaw_task.hpp"
#include "model_compare.hpp"
#include "test_util.hpp"

#include <torch/torch.h>

#include <functional>

namespace {

using Database = physml::test::OptionsDatabase;

/// A 2-D jelly block (56 particles) thrown onto the floor of a 16^2 grid (3-cell wall band), so
/// that it deforms and the law matters: 24 frames of 2 substeps of 1 ms.
physml::simulators::MPMScene jelly_scene() {
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
  return physml::simulators::MPMScene().set_from_options(physml::Options("", d.db));
}

physml::simulators::SimulateOptions quiet(const std::string& path) {
  return physml::simulators::SimulateOptions().output(path).frames(24).dtype("float64").progress(false);
}

std::string jelly_trajectory(const std::filesystem::path& dir) {
  const auto path = (dir / "jelly.h5").string();
  physml::simulators::simulate(jelly_scene(), quiet(path));
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
  // The trained law's checkpoint in `physml simulate -law` on the training scene, scored against
  // the trajectory (-reference): the validation metric of training (which starts from the state
  // and particle constants read back from the file; here they agree to 1e-8 relative).
  physml::operators::save((dir / "law.h5").string(), *law);
  const auto r = physml::simulators::simulate(
      jelly_scene(), quiet((dir / "rollout.h5").string()).law((dir / "law.h5").string()).reference((dir / "jelly.h5").string()));
  EXPECT_EQ(r.reference.frames, (std::vector<std::int64_t>{5, 10, 15, 20}));
  EXPECT_NEAR(r.reference.mean, records.back().metric("rollout_mse"), 1e-6 * records.back().metric("rollout_mse"));
}

TEST(NCLawTask, LearnsInFloat32AsInFloat64) {
  // The same training with a float32 law (NCLaw's own precision; -dtype float32): the task
  // converts the trajectory to the model's dtype, the simulator runs in float32, and the law
  // learns as in float64 (the two runs start from the same weights).
  const auto dir = physml::test::scratch_dir();
  const auto traj = jelly_trajectory(dir);
  const auto opts = physml::train::NCLawTaskOptions().segment_min(4).segment_max(12);
  physml::train::NCLawTask t32(traj, opts), t64(traj, opts);
  auto law32 = fresh_law(), law64 = fresh_law();
  law32->to(torch::kFloat);
  const double before = t64.rollout_mse(*law64, 0, 4);
  EXPECT_NEAR(t32.rollout_mse(*law32, 0, 4), before, 1e-4 * before);
  const auto r32 = physml::train::Trainer(law32, options(6)).fit(t32);
  const auto r64 = physml::train::Trainer(law64, options(6)).fit(t64);
  ASSERT_EQ(r32.size(), 6u);
  EXPECT_EQ(law32->parameters()[0].scalar_type(), torch::kFloat);
  // The training ran in float32 (prepare converted the trajectory): its gradients are float32,
  // and its metric differs from the float64 evaluation of the same weights by float32 rounding.
  ASSERT_TRUE(law32->parameters()[0].grad().defined());
  EXPECT_EQ(law32->parameters()[0].grad().scalar_type(), torch::kFloat);
  auto as64 = fresh_law();
  {
    torch::NoGradGuard ng;
    for (std::size_t i = 0; i < as64->parameters().size(); ++i) as64->parameters()[i].copy_(law32->parameters()[i]);
  }
  const double m32 = r32.back().metric("rollout_mse"), m64 = t64.rollout_mse(*as64, 0, 5);
  EXPECT_NE(m32, m64);
  EXPECT_NEAR(m32, m64, 1e-3 * m64);
  const double after32 = r32.back().metric("rollout_mse"), after64 = r64.back().metric("rollout_mse");
  std::printf("rollout MSE %.3e untrained; after 6 epochs %.3e (float32), %.3e (float64)\n", before, after32, after64);
  EXPECT_LT(after32, before / 3.0);
  // Six Adam steps at lr 1.0 amplify rounding; the two precisions stay within a factor 2.
  EXPECT_LT(after32, 2 * after64);
  EXPECT_GT(after32, 0.5 * after64);
  // The option reads both values and refuses others.
  physml::test::OptionsDatabase d;
  d.set("-dtype", "float32");
  EXPECT_EQ(physml::train::NCLawTaskOptions().set_from_options(physml::Options("", d.db)).dtype(), "float32");
  physml::test::OptionsDatabase bad;
  bad.set("-dtype", "float16");
  EXPECT_THROW_MSG(physml::train::NCLawTaskOptions().set_from_options(physml::Options("", bad.db)), "float16");
}

TEST(NCLawTask, ResumingInAnotherDtypeIsRefused) {
  // A float32 run's checkpoint resumed into a float64 law would cast the weights but keep the
  // Adam moments in float32: refused, naming the dtypes and the option; the same dtype resumes.
  const auto dir = physml::test::scratch_dir();
  const auto traj = jelly_trajectory(dir);
  const auto opts = physml::train::NCLawTaskOptions().segment_min(4).segment_max(12);
  physml::train::NCLawTask task(traj, opts);
  auto law32 = fresh_law();
  law32->to(torch::kFloat);
  physml::train::Trainer(law32, options(2).output_dir((dir / "run").string()).stop_after(1)).fit(task);
  const auto last = (dir / "run" / "last.h5").string();
  physml::train::Trainer in64(fresh_law(), options(2).output_dir((dir / "run64").string()));
  EXPECT_THROW_MSG(in64.resume(last), "holds the parameters in float32 but the module's are float64; restoring the optimizer state (an exact resume) needs the dtype the run started with");
  auto again32 = fresh_law();
  again32->to(torch::kFloat);
  physml::train::Trainer in32(again32, options(2).output_dir((dir / "run32").string()));
  EXPECT_NO_THROW(in32.resume(last));
}

namespace {
/// Three epochs in one go equal one epoch, a checkpoint and a resumed run of two more, bit for
/// bit, for models from `make` (same seed each call).
void expect_exact_resume(const std::function<std::shared_ptr<physml::operators::Model>()>& make) {
  const auto dir = physml::test::scratch_dir();
  const auto traj = jelly_trajectory(dir);
  const auto opts = physml::train::NCLawTaskOptions().segment_min(4).segment_max(12);
  physml::train::NCLawTask t1(traj, opts), t2(traj, opts);
  auto a = make();
  physml::train::Trainer(a, options(3)).fit(t1);
  auto b = make();
  physml::train::Trainer(b, options(3).output_dir((dir / "run").string()).stop_after(1)).fit(t2);
  physml::train::Trainer resumed(b, options(3).output_dir((dir / "run").string()));
  resumed.resume((dir / "run" / "last.h5").string());
  resumed.fit(t2);
  const auto pa = a->parameters(), pb = b->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i])) << "parameter " << i;
}
}  // namespace

TEST(NCLawTask, ResumedTrainingEqualsUninterruptedBitForBit) { expect_exact_resume(fresh_law); }

TEST(NCLawTask, ResumedFloat32TrainingEqualsUninterruptedBitForBit) {
  expect_exact_resume([] {
    auto law = fresh_law();
    law->to(torch::kFloat);
    return law;
  });
}

TEST(NCLawTask, TrainsBothNetworksEachAtItsOwnLearningRate) {
  // Adam's first step moves each parameter by -lr g / (|g| + eps), g its (clipped) gradient:
  // lr for the elastic network, 0.1 lr for the plastic one (NCLaw's 1.0 and 0.1).
  const auto dir = physml::test::scratch_dir();
  physml::train::NCLawTask task(jelly_trajectory(dir), physml::train::NCLawTaskOptions().segment_min(4).segment_max(12));
  torch::manual_seed(0);
  auto law = std::make_shared<physml::operators::NCLawImpl>();
  law->to(torch::kDouble);
  std::vector<at::Tensor> before;
  for (const auto& p : law->parameters()) before.push_back(p.detach().clone());
  auto o = options(1).batch_size(100);  // one step on the whole trajectory, as NCLaw
  o.schedule().lr = 0.5;
  physml::train::Trainer trainer(law, o);
  ASSERT_EQ(trainer.optimizer().param_groups().size(), 2u);
  trainer.fit(task);
  const auto groups = law->parameter_groups();
  const auto params = law->parameters();
  std::size_t i = 0;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    double worst = 0, grad = 0;
    for (std::size_t k = 0; k < groups[g].parameters.size(); ++k, ++i) {
      const auto& p = params[i];
      ASSERT_TRUE(p.grad().defined()) << groups[g].name;  // the step's (clipped) gradient is left in place
      const auto expected = -0.5 * groups[g].lr_scale * p.grad() / (p.grad().abs() + 1e-8);
      worst = std::max(worst, (p - before[i] - expected).abs().max().item<double>());
      grad = std::max(grad, p.grad().abs().max().item<double>());
    }
    EXPECT_GT(grad, 0.0) << groups[g].name;
    EXPECT_LT(worst, 1e-12) << groups[g].name;
  }
  EXPECT_EQ(i, before.size());
}

TEST(NCLawTask, CheckpointedSegmentsGiveTheGradientsOfTheWholeGraph) {
  // -checkpoints K: each training segment keeps at most K particle states and recomputes the
  // rest in the backward pass; the loss is the same bit for bit and the gradients of both
  // networks the same to rounding. Bad values are refused.
  const auto dir = physml::test::scratch_dir();
  const auto path = jelly_trajectory(dir);
  torch::manual_seed(0);
  auto law = std::make_shared<physml::operators::NCLawImpl>();
  law->to(torch::kDouble);
  for (auto& p : law->parameters()) p.data().mul_(10.0);
  std::vector<double> losses;
  std::vector<std::vector<at::Tensor>> grads;
  for (std::int64_t K : {0, 3}) {
    physml::train::NCLawTask task(path, physml::train::NCLawTaskOptions().segment_min(12).segment_max(12).checkpoints(K));
    task.prepare(*law);
    task.begin_epoch(0, 1);
    for (auto& p : law->parameters()) p.mutable_grad() = at::Tensor();
    const auto loss = task.loss(*law, task.batch({0, 1}, 0));
    loss.backward();
    losses.push_back(loss.item<double>());
    grads.emplace_back();
    for (const auto& p : law->parameters()) grads.back().push_back(p.grad().clone());
  }
  EXPECT_EQ(losses[0], losses[1]);
  EXPECT_GT(losses[0], 0.0);
  for (size_t q = 0; q < grads[0].size(); ++q) {
    EXPECT_GT(grads[0][q].abs().max().item<double>(), 0.0) << "parameter " << q;
    EXPECT_TRUE(torch::allclose(grads[1][q], grads[0][q], 1e-9, 1e-14)) << "parameter " << q;
  }
  Database d;
  d.set("-checkpoints", "-2");
  EXPECT_THROW_MSG(physml::train::NCLawTaskOptions().set_from_options(physml::Options("", d.db)), "checkpoints");
}

TEST(NCLawTask, ResumedTrainingOfBothNetworksEqualsUninterruptedBitForBit) {
  expect_exact_resume([]() -> std::shared_ptr<physml::operators::Model> {
    torch::manual_seed(0);
    auto m = std::make_shared<physml::operators::NCLawImpl>();
    m->to(torch::kDouble);
    return m;
  });
}

namespace {
/// NCLaw's elastic network that returns a NaN stress on its calls number from .. to - 1 (a
/// blow-up at a known substep).
class Sabotaged : public physml::operators::NCLawElasticImpl {
public:
  Sabotaged(std::int64_t from, std::int64_t to) : from_(from), to_(to) {}
  at::Tensor forward(const at::Tensor& F) override {
    auto tau = NCLawElasticImpl::forward(F);
    const auto call = calls_++;
    return call >= from_ && call < to_ ? tau * std::nan("") : tau;
  }

private:
  std::int64_t calls_ = 0, from_, to_;
};
}  // namespace

TEST(NCLawTask, SegmentsThatBlowUpAreSkippedAndCountedOrStopTraining) {
  // Segments of 4 frames of 2 substeps: 8 law calls each, in order (no shuffling). The
  // Trainer's check that the model is a law is call 0, so call 9 is segment 1's first.
  const auto dir = physml::test::scratch_dir();
  const auto traj = jelly_trajectory(dir);
  const auto opts = physml::train::NCLawTaskOptions().segment_min(4).segment_max(4);
  auto make = [](std::int64_t from, std::int64_t to) {
    torch::manual_seed(0);
    auto m = std::make_shared<Sabotaged>(from, to);
    m->to(torch::kDouble);
    return m;
  };
  physml::train::NCLawTask skip(traj, opts);
  skip.begin_epoch(0, 1);
  ASSERT_EQ(skip.size(), 6);
  // The loss of the other five segments, one by one, with the same weights.
  auto plain = make(0, 0);
  double expected = 0;
  for (std::int64_t b : {0, 2, 3, 4, 5}) expected += skip.loss(*plain, skip.batch({b}, 0)).item<double>() / 5.0;
  auto law = make(9, 10);
  auto o = options(1).batch_size(100).shuffle(false);
  o.schedule().lr = 1e-12;
  const auto records = physml::train::Trainer(law, o).fit(skip);
  EXPECT_EQ(records.back().metric("diverged"), 1.0);
  EXPECT_NEAR(records.back().train_loss, expected, 1e-12 * expected);
  EXPECT_EQ(records.back().metric("valid_diverged_frame"), 0.0);
  // A validation rollout that blows up at substep 11 (frame 6) scores on, from frame 5's positions.
  auto late = make(10, 1000000);
  std::int64_t frame = -1;
  const double mse = skip.rollout_mse(*late, 0, 1, &frame);
  EXPECT_EQ(frame, 6);
  EXPECT_TRUE(std::isfinite(mse));
  EXPECT_GT(mse, skip.rollout_mse(*make(0, 0), 0, 1));
  // -diverged error: the blow-up stops training; so does an epoch whose segments all blow up.
  physml::train::NCLawTask stop(traj, physml::train::NCLawTaskOptions(opts).diverged("error"));
  EXPECT_THROW(physml::train::Trainer(make(9, 10), o).fit(stop), physml::NonFiniteError);
  physml::train::NCLawTask all(traj, opts);
  EXPECT_THROW_MSG(physml::train::Trainer(make(1, 1000000), o).fit(all), "the rollouts of all 6 segments");
}

TEST(NCLawTaskDataParallelMPI, TwoRanksTrainAsOneRankWithTheDoubledBatch) {
  // The segments of an epoch are the samples the ranks share: 6 segments of 4 frames in epoch 0,
  // 5 growing ones in epoch 1 (4..12 on the cosine over 2 epochs). 2 ranks with 2 segments each
  // per step take the steps of 1 rank with 4; 1 rank with 2 takes other steps (the check can fail).
  REQUIRE_TWO_RANKS("train.mpi.data_parallel");
  const auto dir = physml::test::shared_scratch_dir();
  std::string traj = (dir / "jelly.h5").string();
  if (physml::test::world_rank() == 0) traj = jelly_trajectory(dir);
  MPI_Barrier(PETSC_COMM_WORLD);
  physml::train::NCLawTask task(traj, physml::train::NCLawTaskOptions().segment_min(4).segment_max(12));
  auto run = [&](std::int64_t batch, MPI_Comm comm) {
    auto law = fresh_law();
    auto records = physml::train::Trainer(law, options(2).batch_size(batch), comm).fit(task);
    return std::make_pair(law, records);
  };
  const auto [two, r2] = run(2, PETSC_COMM_WORLD);
  const auto [one, r1] = run(4, PETSC_COMM_SELF);
  const auto [half, rh] = run(2, PETSC_COMM_SELF);
  const double same = physml::test::max_relative_difference(*two, *one),
               other = physml::test::max_relative_difference(*two, *half);
  std::printf("max relative weight difference: %.2e against 1 rank x 4, %.2e against 1 rank x 2\n", same, other);
  EXPECT_LT(same, 1e-9) << "2 ranks x 2 against 1 rank x 4";
  EXPECT_GT(other, 1e-3) << "2 ranks x 2 against 1 rank x 2";
  ASSERT_EQ(r2.size(), 2u);
  for (std::size_t e = 0; e < 2; ++e) {
    EXPECT_NEAR(r2[e].train_loss, r1[e].train_loss, 1e-9 * std::abs(r1[e].train_loss)) << "epoch " << e;
    EXPECT_NEAR(r2[e].metric("rollout_mse"), r1[e].metric("rollout_mse"), 1e-9 * r1[e].metric("rollout_mse"));
  }
}
