#pragma once
/// \file particle_task.hpp
/// Training a learned particle simulator (GNS, GIOROM: operators/particle_model.hpp) on
/// Trajectory files of `physml simulate` (GNS and GIOROM training recipes): every sample is
/// one (trajectory, frame t) window x_{t-W} .. x_t with the next frame x_{t+1} as the target;
/// the input velocities get GNS's random-walk noise (std `noise` of the model at the last
/// velocity), the target acceleration is corrected for the last position's noise; the loss is
/// the MSE of the normalised acceleration plus `position_weight` times the MSE of the next
/// position (GIOROM's second term). Optionally each sample keeps a random fraction of the
/// particles (GIOROM's sparse graphs). Validation: a free rollout of the validation
/// trajectories from frame W over `valid_frames` frames, scored by the position MSE.
#include "physml/operators/particle_model.hpp"
#include "physml/train/trainer.hpp"

#include <torch/arg.h>

#include <memory>
#include <string>
#include <vector>

namespace physml::train {

struct ParticleTaskOptions {
  /// Factor of the next-position MSE added to the acceleration MSE (GIOROM: 1e9; GNS: 0).
  TORCH_ARG(double, position_weight) = 0.0;
  /// Fraction of each system's particles a training sample keeps (GIOROM: 0.2-0.25; 1 = all).
  TORCH_ARG(double, sample_fraction) = 1.0;
  /// Frames of the validation rollouts (0 = to the end of each validation trajectory).
  TORCH_ARG(std::int64_t, valid_frames) = 20;

public:
  ParticleTaskOptions& set_from_options(const Options& options);
};

/// GNS's training defaults for the Trainer: Adam, lr 1e-4 with exponential decay (x0.1 over
/// the run's last epoch by default here; GNS decays x0.1 per 5e6 steps), batch 2 windows.
TrainerOptions particle_trainer_options();

class ParticleTask : public TrainingTask {
public:
  /// `train` and `valid`: Trajectory files (positions [T, N, d] and the particles' "material";
  /// every file the same dimension). An entry with a wildcard (*, ?, [...]) stands for the files
  /// it matches, sorted (e.g. "data/jelly_0*.h5" for the members of `physml simulate
  /// -trajectories`); a pattern that matches nothing is an error. Throws physml::Error naming a
  /// file that is missing, too short for the model's window, of another dimension, or without
  /// materials.
  ParticleTask(std::vector<std::string> train, std::vector<std::string> valid, ParticleTaskOptions options = {});
  ~ParticleTask() override;

  std::int64_t size() const override;
  /// Sets the model's normalisation statistics from the training trajectories and checks the
  /// window, dimension and material set fit the data.
  void prepare(operators::Model& model) override;
  /// input [W + 2, M, d]: the windows and next frames of the batch's samples, concatenated
  /// over their particles; target [M, 2]: (material, system) of every particle (as reals).
  Batch batch(const std::vector<std::int64_t>& indices, std::uint64_t seed) const override;
  at::Tensor loss(operators::Model& model, const Batch& batch) override;
  std::vector<std::string> metric_names() const override { return {"rollout_mse", "one_step_mse"}; }
  std::map<std::string, double> validate(operators::Model& model) override;
  std::string criterion() const override { return "rollout_mse"; }

  std::int64_t dim() const;
  /// Training and validation trajectories (after the wildcards are expanded).
  std::int64_t train_trajectories() const;
  std::int64_t valid_trajectories() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Settings of EvaluatorTask.
struct EvaluatorTaskOptions {
  /// -evaluator_sparse: sparse points per trajectory (the GIOROM graph's nodes; at most N).
  TORCH_ARG(std::int64_t, sparse) = 1000;
  /// -evaluator_sampling: "fps" (farthest points of the reference frame, from particle 0) or
  /// "random" (seeded by the trajectory's index).
  TORCH_ARG(std::string, sampling) = "fps";
  /// -evaluator_queries: query points per training sample, a random subset of the particles
  /// drawn per batch (0 = every particle).
  TORCH_ARG(std::int64_t, queries) = 0;
  /// -evaluator_valid_every: validate on every k-th frame of the validation trajectories.
  TORCH_ARG(std::int64_t, valid_every) = 1;

public:
  EvaluatorTaskOptions& set_from_options(const Options& options);
};

/// Training GIOROM's point evaluator (operators::PointEvaluator, type giorom_evaluator) on the
/// full-resolution frames of Trajectory files: frame 0 is the reference configuration X; each
/// trajectory has a fixed sparse subset S of its particles (EvaluatorTaskOptions::sampling);
/// a sample is one frame f >= 1, whose loss is the position MSE (squared distance, mean over the
/// query particles) of evaluate(X_S, x_f[S], X_q) against x_f[q]. Validation: the same MSE over
/// every particle of every valid_every-th frame of the validation trajectories
/// ("position_mse"), and the relative error sqrt(sum |err|^2 / sum |x_f - X|^2) over the same
/// points ("relative_error": 1 for an evaluator that predicts no motion).
class EvaluatorTask : public TrainingTask {
public:
  /// `train` and `valid`: Trajectory files or wildcard patterns, as for ParticleTask.
  EvaluatorTask(std::vector<std::string> train, std::vector<std::string> valid, EvaluatorTaskOptions options = {});
  ~EvaluatorTask() override;

  std::int64_t size() const override;
  /// Checks that `model` is a giorom_evaluator of the trajectories' dimension whose box holds
  /// every reference position.
  void prepare(operators::Model& model) override;
  /// input [B, 2]: (trajectory, frame) of each sample; target [B, Q]: each sample's query
  /// particles (distinct, drawn from `seed`), or [B, 0] when queries = 0 (every particle).
  Batch batch(const std::vector<std::int64_t>& indices, std::uint64_t seed) const override;
  at::Tensor loss(operators::Model& model, const Batch& batch) override;
  std::vector<std::string> metric_names() const override { return {"position_mse", "relative_error"}; }
  std::map<std::string, double> validate(operators::Model& model) override;
  std::string criterion() const override { return "position_mse"; }

  std::int64_t dim() const;
  std::int64_t train_trajectories() const;
  std::int64_t valid_trajectories() const;
  /// The sparse particle indices of training trajectory `k` ([S] int64).
  at::Tensor sparse_indices(std::int64_t k) const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace physml::train
