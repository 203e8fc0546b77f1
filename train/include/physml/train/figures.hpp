#pragma once
/// \file figures.hpp
/// Pictures and fields a person can open after training: loss curves (PNG), truth |
/// prediction | error panels (PNG) and predictions on the grid (VTK .vti).

#include "physml/operators/registry.hpp"
#include "physml/train/dataset.hpp"
#include "physml/train/trainer.hpp"

#include <string>
#include <utility>
#include <vector>

namespace physml {
class Options;
}

namespace physml::train {

/// Training and validation loss per epoch on log axes.
void write_loss_curves(const std::string& path, const std::vector<EpochRecord>& records);

/// Read the records back from a Trainer's log.csv (for plotting a resumed run in full).
std::vector<EpochRecord> read_log_csv(const std::string& path);

/// One run's training log, for comparing runs.
struct LearningCurve {
  std::string label;                 ///< legend entry
  std::vector<EpochRecord> records;  ///< read_log_csv of the run's log.csv
};

/// The curve of one run from its log.csv or its run directory (then DIR/log.csv); the label
/// defaults to the run directory's name.
LearningCurve read_learning_curve(const std::string& log_or_dir, const std::string& label = "");

/// How write_learning_curves draws runs against each other.
struct LearningCurvesOptions {
  /// What is plotted: "train_loss" or a metric of the logs ("valid_l2", "valid_h1", ...).
  std::string metric = "valid_l2";
  /// Abscissa: "epoch" or "seconds" (cumulative wall time of the logged epochs; for runs
  /// compared at equal wall time). "hours" is the same in hours.
  std::string x = "epoch";
  /// Horizontal dashed lines (a published number, a baseline), label and value.
  std::vector<std::pair<std::string, double>> references;
  /// Wall-clock budget in seconds for learning_curve_summary (0 = the whole run).
  double budget = 0;
  std::string title;

  /// Read -metric, -x, -reference LABEL=VALUE,..., -budget and -title under the prefix of
  /// `options`; a reference without '=' or with a non-numeric value is an error naming it.
  LearningCurvesOptions& set_from_options(const Options& options);
};

/// The curve `options.metric` over `options.x` of each run, with the reference lines, on a
/// log y axis. Throws physml::Error naming the run if a log lacks the metric.
void write_learning_curves(const std::string& path, const std::vector<LearningCurve>& runs,
                           const LearningCurvesOptions& options);

/// Per run: the best value of the metric among the epochs that end within the budget
/// (options.budget seconds of cumulative wall time; 0 = all), its epoch and time, and how many
/// epochs and seconds the budget held.
struct CurveSummary {
  std::string label;
  double best = 0;             ///< NaN if no epoch fits the budget
  std::int64_t best_epoch = 0;
  double best_seconds = 0;     ///< cumulative wall time at the end of best_epoch
  std::int64_t epochs = 0;     ///< epochs within the budget
  double seconds = 0;          ///< their cumulative wall time
};
std::vector<CurveSummary> learning_curve_summary(const std::vector<LearningCurve>& runs,
                                                 const LearningCurvesOptions& options);

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
