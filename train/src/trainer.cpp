#include "physml/train/trainer.hpp"

#include "physml/core/error.hpp"
#include "physml/core/random.hpp"
#include "physml/io/atomic_file.hpp"
#include "physml/core/options_reader.hpp"
#include "physml/core/log.hpp"
#include "physml/core/progress.hpp"
#include "physml/io/checkpoint.hpp"
#include "physml/operators/checkpoint.hpp"
#include "physml/train/figures.hpp"
#include "physml/train/losses.hpp"
#include "physml/operators/normalized_model.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <exception>
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

/// Per-sample relative L2 and H1 errors [end - first] (float64, CPU) of `model` on samples
/// first..end-1 of `data`, in batches of `batch_size` from `first`, no gradients.
std::pair<at::Tensor, at::Tensor> sample_errors(operators::Model& model, const GridDataset& data, std::int64_t first,
                                                std::int64_t end, std::int64_t batch_size, bool periodic) {
  torch::NoGradGuard guard;
  const bool was_training = model.is_training();
  model.eval();
  std::vector<at::Tensor> l2, h1;
  for (std::int64_t b = first; b < end; b += batch_size) {
    auto [x, y] = data.range(b, std::min(end, b + batch_size));
    x = to_model(x, model);
    y = to_model(y, model);
    auto p = model.forward(x);
    l2.push_back(relative_lp(p, y).to(torch::kDouble).cpu());
    h1.push_back(relative_h1(p, y, periodic).to(torch::kDouble).cpu());
  }
  if (was_training) model.train();
  return {torch::cat(l2), torch::cat(h1)};
}

double state_real(const io::Attributes& s, const std::string& key, double def) {
  auto it = s.find(key);
  if (it == s.end()) return def;
  if (auto* d = std::get_if<double>(&it->second)) return *d;
  if (auto* i = std::get_if<std::int64_t>(&it->second)) return static_cast<double>(*i);
  return def;
}

}  // namespace

double EpochRecord::metric(const std::string& name) const {
  auto it = metrics.find(name);
  return it == metrics.end() ? std::numeric_limits<double>::quiet_NaN() : it->second;
}

// ---- callbacks -------------------------------------------------------------------------

namespace {

std::string csv_header(const std::vector<std::string>& columns) {
  std::string h;
  for (std::size_t i = 0; i < columns.size(); ++i) h += (i ? "," : "") + columns[i];
  return h;
}

}  // namespace

void CsvLog::on_fit_begin(const Trainer& trainer, const std::vector<std::string>& metric_names) {
  columns_ = {"epoch", "lr", "train_loss"};
  columns_.insert(columns_.end(), metric_names.begin(), metric_names.end());
  columns_.push_back("seconds");
  lines_.clear();
  const std::filesystem::path dir = std::filesystem::path(path_).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir);
  if (trainer.epoch() > 0 && std::filesystem::exists(path_)) {
    // A resumed run: keep the lines of the epochs the checkpoint holds.
    std::ifstream in(path_);
    PHYSML_CHECK(in.good(), "cannot read training log ", path_);
    std::string line;
    std::getline(in, line);
    PHYSML_CHECK(line == csv_header(columns_), "training log ", path_, " has the columns '", line, "', expected '",
                 csv_header(columns_), "' (a log of another kind of training?)");
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      const long epoch = std::strtol(line.c_str(), nullptr, 10);
      if (epoch >= 1 && epoch <= trainer.epoch()) lines_.push_back(line);
    }
  }
  write();
}

void CsvLog::on_epoch_end(const Trainer&, const EpochRecord& r) {
  std::ostringstream os;
  os << std::setprecision(10) << r.epoch << ',' << r.lr << ',' << r.train_loss;
  for (std::size_t c = 3; c + 1 < columns_.size(); ++c) os << ',' << r.metric(columns_[c]);
  os << ',' << r.seconds;
  lines_.push_back(os.str());
  write();
}

void CsvLog::write() const {
  std::string content = csv_header(columns_) + '\n';
  for (const auto& l : lines_) content += l + '\n';
  io::write_text_file(path_, "training log", content);
}

