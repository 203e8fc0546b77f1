#pragma once
/// \file trainer.hpp
/// Supervised training of an operators::Model on GridDataset pairs: epochs with progress,
/// validation every epoch, best-validation and last Checkpoints, exact resume, NaN/Inf
/// detection, gradient clipping and a CSV log.

#include "physml/operators/registry.hpp"
#include "physml/train/dataset.hpp"
#include "physml/train/schedule.hpp"

#include <torch/arg.h>

#include <cstdint>
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
  TORCH_ARG(std::int64_t, batch_size) = 8;
  /// "adam" (L2 weight decay) or "adamw".
  TORCH_ARG(std::string, optimizer) = "adam";
  TORCH_ARG(double, weight_decay) = 1e-4;
  /// Learning-rate schedule, stepped once per epoch (lr is its peak/base lr; total_steps is
  /// set to epochs).
  TORCH_ARG(ScheduleOptions, schedule) = {};
  /// Training loss: "l2", "h1", "h1_spectral" or "mse" (see loss_by_name), on decoded outputs.
  TORCH_ARG(std::string, loss) = "l2";
  /// Periodic finite differences for the "h1" loss and metric.
  TORCH_ARG(bool, periodic) = false;
  /// Clip the global gradient 2-norm to this value (0 = off).
  TORCH_ARG(double, grad_clip) = 0.0;
  /// Seed of the batch order (derive_seed(seed, epoch)).
  TORCH_ARG(std::uint64_t, seed) = 0;
  /// Shuffle the training samples every epoch.
  TORCH_ARG(bool, shuffle) = true;
  /// Directory for last.h5, best.h5 and log.csv ("" = write nothing).
  TORCH_ARG(std::string, output_dir) = "";
  /// Stop after this many epochs in this call (-1 = run to `epochs`); for interrupted runs.
  TORCH_ARG(std::int64_t, stop_after) = -1;
  /// Print progress.
  TORCH_ARG(bool, verbose) = true;

public:
  /// Read -epochs, -batch_size, -optimizer, -weight_decay, -loss, -periodic, -grad_clip, -seed,
  /// -shuffle, -output, -stop_after and the schedule's keys (ScheduleOptions::set_from_options)
  /// under the prefix of `options`; the current values are the defaults.
  TrainerOptions& set_from_options(const Options& options);
};

/// One line of the training log.
struct EpochRecord {
  std::int64_t epoch = 0;      ///< 1-based epoch number
  double lr = 0;               ///< learning rate used in this epoch
  double train_loss = 0;       ///< mean training loss over batches
  double valid_l2 = 0;         ///< mean relative L2 on the validation set (NaN if none)
  double valid_h1 = 0;         ///< mean relative H1 (finite differences) on the validation set
  double seconds = 0;          ///< wall time of the epoch
};

/// Trains `model` (its own device and dtype; data are moved to them).
class Trainer {
public:
  Trainer(std::shared_ptr<operators::Model> model, TrainerOptions options);
  ~Trainer();
  /// Continue from a Checkpoint written by this trainer (last.h5): model, optimizer, epoch,
  /// best validation loss. The model must have the same type and options.
  void resume(const std::string& checkpoint);
  /// Train until `epochs` (or stop_after epochs in this call). Throws physml::Error if a loss
  /// or gradient becomes NaN/Inf, leaving the Checkpoints of the last good epoch in place.
  std::vector<EpochRecord> fit(const GridDataset& train, const GridDataset* valid = nullptr);
  /// Epochs completed (including resumed ones).
  std::int64_t epoch() const { return epoch_; }
  double best_validation() const { return best_; }
  torch::optim::Optimizer& optimizer() { return *optimizer_; }

private:
  std::shared_ptr<operators::Model> model_;
  TrainerOptions options_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::int64_t epoch_ = 0;
  double best_;
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
