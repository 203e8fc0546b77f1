#include "test_util.hpp"

#include "physml/core/error.hpp"

#include "physml/core/views.hpp"

#include <petscdmda.h>
#include <torch/torch.h>

#include <cmath>

namespace {

/// A sequential Vec [0, 1, ..., n-1].
Vec make_seq(PetscInt n) {
  Vec v = nullptr;
  PetscCallAbort(PETSC_COMM_SELF, VecCreateSeq(PETSC_COMM_SELF, n, &v));
  for (PetscInt i = 0; i < n; ++i) PetscCallAbort(PETSC_COMM_SELF, VecSetValue(v, i, static_cast<PetscScalar>(i), INSERT_VALUES));
  PetscCallAbort(PETSC_COMM_SELF, VecAssemblyBegin(v));
  PetscCallAbort(PETSC_COMM_SELF, VecAssemblyEnd(v));
  return v;
}

PetscScalar* array_of(Vec v) {
  PetscScalar* a = nullptr;
  PetscCallAbort(PETSC_COMM_SELF, VecGetArray(v, &a));
  PetscScalar* p = a;
  PetscCallAbort(PETSC_COMM_SELF, VecRestoreArray(v, &a));
  return p;
}

double norm2(Vec v) {
  PetscReal n = 0;
  PetscCallAbort(PETSC_COMM_SELF, VecNorm(v, NORM_2, &n));
  return n;
}

/// A container composed on a PETSc object that flips `*flag` when the object is destroyed.
PetscErrorCode set_flag(void* ctx) {
  *static_cast<bool*>(ctx) = true;
  return 0;
}
void watch_destruction(PetscObject obj, bool* flag) {
  PetscContainer c = nullptr;
  PetscCallAbort(PETSC_COMM_SELF, PetscContainerCreate(PETSC_COMM_SELF, &c));
  PetscCallAbort(PETSC_COMM_SELF, PetscContainerSetPointer(c, flag));
  PetscCallAbort(PETSC_COMM_SELF, PetscContainerSetUserDestroy(c, set_flag));
  PetscCallAbort(PETSC_COMM_SELF, PetscObjectCompose(obj, "physml_test_watch", reinterpret_cast<PetscObject>(c)));
  PetscCallAbort(PETSC_COMM_SELF, PetscContainerDestroy(&c));
}

}  // namespace

TEST(Views, TensorOverVecSharesMemory) {
  Vec v = make_seq(10);
  PetscScalar* p = array_of(v);
  auto t = physml::as_tensor(v);
  EXPECT_EQ(t.data_ptr(), static_cast<void*>(p));
  EXPECT_EQ(t.sizes(), (std::vector<int64_t>{10}));
  EXPECT_EQ(t.scalar_type(), physml::petsc_scalar_type());
  EXPECT_DOUBLE_EQ(t[7].item<double>(), 7.0);

  // Tensor -> Vec: a write through the tensor is what VecGetArray and VecNorm see.
  t.fill_(2.0);
  EXPECT_EQ(array_of(v)[3], 2.0);
  EXPECT_NEAR(norm2(v), std::sqrt(4.0 * 10), 1e-12);
  // Vec -> tensor.
  PetscCallAbort(PETSC_COMM_SELF, VecSet(v, 3.0));
  EXPECT_DOUBLE_EQ(t.sum().item<double>(), 30.0);
  PetscCallAbort(PETSC_COMM_SELF, VecScale(v, -1.0));
  EXPECT_DOUBLE_EQ(t[0].item<double>(), -3.0);

  // A reshaped view of the same memory.
  auto m = physml::as_tensor(v, {2, 5});
  EXPECT_EQ(m.data_ptr(), static_cast<void*>(p));
  m[1][4] = 9.0;
  EXPECT_EQ(p[9], 9.0);
  auto r = physml::as_tensor_read(v);
  EXPECT_EQ(r.data_ptr(), static_cast<void*>(p));
  VecDestroy(&v);
}

