#pragma once
/// \file nclaw.hpp
/// Neural constitutive laws of NCLaw (Ma et al., "Learning Neural Constitutive Laws From
/// Motion Observations for Generalizable PDE Dynamics", ICML 2023,
/// the elastic and plastic networks of the official code): an elastic network F -> Kirchhoff stress tau and a plastic network
/// F_trial -> F_new, both rotation-equivariant by construction and exact at rest, batched
/// over particles and differentiable by autograd (they are trained through the MPM simulator).
///
/// Both read the same 13 rotation-invariant features of F [N, 3, 3] (per particle)
///   x = [ sigma - 1 (3),  vec(F^T F - I) (9, row-major),  det F - 1 (1) ]   [N, 13]
/// (sigma from the signed SVD F = U diag(sigma) V^T, physics/constitutive.hpp), feed them to an
/// MLP 13 -> 64 -> 64 -> 9 with GELU and no biases (5,504 weights), and build
///   elastic:  P = R sym(X),  tau = P F^T                     (X = MLP(x) as 3x3, R = U V^T)
///   plastic:  F_new = F + alpha R sym(X),  alpha = 1e-3.
/// F -> QF (Q a rotation) leaves x unchanged and maps R -> QR, so P(QF) = Q P(F),
/// tau(QF) = Q tau(F) Q^T, F_new(QF) = Q F_new(F). At F = I every feature is 0 and a bias-free
/// MLP with GELU(0) = 0 returns 0: P(I) = 0 and F_new(I) = I exactly, for any weights.
///
/// The SVD's backward is PhysML's own (batch_signed_svd below): finite at repeated singular
/// values (F = I, the rest state of every particle at t = 0), where LibTorch's linalg_svd
/// backward divides by zero. The features with R, and R sym(X) (F^T), are each one autograd
/// node with a hand-written adjoint (one pass per particle), and float64 GELU runs through
/// glibc's vector erfc/exp (docs/nclaw.md "Speed"); first derivatives only (a backward with
/// create_graph throws physml::Error). CPU tensors, float32 (default) or float64.

#include "physml/operators/registry.hpp"

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <tuple>
#include <vector>

namespace physml {
class Options;
}

