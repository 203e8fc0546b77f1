#pragma once
/// \file trajectory_metrics.hpp
/// NCLaw's rollout metric (Ma et al. 2023, docs/nclaw.md): the mean position MSE over every
/// `every`-th frame of a free rollout against the ground-truth simulator of the same scene,
/// the MSE taken over particles and coordinates. One definition for training
/// (train::NCLawTask::rollout_mse, the validation criterion), for `physml simulate -reference
/// TRUTH.h5` (SimulateOptions::reference) and for scoring two Trajectory files in a driver.
/// (The learned particle simulators' per-frame score, LearnedRolloutResult::mse, is GNS's: the
/// squared distance summed over coordinates, i.e. d times this per-frame value.)
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace physml::simulators {

/// The frames NCLaw's metric scores among frames 1 .. last: every, 2 every, ... <= last; all of
/// 1 .. last when last < every (a rollout shorter than the scoring stride). Throws
/// physml::Error for every < 1 or last < 1.
std::vector<std::int64_t> scored_frames(std::int64_t last, std::int64_t every);

/// The metric on positions held in memory: `predicted` and `truth` are [F, N, d] with row j
/// frame j + 1 (frame 0, the shared initial state, left out); the mean over scored_frames(F,
/// every) of mean((predicted - truth)^2). Differentiable (no gradient guard). Throws
/// physml::Error for tensors of different shapes or fewer than 3 dimensions.
at::Tensor rollout_position_mse(const at::Tensor& predicted, const at::Tensor& truth, std::int64_t every);

/// The two tests of "the same scene" that trajectory_position_mse and `simulate -reference`
/// (check_reference) apply, written once: frame intervals equal to 1e-12 relative, and initial
/// positions [N, d] equal to float32 rounding (max |a - b| <= 1e-6 max(1, max |a|));
/// initial_position_difference returns that max |a - b| when it exceeds the tolerance, else 0.
bool same_frame_interval(double a, double b);
double initial_position_difference(const at::Tensor& a, const at::Tensor& b);

/// The metric between two Trajectory files (io/trajectory.hpp) of the same scene.
struct TrajectoryMSE {
  double mean = 0;                   ///< the metric: the mean of per_frame
  std::vector<std::int64_t> frames;  ///< the frames scored
  std::vector<double> per_frame;     ///< the position MSE of each scored frame
  std::int64_t last = 0;             ///< the last frame both files have (frames 0 .. last)
};

/// Scores the positions of `rollout` against those of `truth` over frames 1 .. last, last =
/// `last_frame` or (0) the last frame both files hold, every `every`-th (scored_frames), of
/// those only the frames >= `first_frame` (e.g. the first predicted frame of a learned
/// rollout whose first frames are copies of the truth), in
/// float64 whatever the storage dtype; reads only the scored frames. Throws physml::Error,
/// naming the file and what was expected, for a missing or incomplete file, files of different
/// particle counts or dimensions, different frame intervals (frame_dt), different initial
/// positions (frame 0 differs by more than float32 rounding: not the same scene), last_frame
/// beyond the frames both hold, no scored frame at or after first_frame, and non-finite positions in the rollout (naming the frame).
TrajectoryMSE trajectory_position_mse(const std::string& truth, const std::string& rollout, std::int64_t every = 5,
                                      std::int64_t last_frame = 0, std::int64_t first_frame = 1);

}  // namespace physml::simulators