void LossCurves::on_fit_end(const Trainer&, const std::vector<EpochRecord>& records) {
  if (records.empty()) return;
  try {
    write_loss_curves(png_, read_log_csv(csv_));
  } catch (const physml::Error& e) {
    log_warning("could not draw the loss curves: ", e.what());
  }
}

// ---- supervised task -------------------------------------------------------------------

SupervisedTask::SupervisedTask(const GridDataset& train, const GridDataset* valid, std::string loss, bool periodic,
                               std::int64_t eval_batch_size)
    : train_(train), valid_(valid), loss_(std::move(loss)), periodic_(periodic), eval_batch_size_(eval_batch_size) {
  PHYSML_CHECK(eval_batch_size_ >= 1, "SupervisedTask: evaluation batch size must be >= 1, got ", eval_batch_size_);
  loss_by_name(loss_, torch::ones({1, 1, 2}), torch::ones({1, 1, 2}));  // validates the loss name
}

std::int64_t SupervisedTask::size() const { return train_.size(); }

Batch SupervisedTask::batch(const std::vector<std::int64_t>& indices, std::uint64_t) const {
  auto [x, y] = train_.batch(indices);
  return {x, y};
}

at::Tensor SupervisedTask::loss(operators::Model& model, const Batch& b) {
  return loss_by_name(loss_, model.forward(b.input), b.target, periodic_);
}

std::map<std::string, double> SupervisedTask::validate(operators::Model& model) {
  if (!valid_) return {};
  auto m = evaluate(model, *valid_, eval_batch_size_, periodic_);
  return {{"valid_l2", m.l2_mean}, {"valid_h1", m.h1_mean}};
}

std::map<std::string, double> SupervisedTask::validate_part(operators::Model& model, int rank, int ranks,
                                                            std::int64_t* samples) {
  *samples = 0;
  if (!valid_) return {};
  const auto [first, end] = rank_slice(valid_->size(), rank, ranks);
  if (first == end) return {};
  auto [L, H] = sample_errors(model, *valid_, first, end, eval_batch_size_, periodic_);
  *samples = end - first;
  return {{"valid_l2", L.mean().item<double>()}, {"valid_h1", H.mean().item<double>()}};
}

// ---- trainer ---------------------------------------------------------------------------

Trainer::Trainer(std::shared_ptr<operators::Model> model, TrainerOptions options, MPI_Comm comm)
    : model_(std::move(model)), options_(std::move(options)), best_(std::numeric_limits<double>::infinity()) {
  PHYSML_CHECK(model_ != nullptr, "Trainer needs a model");
  PHYSML_CHECK(options_.epochs() >= 1, "Trainer epochs must be >= 1, got ", options_.epochs());
  PHYSML_CHECK(options_.batch_size() >= 1, "Trainer batch_size must be >= 1, got ", options_.batch_size());
  auto s = options_.schedule();
  s.total_steps = options_.epochs();
  options_.schedule(s);
  LRSchedule check(s);  // validates the schedule options
  groups_ = model_->parameter_groups();
  std::size_t grouped = 0;
  for (const auto& g : groups_) {
    lr_scales_.push_back(g.lr_scale);
    grouped += g.parameters.size();
  }
  PHYSML_CHECK(grouped == model_->parameters().size(), "Trainer: the parameter groups of the '", model_->type(),
               "' model hold ", grouped, " tensors, the model has ", model_->parameters().size());
  optimizer_ = make_optimizer(options_.optimizer(), groups_, s.lr, options_.weight_decay());
  loss_by_name(options_.loss(), torch::ones({1, 1, 2}), torch::ones({1, 1, 2}));  // validates the loss name
  PHYSML_CHECK(options_.bucket_elements() >= 1, "Trainer bucket_elements must be >= 1, got ", options_.bucket_elements());
  parallel_ = std::make_unique<DataParallel>(comm, options_.bucket_elements());
}

Trainer::~Trainer() = default;

