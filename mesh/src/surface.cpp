#include "physml/mesh/surface.hpp"

#include "physml/core/error.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <utility>

namespace physml::mesh {

SurfaceMesh::SurfaceMesh(at::Tensor vertices, at::Tensor triangles, const std::string& source) {
  PHYSML_CHECK(vertices.dim() == 2 && vertices.size(1) == 3 && vertices.is_floating_point(), source,
               ": expected vertices [V, 3] of a floating type, got ", vertices.sizes(), " of ", vertices.scalar_type());
  PHYSML_CHECK(triangles.dim() == 2 && triangles.size(1) == 3 && !triangles.is_floating_point() &&
                   triangles.scalar_type() != torch::kBool,
               source, ": expected triangles [T, 3] of vertex indices, got ", triangles.sizes(), " of ",
               triangles.scalar_type());
  const auto v = vertices.to(torch::kCPU, torch::kDouble).contiguous();
  const auto t = triangles.to(torch::kCPU, torch::kLong).contiguous();
  const auto V = v.size(0), T = t.size(0);
  PHYSML_CHECK(T >= 4, source, ": ", T, " triangle(s); a closed surface has at least 4");
  PHYSML_CHECK(torch::isfinite(v).all().item<bool>(), source, ": non-finite vertex coordinates");
  xyz_.assign(v.data_ptr<double>(), v.data_ptr<double>() + 3 * V);
  tri_.assign(t.data_ptr<std::int64_t>(), t.data_ptr<std::int64_t>() + 3 * T);
  // Directed edges: a closed, consistently oriented surface has each edge once in each direction.
  std::map<std::pair<std::int64_t, std::int64_t>, std::int64_t> directed;  // (from, to) -> triangle
  for (std::int64_t t = 0; t < T; ++t) {
    const std::int64_t* v = &tri_[static_cast<std::size_t>(3 * t)];
    for (int k = 0; k < 3; ++k)
      PHYSML_CHECK(v[k] >= 0 && v[k] < V, source, ": triangle ", t, " has vertex index ", v[k], " outside [0, ", V, ")");
    PHYSML_CHECK(v[0] != v[1] && v[1] != v[2] && v[0] != v[2], source, ": triangle ", t, " repeats a vertex (", v[0], ", ",
                 v[1], ", ", v[2], ")");
    for (int k = 0; k < 3; ++k) {
      const auto e = std::make_pair(v[k], v[(k + 1) % 3]);
      const auto [it, fresh] = directed.emplace(e, t);
      PHYSML_CHECK(fresh, source, ": triangles ", it->second, " and ", t, " both run from vertex ", e.first, " to ",
                   e.second, " (0-based, after merging equal vertices): the surface is not consistently oriented (or an edge has more than two triangles)");
    }
  }
  auto at = [&](std::int64_t v) {
    const double* p = &xyz_[static_cast<std::size_t>(3 * v)];
    return "(" + std::to_string(p[0]) + ", " + std::to_string(p[1]) + ", " + std::to_string(p[2]) + ")";
  };
  for (const auto& [e, t] : directed)
    PHYSML_CHECK(directed.count({e.second, e.first}), source, ": the surface is not closed: the edge between vertices ",
                 e.first, " and ", e.second, " (at ", at(e.first), " and ", at(e.second), ") belongs to triangle ", t,
                 " only (a closed surface has every edge in exactly two triangles)");
  for (int a = 0; a < 3; ++a) {
    lower_[static_cast<std::size_t>(a)] = std::numeric_limits<double>::infinity();
    upper_[static_cast<std::size_t>(a)] = -std::numeric_limits<double>::infinity();
  }
  for (std::int64_t i = 0; i < V; ++i)
    for (std::size_t a = 0; a < 3; ++a) {
      lower_[a] = std::min(lower_[a], xyz_[static_cast<std::size_t>(3 * i) + a]);
      upper_[a] = std::max(upper_[a], xyz_[static_cast<std::size_t>(3 * i) + a]);
    }
  build_buckets();
}

std::int64_t SurfaceMesh::bucket(double y, double z) const {
  auto cell = [](double u, double lo, double hi, std::int64_t n) {
    if (!(hi > lo)) return std::int64_t{0};
    // Clamped as a double before the conversion (far or non-finite u: no overflow).
    const double c = std::floor((u - lo) / (hi - lo) * static_cast<double>(n));
    return static_cast<std::int64_t>(std::isnan(c) ? 0.0 : std::clamp(c, 0.0, static_cast<double>(n - 1)));
  };
  return cell(y, lower_[1], upper_[1], ny_) * nz_ + cell(z, lower_[2], upper_[2], nz_);
}

void SurfaceMesh::build_buckets() {
  const auto T = num_triangles();
  const double L = std::max({upper_[0] - lower_[0], upper_[1] - lower_[1], upper_[2] - lower_[2]});
  tol_len_ = 1e-9 * L;
  tol_area_ = 1e-9 * L * L;
  // About T/2 buckets (at most 512 per side); each triangle goes in every bucket its (y, z)
  // bounding box, widened by the tolerance, touches. Long slivers lying across the (y, z)
  // plane touch many: the grid is coarsened until the entries are at most 32 T + buckets.
  std::int64_t n = std::clamp<std::int64_t>(static_cast<std::int64_t>(std::ceil(std::sqrt(static_cast<double>(T) / 2.0))), 1, 512);
  std::vector<std::array<std::int64_t, 4>> range(static_cast<std::size_t>(T));  // j0, j1, k0, k1
  std::vector<std::int64_t> count;
  while (true) {
    ny_ = nz_ = n;
    count.assign(static_cast<std::size_t>(ny_ * nz_) + 1, 0);
    std::int64_t entries = 0;
    for (std::int64_t t = 0; t < T; ++t) {
      double lo[2] = {1e300, 1e300}, hi[2] = {-1e300, -1e300};
      for (int k = 0; k < 3; ++k) {
        const double* p = &xyz_[static_cast<std::size_t>(3 * tri_[static_cast<std::size_t>(3 * t + k)])];
        for (int a = 0; a < 2; ++a) {
          lo[a] = std::min(lo[a], p[1 + a]);
          hi[a] = std::max(hi[a], p[1 + a]);
        }
      }
      const auto b0 = bucket(lo[0] - tol_len_, lo[1] - tol_len_), b1 = bucket(hi[0] + tol_len_, hi[1] + tol_len_);
      auto& r = range[static_cast<std::size_t>(t)];
      r = {b0 / nz_, b1 / nz_, b0 % nz_, b1 % nz_};
      entries += (r[1] - r[0] + 1) * (r[3] - r[2] + 1);
    }
    if (n == 1 || entries <= 32 * T + n * n) break;
    n = std::max<std::int64_t>(1, n / 2);
  }
  for (std::int64_t t = 0; t < T; ++t) {
    const auto& r = range[static_cast<std::size_t>(t)];
    for (auto j = r[0]; j <= r[1]; ++j)
      for (auto k = r[2]; k <= r[3]; ++k) ++count[static_cast<std::size_t>(j * nz_ + k) + 1];
  }
  for (std::size_t i = 1; i < count.size(); ++i) count[i] += count[i - 1];
  bucket_start_ = count;
  bucket_tri_.assign(static_cast<std::size_t>(count.back()), 0);
  for (std::int64_t t = 0; t < T; ++t) {
    const auto& r = range[static_cast<std::size_t>(t)];
    for (auto j = r[0]; j <= r[1]; ++j)
      for (auto k = r[2]; k <= r[3]; ++k) bucket_tri_[static_cast<std::size_t>(count[static_cast<std::size_t>(j * nz_ + k)]++)] = t;
  }
}

double SurfaceMesh::ray_crossings(const double* x) const {
  const auto b = static_cast<std::size_t>(bucket(x[1], x[2]));
  double w = 0;
  for (auto i = bucket_start_[b]; i < bucket_start_[b + 1]; ++i) {
    const auto t = static_cast<std::size_t>(3 * bucket_tri_[static_cast<std::size_t>(i)]);
    const double* a = &xyz_[static_cast<std::size_t>(3 * tri_[t])];
    const double* q = &xyz_[static_cast<std::size_t>(3 * tri_[t + 1])];
    const double* c = &xyz_[static_cast<std::size_t>(3 * tri_[t + 2])];
    // Signed areas in the (y, z) plane: of the triangle (its sign is that of the normal's x
    // component) and of the point with each edge (barycentric weights times the area).
    auto orient = [&](const double* u, const double* v) {
      return (v[1] - u[1]) * (x[2] - u[2]) - (v[2] - u[2]) * (x[1] - u[1]);
    };
    const double area = (q[1] - a[1]) * (c[2] - a[2]) - (q[2] - a[2]) * (c[1] - a[1]);
    const double e0 = orient(q, c), e1 = orient(c, a), e2 = orient(a, q);
    const bool pos = e0 > tol_area_ && e1 > tol_area_ && e2 > tol_area_;
    const bool neg = e0 < -tol_area_ && e1 < -tol_area_ && e2 < -tol_area_;
    if (!pos && !neg) {
      // Outside the shadow unless the signs disagree only within the tolerance: on an edge or
      // vertex of the shadow, or an edge-on triangle (area ~ 0) the point's shadow touches.
      const bool some_pos = e0 > tol_area_ || e1 > tol_area_ || e2 > tol_area_;
      const bool some_neg = e0 < -tol_area_ || e1 < -tol_area_ || e2 < -tol_area_;
      if (some_pos && some_neg) continue;
      double lo[2] = {std::min({a[1], q[1], c[1]}), std::min({a[2], q[2], c[2]})};
      double hi[2] = {std::max({a[1], q[1], c[1]}), std::max({a[2], q[2], c[2]})};
      if (x[1] < lo[0] - tol_len_ || x[1] > hi[0] + tol_len_ || x[2] < lo[1] - tol_len_ || x[2] > hi[1] + tol_len_) continue;
      if (std::max({a[0], q[0], c[0]}) < x[0] - tol_len_) continue;  // behind the point: the ray misses it
      return std::numeric_limits<double>::quiet_NaN();
    }
    const double hit = (e0 * a[0] + e1 * q[0] + e2 * c[0]) / area;
    if (std::abs(hit - x[0]) <= tol_len_) return std::numeric_limits<double>::quiet_NaN();  // on the surface
    if (hit > x[0]) w += area > 0 ? 1.0 : -1.0;
  }
  return w;
}

at::Tensor SurfaceMesh::vertices() const { return torch::tensor(xyz_, torch::kDouble).view({num_vertices(), 3}); }
at::Tensor SurfaceMesh::triangles() const { return torch::tensor(tri_, torch::kLong).view({num_triangles(), 3}); }

double SurfaceMesh::signed_volume() const {
  double v = 0;
  for (std::size_t t = 0; t < tri_.size(); t += 3) {
    const double* a = &xyz_[static_cast<std::size_t>(3 * tri_[t])];
    const double* b = &xyz_[static_cast<std::size_t>(3 * tri_[t + 1])];
    const double* c = &xyz_[static_cast<std::size_t>(3 * tri_[t + 2])];
    v += a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0]) + a[2] * (b[0] * c[1] - b[1] * c[0]);
  }
  return v / 6.0;
}

