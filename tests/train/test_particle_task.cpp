// Training GNS / GIOROM through the one Trainer on Trajectory files: windows, GNS's random-walk
// noise (target corrected for it), sparse samples, validation rollouts, and a model that
// learns a damped motion (a = -gamma v, visible in the velocity inputs).
#include "physml/io/trajectory.hpp"
#include "physml/operators/giorom.hpp"
#include "physml/operators/gns.hpp"
#include "physml/train/particle_task.hpp"
#include "physml/train/trainer.hpp"
#include "test_util.hpp"

#include <torch/torch.h>

namespace ops = physml::operators;
namespace tr = physml::train;

namespace {

/// Particles in the box middle moving with x_{t+1} = x_t + (1 - gamma) (x_t - x_{t-1}).
std::string damped(const std::filesystem::path& dir, const std::string& name, std::uint64_t seed, std::int64_t n = 24,
                   std::int64_t frames = 14, std::int64_t d = 2) {
  auto g = at::make_generator<at::CPUGeneratorImpl>(seed);
  const double gamma = 0.2;
  auto x = 0.35 + 0.3 * torch::rand({n, d}, g, torch::kDouble);
  auto v = 0.01 * torch::randn({n, d}, g, torch::kDouble);
  physml::io::TrajectoryInfo info;
  info.particles = n;
  info.frames = frames;
  info.frame_dt = 1.0;
  info.fields = {{"positions", {d}}};
  info.dtype = torch::kDouble;
  const auto path = (dir / name).string();
  auto w = physml::io::TrajectoryWriter::open(path, info);
  w.write_particles({{"material", torch::zeros({n}, torch::kLong)}});
  for (std::int64_t k = 0; k < frames; ++k) {
    w.write_frame(k, static_cast<double>(k), {{"positions", x}});
    v = (1 - gamma) * v;
    x = x + v;
  }
  w.finish();
  return path;
}

/// The particle trainer's defaults for a short test run at a constant learning rate.
tr::TrainerOptions short_run(std::int64_t epochs, std::int64_t batch, double lr) {
  tr::ScheduleOptions s;
  s.lr = lr;
  return tr::particle_trainer_options().epochs(epochs).batch_size(batch).verbose(false).schedule(s);
}

ops::ParticleInputOptions inputs(double noise) {
  return ops::ParticleInputOptions().dim(2).window(3).radius(0.15).materials(1).embedding(2).noise(noise);
}

}  // namespace

TEST(ParticleTask, BatchesAreWindowsWithTheRandomWalkNoiseCorrectedInTheTarget) {
  const auto dir = physml::test::scratch_dir();
  const auto a = damped(dir, "a.h5", 1);
  tr::ParticleTask task({a}, {});
  torch::manual_seed(0);
  ops::GNS gns(ops::GNSOptions().inputs(inputs(1e-3)).latent(8).steps(1).mlp_hidden(1));
  task.prepare(*gns);
  EXPECT_EQ(task.size(), 14 - 3 - 1);  // frames t = W .. T-2
  const auto b = task.batch({0, 4}, 7);
  ASSERT_EQ(b.input.sizes(), (std::vector<int64_t>{5, 48, 2}));  // W + 2 frames, 2 x 24 particles
  EXPECT_TRUE(torch::equal(b.target.select(1, 1), torch::cat({torch::zeros({24}), torch::ones({24})}).to(torch::kDouble)));
  EXPECT_TRUE(torch::equal(b.input, task.batch({0, 4}, 7).input));  // determined by the seed
  const auto reader = physml::io::TrajectoryReader::open(a);
  const auto clean = reader.read("positions", 0, 14).to(torch::kDouble);
  const auto sample0 = b.input.slice(1, 0, 24);
  // The oldest frame is clean, the others carry the integrated random walk...
  EXPECT_TRUE(torch::equal(sample0[0], clean[0]));
  const auto noise = sample0.slice(0, 1, 4) - clean.slice(0, 1, 4);
  EXPECT_GT(noise.abs().max().item<double>(), 1e-5);
  // ...and the next frame the last position's noise, so the target velocity is the clean one.
  EXPECT_TRUE(torch::allclose(sample0[4] - sample0[3], clean[4] - clean[3], 1e-12, 1e-14));
  // Velocity-noise std at the last velocity ~ noise (1e-3): over 48 x 2 values, within 30%.
  const auto all = (b.input[3] - b.input[2]) - torch::cat({clean[3] - clean[2], clean[7] - clean[6]});
  EXPECT_NEAR(all.std().item<double>(), 1e-3, 3e-4);
}

