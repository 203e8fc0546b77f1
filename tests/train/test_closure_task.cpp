#include "test_util.hpp"

#include "physml/core/error.hpp"
#include "physml/operators/registry.hpp"
#include "physml/simulators/coarse_burgers.hpp"
#include "physml/train/closure_task.hpp"

#include <torch/torch.h>

#include <cmath>

using namespace physml;
using namespace physml::simulators;
using namespace physml::train;

namespace {

/// c(u) = θ·u: a one-parameter closure family that contains the truth used below.
struct LinearClosure : operators::Model {
  LinearClosure() : operators::Model("LinearClosure") {
    theta = register_parameter("theta", torch::zeros({}, torch::kDouble));
  }
  at::Tensor forward(const at::Tensor& x) override { return theta * x; }
  std::string type() const override { return "linear_closure_test"; }
  operators::ModelConfig config() const override { return {}; }
  at::Tensor theta;
};

/// Trajectories of the coarse solver itself with the closure c(u) = −κ u: the "filtered fine"
/// data a perfect closure reproduces exactly.
FilteredBurgers synthetic(double kappa, std::int64_t trajectories, std::uint64_t seed) {
  BurgersOptions o;
  o.resolution = 32;
  o.viscosity = 0.02;
  o.forcing_amplitude = 0.5;
  o.forcing_seed = seed;
  CoarseBurgers solver(o, 0.01);
  FilteredBurgers f;
  std::vector<at::Tensor> traj;
  for (std::int64_t s = 0; s < trajectories; ++s) {
    auto x = torch::arange(32, torch::kDouble) / 32.0;
    auto u0 = (0.5 + 0.1 * static_cast<double>(s)) * torch::sin(2 * M_PI * x + static_cast<double>(s));
    BurgersClosure truth = [kappa](const at::Tensor& u, double) { return -kappa * u; };
    auto rest = solver.rollout(u0.unsqueeze(0), 0.0, 60, 5, truth)[0];
    traj.push_back(torch::cat({u0.unsqueeze(0), rest}));
    f.options.push_back(o);
  }
  f.coarse = torch::stack(traj);
  f.subgrid = torch::zeros_like(f.coarse);
  for (int j = 0; j <= 12; ++j) f.times.push_back(0.05 * j);
  return f;
}

}  // namespace

TEST(ClosureTask, APosterioriTrainingRecoversAKnownClosure) {
  auto train = synthetic(2.0, 1, 3), valid = synthetic(2.0, 1, 4);
  ClosureTask task(train, &valid, ClosureTaskOptions().window(3).substeps(5));
  EXPECT_EQ(task.size(), 12 - 3 + 1);
  EXPECT_NEAR(task.dt(), 0.01, 1e-15);
  auto model = std::make_shared<LinearClosure>();
  double loss0 = 0;
  // the exact closure has zero loss (the data are the solver's own trajectories)
  {
    torch::NoGradGuard g;
    model->theta.fill_(-2.0);
    EXPECT_LT(task.validate(*model).at("valid_loss"), 1e-24);
    model->theta.fill_(0.0);
    loss0 = task.validate(*model).at("valid_loss");
    EXPECT_GT(loss0, 1e-6);
  }
  // ... and is a stationary point of the training loss, whose gradient points towards it
  auto grad_at = [&](double th) {
    {
      torch::NoGradGuard g;
      model->theta.fill_(th);
    }
    model->zero_grad();
    task.loss(*model, task.batch({0, 3, 7}, 0)).backward();
    return model->theta.grad().item<double>();
  };
  EXPECT_LT(std::abs(grad_at(-2.0)), 1e-10);
  EXPECT_GT(grad_at(-1.0), 0.0);  // descent lowers θ from -1 ...
  EXPECT_LT(grad_at(-3.0), 0.0);  // ... and raises it from -3
  {
    torch::NoGradGuard g;
    model->theta.fill_(0.0);
  }
  ScheduleOptions s;
  s.type = "step";  // Adam's steps shrink with the lr: 0.3 halved every 4 epochs
  s.lr = 0.3;
  s.step_size = 4;
  s.gamma = 0.5;
  Trainer t(model, TrainerOptions().epochs(16).batch_size(5).weight_decay(0).schedule(s).seed(1).verbose(false));
  auto rec = t.fit(task);
  std::printf("  theta after training %.6f (truth -2), valid_loss %.3e\n", model->theta.item<double>(),
              rec.back().metric("valid_loss"));
  // Adam's step shrinks once its second moment remembers the large early gradients, so 16
  // epochs come close rather than exactly (from 0: |θ + 2| = 2 before training).
  EXPECT_NEAR(model->theta.item<double>(), -2.0, 0.4);
  EXPECT_LT(rec.back().metric("valid_loss"), 0.1 * loss0) << "on trajectories of another forcing";
}

