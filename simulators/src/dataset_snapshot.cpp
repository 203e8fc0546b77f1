// Snapshots of generated samples: PNG pictures (io/png.hpp) and VTK image files (io/vtk.hpp).
#include "physml/core/error.hpp"
#include "physml/io/png.hpp"
#include "physml/io/vtk.hpp"
#include "physml/simulators/generate_dataset.hpp"

#include <torch/torch.h>

namespace physml::simulators {

void write_snapshot(const DataGenerator& generator, const std::string& stem, const std::string& label,
                    const GeneratedSample& r) {
  namespace io = physml::io;
  PHYSML_CHECK(r.ok && r.input.defined() && r.output.defined(), "write_snapshot: sample '", label, "' holds no fields");
  const mesh::Grid grid = generator.grid();
  const std::vector<double> times = generator.times();
  const FieldName input_name = generator.input_name(), output_name = generator.output_name();
  const std::vector<int64_t> shape = grid.shape();
  const auto in = r.input[0].to(torch::kDouble), out = r.output.to(torch::kDouble);
  const size_t d = shape.size();
  std::vector<double> spacing, origin;
  std::vector<int64_t> points = shape;  // tensor order, as ImageGeometry takes them
  for (size_t k = 0; k < d; ++k) spacing.push_back(grid.spacing(static_cast<int>(d - 1 - k)));
  for (size_t k = 0; k < d; ++k) origin.push_back(grid.lower(static_cast<int>(d - 1 - k)));
  if (d == 1) {  // one row of points in VTK; a line plot in PNG
    points.insert(points.begin(), 1);
    spacing.insert(spacing.begin(), spacing[0]);
    origin.push_back(0.0);
  }
  const io::ImageGeometry geometry(points, origin, spacing);
  auto image = [&](const at::Tensor& t) { return t.reshape(points); };

  if (d == 1) {
    const auto n = shape[0];
    std::vector<double> x(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) x[static_cast<size_t>(j)] = origin[0] + static_cast<double>(j) * spacing[0];
    auto vec = [](const at::Tensor& t) {
      auto c = t.contiguous();
      return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
    };
    io::LinePlotOptions lo;
    lo.xlabel = "x";
    lo.ylabel = output_name.array;
    lo.title = label;
    std::vector<io::Series> series{io::Series(input_name.title, x, vec(in))};
    for (int64_t k = 0; k < out.size(0); ++k)
      if (times.empty() || k == out.size(0) - 1) series.emplace_back(output_name.title, x, vec(out[k]), true);
    io::write_line_plot_png(stem + ".png", series, lo);
  } else {
    auto slice = [d](const at::Tensor& t) { return d == 3 ? t[t.size(0) / 2] : t; };
    std::vector<io::FieldPanel> panels{{input_name.title, slice(in)}};
    if (times.empty()) {
      panels.emplace_back(output_name.title, slice(out[0]));
    } else {
      panels.emplace_back(output_name.title + "(t_1)", slice(out[0]));
      panels.emplace_back(output_name.title + "(t_T)", slice(out[out.size(0) - 1]));
    }
    io::write_fields_png(stem + ".png", panels, io::FieldPlotOptions(400 * static_cast<int>(panels.size()), 380));
  }

  if (times.empty()) {
    std::vector<io::VtkArray> arrays{{input_name.array, image(in)}};
    for (int64_t c = 0; c < out.size(0); ++c)
      arrays.push_back({out.size(0) == 1 ? output_name.array : output_name.array + std::to_string(c), image(out[c])});
    io::write_vti(stem + ".vti", geometry, arrays);
    return;
  }
  io::PvdWriter pvd(stem + ".pvd");
  for (int64_t k = 0; k <= out.size(0); ++k) {
    const std::string file = stem + "_t" + std::to_string(k) + ".vti";
    io::write_vti(file, geometry, {{output_name.array, image(k == 0 ? in : out[k - 1])}});
    pvd.add(k == 0 ? 0.0 : times[static_cast<size_t>(k - 1)], file);
  }
}

}  // namespace physml::simulators
