// PNG pictures: PNG signature and IHDR size as requested, and decoded pixel content
// (vtkPNGReader) that reflects what was drawn.
#include "physml/core/error.hpp"
#include "physml/io/png.hpp"
#include "test_util.hpp"

#include <torch/torch.h>

#include <vtkImageData.h>
#include <vtkNew.h>
#include <vtkPNGReader.h>

#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

namespace fs = std::filesystem;
using namespace physml::io;

namespace {

using physml::test::file_bytes;

/// Width and height from the IHDR chunk, after checking the 8-byte PNG signature.
std::pair<int, int> png_size(const fs::path& p) {
  std::string b = file_bytes(p);
  EXPECT_GE(b.size(), 24u);
  if (b.size() < 24) return {0, 0};
  const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  EXPECT_EQ(std::memcmp(b.data(), sig, 8), 0) << "not a PNG signature";
  EXPECT_EQ(b.substr(12, 4), "IHDR");
  auto be32 = [&](std::size_t o) {
    auto u = [&](std::size_t k) { return static_cast<unsigned>(static_cast<unsigned char>(b[o + k])); };
    return static_cast<int>((u(0) << 24) | (u(1) << 16) | (u(2) << 8) | u(3));
  };
  return {be32(16), be32(20)};
}

/// Decoded image: pixel (x, y) with y = 0 at the TOP row, as RGB.
struct Image {
  vtkNew<vtkPNGReader> reader;
  int w = 0, h = 0, comps = 0;
  explicit Image(const fs::path& p) {
    reader->SetFileName(p.string().c_str());
    reader->Update();
    int dims[3];
    reader->GetOutput()->GetDimensions(dims);
    w = dims[0];
    h = dims[1];
    comps = reader->GetOutput()->GetNumberOfScalarComponents();
  }
  std::array<int, 3> rgb(int x, int y) const {
    // VTK's image origin is the bottom-left corner
    auto* p = static_cast<unsigned char*>(reader->GetOutput()->GetScalarPointer(x, h - 1 - y, 0));
    return {p[0], p[1], p[2]};
  }
};

int distance(const std::array<int, 3>& a, const std::array<int, 3>& b) {
  return std::abs(a[0] - b[0]) + std::abs(a[1] - b[1]) + std::abs(a[2] - b[2]);
}

/// Number of distinct colours in a rectangle (a blank area has 1).
std::size_t colours(const Image& im, int x0, int x1, int y0, int y1) {
  std::set<std::array<int, 3>> s;
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) s.insert(im.rgb(x, y));
  return s.size();
}

}  // namespace

TEST(Png, FieldHotLeftColdRight) {
  auto dir = physml::test::scratch_dir();
  auto path = dir / "field.png";
  // hot (1) on the left half, cold (0) on the right half
  auto f = torch::zeros({32, 64}, torch::kFloat64);
  f.slice(1, 0, 32).fill_(1.0);
  write_field_png(path.string(), {"hot | cold", f}, FieldPlotOptions{640, 400});
  auto [w, h] = png_size(path);
  EXPECT_EQ(w, 640);
  EXPECT_EQ(h, 400);
  Image im(path);
  ASSERT_EQ(im.w, 640);
  ASSERT_EQ(im.h, 400);
  // The field's viewport spans x in [0.13, 0.72] and y in [0.12, 0.9] of the page (y up).
  int yc = static_cast<int>(400 * (1 - 0.5));
  auto left = im.rgb(static_cast<int>(640 * 0.2), yc), right = im.rgb(static_cast<int>(640 * 0.65), yc);
  // viridis: hot end is yellow (253, 231, 37), cold end dark violet (68, 1, 84)
  EXPECT_LT(distance(left, {253, 231, 37}), 40) << left[0] << "," << left[1] << "," << left[2];
  EXPECT_LT(distance(right, {68, 1, 84}), 40) << right[0] << "," << right[1] << "," << right[2];
  // the colour bar right of the field: yellow at its top, violet at its bottom
  // (x between the field's right edge 0.72 and 0.72 + bar width)
  int xb = static_cast<int>(640 * 0.75);
  auto bar_top = im.rgb(xb, static_cast<int>(400 * (1 - 0.88))), bar_bottom = im.rgb(xb, static_cast<int>(400 * (1 - 0.14)));
  EXPECT_LT(distance(bar_top, {253, 231, 37}), 60) << bar_top[0] << "," << bar_top[1] << "," << bar_top[2];
  EXPECT_LT(distance(bar_bottom, {68, 1, 84}), 60) << bar_bottom[0] << "," << bar_bottom[1] << "," << bar_bottom[2];
  // the page corner is white background
  EXPECT_EQ(im.rgb(2, 2), (std::array<int, 3>{255, 255, 255}));
}

