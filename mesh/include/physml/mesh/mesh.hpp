#pragma once
/// \file mesh.hpp
/// Simplicial meshes (triangles in 2D, tetrahedra in 3D) with coordinates and connectivity
/// as tensors, built from PETSc DMPlex.

#include <ATen/core/Tensor.h>
#include <petscdmplex.h>
#include <torch/arg.h>

#include <cstdint>
#include <vector>

namespace physml::mesh {

/// Settings of Mesh::box: a box [lower, upper] split into `faces` intervals per axis, each
/// box cell cut into d! simplices (Kuhn triangulation: 2 triangles per square, 6 tetrahedra
/// per cube, (n_x + 1)(n_y + 1)(n_z + 1) vertices), handed to PETSc as a DMPlex.
struct BoxMeshOptions {
  /// Intervals per axis, x first; its length (2 or 3) is the dimension.
  BoxMeshOptions(std::vector<int64_t> faces);  // NOLINT: implicit from a list
  TORCH_ARG(std::vector<int64_t>, faces);
  /// Lower corner (default 0 on every axis).
  TORCH_ARG(std::vector<double>, lower) = {};
  /// Upper corner (default 1 on every axis).
  TORCH_ARG(std::vector<double>, upper) = {};
};

/// A conforming simplicial mesh: vertex coordinates [Nv, d] float64 and cells [Nc, d + 1]
/// int64 (vertex indices; triangles for d = 2, tetrahedra for d = 3).
class Mesh {
public:
  /// From tensors; checks shapes, dtypes and that every index lies in [0, Nv).
  Mesh(at::Tensor vertices, at::Tensor cells);

  /// A new DMPlex box mesh on `comm` (serial meshes: PETSC_COMM_SELF), read into tensors.
  static Mesh box(const BoxMeshOptions& options, MPI_Comm comm = PETSC_COMM_SELF);
  /// The vertices and cells of the local part of a simplicial DMPlex `dm` (cell vertices in
  /// DMPlex closure order). The DM stays owned by the caller.
  static Mesh from_dmplex(DM dm);
  /// The simplicial box mesh as an interpolated DMPlex (DMPlexCreateFromCellListPetsc; built on
  /// rank 0 and distributed with DMPlexDistribute on more ranks); the caller owns the DM.
  /// DMPlexCreateBoxMesh(simplex = PETSC_TRUE) is not used because Debian's PETSc has no
  /// mesh generator (Triangle/TetGen) to cut the box.
  static DM create_box_dmplex(const BoxMeshOptions& options, MPI_Comm comm = PETSC_COMM_SELF);

  int dim() const { return static_cast<int>(vertices_.size(1)); }
  int64_t num_vertices() const { return vertices_.size(0); }
  int64_t num_cells() const { return cells_.size(0); }
  /// Vertex coordinates [Nv, d], float64.
  const at::Tensor& vertices() const { return vertices_; }
  /// Cell connectivity [Nc, d + 1], int64 vertex indices.
  const at::Tensor& cells() const { return cells_; }
  /// Signed cell measures [Nc] (area in 2D, volume in 3D): det[x1 - x0, ..., xd - x0] / d!.
  /// Positive for counter-clockwise triangles and right-handed tetrahedra.
  at::Tensor signed_volumes() const;

private:
  at::Tensor vertices_, cells_;
};

}  // namespace physml::mesh
