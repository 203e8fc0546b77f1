// PNG pictures with PLplot's pngcairo device (see physml/io/png.hpp).
#include "physml/io/png.hpp"

#include "physml/core/error.hpp"
#include "physml/io/atomic_file.hpp"
#include "physml/io/hdf5.hpp"  // shape_string

#include <plplot.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <mutex>

namespace fs = std::filesystem;

namespace physml::io {

namespace {

std::mutex& plplot_mutex() {
  static std::mutex m;
  return m;
}

/// PLplot's non-fatal error messages of the current call (plsabort handler).
std::string& plplot_messages() {
  static std::string s;
  return s;
}
void record_abort(PLCHAR_VECTOR msg) {
  if (msg) plplot_messages() += std::string(msg) + "; ";
}

/// Colours of cmap0 used for series (a qualitative palette), index 2 upwards.
constexpr int kPalette[][3] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}, {148, 103, 189},
                               {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
constexpr int kPaletteSize = sizeof(kPalette) / sizeof(kPalette[0]);
constexpr int kBlack = 1, kGrid = 15;

/// One PNG file drawn on a private PLplot stream; ends the stream and restores the caller's
/// stream on destruction. publish() renames the temporary file to the final path.
class PngCanvas {
public:
  PngCanvas(const std::string& path, int width, int height) : lock_(plplot_mutex()), path_(path) {
    PHYSML_CHECK(width >= 16 && height >= 16 && width <= 20000 && height <= 20000, "PNG '", path, "': size ", width,
                 "x", height, " is out of range (16..20000 pixels per side)");
    check_writable_path(path, "PNG");
    tmp_ = temporary_path(path) + ".png";
    plplot_messages().clear();
    plgstrm(&previous_);
    plmkstrm(&stream_);
    PHYSML_CHECK(stream_ >= 0, "PNG '", path, "': PLplot has no free stream");
    plsabort(record_abort);
    plsdev("pngcairo");
    plsfnam(tmp_.c_str());
    plspage(0.0, 0.0, width, height, 0, 0);
    plscolbg(255, 255, 255);
    plinit();
    plscmap0n(16);
    plscol0(0, 255, 255, 255);
    plscol0(kBlack, 0, 0, 0);
    plscol0(kGrid, 220, 220, 220);
    for (int i = 0; i < kPaletteSize; ++i) plscol0(2 + i, kPalette[i][0], kPalette[i][1], kPalette[i][2]);
    pladv(0);
    plcol0(kBlack);
  }
  ~PngCanvas() {
    end();
    if (!published_) {
      std::error_code ec;
      fs::remove(tmp_, ec);
    }
  }
  PngCanvas(const PngCanvas&) = delete;
  PngCanvas& operator=(const PngCanvas&) = delete;

  void publish() {
    end();
    std::error_code ec;
    PHYSML_CHECK(fs::exists(tmp_, ec) && fs::file_size(tmp_, ec) > 0, "PLplot did not write PNG '", path_, "'",
                 plplot_messages().empty() ? std::string() : " (PLplot: " + plplot_messages() + ")");
    // cairo does not report a failed write(2) to PLplot: a PNG cut off by a full disk lacks
    // its closing IEND chunk (length 0, "IEND", CRC AE 42 60 82) and is not published.
    static constexpr char iend[] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', '\xAE', '\x42', '\x60', '\x82'};
    if (!file_ends_with(tmp_, std::string_view(iend, sizeof iend))) {
      fs::remove(tmp_, ec);
      PHYSML_THROW("could not write PNG '", path_, "': the file was cut off (disk full?)");
    }
    published_ = true;  // publish_file removes the temporary itself if the rename fails
    publish_file(tmp_, path_);
  }

private:
  void end() {
    if (ended_) return;
    plend1();
    plsstrm(previous_);
    ended_ = true;
  }
  std::lock_guard<std::mutex> lock_;
  std::string path_, tmp_;
  PLINT previous_ = 0, stream_ = -1;
  bool ended_ = false, published_ = false;
};

void set_colormap(const std::string& name) {
  std::vector<PLFLT> pos, r, g, b;
  auto node = [&](double p, int R, int G, int B) {
    pos.push_back(p);
    r.push_back(R / 255.0);
    g.push_back(G / 255.0);
    b.push_back(B / 255.0);
  };
  if (name == "viridis") {
    node(0.0, 68, 1, 84);
    node(0.25, 59, 82, 139);
    node(0.5, 33, 145, 140);
    node(0.75, 94, 201, 98);
    node(1.0, 253, 231, 37);
  } else if (name == "coolwarm") {
    node(0.0, 59, 76, 192);
    node(0.5, 221, 221, 221);
    node(1.0, 180, 4, 38);
  } else if (name == "gray") {
    node(0.0, 0, 0, 0);
    node(1.0, 255, 255, 255);
  } else {
    PHYSML_THROW("unknown colour map '", name, "': expected viridis, coolwarm or gray");
  }
  plscmap1n(256);
  plscmap1l(1, static_cast<PLINT>(pos.size()), pos.data(), r.data(), g.data(), b.data(), nullptr);
}

/// A field panel checked and converted: [ny, nx] float64 on the CPU and its colour range.
struct PreparedField {
  at::Tensor f;
  double vmin, vmax;
};

PreparedField prepare(const FieldPanel& p, const std::string& path) {
  PHYSML_CHECK(p.field.defined() && p.field.dim() == 2 && p.field.size(0) >= 1 && p.field.size(1) >= 1, "PNG '",
               path, "': field '", p.title, "' has shape ",
               p.field.defined() ? shape_string(p.field.sizes().vec()) : std::string("(undefined)"),
               ", expected [ny, nx]");
  PreparedField out;
  out.f = p.field.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  PHYSML_CHECK(torch::isfinite(out.f).all().item<bool>(), "PNG '", path, "': field '", p.title,
               "' contains NaN or Inf values");
  PHYSML_CHECK(p.colormap == "viridis" || p.colormap == "coolwarm" || p.colormap == "gray", "PNG '", path,
               "': unknown colour map '", p.colormap, "' for field '", p.title, "': expected viridis, coolwarm or gray");
  double lo = out.f.min().item<double>(), hi = out.f.max().item<double>();
  if (p.colormap == "coolwarm") {
    double m = std::max(std::abs(lo), std::abs(hi));
    lo = -m;
    hi = m;
  }
  out.vmin = p.vmin.value_or(lo);
  out.vmax = p.vmax.value_or(hi);
  PHYSML_CHECK(std::isfinite(out.vmin) && std::isfinite(out.vmax) && out.vmin <= out.vmax, "PNG '", path,
               "': colour range [", out.vmin, ", ", out.vmax, "] of field '", p.title, "' is invalid");
  if (out.vmax - out.vmin <= 1e-300 + 1e-12 * std::abs(out.vmax)) {  // constant field: widen the range
    double d = std::max(1.0, std::abs(out.vmax)) * 0.5;
    out.vmin -= d;
    out.vmax += d;
  }
  return out;
}

/// Colour-bar tick labels: the value itself, compactly ("0.25", "-4e-05").
void format_label(PLINT, PLFLT value, char* label, PLINT length, PLPointer) {
  if (std::abs(value) < 1e-300) value = 0.0;  // no "-0"
  std::snprintf(label, static_cast<std::size_t>(length), "%.3g", value);
}

/// Draw a prepared field into the viewport [vx0, vx1] x [vy0, vy1] (normalised page
/// coordinates) with a colour bar to its right.
void draw_field(const PreparedField& pf, const FieldPanel& p, const FieldPlotOptions& o, double vx0, double vx1,
                double vy0, double vy1) {
  const std::int64_t ny = pf.f.size(0), nx = pf.f.size(1);
  const auto [xmin, xmax, ymin, ymax] = o.extent;
  set_colormap(p.colormap);
  plvpor(vx0, vx1, vy0, vy1);
  plwind(xmin, xmax, ymin, ymax);
  // PLplot images are indexed [x][y]; clamp so values outside [vmin, vmax] show the end colours.
  at::Tensor t = pf.f.clamp(pf.vmin, pf.vmax).t().contiguous();
  std::vector<const PLFLT*> rows(static_cast<std::size_t>(nx));
  const double* base = t.data_ptr<double>();
  for (std::int64_t i = 0; i < nx; ++i) rows[static_cast<std::size_t>(i)] = base + i * ny;
  plimagefr(rows.data(), static_cast<PLINT>(nx), static_cast<PLINT>(ny), xmin, xmax, ymin, ymax, pf.vmin, pf.vmax,
            pf.vmin, pf.vmax, nullptr, nullptr);
  plcol0(kBlack);
  plschr(0.0, 0.7);
  plbox("bcnst", 0.0, 0, "bcnstv", 0.0, 0);
  plschr(0.0, 0.9);
  plmtex("t", 1.0, 0.5, 0.5, p.title.c_str());
  plschr(0.0, 0.7);
  plmtex("b", 2.8, 0.5, 0.5, o.xlabel.c_str());
  plmtex("l", 3.5, 0.5, 0.5, o.ylabel.c_str());

  PLFLT cb_width = 0, cb_height = 0;
  // "o": labels from format_label (plain %.3g, no separate "(x10^k)" that would shift the bar)
  const char* axis_opts[] = {"bcvtmo"};
  PLFLT ticks[] = {0.0};
  PLINT sub_ticks[] = {0};
  PLINT n_values[] = {2};
  PLFLT range[] = {pf.vmin, pf.vmax};
  const PLFLT* values[] = {range};
  // Offsets and width are relative to the viewport width: convert from page fractions.
  const double vw = vx1 - vx0;
  plslabelfunc(format_label, nullptr);
  plcolorbar(&cb_width, &cb_height, PL_COLORBAR_GRADIENT,
             PL_POSITION_RIGHT | PL_POSITION_OUTSIDE | PL_POSITION_VIEWPORT, 0.015 / vw, 0.0, 0.022 / vw, 1.0, 0,
             kBlack, 1, 0.0, 0.0, 0, 0.0, 0, nullptr, nullptr, 1, axis_opts, ticks, sub_ticks, n_values, values);
  plslabelfunc(nullptr, nullptr);
  plschr(0.0, 1.0);
}

}  // namespace

void write_field_png(const std::string& path, const FieldPanel& panel, const FieldPlotOptions& options) {
  write_fields_png(path, {panel}, options);
}

void write_fields_png(const std::string& path, const std::vector<FieldPanel>& panels,
                      const FieldPlotOptions& options) {
  PHYSML_CHECK(!panels.empty(), "PNG '", path, "': no field to draw");
  const auto& e = options.extent;
  PHYSML_CHECK(e[0] < e[1] && e[2] < e[3], "PNG '", path, "': extent [", e[0], ", ", e[1], "] x [", e[2], ", ", e[3],
               "] is empty");
  std::vector<PreparedField> prepared;  // check everything before PLplot starts drawing
  for (const auto& p : panels) prepared.push_back(prepare(p, path));
  PngCanvas canvas(path, options.width, options.height);
  const double n = static_cast<double>(panels.size());
  const double top = options.title.empty() ? 0.9 : 0.85;
  for (std::size_t i = 0; i < panels.size(); ++i) {
    double x0 = static_cast<double>(i) / n, w = 1.0 / n;
    // room on the left for y tick labels, on the right for the colour bar and its labels
    draw_field(prepared[i], panels[i], options, x0 + 0.1 * w + 0.03, x0 + 0.72 * w, 0.12, top);
  }
  if (!options.title.empty()) {
    plvpor(0.0, 1.0, 0.0, 1.0);
    plwind(0.0, 1.0, 0.0, 1.0);
    plcol0(kBlack);
    plptex(0.5, 0.95, 1.0, 0.0, 0.5, options.title.c_str());
  }
  canvas.publish();
}

namespace {

/// Drawable points of a series as (possibly log10-transformed) segments split at gaps.
std::vector<std::pair<std::vector<PLFLT>, std::vector<PLFLT>>> segments(const Series& s, bool log_x, bool log_y) {
  std::vector<std::pair<std::vector<PLFLT>, std::vector<PLFLT>>> out(1);
  for (std::size_t i = 0; i < s.x.size(); ++i) {
    double x = s.x[i], y = s.y[i];
    bool ok = std::isfinite(x) && std::isfinite(y) && (!log_x || x > 0) && (!log_y || y > 0);
    if (!ok) {
      if (!out.back().first.empty()) out.emplace_back();
      continue;
    }
    out.back().first.push_back(log_x ? std::log10(x) : x);
    out.back().second.push_back(log_y ? std::log10(y) : y);
  }
  if (out.back().first.empty()) out.pop_back();
  return out;
}

void padded_range(double& lo, double& hi, bool log_axis) {
  if (log_axis && std::floor(hi) - std::ceil(lo) < 1.0) {
    // PLplot labels a log axis at whole decades only: a range with fewer than two decades
    // inside (e.g. losses between 0.08 and 0.3) would get no numbers at all, so widen it to
    // the enclosing decades.
    lo = std::floor(lo);
    hi = std::max(std::ceil(hi), lo + 1.0);
    return;
  }
  if (hi - lo <= 1e-12 * std::max(1.0, std::abs(hi))) {
    double d = log_axis ? 0.5 : std::max(1.0, std::abs(hi)) * 0.1;
    lo -= d;
    hi += d;
    return;
  }
  double pad = 0.04 * (hi - lo);
  lo -= pad;
  hi += pad;
}

}  // namespace

void write_line_plot_png(const std::string& path, const std::vector<Series>& series, const LinePlotOptions& o) {
  PHYSML_CHECK(!series.empty(), "line plot '", path, "': no series to draw");
  double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
  std::vector<std::vector<std::pair<std::vector<PLFLT>, std::vector<PLFLT>>>> segs;
  for (const auto& s : series) {
    PHYSML_CHECK(s.x.size() == s.y.size(), "line plot '", path, "': series '", s.name, "' has ", s.x.size(),
                 " x values and ", s.y.size(), " y values");
    segs.push_back(segments(s, o.log_x, o.log_y));
    for (const auto& [xs, ys] : segs.back()) {
      for (double v : xs) xlo = std::min(xlo, v), xhi = std::max(xhi, v);
      for (double v : ys) ylo = std::min(ylo, v), yhi = std::max(yhi, v);
    }
  }
  PHYSML_CHECK(std::isfinite(xlo), "line plot '", path, "': no series has a drawable point (all empty, non-finite",
               (o.log_x || o.log_y) ? ", or non-positive on a log axis)" : ")");
  padded_range(xlo, xhi, o.log_x);
  padded_range(ylo, yhi, o.log_y);

  PngCanvas canvas(path, o.width, o.height);
  plvpor(0.12, 0.95, 0.12, 0.9);
  plwind(xlo, xhi, ylo, yhi);
  std::string xopt = o.log_x ? "l" : "", yopt = o.log_y ? "l" : "";
  plcol0(kGrid);
  const double xtick = o.log_x ? 1.0 : 0.0, ytick = o.log_y ? 1.0 : 0.0;  // log axes: a major tick per decade
  plbox(("g" + xopt).c_str(), xtick, 0, ("g" + yopt).c_str(), ytick, 0);
  plcol0(kBlack);
  plschr(0.0, 0.8);
  plbox(("bcnst" + xopt).c_str(), xtick, 0, ("bcnstv" + yopt).c_str(), ytick, 0);
  plschr(0.0, 0.9);
  plmtex("b", 3.0, 0.5, 0.5, o.xlabel.c_str());
  plmtex("l", 4.5, 0.5, 0.5, o.ylabel.c_str());
  plschr(0.0, 1.1);
  plmtex("t", 1.5, 0.5, 0.5, o.title.c_str());

  const auto n = static_cast<PLINT>(series.size());
  std::vector<PLINT> opt_array(n), text_colors(n, kBlack), line_colors(n), line_styles(n), symbol_colors(n),
      symbol_numbers(n, 1);
  std::vector<PLFLT> line_widths(n, 2.0), symbol_scales(n, 1.0);
  std::vector<const char*> text(n), symbols(n, "#(840)");
  for (PLINT i = 0; i < n; ++i) {
    const auto& s = series[static_cast<std::size_t>(i)];
    int colour = 2 + i % kPaletteSize;
    line_colors[i] = symbol_colors[i] = colour;
    line_styles[i] = s.dashed ? 2 : 1;
    opt_array[i] = PL_LEGEND_LINE | (s.markers ? PL_LEGEND_SYMBOL : 0);
    text[i] = s.name.c_str();
    plcol0(colour);
    pllsty(line_styles[i]);
    plwidth(2.0);
    for (const auto& [xs, ys] : segs[static_cast<std::size_t>(i)]) {
      if (xs.size() >= 2) plline(static_cast<PLINT>(xs.size()), xs.data(), ys.data());
      if (s.markers || xs.size() == 1) plstring(static_cast<PLINT>(xs.size()), xs.data(), ys.data(), "#(840)");
    }
  }
  pllsty(1);
  plwidth(1.0);
  if (o.legend) {
    PLFLT lw = 0, lh = 0;
    plschr(0.0, 0.8);
    pllegend(&lw, &lh, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX,
             PL_POSITION_RIGHT | PL_POSITION_TOP | PL_POSITION_INSIDE | PL_POSITION_VIEWPORT, 0.02, 0.02, 0.08, 0,
             kBlack, 1, 0, 0, n, opt_array.data(), 1.0, 1.0, 2.0, 0.0, text_colors.data(), text.data(), nullptr,
             nullptr, nullptr, nullptr, line_colors.data(), line_styles.data(), line_widths.data(),
             symbol_colors.data(), symbol_scales.data(), symbol_numbers.data(), symbols.data());
  }
  canvas.publish();
}

}  // namespace physml::io
