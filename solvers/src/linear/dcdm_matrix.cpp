// What DCDM reads from the system matrix: the grid of the unknowns, the solid/fluid mask of
// a pressure matrix, and the matrix as a sparse tensor (for the DCDM loss).
#include "physml/solvers/linear/dcdm.hpp"

#include "physml/core/error.hpp"
#include "physml/solvers/linear/model_operator.hpp"

#include <torch/torch.h>

#include <vector>

namespace physml::solvers {

std::vector<int64_t> resolve_dcdm_grid(int dim, PetscInt n, const std::vector<long>& given, DM dm) {
  return resolve_grid("DCDM", "-ksp_dcdm_grid", dim, n, given, dm);
}

at::Tensor solid_mask_from_matrix(Mat A) {
  PetscInt rstart, rend;
  PHYSML_PETSC(MatGetOwnershipRange(A, &rstart, &rend));
  at::Tensor mask = torch::zeros({rend - rstart}, torch::kFloat);
  auto m = mask.accessor<float, 1>();
  for (PetscInt i = rstart; i < rend; ++i) {
    PetscInt ncols;
    const PetscInt* cols;
    const PetscScalar* vals;
    PHYSML_PETSC(MatGetRow(A, i, &ncols, &cols, &vals));
    for (PetscInt k = 0; k < ncols; ++k) {
      if (cols[k] != i && vals[k] != 0.0) {
        m[i - rstart] = 1.0f;
        break;
      }
    }
    PHYSML_PETSC(MatRestoreRow(A, i, &ncols, &cols, &vals));
  }
  return mask;
}

at::Tensor sparse_from_mat(Mat A, c10::ScalarType dtype) {
  PetscInt M, N;
  PHYSML_PETSC(MatGetSize(A, &M, &N));
  std::vector<int64_t> rows, cols;
  std::vector<double> values;
  for (PetscInt i = 0; i < M; ++i) {
    PetscInt nc;
    const PetscInt* c;
    const PetscScalar* v;
    PHYSML_PETSC(MatGetRow(A, i, &nc, &c, &v));
    for (PetscInt k = 0; k < nc; ++k) {
      rows.push_back(i);
      cols.push_back(c[k]);
      values.push_back(v[k]);
    }
    PHYSML_PETSC(MatRestoreRow(A, i, &nc, &c, &v));
  }
  auto idx = torch::stack({torch::tensor(rows, torch::kLong), torch::tensor(cols, torch::kLong)});
  return torch::sparse_coo_tensor(idx, torch::tensor(values, torch::kDouble).to(dtype), {M, N}).coalesce();
}

}  // namespace physml::solvers
