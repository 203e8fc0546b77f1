#include "physml/train/trainer.hpp"

#include "physml/core/error.hpp"
#include "physml/core/options_reader.hpp"
#include "physml/core/log.hpp"
#include "physml/core/progress.hpp"
#include "physml/io/checkpoint.hpp"
#include "physml/operators/checkpoint.hpp"
#include "physml/train/figures.hpp"
#include "physml/train/losses.hpp"
#include "physml/operators/normalized_model.hpp"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <limits>
#include <optional>
#include <sstream>
#include <variant>

namespace physml::train {
namespace {

at::Tensor to_model(const at::Tensor& t, const operators::Model& m) {
  auto params = m.parameters();
  if (params.empty()) return t;
  return t.to(params.front().device(), params.front().scalar_type());
}

double state_real(const io::Attributes& s, const std::string& key, double def) {
  auto it = s.find(key);
  if (it == s.end()) return def;
  if (auto* d = std::get_if<double>(&it->second)) return *d;
  if (auto* i = std::get_if<std::int64_t>(&it->second)) return static_cast<double>(*i);
  return def;
}

}  // namespace

Trainer::Trainer(std::shared_ptr<operators::Model> model, TrainerOptions options)
    : model_(std::move(model)), options_(std::move(options)), best_(std::numeric_limits<double>::infinity()) {
  PHYSML_CHECK(model_ != nullptr, "Trainer needs a model");
  PHYSML_CHECK(options_.epochs() >= 1, "Trainer epochs must be >= 1, got ", options_.epochs());
  auto s = options_.schedule();
  s.total_steps = options_.epochs();
  options_.schedule(s);
  LRSchedule check(s);  // validates the schedule options
  optimizer_ = make_optimizer(options_.optimizer(), model_->parameters(), s.lr, options_.weight_decay());
  loss_by_name(options_.loss(), torch::ones({1, 1, 2}), torch::ones({1, 1, 2}));  // validates the loss name
}

Trainer::~Trainer() = default;

void Trainer::resume(const std::string& checkpoint) {
  auto info = io::read_checkpoint_info(checkpoint);
  PHYSML_CHECK(info.has_optimizer, "checkpoint ", checkpoint, " has no optimizer state; cannot resume training from it");
  operators::load_into(checkpoint, *model_, optimizer_.get());
  epoch_ = static_cast<std::int64_t>(state_real(info.state, "epoch", 0));
  best_ = state_real(info.state, "best_validation_l2", std::numeric_limits<double>::infinity());
  PHYSML_CHECK(epoch_ <= options_.epochs(), "checkpoint ", checkpoint, " is at epoch ", epoch_,
               " beyond the run's ", options_.epochs(), " epochs");
}

std::vector<EpochRecord> Trainer::fit(const GridDataset& train, const GridDataset* valid) {
  const auto& o = options_;
  LRSchedule schedule(o.schedule());
  const std::string dir = o.output_dir();
  std::ofstream log;
  if (!dir.empty()) {
    std::filesystem::create_directories(dir);
    const auto csv = std::filesystem::path(dir) / "log.csv";
    const bool fresh = epoch_ == 0 || !std::filesystem::exists(csv);
    log.open(csv, fresh ? std::ios::trunc : std::ios::app);
    PHYSML_CHECK(log.good(), "cannot write training log ", csv.string());
    if (fresh) log << "epoch,lr,train_loss,valid_l2,valid_h1,seconds\n";
    log << std::setprecision(10);
  }
  const std::int64_t last = o.stop_after() < 0 ? o.epochs() : std::min(o.epochs(), epoch_ + o.stop_after());
  std::vector<EpochRecord> records;
  std::optional<Progress> progress;
  if (o.verbose()) progress.emplace("train", o.epochs(), epoch_, 10.0);
  while (epoch_ < last) {
    Timer timer;
    EpochRecord rec;
    rec.epoch = epoch_ + 1;
    rec.lr = schedule.lr(epoch_);
    set_learning_rate(*optimizer_, rec.lr);
    model_->train();
    double sum = 0;
    std::int64_t nb = 0;
    const auto batches = epoch_batches(train.size(), o.batch_size(), o.shuffle(), o.seed(), epoch_);
    for (const auto& idx : batches) {
      auto [x, y] = train.batch(idx);
      x = to_model(x, *model_);
      y = to_model(y, *model_);
      optimizer_->zero_grad();
      auto loss = loss_by_name(o.loss(), model_->forward(x), y, o.periodic());
      const double value = loss.item<double>();
      PHYSML_CHECK(std::isfinite(value), "training diverged: loss is ", value, " at epoch ", epoch_ + 1, ", batch ",
                   nb + 1, " (lr ", rec.lr, "); stopped, the last good checkpoint is kept",
                   dir.empty() ? std::string() : " in " + dir);
      loss.backward();
      if (o.grad_clip() > 0) {
        const double norm = torch::nn::utils::clip_grad_norm_(model_->parameters(), o.grad_clip());
        PHYSML_CHECK(std::isfinite(norm), "training diverged: gradient norm is ", norm, " at epoch ", epoch_ + 1,
                     "; stopped, the last good checkpoint is kept");
      }
      optimizer_->step();
      sum += value;
      ++nb;
    }
    rec.train_loss = sum / static_cast<double>(nb);
    rec.valid_l2 = rec.valid_h1 = std::numeric_limits<double>::quiet_NaN();
    if (valid) {
      auto m = evaluate(*model_, *valid, o.batch_size(), o.periodic());
      rec.valid_l2 = m.l2_mean;
      rec.valid_h1 = m.h1_mean;
      PHYSML_CHECK(std::isfinite(m.l2_mean), "training diverged: validation L2 is ", m.l2_mean, " at epoch ",
                   epoch_ + 1, "; stopped, the last good checkpoint is kept");
    }
    for (const auto& p : model_->parameters())
      PHYSML_CHECK(torch::isfinite(p).all().item<bool>(), "training diverged: non-finite parameters after epoch ",
                   epoch_ + 1, "; stopped, the last good checkpoint is kept");
    ++epoch_;
    rec.seconds = timer.seconds();
    const double score = valid ? rec.valid_l2 : rec.train_loss;
    const bool improved = score < best_;
    if (improved) best_ = score;
    if (!dir.empty()) {
      io::Attributes state{{"epoch", static_cast<std::int64_t>(epoch_)},
                           {"best_validation_l2", best_},
                           {"train_loss", rec.train_loss},
                           {"seed", static_cast<std::int64_t>(o.seed())}};
      operators::save((std::filesystem::path(dir) / "last.h5").string(), *model_, state, optimizer_.get());
      if (improved) operators::save((std::filesystem::path(dir) / "best.h5").string(), *model_, state);
      log << rec.epoch << ',' << rec.lr << ',' << rec.train_loss << ',' << rec.valid_l2 << ',' << rec.valid_h1 << ','
          << rec.seconds << '\n';
      log.flush();
    }
    std::ostringstream status;
    status << std::setprecision(4) << "loss " << rec.train_loss;
    if (valid) status << "  valid L2 " << rec.valid_l2;
    if (progress) progress->advance(1, status.str());
    records.push_back(rec);
  }
  if (progress) progress->finish();
  if (!dir.empty() && !records.empty()) {
    log.close();
    try {
      write_loss_curves((std::filesystem::path(dir) / "loss.png").string(),
                        read_log_csv((std::filesystem::path(dir) / "log.csv").string()));
    } catch (const physml::Error& e) {
      log_warning("could not draw the loss curves: ", e.what());
    }
  }
  return records;
}

Metrics evaluate(operators::Model& model, const GridDataset& data, std::int64_t batch_size, bool periodic) {
  torch::NoGradGuard guard;
  const bool was_training = model.is_training();
  model.eval();
  std::vector<at::Tensor> l2, h1;
  for (std::int64_t b = 0; b < data.size(); b += batch_size) {
    auto [x, y] = data.range(b, std::min(data.size(), b + batch_size));
    x = to_model(x, model);
    y = to_model(y, model);
    auto p = model.forward(x);
    l2.push_back(relative_lp(p, y).to(torch::kDouble).cpu());
    h1.push_back(relative_h1(p, y, periodic).to(torch::kDouble).cpu());
  }
  if (was_training) model.train();
  auto L = torch::cat(l2), H = torch::cat(h1);
  Metrics m;
  m.samples = L.size(0);
  m.l2_mean = L.mean().item<double>();
  m.h1_mean = H.mean().item<double>();
  m.l2_std = m.samples > 1 ? L.std().item<double>() : 0.0;
  m.h1_std = m.samples > 1 ? H.std().item<double>() : 0.0;
  m.l2_max = L.max().item<double>();
  m.h1_max = H.max().item<double>();
  return m;
}

at::Tensor rollout(operators::Model& model, const at::Tensor& x0, std::int64_t steps) {
  PHYSML_CHECK(steps >= 1, "rollout: steps must be >= 1, got ", steps);
  torch::NoGradGuard guard;
  const bool was_training = model.is_training();
  model.eval();
  auto x = to_model(x0, model);
  std::vector<at::Tensor> frames;
  for (std::int64_t k = 0; k < steps; ++k) {
    auto next = model.forward(x);
    PHYSML_CHECK(next.sizes() == x.sizes(), "rollout: the model maps ", x.sizes(), " to ", next.sizes(),
                 "; a one-step model must keep the shape [batch, channels, spatial...]");
    frames.push_back(next);
    x = next;
  }
  if (was_training) model.train();
  return torch::cat(frames, 1);
}

RolloutMetrics evaluate_rollout(operators::Model& model, const GridDataset& data, std::int64_t steps,
                                std::int64_t batch_size) {
  const auto c = data.input_shape()[0];
  PHYSML_CHECK(steps >= 1 && data.output_shape()[0] >= steps * c && data.output_shape()[0] % c == 0, "a rollout of ",
               steps, " steps needs trajectory data with at least ", steps * c, " output channels (", steps,
               " snapshots of ", c, " channels), ", data.path(), " has ", data.output_shape()[0]);
  PHYSML_CHECK(batch_size >= 1, "batch size must be >= 1, got ", batch_size);
  std::vector<at::Tensor> per_step, full;
  for (std::int64_t b = 0; b < data.size(); b += batch_size) {
    auto [x, y] = data.range(b, std::min(data.size(), b + batch_size));
    auto p = rollout(model, x, steps).to(torch::kCPU, torch::kDouble);
    auto t = y.slice(1, 0, steps * c).to(torch::kDouble);
    const auto n = p.size(0);
    auto ps = p.reshape({n, steps, -1}), ts = t.reshape({n, steps, -1});
    per_step.push_back((ps - ts).norm(2, {2}) / ts.norm(2, {2}));  // [n, steps]
    full.push_back((ps - ts).reshape({n, -1}).norm(2, {1}) / ts.reshape({n, -1}).norm(2, {1}));
  }
  auto S = torch::cat(per_step), F = torch::cat(full);
  RolloutMetrics m;
  m.samples = F.size(0);
  auto mean_steps = S.mean(0);
  for (std::int64_t k = 0; k < steps; ++k) m.step_l2.push_back(mean_steps[k].item<double>());
  m.full_mean = F.mean().item<double>();
  m.full_std = m.samples > 1 ? F.std().item<double>() : 0.0;
  m.full_max = F.max().item<double>();
  return m;
}

TrainerOptions& TrainerOptions::set_from_options(const Options& options) {
  {
    OptionsReader r(options, "Trainer: supervised training of a field-to-field model");
    epochs(r.integer("epochs", epochs(), "total epochs of the run (the schedule length)", 1));
    batch_size(r.integer("batch_size", batch_size(), "samples per batch", 1));
    optimizer(r.choice("optimizer", {"adam", "adamw"}, optimizer(), "adam (L2 weight decay) or adamw (decoupled)"));
    weight_decay(r.real("weight_decay", weight_decay(), "weight decay"));
    loss(r.choice("loss", {"l2", "h1", "h1_spectral", "mse"}, loss(), "training loss on decoded outputs"));
    periodic(r.boolean("periodic", periodic(), "periodic finite differences in the h1 loss and metric"));
    grad_clip(r.real("grad_clip", grad_clip(), "clip the global gradient 2-norm to this value (0 = off)"));
    seed(static_cast<std::uint64_t>(r.integer("seed", static_cast<long>(seed()), "seed of the batch order", 0)));
    shuffle(r.boolean("shuffle", shuffle(), "shuffle the training samples every epoch"));
    output_dir(r.string("output", output_dir(), "directory for last.h5, best.h5, log.csv, loss.png (empty = none)"));
    stop_after(r.integer("stop_after", stop_after(), "stop after this many epochs in this call (-1 = run to -epochs)"));
  }
  auto s = schedule();
  schedule(s.set_from_options(options));
  return *this;
}

}  // namespace physml::train
