#include "physml/simulators/trajectory_metrics.hpp"

#include "physml/core/error.hpp"
#include "physml/io/trajectory.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace physml::simulators {

std::vector<std::int64_t> scored_frames(std::int64_t last, std::int64_t every) {
  PHYSML_CHECK(every >= 1, "rollout MSE: the scoring stride (every) must be >= 1, got ", every);
  PHYSML_CHECK(last >= 1, "rollout MSE: no frame after the initial state to score (last frame ", last, ")");
  std::vector<std::int64_t> frames;
  for (std::int64_t k = every; k <= last; k += every) frames.push_back(k);
  if (frames.empty())
    for (std::int64_t k = 1; k <= last; ++k) frames.push_back(k);
  return frames;
}

at::Tensor rollout_position_mse(const at::Tensor& predicted, const at::Tensor& truth, std::int64_t every) {
  PHYSML_CHECK(predicted.dim() >= 3 && predicted.sizes() == truth.sizes(), "rollout MSE: predicted positions ",
               predicted.sizes(), " and true positions ", truth.sizes(), ": expected two tensors [frames, N, d] of one shape");
  const auto frames = scored_frames(predicted.size(0), every);
  std::vector<std::int64_t> rows;
  rows.reserve(frames.size());
  for (auto k : frames) rows.push_back(k - 1);
  const auto idx = torch::tensor(rows, torch::TensorOptions(torch::kLong).device(predicted.device()));
  return (predicted.index_select(0, idx) - truth.index_select(0, idx)).pow(2).mean();
}

bool same_frame_interval(double a, double b) {
  return std::abs(a - b) <= 1e-12 * std::max(std::abs(a), std::abs(b));
}

double initial_position_difference(const at::Tensor& a, const at::Tensor& b) {
  PHYSML_CHECK(a.sizes() == b.sizes(), "initial positions ", a.sizes(), " and ", b.sizes(), ": expected one shape");
  const auto x = a.to(torch::kDouble), y = b.to(torch::kDouble);
  const double d = (x - y).abs().max().item<double>();
  return d <= 1e-6 * std::max(1.0, x.abs().max().item<double>()) ? 0.0 : d;
}

TrajectoryMSE trajectory_position_mse(const std::string& truth, const std::string& rollout, std::int64_t every,
                                      std::int64_t last_frame, std::int64_t first_frame) {
  auto a = io::TrajectoryReader::open(truth);
  auto b = io::TrajectoryReader::open(rollout);
  const auto &ia = a.info(), &ib = b.info();
  PHYSML_CHECK(ia.fields.count("positions"), "rollout MSE: the reference Trajectory '", truth, "' has no positions");
  PHYSML_CHECK(ib.fields.count("positions"), "rollout MSE: Trajectory '", rollout, "' has no positions");
  const auto& sa = ia.fields.at("positions");
  const auto& sb = ib.fields.at("positions");
  PHYSML_CHECK(ia.particles == ib.particles && sa == sb, "rollout MSE: '", rollout, "' has ", ib.particles,
               " particles in ", sb.empty() ? 0 : sb[0], "-D, the reference '", truth, "' ", ia.particles, " in ",
               sa.empty() ? 0 : sa[0], "-D: expected the same scene");
  PHYSML_CHECK(same_frame_interval(ia.frame_dt, ib.frame_dt),
               "rollout MSE: '", rollout, "' has frames every ", ib.frame_dt, " s, the reference '", truth, "' every ",
               ia.frame_dt, " s: expected the same frame interval (time step x substeps)");
  const std::int64_t both = std::min(ia.frames, ib.frames) - 1;
  const std::int64_t last = last_frame > 0 ? last_frame : both;
  PHYSML_CHECK(last <= both, "rollout MSE: frame ", last, " requested, but '", truth, "' has frames 0..", ia.frames - 1,
               " and '", rollout, "' 0..", ib.frames - 1);
  const double d0 = initial_position_difference(a.read("positions", 0, 1)[0], b.read("positions", 0, 1)[0]);
  PHYSML_CHECK(d0 == 0, "rollout MSE: frame 0 of '", rollout, "' differs from frame 0 of the reference '", truth,
               "' by up to ", d0, " m: expected the same initial positions (the same scene)");
  TrajectoryMSE r;
  r.last = both;
  for (auto k : scored_frames(last, every))
    if (k >= first_frame) r.frames.push_back(k);
  PHYSML_CHECK(!r.frames.empty(), "rollout MSE: no frame to score from frame ", first_frame, " (every ", every,
               "-th frame up to frame ", last, ")");
  for (auto k : r.frames) {
    const auto xb = b.read("positions", k, k + 1).to(torch::kDouble);
    PHYSML_CHECK(torch::isfinite(xb).all().item<bool>(), "rollout MSE: '", rollout, "' has non-finite positions at frame ", k);
    const auto xa = a.read("positions", k, k + 1).to(torch::kDouble);
    PHYSML_CHECK(torch::isfinite(xa).all().item<bool>(), "rollout MSE: the reference '", truth,
                 "' has non-finite positions at frame ", k);
    r.per_frame.push_back((xb - xa).pow(2).mean().item<double>());
  }
  for (double m : r.per_frame) r.mean += m;
  r.mean /= static_cast<double>(r.per_frame.size());
  return r;
}

}  // namespace physml::simulators
