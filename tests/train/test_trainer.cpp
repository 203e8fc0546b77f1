// Dataset loader, checkpoints of models, and the Trainer: exact resume, divergence detection.
#include "physml/core/error.hpp"
#include "physml/core/random.hpp"
#include "physml/io/checkpoint.hpp"
#include "physml/io/dataset.hpp"
#include "physml/operators/checkpoint.hpp"
#include "physml/operators/fno.hpp"
#include "physml/operators/mgno.hpp"
#include "physml/train/dataset.hpp"
#include "physml/operators/normalized_model.hpp"
#include "physml/train/trainer.hpp"
#include "test_util.hpp"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>

using namespace physml;
using namespace physml::train;
using physml::operators::NormalizedModel;
using physml::operators::Normalizer;

namespace {

/// A tiny synthetic operator-learning data set on an n x n grid: input a (random), output
/// u = a smoothed by a fixed 3x3 average and scaled (a linear map the models can learn).
std::string make_dataset(const std::filesystem::path& dir, int n = 16, int ntrain = 16, int nvalid = 8) {
  const auto path = (dir / "tiny.h5").string();
  io::DatasetInfo info;
  info.generator = "synthetic";
  info.seed = 3;
  info.split_sizes = {{"train", ntrain}, {"valid", nvalid}};
  info.input_shape = {1, n, n};
  info.output_shape = {1, n, n};
  info.dtype = torch::kFloat;
  auto w = io::DatasetWriter::open(path, info);
  torch::manual_seed(3);
  auto kernel = torch::full({1, 1, 3, 3}, 1.0 / 9.0);
  for (const auto& [split, count] : info.split_sizes)
    for (std::int64_t i = 0; i < count; ++i) {
      auto a = torch::randn({1, 1, n, n});
      auto u = 2.0 * torch::conv2d(a, kernel, {}, 1, 1) + 0.5;
      w.write_sample(split, i, a[0], u[0]);
    }
  w.finish();
  return path;
}

std::shared_ptr<operators::Model> tiny_mgno() {
  return std::make_shared<operators::MgNOImpl>(operators::MgNOOptions(1, 1).channels(4).levels(3).layers(1));
}

TrainerOptions tiny_options(const std::string& dir) {
  ScheduleOptions s;
  s.type = "onecycle";
  s.lr = 5e-3;
  s.pct_start = 0.3;
  s.div_factor = 2;
  s.final_div_factor = 100;
  return TrainerOptions().epochs(4).batch_size(4).schedule(s).seed(11).output_dir(dir).verbose(false).loss("h1_spectral");
}

}  // namespace

TEST(GridDataset, StrideRangeAndBatches) {
  auto dir = test::scratch_dir();
  auto path = make_dataset(dir);
  GridDataset full(path, "train");
  GridDatasetOptions o;
  o.stride = 2;
  o.begin = 4;
  o.count = 8;
  o.cache = false;
  GridDataset sub(path, "train", o);
  EXPECT_EQ(sub.size(), 8);
  EXPECT_EQ(sub.input_shape(), (std::vector<std::int64_t>{1, 8, 8}));
  auto [x, y] = sub.batch({0, 3});
  auto [fx, fy] = full.range(4, 8);
  EXPECT_TRUE(torch::equal(x[1], fx[3].slice(1, 0, 16, 2).slice(2, 0, 16, 2)));
  EXPECT_TRUE(torch::equal(y[0], fy[0].slice(1, 0, 16, 2).slice(2, 0, 16, 2)));
  EXPECT_THROW_MSG(GridDataset(path, "tset"), "tset");
  o.count = 20;
  EXPECT_THROW_MSG(GridDataset(path, "train", o), "are not in split 'train'");
  EXPECT_THROW(GridDataset((dir / "missing.h5").string(), "train"), physml::Error);
}

TEST(GridDataset, SeededEpochOrder) {
  auto a = epoch_batches(10, 4, true, 5, 0), b = epoch_batches(10, 4, true, 5, 0), c = epoch_batches(10, 4, true, 5, 1);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[2].size(), 2u);
  std::vector<std::int64_t> all;
  for (auto& v : a) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  for (int i = 0; i < 10; ++i) EXPECT_EQ(all[i], i);
  EXPECT_EQ(epoch_batches(5, 2, false, 0, 0), (std::vector<std::vector<std::int64_t>>{{0, 1}, {2, 3}, {4}}));
}

TEST(Checkpoint, ModelsRoundTripAndRejectMismatches) {
  auto dir = test::scratch_dir();
  torch::manual_seed(1);
  operators::MgNO mgno(operators::MgNOOptions(1, 1).channels(4).levels(3).layers(2).grid_size({17, 17}));
  operators::FNO fno(operators::FNOOptions(1, 1).modes({4, 4}).width(6));
  const auto pm = (dir / "mgno.h5").string(), pf = (dir / "fno.h5").string();
  operators::save(pm, *mgno);
  operators::save(pf, *fno);
  auto x = torch::randn({2, 1, 17, 17});
  auto lm = operators::load(pm), lf = operators::load(pf);
  torch::NoGradGuard g;
  EXPECT_TRUE(torch::equal(lm->forward(x), mgno->forward(x)));
  EXPECT_TRUE(torch::equal(lf->forward(x), fno->forward(x)));
  EXPECT_EQ(lm->type(), "mgno");
  EXPECT_THROW_MSG(operators::load_into(pf, *mgno), "holds a 'fno' model, cannot load it into a 'mgno' model");
  operators::MgNO wider(operators::MgNOOptions(1, 1).channels(5).levels(3).layers(2).grid_size({17, 17}));
  EXPECT_THROW_MSG(operators::load_into(pm, *wider), "incompatible model option channels = '4'");
}

