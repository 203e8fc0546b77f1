// Dataset loader, checkpoints of models, and the Trainer: exact resume, divergence detection.
#include "physml/core/error.hpp"
#include "physml/core/options.hpp"
#include "physml/core/options_reader.hpp"
#include "physml/core/random.hpp"
#include "physml/operators/registry.hpp"
#include "physml/io/checkpoint.hpp"
#include "physml/io/dataset.hpp"
#include "physml/io/hdf5.hpp"
#include "physml/operators/checkpoint.hpp"
#include "physml/operators/fno.hpp"
#include "physml/operators/mgno.hpp"
#include "physml/train/dataset.hpp"
#include "physml/train/figures.hpp"
#include "physml/operators/normalized_model.hpp"
#include "physml/train/trainer.hpp"
#include "resume_check.hpp"
#include "test_util.hpp"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <limits>

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
  EXPECT_EQ(rc.back().metric("valid_l2"), ra.back().metric("valid_l2"));
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

namespace {

std::shared_ptr<operators::Model> tiny_fno() {
  return std::make_shared<operators::FNOImpl>(operators::FNOOptions(1, 1).modes({2, 2}).width(4).layers(2));
}

/// Train a tiny FNO on 4 samples of an 8x8 data set, 4 epochs in one go (`stop` = -1) or
/// `stop` epochs, then a new Trainer (another initialization) resumed from last.h5 to 4.
struct FnoRun {
  std::shared_ptr<operators::Model> model;
  std::unique_ptr<Trainer> trainer;
  std::vector<EpochRecord> records;  // of the last fit call
};

FnoRun fno_run(const std::filesystem::path& dir, const std::string& data, std::int64_t stop) {
  GridDataset train(data, "train"), valid(data, "valid");
  auto options = TrainerOptions().epochs(4).batch_size(3).seed(5).output_dir(dir.string()).verbose(false).loss("l2");
  ScheduleOptions s;
  s.type = "cosine";
  s.lr = 1e-2;
  options.schedule(s);
  torch::manual_seed(21);
  FnoRun r{tiny_fno(), nullptr, {}};
  r.trainer = std::make_unique<Trainer>(r.model, TrainerOptions(options).stop_after(stop));
  r.records = r.trainer->fit(train, &valid);
  if (stop < 0) return r;
  torch::manual_seed(1234);  // a fresh process: nothing may come from this initialization
  r.model = tiny_fno();
  r.trainer = std::make_unique<Trainer>(r.model, options);
  r.trainer->resume((dir / "last.h5").string());
  EXPECT_EQ(r.trainer->epoch(), stop);
  r.records = r.trainer->fit(train, &valid);
  return r;
}

}  // namespace

// Exact resume of an operator: weights, Adam moments and steps, best validation and the log
// lines of a run interrupted after 1 and after 3 epochs equal those of the uninterrupted run.
TEST(Trainer, FnoResumeRestoresWeightsOptimizerAndLogBitForBit) {
  auto dir = test::scratch_dir();
  auto data = make_dataset(dir, 8, 4, 2);
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);
  auto full = fno_run(dir / "full", data, -1);
  ASSERT_EQ(full.records.size(), 4u);
  for (std::int64_t stop : {1, 3}) {
    SCOPED_TRACE("stopped after " + std::to_string(stop));
    auto part = fno_run(dir / ("part" + std::to_string(stop)), data, stop);
    ASSERT_EQ(part.records.size(), static_cast<std::size_t>(4 - stop));
    test::expect_same_parameters(*full.model, *part.model);
    test::expect_same_adam_state(full.trainer->optimizer(), part.trainer->optimizer());
    EXPECT_EQ(part.trainer->best_validation(), full.trainer->best_validation());
    EXPECT_EQ(part.trainer->best_epoch(), full.trainer->best_epoch());
    EXPECT_EQ(part.records.back().train_loss, full.records.back().train_loss);
    EXPECT_EQ(part.records.back().metric("valid_h1"), full.records.back().metric("valid_h1"));
    const auto lines = test::log_lines_without_seconds(dir / ("part" + std::to_string(stop)) / "log.csv");
    EXPECT_EQ(lines, test::log_lines_without_seconds(dir / "full" / "log.csv"));
    EXPECT_EQ(lines.size(), 5u);
    // The saved state names what resume restores.
    auto info = io::read_checkpoint_info((dir / ("part" + std::to_string(stop)) / "last.h5").string());
    EXPECT_EQ(std::get<std::int64_t>(info.state.at("epoch")), 4);
    EXPECT_EQ(std::get<std::string>(info.state.at("criterion")), "valid_l2");
    EXPECT_EQ(std::get<double>(info.state.at("best_validation")), full.trainer->best_validation());
  }
  torch::set_num_threads(threads);
  EXPECT_EQ(test::log_lines_without_seconds(dir / "full" / "log.csv")[0], "epoch,lr,train_loss,valid_l2,valid_h1");
}

