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

/// For the first `count` samples of `data` (2-D fields, channel 0): "<dir>/sample<i>.png" with
/// truth | prediction | error panels and "<dir>/sample<i>.vti" with input, truth, prediction
/// and error arrays on the unit square. Returns the written paths.
std::vector<std::string> write_prediction_figures(operators::Model& model, const GridDataset& data,
                                                  const std::string& dir, std::int64_t count = 3);

}  // namespace physml::train
