#pragma once
/// \file particle_rollout.hpp
/// Rollouts of a learned particle simulator (GNS, GIOROM: operators/particle_model.hpp):
/// the model steps its own predictions from the first W + 1 frames of a trajectory, and
/// `simulate_learned` writes them as a Trajectory file (plus .vtp/.pvd and PNG renders) like
/// `physml simulate` does for MPM, scoring them against the ground truth when the initial
/// file has the frames.
///
///   physml simulate -model run/best.h5 -initial truth.h5 -output pred.h5 -frames 100 -vtk vtk
#include "physml/operators/particle_model.hpp"
#include "physml/simulators/mpm_scene.hpp"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace physml::simulators {

/// Free rollout: from the window positions [W + 1, N, d] (oldest first) and materials [N],
/// `frames` steps of `model` (no gradients): the predicted positions [frames, N, d]. Throws
/// physml::Error naming the frame if a prediction becomes NaN or Inf.
at::Tensor rollout_particles(operators::ParticleModel& model, const at::Tensor& window, const at::Tensor& material,
                             std::int64_t frames);

/// The sparse subset of k of the points [N, d] on which GIOROM's stepper runs: "fps" (farthest
/// points, greedy from point 0) or "random" (k distinct points drawn from `seed`, sorted). The
/// one choice the evaluator's training (train::EvaluatorTask) and the reduced-order rollout
/// share. Throws physml::Error for k outside 1 .. N or another sampling.
at::Tensor sparse_subset(const at::Tensor& points, std::int64_t k, const std::string& sampling, std::uint64_t seed = 0);

/// What simulate_learned measured.
struct LearnedRolloutResult {
  SimulateResult run;
  /// Mean squared position error (mean over particles of |x - x_true|^2) per predicted frame
  /// that the initial file also holds (frames W+1 ..), and its mean.
  std::vector<double> mse;
  double mean_mse = 0;
  /// The same for the extrapolation of the window with the model's mean training acceleration
  /// mu (its normalisation statistics): x_k = x_W + n (x_W - x_{W-1}) + mu n (n + 1) / 2,
  /// n = k - W, which is what the model predicts when its network returns zero: the baseline a
  /// learned simulator has to beat to have learned anything.
  std::vector<double> baseline_mse;
  double mean_baseline_mse = 0;
};

/// The rollout options.model() (a gns/giorom Checkpoint) makes from the first W + 1 frames of
/// options.initial() (a Trajectory file, e.g. of `physml simulate`), into options.output():
/// frames 0 .. W copied, W + 1 .. options.frames() predicted; positions and velocities
/// (x_k - x_{k-1}) / frame_dt per frame; resumable like `simulate` (the window is the resume
/// state). With options.evaluator(): the model steps sparse_subset(frame 0) of the particles
/// and the evaluator maps their positions to every particle's each frame (GIOROM's reduced-order
/// rollout; the output and the score hold all particles). Throws physml::Error for a model of
/// another kind or dimension, a too short or missing initial file, fewer frames than the window.
LearnedRolloutResult simulate_learned(const SimulateOptions& options);

}  // namespace physml::simulators
