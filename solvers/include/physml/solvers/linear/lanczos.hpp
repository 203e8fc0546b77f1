#pragma once
/// \file lanczos.hpp
/// Lanczos with full reorthogonalization on a PETSc Mat, Ritz pairs, and the DCDM
/// training right-hand sides built from them (Kaneda et al. 2023, training data; src/datasetcreate.py of their code):
///   b = Σ_j c_j y_j / ‖·‖, c_j = w·N(0,1) for the lowest `low_fraction` of the Ritz
///   vectors y_j (w = 9 in the paper), c_j = N(0,1) for the rest.

#include <ATen/core/Tensor.h>
#include <Eigen/Core>
#include <petscmat.h>

#include <cstdint>

namespace physml::solvers {

/// m steps of symmetric Lanczos: A V = V T + β_m v_{m+1} e_mᵀ with V [n, m] orthonormal
/// and T tridiagonal (diagonal alpha [m], off-diagonal beta [m-1]). beta_last is β_m.
///
/// Distributed: on a Mat of several ranks each rank holds its own rows of V (the Mat's
/// ownership range, rows row_begin .. row_begin + V.rows() - 1 of the global vectors); alpha,
/// beta and beta_last are the same on every rank (the dot products are reduced over `comm`).
/// The start vector of lanczos_start_vector does not depend on the rank count, so the Ritz
/// values and the rows of the Ritz vectors equal the one-rank run's to rounding (tested).
struct LanczosResult {
  Eigen::MatrixXd V;
  MPI_Comm comm = MPI_COMM_SELF;
  PetscInt row_begin = 0;
  Eigen::VectorXd alpha, beta;
  double beta_last = 0.0;
  /// Steps actually taken (< requested if an invariant subspace was found).
  int steps() const { return static_cast<int>(alpha.size()); }
};

/// Run up to m Lanczos steps from v0 (normalized internally) with full
/// reorthogonalization (two classical Gram–Schmidt passes against all previous vectors).
/// Stops early when β_j < 1e-10·max|α| (invariant subspace). Any Mat layout; v0 has the Mat's
/// row layout (MatCreateVecs). Collective over the Mat's communicator.
LanczosResult lanczos(Mat A, Vec v0, int m);

/// The paper's start vector v0 = A ξ, ξ ~ N(0, I) from `seed`, so v0 ∈ range(A); ξ_i is the
/// i-th draw of one stream on every rank count.
Vec lanczos_start_vector(Mat A, std::uint64_t seed);

/// Ritz pairs of a Lanczos run, ascending: values [k], vectors [n, k] (= V S), with pairs
/// whose Ritz value is below `drop_below` (null space) removed. residual_bounds[j] =
/// β_m |S(m-1, j)| = ‖A y_j − θ_j y_j‖ in exact arithmetic.
struct RitzPairs {
  Eigen::VectorXd values;
  Eigen::MatrixXd vectors;  ///< this rank's rows, as LanczosResult::V
  MPI_Comm comm = MPI_COMM_SELF;
  PetscInt row_begin = 0;
  Eigen::VectorXd residual_bounds;
};
RitzPairs ritz_pairs(const LanczosResult& lanczos, double drop_below = 1e-8);

/// `count` training right-hand sides [count, n] (float32 unless `dtype` says otherwise),
/// each of unit 2-norm: b = Σ c_j y_j with c_j = low_weight·N(0,1) for the lowest
/// ceil(low_fraction·k) Ritz vectors and N(0,1) for the others. Deterministic in `seed`.
/// Distributed Ritz vectors give this rank's columns [count, local rows] of the same vectors
/// (the norms are reduced over ritz.comm; every rank draws the same coefficients).
at::Tensor ritz_training_vectors(const RitzPairs& ritz, int64_t count, std::uint64_t seed, double low_weight = 9.0,
                                 double low_fraction = 0.55, c10::ScalarType dtype = c10::kFloat);

}  // namespace physml::solvers