TEST(Trainer, SameSeedSameRunOtherSeedOtherBatches) {
  auto dir = test::scratch_dir();
  auto data = make_dataset(dir, 8, 4, 2);
  GridDataset train(data, "train");
  auto run = [&](std::uint64_t seed) {
    torch::manual_seed(3);
    auto m = tiny_fno();
    Trainer(m, TrainerOptions().epochs(2).batch_size(1).seed(seed).verbose(false)).fit(train);
    return m;
  };
  auto a = run(4), b = run(4), c = run(5);
  test::expect_same_parameters(*a, *b);
  bool differs = false;
  auto pa = a->named_parameters(), pc = c->named_parameters();
  for (const auto& item : pa) differs = differs || !torch::equal(item.value(), pc[item.key()]);
  EXPECT_TRUE(differs) << "another seed must give another batch order, hence other weights";
}

TEST(Trainer, ResumeRejectsAnotherSeedAnotherModelAndAWeightsOnlyFile) {
  auto dir = test::scratch_dir();
  auto data = make_dataset(dir, 8, 4, 2);
  GridDataset train(data, "train");
  auto o = TrainerOptions().epochs(2).batch_size(2).seed(4).verbose(false).output_dir((dir / "run").string());
  Trainer(tiny_fno(), TrainerOptions(o).stop_after(1)).fit(train);
  const auto last = (dir / "run" / "last.h5").string(), best = (dir / "run" / "best.h5").string();
  EXPECT_THROW_MSG(Trainer(tiny_fno(), TrainerOptions(o).seed(9)).resume(last),
                   "was trained with -seed 4, this run has -seed 9");
  EXPECT_THROW_MSG(Trainer(tiny_mgno(), o).resume(last), "holds a 'fno' model, cannot resume training a 'mgno' model");
  EXPECT_THROW_MSG(Trainer(tiny_fno(), o).resume(best), "has no optimizer state");
  EXPECT_THROW_MSG(Trainer(tiny_fno(), TrainerOptions(o).epochs(0)), "epochs must be >= 1");
}

namespace {

/// A task of its own: fit y = 3 x with a 1x1 convolution "operator" (FNO with no modes
/// would do; a tiny FNO suffices), metric "gap" = |mean prediction - mean target| on fixed data.
class ScaleTask : public TrainingTask {
public:
  std::int64_t size() const override { return 6; }
  Batch batch(const std::vector<std::int64_t>& idx, std::uint64_t seed) const override {
    seeds.push_back(seed);
    auto x = torch::arange(6, torch::kFloat).index_select(0, torch::tensor(idx)).reshape({-1, 1, 1, 1}).expand({-1, 1, 4, 4});
    return {x.contiguous(), 3 * x.contiguous()};
  }
  at::Tensor loss(operators::Model& model, const Batch& b) override {
    return torch::mse_loss(model.forward(b.input), b.target);
  }
  std::vector<std::string> metric_names() const override { return {"gap"}; }
  std::map<std::string, double> validate(operators::Model& model) override {
    auto x = torch::ones({1, 1, 4, 4});
    return {{"gap", (model.forward(x).mean() - 3).abs().item<double>()}};
  }
  std::string criterion() const override { return "gap"; }
  mutable std::vector<std::uint64_t> seeds;
};

struct Recorder : TrainerCallback {
  std::vector<std::string> names;
  std::vector<EpochRecord> seen;
  int ends = 0;
  void on_fit_begin(const Trainer&, const std::vector<std::string>& n) override { names = n; }
  void on_epoch_end(const Trainer& t, const EpochRecord& r) override {
    EXPECT_EQ(t.epoch(), r.epoch);
    seen.push_back(r);
  }
  void on_fit_end(const Trainer&, const std::vector<EpochRecord>& r) override {
    ++ends;
    EXPECT_EQ(r.size(), seen.size());
  }
};

}  // namespace

