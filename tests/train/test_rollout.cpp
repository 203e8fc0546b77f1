// One-step snapshot pairs of trajectory data, autoregressive rollout and its metrics, and
// prediction figures of 1-D data.
#include "physml/core/error.hpp"
#include "physml/io/dataset.hpp"
#include "physml/operators/fno.hpp"
#include "physml/operators/mgno.hpp"
#include "physml/train/dataset.hpp"
#include "physml/train/figures.hpp"
#include "physml/operators/normalized_model.hpp"
#include "physml/train/trainer.hpp"
#include "test_util.hpp"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>

using namespace physml;
using namespace physml::train;
using physml::operators::NormalizedModel;
using physml::operators::Normalizer;

namespace {

/// Trajectory data in the layout of `physml generate navier-stokes`: inputs w(t_0) [1, n, n],
/// outputs w(t_1..t_T) [T, n, n]. Sample i, frame k is field(i) * scale^k where field(i) is
/// the constant 100 i + 1 plus a fixed ramp (so frames are told apart by value).
std::string make_trajectories(const std::filesystem::path& dir, std::int64_t n, std::int64_t T, std::int64_t count,
                              double scale) {
  const auto path = (dir / "traj.h5").string();
  io::DatasetInfo info;
  info.generator = "synthetic-trajectories";
  info.split_sizes = {{"test", count}};
  info.input_shape = {1, n, n};
  info.output_shape = {T, n, n};
  info.dtype = torch::kDouble;
  auto w = io::DatasetWriter::open(path, info);
  for (std::int64_t i = 0; i < count; ++i) {
    auto field = torch::linspace(0.0, 1.0, n * n, torch::kDouble).reshape({1, n, n}) + (100.0 * i + 1.0);
    std::vector<at::Tensor> frames;
    for (std::int64_t k = 1; k <= T; ++k) frames.push_back(field * std::pow(scale, static_cast<double>(k)));
    w.write_sample("test", i, field, torch::cat(frames, 0));
  }
  w.finish();
  return path;
}

/// The one-step model x -> factor * x (no parameters).
class Scale : public operators::Model {
public:
  explicit Scale(double factor) : operators::Model("Scale"), factor_(factor) {}
  at::Tensor forward(const at::Tensor& x) override { return factor_ * x; }
  std::string type() const override { return "scale"; }
  operators::ModelConfig config() const override { return {}; }

private:
  double factor_;
};

}  // namespace

TEST(GridDataset, SnapshotPairsAreConsecutiveFramesOfEachSample) {
  auto dir = test::scratch_dir();
  auto path = make_trajectories(dir, 4, 5, 3, 2.0);
  for (bool cache : {true, false}) {
    GridDatasetOptions o;
    o.snapshot_pairs = 3;  // first 4 of the 6 frames
    o.cache = cache;
    GridDataset d(path, "test", o);
    ASSERT_EQ(d.size(), 9);
    EXPECT_EQ(d.input_shape(), (std::vector<std::int64_t>{1, 4, 4}));
    EXPECT_EQ(d.output_shape(), (std::vector<std::int64_t>{1, 4, 4}));
    auto [x, y] = d.range(2, 7);  // crosses two sample boundaries
    ASSERT_EQ(x.sizes(), (std::vector<std::int64_t>{5, 1, 4, 4}));
    for (std::int64_t j = 0; j < 5; ++j) {
      const auto item = 2 + j, i = item / 3, k = item % 3;
      const double base = 100.0 * static_cast<double>(i) + 1.0;  // value of frame 0 at the first grid point
      EXPECT_DOUBLE_EQ(x[j][0][0][0].item<double>(), base * std::pow(2.0, k)) << "item " << item;
      EXPECT_DOUBLE_EQ(y[j][0][0][0].item<double>(), base * std::pow(2.0, k + 1)) << "item " << item;
    }
    auto [bx, by] = d.batch({8, 0});
    EXPECT_DOUBLE_EQ(bx[0][0][0][0].item<double>(), 201.0 * 4.0);
    EXPECT_DOUBLE_EQ(by[0][0][0][0].item<double>(), 201.0 * 8.0);
    EXPECT_DOUBLE_EQ(bx[1][0][0][0].item<double>(), 1.0);
    EXPECT_DOUBLE_EQ(by[1][0][0][0].item<double>(), 2.0);
  }
  GridDatasetOptions strided;
  strided.snapshot_pairs = 5;
  strided.stride = 2;
  GridDataset s(path, "test", strided);
  EXPECT_EQ(s.size(), 15);
  EXPECT_EQ(s.input_shape(), (std::vector<std::int64_t>{1, 2, 2}));
  EXPECT_EQ(s.all().second.sizes(), (std::vector<std::int64_t>{15, 1, 2, 2}));
}

TEST(GridDataset, SnapshotPairsRejectNonTrajectoryDataAndTooManySteps) {
  auto dir = test::scratch_dir();
  auto path = make_trajectories(dir, 4, 5, 2, 2.0);
  GridDatasetOptions o;
  o.snapshot_pairs = 6;
  EXPECT_THROW_MSG(GridDataset(path, "test", o), "snapshot_pairs must be in [1, 5]");
  // Input/output pairs whose output grid differs from the input grid are no trajectory.
  const auto other = (dir / "pairs.h5").string();
  io::DatasetInfo info;
  info.generator = "synthetic";
  info.split_sizes = {{"test", 1}};
  info.input_shape = {1, 4, 4};
  info.output_shape = {2, 4, 3};
  auto w = io::DatasetWriter::open(other, info);
  w.write_sample("test", 0, torch::zeros({1, 4, 4}), torch::zeros({2, 4, 3}));
  w.finish();
  o.snapshot_pairs = 1;
  EXPECT_THROW_MSG(GridDataset(other, "test", o), "snapshot pairs need trajectory data");
}

