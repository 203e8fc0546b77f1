#include "physml/mesh/particles.hpp"

#include "physml/core/error.hpp"

#include <torch/torch.h>

namespace physml::mesh {

ParticleSet::ParticleSet(at::Tensor positions, at::Tensor velocities) {
  PHYSML_CHECK(positions.defined(), "ParticleSet: positions are undefined");
  PHYSML_CHECK(positions.dim() == 2 && positions.size(1) >= 1 && positions.size(1) <= 3,
               "ParticleSet: positions must have shape [N, d] with d in 1..3, got ", positions.sizes());
  PHYSML_CHECK(positions.is_floating_point(), "ParticleSet: positions must be a floating-point tensor, got ",
               positions.scalar_type());
  positions_ = std::move(positions);
  set_velocities(velocities.defined() ? std::move(velocities) : torch::zeros_like(positions_));
}

c10::Device ParticleSet::device() const { return positions_.defined() ? positions_.device() : c10::Device("cpu"); }

void ParticleSet::check_rows(const std::string& name, const at::Tensor& t) const {
  PHYSML_CHECK(t.defined(), "ParticleSet: ", name, " is undefined");
  PHYSML_CHECK(positions_.defined(), "ParticleSet: set positions before ", name);
  PHYSML_CHECK(t.dim() >= 1 && t.size(0) == size(), "ParticleSet: ", name, " must have N = ", size(),
               " rows (one per particle), got shape ", t.sizes());
  PHYSML_CHECK(t.device() == device(), "ParticleSet: ", name, " is on ", t.device(), " but the positions are on ",
               device());
}

void ParticleSet::set_positions(at::Tensor x) {
  PHYSML_CHECK(x.defined() && x.sizes() == positions_.sizes(), "ParticleSet: new positions must have shape ",
               positions_.sizes(), ", got ", x.defined() ? x.sizes() : at::IntArrayRef{});
  PHYSML_CHECK(x.is_floating_point(), "ParticleSet: positions must be a floating-point tensor, got ",
               x.scalar_type());
  check_rows("positions", x);
  positions_ = std::move(x);
}

void ParticleSet::set_velocities(at::Tensor v) {
  check_rows("velocities", v);
  PHYSML_CHECK(v.sizes() == positions_.sizes(), "ParticleSet: velocities must have shape ", positions_.sizes(),
               " like the positions, got ", v.sizes());
  velocities_ = std::move(v);
}

ParticleSet& ParticleSet::set(const std::string& name, at::Tensor value) {
  PHYSML_CHECK(!name.empty(), "ParticleSet::set: empty attribute name");
  PHYSML_CHECK(name != "positions" && name != "velocities", "ParticleSet::set: '", name,
               "' is reserved; use set_", name, "()");
  check_rows("attribute '" + name + "'", value);
  attributes_[name] = std::move(value);
  return *this;
}

const at::Tensor& ParticleSet::get(const std::string& name) const {
  auto it = attributes_.find(name);
  if (it == attributes_.end()) {
    std::string list;
    for (const auto& kv : attributes_) list += (list.empty() ? "" : ", ") + kv.first;
    PHYSML_THROW("ParticleSet: no attribute '", name, "' (attributes: ", list.empty() ? "none" : list, ")");
  }
  return it->second;
}

std::vector<std::string> ParticleSet::names() const {
  std::vector<std::string> out;
  for (const auto& kv : attributes_) out.push_back(kv.first);
  return out;
}

ParticleSet ParticleSet::to(c10::Device device) const {
  ParticleSet out;
  if (!positions_.defined()) return out;
  out.positions_ = positions_.to(device);
  out.velocities_ = velocities_.to(device);
  for (const auto& kv : attributes_) out.attributes_[kv.first] = kv.second.to(device);
  return out;
}

ParticleSet ParticleSet::select(const at::Tensor& index) const {
  PHYSML_CHECK(index.defined() && index.dim() == 1 && index.scalar_type() == torch::kLong,
               "ParticleSet::select: index must be an int64 tensor of shape [M]");
  if (index.numel() > 0) {
    auto lo = index.min().item<int64_t>(), hi = index.max().item<int64_t>();
    PHYSML_CHECK(lo >= 0 && hi < size(), "ParticleSet::select: indices must lie in [0, ", size(), "), got range [",
                 lo, ", ", hi, "]");
  }
  auto idx = index.to(device());
  ParticleSet out;
  out.positions_ = positions_.index_select(0, idx);
  out.velocities_ = velocities_.index_select(0, idx);
  for (const auto& kv : attributes_) out.attributes_[kv.first] = kv.second.index_select(0, idx);
  return out;
}

}  // namespace physml::mesh
