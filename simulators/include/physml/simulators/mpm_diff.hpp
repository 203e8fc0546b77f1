#pragma once
/// \file mpm_diff.hpp
/// Differentiable MLS-MPM: the substep of mpm.hpp as a LibTorch autograd graph, so that
/// gradients of a loss on particle trajectories flow to the initial state, to material
/// parameters and to the weights of a learned constitutive law (NCLaw).
///
/// A substep is three pieces:
///   tau      = law.elastic(F)                      (LibTorch, batched over all particles)
///   x', v', C', F_trial = transfer(x, v, C, F, tau) (hand-written P2G / grid / G2P kernels and
///                                                    their hand-written adjoint, OpenMP)
///   F'       = law.plastic(F_trial)                (LibTorch; identity if none)
/// The transfer stores only its inputs for the backward pass and recomputes the grid there,
/// so a rollout of T substeps keeps T particle states (and the law's activations) in memory.
/// In 2-D (plane strain) the law sees [[F, 0], [0, F_zz]]; F_zz changes only through the
/// plastic law.
///
///   DifferentiableMPM mpm(options, sim.particles());      // volume, mass from a scene
///   auto s = DifferentiableMPM::state_of(sim.particles());
///   s.v.requires_grad_(true);
///   for (int k = 0; k < 100; ++k) s = mpm.substep(s, law);
///   (s.x - target).pow(2).mean().backward();              // s0.v.grad(), parameters' grads

#include "physml/mesh/particles.hpp"
#include "physml/simulators/mpm.hpp"

#include <ATen/core/Tensor.h>
#include <torch/arg.h>

#include <functional>
#include <memory>
#include <vector>

namespace physml::operators {
class Model;
}

namespace physml::simulators {

/// Particle state of a differentiable rollout: x, v [N, d], C, F [N, d, d], F_zz [N] (2-D only;
/// undefined in 3-D). Any floating dtype the kernels support (float32, float64), one device.
struct MPMState {
  at::Tensor x, v, C, F, F_zz;
};

/// A constitutive law as differentiable functions of the 3 x 3 deformation gradient, batched:
/// elastic F [N, 3, 3] -> Kirchhoff stress tau [N, 3, 3]; plastic (may be empty) F_trial
/// [N, 3, 3] -> F [N, 3, 3].
struct TorchLaw {
  std::function<at::Tensor(const at::Tensor&)> elastic;
  std::function<at::Tensor(const at::Tensor&)> plastic;
};

/// Compressible Neo-Hookean law tau = mu (F F^T - I) + lambda log(J) I with the moduli as
/// tensors (scalars; requires_grad for material-parameter gradients). No plasticity.
TorchLaw neo_hookean_law(at::Tensor mu, at::Tensor lambda);

/// The NCLaw networks (operators/nclaw.hpp: nclaw_elastic, nclaw_plastic or
/// nclaw_unconstrained models) as a law; `plastic` may be null (elastic only).
TorchLaw nclaw_law(std::shared_ptr<operators::Model> elastic, std::shared_ptr<operators::Model> plastic = nullptr);

/// The law of a trained model: "nclaw" (operators::NCLawImpl: its elastic and, if it has one,
/// plastic network), or an elastic-only "nclaw_elastic" / "nclaw_unconstrained" (not plastic).
/// Other types throw physml::Error naming the expected ones.
TorchLaw learned_law(std::shared_ptr<operators::Model> model);

/// Several materials in one scene: particle i goes through laws[material[i]] (material: [N]
/// integer indices, 0 .. laws.size() - 1, e.g. the particle set's "material"), and the
/// stresses (and plastic projections) are put back in particle order, differentiably. A law
/// without plasticity leaves its particles' F unchanged; the result has no plastic part if
/// none of the laws has one. The particles of each material are taken from `material` once,
/// here; the law then expects F of exactly those N particles in that order. Throws
/// physml::Error for an empty list, a law without an elastic part, a material index outside
/// the list, or (when called) F of another particle count.
TorchLaw per_material_law(std::vector<TorchLaw> laws, const at::Tensor& material);

/// Options of DifferentiableMPM::rollout.
struct MPMRolloutOptions {
  /// Substeps per frame (a recorded position).
  TORCH_ARG(std::int64_t, substeps_per_frame) = 1;
  /// Memory of the backward pass. 0: every substep's state and graph are kept (LibTorch's
  /// autograd; fastest, memory grows with the rollout). K >= 1: binomial checkpointing
  /// (core/revolve.hpp): at most K stored particle states, the initial one included, plus one
  /// working state and one substep's graph are alive at a time, and the backward pass
  /// recomputes the others; the
  /// gradients equal those of K = 0 to rounding.
  TORCH_ARG(std::int64_t, checkpoints) = 0;
};

/// The result of DifferentiableMPM::rollout.
struct MPMRollout {
  at::Tensor positions;  ///< [frames, N, d]: x after each frame (frames 1 .. frames)
  MPMState last;         ///< the state after the last substep
  /// The most particle states stored at the same time by the backward pass (checkpoints >= 1;
  /// filled by backward(), 0 until then and for checkpoints = 0).
  std::shared_ptr<std::int64_t> stored_states_max = std::make_shared<std::int64_t>(0);
};

/// The differentiable simulator for one scene's grid and particles (a single shared grid for
/// any number of materials: give a law that maps each particle's F by its material).
class DifferentiableMPM {
public:
  /// `particles` supplies the constant "volume" and "mass" [N] (e.g. an MPMSimulator's after
  /// add_body). Throws for invalid options (as MPMSimulator does).
  DifferentiableMPM(const MPMOptions& options, const mesh::ParticleSet& particles);
  ~DifferentiableMPM();
  DifferentiableMPM(const DifferentiableMPM&) = delete;
  DifferentiableMPM& operator=(const DifferentiableMPM&) = delete;

