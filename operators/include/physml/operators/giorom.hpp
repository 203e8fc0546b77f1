#pragma once
/// \file giorom.hpp
/// GIOROM, "Reduced-Order Neural Operators: Learning Lagrangian Dynamics on Highly Sparse
/// Graphs" (Viswanath et al.; v1 2024 and v3/TMLR 2026).
///
/// The time stepper follows the v1 model (GNN -> GNO -> FNO -> GNO -> GNN), in the particles'
/// own dimension (v1 projects 3-D positions to a 2-D latent grid; here a 2-D system has a 2-D
/// and a 3-D system a 3-D latent grid, so that a 3-D FNO carries the 3-D state):
///   h, e = encoders(inputs);  `mp_steps` Interaction Networks
///   z(q) = mean_{j: |x_j - q| <= r} k_in([(x_j - q)/r, h_j])        on a G^d grid q over the box
///   Z = FNO(z)                                                       (the project's FNO)
///   g_j = mean_{q: |x_j - q| <= r} k_out((x_j - q)/r) * Z(q);  h += P(g)
///   `mp_steps` Interaction Networks;  a = decoder(h)
/// Each system of a batch has its own latent grid (a batch of the FNO).
///
/// The point evaluator is the v3/TMLR "learned kernel" (B2), chosen over v1's LiCROM field
/// because it needs no per-frame latent optimisation: the displacements u_s = x_s - X_s of the
/// sparse points are splatted with multilinear weights onto a G^d grid together with a
/// density channel and GELU(W u_s), read back at the reference positions X_q of any query
/// points, divided by the density, and corrected by an MLP of (features, u, positional
/// encoding of X_q): x_q = X_q + u + MLP(...). The MLP's last layer starts at zero, so an
/// untrained evaluator is the normalised splat interpolation. Deterministic (no jittered
/// Monte-Carlo samples in training).
#include "physml/operators/fno.hpp"
#include "physml/operators/particle_model.hpp"

#include <torch/nn/pimpl.h>

namespace physml::operators {

struct GIOROMOptions {
  TORCH_ARG(ParticleInputOptions, inputs) = {};
  /// Latent width of nodes and edges, Interaction Network layers before and after the
  /// operator block, hidden layers of every MLP.
  TORCH_ARG(std::int64_t, latent) = 128;
  TORCH_ARG(std::int64_t, mp_steps) = 2;
  TORCH_ARG(std::int64_t, mlp_hidden) = 2;
  /// Points per axis of the latent grid over the domain box (v1: 16).
  TORCH_ARG(std::int64_t, latent_grid) = 16;
  /// Radius of the kernel integrals between particles and grid points (box units).
  TORCH_ARG(double, gno_radius) = 0.1;
  /// Channels of the latent field z.
  TORCH_ARG(std::int64_t, gno_width) = 32;
  /// The latent FNO: Fourier modes per axis, width, layers.
  TORCH_ARG(std::int64_t, fno_modes) = 6;
  TORCH_ARG(std::int64_t, fno_width) = 32;
  TORCH_ARG(std::int64_t, fno_layers) = 2;

public:
  ModelConfig to_config() const;
  static GIOROMOptions from_config(const ModelConfig& config);
  /// -giorom_* keys (the inputs' and the widths above); current values are the defaults.
  GIOROMOptions& set_from_options(const Options& options);
  void validate() const;
};

class GIOROMImpl : public ParticleModel {
public:
  explicit GIOROMImpl(GIOROMOptions options = {});
  std::string type() const override { return "giorom"; }
  ModelConfig config() const override { return options_.to_config(); }
  const GIOROMOptions& options() const { return options_; }
  /// Coordinates of the latent grid points [G^d, d], x fastest (the FNO's tensor order).
  at::Tensor latent_points() const;

protected:
  at::Tensor network(const GraphBatch& graph, const at::Tensor& positions) override;

private:
  GIOROMOptions options_;
  GraphMLP node_encoder_{nullptr}, edge_encoder_{nullptr}, decoder_{nullptr}, k_in_{nullptr}, k_out_{nullptr},
      projection_{nullptr};
  std::vector<InteractionNetwork> before_, after_;
  FNO fno_{nullptr};
};
TORCH_MODULE(GIOROM);

struct PointEvaluatorOptions {
  TORCH_ARG(std::int64_t, dim) = 2;
  /// Points per axis of the splatting grid over the box (v3 default 64; 32 here).
  TORCH_ARG(std::int64_t, grid) = 32;
  /// Width and hidden layers of the correction MLP (v3: 64-64-d, GELU).
  TORCH_ARG(std::int64_t, width) = 64;
  TORCH_ARG(std::int64_t, hidden) = 2;
  /// Frequencies 2^i pi, i < frequencies, of the positional encoding (v3: 3).
  TORCH_ARG(std::int64_t, frequencies) = 3;
  /// Domain box of the reference positions; empty = [0, 1] on every axis.
  TORCH_ARG(std::vector<double>, lower) = {};
  TORCH_ARG(std::vector<double>, upper) = {};

public:
  /// -giorom_evaluator_* keys under the prefix of `options` (dim, grid, width, hidden,
  /// frequencies, lower, upper); current values are the defaults.
  PointEvaluatorOptions& set_from_options(const Options& options);
  ModelConfig to_config() const;
  static PointEvaluatorOptions from_config(const ModelConfig& config);
  void validate() const;
};

/// The discretisation-agnostic evaluator: positions of any query points from the motion of
/// the sparse points.
class PointEvaluatorImpl : public Model {
public:
  explicit PointEvaluatorImpl(PointEvaluatorOptions options = {});
  /// reference [S, d] and current [S, d] positions of the sparse points, reference positions
  /// of the queries [Q, d] (inside the box, else physml::Error) -> current query positions [Q, d].
  at::Tensor evaluate(const at::Tensor& sparse_reference, const at::Tensor& sparse_current, const at::Tensor& query_reference);
  /// Throws: the evaluator takes point sets (evaluate()).
  at::Tensor forward(const at::Tensor& x) override;
  std::string type() const override { return "giorom_evaluator"; }
  ModelConfig config() const override { return options_.to_config(); }
  const PointEvaluatorOptions& options() const { return options_; }

private:
  PointEvaluatorOptions options_;
  at::Tensor feature_w_, feature_b_;
  GraphMLP correction_{nullptr};
};
TORCH_MODULE(PointEvaluator);

}  // namespace physml::operators