TEST(Trainer, AnyTaskWithCallbacksMetricsInTheLogAndPerBatchSeeds) {
  auto dir = test::scratch_dir();
  torch::manual_seed(0);
  auto model = tiny_fno();
  ScaleTask task;
  auto rec = std::make_shared<Recorder>();
  Trainer t(model, TrainerOptions().epochs(3).batch_size(4).seed(2).verbose(false).output_dir(dir.string()));
  t.add_callback(rec);
  auto records = t.fit(task);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(rec->names, std::vector<std::string>{"gap"});
  ASSERT_EQ(rec->seen.size(), 3u);
  EXPECT_EQ(rec->ends, 1);
  EXPECT_EQ(rec->seen[2].metric("gap"), records[2].metric("gap"));
  EXPECT_TRUE(std::isnan(records[0].metric("no such metric")));
  // best.h5 follows the task's criterion.
  double best = records[0].metric("gap");
  for (const auto& r : records) best = std::min(best, r.metric("gap"));
  EXPECT_EQ(t.best_validation(), best);
  auto lines = test::log_lines_without_seconds(dir / "log.csv");
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "epoch,lr,train_loss,gap");
  EXPECT_TRUE(std::filesystem::exists(dir / "loss.png"));
  // 2 batches per epoch, each with its own seed, the same in a second run.
  ASSERT_EQ(task.seeds.size(), 6u);
  EXPECT_NE(task.seeds[0], task.seeds[1]);
  EXPECT_NE(task.seeds[0], task.seeds[2]);
  auto first = task.seeds;
  task.seeds.clear();
  Trainer(tiny_fno(), TrainerOptions().epochs(3).batch_size(4).seed(2).verbose(false)).fit(task);
  EXPECT_EQ(task.seeds, first);
}

// A run killed between writing last.h5 and its log line, or a log with lines of epochs past
// the checkpoint (another run into the same directory): resume keeps the checkpoint's epochs.
TEST(Trainer, ResumedLogKeepsOnlyTheCheckpointsEpochs) {
  auto dir = test::scratch_dir();
  auto data = make_dataset(dir, 8, 4, 2);
  GridDataset train(data, "train");
  auto o = TrainerOptions().epochs(3).batch_size(2).seed(1).verbose(false).output_dir((dir / "run").string());
  Trainer(tiny_fno(), TrainerOptions(o).stop_after(2)).fit(train);
  std::filesystem::copy_file(dir / "run" / "last.h5", dir / "epoch2.h5");
  Trainer(tiny_fno(), o).fit(train);  // a fresh 3-epoch run overwrites the directory
  ASSERT_EQ(test::log_lines_without_seconds(dir / "run" / "log.csv").size(), 4u);
  auto kept = test::log_lines_without_seconds(dir / "run" / "log.csv");
  Trainer t(tiny_fno(), TrainerOptions(o).stop_after(0));
  t.resume((dir / "epoch2.h5").string());
  EXPECT_TRUE(t.fit(train).empty());
  auto lines = test::log_lines_without_seconds(dir / "run" / "log.csv");
  kept.pop_back();
  EXPECT_EQ(lines, kept);
}

