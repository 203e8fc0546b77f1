#pragma once
/// \file png.hpp
/// PNG pictures drawn with PLplot's pngcairo device, headless:
///   write_field_png       one 2-D field as a colour-mapped image with a colour bar and title
///   write_fields_png      several fields side by side (truth | prediction | error), each with
///                         its own colour bar and title
///   write_line_plot_png   named series with optional log axes, legend and axis labels
///                         (loss curves, residual histories, convergence plots with slopes)
/// Every call draws on a private PLplot stream (plmkstrm ... plend1) and restores the caller's
/// stream, so calls do not disturb each other or a host program's own PLplot use (PLplot
/// itself is not thread-safe; calls are serialised by a lock). Writes are atomic (temporary
/// file, then rename).

#include <ATen/core/Tensor.h>

#include <array>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace physml::io {

/// Colour maps for fields: "viridis" (sequential, default), "coolwarm" (diverging blue-white-red,
/// for signed errors; the range is made symmetric about 0), "gray".
struct FieldPanel {
  FieldPanel() = default;
  FieldPanel(std::string title_, at::Tensor field_, std::string colormap_ = "viridis")
      : title(std::move(title_)), field(std::move(field_)), colormap(std::move(colormap_)) {}
  std::string title;                    ///< shown above the panel
  at::Tensor field;                     ///< [ny, nx]; row 0 is drawn at the bottom (y = ymin)
  std::string colormap = "viridis";
  std::optional<double> vmin, vmax;     ///< colour range (default: the field's min and max)
};

/// Picture size and the physical extent of the fields.
struct FieldPlotOptions {
  FieldPlotOptions() = default;
  FieldPlotOptions(int width_, int height_) : width(width_), height(height_) {}
  int width = 800;                       ///< pixels
  int height = 600;                      ///< pixels
  std::array<double, 4> extent{0, 1, 0, 1};  ///< xmin, xmax, ymin, ymax of the domain (axis labels)
  std::string xlabel = "x", ylabel = "y";
  std::string title;                     ///< overall title above all panels (write_fields_png)
};

/// Draw one field [ny, nx] with a colour bar and a title. Throws on a non-2-D or non-finite field.
void write_field_png(const std::string& path, const FieldPanel& panel, const FieldPlotOptions& options = {});

/// Draw several fields side by side, each with its own title and colour bar
/// (e.g. {"truth", u}, {"prediction", v}, {"error", v - u, "coolwarm"}).
void write_fields_png(const std::string& path, const std::vector<FieldPanel>& panels,
                      const FieldPlotOptions& options = {});

/// One curve of a line plot.
struct Series {
  Series() = default;
  Series(std::string name_, std::vector<double> x_, std::vector<double> y_, bool dashed_ = false,
         bool markers_ = false)
      : name(std::move(name_)), x(std::move(x_)), y(std::move(y_)), dashed(dashed_), markers(markers_) {}
  std::string name;        ///< legend entry
  std::vector<double> x;   ///< abscissae (epoch, iteration, h, ...)
  std::vector<double> y;   ///< same length as x
  bool dashed = false;     ///< e.g. for reference slopes O(h^2)
  bool markers = false;    ///< draw a dot at every point
};

/// Axes, labels and size of a line plot.
struct LinePlotOptions {
  std::string title, xlabel, ylabel;
  bool log_x = false;      ///< logarithmic x axis (non-positive x values are skipped)
  bool log_y = false;      ///< logarithmic y axis (non-positive y values are skipped)
  bool legend = true;
  int width = 800;         ///< pixels
  int height = 600;        ///< pixels
};

/// Draw a line plot of the series. Non-finite points are skipped (a NaN breaks a curve);
/// throws if no series has a drawable point or x and y lengths differ.
void write_line_plot_png(const std::string& path, const std::vector<Series>& series,
                         const LinePlotOptions& options = {});

}  // namespace physml::io
