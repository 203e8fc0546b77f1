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

TEST(SurfaceMesh, RayCountAgreesWithTheWindingNumberAndFallsBackWhereTheRayIsDegenerate) {
  // A UV sphere of 14,160 triangles: contains() (the +x ray's crossings among one bucket's
  // triangles) gives the winding number's answer at random points, the count itself is the
  // (integer) winding number wherever it is defined, and the inscribed / circumscribed balls
  // are inside / outside.
  const auto m = SurfaceMesh::uv_sphere({0.5, 0.5, 0.5}, 0.3, 60, 120);
  EXPECT_EQ(m.num_triangles(), 2 * 120 * 59);
  EXPECT_GT(m.signed_volume(), 0.0);
  EXPECT_NEAR(m.signed_volume(), 4.0 / 3.0 * M_PI * 0.027, 2e-3 * 0.113);
  auto g = at::make_generator<at::CPUGeneratorImpl>(8);
  const auto pts = (torch::rand({3000, 3}, g, torch::kDouble) * 0.64 + 0.18).contiguous();
  const double* p = pts.data_ptr<double>();
  int degenerate = 0, inside = 0;
  for (std::int64_t i = 0; i < pts.size(0); ++i) {
    const double* x = p + 3 * i;
    const double w = m.winding_number(x);
    const double r = std::sqrt((x[0] - 0.5) * (x[0] - 0.5) + (x[1] - 0.5) * (x[1] - 0.5) + (x[2] - 0.5) * (x[2] - 0.5));
    ASSERT_EQ(m.contains(x), std::abs(w) > 0.5) << x[0] << ", " << x[1] << ", " << x[2];
    if (r < 0.29) {
      EXPECT_TRUE(m.contains(x));
    }
    if (r > 0.3) {
      EXPECT_FALSE(m.contains(x));
    }
    const double c = m.ray_crossings(x);
    if (std::isnan(c))
      ++degenerate;
    else
      EXPECT_EQ(c, std::round(w)) << x[0] << ", " << x[1] << ", " << x[2];
    inside += m.contains(x);
  }
  EXPECT_GT(inside, 300);
  EXPECT_LT(degenerate, 10);  // the fallback is rare at random points
  // Rays through the vertices of the rings (at angle 0, where z = 0.5 exactly) and through the
  // north pole are degenerate: the count says so and contains() gives the exact answer.
  for (int i = 5; i < 60; i += 7) {
    const double y = 0.5 + 0.3 * std::cos(M_PI * i / 60);
    const double in[3] = {0.5, y, 0.5}, out[3] = {0.1, y, 0.5};
    EXPECT_TRUE(std::isnan(m.ray_crossings(in))) << "ring " << i;
    EXPECT_TRUE(m.contains(in)) << "ring " << i;
    EXPECT_EQ(m.contains(out), std::abs(m.winding_number(out)) > 0.5) << "ring " << i;
  }
  const double pole_level[3] = {0.3, 0.8, 0.5};
  EXPECT_TRUE(std::isnan(m.ray_crossings(pole_level)));
  EXPECT_FALSE(m.contains(pole_level));
  // Far and non-finite points are outside.
  const double far[3] = {0.5, 1e300, -1e300}, nan[3] = {0.5, std::nan(""), 0.5};
  EXPECT_FALSE(m.contains(far));
  EXPECT_FALSE(m.contains(nan));
  EXPECT_EQ(m.ray_crossings(far), 0.0);
  // The unit cube, each face split along a diagonal: the +x ray from any point (x, t, t) runs
  // along the diagonal edge of the face x = 1, so the count is degenerate there and contains()
  // falls back to the exact sum; the answer stays right.
  const auto cube_v = torch::tensor({0., 0., 0., 1., 0., 0., 1., 1., 0., 0., 1., 0., 0., 0., 1., 1., 0., 1., 1., 1., 1., 0., 1., 1.}, torch::kDouble).view({8, 3});
  const auto cube_t = torch::tensor({0, 3, 2, 0, 2, 1, 4, 5, 6, 4, 6, 7, 0, 1, 5, 0, 5, 4,
                                     1, 2, 6, 1, 6, 5, 2, 3, 7, 2, 7, 6, 3, 0, 4, 3, 4, 7},
                                    torch::kLong)
                          .view({12, 3});
  const SurfaceMesh cube(cube_v, cube_t, "cube");
  EXPECT_NEAR(cube.signed_volume(), 1.0, 1e-15);
  for (double t : {0.1, 0.25, 0.5, 0.9}) {
    const double on_diagonal[3] = {0.5, t, t};
    EXPECT_TRUE(std::isnan(cube.ray_crossings(on_diagonal))) << t;
    EXPECT_TRUE(cube.contains(on_diagonal)) << t;
    const double off[3] = {0.5, t, 0.5 * t + 0.01};
    EXPECT_EQ(cube.ray_crossings(off), 1.0) << t;
    EXPECT_TRUE(cube.contains(off)) << t;
  }
  EXPECT_THROW_MSG(SurfaceMesh::uv_sphere({0, 0, 0}, 1.0, 1, 8), "rings >= 2 and segments >= 3");
}