// Writes the tiny data set the command-line tests of tests/cli/train.cmake train on.
TEST(CliData, WriteTinyDataset) {
  const std::filesystem::path dir = std::filesystem::path(PHYSML_TEST_DATA_DIR) / "cli_data";
  std::filesystem::create_directories(dir);
  std::filesystem::remove(dir / "tiny.h5");
  EXPECT_TRUE(std::filesystem::exists(make_dataset(dir, 16, 8, 4)));
}

TEST(Trainer, CheckpointsRecordHowTheRunWasConfigured) {
  auto dir = test::scratch_dir();
  auto path = make_dataset(dir);
  GridDataset train(path, "train");
  test::OptionsDatabase d;
  d.set("-epochs", "1");
  d.set("-mgno_channels", "4");
  d.set("-mgno_levels", "2");
  d.set("-mgno_layers", "1");
  physml::OptionsRecorder recorder;  // everything read below is the record
  auto t = tiny_options((dir / "run").string()).set_from_options(physml::Options("", d.db));
  auto model = physml::operators::create_from_options("mgno", physml::Options("", d.db), {1, 1, {16, 16}});
  Trainer trainer(model, t);
  trainer.set_metadata(recorder.json());
  trainer.fit(train);
  for (const char* file : {"last.h5", "best.h5"}) {
    const auto info = physml::io::read_checkpoint_info((dir / "run" / file).string());
    const auto& options = std::get<std::string>(info.state.at("options"));
    EXPECT_NE(options.find("\"epochs\":1"), std::string::npos) << options;
    EXPECT_NE(options.find("\"mgno_channels\":4"), std::string::npos) << options;
    EXPECT_NE(options.find("\"lr\":"), std::string::npos) << options;  // defaults too
  }
}

TEST(Trainer, SummedLossEqualsMeanLossWithWeightDecayOverBatchSize) {
  // Adam divides the gradient by its own running RMS, so scaling the loss by the batch size B
  // changes only the weight-decay term: "sum" with λ is "mean" with λ/B (up to Adam's eps).
  auto dir = test::scratch_dir();
  auto path = make_dataset(dir);  // 16 samples, batches of 4: every batch has B = 4
  GridDataset train(path, "train");
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);
  auto run = [&](const std::string& reduction, double wd) {
    torch::manual_seed(3);
    auto m = tiny_mgno();
    Trainer t(m, tiny_options("").loss_reduction(reduction).weight_decay(wd).batch_size(4).epochs(3).verbose(false));
    auto rec = t.fit(train, nullptr);
    return std::make_pair(m, rec.back().train_loss);
  };
  auto [sum, sum_loss] = run("sum", 0.2);
  auto [mean, mean_loss] = run("mean", 0.05);
  auto [mean_same, mean_same_loss] = run("mean", 0.2);
  torch::set_num_threads(threads);
  double max_diff = 0, max_other = 0;
  auto ps = sum->named_parameters(), pm = mean->named_parameters(), po = mean_same->named_parameters();
  for (const auto& item : ps) {
    max_diff = std::max(max_diff, (item.value() - pm[item.key()]).abs().max().item<double>());
    max_other = std::max(max_other, (item.value() - po[item.key()]).abs().max().item<double>());
  }
  std::printf("  max |sum(wd) - mean(wd/B)| = %.3g, max |sum(wd) - mean(wd)| = %.3g\n", max_diff, max_other);
  // float32 rounding over 12 Adam steps and eps = 1e-8 leave ~1e-5; the weight decay itself moves
  // the parameters by ~5e-2, so the equivalence is shown to three orders of magnitude.
  EXPECT_LT(max_diff, 1e-4);
  EXPECT_GT(max_other, 100 * max_diff) << "the weight decay must matter in this test, or it shows nothing";
  EXPECT_NEAR(sum_loss, mean_loss, 1e-4 * std::abs(mean_loss));
  EXPECT_THROW_MSG(Trainer(tiny_mgno(), tiny_options("").loss_reduction("median")).fit(train, nullptr),
                   "loss_reduction 'median' is not one of mean, sum");
}