TEST(ParticleTask, SparseSamplesKeepAFractionOfTheParticles) {
  const auto dir = physml::test::scratch_dir();
  tr::ParticleTask task({damped(dir, "a.h5", 2, 40)}, {}, tr::ParticleTaskOptions().sample_fraction(0.25));
  ops::GIOROM gio(ops::GIOROMOptions().inputs(inputs(0)).latent(8).mp_steps(1).mlp_hidden(1).latent_grid(6).gno_radius(0.2)
                      .gno_width(4).fno_modes(2).fno_width(4).fno_layers(1));
  task.prepare(*gio);
  const auto b = task.batch({1, 2}, 3);
  EXPECT_EQ(b.input.size(1), 20);  // 10 of 40 per sample
  EXPECT_FALSE(torch::equal(b.input.slice(1, 0, 10)[0], task.batch({1, 2}, 4).input.slice(1, 0, 10)[0]));
  EXPECT_TRUE(std::isfinite(task.loss(*gio, {b.input.to(torch::kFloat), b.target.to(torch::kFloat)}).item<double>()));
}

TEST(ParticleTask, GNSLearnsADampedMotion) {
  const auto dir = physml::test::scratch_dir();
  std::vector<std::string> train;
  for (std::uint64_t s = 0; s < 4; ++s) train.push_back(damped(dir, "t" + std::to_string(s) + ".h5", 10 + s));
  const auto valid = damped(dir, "v.h5", 20);
  tr::ParticleTask task(train, {valid}, tr::ParticleTaskOptions().valid_frames(6));
  torch::manual_seed(1);
  auto gns = std::make_shared<ops::GNSImpl>(ops::GNSOptions().inputs(inputs(0)).latent(16).steps(1).mlp_hidden(1));
  tr::Trainer trainer(gns, short_run(12, 4, 3e-3));
  const auto records = trainer.fit(task);
  ASSERT_EQ(records.size(), 12u);
  const double first = records.front().metric("one_step_mse"), last = records.back().metric("one_step_mse");
  EXPECT_LT(last, 0.3 * first) << first << " -> " << last;
  EXPECT_LT(records.back().metric("rollout_mse"), records.front().metric("rollout_mse"));
}

TEST(ParticleTask, BadDataIsRefusedClearly) {
  const auto dir = physml::test::scratch_dir();
  EXPECT_THROW_MSG(tr::ParticleTask({(dir / "none.h5").string()}, {}), "does not exist");
  const auto shortfile = damped(dir, "short.h5", 3, 8, 4);
  tr::ParticleTask task({shortfile}, {});
  ops::GNS gns(ops::GNSOptions().inputs(inputs(0)).latent(8).steps(1));
  EXPECT_THROW_MSG(task.prepare(*gns), "has 4 frames; the model's window needs at least 5");
  tr::ParticleTask three({damped(dir, "three.h5", 4, 8, 10, 3)}, {});
  EXPECT_THROW_MSG(three.prepare(*gns), "the gns model is 2-D, the trajectories are 3-D");
  EXPECT_THROW_MSG(tr::ParticleTask({damped(dir, "a.h5", 5), damped(dir, "b3.h5", 6, 8, 10, 3)}, {}), "3-D particles");
  // One file for training and validation (e.g. through an overlapping pattern), or twice.
  const auto a = (dir / "a.h5").string();
  EXPECT_THROW_MSG(tr::ParticleTask({(dir / "*.h5").string()}, {a}), "a.h5' is listed twice (training and validation files)");
  EXPECT_THROW_MSG(tr::ParticleTask({a, (dir / "." / "a.h5").string()}, {}), "is listed twice (training and training files)");
}

