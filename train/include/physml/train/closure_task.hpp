#pragma once
/// \file closure_task.hpp
/// A-posteriori training of a learned Burgers closure through the differentiable coarse
/// solver (simulators/coarse_burgers.hpp): every sample is a window of a filtered fine
/// trajectory, ū(t_j) .. ū(t_{j+window}); the loss rolls the coarse solver with the model's
/// closure out from ū(t_j) over `window` snapshot intervals (`substeps` coarse steps each) and
/// compares every snapshot with the filtered fine one (relative MSE, gradients through the
/// whole rollout). The model maps ū [B, 1, n] to the closure term [B, 1, n] (any registered
/// operator, typically a NormalizedModel around an FNO trained a-priori on (ū, τ) pairs first).

#include "physml/simulators/coarse_burgers.hpp"
#include "physml/train/trainer.hpp"

#include <torch/arg.h>

#include <memory>
#include <vector>

namespace physml::train {

struct ClosureTaskOptions {
  /// Snapshot intervals per training rollout.
  TORCH_ARG(std::int64_t, window) = 10;
  /// Coarse time steps per snapshot interval (dt = interval / substeps).
  TORCH_ARG(std::int64_t, substeps) = 10;
  /// A training window starts every `stride` snapshots (validation windows never overlap).
  TORCH_ARG(std::int64_t, stride) = 1;

public:
  /// Read -window, -substeps and -stride under the prefix of `options`.
  ClosureTaskOptions& set_from_options(const Options& options);
};

/// The closure a model defines: c(ū, t) = model(ū[:, None])[:, 0] (time is not an input).
simulators::BurgersClosure model_closure(operators::Model& model);

class ClosureTask : public TrainingTask {
public:
  /// `train` (and `valid`, may be null) with at least window + 1 equally spaced snapshots
  /// each; throws physml::Error naming the mismatch otherwise. Both are copied.
  ClosureTask(simulators::FilteredBurgers train, const simulators::FilteredBurgers* valid,
              ClosureTaskOptions options = {});
  std::int64_t size() const override;
  void prepare(operators::Model& model) override;
  /// The window numbers as input [B] (float64); no target (loss() rolls the windows out).
  Batch batch(const std::vector<std::int64_t>& indices, std::uint64_t seed) const override;
  at::Tensor loss(operators::Model& model, const Batch& batch) override;
  /// valid_loss: the training loss on every window of the validation trajectories;
  /// valid_final_l2: relative L2 of the last snapshot of the windows.
  std::vector<std::string> metric_names() const override { return {"valid_final_l2", "valid_loss"}; }
  std::map<std::string, double> validate(operators::Model& model) override;
  std::string criterion() const override { return "valid_loss"; }

  /// The coarse time step: snapshot interval / substeps.
  double dt() const { return dt_; }

private:
  struct Windows;
  /// Mean relative MSE (and final-snapshot relative L2) of the windows `indices` of `data`.
  std::pair<at::Tensor, at::Tensor> rollout_error(operators::Model& model, const Windows& data,
                                                  const std::vector<std::int64_t>& indices) const;
  std::shared_ptr<Windows> train_, valid_;
  ClosureTaskOptions options_;
  double dt_ = 0;
};

}  // namespace physml::train