TEST(LearningCurves, BestWithinAWallClockBudgetAndClearErrors) {
  auto dir = test::scratch_dir();
  auto write = [&](const std::string& name, const std::string& body) {
    const auto p = (dir / name).string();
    std::ofstream(p) << "epoch,lr,train_loss,valid_h1,valid_l2,seconds\n" << body;
    return p;
  };
  // a: 10 s per epoch, valid_l2 0.5, 0.2, 0.3, 0.1; b: 25 s per epoch, 0.4, 0.05
  auto a = write("a.csv", "1,1e-3,1,0.9,0.5,10\n2,1e-3,1,0.9,0.2,10\n3,1e-3,1,0.9,0.3,10\n4,1e-3,1,0.9,0.1,10\n");
  auto b = write("b.csv", "1,1e-3,2,0.9,0.4,25\n2,1e-3,1,0.9,0.05,25\n");
  std::vector<LearningCurve> runs{{"a", read_log_csv(a)}, {"b", read_log_csv(b)}};
  LearningCurvesOptions o;
  o.budget = 30;  // a: epochs 1-3 (best 0.2 at epoch 2, 20 s); b: epoch 1 only
  auto s = learning_curve_summary(runs, o);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_DOUBLE_EQ(s[0].best, 0.2);
  EXPECT_EQ(s[0].best_epoch, 2);
  EXPECT_DOUBLE_EQ(s[0].best_seconds, 20);
  EXPECT_EQ(s[0].epochs, 3);
  EXPECT_DOUBLE_EQ(s[1].best, 0.4);
  EXPECT_EQ(s[1].epochs, 1);
  o.budget = 0;
  s = learning_curve_summary(runs, o);
  EXPECT_DOUBLE_EQ(s[0].best, 0.1);
  EXPECT_DOUBLE_EQ(s[1].best, 0.05);
  EXPECT_DOUBLE_EQ(s[1].seconds, 50);
  o.metric = "train_loss";
  EXPECT_DOUBLE_EQ(learning_curve_summary(runs, o)[1].best, 1.0);
  o.x = "seconds";
  o.references = {{"published", 0.0108}};
  const auto png = (dir / "curves.png").string();
  write_learning_curves(png, runs, o);
  EXPECT_GT(std::filesystem::file_size(png), 1000u);
  o.metric = "valid_rollout";
  EXPECT_THROW_MSG(learning_curve_summary(runs, o), "run 'a' has no metric 'valid_rollout'");
  o.metric = "valid_l2";
  o.x = "minutes";
  EXPECT_THROW_MSG(write_learning_curves(png, runs, o), "x 'minutes' is not one of epoch, seconds, hours");
  EXPECT_THROW_MSG(read_log_csv((dir / "missing.csv").string()), "cannot read training log");
}

// A NaN in a data set stops at load (GridDataset's constructor, with the cache) naming the
// file, split, sample and index, not at the first batch as "loss is nan"; without the cache,
// the read of the offending sample reports it.
TEST(GridDataset, NonFiniteDataIsReportedAtLoad) {
  auto dir = test::scratch_dir();
  const auto path = make_dataset(dir, 8, 4, 2);
  {
    auto f = io::H5File::open(path, io::H5File::Mode::read_write);
    auto rows = f.read_rows("valid/inputs", 1, 2).contiguous();
    rows.view({-1})[10] = std::numeric_limits<float>::quiet_NaN();
    f.write_rows("valid/inputs", 1, rows);
    f.commit();
  }
  EXPECT_NO_THROW(GridDataset(path, "train"));
  EXPECT_THROW_MSG(GridDataset(path, "valid"),
                   "has a non-finite value (nan) in split 'valid', inputs of sample 1, flat index 10 (channel 0, "
                   "point 10 of [C, spatial...] [1, 8, 8])");
  EXPECT_THROW(GridDataset(path, "valid"), physml::NonFiniteError);
  GridDatasetOptions lazy;
  lazy.cache = false;
  GridDataset valid(path, "valid", lazy);
  EXPECT_NO_THROW(valid.batch({0}));
  EXPECT_THROW_MSG(valid.batch({1}), "inputs of sample 1, flat index 10");
}
