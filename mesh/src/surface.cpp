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
    if (x[a] < lower_[a] || x[a] > upper_[a]) return false;
  return std::abs(winding_number(x)) > 0.5;
}

SurfaceMesh SurfaceMesh::transformed(double scale, const std::vector<double>& offset) const {
  PHYSML_CHECK(std::isfinite(scale) && scale > 0, "surface mesh: scale must be > 0, got ", scale);
  PHYSML_CHECK(offset.size() == 3, "surface mesh: offset must have 3 values, got ", offset.size());
  const auto shift = torch::tensor(offset, torch::kDouble).view({1, 3});
  return SurfaceMesh(vertices() * scale + shift, triangles());
}

}  // namespace physml::mesh
