#include "physml/train/figures.hpp"

#include "physml/core/error.hpp"
#include "physml/core/options_reader.hpp"
#include "physml/io/png.hpp"
#include "physml/io/vtk.hpp"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

namespace physml::train {

namespace {

/// Legend text of a validation metric of the log.
std::string metric_label(const std::string& name) {
  if (name == "valid_l2") return "validation rel. L2";
  if (name == "valid_h1") return "validation rel. H1";
  if (name == "valid_loss") return "validation loss";
  return name;
}

}  // namespace

void write_loss_curves(const std::string& path, const std::vector<EpochRecord>& records) {
  PHYSML_CHECK(!records.empty(), "write_loss_curves: no epochs to plot");
  io::Series train{"train loss", {}, {}};
  for (const auto& r : records) {
    train.x.push_back(static_cast<double>(r.epoch));
    train.y.push_back(r.train_loss);
  }
  io::LinePlotOptions o;
  o.title = "training";
  o.xlabel = "epoch";
  o.ylabel = "loss / validation metric";
  o.log_y = true;
  std::vector<io::Series> series{train};
  // Metrics the last epoch has (finite), in the log's (alphabetical) order, the second on dashed.
  for (const auto& [name, last] : records.back().metrics) {
    if (!std::isfinite(last)) continue;
    io::Series m{metric_label(name), {}, {}};
    for (const auto& r : records) {
      m.x.push_back(static_cast<double>(r.epoch));
      m.y.push_back(r.metric(name));
    }
    m.dashed = series.size() > 1;
    series.push_back(m);
  }
  io::write_line_plot_png(path, series, o);
}

namespace {

double curve_value(const EpochRecord& r, const std::string& metric) {
  return metric == "train_loss" ? r.train_loss : r.metric(metric);
}

void check_curves(const std::vector<LearningCurve>& runs, const LearningCurvesOptions& o) {
  PHYSML_CHECK(!runs.empty(), "learning curves: no runs given");
  PHYSML_CHECK(o.x == "epoch" || o.x == "seconds" || o.x == "hours", "learning curves: x '", o.x,
               "' is not one of epoch, seconds, hours");
  PHYSML_CHECK(std::isfinite(o.budget) && o.budget >= 0, "learning curves: budget ", o.budget,
               " must be a finite number of seconds >= 0");
  for (const auto& run : runs) {
    PHYSML_CHECK(!run.records.empty(), "learning curves: run '", run.label, "' has no epochs");
    if (o.metric == "train_loss") continue;
    bool any = false;
    for (const auto& r : run.records) any = any || r.metrics.count(o.metric) > 0;
    std::string have;
    for (const auto& [name, v] : run.records.back().metrics) have += (have.empty() ? "" : ", ") + name;
    PHYSML_CHECK(any, "learning curves: run '", run.label, "' has no metric '", o.metric, "' (its log has train_loss",
                 have.empty() ? "" : ", ", have, ")");
  }
}

}  // namespace

LearningCurve read_learning_curve(const std::string& log_or_dir, const std::string& label) {
  std::filesystem::path p(log_or_dir);
  if (std::filesystem::is_directory(p)) p /= "log.csv";
  std::string name = label.empty() ? p.parent_path().filename().string() : label;
  return {name.empty() ? p.string() : name, read_log_csv(p.string())};
}

void write_learning_curves(const std::string& path, const std::vector<LearningCurve>& runs,
                           const LearningCurvesOptions& o) {
  check_curves(runs, o);
  std::vector<io::Series> series;
  double x_min = std::numeric_limits<double>::infinity(), x_max = -x_min;
  for (const auto& run : runs) {
    io::Series s{run.label, {}, {}};
    double t = 0;
    for (const auto& r : run.records) {
      t += r.seconds;
      const double x = o.x == "epoch" ? static_cast<double>(r.epoch) : o.x == "seconds" ? t : t / 3600.0;
      s.x.push_back(x);
      s.y.push_back(curve_value(r, o.metric));
      x_min = std::min(x_min, x);
      x_max = std::max(x_max, x);
    }
    series.push_back(s);
  }
  for (const auto& [label, value] : o.references) series.emplace_back(label, std::vector<double>{x_min, x_max},
                                                                      std::vector<double>{value, value}, true);
  io::LinePlotOptions p;
  p.title = o.title.empty() ? metric_label(o.metric) : o.title;
  p.xlabel = o.x == "epoch" ? "epoch" : o.x == "seconds" ? "wall time [s]" : "wall time [h]";
  p.ylabel = metric_label(o.metric);
  p.log_y = true;
  io::write_line_plot_png(path, series, p);
}

std::vector<CurveSummary> learning_curve_summary(const std::vector<LearningCurve>& runs,
                                                 const LearningCurvesOptions& o) {
  check_curves(runs, o);
  std::vector<CurveSummary> out;
  for (const auto& run : runs) {
    CurveSummary c;
    c.label = run.label;
    c.best = std::numeric_limits<double>::quiet_NaN();
    double t = 0;
    for (const auto& r : run.records) {
      t += r.seconds;
      if (o.budget > 0 && t > o.budget) break;
      c.epochs = r.epoch;
      c.seconds = t;
      const double v = curve_value(r, o.metric);
      if (std::isfinite(v) && !(v >= c.best)) {
        c.best = v;
        c.best_epoch = r.epoch;
        c.best_seconds = t;
      }
    }
    out.push_back(c);
  }
  return out;
}

LearningCurvesOptions& LearningCurvesOptions::set_from_options(const Options& options) {
  OptionsReader r(options, "Learning curves: runs compared by epoch or wall time");
  metric = r.string("metric", metric, "plotted quantity: train_loss or a metric of the logs (valid_l2, valid_h1, ...)");
  x = r.choice("x", {"epoch", "seconds", "hours"}, x, "abscissa: epoch, or cumulative wall time");
  std::string refs;
  for (const auto& [label, value] : references) {
    std::ostringstream v;
    v << value;
    refs += (refs.empty() ? "" : ",") + label + "=" + v.str();
  }
  refs = r.string("reference", refs, "dashed horizontal lines LABEL=VALUE[,LABEL=VALUE...] (published numbers)");
  references.clear();
  std::stringstream ss(refs);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    const auto eq = item.rfind('=');
    PHYSML_CHECK(eq != std::string::npos && eq > 0, "-reference entry '", item, "' is not LABEL=VALUE");
    const std::string text = item.substr(eq + 1);
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    PHYSML_CHECK(!text.empty() && end && *end == '\0' && std::isfinite(v), "-reference entry '", item,
                 "': '", text, "' is not a finite number");
    references.emplace_back(item.substr(0, eq), v);
  }
  budget = r.real("budget", budget, "wall-clock budget in seconds for the summary table (0 = whole runs)");
  title = r.string("title", title, "plot title (default: the metric)");
  return *this;
}

