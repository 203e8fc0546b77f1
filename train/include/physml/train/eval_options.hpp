#pragma once
/// \file eval_options.hpp
/// What `physml eval` (and a driver evaluating a model) reads: which samples, the batch, the
/// metric's boundary treatment, figures, and an optional autoregressive rollout.

#include "physml/train/dataset.hpp"

#include <cstdint>
#include <string>

namespace physml {
class Options;
}

namespace physml::train {

struct EvalOptions {
  /// Split of the Dataset file evaluated.
  std::string split = "test";
  /// Which samples of it (stride, begin, count, snapshot_pairs).
  GridDatasetOptions data;
  std::int64_t batch_size = 8;
  /// Periodic finite differences in the H1 metric.
  bool periodic = false;
  /// Directory for truth | prediction | error PNGs and .vti fields ("" = none), of the first
  /// figures_count samples.
  std::string figures;
  std::int64_t figures_count = 3;
  /// Apply a one-step model this many times from w(t_0) of trajectory data (0 = off).
  std::int64_t rollout = 0;

  /// Read -split, -batch_size, -periodic, -figures, -figures_count, -rollout and the data keys
  /// (GridDatasetOptions::set_from_options) under the prefix of `options`; throws for -rollout
  /// together with -snapshot_pairs (a rollout starts from whole trajectories).
  EvalOptions& set_from_options(const Options& options);
};

}  // namespace physml::train
