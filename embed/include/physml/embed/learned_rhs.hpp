#pragma once
/// \file learned_rhs.hpp
/// A "physics + network" right-hand side for PETSc TS, du/dt = F(t, u) = P(t, u) + N(u), with
/// its Jacobians by autograd, so that a PETSc program integrates (and trains, PNODE-style) a
/// neural term in its own explicit or implicit integrator:
///   * TSSetRHSFunction: F(t, u), the Vec viewed as a tensor without a copy;
///   * TSSetRHSJacobian: a MatShell J = dF/du at the last (t, u) PETSc asked for, whose
///     MatMult is a Jacobian-vector product (double backward) and MatMultTranspose a
///     vector-Jacobian product (one backward): implicit methods and TSAdjoint;
///   * TSSetRHSJacobianP: a MatShell dF/dp over the network's parameters flattened in
///     Model::parameters() order, MatMultTranspose = the VJP w.r.t. the parameters, so
///     TSAdjointSolve returns dJ/dp in the mu cost gradients.
/// P is written with torch operations (autograd runs through it); it may be empty.
/// Sequential (PETSC_COMM_SELF) vectors; the model must be float64 (PetscScalar).

#include "physml/embed/model.hpp"

#include <petscts.h>

#include <functional>
#include <memory>
#include <vector>

namespace physml::embed {

/// F(t, u) = physics(t, u) + model(u.view(shape)).view(-1) as a TS right-hand side.
class LearnedRHS {
public:
  /// The physics term P(t, u) on the state tensor u [n] (float64); return [n].
  using Physics = std::function<at::Tensor(double t, const at::Tensor& u)>;
  /// `shape`: how the network sees the state (e.g. {1, n}); empty = [n]. `model` must outlive this.
  LearnedRHS(Model& model, PetscInt n, std::vector<std::int64_t> shape = {}, Physics physics = nullptr);
  ~LearnedRHS();
  LearnedRHS(const LearnedRHS&) = delete;
  LearnedRHS& operator=(const LearnedRHS&) = delete;

  /// Install F, dF/du and dF/dp on `ts` (TSSetRHSFunction, TSSetRHSJacobian, TSSetRHSJacobianP).
  void attach(TS ts);
  /// F(t, u) as a tensor [n] (with autograd when u or the parameters require it).
  at::Tensor rhs(double t, const at::Tensor& u) const;
  /// The number of network parameters (columns of dF/dp).
  PetscInt num_parameters() const;
  /// A new sequential Vec of num_parameters() entries (for TSSetCostGradients' mu), zeroed.
  Vec create_parameter_vec() const;

  struct Impl;

private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace physml::embed
