#pragma once
// Small SPD test systems for the DCDM tests: cell-centred Poisson matrices on a grid
// with homogeneous Dirichlet walls (5/7-point stencil), optionally with solid cells
// (decoupled rows with diagonal 1, Neumann faces towards the fluid).
#include "physml/core/error.hpp"

#include <petscksp.h>

#include <functional>
#include <vector>

namespace physml::test {

/// Assemble the Poisson matrix on grid {nx, ny(, nz)} (x fastest). solid(i,j,k) marks
/// solid cells (may be empty: no solids).
inline Mat poisson_matrix(const std::vector<PetscInt>& g, std::function<bool(PetscInt, PetscInt, PetscInt)> solid = {}) {
  const PetscInt nx = g[0], ny = g[1], nz = g.size() > 2 ? g[2] : 1;
  const PetscInt n = nx * ny * nz;
  const bool three = g.size() > 2;
  auto is_solid = [&](PetscInt i, PetscInt j, PetscInt k) { return solid && solid(i, j, k); };
  Mat A;
  PHYSML_PETSC(MatCreateSeqAIJ(PETSC_COMM_SELF, n, n, 7, nullptr, &A));
  for (PetscInt k = 0; k < nz; ++k)
    for (PetscInt j = 0; j < ny; ++j)
      for (PetscInt i = 0; i < nx; ++i) {
        const PetscInt row = (k * ny + j) * nx + i;
        if (is_solid(i, j, k)) {
          PHYSML_PETSC(MatSetValue(A, row, row, 1.0, INSERT_VALUES));
          continue;
        }
        double diag = 0;
        std::vector<std::array<PetscInt, 3>> nb = {{i - 1, j, k}, {i + 1, j, k}, {i, j - 1, k}, {i, j + 1, k}};
        if (three) {
          nb.push_back({i, j, k - 1});
          nb.push_back({i, j, k + 1});
        }
        for (auto [a, b, c] : nb) {
          if (a < 0 || a >= nx || b < 0 || b >= ny || c < 0 || c >= nz) {
            diag += 1.0;  // Dirichlet wall
          } else if (!is_solid(a, b, c)) {
            diag += 1.0;
            PHYSML_PETSC(MatSetValue(A, row, (c * ny + b) * nx + a, -1.0, INSERT_VALUES));
          }
        }
        PHYSML_PETSC(MatSetValue(A, row, row, diag, INSERT_VALUES));
      }
  PHYSML_PETSC(MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY));
  PHYSML_PETSC(MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY));
  return A;
}

/// A random vector (uniform in [-1, 1]) of size n from a fixed seed.
inline Vec random_vec(PetscInt n, unsigned long seed) {
  Vec v;
  PetscRandom rnd;
  PHYSML_PETSC(VecCreateSeq(PETSC_COMM_SELF, n, &v));
  PHYSML_PETSC(PetscRandomCreate(PETSC_COMM_SELF, &rnd));
  PHYSML_PETSC(PetscRandomSetInterval(rnd, -1.0, 1.0));
  PHYSML_PETSC(PetscRandomSetSeed(rnd, seed));
  PHYSML_PETSC(PetscRandomSeed(rnd));
  PHYSML_PETSC(VecSetRandom(v, rnd));
  PHYSML_PETSC(PetscRandomDestroy(&rnd));
  return v;
}

/// Residual history (KSPGetResidualHistory) after a solve, as a vector.
inline std::vector<double> residual_history(KSP ksp) {
  const PetscReal* h;
  PetscInt n;
  PHYSML_PETSC(KSPGetResidualHistory(ksp, &h, &n));
  return std::vector<double>(h, h + n);
}

}  // namespace physml::test