std::vector<EpochRecord> read_log_csv(const std::string& path) {
  std::ifstream in(path);
  PHYSML_CHECK(in.good(), "cannot read training log ", path);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> columns;
  {
    std::stringstream ss(line);
    std::string f;
    while (std::getline(ss, f, ',')) columns.push_back(f);
  }
  PHYSML_CHECK(columns.size() >= 4 && columns[0] == "epoch" && columns[1] == "lr" && columns[2] == "train_loss" &&
                   columns.back() == "seconds",
               "training log ", path, " has an unexpected header '", line,
               "', expected 'epoch,lr,train_loss,<metrics...>,seconds'");
  std::vector<EpochRecord> out;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::stringstream ss(line);
    std::string f;
    std::vector<double> v;
    while (std::getline(ss, f, ',')) v.push_back(std::strtod(f.c_str(), nullptr));
    PHYSML_CHECK(v.size() == columns.size(), "training log ", path, ": malformed line '", line, "' (expected ",
                 columns.size(), " columns)");
    EpochRecord r;
    r.epoch = static_cast<std::int64_t>(v[0]);
    r.lr = v[1];
    r.train_loss = v[2];
    for (std::size_t c = 3; c + 1 < columns.size(); ++c)
      if (!std::isnan(v[c])) r.metrics[columns[c]] = v[c];
    r.seconds = v.back();
    out.push_back(r);
  }
  return out;
}