TEST(Png, FieldOrientationRowZeroAtBottom) {
  auto dir = physml::test::scratch_dir();
  auto path = dir / "rows.png";
  auto f = torch::zeros({40, 40});
  f.slice(0, 0, 20).fill_(1.0);  // rows 0..19 = y small = bottom half hot
  write_field_png(path.string(), {"bottom hot", f}, FieldPlotOptions{400, 400});
  Image im(path);
  int xc = static_cast<int>(400 * 0.4);
  auto bottom = im.rgb(xc, static_cast<int>(400 * (1 - 0.2))), top = im.rgb(xc, static_cast<int>(400 * (1 - 0.8)));
  EXPECT_LT(distance(bottom, {253, 231, 37}), 40);
  EXPECT_LT(distance(top, {68, 1, 84}), 40);
}

TEST(Png, TruthPredictionErrorSideBySide) {
  auto dir = physml::test::scratch_dir();
  auto path = dir / "tpe.png";
  auto x = torch::linspace(0, 1, 48, torch::kFloat64);
  auto truth = torch::outer(torch::ones({32}, torch::kFloat64), x);  // increases to the right
  auto pred = truth + 0.05 * torch::sin(6.28 * x);
  FieldPlotOptions o;
  o.width = 1200;
  o.height = 400;
  o.title = "sample 0";
  write_fields_png(path.string(), {{"truth", truth}, {"prediction", pred}, {"error", pred - truth, "coolwarm"}}, o);
  EXPECT_EQ(png_size(path), (std::pair<int, int>{1200, 400}));
  Image im(path);
  int yc = 200;
  for (int panel = 0; panel < 3; ++panel) {
    // each panel: viewport x in [x0 + 0.1 w + 0.03, x0 + 0.72 w] with w = 1/3 of the page
    double x0 = panel / 3.0, w = 1.0 / 3.0;
    int xl = static_cast<int>(1200 * (x0 + 0.1 * w + 0.03 + 0.03)), xr = static_cast<int>(1200 * (x0 + 0.72 * w - 0.02));
    EXPECT_GT(distance(im.rgb(xl, yc), im.rgb(xr, yc)), 60) << "panel " << panel << " looks uniform";
    EXPECT_GT(colours(im, xl, xr, yc - 5, yc + 5), 10u) << "panel " << panel;
  }
  // truth: low (violet) on the left, high (yellow) on the right
  auto tl = im.rgb(static_cast<int>(1200 * 0.08), yc), tr = im.rgb(static_cast<int>(1200 * 0.23), yc);
  EXPECT_LT(distance(tl, {68, 1, 84}), distance(tl, {253, 231, 37}));
  EXPECT_LT(distance(tr, {253, 231, 37}), distance(tr, {68, 1, 84}));
  // error = 0.05 sin(2 pi x): positive (red) at x = 1/4, negative (blue) at x = 3/4 of the third panel
  double x0 = 2.0 / 3.0 + 0.1 / 3.0 + 0.03, x1 = 2.0 / 3.0 + 0.72 / 3.0;
  auto pos = im.rgb(static_cast<int>(1200 * (x0 + 0.25 * (x1 - x0))), yc);
  auto neg = im.rgb(static_cast<int>(1200 * (x0 + 0.75 * (x1 - x0))), yc);
  EXPECT_GT(pos[0], pos[2] + 80) << "expected red";
  EXPECT_GT(neg[2], neg[0] + 80) << "expected blue";
}

TEST(Png, LinePlotWithLogAxesAndLegend) {
  auto dir = physml::test::scratch_dir();
  auto path = dir / "loss.png";
  Series train{"train", {}, {}}, valid{"valid", {}, {}}, slope{"O(h^2)", {}, {}, true};
  for (int e = 1; e <= 100; ++e) {
    train.x.push_back(e);
    train.y.push_back(1.0 / e);
    valid.x.push_back(e);
    valid.y.push_back(2.0 / std::sqrt(e));
  }
  slope.x = {1, 100};
  slope.y = {1, 1e-4};
  LinePlotOptions o;
  o.title = "loss";
  o.xlabel = "epoch";
  o.ylabel = "loss";
  o.log_x = o.log_y = true;
  o.width = 500;
  o.height = 300;
  write_line_plot_png(path.string(), {train, valid, slope}, o);
  EXPECT_EQ(png_size(path), (std::pair<int, int>{500, 300}));
  Image im(path);
  // inside the plot area there are lines in the series colours (blue, orange, green)
  std::size_t blue = 0, orange = 0, green = 0;
  for (int y = static_cast<int>(300 * 0.1); y < static_cast<int>(300 * 0.88); ++y)
    for (int x = static_cast<int>(500 * 0.12); x < static_cast<int>(500 * 0.95); ++x) {
      auto c = im.rgb(x, y);
      blue += distance(c, {31, 119, 180}) < 30;
      orange += distance(c, {255, 127, 14}) < 30;
      green += distance(c, {44, 160, 44}) < 30;
    }
  EXPECT_GT(blue, 50u);
  EXPECT_GT(orange, 50u);
  EXPECT_GT(green, 20u);
  EXPECT_GT(colours(im, 0, 500, 0, 300), 20u);  // not blank
  // Log axes map values through log10: with the data ranges above the window is
  // x: log10 [1, 100] padded by 4 % = [-0.08, 2.08], y: log10 [1e-4, 2] padded = [-4.172, 0.473],
  // in the viewport x [0.12, 0.95], y [0.12, 0.9] of the page. train(10) = 0.1 lies at
  // log10 (1, -1) -> pixel (267, 104) from the top-left; a linear y axis would put it elsewhere.
  auto near_blue = [&](int px, int py) {
    for (int dy = -3; dy <= 3; ++dy)
      for (int dx = -3; dx <= 3; ++dx)
        if (distance(im.rgb(px + dx, py + dy), {31, 119, 180}) < 60) return true;
    return false;
  };
  EXPECT_TRUE(near_blue(267, 104));
  // and train(100) = 0.01 at log10 (2, -2): pixel (459, 154)
  EXPECT_TRUE(near_blue(459, 154));
}

