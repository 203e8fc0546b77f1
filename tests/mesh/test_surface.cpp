// Closed triangle surfaces (mesh/surface.hpp): the winding number is +-1 inside and 0 outside
// whatever the orientation, the enclosed volume, and surfaces that are not closed or not
// consistently oriented refused, naming the edge.
#include "physml/mesh/surface.hpp"
#include "test_util.hpp"

#include <torch/torch.h>

#include <cmath>

using physml::mesh::SurfaceMesh;

namespace {

/// The octahedron |x| + |y| + |z| <= 1: 6 vertices, 8 outward-facing triangles, volume 4/3.
at::Tensor octa_vertices() {
  return torch::tensor({1.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, -1.0},
                       torch::kDouble)
      .view({6, 3});
}
at::Tensor octa_triangles() {
  return torch::tensor({0, 2, 4, 2, 1, 4, 1, 3, 4, 3, 0, 4, 2, 0, 5, 1, 2, 5, 3, 1, 5, 0, 3, 5}, torch::kLong).view({8, 3});
}

}  // namespace

TEST(SurfaceMesh, WindingNumberIsOneInsideZeroOutsideWhateverTheOrientation) {
  const SurfaceMesh m(octa_vertices(), octa_triangles());
  EXPECT_NEAR(m.signed_volume(), 4.0 / 3.0, 1e-15);
  const SurfaceMesh flipped(octa_vertices(), octa_triangles().flip({1}));  // every triangle reversed
  EXPECT_NEAR(flipped.signed_volume(), -4.0 / 3.0, 1e-15);
  auto g = at::make_generator<at::CPUGeneratorImpl>(3);
  const auto pts = torch::rand({2000, 3}, g, torch::kDouble) * 3.0 - 1.5;
  int inside = 0, outside = 0;
  for (std::int64_t i = 0; i < pts.size(0); ++i) {
    const double x[3] = {pts[i][0].item<double>(), pts[i][1].item<double>(), pts[i][2].item<double>()};
    const double l1 = std::abs(x[0]) + std::abs(x[1]) + std::abs(x[2]);
    if (std::abs(l1 - 1.0) < 1e-3) continue;  // on the surface: either answer
    const double expect = l1 < 1.0 ? 1.0 : 0.0;
    EXPECT_NEAR(m.winding_number(x), expect, 1e-12) << x[0] << ", " << x[1] << ", " << x[2];
    EXPECT_NEAR(flipped.winding_number(x), -expect, 1e-12);
    EXPECT_EQ(m.contains(x), l1 < 1.0);
    EXPECT_EQ(flipped.contains(x), l1 < 1.0);
    (l1 < 1.0 ? inside : outside)++;
  }
  EXPECT_GT(inside, 50);
  EXPECT_GT(outside, 1000);
  // Scaled by 2 about the origin and shifted: volume x 8, the inside moves with it.
  const auto big = m.transformed(2.0, {10.0, 0.0, 0.0});
  EXPECT_NEAR(big.signed_volume(), 8 * 4.0 / 3.0, 1e-12);
  const double in[3] = {11.9, 0.0, 0.0}, out[3] = {0.5, 0.0, 0.0};
  EXPECT_TRUE(big.contains(in));
  EXPECT_FALSE(big.contains(out));
  EXPECT_EQ(big.lower()[0], 8.0);
  EXPECT_EQ(big.upper()[0], 12.0);
}

TEST(SurfaceMesh, SurfacesThatAreNotClosedOrNotOrientedAreRefused) {
  EXPECT_THROW_MSG(SurfaceMesh(octa_vertices(), octa_triangles().slice(0, 0, 7), "open.obj"),
                   "open.obj: the surface is not closed: the edge between vertices");
  auto one_flipped = octa_triangles().clone();
  one_flipped[0] = torch::tensor({0, 4, 2}, torch::kLong);
  EXPECT_THROW_MSG(SurfaceMesh(octa_vertices(), one_flipped, "bent.obj"), "bent.obj: triangles ");
  EXPECT_THROW_MSG(SurfaceMesh(octa_vertices(), one_flipped), "not consistently oriented");
  auto far = octa_triangles().clone();
  far[3][1] = 6;
  EXPECT_THROW_MSG(SurfaceMesh(octa_vertices(), far), "triangle 3 has vertex index 6 outside [0, 6)");
  auto repeated = octa_triangles().clone();
  repeated[2][2] = repeated[2][0];
  EXPECT_THROW_MSG(SurfaceMesh(octa_vertices(), repeated), "triangle 2 repeats a vertex");
  EXPECT_THROW_MSG(SurfaceMesh(octa_vertices(), octa_triangles().slice(0, 0, 3)), "3 triangle(s); a closed surface has at least 4");
  auto nan = octa_vertices().clone();
  nan[1][1] = std::nan("");
  EXPECT_THROW_MSG(SurfaceMesh(nan, octa_triangles()), "non-finite vertex coordinates");
  EXPECT_THROW_MSG(SurfaceMesh(octa_vertices().slice(1, 0, 2), octa_triangles()), "expected vertices [V, 3]");
  EXPECT_THROW_MSG(SurfaceMesh(octa_vertices(), octa_triangles().to(torch::kDouble)), "expected triangles [T, 3]");
}
