#pragma once
/// \file losses.hpp
/// Training losses and error metrics for fields [batch, channels, spatial...].
/// All relative losses are per-sample ratios averaged over the batch (the reference
/// codes sum over the batch and divide by the batch size).

#include <ATen/core/Tensor.h>

#include <string>

namespace physml::train {

/// Per-sample relative Lp error ||pred - target||_p / ||target||_p over all channels and
/// grid points: [batch]. (FNO/MgNO LpLoss.rel.)
at::Tensor relative_lp(const at::Tensor& pred, const at::Tensor& target, double p = 2.0);

/// Batch mean of relative_lp.
at::Tensor relative_lp_loss(const at::Tensor& pred, const at::Tensor& target, double p = 2.0);

/// Per-sample relative H1 error with finite-difference gradients on the unit box: [batch].
///   sqrt(sum |e|^2 + |grad e|^2) / sqrt(sum |y|^2 + |grad y|^2),  e = pred - target.
/// Periodic axes (spacing 1/n) use central differences with wrap-around; non-periodic axes
/// (spacing 1/(n-1)) use central differences inside and one-sided first differences at the ends.
at::Tensor relative_h1(const at::Tensor& pred, const at::Tensor& target, bool periodic = false);

/// Batch mean of relative_h1.
at::Tensor relative_h1_loss(const at::Tensor& pred, const at::Tensor& target, bool periodic = false);

/// Per-sample spectral relative H1 error (MgNO's HsLoss, reference §1.7): orthonormal FFT over
/// the spatial axes, both spectra weighted by sqrt(1 + |k|^2) with integer wavenumbers k; with
/// `truncation`, wavenumber components |k_a| >= 20 are set to 0 (L2 weight only). [batch].
at::Tensor spectral_h1(const at::Tensor& pred, const at::Tensor& target, bool truncation = true);

/// Batch mean of spectral_h1.
at::Tensor spectral_h1_loss(const at::Tensor& pred, const at::Tensor& target, bool truncation = true);

/// Mean squared error over all entries.
at::Tensor mean_squared_error(const at::Tensor& pred, const at::Tensor& target);

/// Loss by name: "l2" (relative L2), "h1" (relative H1, finite differences), "h1_spectral"
/// (HsLoss), "mse". `periodic` is used by "h1". Unknown names throw physml::Error.
at::Tensor loss_by_name(const std::string& name, const at::Tensor& pred, const at::Tensor& target,
                        bool periodic = false);

}  // namespace physml::train
