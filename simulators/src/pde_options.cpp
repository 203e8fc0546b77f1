#include "pde_options.hpp"

#include "physml/core/error.hpp"

#include <cmath>
#include <vector>

namespace physml::simulators::detail {

double positive_option(OptionsReader& reader, const std::string& name, double value, const std::string& help) {
  const double v = reader.real(name, value, help);
  PHYSML_CHECK(v > 0 && std::isfinite(v), "option -", reader.prefix(), name, " = ", v, " must be positive");
  return v;
}

double finite_option(OptionsReader& reader, const std::string& name, double value, const std::string& help) {
  const double v = reader.real(name, value, help);
  PHYSML_CHECK(std::isfinite(v), "option -", reader.prefix(), name, " = ", v, " must be finite");
  return v;
}

mesh::Grid unit_vertex_grid(int dim, std::int64_t s, mesh::Boundary boundary) {
  return mesh::Grid(mesh::GridOptions(std::vector<std::int64_t>(static_cast<size_t>(dim), s)).boundary(boundary));
}

mesh::Grid unit_periodic_grid(int dim, std::int64_t n) {
  mesh::GridOptions o(std::vector<std::int64_t>(static_cast<size_t>(dim), n));
  for (int a = 0; a < dim; ++a) o.periodic(a);
  return mesh::Grid(o);
}

std::int64_t points_per_side(const mesh::Grid& grid, const mesh::Grid& expected, const std::string& who) {
  const std::int64_t n = grid.sizes().empty() ? 0 : grid.sizes()[0];
  bool ok = grid.dim() == expected.dim() && n > 0;
  for (int a = 0; ok && a < grid.dim(); ++a) ok = grid.size(a) == n;
  if (ok) {
    // Same kind of grid with n points per side: compare everything else through operator==.
    mesh::GridOptions o(std::vector<std::int64_t>(static_cast<size_t>(grid.dim()), n));
    o.centering(expected.centering());
    for (int a = 0; a < grid.dim(); ++a) {
      o.boundary(a, expected.boundary(a, 0), expected.boundary(a, 1));
      o.lower().push_back(expected.lower(a));
      o.upper().push_back(expected.upper(a));
    }
    ok = grid == mesh::Grid(o);
  }
  PHYSML_CHECK(ok, who, ": expected a grid like ", expected.to_json(), " (any equal number of points per side), got ",
               grid.to_json());
  return n;
}

}  // namespace physml::simulators::detail