double SurfaceMesh::winding_number(const double* x) const {
  double omega = 0;
  for (std::size_t t = 0; t < tri_.size(); t += 3) {
    double r[3][3];
    double len[3];
    for (int k = 0; k < 3; ++k) {
      const double* p = &xyz_[static_cast<std::size_t>(3 * tri_[t + static_cast<std::size_t>(k)])];
      for (int a = 0; a < 3; ++a) r[k][a] = p[a] - x[a];
      len[k] = std::sqrt(r[k][0] * r[k][0] + r[k][1] * r[k][1] + r[k][2] * r[k][2]);
    }
    const double det = r[0][0] * (r[1][1] * r[2][2] - r[1][2] * r[2][1]) - r[0][1] * (r[1][0] * r[2][2] - r[1][2] * r[2][0]) +
                       r[0][2] * (r[1][0] * r[2][1] - r[1][1] * r[2][0]);
    auto dot = [&](int i, int j) { return r[i][0] * r[j][0] + r[i][1] * r[j][1] + r[i][2] * r[j][2]; };
    const double den = len[0] * len[1] * len[2] + dot(0, 1) * len[2] + dot(0, 2) * len[1] + dot(1, 2) * len[0];
    omega += 2.0 * std::atan2(det, den);
  }
  return omega / (4.0 * M_PI);
}