Trainer& Trainer::add_callback(std::shared_ptr<TrainerCallback> callback) {
  PHYSML_CHECK(callback != nullptr, "Trainer::add_callback: null callback");
  callbacks_.push_back(std::move(callback));
  return *this;
}

void Trainer::resume(const std::string& checkpoint) {
  auto info = io::read_checkpoint_info(checkpoint);
  PHYSML_CHECK(info.model_type == model_->type(), "checkpoint ", checkpoint, " holds a '", info.model_type,
               "' model, cannot resume training a '", model_->type(), "' model from it");
  PHYSML_CHECK(info.has_optimizer, "checkpoint ", checkpoint, " has no optimizer state; cannot resume training from it");
  const auto epoch = static_cast<std::int64_t>(state_real(info.state, "epoch", 0));
  PHYSML_CHECK(epoch <= options_.epochs(), "checkpoint ", checkpoint, " is at epoch ", epoch, " beyond the run's ",
               options_.epochs(), " epochs");
  if (info.state.count("seed")) {
    const auto seed = static_cast<std::uint64_t>(state_real(info.state, "seed", 0));
    PHYSML_CHECK(seed == options_.seed(), "checkpoint ", checkpoint, " was trained with -seed ", seed,
                 ", this run has -seed ", options_.seed(), "; an exact resume needs the same seed (batch order)");
  }
  // (load_into refuses parameters stored in another dtype than the model's when it restores
  // the optimizer: the moments would stay in the stored one.)
  operators::load_into(checkpoint, *model_, optimizer_.get());
  epoch_ = epoch;
  // "best_validation_l2": the key of checkpoints written before the generic Trainer.
  best_ = state_real(info.state, "best_validation",
                     state_real(info.state, "best_validation_l2", std::numeric_limits<double>::infinity()));
  best_epoch_ = static_cast<std::int64_t>(state_real(info.state, "best_epoch", 0));
}

Trainer& Trainer::set_metadata(std::string options_json) {
  metadata_ = std::move(options_json);
  return *this;
}

std::vector<EpochRecord> Trainer::fit(const GridDataset& train, const GridDataset* valid) {
  SupervisedTask task(train, valid, options_.loss(), options_.periodic(), options_.batch_size());
  return fit(task);
}

namespace {

/// Run `action` on rank 0 only (the file writes of a data-parallel run), collectively: when it
/// throws on rank 0, rank 0 rethrows and every other rank throws a physml::Error naming the
/// failure, instead of waiting forever in the next reduction. On one rank: just `action()`.
template <class Action>
void on_rank0(const DataParallel& dp, Action&& action) {
  if (!dp.distributed()) {
    action();
    return;
  }
  std::exception_ptr error;
  std::string message;
  if (dp.rank() == 0) {
    try {
      action();
    } catch (const std::exception& e) {
      error = std::current_exception();
      message = e.what();
      if (message.empty()) message = "error";
    }
  }
  int n = static_cast<int>(message.size());
  MPI_Bcast(&n, 1, MPI_INT, 0, dp.comm());
  if (n == 0) return;
  message.resize(static_cast<std::size_t>(n));
  MPI_Bcast(message.data(), n, MPI_CHAR, 0, dp.comm());
  if (error) std::rethrow_exception(error);
  PHYSML_CHECK(false, "rank 0 stopped the data-parallel training: ", message);
}

/// Metrics of a data-parallel validation: TrainingTask::validate_part on every rank, reduced
/// over ranks (sums for summed_metrics(), else sample-weighted means) for the names the task
/// declares (metric_names() and criterion()). An exception on any rank is thrown on every rank.
std::map<std::string, double> reduce_validation(TrainingTask& task, operators::Model& model, const DataParallel& dp) {
  auto names = task.metric_names();
  if (std::find(names.begin(), names.end(), task.criterion()) == names.end()) names.push_back(task.criterion());
  const auto summed = task.summed_metrics();
  std::map<std::string, double> local;
  std::int64_t samples = 0;
  std::exception_ptr error;
  bool nonfinite = false;
  try {
    local = task.validate_part(model, dp.rank(), dp.size(), &samples);
  } catch (const NonFiniteError&) {
    error = std::current_exception();
    nonfinite = true;
  } catch (const std::exception&) {
    error = std::current_exception();
  }
  // [weighted sum, weight] per name, then [non-finite failures, other failures].
  std::vector<double> v(2 * names.size() + 2, 0.0);
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto it = local.find(names[i]);
    if (it == local.end() || samples == 0) continue;
    const bool sum = std::find(summed.begin(), summed.end(), names[i]) != summed.end();
    v[2 * i] = sum ? it->second : it->second * static_cast<double>(samples);
    v[2 * i + 1] = static_cast<double>(samples);
  }
  v[2 * names.size()] = error && nonfinite ? 1 : 0;
  v[2 * names.size() + 1] = error && !nonfinite ? 1 : 0;
  dp.allreduce_sum(v);
  if (error) std::rethrow_exception(error);
  if (v[2 * names.size()] > 0)
    throw NonFiniteError("validation diverged on another rank (its message is on its stderr)", __FILE__, __LINE__);
  PHYSML_CHECK(v[2 * names.size() + 1] == 0, "validation failed on another rank (its message is on its stderr)");
  std::map<std::string, double> metrics;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (v[2 * i + 1] <= 0) continue;
    const bool sum = std::find(summed.begin(), summed.end(), names[i]) != summed.end();
    metrics[names[i]] = sum ? v[2 * i] : v[2 * i] / v[2 * i + 1];
  }
  return metrics;
}

}  // namespace

