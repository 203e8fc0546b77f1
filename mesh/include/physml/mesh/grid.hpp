#pragma once
/// \file grid.hpp
/// Uniform Cartesian grids in 1, 2 and 3 dimensions and their PETSc DMDA counterpart.

#include <ATen/core/Tensor.h>
#include <c10/core/TensorOptions.h>
#include <petscdmda.h>
#include <torch/arg.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace physml::mesh {

/// Boundary condition type on one face of a Grid. Periodic must be set on both faces of an axis.
enum class Boundary { dirichlet, neumann, periodic };

/// Where the unknowns of a Grid sit: on the vertices (x_i = lower + i h, the boundary points
/// are unknowns) or at cell centres (x_i = lower + (i + 1/2) h).
enum class Centering { vertex, cell };

/// "dirichlet", "neumann", "periodic".
const char* to_string(Boundary b);
/// "vertex", "cell".
const char* to_string(Centering c);

/// Settings of a Grid, LibTorch style: `GridOptions({64, 32}).upper({2.0, 1.0}).periodic(0)`.
/// Every per-axis list is in axis order x, y, z (as PETSc's M, N, P).
struct GridOptions {
  /// `sizes`: number of points per axis (vertices or cells depending on centering), x first;
  /// its length is the dimension (1..3).
  GridOptions(std::vector<int64_t> sizes);  // NOLINT: implicit from a list, like torch::IntArrayRef

  /// Number of points per axis, x first.
  TORCH_ARG(std::vector<int64_t>, sizes);
  /// Lower corner of the domain (default 0 on every axis).
  TORCH_ARG(std::vector<double>, lower) = {};
  /// Upper corner of the domain (default 1 on every axis).
  TORCH_ARG(std::vector<double>, upper) = {};
  /// Vertex- or cell-centred unknowns (default vertex).
  TORCH_ARG(Centering, centering) = Centering::vertex;

public:
  /// Boundary type of every face (default Dirichlet everywhere).
  GridOptions& boundary(Boundary b);
  /// Boundary types of the lower and upper face of `axis` (0 = x, 1 = y, 2 = z).
  GridOptions& boundary(int axis, Boundary lower_face, Boundary upper_face);
  /// Make `axis` periodic (both faces).
  GridOptions& periodic(int axis);
  /// Boundary types as set: [axis][0 = lower face, 1 = upper face]; unset axes are Dirichlet.
  const std::vector<std::array<Boundary, 2>>& boundaries() const { return boundaries_; }

private:
  std::vector<std::array<Boundary, 2>> boundaries_;
};

/// A uniform Cartesian grid on the box [lower, upper] in 1, 2 or 3 dimensions.
///
/// Spacing per axis: h = (upper - lower) / (n - 1) for a vertex-centred non-periodic axis,
/// h = (upper - lower) / n otherwise (cell-centred, or periodic where the point at `upper`
/// is the image of the one at `lower`). Fields on the grid are tensors shaped
/// [nz, ny, nx] (3D), [ny, nx] (2D) or [nx] (1D) with x fastest, i.e. PETSc DMDA natural order.
class Grid {
public:
  /// Validates the options; throws physml::Error on non-positive sizes, upper <= lower,
  /// a dimension outside 1..3, or a periodic boundary set on only one face of an axis.
  explicit Grid(const GridOptions& options);

  /// Number of axes (1..3).
  int dim() const { return static_cast<int>(sizes_.size()); }
  /// Points along `axis` (x = 0).
  int64_t size(int axis) const;
  /// Points per axis, x first.
  const std::vector<int64_t>& sizes() const { return sizes_; }
  /// Tensor shape of a scalar field: [nz, ny, nx] / [ny, nx] / [nx] (reverse of sizes()).
  std::vector<int64_t> shape() const;
  /// Total number of points.
  int64_t numel() const;
  double lower(int axis) const;
  double upper(int axis) const;
  /// Distance between neighbouring points along `axis`.
  double spacing(int axis) const;
  /// Product of the spacings (cell area / volume).
  double cell_volume() const;
  Centering centering() const { return centering_; }
  /// Boundary type of the lower (side 0) or upper (side 1) face of `axis`.
  Boundary boundary(int axis, int side) const;
  bool periodic(int axis) const { return boundary(axis, 0) == Boundary::periodic; }

  /// Coordinates of the points along one axis, shape [size(axis)], float64 by default.
  at::Tensor axis_coordinates(int axis, at::TensorOptions options = at::kDouble) const;
  /// Meshgrid of point coordinates: one tensor per axis (x, y, z), each of shape shape()
  /// ([nz, ny, nx] in 3D, x fastest), float64 by default.
  std::vector<at::Tensor> coordinates(at::TensorOptions options = at::kDouble) const;

  /// A new PETSc DMDA on `comm` with this grid's global sizes, `dof` components per point,
  /// a box stencil of `stencil_width`, boundary types DM_BOUNDARY_PERIODIC for periodic axes,
  /// DM_BOUNDARY_GHOSTED for other cell-centred axes (ghost cells for the boundary condition)
  /// and DM_BOUNDARY_NONE for other vertex-centred axes, and uniform coordinates equal to
  /// axis_coordinates(). The caller owns the DM (DMDestroy).
  DM to_dmda(MPI_Comm comm, int dof = 1, int stencil_width = 1,
             DMDAStencilType stencil_type = DMDA_STENCIL_BOX) const;

  /// A one-line JSON description: {"dim", "sizes" (x first), "shape" (tensor order), "lower",
  /// "upper", "spacing", "centering", "boundary": [[lower, upper] per axis]}; stored as the
  /// grid attribute of HDF5 Dataset files.
  std::string to_json() const;
  /// The grid described by a to_json() string (keys in any order; "sizes" required, the
  /// others default as in GridOptions). Throws physml::Error on malformed JSON or values.
  static Grid from_json(const std::string& json);
  /// Same sizes, extents, centering and boundary types.
  bool operator==(const Grid& other) const;
  bool operator!=(const Grid& other) const { return !(*this == other); }

private:
  void check_axis(int axis, const char* what) const;
  std::vector<int64_t> sizes_;
  std::vector<double> lower_, upper_, spacing_;
  Centering centering_;
  std::vector<std::array<Boundary, 2>> boundaries_;
};

}  // namespace physml::mesh
