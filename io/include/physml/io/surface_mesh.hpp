#pragma once
/// \file surface_mesh.hpp
/// Reading closed triangle surfaces (mesh::SurfaceMesh) from files, for volume-sampled MPM
/// bodies (`physml simulate -body0_shape mesh -body0_mesh FILE`).
#include "physml/mesh/surface.hpp"

#include <string>

namespace physml::io {

/// Reads a closed triangle surface by the file's extension:
///   .obj  Wavefront OBJ: `v x y z` and `f i j k ...` lines (indices 1-based, or negative =
///         relative to the last vertex; `i/t/n` forms accepted; polygons split into triangle
///         fans); other lines (vt, vn, o, g, s, usemtl, comments) are ignored;
///   .stl  ASCII or binary STL (VTK's reader); .vtk legacy VTK PolyData; .vtp VTK XML PolyData.
/// Vertices with equal coordinates are merged (STL stores every triangle's corners), then the
/// surface is checked by mesh::SurfaceMesh (closed, consistently oriented). Throws
/// physml::Error naming the file, and for OBJ the line, for a missing or unreadable file, an
/// unknown extension, a malformed line, an index outside the vertices read so far, no
/// triangles, or a surface that is not closed.
mesh::SurfaceMesh read_surface_mesh(const std::string& path);

/// The OBJ reader on text in memory (`source` names it in errors).
mesh::SurfaceMesh parse_obj(const std::string& text, const std::string& source = "OBJ text");

}  // namespace physml::io