TEST(Views, VecNormSeesTensorWritesAfterAnEarlierNorm) {
  // PETSc caches norms per object state; a tensor write must not leave a stale cached norm.
  Vec v = make_seq(4);  // [0, 1, 2, 3]
  auto t = physml::as_tensor(v);
  EXPECT_NEAR(norm2(v), std::sqrt(14.0), 1e-12);
  t.fill_(1.0);
  physml::mark_modified(v);
  EXPECT_NEAR(norm2(v), 2.0, 1e-12);
  VecDestroy(&v);
}

TEST(Views, TensorKeepsVecAliveAfterUserDestroy) {
  Vec v = make_seq(6);
  bool destroyed = false;
  watch_destruction(reinterpret_cast<PetscObject>(v), &destroyed);
  auto t = physml::as_tensor(v);
  auto alias = t.view({2, 3});  // shares the storage
  VecDestroy(&v);               // the user is done with the Vec ...
  EXPECT_FALSE(destroyed);      // ... but the tensor views still hold it
  EXPECT_DOUBLE_EQ(t.sum().item<double>(), 15.0);
  t = torch::Tensor();
  EXPECT_FALSE(destroyed);  // `alias` still shares the storage
  alias.mul_(2.0);
  EXPECT_DOUBLE_EQ(alias.sum().item<double>(), 30.0);
  alias = torch::Tensor();
  EXPECT_TRUE(destroyed);  // last view gone: array restored and Vec destroyed
}

TEST(Views, VecOverTensorSharesMemoryAndKeepsStorageAlive) {
  bool freed = false;
  auto* data = new double[8];
  for (int i = 0; i < 8; ++i) data[i] = i;
  Vec v = nullptr;
  {
    auto t = torch::from_blob(
        data, {8}, [&freed](void* p) { delete[] static_cast<double*>(p); freed = true; }, torch::kDouble);
    v = physml::as_vec(t);
    EXPECT_EQ(array_of(v), t.data_ptr<double>());
    PetscInt n = 0;
    VecGetSize(v, &n);
    EXPECT_EQ(n, 8);
    // Writes both ways.
    t[2] = 100.0;
    EXPECT_EQ(array_of(v)[2], 100.0);
    PetscCallAbort(PETSC_COMM_SELF, VecScale(v, 0.5));
    EXPECT_DOUBLE_EQ(t[2].item<double>(), 50.0);
    EXPECT_DOUBLE_EQ(t[4].item<double>(), 2.0);
  }
  EXPECT_FALSE(freed);  // the tensor variable is gone, the storage lives on in the Vec
  EXPECT_EQ(array_of(v), data);
  EXPECT_EQ(array_of(v)[7], 3.5);
  VecDestroy(&v);
  EXPECT_TRUE(freed);
}

TEST(Views, DmdaTensorIsJIWithPetscNaturalOrdering) {
  DM da = nullptr;
  PetscCallAbort(PETSC_COMM_SELF, DMDACreate2d(PETSC_COMM_SELF, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DMDA_STENCIL_STAR,
                                               5, 3, PETSC_DECIDE, PETSC_DECIDE, 1, 1, nullptr, nullptr, &da));
  PetscCallAbort(PETSC_COMM_SELF, DMSetUp(da));
  Vec v = nullptr;
  PetscCallAbort(PETSC_COMM_SELF, DMCreateGlobalVector(da, &v));
  PetscScalar** a = nullptr;
  PetscCallAbort(PETSC_COMM_SELF, DMDAVecGetArray(da, v, &a));
  for (int j = 0; j < 3; ++j)
    for (int i = 0; i < 5; ++i) a[j][i] = 10.0 * j + i;
  PetscCallAbort(PETSC_COMM_SELF, DMDAVecRestoreArray(da, v, &a));

  auto t = physml::as_tensor(da, v);
  ASSERT_EQ(t.sizes(), (std::vector<int64_t>{3, 5}));  // [ym, xm]
  for (int j = 0; j < 3; ++j)
    for (int i = 0; i < 5; ++i) EXPECT_EQ(t[j][i].item<double>(), 10.0 * j + i);
  t[2][1] = -1.0;
  PetscCallAbort(PETSC_COMM_SELF, DMDAVecGetArray(da, v, &a));
  EXPECT_EQ(a[2][1], -1.0);
  PetscCallAbort(PETSC_COMM_SELF, DMDAVecRestoreArray(da, v, &a));

  Vec local = nullptr;  // a ghosted local vector is not the owned block
  PetscCallAbort(PETSC_COMM_SELF, DMCreateLocalVector(da, &local));
  PetscInt nloc = 0;
  VecGetLocalSize(local, &nloc);
  if (nloc != 15) EXPECT_THROW_MSG(physml::as_tensor(da, local), "does not match the DMDA's owned block");
  VecDestroy(&local);
  VecDestroy(&v);
  DMDestroy(&da);

  // dof > 1 adds a trailing component axis.
  DM da2 = nullptr;
  PetscCallAbort(PETSC_COMM_SELF, DMDACreate2d(PETSC_COMM_SELF, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DMDA_STENCIL_STAR,
                                               4, 2, PETSC_DECIDE, PETSC_DECIDE, 2, 1, nullptr, nullptr, &da2));
  PetscCallAbort(PETSC_COMM_SELF, DMSetUp(da2));
  Vec w = nullptr;
  PetscCallAbort(PETSC_COMM_SELF, DMCreateGlobalVector(da2, &w));
  EXPECT_EQ(physml::as_tensor(da2, w).sizes(), (std::vector<int64_t>{2, 4, 2}));
  VecDestroy(&w);
  DMDestroy(&da2);
}