bool SurfaceMesh::contains(const double* x) const {
  for (std::size_t a = 0; a < 3; ++a)
    if (!(x[a] >= lower_[a] && x[a] <= upper_[a])) return false;  // outside the box, or NaN
  const double w = ray_crossings(x);
  return std::abs(std::isnan(w) ? winding_number(x) : w) > 0.5;
}

SurfaceMesh SurfaceMesh::uv_sphere(const std::array<double, 3>& center, double radius, int rings, int segments) {
  PHYSML_CHECK(rings >= 2 && segments >= 3, "SurfaceMesh::uv_sphere: expected rings >= 2 and segments >= 3, got ", rings,
               " and ", segments);
  PHYSML_CHECK(std::isfinite(radius) && radius > 0, "SurfaceMesh::uv_sphere: radius must be > 0, got ", radius);
  std::vector<double> v{center[0], center[1] + radius, center[2], center[0], center[1] - radius, center[2]};  // poles
  for (int i = 1; i < rings; ++i)
    for (int j = 0; j < segments; ++j) {
      const double th = M_PI * i / rings, ph = 2 * M_PI * j / segments;
      v.insert(v.end(), {center[0] + radius * std::sin(th) * std::cos(ph), center[1] + radius * std::cos(th),
                         center[2] + radius * std::sin(th) * std::sin(ph)});
    }
  auto ring = [&](int i, int j) { return static_cast<std::int64_t>(2 + (i - 1) * segments + (j % segments)); };
  std::vector<std::int64_t> t;
  for (int j = 0; j < segments; ++j) {
    t.insert(t.end(), {0, ring(1, j + 1), ring(1, j)});
    t.insert(t.end(), {1, ring(rings - 1, j), ring(rings - 1, j + 1)});
    for (int i = 1; i + 1 < rings; ++i) {
      t.insert(t.end(), {ring(i, j), ring(i, j + 1), ring(i + 1, j + 1)});
      t.insert(t.end(), {ring(i, j), ring(i + 1, j + 1), ring(i + 1, j)});
    }
  }
  // The fans and quads run counter-clockwise seen from outside (the test checks the volume > 0).
  return SurfaceMesh(torch::tensor(v, torch::kDouble).view({-1, 3}), torch::tensor(t, torch::kLong).view({-1, 3}),
                     "uv_sphere");
}

SurfaceMesh SurfaceMesh::transformed(double scale, const std::vector<double>& offset) const {
  PHYSML_CHECK(std::isfinite(scale) && scale > 0, "surface mesh: scale must be > 0, got ", scale);
  PHYSML_CHECK(offset.size() == 3, "surface mesh: offset must have 3 values, got ", offset.size());
  const auto shift = torch::tensor(offset, torch::kDouble).view({1, 3});
  return SurfaceMesh(vertices() * scale + shift, triangles());
}

}  // namespace physml::mesh
