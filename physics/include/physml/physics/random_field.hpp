#pragma once
/// \file random_field.hpp
/// Gaussian random fields g ~ N(0, C), C = σ² (−Δ + τ² I)^(−α), on uniform 1D, 2D and 3D
/// grids, sampled exactly (Karhunen–Loève expansion truncated to the grid's modes) with
/// FFTW; and the thresholding that turns them into piecewise-constant coefficients.
/// This is the input distribution of the FNO/MgNO Darcy, Burgers and Navier–Stokes
/// benchmarks (Kovachki, Li et al., "Neural Operator", JMLR 2023, §6.2–6.4).

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace physml::physics {

/// Boundary condition of the Laplacian that defines the covariance.
enum class FieldBoundary {
  /// Periodic box: eigenfunctions e^{2πi k·x/L}/√|D|, eigenvalues of −Δ Σ (2π k_a/L_a)².
  /// Points at x_j = j·L/n (j = 0..n−1). Sampled by FFTW r2c/c2r.
  periodic,
  /// Zero-Neumann box: eigenfunctions Π_a c_k cos(π k_a x_a/L_a) (c_0 = 1/√L, c_k = √(2/L)),
  /// eigenvalues Σ (π k_a/L_a)². Points at cell centres x_j = (j+½)·L/n (MATLAB idct2,
  /// FNO GRF.m). Sampled by FFTW REDFT01 (DCT-III).
  neumann,
};

/// Settings of a GaussianRandomField.
struct GaussianRandomFieldOptions {
  /// Grid shape [n], [ny, nx] or [nz, ny, nx] (x fastest).
  std::vector<int64_t> shape;
  /// Box lengths in the same axis order; empty = all 1.
  std::vector<double> lengths;
  /// Smoothness exponent α > d/2 for a field with finite pointwise variance.
  double alpha = 2.0;
  /// Inverse length scale τ > 0.
  double tau = 3.0;
  /// Amplitude σ; default τ^{(2α−d)/2} (FNO's GaussianRF and GRF.m convention).
  std::optional<double> sigma;
  FieldBoundary boundary = FieldBoundary::neumann;
  /// Drop the constant mode k = 0 (as GRF.m and the NS generator do): the field then has
  /// zero spatial mean in every draw.
  bool zero_mean = true;
};

/// Sampler of N(0, σ²(−Δ + τ²I)^(−α)) on a grid. Draws are a deterministic function of
/// the seed alone (FFTW_ESTIMATE plans, std::mt19937_64), so sample(seed, i) is the same
/// bit for bit whichever process, rank or order draws it. Not thread-safe (one object
/// per thread): it reuses its FFTW buffers.
class GaussianRandomField {
public:
  explicit GaussianRandomField(GaussianRandomFieldOptions options);
  ~GaussianRandomField();
  GaussianRandomField(GaussianRandomField&&) noexcept;
  GaussianRandomField& operator=(GaussianRandomField&&) noexcept;

  const GaussianRandomFieldOptions& options() const { return options_; }
  int dim() const { return static_cast<int>(options_.shape.size()); }
  double sigma() const;

  /// One draw from the generator seeded with `seed`: float64 CPU tensor of shape().
  at::Tensor sample(std::uint64_t seed);
  /// Draw number `index` of a data set with master seed `seed` (seed derive_seed(seed, index)).
  at::Tensor sample(std::uint64_t seed, std::uint64_t index);
  /// Draws first..first+count−1: [count, shape...].
  at::Tensor sample_batch(std::uint64_t seed, std::uint64_t first, int64_t count);

  /// Covariance eigenvalue λ_k = σ²(μ_k + τ²)^(−α) of every mode k on the grid (0 for k = 0
  /// if zero_mean), float64 tensor of shape(): index k_a along each axis (periodic:
  /// DFT order, i.e. k_a ≥ n_a/2 stands for k_a − n_a).
  at::Tensor eigenvalues() const;
  /// Coordinate of point j along tensor axis `axis`.
  double coordinate(int axis, int64_t j) const;

private:
  struct Plans;
  GaussianRandomFieldOptions options_;
  std::unique_ptr<Plans> plans_;
};

/// Piecewise-constant coefficient T(g) = high where g ≥ level, low elsewhere (FNO Darcy:
/// high 12, low 3, level 0). Same shape and dtype as g.
at::Tensor threshold(const at::Tensor& g, double high, double low, double level = 0.0);

}  // namespace physml::physics