TEST(Views, EigenMapsAliasTheTensor) {
  auto t = torch::zeros({6}, torch::kDouble);
  auto m = physml::as_eigen_vector<double>(t);
  EXPECT_EQ(m.data(), t.data_ptr<double>());
  EXPECT_EQ(m.size(), 6);
  m(2) = 7.0;
  EXPECT_EQ(t[2].item<double>(), 7.0);
  t[3] = 4.0;
  EXPECT_EQ(m(3), 4.0);

  auto a = torch::arange(6, torch::kFloat).reshape({2, 3});
  auto mat = physml::as_eigen_matrix<float>(a);
  EXPECT_EQ(mat.data(), a.data_ptr<float>());
  EXPECT_EQ(mat.rows(), 2);
  EXPECT_EQ(mat.cols(), 3);
  EXPECT_EQ(mat(1, 2), 5.0f);  // row-major like the tensor
  mat(0, 1) = -1.0f;
  EXPECT_EQ(a[0][1].item<float>(), -1.0f);
}

TEST(Views, BadInputGivesClearErrors) {
  EXPECT_THROW_MSG(physml::as_vec(torch::zeros({4}, torch::kFloat)), "has dtype Float but PetscScalar is Double");
  EXPECT_THROW_MSG(physml::as_vec(torch::zeros({3, 4}, torch::kDouble).t()), "not contiguous");
  EXPECT_THROW_MSG(physml::as_vec(torch::Tensor()), "undefined");
  EXPECT_THROW_MSG(physml::as_eigen_vector<float>(torch::zeros({4}, torch::kDouble)), "dtype Double, the map wants Float");
  EXPECT_THROW_MSG(physml::as_eigen_matrix<double>(torch::zeros({4}, torch::kDouble)), "expected a tensor of rank 2");
  EXPECT_THROW_MSG(physml::as_eigen_vector<double>(torch::zeros({3, 4}, torch::kDouble).t()), "not contiguous");
  EXPECT_THROW_MSG(physml::as_tensor(static_cast<Vec>(nullptr)), "the Vec is null");
  Vec v = make_seq(10);
  EXPECT_THROW_MSG(physml::as_tensor(v, {3, 3}), "requested shape has 9 elements but the Vec's local part has 10");
  VecDestroy(&v);
}

TEST(Views, GpuTensorsAreRejectedByPetscViews) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  EXPECT_THROW_MSG(physml::as_vec(torch::zeros({4}, torch::TensorOptions().dtype(torch::kDouble).device(torch::kCUDA))),
                   "PETSc Vecs of this build live in host memory");
  EXPECT_THROW_MSG(physml::as_eigen_vector<double>(torch::zeros({4}, torch::TensorOptions().dtype(torch::kDouble).device(torch::kCUDA))),
                   "Eigen maps need CPU memory");
}
