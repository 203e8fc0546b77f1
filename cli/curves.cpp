// `physml curves LOG...`: learning curves of several runs in one PNG, by epoch or wall time,
// with published numbers as reference lines, and the best metric of each within a budget.
#include "command.hpp"

#include "physml/core/error.hpp"
#include "physml/core/options.hpp"
#include "physml/core/options_reader.hpp"
#include "physml/train/figures.hpp"

#include <cstdio>

namespace {

int run_curves(const std::vector<std::string>& args) {
  const physml::Options opt;
  const bool help = opt.has("help");
  PHYSML_CHECK(!args.empty() || help, "physml curves takes one or more training logs (log.csv or a run directory)");
  auto curves = physml::train::LearningCurvesOptions().set_from_options(opt);
  std::string output, labels;
  {
    physml::OptionsReader r(opt, "physml curves: output");
    output = r.string("output", "", "PNG file to write (required)");
    labels = r.string("labels", "", "legend entries, comma-separated, one per log (default: the run directories)");
  }
  if (help) return 0;
  physml::check_no_unused_options();
  PHYSML_CHECK(!output.empty(), "physml curves needs -output FILE.png");
  const auto names = physml::cli::split_list(labels);
  PHYSML_CHECK(names.empty() || names.size() == args.size(), "physml curves: -labels has ", names.size(),
               " entries for ", args.size(), " logs");
  std::vector<physml::train::LearningCurve> runs;
  for (std::size_t i = 0; i < args.size(); ++i)
    runs.push_back(physml::train::read_learning_curve(args[i], names.empty() ? "" : names[i]));
  const auto summary = physml::train::learning_curve_summary(runs, curves);
  if (curves.budget > 0)
    std::printf("%s within %g s of wall time\n", curves.metric.c_str(), curves.budget);
  else
    std::printf("%s over the whole runs\n", curves.metric.c_str());
  std::printf("%-24s %12s %8s %10s %8s %10s\n", "run", "best", "epoch", "at [s]", "epochs", "wall [s]");
  for (const auto& c : summary)
    std::printf("%-24s %12.4e %8lld %10.1f %8lld %10.1f\n", c.label.c_str(), c.best, static_cast<long long>(c.best_epoch),
                c.best_seconds, static_cast<long long>(c.epochs), c.seconds);
  physml::train::write_learning_curves(output, runs, curves);
  std::printf("wrote %s\n", output.c_str());
  return 0;
}

PHYSML_COMMAND({"curves", "learning curves of training runs (by epoch or wall time) as PNG, best metric within a budget",
                "physml curves LOG.csv|RUN_DIR... -output FILE.png [-labels A,B] [-metric valid_l2] [-x epoch|seconds|hours]\n"
                "              [-reference LABEL=VALUE,...] [-budget SECONDS] [-title TEXT]\n\n"
                "Reads the log.csv of each run (physml train writes one per run, resumed epochs included),\n"
                "draws the metric of every run over epochs or cumulative wall time on a log axis, with the\n"
                "references as dashed lines, and prints per run the best metric among the epochs that end\n"
                "within -budget seconds (0: the whole run): the table of a comparison at equal wall time.\n",
                run_curves});

}  // namespace