// ---------------------------------------------------------------------------------------------
// GIOROM's point evaluator trained on full-resolution frames (EvaluatorTask).

namespace {

/// A jittered 20 x 20 lattice in [0.2, 0.8]^2 deformed by a smooth field growing with the
/// frame: x_f = X + amp f/(T-1) (0.06 sin(pi X_1) + 0.02, 0.04 cos(pi X_0) X_0^2).
std::string deformed(const std::filesystem::path& dir, const std::string& name, std::uint64_t seed, double amp,
                     std::int64_t frames = 9, double shift = 0) {
  auto g = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto ij = torch::stack(torch::meshgrid({torch::arange(20, torch::kDouble), torch::arange(20, torch::kDouble)}, "ij"), -1)
                .reshape({-1, 2});
  auto X = 0.2 + shift + 0.6 * (ij + 0.5 + 0.3 * (torch::rand({400, 2}, g, torch::kDouble) - 0.5)) / 20.0;
  physml::io::TrajectoryInfo info;
  info.particles = 400;
  info.frames = frames;
  info.frame_dt = 1.0;
  info.fields = {{"positions", {2}}};
  info.dtype = torch::kDouble;
  const auto path = (dir / name).string();
  auto w = physml::io::TrajectoryWriter::open(path, info);
  w.write_particles({{"material", torch::zeros({400}, torch::kLong)}});
  const auto u = torch::stack({0.06 * torch::sin(M_PI * X.select(1, 1)) + 0.02,
                               0.04 * torch::cos(M_PI * X.select(1, 0)) * X.select(1, 0).pow(2)}, 1);
  for (std::int64_t k = 0; k < frames; ++k)
    w.write_frame(k, static_cast<double>(k),
                  {{"positions", X + amp * static_cast<double>(k) / static_cast<double>(std::max<std::int64_t>(frames - 1, 1)) * u}});
  w.finish();
  return path;
}

ops::PointEvaluatorOptions evaluator_options() { return ops::PointEvaluatorOptions().dim(2).grid(8).width(32).hidden(2).frequencies(2); }

}  // namespace

