// Data-parallel training (train/data_parallel.hpp, Trainer on several ranks). The DataParallel.*
// cases run on one rank (every ctest run); the DataParallelMPI.* cases need two ranks and are
// run by the ctest train.mpi.data_parallel (mpiexec -n 2 test_train); on one rank they skip.
#include "physml/core/error.hpp"
#include "physml/core/random.hpp"
#include "physml/io/dataset.hpp"
#include "physml/operators/fno.hpp"
#include "physml/operators/mgno.hpp"
#include "physml/train/data_parallel.hpp"
#include "physml/train/dataset.hpp"
#include "physml/train/trainer.hpp"
#include "model_compare.hpp"
#include "test_util.hpp"

#include <torch/torch.h>

#include <filesystem>
#include <set>

using namespace physml;
using physml::test::world_rank;
using physml::test::max_relative_difference;
using physml::test::world_size;
using namespace physml::train;

namespace {

/// A scratch directory of this test and rank (the ranks of one test must not share one).
std::filesystem::path rank_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::filesystem::path p = std::filesystem::path(PHYSML_TEST_DATA_DIR) /
                            (std::string(info->test_suite_name()) + "." + info->name() + ".rank" +
                             std::to_string(world_rank()));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p;
}

/// A tiny operator-learning data set (as test_trainer.cpp's): u = 2 (3x3 mean of a) + 0.5.
std::string make_dataset(const std::filesystem::path& dir, int ntrain, int nvalid, int n = 16) {
  const auto path = (dir / "tiny.h5").string();
  io::DatasetInfo info;
  info.generator = "synthetic";
  info.seed = 3;
  info.split_sizes = {{"train", ntrain}, {"valid", nvalid}};
  info.input_shape = {1, n, n};
  info.output_shape = {1, n, n};
  info.dtype = torch::kFloat;
  auto w = io::DatasetWriter::open(path, info);
  auto g = at::make_generator<at::CPUGeneratorImpl>(3);
  auto kernel = torch::full({1, 1, 3, 3}, 1.0 / 9.0);
  for (const auto& [split, count] : info.split_sizes)
    for (std::int64_t i = 0; i < count; ++i) {
      auto a = torch::randn({1, 1, n, n}, g);
      auto u = 2.0 * torch::conv2d(a, kernel, {}, 1, 1) + 0.5;
      w.write_sample(split, i, a[0], u[0]);
    }
  w.finish();
  return path;
}

std::shared_ptr<operators::Model> tiny_mgno(std::uint64_t seed) {
  torch::manual_seed(seed);
  return std::make_shared<operators::MgNOImpl>(operators::MgNOOptions(1, 1).channels(4).levels(3).layers(1));
}

std::shared_ptr<operators::Model> tiny_fno(std::uint64_t seed) {
  torch::manual_seed(seed);
  return std::make_shared<operators::FNOImpl>(operators::FNOOptions(1, 1).modes({2, 2}).width(4).layers(2));
}

TrainerOptions tiny_options(std::int64_t batch, const std::string& reduction) {
  ScheduleOptions s;
  s.type = "onecycle";
  s.lr = 5e-3;
  s.pct_start = 0.3;
  s.div_factor = 2;
  s.final_div_factor = 100;
  return TrainerOptions().epochs(2).batch_size(batch).schedule(s).seed(11).verbose(false).loss("l2")
      .loss_reduction(reduction);
}

/// The same double on every rank of PETSC_COMM_WORLD.
bool same_on_every_rank(double v) {
  double lo = v, hi = v;
  MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_DOUBLE, MPI_MIN, PETSC_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_DOUBLE, MPI_MAX, PETSC_COMM_WORLD);
  return lo == hi;
}

}  // namespace

TEST(DataParallel, RankSliceSplitsTheGlobalBatchInOrder) {
  EXPECT_EQ(rank_slice(7, 0, 2), (std::pair<std::int64_t, std::int64_t>(0, 4)));
  EXPECT_EQ(rank_slice(7, 1, 2), (std::pair<std::int64_t, std::int64_t>(4, 7)));
  EXPECT_EQ(rank_slice(1, 0, 2), (std::pair<std::int64_t, std::int64_t>(0, 1)));
  EXPECT_EQ(rank_slice(1, 1, 2), (std::pair<std::int64_t, std::int64_t>(1, 1)));  // no samples
  std::int64_t next = 0;
  for (int r = 0; r < 3; ++r) {  // 5 on 3 ranks: 2, 2, 1
    const auto [first, end] = rank_slice(5, r, 3);
    EXPECT_EQ(first, next);
    EXPECT_EQ(end - first, r < 2 ? 2 : 1);
    next = end;
  }
  EXPECT_EQ(next, 5);
  EXPECT_THROW_MSG(rank_slice(4, 2, 2), "rank 2 of 2 ranks");
}