TEST(Trainer, NormalizedModelSavesItsNormalizers) {
  auto dir = test::scratch_dir();
  auto path = make_dataset(dir);
  GridDataset data(path, "train");
  auto [x, y] = data.all();
  Normalizer xn("pointwise"), yn("scalar");
  xn->fit(x);
  yn->fit(y);
  torch::manual_seed(2);
  auto model = std::make_shared<NormalizedModel>(tiny_mgno(), xn, yn);
  operators::save((dir / "n.h5").string(), *model);
  auto back = operators::load((dir / "n.h5").string());
  torch::NoGradGuard g;
  EXPECT_EQ(back->type(), "normalized");
  EXPECT_TRUE(torch::equal(back->forward(x), model->forward(x)));
  // The decoded output is in physical units: the scalar output statistics are restored.
  auto* nm = dynamic_cast<NormalizedModel*>(back.get());
  ASSERT_NE(nm, nullptr);
  EXPECT_TRUE(torch::equal(nm->y_normalizer()->mean(), yn->mean()));
}

TEST(Trainer, ResumedRunEqualsUninterruptedRunBitForBit) {
  auto dir = test::scratch_dir();
  auto path = make_dataset(dir);
  GridDataset train(path, "train"), valid(path, "valid");
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);
  torch::manual_seed(7);
  auto a = tiny_mgno();
  Trainer ta(a, tiny_options((dir / "a").string()));
  auto ra = ta.fit(train, &valid);
  ASSERT_EQ(ra.size(), 4u);
  EXPECT_LT(ra.back().train_loss, ra.front().train_loss);

  torch::manual_seed(7);
  auto b = tiny_mgno();
  Trainer tb(b, tiny_options((dir / "b").string()).stop_after(2));
  EXPECT_EQ(tb.fit(train, &valid).size(), 2u);
  torch::manual_seed(99);  // a fresh process with another initialization: all comes from the checkpoint
  auto c = tiny_mgno();
  Trainer tc(c, tiny_options((dir / "b").string()));
  tc.resume((dir / "b" / "last.h5").string());
  EXPECT_EQ(tc.epoch(), 2);
  auto rc = tc.fit(train, &valid);
  ASSERT_EQ(rc.size(), 2u);
  torch::set_num_threads(threads);
  auto pa = a->named_parameters(), pc = c->named_parameters();
  for (const auto& item : pa) EXPECT_TRUE(torch::equal(item.value(), pc[item.key()])) << item.key();
  EXPECT_EQ(rc.back().train_loss, ra.back().train_loss);
  EXPECT_EQ(rc.back().valid_l2, ra.back().valid_l2);
  // The CSV log has a header and one line per epoch, across the interruption.
  std::ifstream csv(dir / "b" / "log.csv");
  std::string line;
  int lines = 0;
  while (std::getline(csv, line)) ++lines;
  EXPECT_EQ(lines, 5);
  EXPECT_TRUE(std::filesystem::exists(dir / "a" / "best.h5"));
}

TEST(Trainer, DivergenceStopsWithClearErrorAndKeepsLastGoodCheckpoint) {
  auto dir = test::scratch_dir();
  auto path = make_dataset(dir);
  GridDataset train(path, "train");
  torch::manual_seed(8);
  auto model = tiny_mgno();
  ScheduleOptions s;
  s.type = "step";
  s.lr = 1e-3;
  s.step_size = 1;
  s.gamma = 1e36;  // epoch 1: lr 1e-3, epoch 2: lr 1e33 -> overflow
  auto o = TrainerOptions().epochs(3).batch_size(8).schedule(s).output_dir((dir / "run").string()).verbose(false);
  Trainer t(model, o);
  EXPECT_THROW_MSG(t.fit(train), "training diverged");
  auto info = io::read_checkpoint_info((dir / "run" / "last.h5").string());
  EXPECT_EQ(std::get<std::int64_t>(info.state.at("epoch")), 1);
  auto good = operators::load((dir / "run" / "last.h5").string());
  for (const auto& p : good->parameters()) EXPECT_TRUE(torch::isfinite(p).all().item<bool>());
}

TEST(Trainer, EvaluateMetricsAndBadInput) {
  auto dir = test::scratch_dir();
  auto path = make_dataset(dir);
  GridDataset valid(path, "valid");
  auto model = tiny_mgno();
  auto m = evaluate(*model, valid, 3);
  EXPECT_EQ(m.samples, 8);
  EXPECT_GE(m.l2_max, m.l2_mean);
  EXPECT_GT(m.l2_std, 0.0);
  // A model for 2 input channels on 1-channel data: the model names the mismatch.
  auto wrong = std::make_shared<operators::MgNOImpl>(operators::MgNOOptions(2, 1).channels(2).levels(2).layers(1));
  EXPECT_THROW_MSG(evaluate(*wrong, valid), "built for 2 input channels");
}

// Writes the tiny data set the command-line tests of tests/cli/train.cmake train on.
TEST(CliData, WriteTinyDataset) {
  const std::filesystem::path dir = std::filesystem::path(PHYSML_TEST_DATA_DIR) / "cli_data";
  std::filesystem::create_directories(dir);
  std::filesystem::remove(dir / "tiny.h5");
  EXPECT_TRUE(std::filesystem::exists(make_dataset(dir, 16, 8, 4)));
}
