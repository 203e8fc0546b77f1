#pragma once
/// \file surface.hpp
/// Closed triangle surfaces in 3-D (the boundary of a solid, e.g. read from an OBJ, STL or VTK
/// file by io::read_surface_mesh) and the test of which points lie inside: the generalized
/// winding number, the sum over the triangles of the solid angle they subtend at the point
/// divided by 4 pi (A. Van Oosterom and J. Strackee's formula for the solid angle of a
/// triangle). For a closed, consistently oriented surface it is +-1 inside and 0 outside, whatever
/// the orientation; the volume sampling of MPM bodies (simulators/mpm.hpp, MPMShape::mesh)
/// keeps the lattice points where |w| > 1/2.
///
/// contains() does not sum over every triangle: for a closed surface the winding number is the
/// signed count of the surface's crossings by a ray, so it casts the ray from the point along
/// +x and counts only the triangles whose (y, z) shadow holds the point, found in a uniform
/// bucket grid over the (y, z) plane built once with the mesh (about T/2 buckets, at most 512
/// per side, coarser if slivers would fill too many). Where the ray passes a triangle's edge or
/// vertex closer than 1e-9 L^2 / (edge length) (L the mesh's extent), grazes an edge-on
/// triangle, or the point is on the surface, it falls back to the exact sum for that point.
/// The cost per point is the triangles of one bucket instead of all T.

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace physml::mesh {

class SurfaceMesh {
public:
  /// From vertices [V, 3] (floating; stored as float64) and triangles [T, 3] (integer vertex
  /// indices). Throws physml::Error, naming `source` (e.g. the file) and what was wrong, for
  /// wrong shapes, non-finite coordinates, indices outside [0, V), a triangle with a repeated
  /// vertex, fewer than 4 triangles, or a surface that is not closed: every edge must belong
  /// to exactly two triangles that traverse it in opposite directions (closed and consistently
  /// oriented); the message names the first edge that is not, by its 0-based vertex indices
  /// (those of `vertices`, e.g. after the reader merged equal ones) and their coordinates.
  SurfaceMesh(at::Tensor vertices, at::Tensor triangles, const std::string& source = "surface mesh");

  at::Tensor vertices() const;   ///< [V, 3] float64 (a copy)
  at::Tensor triangles() const;  ///< [T, 3] int64 (a copy)
  std::int64_t num_vertices() const { return static_cast<std::int64_t>(xyz_.size() / 3); }
  std::int64_t num_triangles() const { return static_cast<std::int64_t>(tri_.size() / 3); }
  /// Axis-aligned bounding box of the vertices.
  const std::array<double, 3>& lower() const { return lower_; }
  const std::array<double, 3>& upper() const { return upper_; }
  /// The enclosed volume (divergence theorem; positive for outward-facing triangles, i.e.
  /// counter-clockwise seen from outside).
  double signed_volume() const;
  /// Generalized winding number of the point x (3 values).
  double winding_number(const double* x) const;
  /// Whether x lies inside: outside the bounding box is outside, else |winding number| > 1/2
  /// (computed by the ray count of the file comment, the same answer as winding_number()).
  /// A point on the surface itself may go either way (the solid angle of the triangle it lies
  /// in is +-2 pi by rounding); move a lattice by a fraction of its spacing to avoid ties.
  bool contains(const double* x) const;
  /// The winding number of x as the signed count of crossings of the +x ray (an integer), or
  /// NaN where the ray is degenerate within rounding (contains() then uses winding_number()).
  double ray_crossings(const double* x) const;
  /// A UV sphere: `rings` >= 2 latitude bands of `segments` >= 3 quads (two triangles each;
  /// fans at the poles on the y axis), 2 segments (rings - 1) triangles, outward-facing.
  static SurfaceMesh uv_sphere(const std::array<double, 3>& center, double radius, int rings, int segments);
  /// The surface scaled by `scale` about the origin, then shifted by `offset` (3 values).
  SurfaceMesh transformed(double scale, const std::vector<double>& offset) const;

private:
  std::vector<double> xyz_;        // vertices, row-major
  std::vector<std::int64_t> tri_;  // triangles, row-major
  std::array<double, 3> lower_{}, upper_{};
  // The (y, z) bucket grid of the ray count: triangles of bucket (j, k) are
  // bucket_tri_[bucket_start_[j * nz_ + k] .. bucket_start_[j * nz_ + k + 1]).
  std::int64_t ny_ = 1, nz_ = 1;
  double tol_len_ = 0, tol_area_ = 0;
  std::vector<std::int64_t> bucket_start_, bucket_tri_;
  void build_buckets();
  std::int64_t bucket(double y, double z) const;
};

}  // namespace physml::mesh
