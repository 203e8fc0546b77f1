#pragma once
/// \file vtk.hpp
/// VTK XML files for anything spatial, written with VTK's own writers (ParaView opens them):
///   .vti  image data: fields on a uniform 2-D/3-D grid, several named arrays
///   .vtu  unstructured grid: triangle / tetrahedron meshes with point and cell arrays
///   .vtp  poly data: particles (vertices) with per-particle arrays
///   .pvd  a collection that strings files together as a time series
/// Every writer writes to "<path>.tmp-<pid>-<n>" and renames, so an existing file is never damaged.
/// Arrays keep their dtype (float32, float64, int64, int32, uint8); tensors may live on any
/// device (copied to the CPU).

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace physml::io {

/// A named array to attach to a VTK data set.
struct VtkArray {
  std::string name;
  at::Tensor values;
};

/// A uniform grid for .vti files, in tensor axis order (y, x) or (z, y, x), like the fields.
struct ImageGeometry {
  ImageGeometry() = default;
  ImageGeometry(std::vector<std::int64_t> points_, std::vector<double> origin_ = {}, std::vector<double> spacing_ = {})
      : points(std::move(points_)), origin(std::move(origin_)), spacing(std::move(spacing_)) {}
  /// Number of grid points per axis: [ny, nx] or [nz, ny, nx].
  std::vector<std::int64_t> points;
  /// Coordinates of the first point per axis (default 0), same order as `points`.
  std::vector<double> origin;
  /// Distance between points per axis (default 1), same order as `points`.
  std::vector<double> spacing;
};

/// Write image data (.vti). Each array is a point field of shape `g.points` ([ny, nx] or
/// [nz, ny, nx]) or a cell field of shape `g.points - 1` per axis, optionally with a leading
/// component axis ([C, ny, nx], PhysML's channel-first convention; C = 2 or 3 gives a vector
/// VTK shows as arrows). A 2-D grid is written as one layer in z.
void write_vti(const std::string& path, const ImageGeometry& g, const std::vector<VtkArray>& arrays);

/// Write a simplicial mesh (.vtu). `points` [N, 2] or [N, 3] (2-D points get z = 0);
/// `cells` int64 [M, 3] triangles or [M, 4] tetrahedra (0-based point indices, checked);
/// point arrays [N] or [N, C]; cell arrays [M] or [M, C].
void write_vtu(const std::string& path, const at::Tensor& points, const at::Tensor& cells,
               const std::vector<VtkArray>& point_arrays = {}, const std::vector<VtkArray>& cell_arrays = {});

/// Write particles (.vtp) as vertices: `positions` [N, 2] or [N, 3]; arrays [N] or [N, C]
/// (e.g. velocity [N, 3], mass [N]).
void write_vtp(const std::string& path, const at::Tensor& positions, const std::vector<VtkArray>& arrays = {});

/// A .pvd time-series collection. Each add() records (time, file) and rewrites the .pvd
/// atomically, so the collection on disk is valid after every step. Files are stored
/// relative to the .pvd's directory when they lie below it.
class PvdWriter {
public:
  /// Start a collection at `path` (the file is written on the first add()).
  explicit PvdWriter(std::string path);
  /// Record `file` (a .vti/.vtu/.vtp already written) at `time`; `part` distinguishes
  /// several data sets at the same time.
  void add(double time, const std::string& file, int part = 0);
  /// Number of entries recorded.
  std::size_t size() const { return entries_.size(); }
  const std::string& path() const { return path_; }

private:
  struct Entry {
    double time;
    int part;
    std::string file;
  };
  void write() const;
  std::string path_;
  std::vector<Entry> entries_;
};

}  // namespace physml::io