TEST(DataParallel, OneRankMakesNoMPICall) {
  DataParallel dp(PETSC_COMM_SELF, 3);
  EXPECT_FALSE(dp.distributed());
  EXPECT_EQ(dp.comm(), MPI_COMM_NULL);
  auto p = torch::ones({4}).requires_grad_();
  p.mutable_grad() = torch::full({4}, 2.0);
  dp.allreduce_gradients({p}, {true}, 0.5);
  EXPECT_TRUE(torch::equal(p.grad(), torch::ones({4})));
  std::vector<double> v{1.5};
  dp.allreduce_sum(v);
  EXPECT_EQ(v[0], 1.5);
  EXPECT_EQ(dp.allreduce_calls(), 0);
  // A Trainer on one rank: no reduction at all in fit.
  auto dir = rank_dir();
  GridDataset train(make_dataset(dir, 4, 0), "train");
  Trainer t(tiny_mgno(1), tiny_options(2, "mean").epochs(1), PETSC_COMM_SELF);
  t.fit(train);
  EXPECT_EQ(t.ranks(), 1);
  EXPECT_EQ(t.data_parallel().allreduce_calls(), 0);
}

TEST(DataParallelMPI, BucketedAllreduceSumsWeightedGradients) {
  REQUIRE_TWO_RANKS("train.mpi.data_parallel");
  const int r = world_rank();
  DataParallel dp(PETSC_COMM_WORLD, /*bucket_elements=*/5);
  ASSERT_TRUE(dp.distributed());
  EXPECT_NE(dp.comm(), PETSC_COMM_WORLD);  // a duplicate
  // float sizes 2, 2, 1 | 7 | 2 (buckets of <= 5 values; a larger tensor alone), one double,
  // one float gradient of 2 values only rank 0 has (bucketed with the last 2), one no rank has.
  std::vector<at::Tensor> p;
  for (std::int64_t n : {2, 2, 1, 7, 2}) p.push_back(torch::zeros({n}).requires_grad_());
  p.push_back(torch::zeros({3}, torch::kDouble).requires_grad_());
  p.push_back(torch::zeros({1, 2}).requires_grad_());  // rank 0 only
  p.push_back(torch::zeros({2}).requires_grad_());     // nobody
  for (std::size_t i = 0; i < 7; ++i) {
    if (i == 6 && r == 1) continue;
    p[i].mutable_grad() = (r + 1) * (torch::arange(p[i].numel(), p[i].options()).reshape(p[i].sizes()) + 1 + static_cast<double>(i));
  }
  std::vector<double> flags;
  for (const auto& t : p) flags.push_back(t.grad().defined() ? 1.0 : 0.0);
  dp.allreduce_sum(flags);
  std::vector<bool> defined;
  for (double f : flags) defined.push_back(f > 0);
  EXPECT_EQ(defined, (std::vector<bool>{true, true, true, true, true, true, true, false}));
  const std::int64_t before = dp.allreduce_calls();
  // Weights 1/4 (rank 0) and 3/4 (rank 1): the sum is (1/4 + 2 * 3/4) x = 1.75 x.
  dp.allreduce_gradients(p, defined, r == 0 ? 0.25 : 0.75);
  EXPECT_EQ(dp.allreduce_calls() - before, 4);  // {2, 2, 1}, {7}, {2, 2x2 of rank 0}, {double}
  for (std::size_t i = 0; i < 7; ++i) {
    ASSERT_TRUE(p[i].grad().defined()) << i;
    const auto x = torch::arange(p[i].numel(), p[i].options()).reshape(p[i].sizes()) + 1 + static_cast<double>(i);
    const double w = i == 6 ? 0.25 : 1.75;
    EXPECT_TRUE(torch::allclose(p[i].grad(), w * x, 1e-6, 0)) << i << ": " << p[i].grad();
  }
  EXPECT_FALSE(p[7].grad().defined());
}