TEST(ClosureTask, RefusesMismatchedData) {
  auto train = synthetic(1.0, 1, 3);
  EXPECT_EQ(ClosureTask(train, nullptr, ClosureTaskOptions().window(12)).size(), 1);
  EXPECT_THROW_MSG(ClosureTask(train, nullptr, ClosureTaskOptions().window(13)),
                   "have 13 snapshots, a window of 13 intervals needs 14");
  auto uneven = train;
  uneven.times[5] += 0.01;
  EXPECT_THROW_MSG(ClosureTask(uneven, nullptr), "snapshots are not equally spaced");
  auto coarse = train;
  coarse.coarse = coarse.coarse.narrow(2, 0, 16);
  EXPECT_THROW_MSG(ClosureTask(train, &coarse), "validation grid 16 differs from the training grid 32");
  struct Halves : LinearClosure {
    at::Tensor forward(const at::Tensor& x) override { return x.narrow(-1, 0, x.size(-1) / 2); }
  };
  ClosureTask task(train, nullptr, ClosureTaskOptions().window(2));
  Halves h;
  EXPECT_THROW_MSG(task.prepare(h), "a closure must return [1, 1, 32]");
}

// Data-parallel a-posteriori closure training (docs/parallel.md): 2 ranks with batch 2 each
// make the steps of one rank with batch 4, to rounding; batch 2 on one rank is another
// training. Run by the ctest train.mpi.data_parallel (mpiexec -n 2, filter *DataParallel*).
TEST(ClosureTaskDataParallelMPI, TwoRanksTrainAsOneRankWithTheDoubledBatch) {
  REQUIRE_TWO_RANKS("train.mpi.data_parallel");
  const int rank = test::world_rank();
  auto train = synthetic(2.0, 1, 3), valid = synthetic(2.0, 1, 4);
  ClosureTask task(train, &valid, ClosureTaskOptions().window(3).substeps(5));  // 10 windows
  ScheduleOptions s;
  s.type = "step";
  s.lr = 0.3;
  s.step_size = 4;
  s.gamma = 0.5;
  auto options = [&](std::int64_t batch) {
    return TrainerOptions().epochs(3).batch_size(batch).weight_decay(0).schedule(s).seed(1).verbose(false);
  };
  auto start = [](double theta) {
    auto m = std::make_shared<LinearClosure>();
    torch::NoGradGuard g;
    m->theta.fill_(theta);
    return m;
  };
  auto two = start(rank == 0 ? 0.0 : 1.0), one = start(0.0), half = start(0.0);  // the broadcast fixes rank 1
  auto r2 = Trainer(two, options(2)).fit(task);
  auto r1 = Trainer(one, options(4), PETSC_COMM_SELF).fit(task);
  Trainer(half, options(2), PETSC_COMM_SELF).fit(task);
  const double t2 = two->theta.item<double>(), t1 = one->theta.item<double>(), th = half->theta.item<double>();
  EXPECT_NEAR(t2, t1, 1e-9 * std::abs(t1)) << "2 ranks x 2 against 1 rank x 4";
  EXPECT_GT(std::abs(t2 - th), 1e-3) << "2 ranks x 2 against 1 rank x 2: " << t2 << " vs " << th;
  ASSERT_EQ(r2.size(), 3u);
  for (std::size_t e = 0; e < 3; ++e) {
    EXPECT_NEAR(r2[e].train_loss, r1[e].train_loss, 1e-9 * std::abs(r1[e].train_loss));
    EXPECT_NEAR(r2[e].metric("valid_loss"), r1[e].metric("valid_loss"), 1e-9 * std::abs(r1[e].metric("valid_loss")));
  }
}
