#include "physml/mesh/grid.hpp"

#include <nlohmann/json.hpp>

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

// The description is written and read with nlohmann/json (Debian nlohmann-json3-dev): keys
// in a fixed order, numbers as the shortest text that reads back exactly.
std::string Grid::to_json() const {
  nlohmann::ordered_json j;
  j["type"] = "uniform_grid";
  j["dim"] = dim();
  j["sizes"] = sizes_;
  j["shape"] = shape();
  j["lower"] = lower_;
  j["upper"] = upper_;
  j["spacing"] = spacing_;
  j["centering"] = to_string(centering_);
  auto b = nlohmann::ordered_json::array();
  for (int a = 0; a < dim(); ++a)
    b.push_back(nlohmann::ordered_json::array({to_string(boundaries_[a][0]), to_string(boundaries_[a][1])}));
  j["boundary"] = b;
  return j.dump();
}

Grid Grid::from_json(const std::string& json) {
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(json);
  } catch (const nlohmann::json::exception& e) {  // parse errors and number overflows alike
    PHYSML_THROW("Grid::from_json: malformed JSON (", e.what(), ")");
  }
  PHYSML_CHECK(root.is_object(), "Grid::from_json: expected a JSON object, got: ", json);
  if (root.contains("type"))
    PHYSML_CHECK(root["type"].is_string() && root["type"] == "uniform_grid",
                 "Grid::from_json: \"type\" must be \"uniform_grid\", got ", root["type"].dump());
  auto numbers = [&](const char* key) {
    std::vector<double> out;
    if (!root.contains(key)) return out;
    const auto& v = root[key];
    PHYSML_CHECK(v.is_array(), "Grid::from_json: \"", key, "\" must be an array of numbers");
    for (const auto& x : v) {
      PHYSML_CHECK(x.is_number(), "Grid::from_json: \"", key, "\" must be an array of numbers");
      out.push_back(x.get<double>());
    }
    return out;
  };
  PHYSML_CHECK(root.contains("sizes"), "Grid::from_json: missing \"sizes\" (points per axis, x first)");
  std::vector<int64_t> sizes;
  for (double v : numbers("sizes")) {
    PHYSML_CHECK(v == std::floor(v) && std::abs(v) <= 9007199254740992.0,  // 2^53: exact in a double
                 "Grid::from_json: \"sizes\" must hold integers, got ", v);
    sizes.push_back(static_cast<int64_t>(v));
  }
  GridOptions o(sizes);
  o.lower(numbers("lower")).upper(numbers("upper"));
  if (root.contains("centering")) {
    const auto& c = root["centering"];
    PHYSML_CHECK(c.is_string() && (c == "vertex" || c == "cell"),
                 "Grid::from_json: \"centering\" must be \"vertex\" or \"cell\", got ", c.dump());
    o.centering(c == "cell" ? Centering::cell : Centering::vertex);
  }
  if (root.contains("boundary")) {
    const auto& b = root["boundary"];
    PHYSML_CHECK(b.is_array() && b.size() == sizes.size() && sizes.size() <= 3,
                 "Grid::from_json: \"boundary\" must hold one [lower, upper] pair per axis");
    auto parse = [](const nlohmann::json& v) {
      PHYSML_CHECK(v.is_string(), "Grid::from_json: boundary types must be strings");
      const auto name = v.get<std::string>();
      if (name == "dirichlet") return Boundary::dirichlet;
      if (name == "neumann") return Boundary::neumann;
      if (name == "periodic") return Boundary::periodic;
      PHYSML_THROW("Grid::from_json: unknown boundary type \"", name, "\"; expected dirichlet, neumann or periodic");
    };
    for (std::size_t a = 0; a < b.size(); ++a) {
      const auto& pair = b[a];
      PHYSML_CHECK(pair.is_array() && pair.size() == 2,
                   "Grid::from_json: \"boundary\" must hold one [lower, upper] pair per axis");
      o.boundary(static_cast<int>(a), parse(pair[0]), parse(pair[1]));
    }
  }
  return Grid(o);
}

bool Grid::operator==(const Grid& other) const {
  return sizes_ == other.sizes_ && lower_ == other.lower_ && upper_ == other.upper_ &&
         centering_ == other.centering_ && boundaries_ == other.boundaries_;
}

}  // namespace physml::mesh