TEST(DataParallel, OverlappedReductionIsInactiveOnOneRank) {
  DataParallel dp(PETSC_COMM_SELF);
  std::vector<at::Tensor> p{torch::zeros({3}).requires_grad_()};
  OverlappedReduction red(dp, p);
  EXPECT_FALSE(red.active());
  EXPECT_THROW_MSG(red.begin(1.0), "inactive");
  (p[0] * p[0]).sum().backward();  // no hook was registered
  EXPECT_EQ(red.posted_in_backward(), 0u);
  EXPECT_EQ(dp.allreduce_calls(), 0);
}

namespace {

/// z, u, W1, b1, W2, b2 (float32) and d (float64): buckets of <= 8 values in reverse order are
/// {d}, {b2}, {W2}, {b1}, {W1}, {u, z}. W1 .. d get gradients on both ranks, u on rank 0 only,
/// z on none.
std::vector<at::Tensor> overlap_parameters() {
  torch::manual_seed(5);  // the same values on both ranks
  std::vector<at::Tensor> p{torch::randn({2}), torch::randn({2}),    torch::randn({4, 3}), torch::randn({4}),
                            torch::randn({2, 4}), torch::randn({2}), torch::randn({3}, torch::kDouble)};
  for (auto& t : p) t.requires_grad_();
  return p;
}

at::Tensor overlap_loss(const std::vector<at::Tensor>& p, int rank) {
  const auto x = torch::arange(3, torch::kFloat) - 1.0 + rank;
  const auto h = torch::tanh(torch::mv(p[2], x) + p[3]);
  const auto y = torch::mv(p[4], h) + p[5];
  auto loss = (rank + 1.0) * y.pow(2).sum() + (rank + 1.0) * p[6].pow(2).sum().to(torch::kFloat);
  if (rank == 0) loss = loss + p[1].pow(3).sum();
  return loss;
}

}  // namespace

TEST(DataParallelMPI, OverlappedReductionSumsBucketsWhileBackwardRuns) {
  REQUIRE_TWO_RANKS("train.mpi.data_parallel");
  const int r = world_rank();
  const double scale = r == 0 ? 0.25 : 0.75;
  DataParallel dp(PETSC_COMM_WORLD, /*bucket_elements=*/8);
  // The reference: gradients summed after backward.
  auto ref = overlap_parameters();
  overlap_loss(ref, r).backward();
  std::vector<double> flags;
  for (const auto& t : ref) flags.push_back(t.grad().defined() ? 1.0 : 0.0);
  dp.allreduce_sum(flags);
  std::vector<bool> defined;
  for (double f : flags) defined.push_back(f > 0);
  EXPECT_EQ(defined, (std::vector<bool>{false, true, true, true, true, true, true}));
  dp.allreduce_gradients(ref, defined, scale);

  auto p = overlap_parameters();
  OverlappedReduction red(dp, p);
  ASSERT_TRUE(red.active());
  EXPECT_EQ(red.buckets(), 6u);
  for (int step = 0; step < 2; ++step) {  // the second step starts from the zeroed gradients
    for (auto& t : p)
      if (t.grad().defined()) t.mutable_grad().zero_();
    const auto before = dp.allreduce_calls();
    red.begin(scale);
    overlap_loss(p, r).backward();
    // W1 .. d are accumulated on every rank: their five buckets left during backward; {u, z}
    // waits for z, which backward never reaches, and leaves in finish().
    EXPECT_EQ(red.posted_in_backward(), 5u) << "step " << step;
    EXPECT_EQ(dp.allreduce_calls() - before, 5) << "step " << step;
    red.finish();
    EXPECT_EQ(dp.allreduce_calls() - before, 6);
    EXPECT_FALSE(red.late());
    red.apply(defined);
    EXPECT_FALSE(p[0].grad().defined());
    for (std::size_t i = 1; i < p.size(); ++i) {
      ASSERT_TRUE(p[i].grad().defined()) << i;
      EXPECT_TRUE(torch::equal(p[i].grad(), ref[i].grad())) << "parameter " << i << ", step " << step << ": "
                                                            << p[i].grad() << " against " << ref[i].grad();
    }
  }
  // Two backward passes in one step: the second accumulates into gradients whose buckets have
  // left, which late() reports (Trainer then reduces the gradients as they are).
  red.begin(scale);
  auto loss = overlap_loss(p, r);
  loss.backward({}, /*retain_graph=*/true);
  EXPECT_FALSE(red.late());
  loss.backward();
  EXPECT_TRUE(red.late());
  red.finish();
  EXPECT_THROW_MSG(red.finish(), "without begin");
  // A parameter that is not a leaf requiring grad makes it inactive (Trainer reduces after backward).
  std::vector<at::Tensor> frozen{torch::zeros({2})};
  EXPECT_FALSE(OverlappedReduction(dp, frozen).active());
}

