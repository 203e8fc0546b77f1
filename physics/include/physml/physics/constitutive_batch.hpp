#pragma once
/// \file constitutive_batch.hpp
/// Batched forms of the analytic laws of constitutive.hpp for torch-based simulators and
/// data generation: one call per step on all particles' F [N, 3, 3] instead of a loop. They
/// evaluate the per-particle Eigen functions (float32 or float64, CPU, parallel over
/// particles) and are not differentiable by autograd (the results carry no graph); the
/// NCLaw networks and their SVD (operators/nclaw.hpp) are the differentiable part.

#include "physml/physics/constitutive.hpp"

#include <ATen/core/Tensor.h>

namespace physml::physics {

/// Kirchhoff stress tau(F) [Pa] of `material`'s elastic law for F [N, 3, 3] -> [N, 3, 3].
/// Throws physml::Error on a wrong shape, dtype or device, and where the law does
/// (e.g. J <= 0 for Hencky).
at::Tensor batch_kirchhoff(const Material& material, const at::Tensor& F);

/// Return mapping of `material`'s plastic law, F_trial [N, 3, 3] -> F_projected [N, 3, 3].
at::Tensor batch_project(const Material& material, const at::Tensor& F_trial);

}  // namespace physml::physics
