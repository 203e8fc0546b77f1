#pragma once
/// \file particles.hpp
/// A set of particles (MPM material points, SPH particles, point-cloud samples) as tensors.

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace physml::mesh {

/// N particles in d = 1..3 dimensions: positions [N, d], velocities [N, d] and named
/// per-particle attributes whose first axis has N rows (mass [N], volume [N],
/// deformation gradient F [N, d, d], ...). All tensors live on the device of the positions;
/// any floating dtype. Setters check shapes and devices and throw physml::Error naming the
/// offending tensor.
class ParticleSet {
public:
  /// An empty set (size 0, dim 0).
  ParticleSet() = default;
  /// `positions` [N, d]; `velocities` [N, d] (undefined = zeros like positions).
  explicit ParticleSet(at::Tensor positions, at::Tensor velocities = {});

  /// Number of particles N.
  int64_t size() const { return positions_.defined() ? positions_.size(0) : 0; }
  /// Spatial dimension d.
  int64_t dim() const { return positions_.defined() ? positions_.size(1) : 0; }
  /// Device of every tensor of the set.
  c10::Device device() const;

  /// Positions [N, d].
  const at::Tensor& positions() const { return positions_; }
  /// Velocities [N, d].
  const at::Tensor& velocities() const { return velocities_; }
  /// Replace the positions; must keep the shape [N, d] and the device.
  void set_positions(at::Tensor x);
  /// Replace the velocities; must have the shape [N, d] and the device of the positions.
  void set_velocities(at::Tensor v);

  /// Set (or replace) attribute `name`, a tensor with N rows on the device of the positions.
  ParticleSet& set(const std::string& name, at::Tensor value);
  /// Attribute `name`; throws listing the known names if it is absent.
  const at::Tensor& get(const std::string& name) const;
  bool has(const std::string& name) const { return attributes_.count(name) > 0; }
  /// Remove attribute `name` (no-op if absent).
  void erase(const std::string& name) { attributes_.erase(name); }
  /// Attribute names in sorted order.
  std::vector<std::string> names() const;

  /// The same particles with every tensor moved to `device`.
  ParticleSet to(c10::Device device) const;
  /// The subset of particles `index` (int64 [M], e.g. a random subsample), every tensor gathered.
  ParticleSet select(const at::Tensor& index) const;

private:
  void check_rows(const std::string& name, const at::Tensor& t) const;
  at::Tensor positions_, velocities_;
  std::map<std::string, at::Tensor> attributes_;
};

}  // namespace physml::mesh