TEST(DataParallelMPI, BroadcastCopiesRankZero) {
  REQUIRE_TWO_RANKS("train.mpi.data_parallel");
  const int r = world_rank();
  DataParallel dp(PETSC_COMM_WORLD);
  std::vector<at::Tensor> t{torch::full({3}, 1.0f + r), torch::full({2, 2}, 2.0 + r, torch::kDouble),
                            torch::full({2}, 5 + r, torch::kLong), torch::full({2}, r == 0, torch::kBool)};
  dp.broadcast(t);
  EXPECT_TRUE(torch::equal(t[0], torch::full({3}, 1.0f)));
  EXPECT_TRUE(torch::equal(t[1], torch::full({2, 2}, 2.0, torch::kDouble)));
  EXPECT_TRUE(torch::equal(t[2], torch::full({2}, 5, torch::kLong)));
  EXPECT_TRUE(torch::equal(t[3], torch::full({2}, true, torch::kBool)));
}

/// Batch B on 2 ranks = batch 2B on 1 rank, to rounding (7 samples, B = 3: the last global
/// batch has 1 sample, rank 1 none), and not the same as batch B on 1 rank.
class DataParallelMPIReduction : public ::testing::TestWithParam<std::string> {};

TEST_P(DataParallelMPIReduction, TwoRanksTrainAsOneRankWithTheDoubledBatch) {
  REQUIRE_TWO_RANKS("train.mpi.data_parallel");
  const int r = world_rank();
  auto dir = rank_dir();
  const auto path = make_dataset(dir, 7, 3);
  GridDataset train(path, "train"), valid(path, "valid");
  // Rank 1 starts from other weights: the broadcast from rank 0 must fix that.
  auto two = tiny_mgno(100 + r);
  Trainer t2(two, tiny_options(3, GetParam()));
  EXPECT_EQ(t2.ranks(), 2);
  auto rec2 = t2.fit(train, &valid);
  auto one = tiny_mgno(100);
  Trainer t1(one, tiny_options(6, GetParam()), PETSC_COMM_SELF);
  auto rec1 = t1.fit(train, &valid);
  auto half = tiny_mgno(100);
  Trainer th(half, tiny_options(3, GetParam()), PETSC_COMM_SELF);
  th.fit(train, &valid);

  const double same = max_relative_difference(*two, *one), other = max_relative_difference(*two, *half);
  EXPECT_LT(same, 1e-5) << "2 ranks x 3 against 1 rank x 6";
  EXPECT_GT(other, 1e-3) << "2 ranks x 3 against 1 rank x 3 (the test must be able to fail)";
  ASSERT_EQ(rec2.size(), 2u);
  for (std::size_t e = 0; e < 2; ++e) {
    EXPECT_NEAR(rec2[e].train_loss, rec1[e].train_loss, 1e-5 * rec1[e].train_loss);
    EXPECT_NEAR(rec2[e].metric("valid_l2"), rec1[e].metric("valid_l2"), 1e-5 * rec1[e].metric("valid_l2"));
    EXPECT_NEAR(rec2[e].metric("valid_h1"), rec1[e].metric("valid_h1"), 1e-5 * rec1[e].metric("valid_h1"));
    EXPECT_TRUE(same_on_every_rank(rec2[e].train_loss));
    EXPECT_TRUE(same_on_every_rank(rec2[e].metric("valid_l2")));
  }
  EXPECT_EQ(t2.best_epoch(), t1.best_epoch());
  for (const auto& p : two->parameters()) EXPECT_TRUE(same_on_every_rank(p.detach().to(torch::kDouble).sum().item<double>()));
  // Bucketed: per step one reduction of the scalars and one bucket (every parameter is float32 and
  // the model is small), per epoch one of the validation metrics and one of the parameter check:
  // 2 epochs x (2 steps x 2 + 2); one call per parameter tensor would be many more.
  EXPECT_GT(two->parameters().size(), 10u);
  EXPECT_EQ(t2.data_parallel().allreduce_calls(), 12);
  EXPECT_EQ(t1.data_parallel().allreduce_calls(), 0);

  // The sums do not depend on when the buckets leave or how big they are: gradients reduced while
  // backward runs (overlap_reduction), also in buckets of 50 values, give the same model bit for bit.
  auto after = tiny_mgno(100 + r);
  Trainer ta(after, tiny_options(3, GetParam()).overlap_reduction(true));
  ta.fit(train, &valid);
  auto small = tiny_mgno(100 + r);
  Trainer ts(small, tiny_options(3, GetParam()).overlap_reduction(true).bucket_elements(50));
  ts.fit(train, &valid);
  EXPECT_EQ(ta.data_parallel().allreduce_calls(), 12);
  EXPECT_GT(ts.data_parallel().allreduce_calls(), 12 + 4 * 4);  // at least 5 more buckets per step
  const auto pa = after->parameters(), ps = small->parameters(), p2 = two->parameters();
  for (std::size_t i = 0; i < p2.size(); ++i) {
    EXPECT_TRUE(torch::equal(pa[i], p2[i])) << "parameter " << i << ": overlapped against after backward";
    EXPECT_TRUE(torch::equal(ps[i], p2[i])) << "parameter " << i << ": overlapped in buckets of 50 values";
  }
}

