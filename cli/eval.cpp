// `physml eval CHECKPOINT DATASET`: relative L2 and H1 errors of a trained model.
#include "command.hpp"

#include "physml/core/error.hpp"
#include "physml/core/options.hpp"
#include "physml/train/dataset.hpp"
#include "physml/train/eval_options.hpp"
#include "physml/train/figures.hpp"
#include "physml/operators/checkpoint.hpp"
#include "physml/operators/normalized_model.hpp"
#include "physml/train/trainer.hpp"

#include <torch/torch.h>

#include <cstdio>

namespace {

std::string grid_text(const std::vector<std::int64_t>& s) {
  std::string grid;
  for (std::size_t a = 1; a < s.size(); ++a) grid += (a > 1 ? "x" : "") + std::to_string(s[a]);
  return grid;
}

/// `-rollout K`: roll the one-step model out K steps from w(t_0) and compare with w(t_1..t_K).
int run_rollout(physml::operators::Model& model, const physml::train::GridDataset& data,
                const std::vector<std::string>& args, const std::string& split, std::int64_t steps, std::int64_t batch,
                const std::string& figures, std::int64_t nfig) {
  auto m = physml::train::evaluate_rollout(model, data, steps, batch);
  std::printf("model %s, %s split '%s', %lld trajectories at %s, rollout of %lld steps\n", args[0].c_str(),
              args[1].c_str(), split.c_str(), static_cast<long long>(m.samples), grid_text(data.input_shape()).c_str(),
              static_cast<long long>(steps));
  std::printf("%-6s %14s\n", "step", "relative L2");
  for (std::size_t k = 0; k < m.step_l2.size(); ++k) std::printf("%-6zu %14.4e\n", k + 1, m.step_l2[k]);
  std::printf("%-12s %12s %12s %12s\n", "metric", "mean", "std", "max");
  std::printf("%-12s %12.4e %12.4e %12.4e\n", "rollout L2", m.full_mean, m.full_std, m.full_max);
  if (!figures.empty()) {
    auto files = physml::train::write_rollout_figures(model, data, steps, figures, nfig);
    std::printf("wrote %zu files (final step truth | prediction | error PNG, VTK .vti) to %s\n", files.size(),
                figures.c_str());
  }
  return 0;
}

int run_eval(const std::vector<std::string>& args) {
  PHYSML_CHECK(args.size() == 2 || physml::Options().has("help"), "physml eval takes CHECKPOINT and DATASET, got ",
               args.size(), " arguments");
  const physml::Options opt;
  const auto e = physml::train::EvalOptions().set_from_options(opt);
  if (opt.has("help")) return 0;
  const auto& d = e.data;
  const auto& split = e.split;
  const auto batch = e.batch_size;
  const bool periodic = e.periodic;
  const auto& figures = e.figures;
  const auto nfig = e.figures_count;
  const auto steps = e.rollout;
  physml::check_no_unused_options();
  auto model = physml::operators::load(args[0]);
  physml::train::GridDataset data(args[1], split, d);
  if (steps > 0) return run_rollout(*model, data, args, split, steps, batch, figures, nfig);
  physml::train::Metrics m;
  try {
    m = physml::train::evaluate(*model, data, batch, periodic);
  } catch (const physml::NonFiniteError&) {
    throw;
  } catch (const physml::Error& e) {
    // A model of another PDE or grid: say which model and which data did not fit.
    std::string shape;
    for (auto n : data.input_shape()) shape += (shape.empty() ? "" : ", ") + std::to_string(n);
    PHYSML_THROW("the model '", args[0], "' cannot be evaluated on '", args[1], "' (split '", split,
                 "', input samples [C, spatial...] = [", shape,
                 "]); expected data of the PDE and grid dimension the model was trained on: ", e.what());
  }
  const auto grid = grid_text(data.input_shape());
  std::printf("model %s, %s split '%s', %lld samples at %s\n", args[0].c_str(), args[1].c_str(), split.c_str(),
              static_cast<long long>(m.samples), grid.c_str());
  std::printf("%-12s %12s %12s %12s\n", "metric", "mean", "std", "max");
  std::printf("%-12s %12.4e %12.4e %12.4e\n", "relative L2", m.l2_mean, m.l2_std, m.l2_max);
  std::printf("%-12s %12.4e %12.4e %12.4e\n", "relative H1", m.h1_mean, m.h1_std, m.h1_max);
  if (!figures.empty()) {
    auto files = physml::train::write_prediction_figures(*model, data, figures, nfig);
    std::printf("wrote %zu files (truth | prediction | error PNG, VTK .vti) to %s\n", files.size(), figures.c_str());
  }
  return 0;
}

PHYSML_COMMAND({"eval", "relative L2/H1 errors of a trained model on a Dataset file",
                "physml eval CHECKPOINT DATASET [-split test] [-stride S] [-count N] [-batch_size 8] [-periodic]\n                   [-figures DIR [-figures_count 3]] [-rollout K | -snapshot_pairs K]\n\n"
                "Loads the model from its Checkpoint (any registered type) and prints the mean, standard\n"
                "deviation and maximum over samples of the relative L2 and H1 (finite-difference) errors.\n"
                "-stride S evaluates on every S-th grid point (a resolution other than the training one).\n"
                "-figures DIR writes truth | prediction | error PNGs and .vti fields of the first samples.\n"
                "-rollout K applies a one-step model K times from w(t_0) of trajectory data (physml generate\n"
                "navier-stokes) and prints the relative L2 of every step and of the whole rollout (per sample,\n"
                "all steps at once; MgNO's test_l2_full); -figures then shows the final step.\n"
                "-snapshot_pairs K evaluates the teacher-forced one-step pairs (w(t_k), w(t_k+1)), k < K, instead.",
                run_eval});

}  // namespace
