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
  tr::Trainer trainer(gns, tr::particle_trainer_options().epochs(12).batch_size(4).verbose(false).schedule([] {
    tr::ScheduleOptions s;
    s.lr = 3e-3;
    return s;
  }()));
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
}
