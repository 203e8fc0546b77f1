#include "physml/solvers/linear/lanczos.hpp"

#include "physml/core/error.hpp"

#include <Eigen/Eigenvalues>
#include <torch/torch.h>

#include <cmath>
#include <random>

namespace physml::solvers {

namespace {

// Sums over the ranks of `comm` in place (nothing on one rank, so the serial numbers stay bit
// for bit those of the sequential code).
void allreduce_sum(MPI_Comm comm, double* values, int count) {
  int size = 1;
  MPI_Comm_size(comm, &size);
  if (size == 1) return;
  PHYSML_CHECK(MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_DOUBLE, MPI_SUM, comm) == MPI_SUCCESS,
               "lanczos: MPI_Allreduce failed");
}

}  // namespace

LanczosResult lanczos(Mat A, Vec v0, int m) {
  PetscInt n, nc, rstart, rend;
  PHYSML_PETSC(MatGetSize(A, &n, &nc));
  PHYSML_CHECK(n == nc, "lanczos: the matrix is ", n, " x ", nc, "; expected a square symmetric matrix");
  PHYSML_CHECK(m >= 1, "lanczos: the number of steps must be >= 1, got ", m);
  PHYSML_PETSC(MatGetOwnershipRange(A, &rstart, &rend));
  const PetscInt nl = rend - rstart;
  {
    PetscInt n0, l0;
    PHYSML_PETSC(VecGetSize(v0, &n0));
    PHYSML_PETSC(VecGetLocalSize(v0, &l0));
    PHYSML_CHECK(n0 == n && l0 == nl, "lanczos: the start vector has ", n0, " entries (", l0, " on this rank) but the ",
                 "matrix has ", n, " rows (", nl, " on this rank); expected the matrix's row layout (MatCreateVecs)");
  }
  m = static_cast<int>(std::min<PetscInt>(m, n));
  LanczosResult out;
  out.comm = PetscObjectComm((PetscObject)A);
  out.row_begin = rstart;
  out.V.resize(nl, m);
  std::vector<double> alpha, beta;
  Vec x, y;
  PHYSML_PETSC(MatCreateVecs(A, &x, &y));
  {
    const PetscScalar* a;
    PHYSML_PETSC(VecGetArrayRead(v0, &a));
    out.V.col(0) = Eigen::Map<const Eigen::VectorXd>(a, nl);
    PHYSML_PETSC(VecRestoreArrayRead(v0, &a));
  }
  double n0 = out.V.col(0).squaredNorm();
  allreduce_sum(out.comm, &n0, 1);
  n0 = std::sqrt(n0);
  PHYSML_CHECK(n0 > 0 && std::isfinite(n0), "lanczos: the start vector has norm ", n0, "; expected finite and nonzero");
  out.V.col(0) /= n0;
  Eigen::VectorXd w(nl);
  double amax = 0;
  for (int j = 0; j < m; ++j) {
    PHYSML_PETSC(VecPlaceArray(x, out.V.col(j).data()));
    PHYSML_PETSC(MatMult(A, x, y));
    PHYSML_PETSC(VecResetArray(x));
    {
      const PetscScalar* a;
      PHYSML_PETSC(VecGetArrayRead(y, &a));
      w = Eigen::Map<const Eigen::VectorXd>(a, nl);
      PHYSML_PETSC(VecRestoreArrayRead(y, &a));
    }
    double aj = out.V.col(j).dot(w);
    allreduce_sum(out.comm, &aj, 1);
    alpha.push_back(aj);
    amax = std::max(amax, std::abs(aj));
    // Full reorthogonalization: two classical Gram-Schmidt passes over V[:, 0..j]
    // (this also removes the α_j v_j and β_{j-1} v_{j-1} terms of the three-term recurrence);
    // one reduction of j + 1 dot products per pass on several ranks.
    for (int pass = 0; pass < 2; ++pass) {
      Eigen::VectorXd h = out.V.leftCols(j + 1).transpose() * w;
      allreduce_sum(out.comm, h.data(), j + 1);
      w.noalias() -= out.V.leftCols(j + 1) * h;
    }
    double bj = w.squaredNorm();
    allreduce_sum(out.comm, &bj, 1);
    bj = std::sqrt(bj);
    PHYSML_CHECK(std::isfinite(bj), "lanczos: NaN/Inf at step ", j, " (is A finite?)");
    if (j + 1 == m) {
      out.beta_last = bj;
      break;
    }
    if (bj < 1e-10 * amax) {  // invariant subspace: the Krylov space is exhausted
      out.beta_last = bj;
      out.V.conservativeResize(nl, j + 1);
      break;
    }
    beta.push_back(bj);
    out.V.col(j + 1) = w / bj;
  }
  VecDestroy(&x);
  VecDestroy(&y);
  out.alpha = Eigen::Map<Eigen::VectorXd>(alpha.data(), alpha.size());
  out.beta = Eigen::Map<Eigen::VectorXd>(beta.data(), beta.size());
  return out;
}

