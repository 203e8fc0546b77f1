#pragma once
// What the PDE simulators' options types share (src/pde_options.cpp): checked real keys and
// the unit-box grids they solve on, and the check that a given mesh::Grid is one of them.
#include "physml/core/options_reader.hpp"
#include "physml/mesh/grid.hpp"

#include <cstdint>
#include <string>

namespace physml::simulators::detail {

/// set_from_options of an options type with read_options(OptionsReader&): its keys in a
/// section of their own titled `title`.
template <typename T>
T& read_in_own_section(T& options_type, const Options& options, const std::string& title) {
  OptionsReader r(options, title);
  options_type.read_options(r);
  r.end();
  return options_type;
}

/// A positive, finite real key (physml::Error "option -<key> = v must be positive").
double positive_option(OptionsReader& reader, const std::string& name, double value, const std::string& help);
/// A finite real key of any sign.
double finite_option(OptionsReader& reader, const std::string& name, double value, const std::string& help);

/// Vertex grid of the unit box [0, 1]^dim with `s` points per axis, one boundary type on every face.
mesh::Grid unit_vertex_grid(int dim, std::int64_t s, mesh::Boundary boundary);
/// Periodic grid of the unit torus with `n` points x_j = j/n per axis.
mesh::Grid unit_periodic_grid(int dim, std::int64_t n);

/// The number of points per axis of `grid` if it equals `expected` but for its (equal) sizes;
/// otherwise physml::Error "<who>: expected <expected description>, got <grid>".
std::int64_t points_per_side(const mesh::Grid& grid, const mesh::Grid& expected, const std::string& who);

}  // namespace physml::simulators::detail
