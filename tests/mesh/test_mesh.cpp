#include "test_util.hpp"

#include "physml/core/error.hpp"

#include "physml/mesh/mesh.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <map>

using physml::mesh::BoxMeshOptions;
using physml::mesh::Mesh;

namespace {
/// Sorted lattice points {lower + i (upper - lower) / n} of the box, [prod (n+1), d].
torch::Tensor lattice(const std::vector<int64_t>& n, const std::vector<double>& lo, const std::vector<double>& hi) {
  std::vector<torch::Tensor> axes;
  for (size_t a = 0; a < n.size(); ++a) axes.push_back(torch::linspace(lo[a], hi[a], n[a] + 1, torch::kDouble));
  auto g = torch::meshgrid(axes, "ij");
  std::vector<torch::Tensor> cols;
  for (auto& t : g) cols.push_back(t.reshape({-1}));
  return torch::stack(cols, 1);
}

/// How many cells share each facet (edge in 2D, triangle in 3D), keyed by sorted vertex ids.
std::map<std::vector<int64_t>, int> facet_counts(const torch::Tensor& cells) {
  std::map<std::vector<int64_t>, int> count;
  auto c = cells.contiguous();
  const int64_t nv = c.size(1);
  const int64_t* p = c.data_ptr<int64_t>();
  for (int64_t e = 0; e < c.size(0); ++e)
    for (int64_t skip = 0; skip < nv; ++skip) {
      std::vector<int64_t> f;
      for (int64_t k = 0; k < nv; ++k)
        if (k != skip) f.push_back(p[e * nv + k]);
      std::sort(f.begin(), f.end());
      ++count[f];
    }
  return count;
}

/// Conformity: every facet is shared by one (boundary) or two (interior) cells, and the
/// boundary facets are exactly `boundary_facets` many.
void expect_conforming(const Mesh& m, int64_t boundary_facets) {
  int64_t boundary = 0;
  for (const auto& kv : facet_counts(m.cells())) {
    EXPECT_TRUE(kv.second == 1 || kv.second == 2) << "facet shared by " << kv.second << " cells";
    boundary += kv.second == 1;
  }
  EXPECT_EQ(boundary, boundary_facets);
}

/// Rows sorted lexicographically (for set comparison of coordinates).
torch::Tensor sort_rows(torch::Tensor x) {
  for (int64_t a = x.size(1) - 1; a >= 0; --a) {
    auto idx = std::get<1>(x.select(1, a).sort(/*stable=*/true, 0, false));
    x = x.index_select(0, idx);
  }
  return x;
}
}  // namespace

TEST(Mesh, BoxMesh2DTrianglesCoverTheBox) {
  const std::vector<int64_t> n{4, 3};
  const std::vector<double> lo{-1.0, 0.0}, hi{1.0, 0.5};
  Mesh m = Mesh::box(BoxMeshOptions(n).lower(lo).upper(hi));
  EXPECT_EQ(m.dim(), 2);
  EXPECT_EQ(m.num_vertices(), 5 * 4);  // (n_x + 1)(n_y + 1)
  EXPECT_EQ(m.vertices().scalar_type(), torch::kDouble);
  EXPECT_EQ(m.cells().scalar_type(), torch::kLong);
  EXPECT_EQ(m.cells().size(1), 3);
  EXPECT_TRUE(torch::allclose(sort_rows(m.vertices()), sort_rows(lattice(n, lo, hi)), 0, 1e-14));
  auto vol = m.signed_volumes();
  // Consistent orientation: every triangle has the same sign, none is degenerate.
  const double sign = vol[0].item<double>() > 0 ? 1.0 : -1.0;
  EXPECT_TRUE(((vol * sign) > 1e-12).all().item<bool>()) << vol;
  EXPECT_NEAR(vol.abs().sum().item<double>(), 2.0 * 0.5, 1e-13);
  EXPECT_EQ(m.num_cells(), 2 * 4 * 3);  // two triangles per box cell (no interior vertices)
  expect_conforming(m, 2 * (4 + 3));  // boundary edges = perimeter intervals
  // Every vertex is used by some cell.
  EXPECT_EQ(std::get<0>(torch::_unique(m.cells().reshape({-1}))).numel(), m.num_vertices());
}