TEST(Rollout, EqualsApplyingTheModelStepByStep) {
  torch::manual_seed(5);
  auto inner = std::make_shared<operators::MgNOImpl>(
      operators::MgNOOptions(1, 1).channels(4).levels(3).layers(1).padding_mode("circular"));
  Normalizer xn("scalar"), yn("scalar");
  xn->fit(torch::randn({4, 1, 16, 16}));
  yn->fit(2.0 * torch::randn({4, 1, 16, 16}));
  NormalizedModel model(inner, xn, yn);
  auto x0 = torch::randn({3, 1, 16, 16});
  auto r = rollout(model, x0, 10);
  ASSERT_EQ(r.sizes(), (std::vector<std::int64_t>{3, 10, 16, 16}));
  torch::NoGradGuard guard;
  model.eval();
  auto x = x0;
  for (std::int64_t k = 0; k < 10; ++k) {
    x = model.forward(x);
    EXPECT_TRUE(torch::equal(r.slice(1, k, k + 1), x)) << "step " << k + 1;
  }
  // A model that changes the channel count cannot be rolled out.
  auto two = std::make_shared<operators::MgNOImpl>(operators::MgNOOptions(1, 2).channels(2).levels(2).layers(1));
  EXPECT_THROW_MSG(rollout(*two, x0, 2), "a one-step model must keep the shape");
}

TEST(Rollout, MetricsMatchClosedForm) {
  auto dir = test::scratch_dir();
  const std::int64_t T = 4;
  auto path = make_trajectories(dir, 4, T, 3, 2.0);  // w_k = 2^k w_0
  GridDataset data(path, "test");
  // The exact one-step map: zero error at every step.
  Scale exact(2.0);
  auto m = evaluate_rollout(exact, data, T, 2);
  EXPECT_EQ(m.samples, 3);
  ASSERT_EQ(m.step_l2.size(), static_cast<std::size_t>(T));
  for (double e : m.step_l2) EXPECT_NEAR(e, 0.0, 1e-12);
  EXPECT_NEAR(m.full_mean, 0.0, 1e-12);
  // The identity predicts w_0 at every step: step k+1 error |2^(k+1) - 1| / 2^(k+1) whatever the
  // field, whole-rollout error sqrt(sum_k (2^k - 1)^2 / sum_k 4^k), k = 1..T, for every sample.
  Scale identity(1.0);
  auto e = evaluate_rollout(identity, data, 3, 2);
  ASSERT_EQ(e.step_l2.size(), 3u);
  double num = 0, den = 0;
  for (int k = 1; k <= 3; ++k) {
    EXPECT_NEAR(e.step_l2[static_cast<std::size_t>(k - 1)], 1.0 - std::pow(0.5, k), 1e-12) << "step " << k;
    num += std::pow(std::pow(2.0, k) - 1.0, 2);
    den += std::pow(4.0, k);
  }
  EXPECT_NEAR(e.full_mean, std::sqrt(num / den), 1e-12);
  EXPECT_NEAR(e.full_max, std::sqrt(num / den), 1e-12);
  EXPECT_NEAR(e.full_std, 0.0, 1e-12);
  EXPECT_THROW_MSG(evaluate_rollout(identity, data, T + 1), "needs trajectory data with at least 5 output channels");
  // Figures of the final step.
  auto files = write_rollout_figures(identity, data, 3, (dir / "fig").string(), 2);
  ASSERT_EQ(files.size(), 4u);
  for (const auto& f : files) EXPECT_GT(std::filesystem::file_size(f), 0u) << f;
  EXPECT_TRUE(std::filesystem::exists(dir / "fig" / "rollout1_step3.png"));
}

TEST(Figures, OneDimensionalPredictionsGiveCurvesAndFields) {
  auto dir = test::scratch_dir();
  const auto path = (dir / "line.h5").string();
  io::DatasetInfo info;
  info.generator = "synthetic-1d";
  info.split_sizes = {{"test", 2}};
  info.input_shape = {1, 32};
  info.output_shape = {1, 32};
  auto w = io::DatasetWriter::open(path, info);
  for (std::int64_t i = 0; i < 2; ++i) {
    auto a = torch::sin(torch::linspace(0.0, 6.0, 32) + static_cast<double>(i)).unsqueeze(0);
    w.write_sample("test", i, a, 2.0 * a);
  }
  w.finish();
  GridDataset data(path, "test");
  auto model = std::make_shared<operators::FNOImpl>(operators::FNOOptions(1, 1).modes({4}).width(4).dim(1));
  auto m = evaluate(*model, data, 2);
  EXPECT_EQ(m.samples, 2);
  EXPECT_TRUE(std::isfinite(m.l2_mean) && std::isfinite(m.h1_mean));
  auto files = write_prediction_figures(*model, data, (dir / "fig").string(), 5);
  ASSERT_EQ(files.size(), 4u);
  for (const auto& f : files) EXPECT_GT(std::filesystem::file_size(f), 0u) << f;
}
