// Lanczos with full reorthogonalization and the Ritz-vector training data of DCDM.
#include "dcdm_test_problems.hpp"
#include "physml/solvers/linear/lanczos.hpp"
#include "test_util.hpp"

#include <Eigen/Eigenvalues>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

using namespace physml::solvers;
using physml::test::poisson_matrix;

namespace {
// tridiag(-1, 2, -1) of size n: eigenvalues 2 − 2cos(kπ/(n+1)), k = 1..n.
Mat tridiag(PetscInt n) {
  Mat A;
  PHYSML_PETSC(MatCreateSeqAIJ(PETSC_COMM_SELF, n, n, 3, nullptr, &A));
  for (PetscInt i = 0; i < n; ++i) {
    PHYSML_PETSC(MatSetValue(A, i, i, 2.0, INSERT_VALUES));
    if (i > 0) PHYSML_PETSC(MatSetValue(A, i, i - 1, -1.0, INSERT_VALUES));
    if (i + 1 < n) PHYSML_PETSC(MatSetValue(A, i, i + 1, -1.0, INSERT_VALUES));
  }
  PHYSML_PETSC(MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY));
  PHYSML_PETSC(MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY));
  return A;
}
double lambda_1d(PetscInt k, PetscInt n) { return 2.0 - 2.0 * std::cos(M_PI * k / (n + 1.0)); }
}  // namespace

TEST(DCDMLanczos, FullRunRecoversTheSpectrumOf1DLaplacian) {
  const PetscInt n = 60;
  Mat A = tridiag(n);
  Vec v0 = lanczos_start_vector(A, 11);
  auto l = lanczos(A, v0, n);
  ASSERT_EQ(l.steps(), n);
  // Orthonormal Lanczos vectors.
  const Eigen::MatrixXd G = l.V.transpose() * l.V - Eigen::MatrixXd::Identity(n, n);
  EXPECT_LT(G.cwiseAbs().maxCoeff(), 1e-12);
  auto ritz = ritz_pairs(l);
  ASSERT_EQ(ritz.values.size(), n);
  for (PetscInt k = 1; k <= n; ++k) EXPECT_NEAR(ritz.values(k - 1), lambda_1d(k, n), 1e-11) << "k = " << k;
  VecDestroy(&v0);
  MatDestroy(&A);
}

TEST(DCDMLanczos, PartialRunOn2DLaplacian) {
  // 16 x 16 cell-centred Dirichlet Laplacian, compared with a dense eigensolve.
  Mat A = poisson_matrix({16, 16});
  Vec v0 = lanczos_start_vector(A, 3);
  const int m = 80;
  auto l = lanczos(A, v0, m);
  ASSERT_EQ(l.steps(), m);
  const Eigen::MatrixXd G = l.V.transpose() * l.V - Eigen::MatrixXd::Identity(m, m);
  EXPECT_LT(G.cwiseAbs().maxCoeff(), 1e-12);
  auto ritz = ritz_pairs(l);
  // Dense reference spectrum.
  Eigen::MatrixXd D = Eigen::MatrixXd::Zero(256, 256);
  for (PetscInt i = 0; i < 256; ++i) {
    PetscInt nc;
    const PetscInt* c;
    const PetscScalar* v;
    PHYSML_PETSC(MatGetRow(A, i, &nc, &c, &v));
    for (PetscInt k = 0; k < nc; ++k) D(i, c[k]) = v[k];
    PHYSML_PETSC(MatRestoreRow(A, i, &nc, &c, &v));
  }
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(D);
  const auto& lam = eig.eigenvalues();
  // Extreme Ritz values converge first; all Ritz values lie inside the spectrum.
  EXPECT_NEAR(ritz.values(0), lam(0), 1e-8 * lam(255));
  EXPECT_NEAR(ritz.values(ritz.values.size() - 1), lam(255), 1e-8 * lam(255));
  EXPECT_GE(ritz.values.minCoeff(), lam(0) - 1e-10);
  EXPECT_LE(ritz.values.maxCoeff(), lam(255) + 1e-10);
  // The Ritz residuals computed with A match β_m |s_mj| (Paige's identity).
  Vec x, y;
  PHYSML_PETSC(MatCreateVecs(A, &x, &y));
  for (int j : {0, 10, 40, (int)ritz.values.size() - 1}) {
    Eigen::VectorXd yj = ritz.vectors.col(j);
    PHYSML_PETSC(VecPlaceArray(x, yj.data()));
    PHYSML_PETSC(MatMult(A, x, y));
    PHYSML_PETSC(VecResetArray(x));
    const PetscScalar* a;
    PHYSML_PETSC(VecGetArrayRead(y, &a));
    const double res = (Eigen::Map<const Eigen::VectorXd>(a, 256) - ritz.values(j) * yj).norm();
    PHYSML_PETSC(VecRestoreArrayRead(y, &a));
    EXPECT_NEAR(res, ritz.residual_bounds(j), 1e-9) << "Ritz pair " << j;
  }
  VecDestroy(&x);
  VecDestroy(&y);
  VecDestroy(&v0);
  MatDestroy(&A);
}

TEST(DCDMLanczos, TrainingVectorsAreNormalizedBiasedAndSeeded) {
  Mat A = poisson_matrix({8, 8});
  Vec v0 = lanczos_start_vector(A, 5);
  auto ritz = ritz_pairs(lanczos(A, v0, 40));
  auto b = ritz_training_vectors(ritz, 200, 17, 9.0, 0.55, torch::kDouble);
  ASSERT_EQ(b.sizes(), (std::vector<int64_t>{200, 64}));
  EXPECT_TRUE(torch::allclose(b.norm(2, 1), torch::ones({200}, torch::kDouble), 1e-12, 1e-12));
  EXPECT_TRUE(torch::equal(b, ritz_training_vectors(ritz, 200, 17, 9.0, 0.55, torch::kDouble)));
  EXPECT_FALSE(torch::equal(b, ritz_training_vectors(ritz, 200, 18, 9.0, 0.55, torch::kDouble)));
  // Energy in the low Ritz subspace: expected fraction 81·c / (81·c + (k − c)) per sample.
  const auto k = ritz.vectors.cols();
  const auto cut = static_cast<int64_t>(std::ceil(0.55 * k));
  auto Y = torch::from_blob(const_cast<double*>(ritz.vectors.data()), {k, 64}, torch::kDouble);  // rows = Ritz vectors
  auto coeff = torch::mm(b, Y.t());                                                             // [200, k]
  const double low = coeff.slice(1, 0, cut).pow(2).sum().item<double>() / coeff.pow(2).sum().item<double>();
  const double expect = 81.0 * cut / (81.0 * cut + (k - cut));
  EXPECT_NEAR(low, expect, 0.02);
  // b lies in the span of the Ritz vectors.
  EXPECT_NEAR(coeff.pow(2).sum(1).mean().item<double>(), 1.0, 1e-10);
  VecDestroy(&v0);
  MatDestroy(&A);
}
