#pragma once
/// \file trainer.hpp
/// The one training loop: a Trainer runs any TrainingTask (supervised operator learning on
/// GridDataset pairs, the unsupervised DCDM loss, ...) on an operators::Model, with
/// callbacks for logging and figures, best-validation and last Checkpoints, exact resume,
/// NaN/Inf detection and gradient clipping; data-parallel over the ranks of an MPI
/// communicator (docs/parallel.md).

#include "physml/operators/registry.hpp"
#include "physml/train/data_parallel.hpp"
#include "physml/train/dataset.hpp"
#include "physml/train/schedule.hpp"

#include <torch/arg.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace physml {
class Options;
}

namespace physml::train {

/// Options of a training run.
struct TrainerOptions {
  /// Total epochs of the run (the schedule length).
  TORCH_ARG(std::int64_t, epochs) = 10;
  /// Samples per batch on each rank: a step of a run on R ranks sees batch_size × R samples.
  TORCH_ARG(std::int64_t, batch_size) = 8;
  /// "adam" (L2 weight decay) or "adamw".
  TORCH_ARG(std::string, optimizer) = "adam";
  TORCH_ARG(double, weight_decay) = 1e-4;
  /// Learning-rate schedule, stepped once per epoch (lr is its peak/base lr; total_steps is
  /// set to epochs).
  TORCH_ARG(ScheduleOptions, schedule) = {};
  /// Training loss of supervised training (SupervisedTask): "l2", "h1", "h1_spectral" or
  /// "mse" (see loss_by_name), on decoded outputs.
  TORCH_ARG(std::string, loss) = "l2";
  /// Periodic finite differences for the "h1" loss and metric.
  TORCH_ARG(bool, periodic) = false;
  /// What is back-propagated for a batch: "mean" (the task's loss, a batch mean) or "sum"
  /// (that mean times the batch's sample count, as the legacy FNO and MgNO scripts do with
  /// their summed relative loss). Adam is blind to the scale of the gradient except for its
  /// L2 weight decay: with "sum", optimizer "adam" and weight decay λ train as "mean" with
  /// λ / batch size. The logged train_loss is the mean either way.
  TORCH_ARG(std::string, loss_reduction) = "mean";
  /// Clip the global gradient 2-norm to this value (0 = off).
  TORCH_ARG(double, grad_clip) = 0.0;
  /// Seed of the batch order (derive_seed(seed, epoch)) and of the tasks' batch seeds.
  TORCH_ARG(std::uint64_t, seed) = 0;
  /// Shuffle the training samples every epoch.
  TORCH_ARG(bool, shuffle) = true;
  /// Directory for last.h5, best.h5, log.csv and loss.png ("" = write nothing).
  TORCH_ARG(std::string, output_dir) = "";
  /// Stop after this many epochs in this call (-1 = run to `epochs`); for interrupted runs.
  TORCH_ARG(std::int64_t, stop_after) = -1;
  /// Print progress.
  TORCH_ARG(bool, verbose) = true;
  /// On several ranks: sum gradient buckets over the ranks while backward still runs
  /// (OverlappedReduction), instead of all of them after it. Either way the same sums. Off by
  /// default: on CPU ranks sharing one machine the overlap has no idle resource to use and
  /// Open MPI's nonblocking allreduce is slower than its blocking one (docs/parallel.md).
  TORCH_ARG(bool, overlap_reduction) = false;
  /// On several ranks: values per gradient bucket (one MPI_Allreduce each).
  TORCH_ARG(std::int64_t, bucket_elements) = kDefaultBucketElements;

public:
  /// Read -epochs, -batch_size, -optimizer, -weight_decay, -loss, -loss_reduction, -periodic, -grad_clip, -seed,
  /// -shuffle, -output, -stop_after, -overlap_reduction, -bucket_elements and the schedule's keys (ScheduleOptions::set_from_options)
  /// under the prefix of `options`; the current values are the defaults. A non-empty `title`
  /// heads a section of its own in -help (one per set of defaults, e.g. the DCDM trainer's;
  /// PETSc prints a section title once).
  TrainerOptions& set_from_options(const Options& options, const std::string& title = "");
};

/// One line of the training log.
struct EpochRecord {
  std::int64_t epoch = 0;  ///< 1-based epoch number
  double lr = 0;           ///< learning rate used in this epoch
  double train_loss = 0;   ///< mean of the batch losses of the epoch
  /// Validation metrics of the task after the epoch, by name (TrainingTask::metric_names());
  /// a metric the task did not compute (no validation data) is absent.
  std::map<std::string, double> metrics;
  double seconds = 0;      ///< wall time of the epoch
  /// metrics[name], or NaN if absent.
  double metric(const std::string& name) const;
};

/// A batch of a TrainingTask: whatever tensors its loss needs. The Trainer moves defined
/// tensors to the model's device and dtype. Supervised: input [batch, c_in, spatial...],
/// target [batch, c_out, spatial...]; DCDM: input = right-hand sides [batch, n], no target.
struct Batch {
  at::Tensor input;
  at::Tensor target;
};

/// What a Trainer optimizes: training samples, the loss of a model on a batch of them, and
/// validation metrics. The Trainer owns the loop (batch order, optimizer, schedule,
/// checkpoints, callbacks); a task owns the data and the objective.
class TrainingTask {
public:
  virtual ~TrainingTask() = default;
  /// Number of training samples; an epoch visits indices 0..size()-1 in epoch_batches order.
  virtual std::int64_t size() const = 0;
  /// Called once at the start of Trainer::fit: check that `model` fits the data (throw
  /// physml::Error naming the mismatch) and move data to its device.
  virtual void prepare(operators::Model& model) { (void)model; }
  /// Called by the Trainer before each epoch (0-based `epoch` of `epochs`), before size() is
  /// read for that epoch: for tasks whose samples depend on the epoch (NCLaw's growing
  /// segments). A pure function of the epoch keeps resume exact.
  virtual void begin_epoch(std::int64_t epoch, std::int64_t epochs) {
    (void)epoch;
    (void)epochs;
  }
  /// The batch of training samples `indices`. `seed` is a pure function of the trainer's
  /// seed, the epoch and the batch number (for tasks that add noise, so a resumed run draws
  /// the same noise).
  virtual Batch batch(const std::vector<std::int64_t>& indices, std::uint64_t seed) const = 0;
  /// Loss of `model` on `batch`: a scalar tensor with gradients.
  virtual at::Tensor loss(operators::Model& model, const Batch& batch) = 0;
  /// Names of the validation metrics, in the order of the CSV log's columns.
  virtual std::vector<std::string> metric_names() const { return {}; }
  /// Validation metrics of `model` (the Trainer calls this after each epoch, model in eval
  /// mode, no gradients); empty if there are no validation data.
  virtual std::map<std::string, double> validate(operators::Model& model) {
    (void)model;
    return {};
  }
  /// The metric minimized for best.h5 ("train_loss" when validate() does not return it).
  virtual std::string criterion() const { return "train_loss"; }
  /// Validation in a data-parallel run (the Trainer on more than one rank calls this instead
  /// of validate(), on every rank): the metrics of this rank's part `rank` of `ranks` of the
  /// validation data, and in *samples the weight of its numbers (the samples of its part, 0
  /// for none). The Trainer sums each metric of metric_names() (and criterion()) over ranks
  /// for summed_metrics(), else takes the sample-weighted mean, so every rank sees the same
  /// numbers. The default validates the whole set on every rank with weight 1 (the mean of
  /// equal numbers for a deterministic validate(); duplicated work, no extra code).
  virtual std::map<std::string, double> validate_part(operators::Model& model, int rank, int ranks,
                                                      std::int64_t* samples) {
    (void)rank;
    (void)ranks;
    *samples = 1;
    return validate(model);
  }
  /// Metrics that count events of this rank (e.g. training segments dropped): summed over
  /// ranks instead of averaged in a data-parallel run.
  virtual std::vector<std::string> summed_metrics() const { return {}; }
};

class Trainer;

/// Hooks of Trainer::fit for logging and figures. The Trainer installs a CsvLog (log.csv)
/// and a LossCurves (loss.png) callback when output_dir is set.
class TrainerCallback {
public:
  virtual ~TrainerCallback() = default;
  /// Before the first epoch of this fit call (trainer.epoch() epochs are already done).
  virtual void on_fit_begin(const Trainer& trainer, const std::vector<std::string>& metric_names) {
    (void)trainer;
    (void)metric_names;
  }
  /// After each epoch, once its checkpoints are written.
  virtual void on_epoch_end(const Trainer& trainer, const EpochRecord& record) {
    (void)trainer;
    (void)record;
  }
  /// After the last epoch of this fit call (not called when fit throws).
  virtual void on_fit_end(const Trainer& trainer, const std::vector<EpochRecord>& records) {
    (void)trainer;
    (void)records;
  }
};

/// The training log as CSV: "epoch,lr,train_loss,<metric names...>,seconds", one line per
/// epoch, rewritten atomically after every epoch. On a resumed fit it keeps the lines of the
/// epochs the checkpoint holds and drops any later ones: Trainer::fit writes an epoch's line
/// before the epoch's checkpoints, so a run killed in between (even by SIGKILL) has a log one
/// epoch ahead, and the log of an interrupted run equals the uninterrupted one's.
class CsvLog : public TrainerCallback {
public:
  explicit CsvLog(std::string path) : path_(std::move(path)) {}
  void on_fit_begin(const Trainer& trainer, const std::vector<std::string>& metric_names) override;
  void on_epoch_end(const Trainer& trainer, const EpochRecord& record) override;

private:
  void write() const;
  std::string path_;
  std::vector<std::string> columns_;
  std::vector<std::string> lines_;
};

/// Draws the loss curves of the whole run (read back from `csv`, resumed epochs included)
/// into `png` at the end of fit (train/figures.hpp); a failure to draw is a warning.
class LossCurves : public TrainerCallback {
public:
  LossCurves(std::string png, std::string csv) : png_(std::move(png)), csv_(std::move(csv)) {}
  void on_fit_end(const Trainer& trainer, const std::vector<EpochRecord>& records) override;

private:
  std::string png_, csv_;
};

/// Supervised operator learning on GridDataset pairs: loss_by_name(loss, model(x), y) on
/// decoded outputs; validation metrics "valid_l2" and "valid_h1" (mean relative L2 and H1,
/// evaluate()); best.h5 by valid_l2.
class SupervisedTask : public TrainingTask {
public:
  /// `valid` may be null (no validation; best.h5 by training loss). Both must outlive the task.
  SupervisedTask(const GridDataset& train, const GridDataset* valid, std::string loss = "l2", bool periodic = false,
                 std::int64_t eval_batch_size = 8);
  std::int64_t size() const override;
  Batch batch(const std::vector<std::int64_t>& indices, std::uint64_t seed) const override;
  at::Tensor loss(operators::Model& model, const Batch& batch) override;
  std::vector<std::string> metric_names() const override { return {"valid_l2", "valid_h1"}; }
  std::map<std::string, double> validate(operators::Model& model) override;
  /// valid_l2 and valid_h1 over this rank's contiguous part (rank_slice) of the validation set.
  std::map<std::string, double> validate_part(operators::Model& model, int rank, int ranks,
                                              std::int64_t* samples) override;
  std::string criterion() const override { return "valid_l2"; }

private:
  const GridDataset& train_;
  const GridDataset* valid_;
  std::string loss_;
  bool periodic_;
  std::int64_t eval_batch_size_;
};

/// Trains an operators::Model (on its own device and dtype) for a TrainingTask: Adam/AdamW
/// with an epoch-wise learning-rate schedule, batches in epoch_batches(size, batch_size,
/// shuffle, seed, epoch) order, NaN/Inf detection, gradient clipping, progress, and in
/// output_dir the Checkpoints last.h5 (every epoch, with optimizer state) and best.h5 (best
/// criterion), log.csv and loss.png.
///
/// Exact resume: resume(last.h5) restores the weights, the optimizer state (Adam moments and
/// step counts), the epoch and the best criterion value and epoch. The schedule is a pure
/// function of the epoch (schedule.hpp) and the batch order and batch seeds are pure
/// functions of (seed, epoch), so nothing else carries state between epochs: a run stopped
/// after k epochs and resumed by a new Trainer ends bit for bit where the uninterrupted run
/// ends (tests/train/test_trainer.cpp, test_dcdm_train.cpp). The Trainer draws no numbers
/// from torch's global generator.
///
/// Data parallelism: on a communicator of R > 1 ranks every rank walks the same batch order of
/// global batches of batch_size × R samples and trains on its contiguous rank_slice of each;
/// the gradients are summed over ranks weighted by each rank's sample count (DataParallel, a
/// duplicate of `comm`), so a step is the one-rank step of the global batch to rounding. Rank
/// 0's parameters and buffers are broadcast at the start of fit; training loss and validation
/// metrics are reduced over ranks (validate_part), so every rank takes the same decisions; only
/// rank 0 writes checkpoints, the log, figures and progress. Batch seeds of rank r > 0 are
/// derive_seed(seed of the batch, r): ranks draw different noise. A checkpoint does not depend
/// on the rank count (resume on any). On one rank nothing of this runs (no MPI call).
class Trainer {
public:
  /// `comm`: the ranks that train together (all must construct the Trainer and call fit; a
  /// communicator of one rank trains alone).
  Trainer(std::shared_ptr<operators::Model> model, TrainerOptions options, MPI_Comm comm = PETSC_COMM_WORLD);
  ~Trainer();
  /// Continue from a Checkpoint written by a Trainer (last.h5). The model must have the same
  /// type and options, and the run the same seed (else the batch order would differ).
  void resume(const std::string& checkpoint);
  /// How the run was configured, stored as the "options" attribute of every Checkpoint it
  /// writes (e.g. an OptionsRecorder's json() over everything the driver read: the data, the
  /// model, the trainer), so a checkpoint records exactly how it was made.
  Trainer& set_metadata(std::string options_json);
  /// Add a callback (after the default CsvLog and LossCurves of output_dir, which run on rank
  /// 0 only); added callbacks run on every rank (check rank() before writing files).
  Trainer& add_callback(std::shared_ptr<TrainerCallback> callback);
  /// Train `task` until `epochs` (or stop_after epochs in this call). Throws
  /// physml::NonFiniteError if a loss, gradient, validation metric or parameter becomes
  /// NaN/Inf, leaving the Checkpoints of the last good epoch in place.
  std::vector<EpochRecord> fit(TrainingTask& task);
  /// Supervised training on GridDataset pairs: fit(SupervisedTask(train, valid, loss,
  /// periodic, batch_size)).
  std::vector<EpochRecord> fit(const GridDataset& train, const GridDataset* valid = nullptr);
  /// Epochs completed (including resumed ones).
  std::int64_t epoch() const { return epoch_; }
  /// Best criterion value so far (infinity before the first epoch) and its epoch (0 = none).
  double best_validation() const { return best_; }
  std::int64_t best_epoch() const { return best_epoch_; }
  const TrainerOptions& options() const { return options_; }
  operators::Model& model() const { return *model_; }
  torch::optim::Optimizer& optimizer() { return *optimizer_; }
  /// This rank and the number of ranks training together (0 and 1 without MPI).
  int rank() const { return parallel_->rank(); }
  int ranks() const { return parallel_->size(); }
  /// The reductions over ranks (e.g. to count its MPI_Allreduce calls).
  const DataParallel& data_parallel() const { return *parallel_; }

private:
  std::shared_ptr<operators::Model> model_;
  TrainerOptions options_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::vector<operators::ParameterGroup> groups_;  // the model's, fixed at construction
  std::vector<double> lr_scales_;
  std::vector<std::shared_ptr<TrainerCallback>> callbacks_;
  std::string metadata_;
  std::int64_t epoch_ = 0;
  double best_;
  std::int64_t best_epoch_ = 0;
  std::unique_ptr<DataParallel> parallel_;
};

/// Mean/std/max of per-sample relative L2 and H1 errors of `model` on `data`, batched.
struct Metrics {
  double l2_mean = 0, l2_std = 0, l2_max = 0;
  double h1_mean = 0, h1_std = 0, h1_max = 0;
  std::int64_t samples = 0;
};
Metrics evaluate(operators::Model& model, const GridDataset& data, std::int64_t batch_size = 8, bool periodic = false);

/// Autoregressive rollout of a one-step model: x0 [batch, c, spatial...] (w(t_0)) ->
/// [batch, steps*c, spatial...] whose channels k*c..(k+1)*c-1 are model^(k+1)(x0), the
/// prediction of w(t_{k+1}) (no gradients; the model's device and dtype).
at::Tensor rollout(operators::Model& model, const at::Tensor& x0, std::int64_t steps);

/// Errors of an autoregressive rollout against trajectory data.
struct RolloutMetrics {
  /// Mean over samples of the relative L2 error of step k+1, ||p_k - w_k|| / ||w_k||.
  std::vector<double> step_l2;
  /// Per-sample relative L2 of the whole rollout (all steps and grid points at once, MgNO's
  /// test_l2_full): mean, standard deviation and maximum over samples.
  double full_mean = 0, full_std = 0, full_max = 0;
  std::int64_t samples = 0;
};

/// Roll `model` out `steps` steps from the inputs w(t_0) of trajectory data (`data` opened with
/// snapshot_pairs = 0: outputs w(t_1..t_T), T >= steps) and compare with the stored snapshots.
RolloutMetrics evaluate_rollout(operators::Model& model, const GridDataset& data, std::int64_t steps,
                                std::int64_t batch_size = 8);

}  // namespace physml::train
