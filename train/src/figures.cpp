#include "physml/train/figures.hpp"

#include "physml/core/error.hpp"
#include "physml/io/png.hpp"
#include "physml/io/vtk.hpp"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace physml::train {

void write_loss_curves(const std::string& path, const std::vector<EpochRecord>& records) {
  PHYSML_CHECK(!records.empty(), "write_loss_curves: no epochs to plot");
  io::Series train{"train loss", {}, {}}, l2{"validation rel. L2", {}, {}}, h1{"validation rel. H1", {}, {}};
  for (const auto& r : records) {
    const double e = static_cast<double>(r.epoch);
    train.x.push_back(e);
    train.y.push_back(r.train_loss);
    l2.x.push_back(e);
    l2.y.push_back(r.valid_l2);
    h1.x.push_back(e);
    h1.y.push_back(r.valid_h1);
  }
  h1.dashed = true;
  io::LinePlotOptions o;
  o.title = "training";
  o.xlabel = "epoch";
  o.ylabel = "loss / relative error";
  o.log_y = true;
  std::vector<io::Series> series{train};
  if (std::isfinite(records.back().valid_l2)) {
    series.push_back(l2);
    series.push_back(h1);
  }
  io::write_line_plot_png(path, series, o);
}

std::vector<EpochRecord> read_log_csv(const std::string& path) {
  std::ifstream in(path);
  PHYSML_CHECK(in.good(), "cannot read training log ", path);
  std::string line;
  std::getline(in, line);
  PHYSML_CHECK(line.rfind("epoch,lr,train_loss", 0) == 0, "training log ", path, " has an unexpected header '", line, "'");
  std::vector<EpochRecord> out;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::stringstream ss(line);
    std::string f;
    std::vector<double> v;
    while (std::getline(ss, f, ',')) v.push_back(std::strtod(f.c_str(), nullptr));
    PHYSML_CHECK(v.size() == 6, "training log ", path, ": malformed line '", line, "'");
    EpochRecord r;
    r.epoch = static_cast<std::int64_t>(v[0]);
    r.lr = v[1];
    r.train_loss = v[2];
    r.valid_l2 = v[3];
    r.valid_h1 = v[4];
    r.seconds = v[5];
    out.push_back(r);
  }
  return out;
}

std::vector<std::string> write_prediction_figures(operators::Model& model, const GridDataset& data,
                                                  const std::string& dir, std::int64_t count) {
  PHYSML_CHECK(data.input_shape().size() == 3, "prediction figures need 2-D fields, got per-sample input shape of rank ",
               data.input_shape().size());
  std::filesystem::create_directories(dir);
  torch::NoGradGuard guard;
  model.eval();
  const auto n = std::min(count, data.size());
  auto [x, y] = data.range(0, n);
  auto params = model.parameters();
  auto xm = params.empty() ? x : x.to(params.front().device(), params.front().scalar_type());
  auto p = model.forward(xm).to(torch::kCPU, torch::kDouble);
  auto yd = y.to(torch::kDouble);
  auto xd = x.to(torch::kDouble);
  std::vector<std::string> written;
  for (std::int64_t i = 0; i < n; ++i) {
    auto truth = yd[i][0], pred = p[i][0], err = pred - truth;
    const double lo = std::min(truth.min().item<double>(), pred.min().item<double>());
    const double hi = std::max(truth.max().item<double>(), pred.max().item<double>());
    io::FieldPlotOptions o;
    o.width = 1500;
    o.height = 500;
    std::ostringstream title;
    title << "sample " << i << ": relative L2 error "
          << (err.norm() / truth.norm()).item<double>();
    o.title = title.str();
    const auto png = (std::filesystem::path(dir) / ("sample" + std::to_string(i) + ".png")).string();
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
    io::ImageGeometry g;
    g.points = {truth.size(0), truth.size(1)};
    g.origin = {0.0, 0.0};
    g.spacing = {1.0 / static_cast<double>(std::max<std::int64_t>(truth.size(0) - 1, 1)),
                 1.0 / static_cast<double>(std::max<std::int64_t>(truth.size(1) - 1, 1))};
    const auto vti = (std::filesystem::path(dir) / ("sample" + std::to_string(i) + ".vti")).string();
    io::write_vti(vti, g, {{"input", xd[i][0]}, {"truth", truth}, {"prediction", pred}, {"error", err}});
    written.push_back(png);
    written.push_back(vti);
  }
  return written;
}

}  // namespace physml::train