std::vector<EpochRecord> Trainer::fit(TrainingTask& task) {
  const auto& o = options_;
  const DataParallel& dp = *parallel_;
  const bool distributed = dp.distributed();
  const bool writer = dp.rank() == 0;  // rank 0 writes files and progress
  task.begin_epoch(epoch_, o.epochs());
  task.prepare(*model_);  // may decide the samples (a particle task's windows depend on the model)
  PHYSML_CHECK(task.size() >= 1, "Trainer: the task has no training samples");
  LRSchedule schedule(o.schedule());
  PHYSML_CHECK(o.loss_reduction() == "mean" || o.loss_reduction() == "sum", "Trainer: loss_reduction '",
               o.loss_reduction(), "' is not one of mean, sum");
  const bool sum_over_batch = o.loss_reduction() == "sum";
  const auto parameters = model_->parameters();
  if (distributed) {
    // Every rank starts from rank 0's weights (and buffers, e.g. normalizers).
    auto tensors = parameters;
    for (const auto& b : model_->buffers()) tensors.push_back(b);
    dp.broadcast(tensors);
    if (writer && task.size() < dp.size())
      log_warning("data-parallel training: ", task.size(), " training samples on ", dp.size(),
                  " ranks; ranks ", task.size(), "..", dp.size() - 1, " have no samples and only wait");
  }
  // Gradients summed while backward runs, where that is possible (OverlappedReduction::active).
  std::optional<OverlappedReduction> overlap;
  bool warned_late = false;
  if (distributed && o.overlap_reduction()) {
    overlap.emplace(dp, parameters);
    if (!overlap->active()) overlap.reset();
  }
  const std::string dir = o.output_dir();
  std::vector<std::shared_ptr<TrainerCallback>> callbacks;
  // The log line of an epoch is written before its checkpoints: a run killed in between has a
  // log one epoch ahead, which the resumed run's CsvLog trims (the other way round, kill -9
  // after the checkpoint would lose the epoch's line for good).
  std::shared_ptr<CsvLog> log;
  if (!dir.empty() && writer) {
    const auto csv = (std::filesystem::path(dir) / "log.csv").string();
    log = std::make_shared<CsvLog>(csv);
    callbacks.push_back(std::make_shared<LossCurves>((std::filesystem::path(dir) / "loss.png").string(), csv));
  }
  if (!dir.empty()) {
    on_rank0(dp, [&] {
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      PHYSML_CHECK(!ec && std::filesystem::is_directory(dir), "Trainer: cannot create the output directory '", dir,
                   "': ", ec ? ec.message() : std::string("a file of that name exists"),
                   "; expected a directory that exists or can be created (for last.h5, best.h5, log.csv)");
      log->on_fit_begin(*this, task.metric_names());
    });
  }
  callbacks.insert(callbacks.end(), callbacks_.begin(), callbacks_.end());
  const auto metric_names = task.metric_names();
  for (auto& c : callbacks) c->on_fit_begin(*this, metric_names);
  const std::string kept = dir.empty() ? std::string() : " in " + dir;
// Divergence: NonFiniteError, the epoch's checkpoints are not written.
#define PHYSML_DIVERGED(...)                                                                                    \
  throw NonFiniteError(                                                                                        \
      detail::concat("training diverged: ", __VA_ARGS__, "; stopped, the last good checkpoint is kept", kept), \
      __FILE__, __LINE__)
  const std::int64_t last = o.stop_after() < 0 ? o.epochs() : std::min(o.epochs(), epoch_ + o.stop_after());
  std::vector<EpochRecord> records;
  std::optional<Progress> progress;
  if (o.verbose() && writer) progress.emplace("train", o.epochs(), epoch_, 10.0);
  // A step of R ranks sees batch_size × R samples: the global batches of one rank's order.
  const std::int64_t global_batch = o.batch_size() * dp.size();
  std::vector<std::int64_t> part;  // this rank's slice of a global batch
  while (epoch_ < last) {
    Timer timer;
    EpochRecord rec;
    rec.epoch = epoch_ + 1;
    rec.lr = schedule.lr(epoch_);
    set_learning_rate(*optimizer_, rec.lr, lr_scales_);
    model_->train();
    double sum = 0;
    std::int64_t nb = 0;
    task.begin_epoch(epoch_, o.epochs());
    const auto batches = epoch_batches(task.size(), global_batch, o.shuffle(), o.seed(), epoch_);
    const std::uint64_t epoch_seed = derive_seed(o.seed(), static_cast<std::uint64_t>(epoch_));
    for (const auto& global : batches) {
      std::uint64_t batch_seed = derive_seed(epoch_seed, static_cast<std::uint64_t>(nb));
      double value = 0;
      if (!distributed) {
        const auto& idx = global;
        Batch b = task.batch(idx, batch_seed);
        if (b.input.defined()) b.input = to_model(b.input, *model_);
        if (b.target.defined()) b.target = to_model(b.target, *model_);
        optimizer_->zero_grad();
        auto loss = task.loss(*model_, b);
        value = loss.item<double>();
        if (!std::isfinite(value))
          PHYSML_DIVERGED("loss is ", value, " at epoch ", epoch_ + 1, ", batch ", nb + 1, " (lr ", rec.lr, ")");
        if (sum_over_batch)
          (loss * static_cast<double>(idx.size())).backward();
        else
          loss.backward();
      } else {
        // This rank's contiguous slice; its gradient enters the sum with weight n_r / N (the
        // batch mean of the global batch) or 1 for loss_reduction sum (backward of n_r × loss).
        const auto [first, end] = rank_slice(static_cast<std::int64_t>(global.size()), dp.rank(), dp.size());
        part.assign(global.begin() + first, global.begin() + end);
        if (dp.rank() > 0) batch_seed = derive_seed(batch_seed, static_cast<std::uint64_t>(dp.rank()));
        const double n_local = static_cast<double>(part.size()), n_global = static_cast<double>(global.size());
        const double scale = sum_over_batch ? 1.0 : n_local / n_global;
        optimizer_->zero_grad();
        if (overlap) overlap->begin(scale);
        double local = 0;
        std::exception_ptr error;
        bool nonfinite = false;
        if (!part.empty()) {
          try {
            Batch b = task.batch(part, batch_seed);
            if (b.input.defined()) b.input = to_model(b.input, *model_);
            if (b.target.defined()) b.target = to_model(b.target, *model_);
            auto loss = task.loss(*model_, b);
            local = loss.item<double>();
            if (std::isfinite(local)) (sum_over_batch ? loss * n_local : loss).backward();
          } catch (const NonFiniteError&) {
            error = std::current_exception();
            nonfinite = true;
          } catch (const std::exception&) {
            error = std::current_exception();
          }
        }
        // The buckets backward has not posted, on every rank (also one that failed or has no
        // samples: the collectives must match); then one reduction of the scalars (loss,
        // failures, a gradient accumulated after its bucket left, which gradients exist).
        if (overlap) overlap->finish();
        std::vector<double> head{local * n_local, error && nonfinite ? 1.0 : 0.0, error && !nonfinite ? 1.0 : 0.0,
                                 overlap && overlap->late() ? 1.0 : 0.0};
        constexpr std::size_t flags = 4;  // head[flags + i]: parameter i has a gradient
        for (const auto& p : parameters) head.push_back(p.grad().defined() ? 1.0 : 0.0);
        dp.allreduce_sum(head);
        if (error) std::rethrow_exception(error);
        if (head[1] > 0)
          PHYSML_DIVERGED("a rank's loss blew up at epoch ", epoch_ + 1, ", batch ", nb + 1,
                          " (its message is on its stderr)");
        PHYSML_CHECK(head[2] == 0, "data-parallel training stopped: another rank failed at epoch ", epoch_ + 1,
                     ", batch ", nb + 1, " (its message is on its stderr)");
        value = head[0] / n_global;
        if (!std::isfinite(value))
          PHYSML_DIVERGED("loss is ", value, " at epoch ", epoch_ + 1, ", batch ", nb + 1, " (lr ", rec.lr, ")");
        std::vector<bool> defined(parameters.size());
        for (std::size_t i = 0; i < parameters.size(); ++i) defined[i] = head[flags + i] > 0;
        if (overlap && head[3] == 0) {
          overlap->apply(defined);
        } else {  // no overlap, or stale sums on some rank (two backward passes): reduce the gradients as they are
          if (overlap && writer && !warned_late)
            log_warning("data-parallel training: a gradient was accumulated after its bucket had been summed (",
                        "two backward passes in one step?); this step's gradients, and those of later such steps, ",
                        "are summed again after backward");
          warned_late = warned_late || overlap;
          dp.allreduce_gradients(parameters, defined, scale);
        }
      }
      if (o.grad_clip() > 0) {
        for (const auto& g : groups_) {  // per group (NCLaw clips each network's gradient on its own)
          const double norm = torch::nn::utils::clip_grad_norm_(g.parameters, o.grad_clip());
          if (!std::isfinite(norm))
            PHYSML_DIVERGED("gradient norm", groups_.size() > 1 ? " of parameter group '" + g.name + "'" : std::string(),
                            " is ", norm, " at epoch ", epoch_ + 1);
        }
      }
      optimizer_->step();
      sum += value;
      ++nb;
    }
    rec.train_loss = sum / static_cast<double>(nb);
    {
      torch::NoGradGuard no_grad;
      model_->eval();
      rec.metrics = distributed ? reduce_validation(task, *model_, dp) : task.validate(*model_);
      model_->train();
    }
    for (const auto& [name, value] : rec.metrics)
      if (!std::isfinite(value)) PHYSML_DIVERGED("validation ", name, " is ", value, " at epoch ", epoch_ + 1);
    for (const auto& p : parameters)
      if (!torch::isfinite(p).all().item<bool>()) PHYSML_DIVERGED("non-finite parameters after epoch ", epoch_ + 1);
    if (distributed) {
      // The ranks must hold the same weights (identical reductions); a cheap check per epoch.
      double checksum = 0;
      for (const auto& p : parameters) checksum += p.detach().to(torch::kDouble).abs().sum().item<double>();
      std::vector<double> range{checksum, -checksum};
      dp.allreduce_min(range);
      PHYSML_CHECK(range[0] == -range[1], "data-parallel training: the ranks' parameters differ after epoch ",
                   epoch_ + 1, " (sum |w| from ", range[0], " to ", -range[1], ")");
    }
    ++epoch_;
    rec.seconds = timer.seconds();
    const auto criterion = rec.metrics.find(task.criterion());
    const double score = criterion != rec.metrics.end() ? criterion->second : rec.train_loss;
    const bool improved = score < best_;
    if (improved) {
      best_ = score;
      best_epoch_ = epoch_;
    }
    if (!dir.empty()) {
      on_rank0(dp, [&] {
        io::Attributes state{{"epoch", static_cast<std::int64_t>(epoch_)},
                             {"best_validation", best_},
                             {"best_epoch", static_cast<std::int64_t>(best_epoch_)},
                             {"criterion", criterion != rec.metrics.end() ? task.criterion() : std::string("train_loss")},
                             {"train_loss", rec.train_loss},
                             {"seed", static_cast<std::int64_t>(o.seed())}};
        if (!metadata_.empty()) state["options"] = metadata_;
        log->on_epoch_end(*this, rec);
        operators::save((std::filesystem::path(dir) / "last.h5").string(), *model_, state, optimizer_.get());
        if (improved) operators::save((std::filesystem::path(dir) / "best.h5").string(), *model_, state);
      });
    }
    for (auto& c : callbacks) c->on_epoch_end(*this, rec);
    std::ostringstream status;
    status << std::setprecision(4) << "loss " << rec.train_loss;
    if (criterion != rec.metrics.end()) status << "  " << task.criterion() << " " << criterion->second;
    if (progress) progress->advance(1, status.str());
    records.push_back(rec);
  }
#undef PHYSML_DIVERGED
  if (progress) progress->finish();
  for (auto& c : callbacks) c->on_fit_end(*this, records);
  return records;
}

