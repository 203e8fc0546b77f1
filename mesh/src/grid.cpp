#include "physml/mesh/grid.hpp"

#include "physml/core/error.hpp"

#include <torch/torch.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <sstream>

namespace physml::mesh {

const char* to_string(Boundary b) {
  switch (b) {
    case Boundary::dirichlet: return "dirichlet";
    case Boundary::neumann: return "neumann";
    case Boundary::periodic: return "periodic";
  }
  return "?";
}

const char* to_string(Centering c) { return c == Centering::vertex ? "vertex" : "cell"; }

namespace {
const char* axis_name(int axis) {
  static const char* names[] = {"x", "y", "z"};
  return axis >= 0 && axis < 3 ? names[axis] : "?";
}

/// A parsed JSON value (enough of JSON for Grid descriptions: objects, arrays, strings
/// without unicode escapes, numbers, true/false/null).
struct JsonValue {
  enum Kind { null, boolean, number, string, array, object } kind = null;
  double num = 0;
  std::string str;
  std::vector<JsonValue> items;
  std::vector<std::pair<std::string, JsonValue>> members;
  const JsonValue* find(const std::string& key) const {
    for (const auto& m : members)
      if (m.first == key) return &m.second;
    return nullptr;
  }
};

class JsonParser {
public:
  explicit JsonParser(const std::string& text) : s_(text) {}
  JsonValue parse() {
    JsonValue v = value();
    skip();
    if (pos_ != s_.size()) fail("unexpected trailing characters");
    return v;
  }

private:
  [[noreturn]] void fail(const std::string& what) const {
    PHYSML_THROW("Grid::from_json: malformed JSON at character ", pos_, ": ", what);
  }
  void skip() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool eat(char c) {
    skip();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) fail(std::string("expected '") + c + "'");
  }
  std::string string_literal() {
    expect('"');
    std::string out;
    while (pos_ < s_.size() && s_[pos_] != '"') {
      if (s_[pos_] == '\\' && pos_ + 1 < s_.size()) ++pos_;
      out += s_[pos_++];
    }
    if (pos_ >= s_.size()) fail("unterminated string");
    ++pos_;
    return out;
  }
  JsonValue value() {
    skip();
    if (pos_ >= s_.size()) fail("unexpected end of text");
    JsonValue v;
    const char c = s_[pos_];
    if (c == '{') {
      ++pos_;
      v.kind = JsonValue::object;
      if (eat('}')) return v;
      do {
        std::string key = (skip(), string_literal());
        expect(':');
        v.members.emplace_back(key, value());
      } while (eat(','));
      expect('}');
    } else if (c == '[') {
      ++pos_;
      v.kind = JsonValue::array;
      if (eat(']')) return v;
      do v.items.push_back(value());
      while (eat(','));
      expect(']');
    } else if (c == '"') {
      v.kind = JsonValue::string;
      v.str = string_literal();
    } else if (s_.compare(pos_, 4, "true") == 0 || s_.compare(pos_, 5, "false") == 0) {
      v.kind = JsonValue::boolean;
      v.num = s_[pos_] == 't';
      pos_ += s_[pos_] == 't' ? 4 : 5;
    } else if (s_.compare(pos_, 4, "null") == 0) {
      pos_ += 4;
    } else {
      const char* begin = s_.c_str() + pos_;
      char* end = nullptr;
      v.num = std::strtod(begin, &end);
      if (end == begin) fail("expected a value");
      v.kind = JsonValue::number;
      pos_ += static_cast<size_t>(end - begin);
    }
    return v;
  }
  const std::string& s_;
  size_t pos_ = 0;
};

std::string json_number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}
}  // namespace

GridOptions::GridOptions(std::vector<int64_t> sizes) : sizes_(std::move(sizes)) {}

GridOptions& GridOptions::boundary(Boundary b) {
  boundaries_.assign(3, {b, b});
  return *this;
}

GridOptions& GridOptions::boundary(int axis, Boundary lower_face, Boundary upper_face) {
  PHYSML_CHECK(axis >= 0 && axis < 3, "GridOptions::boundary: axis must be 0 (x), 1 (y) or 2 (z), got ", axis);
  if (boundaries_.size() < 3) boundaries_.resize(3, {Boundary::dirichlet, Boundary::dirichlet});
  boundaries_[axis] = {lower_face, upper_face};
  return *this;
}