Vec lanczos_start_vector(Mat A, std::uint64_t seed) {
  Vec xi, v;
  PHYSML_PETSC(MatCreateVecs(A, &xi, &v));
  PetscInt rstart, rend;
  PHYSML_PETSC(VecGetOwnershipRange(xi, &rstart, &rend));
  // ξ_i is the i-th draw of one stream whatever the rank count: a rank draws up to its last row
  // and keeps its own (so the start vector, and the Ritz pairs, do not depend on the ranks).
  std::mt19937_64 eng(seed);
  std::normal_distribution<double> normal;
  for (PetscInt i = 0; i < rstart; ++i) (void)normal(eng);
  PetscScalar* a;
  PHYSML_PETSC(VecGetArray(xi, &a));
  for (PetscInt i = rstart; i < rend; ++i) a[i - rstart] = normal(eng);
  PHYSML_PETSC(VecRestoreArray(xi, &a));
  PHYSML_PETSC(MatMult(A, xi, v));
  VecDestroy(&xi);
  return v;
}

RitzPairs ritz_pairs(const LanczosResult& l, double drop_below) {
  const int m = l.steps();
  PHYSML_CHECK(m >= 1, "ritz_pairs: empty Lanczos result");
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig;
  Eigen::VectorXd diag = l.alpha, sub = l.beta;
  eig.computeFromTridiagonal(diag, sub, Eigen::ComputeEigenvectors);
  PHYSML_CHECK(eig.info() == Eigen::Success, "ritz_pairs: the tridiagonal eigensolver did not converge");
  std::vector<int> keep;
  for (int j = 0; j < m; ++j) {
    if (eig.eigenvalues()(j) >= drop_below) keep.push_back(j);
  }
  RitzPairs out;
  out.comm = l.comm;
  out.row_begin = l.row_begin;
  out.values.resize(keep.size());
  out.residual_bounds.resize(keep.size());
  Eigen::MatrixXd S(m, keep.size());
  for (size_t k = 0; k < keep.size(); ++k) {
    out.values(k) = eig.eigenvalues()(keep[k]);
    S.col(k) = eig.eigenvectors().col(keep[k]);
    out.residual_bounds(k) = l.beta_last * std::abs(S(m - 1, k));
  }
  out.vectors = l.V * S;
  return out;
}

at::Tensor ritz_training_vectors(const RitzPairs& ritz, int64_t count, std::uint64_t seed, double low_weight,
                                 double low_fraction, c10::ScalarType dtype) {
  const auto k = ritz.vectors.cols();
  PHYSML_CHECK(k > 0, "ritz_training_vectors: no Ritz vectors");
  PHYSML_CHECK(count > 0, "ritz_training_vectors: count must be positive, got ", count);
  PHYSML_CHECK(low_fraction >= 0 && low_fraction <= 1, "ritz_training_vectors: low_fraction must be in [0, 1], got ",
               low_fraction);
  const auto cut = static_cast<int64_t>(std::ceil(low_fraction * k));
  std::mt19937_64 eng(seed);
  std::normal_distribution<double> normal;
  Eigen::MatrixXd C(k, count);
  for (int64_t s = 0; s < count; ++s)
    for (int64_t j = 0; j < k; ++j) C(j, s) = (j < cut ? low_weight : 1.0) * normal(eng);
  Eigen::MatrixXd B = ritz.vectors * C;  // [n (this rank's rows), count]
  Eigen::VectorXd norms2 = B.colwise().squaredNorm().transpose();
  allreduce_sum(ritz.comm, norms2.data(), static_cast<int>(count));
  for (int64_t s = 0; s < count; ++s) B.col(s) /= std::sqrt(norms2(s));
  at::Tensor t = torch::from_blob(B.data(), {count, B.rows()}, torch::kDouble);  // column-major [n,count] = row-major [count,n]
  return t.to(dtype).clone();
}

}  // namespace physml::solvers