TEST(Mesh, BoxMesh3DTetrahedraCoverTheBox) {
  const std::vector<int64_t> n{2, 2, 2};
  const std::vector<double> lo{0, 0, 0}, hi{1.0, 2.0, 3.0};
  Mesh m = Mesh::box(BoxMeshOptions(n).upper(hi));
  EXPECT_EQ(m.dim(), 3);
  EXPECT_EQ(m.num_vertices(), 27);  // (n + 1)^3
  EXPECT_EQ(m.cells().size(1), 4);
  EXPECT_TRUE(torch::allclose(sort_rows(m.vertices()), sort_rows(lattice(n, lo, hi)), 0, 1e-14));
  auto vol = m.signed_volumes();
  const double sign = vol[0].item<double>() > 0 ? 1.0 : -1.0;
  EXPECT_TRUE(((vol * sign) > 1e-12).all().item<bool>()) << vol;
  EXPECT_NEAR(vol.abs().sum().item<double>(), 6.0, 1e-12);
  EXPECT_EQ(m.num_cells(), 6 * 8);        // six tetrahedra per box cell
  expect_conforming(m, 2 * 2 * (3 * 4));  // two triangles per boundary square, 6 sides of 2x2
}

TEST(Mesh, SignedVolumesOfHandBuiltSimplices) {
  // Counter-clockwise unit right triangle: +1/2; the swapped one: -1/2.
  auto v = torch::tensor({0.0, 0.0, 1.0, 0.0, 0.0, 1.0}, torch::kDouble).reshape({3, 2});
  Mesh tri(v, torch::tensor({0, 1, 2, 0, 2, 1}, torch::kLong).reshape({2, 3}));
  EXPECT_TRUE(torch::allclose(tri.signed_volumes(), torch::tensor({0.5, -0.5}, torch::kDouble)));
  // Right-handed unit tetrahedron: 1/6.
  auto w = torch::tensor({0., 0., 0., 1., 0., 0., 0., 1., 0., 0., 0., 1.}, torch::kDouble).reshape({4, 3});
  Mesh tet(w, torch::tensor({0, 1, 2, 3}, torch::kLong).reshape({1, 4}));
  EXPECT_NEAR(tet.signed_volumes()[0].item<double>(), 1.0 / 6.0, 1e-15);
}

TEST(Mesh, BadInputGivesClearErrors) {
  EXPECT_THROW_MSG(Mesh::box(BoxMeshOptions({4})), "need 2 or 3 axes of faces, got 1");
  EXPECT_THROW_MSG(Mesh::box(BoxMeshOptions({4, 0})), "faces per axis must be positive, got 0 on axis 1");
  EXPECT_THROW_MSG(Mesh::box(BoxMeshOptions({2, 2}).lower({0.0, 1.0}).upper({1.0, 0.5})),
                   "upper (0.5) must be greater than lower (1) on axis 1");
  auto v = torch::rand({3, 2}, torch::kDouble);
  EXPECT_THROW_MSG(Mesh(v, torch::tensor({0, 1, 3}, torch::kLong).reshape({1, 3})),
                   "cell vertex indices must lie in [0, 3), got range [0, 3]");
  EXPECT_THROW_MSG(Mesh(v, torch::tensor({0, 1, 2, 0}, torch::kLong).reshape({1, 4})), "cells must have shape [Nc, 3]");
  EXPECT_THROW_MSG(Mesh(v.to(torch::kFloat), torch::tensor({0, 1, 2}, torch::kLong).reshape({1, 3})),
                   "vertices must be float64");
  EXPECT_THROW_MSG(Mesh::from_dmplex(nullptr), "the DM is null");
}

TEST(Mesh, FromDmplexReadsADmThatStaysOwnedByTheCaller) {
  DM dm = Mesh::create_box_dmplex(BoxMeshOptions({3, 2}));
  PetscInt c_start = 0, c_end = 0;
  ASSERT_EQ(DMPlexGetHeightStratum(dm, 0, &c_start, &c_end), 0);
  Mesh m = Mesh::from_dmplex(dm);
  EXPECT_EQ(m.num_cells(), c_end - c_start);
  EXPECT_EQ(m.num_cells(), 12);
  PetscInt dim = 0;
  EXPECT_EQ(DMGetDimension(dm, &dim), 0);  // still valid
  EXPECT_EQ(dim, 2);
  DMDestroy(&dm);
}

TEST(Mesh, BoxMeshCellsArePositivelyOriented) {
  // The Kuhn triangulation is built counter-clockwise / right-handed; DMPlex's closure
  // order keeps that orientation.
  for (const auto& faces : {std::vector<int64_t>{3, 2}, std::vector<int64_t>{2, 1, 2}}) {
    auto vol = Mesh::box(BoxMeshOptions(faces)).signed_volumes();
    EXPECT_TRUE((vol > 0).all().item<bool>()) << "d = " << faces.size() << ": " << vol;
  }
}