GridOptions& GridOptions::periodic(int axis) { return boundary(axis, Boundary::periodic, Boundary::periodic); }

Grid::Grid(const GridOptions& o) : sizes_(o.sizes()), centering_(o.centering()) {
  const int d = static_cast<int>(sizes_.size());
  PHYSML_CHECK(d >= 1 && d <= 3, "Grid: dimension must be 1, 2 or 3 (the length of sizes), got ", d);
  lower_ = o.lower().empty() ? std::vector<double>(d, 0.0) : o.lower();
  upper_ = o.upper().empty() ? std::vector<double>(d, 1.0) : o.upper();
  PHYSML_CHECK(static_cast<int>(lower_.size()) == d, "Grid: lower has ", lower_.size(),
               " entries but the grid has dimension ", d);
  PHYSML_CHECK(static_cast<int>(upper_.size()) == d, "Grid: upper has ", upper_.size(),
               " entries but the grid has dimension ", d);
  boundaries_.assign(d, {Boundary::dirichlet, Boundary::dirichlet});
  for (int a = 0; a < d && a < static_cast<int>(o.boundaries().size()); ++a) boundaries_[a] = o.boundaries()[a];
  for (int a = 0; a < d; ++a) {
    PHYSML_CHECK(sizes_[a] > 0, "Grid: the number of points along ", axis_name(a), " must be positive, got ",
                 sizes_[a]);
    PHYSML_CHECK(std::isfinite(lower_[a]) && std::isfinite(upper_[a]) && upper_[a] > lower_[a], "Grid: upper (",
                 upper_[a], ") must be greater than lower (", lower_[a], ") along ", axis_name(a));
    bool p0 = boundaries_[a][0] == Boundary::periodic, p1 = boundaries_[a][1] == Boundary::periodic;
    PHYSML_CHECK(p0 == p1, "Grid: periodic boundary along ", axis_name(a),
                 " must be set on both faces (lower face is ", to_string(boundaries_[a][0]), ", upper face is ",
                 to_string(boundaries_[a][1]), ")");
    const double len = upper_[a] - lower_[a];
    if (centering_ == Centering::vertex && !p0) {
      PHYSML_CHECK(sizes_[a] >= 2, "Grid: a vertex-centred non-periodic axis needs at least 2 points (", axis_name(a),
                   " has ", sizes_[a], ")");
      spacing_.push_back(len / static_cast<double>(sizes_[a] - 1));
    } else {
      spacing_.push_back(len / static_cast<double>(sizes_[a]));
    }
  }
}

void Grid::check_axis(int axis, const char* what) const {
  PHYSML_CHECK(axis >= 0 && axis < dim(), "Grid::", what, ": axis must be in [0, ", dim(), "), got ", axis);
}

int64_t Grid::size(int axis) const {
  check_axis(axis, "size");
  return sizes_[axis];
}

std::vector<int64_t> Grid::shape() const { return {sizes_.rbegin(), sizes_.rend()}; }

int64_t Grid::numel() const {
  int64_t n = 1;
  for (auto s : sizes_) n *= s;
  return n;
}

double Grid::lower(int axis) const {
  check_axis(axis, "lower");
  return lower_[axis];
}

double Grid::upper(int axis) const {
  check_axis(axis, "upper");
  return upper_[axis];
}

double Grid::spacing(int axis) const {
  check_axis(axis, "spacing");
  return spacing_[axis];
}

double Grid::cell_volume() const {
  double v = 1.0;
  for (double h : spacing_) v *= h;
  return v;
}

Boundary Grid::boundary(int axis, int side) const {
  check_axis(axis, "boundary");
  PHYSML_CHECK(side == 0 || side == 1, "Grid::boundary: side must be 0 (lower face) or 1 (upper face), got ", side);
  return boundaries_[axis][side];
}

at::Tensor Grid::axis_coordinates(int axis, at::TensorOptions options) const {
  check_axis(axis, "axis_coordinates");
  const double offset = centering_ == Centering::cell ? 0.5 : 0.0;
  auto i = torch::arange(sizes_[axis], torch::TensorOptions().dtype(torch::kDouble).device(options.device()));
  return (lower_[axis] + (i + offset) * spacing_[axis]).to(options.dtype());
}

