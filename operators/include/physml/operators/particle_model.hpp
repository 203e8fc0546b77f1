#pragma once
/// \file particle_model.hpp
/// What GNS and GIOROM share (Sanchez-Gonzalez et al. 2020; Viswanath et al.): the GNS-style inputs of a
/// learned particle simulator and its time integration.
///
/// Inputs of particle i at time t from the window of positions x_{t-W}, ..., x_t:
///   - W normalised velocities (v - vel_mean) / sqrt(vel_std^2 + noise^2), v_k = x_k - x_{k-1};
///   - distances to the 2d walls of the domain box divided by the radius R, clipped to [-1, 1];
///   - a learned embedding of the particle's material (an integer in [0, materials));
///   - edges j -> i for |x_i - x_j| <= R (radius_graph with self-loops) with features
///     ((x_j - x_i) / R, |x_j - x_i| / R).
/// The network returns the normalised acceleration a; a_phys = a sqrt(acc_std^2 + noise^2) +
/// acc_mean, v_{t+1} = v_t + a_phys, x_{t+1} = x_t + v_{t+1} (one frame = one time unit).
/// Velocities and relative positions make every input but the wall distances translation
/// invariant; far from the walls (distance > R) those are clipped to 1 and the whole step is.
#include "physml/operators/graph_net.hpp"
#include "physml/operators/registry.hpp"

#include <ATen/core/Tensor.h>
#include <torch/arg.h>

#include <cstdint>
#include <string>
#include <vector>

namespace physml {
class OptionsReader;
}

namespace physml::operators {

/// Settings of the particle inputs (keys of the model config; -<type>_* options).
struct ParticleInputOptions {
  /// Spatial dimension 2 or 3.
  TORCH_ARG(std::int64_t, dim) = 2;
  /// Number of past velocities W (GNS, GIOROM: 5; the window holds W + 1 positions).
  TORCH_ARG(std::int64_t, window) = 5;
  /// Connectivity radius R (GNS 2-D sand 0.015; GIOROM 0.03-0.125 on its sparse graphs).
  TORCH_ARG(double, radius) = 0.05;
  /// Domain box (wall distances); empty = [0, 1] on every axis.
  TORCH_ARG(std::vector<double>, lower) = {};
  TORCH_ARG(std::vector<double>, upper) = {};
  /// Number of material types and the width of their embedding (GNS: 9 types -> 16).
  TORCH_ARG(std::int64_t, materials) = 9;
  TORCH_ARG(std::int64_t, embedding) = 16;
  /// Random-walk noise std at the last input velocity (training; also added in quadrature to
  /// the normalisation stds). GNS 6.7e-4; GIOROM 3e-4 (water), 0 (plasticine, elasticity).
  TORCH_ARG(double, noise) = 6.7e-4;

public:
  /// Node feature width: embedding + W d + 2 d.
  std::int64_t node_features() const { return embedding() + window() * dim() + 2 * dim(); }
  std::int64_t edge_features() const { return dim() + 1; }
  double lower_at(std::int64_t axis) const;
  double upper_at(std::int64_t axis) const;
  /// Throws physml::Error naming the first bad value.
  void validate(const std::string& who) const;
  /// Adds dim, window, radius, lower, upper, materials, embedding, noise to `config`.
  void to_config(ModelConfig& config) const;
  /// Reads those keys of `config` (others are the caller's).
  static ParticleInputOptions from_config(const std::string& model, const ModelConfig& config);
  /// Reads them from an open options section.
  ParticleInputOptions& read_options(OptionsReader& reader);
};

/// A window of positions for one or several particle systems.
struct ParticleWindow {
  /// [W + 1, N, d], oldest first: x_{t-W}, ..., x_t.
  at::Tensor positions;
  /// int64 [N] in [0, materials).
  at::Tensor material;
  /// int64 [N]: the system each particle belongs to (undefined = all in one). Edges connect
  /// particles of the same system only, so a batch of windows gives the same accelerations as
  /// the windows one by one.
  at::Tensor system;
};

/// Per-component mean and standard deviation of the velocities and accelerations of the
/// training data (dataset statistics, GNS's metadata): [d] each.
struct ParticleStatistics {
  at::Tensor vel_mean, vel_std, acc_mean, acc_std;
  /// From trajectories [T, N, d] (each at least 3 frames): v = diff, a = diff of v.
  static ParticleStatistics of(const std::vector<at::Tensor>& trajectories);
};

/// Base of the learned particle simulators (GNS, GIOROM): inputs, normalisation buffers and
/// integration; a derived type implements the network from the graph to the acceleration.
class ParticleModel : public Model {
public:
  ParticleModel(const std::string& name, ParticleInputOptions inputs);
  /// Particle models take a window, not a field: throws physml::Error pointing to step().
  at::Tensor forward(const at::Tensor& x) override;
  /// The normalised acceleration [N, d] of the window's last frame.
  at::Tensor acceleration(const ParticleWindow& window);
  /// x_{t+1} [N, d] from the window (integrating acceleration()).
  at::Tensor step(const ParticleWindow& window);
  /// The inputs the network sees: node features [N, node_features], edges, edge_index
  /// (what acceleration() computes first; exposed for tests and inspection).
  GraphBatch inputs(const ParticleWindow& window);
  /// Normalised acceleration from physical positions x_{t+1} (the training target).
  at::Tensor normalised_acceleration(const ParticleWindow& window, const at::Tensor& next) const;
  /// Integrate a normalised acceleration: x_{t+1}.
  at::Tensor integrate(const ParticleWindow& window, const at::Tensor& normalised) const;
  void set_statistics(const ParticleStatistics& statistics);
  ParticleStatistics statistics() const;
  const ParticleInputOptions& input_options() const { return inputs_; }

protected:
  /// The network: graph (nodes, edges, edge_index, system), positions x_t [N, d] -> [N, d].
  virtual at::Tensor network(const GraphBatch& graph, const at::Tensor& positions) = 0;
  void check_window(const ParticleWindow& window) const;

private:
  ParticleInputOptions inputs_;
  at::Tensor embedding_, vel_mean_, vel_std_, acc_mean_, acc_std_;
};

}  // namespace physml::operators
