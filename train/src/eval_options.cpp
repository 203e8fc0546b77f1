#include "physml/train/eval_options.hpp"

#include "physml/core/error.hpp"
#include "physml/core/options_reader.hpp"

namespace physml::train {

EvalOptions& EvalOptions::set_from_options(const Options& options) {
  {
    OptionsReader r(options, "Evaluation of a trained model");
    split = r.string("split", split, "split of the Dataset file to evaluate");
    batch_size = r.integer("batch_size", batch_size, "samples per forward pass", 1);
    periodic = r.boolean("periodic", periodic, "periodic finite differences in the H1 metric");
    figures = r.string("figures", figures, "directory for truth | prediction | error PNGs and .vti fields");
    figures_count = r.integer("figures_count", figures_count, "samples pictured", 0);
    rollout = r.integer("rollout", rollout, "autoregressive rollout of a one-step model over this many steps (0 = off)", 0);
    r.end();
  }
  data.set_from_options(options);
  PHYSML_CHECK(rollout == 0 || data.snapshot_pairs == 0, "-rollout and -snapshot_pairs exclude each other ",
               "(a rollout starts from w(t_0) of whole trajectories)");
  return *this;
}

}  // namespace physml::train