TEST(Png, LogAxisWithinOneDecadeStillHasNumbers) {
  // Losses between 0.08 and 0.3 span no whole decade inside; PLplot labels log axes only at
  // decades, so the range must be widened to [0.01, 1] or the y axis shows no numbers at all.
  auto dir = physml::test::scratch_dir();
  auto path = dir / "narrow.png";
  Series s{"loss", {1, 2, 3, 4}, {0.3, 0.2, 0.12, 0.08}};
  LinePlotOptions o;
  o.ylabel = "";  // nothing else may be drawn left of the plot area
  o.log_y = true;
  o.width = 600;
  o.height = 400;
  write_line_plot_png(path.string(), {s}, o);
  Image im(path);
  auto dark_left_of_axis = [&](int y0, int y1) {
    std::size_t n = 0;
    for (int y = y0; y < y1; ++y)
      for (int x = 0; x < static_cast<int>(600 * 0.12) - 3; ++x) n += distance(im.rgb(x, y), {0, 0, 0}) < 200;
    return n;
  };
  // decade labels at the top (10^0, page y 0.9 -> row 40) and bottom (10^-1 ... window end, row 352)
  EXPECT_GT(dark_left_of_axis(25, 60), 5u);
  EXPECT_GT(dark_left_of_axis(335, 370), 5u);
}

TEST(Png, LinearAxesAndSkippedPoints) {
  auto dir = physml::test::scratch_dir();
  auto path = dir / "res.png";
  Series s{"residual", {0, 1, 2, 3, 4}, {1.0, 0.5, std::nan(""), 0.25, -1.0}, false, true};
  LinePlotOptions o;
  o.log_y = true;  // -1 is skipped on a log axis, NaN breaks the curve
  write_line_plot_png(path.string(), {s}, o);
  EXPECT_EQ(png_size(path), (std::pair<int, int>{800, 600}));
  o.log_y = false;
  write_line_plot_png(path.string(), {s}, o);
  EXPECT_GT(colours(Image(path), 0, 800, 0, 600), 5u);
}

TEST(Png, BadInputGivesClearErrorsAndKeepsFiles) {
  auto dir = physml::test::scratch_dir();
  auto path = (dir / "p.png").string();
  write_field_png(path, {"ok", torch::rand({4, 4})});
  auto before = file_bytes(path);
  EXPECT_THROW_MSG(write_field_png(path, {"v", torch::rand({4})}), "field 'v' has shape [4], expected [ny, nx]");
  auto nan = torch::rand({4, 4});
  nan[1][1] = std::nan("");
  EXPECT_THROW_MSG(write_field_png(path, {"n", nan}), "field 'n' contains NaN or Inf");
  EXPECT_THROW_MSG(write_field_png(path, {"c", torch::rand({4, 4}), "jet"}), "unknown colour map 'jet'");
  EXPECT_THROW_MSG(write_field_png(path, {"s", torch::rand({4, 4})}, FieldPlotOptions{2, 2}), "out of range");
  EXPECT_THROW_MSG(write_field_png((dir / "no" / "p.png").string(), {"d", torch::rand({4, 4})}), "does not exist");
  EXPECT_THROW_MSG(write_line_plot_png(path, {Series{"a", {1, 2}, {1}}}), "series 'a' has 2 x values and 1 y values");
  LinePlotOptions logy;
  logy.log_y = true;
  EXPECT_THROW_MSG(write_line_plot_png(path, {Series{"neg", {1, 2}, {-1, -2}}}, logy), "no series has a drawable point");
  EXPECT_THROW_MSG(write_line_plot_png(path, {}), "no series");
  EXPECT_EQ(file_bytes(path), before);
  // a constant field still draws (its colour range is widened)
  write_field_png((dir / "const.png").string(), {"const", torch::full({3, 3}, 2.0)});
  EXPECT_EQ(png_size(dir / "const.png"), (std::pair<int, int>{800, 600}));
  EXPECT_TRUE(physml::test::no_temporaries(dir));
}

TEST(Png, ManyCallsDoNotExhaustPlplotStreams) {
  // PLplot has a fixed number of streams (100); every call must give its stream back.
  auto dir = physml::test::scratch_dir();
  LinePlotOptions o;
  o.width = o.height = 32;
  o.legend = false;
  for (int i = 0; i < 105; ++i) write_line_plot_png((dir / "s.png").string(), {Series{"s", {0, 1}, {0, 1}}}, o);
  EXPECT_EQ(png_size(dir / "s.png"), (std::pair<int, int>{32, 32}));
}