  /// One substep of size dt (see the file comment). Throws physml::Error for wrong shapes
  /// and an inverted element (unless allow_inverted), physml::NonFiniteError for a
  /// non-finite stress or state (naming the particle).
  MPMState substep(const MPMState& state, const TorchLaw& law) const;
  /// A rollout of `frames` frames of options.substeps_per_frame() substeps from `initial`,
  /// differentiable with respect to the initial state and to `parameters`.
  /// With options.checkpoints() = 0 this is the loop of substep() calls, and gradients reach
  /// whatever the law depends on. With checkpoints >= 1 the forward pass runs without a graph
  /// and the backward pass replays substeps from stored states (binomial schedule); gradients
  /// then reach the initial state and exactly the tensors listed in `parameters` (the law's
  /// network weights, material moduli: every tensor the law reads that needs a gradient must be
  /// listed; others get none; a listed parameter changed in place before the backward pass is
  /// an error there), and the law must be a deterministic function of F. Inverted and
  /// clamped particles are counted once, in the forward pass. The simulator and what the law
  /// captures must outlive the backward pass (the graph refers to them). Throws physml::Error for frames
  /// < 1, substeps_per_frame < 1 or checkpoints < 0, and what substep() throws.
  MPMRollout rollout(const MPMState& initial, const TorchLaw& law, std::int64_t frames,
                     const MPMRolloutOptions& options = {}, const std::vector<at::Tensor>& parameters = {}) const;
  /// The state of a particle set (copies, no gradient).
  static MPMState state_of(const mesh::ParticleSet& particles);
  const MPMOptions& options() const;
  /// Particle-substeps that substep() clamped back into the domain (-mpm_clamp_cells) so far,
  /// as MPMSimulator::clamped_count() counts them for the analytic laws.
  std::int64_t clamped_count() const;
  /// Inverted elements (J = det F <= 0 after a substep). By default substep() throws, naming
  /// the particle. With allow_inverted(true) it carries on and counts them: NCLaw's networks
  /// are defined for J <= 0 (signed SVD: sigma_3 < 0, R a proper rotation), and the official
  /// training lets an early, still weak law invert elements transiently. A non-finite state
  /// or stress is an error either way.
  void allow_inverted(bool allow);
  bool inverted_allowed() const;
  /// Particle-substeps with J <= 0 that substep() let through so far.
  std::int64_t inverted_count() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace physml::simulators
