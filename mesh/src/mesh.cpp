#include "physml/mesh/mesh.hpp"

#include "physml/core/error.hpp"

#include <torch/torch.h>

#include <array>
#include <utility>

namespace physml::mesh {

BoxMeshOptions::BoxMeshOptions(std::vector<int64_t> faces) : faces_(std::move(faces)) {}

Mesh::Mesh(at::Tensor vertices, at::Tensor cells) {
  PHYSML_CHECK(vertices.defined() && vertices.dim() == 2 && (vertices.size(1) == 2 || vertices.size(1) == 3),
               "Mesh: vertices must have shape [Nv, d] with d = 2 or 3, got ",
               vertices.defined() ? vertices.sizes() : at::IntArrayRef{});
  const int64_t d = vertices.size(1);
  PHYSML_CHECK(vertices.scalar_type() == torch::kDouble, "Mesh: vertices must be float64, got ",
               vertices.scalar_type());
  PHYSML_CHECK(cells.defined() && cells.dim() == 2 && cells.size(1) == d + 1, "Mesh: cells must have shape [Nc, ",
               d + 1, "] for d = ", d, ", got ", cells.defined() ? cells.sizes() : at::IntArrayRef{});
  PHYSML_CHECK(cells.scalar_type() == torch::kLong, "Mesh: cells must be int64, got ", cells.scalar_type());
  if (cells.numel() > 0) {
    const auto lo = cells.min().item<int64_t>(), hi = cells.max().item<int64_t>();
    PHYSML_CHECK(lo >= 0 && hi < vertices.size(0), "Mesh: cell vertex indices must lie in [0, ", vertices.size(0),
                 "), got range [", lo, ", ", hi, "]");
  }
  vertices_ = std::move(vertices);
  cells_ = std::move(cells);
}

DM Mesh::create_box_dmplex(const BoxMeshOptions& o, MPI_Comm comm) {
  const int d = static_cast<int>(o.faces().size());
  PHYSML_CHECK(d == 2 || d == 3, "Mesh::box: simplicial box meshes need 2 or 3 axes of faces, got ", d);
  std::vector<double> lower = o.lower().empty() ? std::vector<double>(d, 0.0) : o.lower();
  std::vector<double> upper = o.upper().empty() ? std::vector<double>(d, 1.0) : o.upper();
  PHYSML_CHECK(static_cast<int>(lower.size()) == d && static_cast<int>(upper.size()) == d, "Mesh::box: lower has ",
               lower.size(), " and upper ", upper.size(), " entries, expected ", d);
  PetscInt faces[3] = {1, 1, 1};
  PetscReal lo[3] = {0, 0, 0}, hi[3] = {1, 1, 1};
  for (int a = 0; a < d; ++a) {
    PHYSML_CHECK(o.faces()[a] > 0, "Mesh::box: faces per axis must be positive, got ", o.faces()[a], " on axis ", a);
    PHYSML_CHECK(upper[a] > lower[a], "Mesh::box: upper (", upper[a], ") must be greater than lower (", lower[a],
                 ") on axis ", a);
    faces[a] = static_cast<PetscInt>(o.faces()[a]);
    lo[a] = lower[a];
    hi[a] = upper[a];
  }
  // Kuhn (Freudenthal) triangulation of the structured box: box cell (i, j, k) is split into
  // d! simplices, one per permutation p of the axes, with vertices c, c + e_p0, c + e_p0 + e_p1,
  // ...; the same diagonal direction in every box cell makes the mesh conforming. Odd
  // permutations get their last two vertices swapped so every simplex is positively oriented.
  // (DMPlexCreateBoxMesh(simplex = PETSC_TRUE) would need Triangle/TetGen, which Debian's
  // PETSc is built without: "No grid generator of dimension 2 registered".)
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  const int64_t nx = faces[0], ny = faces[1], nz = d == 3 ? faces[2] : 0;
  const int64_t vx = nx + 1, vy = ny + 1, vz = d == 3 ? nz + 1 : 1;
  std::vector<PetscReal> coords;
  std::vector<PetscInt> cells;
  if (rank == 0) {
    coords.reserve(vx * vy * vz * d);
    for (int64_t k = 0; k < vz; ++k)
      for (int64_t j = 0; j < vy; ++j)
        for (int64_t i = 0; i < vx; ++i) {
          const int64_t idx[3] = {i, j, k};
          for (int a = 0; a < d; ++a)
            coords.push_back(lo[a] + (hi[a] - lo[a]) * static_cast<double>(idx[a]) / static_cast<double>(faces[a]));
        }
    std::vector<std::array<int, 3>> perms = d == 2 ? std::vector<std::array<int, 3>>{{0, 1, 0}, {1, 0, 0}}
                                                   : std::vector<std::array<int, 3>>{{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                                                                     {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    auto parity = [&](const std::array<int, 3>& p) {
      int inv = 0;
      for (int a = 0; a < d; ++a)
        for (int b = a + 1; b < d; ++b) inv += p[a] > p[b];
      return inv % 2;
    };
    auto vid = [&](const int64_t c[3]) { return static_cast<PetscInt>((c[2] * vy + c[1]) * vx + c[0]); };
    for (int64_t k = 0; k < std::max<int64_t>(nz, 1); ++k)
      for (int64_t j = 0; j < ny; ++j)
        for (int64_t i = 0; i < nx; ++i)
          for (const auto& p : perms) {
            int64_t c[3] = {i, j, d == 3 ? k : 0};
            std::vector<PetscInt> simplex{vid(c)};
            for (int a = 0; a < d; ++a) {
              ++c[p[a]];
              simplex.push_back(vid(c));
            }
            if (parity(p)) std::swap(simplex[d - 1], simplex[d]);
            cells.insert(cells.end(), simplex.begin(), simplex.end());
          }
  }
  const auto num_cells = static_cast<PetscInt>(cells.size() / (d + 1));
  const auto num_vertices = static_cast<PetscInt>(coords.size() / d);
  DM dm = nullptr;
  PHYSML_PETSC(DMPlexCreateFromCellListPetsc(comm, d, num_cells, num_vertices, d + 1, PETSC_TRUE, cells.data(), d,
                                             coords.data(), &dm));
  int size = 1;
  MPI_Comm_size(comm, &size);
  if (size > 1) {
    DM dist = nullptr;
    PetscErrorCode ierr = DMPlexDistribute(dm, 0, nullptr, &dist);
    if (ierr) {
      DMDestroy(&dm);
      PHYSML_PETSC(ierr);
    }
    if (dist) {
      DMDestroy(&dm);
      dm = dist;
    }
  }
  return dm;
}

Mesh Mesh::box(const BoxMeshOptions& options, MPI_Comm comm) {
  DM dm = create_box_dmplex(options, comm);
  try {
    Mesh m = from_dmplex(dm);
    DMDestroy(&dm);
    return m;
  } catch (...) {
    DMDestroy(&dm);
    throw;
  }
}

Mesh Mesh::from_dmplex(DM dm) {
  PHYSML_CHECK(dm != nullptr, "Mesh::from_dmplex: the DM is null");
  PetscBool is_plex = PETSC_FALSE;
  PHYSML_PETSC(PetscObjectTypeCompare(reinterpret_cast<PetscObject>(dm), DMPLEX, &is_plex));
  PHYSML_CHECK(is_plex, "Mesh::from_dmplex: the DM is not a DMPLEX");
  PetscInt d = 0, cdim = 0;
  PHYSML_PETSC(DMGetDimension(dm, &d));
  PHYSML_PETSC(DMGetCoordinateDim(dm, &cdim));
  PHYSML_CHECK((d == 2 || d == 3) && cdim == d, "Mesh::from_dmplex: expected a 2D or 3D mesh embedded in its own ",
               "dimension, got topological dimension ", d, " and coordinate dimension ", cdim);
  PetscInt v_start = 0, v_end = 0, c_start = 0, c_end = 0;
  PHYSML_PETSC(DMPlexGetDepthStratum(dm, 0, &v_start, &v_end));
  PHYSML_PETSC(DMPlexGetHeightStratum(dm, 0, &c_start, &c_end));
  const int64_t nv = v_end - v_start, nc = c_end - c_start;

  // Vertex coordinates through the coordinate section (robust to any point numbering).
  auto vertices = torch::empty({nv, d}, torch::kDouble);
  {
    Vec coords = nullptr;
    PetscSection section = nullptr;
    PHYSML_PETSC(DMGetCoordinatesLocal(dm, &coords));
    PHYSML_PETSC(DMGetCoordinateSection(dm, &section));
    PHYSML_CHECK(coords && section, "Mesh::from_dmplex: the DM has no vertex coordinates");
    const PetscScalar* x = nullptr;
    PHYSML_PETSC(VecGetArrayRead(coords, &x));
    auto* out = vertices.data_ptr<double>();
    for (PetscInt v = v_start; v < v_end; ++v) {
      PetscInt dof = 0, off = 0;
      PetscSectionGetDof(section, v, &dof);
      PetscSectionGetOffset(section, v, &off);
      if (dof != d) {
        VecRestoreArrayRead(coords, &x);
        PHYSML_THROW("Mesh::from_dmplex: vertex ", v, " has ", dof, " coordinates, expected ", d,
                     " (cell-wise or periodic coordinates are not supported)");
      }
      for (PetscInt a = 0; a < d; ++a) out[(v - v_start) * d + a] = PetscRealPart(x[off + a]);
    }
    PHYSML_PETSC(VecRestoreArrayRead(coords, &x));
  }

  // Cell vertices from the transitive closure, in closure order.
  auto cells = torch::empty({nc, d + 1}, torch::kLong);
  auto* conn = cells.data_ptr<int64_t>();
  for (PetscInt c = c_start; c < c_end; ++c) {
    PetscInt npts = 0;
    PetscInt* closure = nullptr;
    PHYSML_PETSC(DMPlexGetTransitiveClosure(dm, c, PETSC_TRUE, &npts, &closure));
    int64_t k = 0;
    bool ok = true;
    for (PetscInt p = 0; p < npts; ++p) {
      const PetscInt pt = closure[2 * p];
      if (pt < v_start || pt >= v_end) continue;
      if (k > d) {
        ok = false;
        break;
      }
      conn[(c - c_start) * (d + 1) + k++] = pt - v_start;
    }
    PHYSML_PETSC(DMPlexRestoreTransitiveClosure(dm, c, PETSC_TRUE, &npts, &closure));
    PHYSML_CHECK(ok && k == d + 1, "Mesh::from_dmplex: cell ", c, " is not a simplex (expected ", d + 1,
                 " vertices)");
  }
  return Mesh(vertices, cells);
}

at::Tensor Mesh::signed_volumes() const {
  const int64_t d = dim();
  auto x = vertices_.index_select(0, cells_.reshape({-1})).reshape({num_cells(), d + 1, d});
  auto edges = x.slice(1, 1) - x.select(1, 0).unsqueeze(1);  // [Nc, d, d], rows x_k - x_0
  return torch::linalg_det(edges) / (d == 2 ? 2.0 : 6.0);
}

}  // namespace physml::mesh