std::vector<at::Tensor> Grid::coordinates(at::TensorOptions options) const {
  std::vector<at::Tensor> axes;  // z, y, x order for meshgrid "ij" -> shape [nz, ny, nx]
  for (int a = dim() - 1; a >= 0; --a) axes.push_back(axis_coordinates(a, options));
  auto mesh = torch::meshgrid(axes, "ij");
  std::vector<at::Tensor> out;  // back to x, y, z order
  for (int a = 0; a < dim(); ++a) out.push_back(mesh[dim() - 1 - a].contiguous());
  return out;
}

DM Grid::to_dmda(MPI_Comm comm, int dof, int stencil_width, DMDAStencilType stencil_type) const {
  PHYSML_CHECK(dof >= 1, "Grid::to_dmda: dof must be >= 1, got ", dof);
  PHYSML_CHECK(stencil_width >= 0, "Grid::to_dmda: stencil_width must be >= 0, got ", stencil_width);
  DMBoundaryType bt[3] = {DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE};
  for (int a = 0; a < dim(); ++a) {
    if (periodic(a))
      bt[a] = DM_BOUNDARY_PERIODIC;
    else
      bt[a] = centering_ == Centering::cell ? DM_BOUNDARY_GHOSTED : DM_BOUNDARY_NONE;
  }
  auto n = [&](int a) { return static_cast<PetscInt>(sizes_[a]); };
  DM da = nullptr;
  if (dim() == 1)
    PHYSML_PETSC(DMDACreate1d(comm, bt[0], n(0), dof, stencil_width, nullptr, &da));
  else if (dim() == 2)
    PHYSML_PETSC(DMDACreate2d(comm, bt[0], bt[1], stencil_type, n(0), n(1), PETSC_DECIDE, PETSC_DECIDE, dof,
                              stencil_width, nullptr, nullptr, &da));
  else
    PHYSML_PETSC(DMDACreate3d(comm, bt[0], bt[1], bt[2], stencil_type, n(0), n(1), n(2), PETSC_DECIDE, PETSC_DECIDE,
                              PETSC_DECIDE, dof, stencil_width, nullptr, nullptr, nullptr, &da));
  try {
    PHYSML_PETSC(DMSetUp(da));
    // DMDASetUniformCoordinates puts point i at min + i (max - min) / (n - 1) on a non-periodic
    // axis and at min + i (max - min) / n on a periodic one; choose min/max so that this is
    // exactly axis_coordinates().
    double lo[3] = {0, 0, 0}, hi[3] = {0, 0, 0};
    for (int a = 0; a < dim(); ++a) {
      const double first = lower_[a] + (centering_ == Centering::cell ? 0.5 * spacing_[a] : 0.0);
      lo[a] = first;
      hi[a] = periodic(a) ? first + static_cast<double>(sizes_[a]) * spacing_[a]
                          : first + static_cast<double>(sizes_[a] - 1) * spacing_[a];
    }
    PHYSML_PETSC(DMDASetUniformCoordinates(da, lo[0], hi[0], lo[1], hi[1], lo[2], hi[2]));
    // A single point on a non-periodic axis makes PETSc divide 0 by 0 (max - min) / (M - 1):
    // put the point's coordinate in place ourselves.
    bool single = false;
    for (int a = 0; a < dim(); ++a) single = single || (!periodic(a) && sizes_[a] == 1);
    if (single) {
      Vec coords = nullptr;
      PHYSML_PETSC(DMGetCoordinates(da, &coords));
      PetscInt n = 0;
      PHYSML_PETSC(VecGetLocalSize(coords, &n));
      PetscScalar* x = nullptr;
      PHYSML_PETSC(VecGetArray(coords, &x));
      for (PetscInt k = 0; k < n; ++k) {
        const int a = static_cast<int>(k % dim());
        if (!periodic(a) && sizes_[a] == 1) x[k] = lo[a];
      }
      PHYSML_PETSC(VecRestoreArray(coords, &x));
      PHYSML_PETSC(DMSetCoordinates(da, coords));  // drops the cached local (ghosted) copy
    }
  } catch (...) {
    DMDestroy(&da);
    throw;
  }
  return da;
}