INSTANTIATE_TEST_SUITE_P(Reductions, DataParallelMPIReduction, ::testing::Values("mean", "sum"));

namespace {

/// y = 3 x on six samples; records the indices and seeds of its batches; rank `fail_rank`
/// throws in the loss of batch `fail_batch`.
class RecordingTask : public TrainingTask {
public:
  int fail_rank = -1, fail_batch = -1;
  std::int64_t size() const override { return 6; }
  Batch batch(const std::vector<std::int64_t>& idx, std::uint64_t seed) const override {
    seeds.push_back(seed);
    indices.insert(indices.end(), idx.begin(), idx.end());
    auto x = torch::arange(6, torch::kFloat).index_select(0, torch::tensor(idx)).reshape({-1, 1, 1, 1}).expand({-1, 1, 4, 4});
    return {x.contiguous(), 3 * x.contiguous()};
  }
  at::Tensor loss(operators::Model& model, const Batch& b) override {
    PHYSML_CHECK(!(world_rank() == fail_rank && static_cast<int>(seeds.size()) == fail_batch), "injected failure");
    return torch::mse_loss(model.forward(b.input), b.target);
  }
  mutable std::vector<std::uint64_t> seeds;
  mutable std::vector<std::int64_t> indices;
};

}  // namespace

TEST(DataParallelMPI, RanksTrainOnDisjointSamplesWithTheirOwnSeeds) {
  REQUIRE_TWO_RANKS("train.mpi.data_parallel");
  RecordingTask task;
  Trainer t(tiny_fno(5), TrainerOptions().epochs(1).batch_size(1).verbose(false).seed(4));
  t.fit(task);  // 6 samples, global batches of 2: 3 steps, one sample per rank each
  ASSERT_EQ(task.indices.size(), 3u);
  // Every sample once over both ranks; the seeds of the two ranks differ (noise is not repeated).
  std::vector<double> mine(6, 0.0);
  for (auto i : task.indices) mine[static_cast<std::size_t>(i)] += 1;
  MPI_Allreduce(MPI_IN_PLACE, mine.data(), 6, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD);
  EXPECT_EQ(mine, std::vector<double>(6, 1.0));
  std::vector<std::uint64_t> other(3);
  MPI_Sendrecv(task.seeds.data(), 3, MPI_UINT64_T, 1 - world_rank(), 7, other.data(), 3, MPI_UINT64_T,
               1 - world_rank(), 7, PETSC_COMM_WORLD, MPI_STATUS_IGNORE);
  for (std::size_t k = 0; k < 3; ++k) EXPECT_NE(task.seeds[k], other[k]) << k;
  // Rank 0 draws with the seeds of one rank (derive_seed(derive_seed(seed, epoch), batch)).
  if (world_rank() == 0) {
    for (std::size_t k = 0; k < 3; ++k) EXPECT_EQ(task.seeds[k], derive_seed(derive_seed(4, 0), k));
  }
}

TEST(DataParallelMPI, AFailureOnOneRankStopsEveryRank) {
  REQUIRE_TWO_RANKS("train.mpi.data_parallel");
  RecordingTask task;
  task.fail_rank = 1;
  task.fail_batch = 2;  // the second batch of rank 1
  Trainer t(tiny_fno(5), TrainerOptions().epochs(1).batch_size(1).verbose(false));
  if (world_rank() == 1) {
    EXPECT_THROW_MSG(t.fit(task), "injected failure");
  } else {
    EXPECT_THROW_MSG(t.fit(task), "another rank failed at epoch 1, batch 2");
  }
  EXPECT_EQ(t.epoch(), 0);
}