Metrics evaluate(operators::Model& model, const GridDataset& data, std::int64_t batch_size, bool periodic) {
  auto [L, H] = sample_errors(model, data, 0, data.size(), batch_size, periodic);
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

TrainerOptions& TrainerOptions::set_from_options(const Options& options, const std::string& title) {
  {
    OptionsReader r(options, title.empty() ? std::string("Trainer: training of a model on a task") : title);
    epochs(r.integer("epochs", epochs(), "total epochs of the run (the schedule length)", 1));
    batch_size(r.integer("batch_size", batch_size(), "samples per batch on each rank (a step sees batch_size x ranks)", 1));
    optimizer(r.choice("optimizer", {"adam", "adamw"}, optimizer(), "adam (L2 weight decay) or adamw (decoupled)"));
    weight_decay(r.real("weight_decay", weight_decay(), "weight decay"));
    loss(r.choice("loss", {"l2", "h1", "h1_spectral", "mse"}, loss(), "training loss of supervised training, on decoded outputs"));
    loss_reduction(r.choice("loss_reduction", {"mean", "sum"}, loss_reduction(),
                            "back-propagate the batch mean of the loss or its sum over the batch (legacy FNO/MgNO scripts: sum)"));
    periodic(r.boolean("periodic", periodic(), "periodic finite differences in the h1 loss and metric"));
    grad_clip(r.real("grad_clip", grad_clip(), "clip the global gradient 2-norm to this value (0 = off)"));
    seed(static_cast<std::uint64_t>(r.integer("seed", static_cast<long>(seed()), "seed of the batch order (and of batch noise)", 0)));
    shuffle(r.boolean("shuffle", shuffle(), "shuffle the training samples every epoch"));
    output_dir(r.string("output", output_dir(), "directory for last.h5, best.h5, log.csv, loss.png (empty = none)"));
    stop_after(r.integer("stop_after", stop_after(), "stop after this many epochs in this call (-1 = run to -epochs)"));
    overlap_reduction(r.boolean("overlap_reduction", overlap_reduction(),
                                "several ranks: sum gradient buckets while backward runs (false: all after it)"));
    bucket_elements(r.integer("bucket_elements", bucket_elements(),
                              "several ranks: gradient values per bucket (one MPI_Allreduce each)", 1));
  }
  auto s = schedule();
  // The trainer's default title keeps the schedule's; another title (other defaults) names it.
  if (title.empty())
    s.set_from_options(options);
  else
    s.set_from_options(options, "Learning-rate schedule of the " + title);
  schedule(s);
  return *this;
}

}  // namespace physml::train
