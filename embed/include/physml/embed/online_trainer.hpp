#pragma once
/// \file online_trainer.hpp
/// Online training of an embedded model from inside a running solver: the solver feeds
/// input/target batches (or a loss it computes through autograd), the trainer steps the
/// optimizer (Adam/AdamW of train/schedule.hpp, with the learning-rate schedule stepped once
/// per training step), clips the gradient norm, and writes and resumes PhysML Checkpoints
/// (the Trainer's format: parameters, Adam state, training state) exactly.
///
///   -online_lr 1e-3 -online_grad_clip 1 -online_checkpoint closure_last.h5 -online_checkpoint_every 100
/// (or the same keys in a YAML file read with -options_file_yaml).

#include "physml/embed/model.hpp"
#include "physml/train/schedule.hpp"

#include <torch/arg.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace physml {
class Options;
}

namespace physml::embed {

/// Options of an OnlineTrainer.
struct OnlineTrainerOptions {
  /// "adam" (L2 weight decay) or "adamw" (decoupled).
  TORCH_ARG(std::string, optimizer) = "adam";
  TORCH_ARG(double, weight_decay) = 0.0;
  /// Learning-rate schedule (lr = its base/peak rate), stepped once per training step;
  /// total_steps is set from `total_steps`.
  TORCH_ARG(train::ScheduleOptions, schedule) = {};
  /// Length of the schedule in training steps (cosine and onecycle need it).
  TORCH_ARG(std::int64_t, total_steps) = 1000;
  /// Loss of step(inputs, targets): a name of train::loss_by_name ("mse", "l2", "h1", ...),
  /// summed over the outputs.
  TORCH_ARG(std::string, loss) = "mse";
  /// Clip the global gradient 2-norm to this value (0 = off).
  TORCH_ARG(double, grad_clip) = 0.0;
  /// Checkpoint written every checkpoint_every steps ("" or 0 = never automatically).
  TORCH_ARG(std::string, checkpoint) = "";
  TORCH_ARG(std::int64_t, checkpoint_every) = 0;

public:
  /// Read -optimizer, -weight_decay, -total_steps, -loss, -grad_clip, -checkpoint,
  /// -checkpoint_every and the schedule's keys (-lr, -schedule, ...) under the prefix of
  /// `options`; the current values are the defaults.
  OnlineTrainerOptions& set_from_options(const Options& options);
};

/// Trains a Model in place while the solver runs. Each step holds the model's exclusive lock
/// (concurrent Model::forward calls wait), runs in training mode and returns the model to
/// evaluation mode. A step whose loss or gradient norm is NaN/Inf throws NonFiniteError
/// without changing the parameters.
///
/// Exact resume: the learning rate is a pure function of the step count and the optimizer
/// state is saved with the parameters, so a trainer resumed from a checkpoint written after k
/// steps and fed the same batches ends bit for bit where an uninterrupted one ends.
class OnlineTrainer {
public:
  /// `model` must outlive the trainer.
  OnlineTrainer(Model& model, OnlineTrainerOptions options = {});
  ~OnlineTrainer();
  OnlineTrainer(const OnlineTrainer&) = delete;
  OnlineTrainer& operator=(const OnlineTrainer&) = delete;

  /// One step on a batch: loss(model(inputs)[k], targets[k]) summed over the outputs k.
  /// Returns the loss before the step.
  double step(const std::vector<at::Tensor>& inputs, const std::vector<at::Tensor>& targets);
  double step(const at::Tensor& input, const at::Tensor& target);
  /// The same on caller memory (no copies of inputs or targets).
  double step(const std::vector<ArrayView>& inputs, const std::vector<ArrayView>& targets);
  /// One step on a loss the caller computes: `loss(model)` returns a scalar tensor built from
  /// model.forward_with_grad(...) (not Model::forward, which would wait for the lock this step
  /// holds) and anything else the caller's autograd graph contains.
  double step(const std::function<at::Tensor(Model&)>& loss);

  /// Write a Checkpoint (parameters, optimizer state, step count) atomically (under the
  /// model's shared lock: concurrent inference goes on, steps wait).
  void save(const std::string& path) const;
  /// Restore parameters, optimizer state and step count from a Checkpoint this trainer's
  /// save() wrote (for the same model type and options).
  void resume(const std::string& path);

  /// Training steps done (resumed ones included).
  std::int64_t steps() const { return steps_; }
  /// Learning rate of the next step.
  double learning_rate() const;
  const OnlineTrainerOptions& options() const { return options_; }
  Model& model() const { return model_; }

private:
  double finish_step(at::Tensor loss);
  void write_checkpoint(const std::string& path) const;
  Model& model_;
  OnlineTrainerOptions options_;
  std::unique_ptr<train::LRSchedule> schedule_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::int64_t steps_ = 0;
};

}  // namespace physml::embed