namespace {

/// One sample: `input` [C_in, spatial...], `truth` and `pred` [spatial...] (double, CPU).
/// 2-D: "<stem>.png" truth | prediction | error panels and "<stem>.vti"; 1-D: "<stem>.png"
/// with truth and prediction curves (and the error) and "<stem>.vti" as a 1-D image.
std::vector<std::string> write_sample_figure(const std::string& stem, const at::Tensor& input, const at::Tensor& truth,
                                             const at::Tensor& pred, const std::string& label) {
  auto err = pred - truth;
  std::ostringstream title;
  title << label << ": relative L2 error " << (err.norm() / truth.norm()).item<double>();
  const auto png = stem + ".png", vti = stem + ".vti";
  io::ImageGeometry g;
  for (std::int64_t a = 0; a < truth.dim(); ++a) {
    g.points.push_back(truth.size(a));
    g.origin.push_back(0.0);
    g.spacing.push_back(1.0 / static_cast<double>(std::max<std::int64_t>(truth.size(a) - 1, 1)));
  }
  if (truth.dim() == 1) {
    const auto n = truth.size(0);
    std::vector<double> x(static_cast<std::size_t>(n)), t(x.size()), p(x.size()), e(x.size());
    auto tc = truth.contiguous(), pc = pred.contiguous(), ec = err.contiguous();
    for (std::int64_t j = 0; j < n; ++j) {
      const auto k = static_cast<std::size_t>(j);
      x[k] = static_cast<double>(j) / static_cast<double>(n);
      t[k] = tc.data_ptr<double>()[j];
      p[k] = pc.data_ptr<double>()[j];
      e[k] = ec.data_ptr<double>()[j];
    }
    io::LinePlotOptions o;
    o.title = title.str();
    o.xlabel = "x";
    o.ylabel = "u";
    o.width = 1000;
    o.height = 500;
    io::write_line_plot_png(png, {io::Series("truth", x, t), io::Series("prediction", x, p, true),
                                  io::Series("error", x, e)},
                            o);
    // A single row of an image: points (y, x) = (1, n).
    g.points.insert(g.points.begin(), 1);
    g.origin.insert(g.origin.begin(), 0.0);
    g.spacing.insert(g.spacing.begin(), 1.0);
    io::write_vti(vti, g, {{"input", input[0].unsqueeze(0)}, {"truth", truth.unsqueeze(0)},
                           {"prediction", pred.unsqueeze(0)}, {"error", err.unsqueeze(0)}});
    return {png, vti};
  }
  PHYSML_CHECK(truth.dim() == 2, "prediction figures need 1-D or 2-D fields, got ", truth.dim(), " spatial axes");
  const double lo = std::min(truth.min().item<double>(), pred.min().item<double>());
  const double hi = std::max(truth.max().item<double>(), pred.max().item<double>());
  io::FieldPlotOptions o;
  o.width = 1500;
  o.height = 500;
  o.title = title.str();
  std::vector<io::FieldPanel> panels(3);
  panels[0].title = "truth";
  panels[0].field = truth;
  panels[0].vmin = lo;
  panels[0].vmax = hi;
  panels[1].title = "prediction";
  panels[1].field = pred;
  panels[1].vmin = lo;
  panels[1].vmax = hi;
  panels[2].title = "error";
  panels[2].field = err;
  panels[2].colormap = "coolwarm";
  io::write_fields_png(png, panels, o);
  io::write_vti(vti, g, {{"input", input[0]}, {"truth", truth}, {"prediction", pred}, {"error", err}});
  return {png, vti};
}

at::Tensor to_model(const at::Tensor& x, operators::Model& model) {
  auto params = model.parameters();
  return params.empty() ? x : x.to(params.front().device(), params.front().scalar_type());
}

}  // namespace

std::vector<std::string> write_prediction_figures(operators::Model& model, const GridDataset& data,
                                                  const std::string& dir, std::int64_t count) {
  const auto rank = data.input_shape().size();
  PHYSML_CHECK(rank == 2 || rank == 3, "prediction figures need 1-D or 2-D fields, got per-sample input shape of rank ",
               rank);
  std::filesystem::create_directories(dir);
  torch::NoGradGuard guard;
  model.eval();
  const auto n = std::min(count, data.size());
  auto [x, y] = data.range(0, n);
  auto p = model.forward(to_model(x, model)).to(torch::kCPU, torch::kDouble);
  auto yd = y.to(torch::kDouble);
  auto xd = x.to(torch::kDouble);
  std::vector<std::string> written;
  for (std::int64_t i = 0; i < n; ++i) {
    const auto stem = (std::filesystem::path(dir) / ("sample" + std::to_string(i))).string();
    for (auto& f : write_sample_figure(stem, xd[i], yd[i][0], p[i][0], "sample " + std::to_string(i)))
      written.push_back(f);
  }
  return written;
}

std::vector<std::string> write_rollout_figures(operators::Model& model, const GridDataset& data, std::int64_t steps,
                                               const std::string& dir, std::int64_t count) {
  std::filesystem::create_directories(dir);
  const auto n = std::min(count, data.size());
  auto [x, y] = data.range(0, n);
  const auto c = x.size(1);
  PHYSML_CHECK(steps >= 1 && y.size(1) >= steps * c, "rollout figures: ", steps, " steps need ", steps * c,
               " output channels (snapshots), the data have ", y.size(1));
  auto p = rollout(model, x, steps).to(torch::kCPU, torch::kDouble);
  auto yd = y.to(torch::kDouble);
  auto xd = x.to(torch::kDouble);
  std::vector<std::string> written;
  const auto k = (steps - 1) * c;  // channel 0 of the final step
  for (std::int64_t i = 0; i < n; ++i) {
    const auto stem = (std::filesystem::path(dir) / ("rollout" + std::to_string(i) + "_step" + std::to_string(steps))).string();
    for (auto& f : write_sample_figure(stem, xd[i], yd[i][k], p[i][k],
                                       "sample " + std::to_string(i) + ", step " + std::to_string(steps) + " of the rollout"))
      written.push_back(f);
  }
  return written;
}

}  // namespace physml::train
