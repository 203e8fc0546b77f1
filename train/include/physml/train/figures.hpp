#pragma once
/// \file figures.hpp
/// Pictures and fields a person can open after training: loss curves (PNG), truth |
/// prediction | error panels (PNG) and predictions on the grid (VTK .vti).

#include "physml/operators/registry.hpp"
#include "physml/train/dataset.hpp"
#include "physml/train/trainer.hpp"

#include <string>
#include <vector>

namespace physml::train {

/// Training and validation loss per epoch on log axes.
void write_loss_curves(const std::string& path, const std::vector<EpochRecord>& records);

/// Read the records back from a Trainer's log.csv (for plotting a resumed run in full).
std::vector<EpochRecord> read_log_csv(const std::string& path);

/// For the first `count` samples of `data` (channel 0 of 1-D or 2-D fields): "<dir>/sample<i>.png"
/// with truth | prediction | error panels (2-D) or truth and prediction curves and the error
/// (1-D), and "<dir>/sample<i>.vti" with input, truth, prediction and error arrays on the unit
/// square (interval). Returns the written paths.
std::vector<std::string> write_prediction_figures(operators::Model& model, const GridDataset& data,
                                                  const std::string& dir, std::int64_t count = 3);

/// Autoregressive rollout figures: for the first `count` trajectories of `data` (inputs w(t_0),
/// outputs w(t_1..t_T), snapshot_pairs off), "<dir>/rollout<i>_step<steps>.png|.vti" with
/// truth | prediction | error of the final step w(t_steps) (channel 0). Returns the paths.
std::vector<std::string> write_rollout_figures(operators::Model& model, const GridDataset& data, std::int64_t steps,
                                               const std::string& dir, std::int64_t count = 3);

}  // namespace physml::train
