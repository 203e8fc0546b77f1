#pragma once
/// \file schedule.hpp
/// Optimizers (Adam, AdamW) and learning-rate schedules as pure functions of the step count,
/// so a resumed run gets exactly the learning rates of an uninterrupted one.

#include "physml/operators/registry.hpp"

#include <torch/optim/optimizer.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace physml {
class Options;
}

namespace physml::train {

/// Adam ("adam", L2 weight decay added to the gradient, as in the FNO/MgNO Adam.py) or AdamW
/// ("adamw", decoupled weight decay). Unknown names throw physml::Error.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::string& name,
                                                        std::vector<at::Tensor> parameters, double lr,
                                                        double weight_decay);

/// The same with one optimizer parameter group per model group, each at lr * lr_scale.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::string& name,
                                                        const std::vector<operators::ParameterGroup>& groups,
                                                        double lr, double weight_decay);

/// Set the learning rate of every parameter group (Adam/AdamW): lr * scales[g] for group g if
/// `scales` is given (one per group), else lr.
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr, const std::vector<double>& scales = {});

/// Options of a learning-rate schedule (t = 0, 1, ... counts scheduler steps: epochs or iterations).
struct ScheduleOptions {
  /// "constant", "step", "cosine" or "onecycle".
  std::string type = "constant";
  /// Base learning rate; the peak (max_lr) for "onecycle".
  double lr = 1e-3;
  /// Total number of scheduler steps (cosine, onecycle).
  std::int64_t total_steps = 1;
  /// step: lr * gamma^floor(t / step_size).
  std::int64_t step_size = 100;
  double gamma = 0.5;
  /// cosine: lr_min + (lr - lr_min) (1 + cos(pi t / total_steps)) / 2.
  double min_lr = 0.0;
  /// onecycle (PyTorch OneCycleLR, cosine annealing, two phases): from lr / div_factor up to lr over
  /// the first pct_start * total_steps - 1 steps, then down to lr / div_factor / final_div_factor at
  /// step total_steps - 1. MgNO: div_factor 2, pct_start 0.2, final_div_factor 100, stepped per epoch.
  /// Runs too short for a warm-up phase (pct_start * total_steps <= 1) only anneal down from lr.
  double pct_start = 0.3;
  double div_factor = 25.0;
  double final_div_factor = 1e4;
  /// Linear warm-up multiplier (t + 1) / warmup_steps for t < warmup_steps, on top of the schedule.
  std::int64_t warmup_steps = 0;

  /// Read -schedule, -lr, -step_size, -gamma, -min_lr, -pct_start, -div_factor,
  /// -final_div_factor and -warmup under the prefix of `options`; the current values are the
  /// defaults. total_steps is not read: the trainer sets it to its epochs. `title` heads the
  /// section in -help (PETSc prints a section title once: another set of defaults needs its own).
  ScheduleOptions& set_from_options(const Options& options,
                                    const std::string& title = "Learning-rate schedule (stepped once per epoch)");
};

/// A learning-rate schedule: lr(t) in closed form.
class LRSchedule {
public:
  explicit LRSchedule(ScheduleOptions options);
  /// Learning rate at scheduler step t >= 0.
  double lr(std::int64_t t) const;
  const ScheduleOptions& options() const { return options_; }

private:
  ScheduleOptions options_;
};

}  // namespace physml::train