namespace physml::operators {

/// Batched signed SVD (physics::signed_svd per particle): F [N, 3, 3] -> (U [N, 3, 3],
/// sigma [N, 3], V [N, 3, 3]) with F = U diag(sigma) V^T, det U = det V = +1, sign(det F) on
/// sigma[:, 2]. Differentiable by autograd (first derivatives; physics::signed_svd_backward,
/// exact for losses through R = U V^T and symmetric functions of sigma, also at repeated
/// singular values); asking for second derivatives (create_graph) throws physml::Error.
/// CPU, float32 or float64; throws physml::Error on other shapes, dtypes, devices or
/// non-finite entries (naming the first bad particle).
std::tuple<at::Tensor, at::Tensor, at::Tensor> batch_signed_svd(const at::Tensor& F);

/// The NCLaw inputs of F [N, 3, 3]: features [N, 13] (see file comment) and the rotation
/// R = U V^T [N, 3, 3] of the signed SVD, both differentiable.
struct NCLawFeatures {
  /// [sigma - 1, vec(F^T F - I), det F - 1], [N, 13].
  at::Tensor features;
  /// R = U V^T, [N, 3, 3].
  at::Tensor rotation;
};
/// Compute the NCLaw features of F [N, 3, 3].
NCLawFeatures nclaw_features(const at::Tensor& F);

/// Options of NCLawElastic (NCLaw's InvariantFullMetaElasticity).
struct NCLawElasticOptions {
  /// Widths of the hidden layers (NCLaw: 64, 64). Input 13, output 9, GELU, no biases.
  TORCH_ARG(std::vector<std::int64_t>, hidden) = {64, 64};
  /// Stress unit of the network's output, Pa: P = stress_scale R sym(MLP(features)). NCLaw
  /// learns the stress in Pa directly (1, with Adam at lr 1.0); a scale near the material's
  /// modulus keeps the weights O(1) and allows ordinary learning rates. Equivariance and
  /// P(I) = 0 hold for any scale.
  TORCH_ARG(double, stress_scale) = 1.0;

public:
  /// {"hidden": "64,64", "stress_scale": "1"} (a config without stress_scale reads as 1).
  ModelConfig to_config() const;
  /// Parse to_config() output; unknown keys or bad values throw physml::Error.
  static NCLawElasticOptions from_config(const ModelConfig& config);
  /// Read -hidden, -stress_scale under the prefix of `options` (physml train: -nclaw_elastic_*).
  NCLawElasticOptions& set_from_options(const Options& options);
};

/// NCLaw's elastic law: F [N, 3, 3] -> Kirchhoff stress tau = P F^T [N, 3, 3] (forward),
/// with P = R sym(MLP(features)) the first Piola-Kirchhoff stress (first_piola). The stress
/// scale is whatever the network learns (NCLaw trains it in the simulator's units, Pa).
/// Registered as model type "nclaw_elastic".
class NCLawElasticImpl : public Model {
public:
  explicit NCLawElasticImpl(NCLawElasticOptions options = {});
  /// F [N, 3, 3] -> tau [N, 3, 3].
  at::Tensor forward(const at::Tensor& F) override;
  /// F [N, 3, 3] -> P [N, 3, 3].
  at::Tensor first_piola(const at::Tensor& F);
  std::string type() const override { return "nclaw_elastic"; }
  ModelConfig config() const override { return options_.to_config(); }
  const NCLawElasticOptions& options() const { return options_; }

private:
  NCLawElasticOptions options_;
  std::vector<at::Tensor> weights_;
};
TORCH_MODULE(NCLawElastic);

/// Options of NCLawPlastic (NCLaw's InvariantFullMetaPlasticity).
struct NCLawPlasticOptions {
  /// Widths of the hidden layers (NCLaw: 64, 64). Input 13, output 9, GELU, no biases.
  TORCH_ARG(std::vector<std::int64_t>, hidden) = {64, 64};
  /// Scale alpha of the correction F_new = F + alpha R sym(X) (NCLaw: 1e-3), dimensionless.
  TORCH_ARG(double, alpha) = 1e-3;

public:
  /// {"hidden": "64,64", "alpha": "0.001"}.
  ModelConfig to_config() const;
  /// Parse to_config() output; unknown keys or bad values throw physml::Error.
  static NCLawPlasticOptions from_config(const ModelConfig& config);
};

/// NCLaw's plastic law (a learned return mapping): F_trial [N, 3, 3] (after G2P) ->
/// F_new = F_trial + alpha R sym(MLP(features(F_trial))) [N, 3, 3]. Registered as
/// "nclaw_plastic".
class NCLawPlasticImpl : public Model {
public:
  explicit NCLawPlasticImpl(NCLawPlasticOptions options = {});
  /// F_trial [N, 3, 3] -> F_new [N, 3, 3].
  at::Tensor forward(const at::Tensor& F_trial) override;
  std::string type() const override { return "nclaw_plastic"; }
  ModelConfig config() const override { return options_.to_config(); }
  const NCLawPlasticOptions& options() const { return options_; }

private:
  NCLawPlasticOptions options_;
  std::vector<at::Tensor> weights_;
};
TORCH_MODULE(NCLawPlastic);

/// Options of NCLawUnconstrained, the "plain" baseline of NCLaw's ablations: an MLP on
/// vec(F - I) with biases and no rotation structure.
struct NCLawUnconstrainedOptions {
  /// Widths of the hidden layers. Input 9, output 9, GELU.
  TORCH_ARG(std::vector<std::int64_t>, hidden) = {64, 64};
  /// Biases in every linear layer (initialized to 0, as NCLaw initializes biases).
  TORCH_ARG(bool, bias) = true;
  /// false: elastic law, output P, forward returns tau = P F^T;
  /// true: plastic law, forward returns F + alpha X.
  TORCH_ARG(bool, plastic) = false;
  /// Scale of the plastic correction (plastic only), dimensionless.
  TORCH_ARG(double, alpha) = 1e-3;
  /// Stress unit of the elastic output, Pa (as NCLawElasticOptions::stress_scale).
  TORCH_ARG(double, stress_scale) = 1.0;

public:
  /// {"hidden", "bias", "plastic", "alpha", "stress_scale"}.
  ModelConfig to_config() const;
  /// Parse to_config() output; unknown keys or bad values throw physml::Error.
  static NCLawUnconstrainedOptions from_config(const ModelConfig& config);
  /// Read -hidden, -bias, -stress_scale under the prefix of `options` (-nclaw_unconstrained_*; an elastic law).
  NCLawUnconstrainedOptions& set_from_options(const Options& options);
};

/// Unconstrained baseline: F [N, 3, 3] -> tau = X F^T (elastic) or F + alpha X (plastic),
/// X = MLP(vec(F - I)) as 3x3. Neither equivariant nor stress-free at rest once trained.
/// Registered as "nclaw_unconstrained".
class NCLawUnconstrainedImpl : public Model {
public:
  explicit NCLawUnconstrainedImpl(NCLawUnconstrainedOptions options = {});
  at::Tensor forward(const at::Tensor& F) override;
  std::string type() const override { return "nclaw_unconstrained"; }
  ModelConfig config() const override { return options_.to_config(); }
  const NCLawUnconstrainedOptions& options() const { return options_; }

private:
  NCLawUnconstrainedOptions options_;
  std::vector<at::Tensor> weights_, biases_;
};
TORCH_MODULE(NCLawUnconstrained);

/// Options of NCLaw, the model NCLaw trains: an elastic and (optionally) a plastic network as
/// one model, so that one checkpoint holds the whole learned material.
struct NCLawOptions {
  /// "invariant" (NCLaw's equivariant networks: nclaw_elastic + nclaw_plastic) or
  /// "unconstrained" (the baseline: nclaw_unconstrained for both, with biases).
  TORCH_ARG(std::string, law) = "invariant";
  /// Hidden widths of both networks (NCLaw: 64, 64).
  TORCH_ARG(std::vector<std::int64_t>, hidden) = {64, 64};
  /// Stress unit of the elastic output, Pa (NCLaw: 1).
  TORCH_ARG(double, stress_scale) = 1.0;
  /// Learn a plastic network (a return mapping) too; false: elastic only (jelly).
  TORCH_ARG(bool, plastic) = true;
  /// Scale of the plastic correction (NCLaw: 1e-3).
  TORCH_ARG(double, alpha) = 1e-3;
  /// Learning rate of the plastic network as a multiple of the elastic network's (NCLaw: 0.1
  /// against 1.0): the optimizer's second parameter group.
  TORCH_ARG(double, plastic_lr_scale) = 0.1;

public:
  ModelConfig to_config() const;
  /// Parse to_config() output; unknown keys or bad values throw physml::Error.
  static NCLawOptions from_config(const ModelConfig& config);
  /// Read -law, -hidden, -stress_scale, -plastic, -alpha, -plastic_lr_scale under the prefix of
  /// `options` (physml train: -nclaw_*).
  NCLawOptions& set_from_options(const Options& options);
};

/// NCLaw's learned material as one model (type "nclaw"): forward(F) is the elastic law
/// (tau [N, 3, 3]); plastic() the return mapping F_trial -> F (null without plasticity).
/// Parameter groups: "elastic" (lr scale 1) and "plastic" (plastic_lr_scale).
class NCLawImpl : public Model {
public:
  explicit NCLawImpl(NCLawOptions options = {});
  at::Tensor forward(const at::Tensor& F) override;
  std::string type() const override { return "nclaw"; }
  ModelConfig config() const override { return options_.to_config(); }
  std::vector<ParameterGroup> parameter_groups() override;
  const NCLawOptions& options() const { return options_; }
  std::shared_ptr<Model> elastic() const { return elastic_; }
  /// The plastic network, or null (options().plastic() false).
  std::shared_ptr<Model> plastic() const { return plastic_; }

private:
  NCLawOptions options_;
  std::shared_ptr<Model> elastic_, plastic_;
};
TORCH_MODULE(NCLaw);

}  // namespace physml::operators
