#pragma once
/// \file nclaw_task.hpp
/// NCLaw training from one observed trajectory (Ma et al., "Learning Neural Constitutive Laws
/// From Motion Observations for Generalizable PDE Dynamics", ICML 2023), as a TrainingTask of
/// the one Trainer: the learned elastic law runs inside the differentiable MPM simulator
/// (simulators/mpm_diff.hpp), which is rolled out over segments of the ground-truth trajectory
/// with teacher forcing (every segment starts from the recorded x, v, C, F of its first frame),
/// and the loss is the position MSE over the segment's frames (times loss_scale, NCLaw: 1e4).
/// The segment length grows from segment_min to segment_max frames on a cosine over the
/// epochs, so the samples of an epoch are the segments [0, L), [L, 2L), ...
///
/// The model is the learned material: the elastic law alone (nclaw_elastic or
/// nclaw_unconstrained, F [N, 3, 3] -> tau [N, 3, 3]; jelly) or NCLaw's elastic and plastic
/// networks together (nclaw); see docs/nclaw.md.

#include "physml/train/trainer.hpp"

#include <c10/core/ScalarType.h>
#include <torch/arg.h>

#include <cstdint>
#include <memory>
#include <string>

namespace physml {
class Options;
}

namespace physml::train {

struct NCLawTaskOptions {
  /// Frames of the first epoch's segments (NCLaw: 25 steps).
  TORCH_ARG(std::int64_t, segment_min) = 25;
  /// Frames of the last epoch's segments (NCLaw: 200 steps).
  TORCH_ARG(std::int64_t, segment_max) = 200;
  /// Factor of the position MSE (NCLaw: 1e4).
  TORCH_ARG(double, loss_scale) = 1e4;
  /// Validation: a free rollout from frame 0 over this many frames (0 = the whole trajectory),
  /// scored by the mean position MSE over every valid_every-th frame (metric "rollout_mse").
  TORCH_ARG(std::int64_t, valid_frames) = 0;
  TORCH_ARG(std::int64_t, valid_every) = 5;
  /// Let rollouts pass through inverted elements (J <= 0), counting them (metric "inverted",
  /// particle-substeps per epoch), as NCLaw's training does: its networks are defined there
  /// (signed SVD). false: the first inversion stops training with an error.
  TORCH_ARG(bool, allow_inverted) = true;
  /// What a training segment whose rollout blows up (non-finite stress or state) does:
  /// "skip" drops it from the epoch's loss and counts it (metric "diverged"), as NCLaw's
  /// training in effect does (it zeroes non-finite gradients step by step); "error" stops
  /// training. An epoch whose segments all diverge is an error either way. A free validation
  /// rollout that blows up scores its remaining frames with the last finite positions.
  TORCH_ARG(std::string, diverged) = "skip";
  /// Precision of the law and the simulation during training, "float64" or "float32" (NCLaw's
  /// own, 1.6-1.8x faster per substep here: docs/nclaw.md "Speed"). The task runs in the
  /// dtype of the model it is given (prepare converts the trajectory); `physml train` converts
  /// the law to this dtype (scalar_type()). A trained law is simulated in float64 by
  /// `physml simulate -law`.
  TORCH_ARG(std::string, dtype) = "float64";
  /// Memory of a training segment's backward pass: 0 keeps every substep's state and graph
  /// (fastest); K >= 1 keeps at most K particle states per segment and recomputes the rest
  /// (binomial checkpointing, simulators::DifferentiableMPM::rollout), for segments too long or
  /// scenes too large for memory. The gradients are the same to rounding.
  TORCH_ARG(std::int64_t, checkpoints) = 0;

public:
  /// dtype() as a scalar type (kFloat or kDouble), to convert the law with before training.
  c10::ScalarType scalar_type() const { return dtype() == "float32" ? c10::ScalarType::Float : c10::ScalarType::Double; }
  /// Read -segment_min, -segment_max, -loss_scale, -valid_frames, -valid_every, -allow_inverted,
  /// -diverged, -dtype, -checkpoints under the prefix of `options`.
  NCLawTaskOptions& set_from_options(const Options& options);
};

/// NCLaw's training defaults for the Trainer: Adam, lr 1.0 (the elastic network's), weight
/// decay 0, cosine annealing over the epochs, gradient-norm clip 0.1, 300 epochs, and a batch
/// larger than the segment count, so that an epoch is one gradient step on the whole
/// trajectory as in the official code.
TrainerOptions nclaw_trainer_options();

class NCLawTask : public TrainingTask {
public:
  /// Reads the whole Trajectory file (written by `physml simulate -store state`); throws
  /// physml::Error for a missing file, one without C and F, or bad options.
  NCLawTask(const std::string& trajectory, NCLawTaskOptions options = {});
  ~NCLawTask() override;

  void begin_epoch(std::int64_t epoch, std::int64_t epochs) override;
  /// Segments of the current epoch.
  std::int64_t size() const override;
  void prepare(operators::Model& model) override;
  /// input = the segments' first frames (as floating values; the Trainer casts batches).
  Batch batch(const std::vector<std::int64_t>& indices, std::uint64_t seed) const override;
  at::Tensor loss(operators::Model& model, const Batch& batch) override;
  /// rollout_mse (the criterion); inverted (particle-substeps with J <= 0 since the last
  /// validation, training rollouts included); diverged (training segments dropped since the
  /// last validation); valid_diverged_frame (frame at which the validation rollout blew up, 0
  /// if it did not).
  std::vector<std::string> metric_names() const override {
    return {"rollout_mse", "inverted", "diverged", "valid_diverged_frame"};
  }
  std::map<std::string, double> validate(operators::Model& model) override;
  /// On several ranks: the inversions and dropped segments each rank counted, summed (the
  /// validation rollout runs on every rank, so its inversions count once per rank).
  std::vector<std::string> summed_metrics() const override { return {"inverted", "diverged"}; }
  std::string criterion() const override { return "rollout_mse"; }

  /// The segment length (frames) of epoch `epoch` of `epochs`: min + (max - min)(1 - cos(pi e / (E - 1)))/2.
  std::int64_t segment_length(std::int64_t epoch, std::int64_t epochs) const;
  /// Mean position MSE of a free rollout of `model` from frame 0 over `frames` frames against
  /// the trajectory, at every `every`-th frame (no gradients): simulators::rollout_position_mse,
  /// the metric `physml simulate -reference` reports (simulators/trajectory_metrics.hpp).
  /// A rollout that blows up at frame k scores frames k.. with the positions of frame k - 1
  /// (diverged_frame, if given, receives k; 0 if it did not blow up).
  double rollout_mse(operators::Model& model, std::int64_t frames, std::int64_t every,
                     std::int64_t* diverged_frame = nullptr) const;
  std::int64_t frames() const;
  std::int64_t particles() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace physml::train