TEST(EvaluatorTask, SamplesAreFramesWithFixedSparsePointsAndSeededQueries) {
  const auto dir = physml::test::scratch_dir();
  const auto a = deformed(dir, "a.h5", 1, 1.0), b = deformed(dir, "b.h5", 2, 0.5);
  tr::EvaluatorTask task({a, b}, {}, tr::EvaluatorTaskOptions().sparse(30).queries(50));
  EXPECT_EQ(task.size(), 2 * 8);  // frames 1 .. 8 of each
  // Farthest-point sparse points: 30 distinct particles, the first one particle 0.
  const auto s = task.sparse_indices(0);
  ASSERT_EQ(s.size(0), 30);
  EXPECT_EQ(std::get<0>(at::_unique(s)).size(0), 30);
  EXPECT_EQ(s[0].item<std::int64_t>(), 0);
  const auto batch = task.batch({0, 9, 15}, 5);
  ASSERT_EQ(batch.input.sizes(), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(batch.input[1][0].item<std::int64_t>(), 1);  // sample 9 = trajectory 1, frame 2
  EXPECT_EQ(batch.input[1][1].item<std::int64_t>(), 2);
  ASSERT_EQ(batch.target.sizes(), (std::vector<int64_t>{3, 50}));
  EXPECT_EQ(std::get<0>(at::_unique(batch.target[0])).size(0), 50);
  EXPECT_TRUE(torch::equal(batch.target, task.batch({0, 9, 15}, 5).target));  // determined by the seed
  EXPECT_FALSE(torch::equal(batch.target, task.batch({0, 9, 15}, 6).target));
  // The loss of a sample is the position MSE of evaluate() on its queries, computed here by hand.
  torch::manual_seed(0);
  ops::PointEvaluator ev(evaluator_options());
  ev->to(torch::kDouble);
  task.prepare(*ev);
  auto one = task.batch({9}, 5);
  auto r = physml::io::TrajectoryReader::open(b);
  const auto X = r.read("positions", 0, 1)[0], x = r.read("positions", 2, 3)[0];
  const auto q = one.target[0];
  const auto pred = ev->evaluate(X.index_select(0, task.sparse_indices(1)), x.index_select(0, task.sparse_indices(1)),
                                 X.index_select(0, q));
  const double expect = (pred - x.index_select(0, q)).pow(2).sum(-1).mean().item<double>();
  EXPECT_NEAR(task.loss(*ev, one).item<double>(), expect, 1e-12 * std::max(1.0, expect));
}

TEST(EvaluatorTask, TrainingBeatsTheSplatInterpolationOnAHeldOutTrajectory) {
  const auto dir = physml::test::scratch_dir();
  std::vector<std::string> train;
  for (std::uint64_t k = 0; k < 3; ++k) train.push_back(deformed(dir, "t" + std::to_string(k) + ".h5", 10 + k, 0.6 + 0.3 * k));
  const auto valid = deformed(dir, "v.h5", 20, 0.9);  // another lattice jitter, an amplitude between
  tr::EvaluatorTask task(train, {valid}, tr::EvaluatorTaskOptions().sparse(40).queries(100));
  torch::manual_seed(3);
  auto ev = std::make_shared<ops::PointEvaluatorImpl>(evaluator_options());
  task.prepare(*ev);
  const auto untrained = [&] {
    torch::NoGradGuard ng;
    return task.validate(*ev);
  }();
  // The untrained evaluator is the splat interpolation: some error, far below no motion at all.
  EXPECT_GT(untrained.at("relative_error"), 0.02);
  EXPECT_LT(untrained.at("relative_error"), 0.8);
  tr::Trainer trainer(ev, short_run(25, 4, 3e-3));
  const auto records = trainer.fit(task);
  ASSERT_EQ(records.size(), 25u);
  const double after = records.back().metric("position_mse");
  EXPECT_LT(after, 0.5 * untrained.at("position_mse")) << untrained.at("position_mse") << " -> " << after;
}

TEST(EvaluatorTask, BadDataIsRefusedClearly) {
  const auto dir = physml::test::scratch_dir();
  const auto a = deformed(dir, "a.h5", 1, 1.0);
  EXPECT_THROW_MSG(tr::EvaluatorTask({(dir / "none.h5").string()}, {}), "EvaluatorTask: trajectory file '");
  EXPECT_THROW_MSG(tr::EvaluatorTask({(dir / "none_*.h5").string()}, {}), "EvaluatorTask: training pattern");
  EXPECT_THROW_MSG(tr::EvaluatorTask({a}, {}, tr::EvaluatorTaskOptions().sparse(401)),
                   "-evaluator_sparse 401 exceeds the 400 particles of '");
  EXPECT_THROW_MSG(tr::EvaluatorTask({deformed(dir, "one.h5", 1, 1.0, 1)}, {}),
                   "has 1 frame(s); expected the reference frame and at least one more");
  tr::EvaluatorTask task({a}, {}, tr::EvaluatorTaskOptions().sparse(20));
  ops::GNS gns(ops::GNSOptions().inputs(inputs(0)).latent(8).steps(1));
  EXPECT_THROW_MSG(task.prepare(*gns), "a model of type 'gns' is not a point evaluator (expected giorom_evaluator)");
  ops::PointEvaluator three(ops::PointEvaluatorOptions().dim(3));
  EXPECT_THROW_MSG(task.prepare(*three), "the giorom_evaluator model is 3-D, the trajectories are 2-D");
  tr::EvaluatorTask outside({deformed(dir, "out.h5", 2, 1.0, 3, 0.3)}, {}, tr::EvaluatorTaskOptions().sparse(20));
  ops::PointEvaluator ev(evaluator_options());
  EXPECT_THROW_MSG(outside.prepare(*ev), "outside the evaluator's box 0 .. 1 (set -giorom_evaluator_lower");
}