std::string Grid::to_json() const {
  std::ostringstream os;
  auto list_int = [&](const std::vector<int64_t>& v) {
    os << "[";
    for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
    os << "]";
  };
  auto list_real = [&](const std::vector<double>& v) {
    os << "[";
    for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << json_number(v[i]);
    os << "]";
  };
  os << "{\"type\": \"uniform_grid\", \"dim\": " << dim() << ", \"sizes\": ";
  list_int(sizes_);
  os << ", \"shape\": ";
  list_int(shape());
  os << ", \"lower\": ";
  list_real(lower_);
  os << ", \"upper\": ";
  list_real(upper_);
  os << ", \"spacing\": ";
  list_real(spacing_);
  os << ", \"centering\": \"" << to_string(centering_) << "\", \"boundary\": [";
  for (int a = 0; a < dim(); ++a)
    os << (a ? ", " : "") << "[\"" << to_string(boundaries_[a][0]) << "\", \"" << to_string(boundaries_[a][1])
       << "\"]";
  os << "]}";
  return os.str();
}

Grid Grid::from_json(const std::string& json) {
  const JsonValue root = JsonParser(json).parse();
  PHYSML_CHECK(root.kind == JsonValue::object, "Grid::from_json: expected a JSON object, got: ", json);
  if (const JsonValue* type = root.find("type"))
    PHYSML_CHECK(type->kind == JsonValue::string && type->str == "uniform_grid",
                 "Grid::from_json: \"type\" must be \"uniform_grid\", got \"", type->str, "\"");
  auto numbers = [&](const char* key) {
    std::vector<double> out;
    const JsonValue* v = root.find(key);
    if (!v) return out;
    PHYSML_CHECK(v->kind == JsonValue::array, "Grid::from_json: \"", key, "\" must be an array of numbers");
    for (const auto& x : v->items) {
      PHYSML_CHECK(x.kind == JsonValue::number, "Grid::from_json: \"", key, "\" must be an array of numbers");
      out.push_back(x.num);
    }
    return out;
  };
  PHYSML_CHECK(root.find("sizes"), "Grid::from_json: missing \"sizes\" (points per axis, x first)");
  std::vector<int64_t> sizes;
  for (double v : numbers("sizes")) {
    PHYSML_CHECK(v == std::floor(v), "Grid::from_json: \"sizes\" must hold integers, got ", v);
    sizes.push_back(static_cast<int64_t>(v));
  }
  GridOptions o(sizes);
  o.lower(numbers("lower")).upper(numbers("upper"));
  if (const JsonValue* c = root.find("centering")) {
    PHYSML_CHECK(c->kind == JsonValue::string && (c->str == "vertex" || c->str == "cell"),
                 "Grid::from_json: \"centering\" must be \"vertex\" or \"cell\", got \"", c->str, "\"");
    o.centering(c->str == "cell" ? Centering::cell : Centering::vertex);
  }
  if (const JsonValue* b = root.find("boundary")) {
    PHYSML_CHECK(b->kind == JsonValue::array && b->items.size() == sizes.size() && sizes.size() <= 3,
                 "Grid::from_json: \"boundary\" must hold one [lower, upper] pair per axis");
    auto parse = [](const JsonValue& v) {
      PHYSML_CHECK(v.kind == JsonValue::string, "Grid::from_json: boundary types must be strings");
      if (v.str == "dirichlet") return Boundary::dirichlet;
      if (v.str == "neumann") return Boundary::neumann;
      if (v.str == "periodic") return Boundary::periodic;
      PHYSML_THROW("Grid::from_json: unknown boundary type \"", v.str, "\"; expected dirichlet, neumann or periodic");
    };
    for (size_t a = 0; a < b->items.size(); ++a) {
      const JsonValue& pair = b->items[a];
      PHYSML_CHECK(pair.kind == JsonValue::array && pair.items.size() == 2,
                   "Grid::from_json: \"boundary\" must hold one [lower, upper] pair per axis");
      o.boundary(static_cast<int>(a), parse(pair.items[0]), parse(pair.items[1]));
    }
  }
  return Grid(o);
}

bool Grid::operator==(const Grid& other) const {
  return sizes_ == other.sizes_ && lower_ == other.lower_ && upper_ == other.upper_ &&
         centering_ == other.centering_ && boundaries_ == other.boundaries_;
}

}  // namespace physml::mesh
