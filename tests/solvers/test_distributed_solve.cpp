// DCDM, PC physml, Lanczos and the HDF5 system loader on a distributed PETSc matrix
// (gathered_operator.hpp, lanczos.hpp, system_io.hpp; docs/parallel.md). The DistributedSolveMPI.*
// cases need two ranks and are run by the ctest solvers.mpi.distributed (mpiexec -n 2
// test_solvers --gtest_filter=*DistributedSolve*); on one rank they skip. Each compares the
// 2-rank run with the same computation on PETSC_COMM_SELF inside the same processes.
#include "dcdm_test_problems.hpp"
#include "physml/core/collective.hpp"
#include "physml/core/error.hpp"
#include "physml/core/views.hpp"
#include "physml/io/hdf5.hpp"
#include "physml/operators/checkpoint.hpp"
#include "physml/operators/dcdm_net.hpp"
#include "physml/operators/mgno.hpp"
#include "physml/solvers/linear/dcdm.hpp"
#include "physml/solvers/linear/gathered_operator.hpp"
#include "physml/solvers/linear/lanczos.hpp"
#include "physml/solvers/linear/system_io.hpp"
#include "test_util.hpp"

#include <petscdmda.h>
#include <petscksp.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>

using namespace physml;
using physml::test::world_rank;
using physml::test::world_size;
using namespace physml::solvers;
using physml::test::poisson_matrix;
using physml::test::residual_history;

namespace {

/// All entries of a (distributed) Vec on every rank, in global index order.
at::Tensor all_of(Vec v) {
  VecScatter s;
  Vec all;
  PHYSML_PETSC(VecScatterCreateToAll(v, &s, &all));
  PHYSML_PETSC(VecScatterBegin(s, v, all, INSERT_VALUES, SCATTER_FORWARD));
  PHYSML_PETSC(VecScatterEnd(s, v, all, INSERT_VALUES, SCATTER_FORWARD));
  PetscInt n;
  PHYSML_PETSC(VecGetSize(all, &n));
  const PetscScalar* a;
  PHYSML_PETSC(VecGetArrayRead(all, &a));
  at::Tensor t = torch::from_blob(const_cast<PetscScalar*>(a), {n}, torch::kDouble).clone();
  PHYSML_PETSC(VecRestoreArrayRead(all, &a));
  VecScatterDestroy(&s);
  VecDestroy(&all);
  return t;
}

/// A smooth right-hand side on an nx x ny grid (x fastest), the same on every rank count.
at::Tensor smooth_rhs(int64_t nx, int64_t ny) {
  auto x = (torch::arange(nx, torch::kDouble) + 0.5) / nx;
  auto y = (torch::arange(ny, torch::kDouble) + 0.5) / ny;
  auto g = torch::meshgrid({y, x}, "ij");
  return (torch::sin(M_PI * g[1]) * torch::sin(2 * M_PI * g[0]) + 0.3 * g[1]).reshape(-1).contiguous();
}

/// The serial system (PETSC_COMM_SELF) of the nx x ny Poisson matrix and the smooth rhs,
/// written by rank 0 to `path` and read back distributed over PETSC_COMM_WORLD.
struct Systems {
  Mat A_serial = nullptr;
  Vec b_serial = nullptr;
  LinearSystem parallel;
  Systems(const std::filesystem::path& path, PetscInt nx, PetscInt ny) {
    A_serial = poisson_matrix({nx, ny});
    b_serial = as_vec(smooth_rhs(nx, ny));
    if (world_rank() == 0) save_linear_system_hdf5(path.string(), A_serial, b_serial);
    MPI_Barrier(PETSC_COMM_WORLD);
    parallel = load_linear_system_hdf5(path.string(), PETSC_COMM_WORLD);
  }
  ~Systems() {
    MatDestroy(&A_serial);
    VecDestroy(&b_serial);
    parallel.destroy();
  }
};

struct SolveResult {
  std::vector<double> history;
  at::Tensor x;  // all entries, every rank
  PetscInt its = 0;
  KSPConvergedReason reason = KSP_CONVERGED_ITERATING;
  DCDMSolveInfo info;
};

/// KSPSolve on A, b configured by the options with `prefix` (KSPSetFromOptions).
SolveResult solve(Mat A, Vec b, const std::string& prefix, DM dm = nullptr) {
  KSP ksp;
  PHYSML_PETSC(KSPCreate(PetscObjectComm((PetscObject)A), &ksp));
  PHYSML_PETSC(KSPSetOptionsPrefix(ksp, prefix.c_str()));
  PHYSML_PETSC(KSPSetOperators(ksp, A, A));
  if (dm) {
    PHYSML_PETSC(KSPSetDM(ksp, dm));
    PHYSML_PETSC(KSPSetDMActive(ksp, PETSC_FALSE));
  }
  PHYSML_PETSC(KSPSetResidualHistory(ksp, nullptr, PETSC_DECIDE, PETSC_TRUE));
  PHYSML_PETSC(KSPSetFromOptions(ksp));
  Vec x;
  PHYSML_PETSC(VecDuplicate(b, &x));
  PHYSML_PETSC(KSPSolve(ksp, b, x));
  SolveResult r;
  r.history = residual_history(ksp);
  PHYSML_PETSC(KSPGetIterationNumber(ksp, &r.its));
  PHYSML_PETSC(KSPGetConvergedReason(ksp, &r.reason));
  KSPType type;
  PHYSML_PETSC(KSPGetType(ksp, &type));
  if (std::string(type) == "dcdm") r.info = ksp_dcdm_info(ksp);
  if (dm) {
    Vec natural;
    PHYSML_PETSC(DMDACreateNaturalVector(dm, &natural));
    PHYSML_PETSC(DMDAGlobalToNaturalBegin(dm, x, INSERT_VALUES, natural));
    PHYSML_PETSC(DMDAGlobalToNaturalEnd(dm, x, INSERT_VALUES, natural));
    r.x = all_of(natural);
    VecDestroy(&natural);
  } else {
    r.x = all_of(x);
  }
  VecDestroy(&x);
  KSPDestroy(&ksp);
  return r;
}

void set_options(const std::string& prefix, const std::vector<std::pair<std::string, std::string>>& kv) {
  for (const auto& [k, v] : kv) PHYSML_PETSC(PetscOptionsSetValue(nullptr, ("-" + prefix + k).c_str(), v.c_str()));
}

/// An untrained DCDM network saved by rank 0 (the same weights on every rank).
std::string save_dcdm(const std::filesystem::path& dir, uint64_t seed) {
  const auto path = (dir / "dcdm.h5").string();
  if (world_rank() == 0) {
    torch::manual_seed(seed);
    operators::DCDMNet net(operators::DCDMNetOptions(2).train_grid({16, 16}));
    operators::save(path, *net);
  }
  MPI_Barrier(PETSC_COMM_WORLD);
  return path;
}

void expect_same_solve(const SolveResult& serial, const SolveResult& parallel, double tol) {
  EXPECT_EQ(parallel.its, serial.its);
  EXPECT_EQ(parallel.reason, serial.reason);
  ASSERT_EQ(parallel.history.size(), serial.history.size());
  for (size_t i = 0; i < serial.history.size(); ++i)
    EXPECT_NEAR(parallel.history[i], serial.history[i], tol * serial.history[0]) << "iteration " << i;
  EXPECT_LT((parallel.x - serial.x).abs().max().item<double>(), tol * serial.x.abs().max().item<double>());
}

}  // namespace

TEST(DistributedSolve, OneRankGatheredOperatorIsTheOperatorItself) {
  // On one rank the wrapper passes the vectors straight through (no copy, no MPI call).
  struct Twice : Operator {
    PetscInt rows() const override { return any_size; }
    PetscInt cols() const override { return any_size; }
    void apply(Vec x, Vec y) override {
      PHYSML_PETSC(VecCopy(x, y));
      PHYSML_PETSC(VecScale(y, 2.0));
      seen = x;
    }
    std::string name() const override { return "twice"; }
    Vec seen = nullptr;
  };
  auto inner = std::make_shared<Twice>();
  GatheredOperator g(inner);
  Vec x = as_vec(torch::arange(5, torch::kDouble)), y;
  PHYSML_PETSC(VecDuplicate(x, &y));
  g.apply(x, y);
  EXPECT_EQ(inner->seen, x);
  EXPECT_TRUE(torch::equal(all_of(y), 2 * torch::arange(5, torch::kDouble)));
  VecDestroy(&x);
  VecDestroy(&y);
}

TEST(DistributedSolveMPI, HDF5LoaderGivesEachRankItsRowsOfTheSameSystem) {
  REQUIRE_TWO_RANKS("solvers.mpi.distributed");
  const auto dir = physml::test::shared_scratch_dir();
  Systems s(dir / "poisson.h5", 9, 7);  // 63 rows: rank 0 takes 32, rank 1 31 (PETSc's split)
  PetscInt rs, re;
  PHYSML_PETSC(MatGetOwnershipRange(s.parallel.A, &rs, &re));
  EXPECT_EQ(rs, world_rank() == 0 ? 0 : 32);
  EXPECT_EQ(re, world_rank() == 0 ? 32 : 63);
  MatType type;
  PHYSML_PETSC(MatGetType(s.parallel.A, &type));
  EXPECT_STREQ(type, MATMPIAIJ);
  // A v and b equal to the serial ones for a v with distinct entries.
  Vec v, Av, vs, Avs;
  PHYSML_PETSC(MatCreateVecs(s.parallel.A, &v, &Av));
  PHYSML_PETSC(VecSetValue(v, rs, 0.0, INSERT_VALUES));
  for (PetscInt i = rs; i < re; ++i) PHYSML_PETSC(VecSetValue(v, i, std::sin(1.0 + i), INSERT_VALUES));
  PHYSML_PETSC(VecAssemblyBegin(v));
  PHYSML_PETSC(VecAssemblyEnd(v));
  PHYSML_PETSC(MatMult(s.parallel.A, v, Av));
  vs = as_vec(torch::sin(1.0 + torch::arange(63, torch::kDouble)));
  PHYSML_PETSC(VecDuplicate(vs, &Avs));
  PHYSML_PETSC(MatMult(s.A_serial, vs, Avs));
  EXPECT_LT((all_of(Av) - all_of(Avs)).abs().max().item<double>(), 1e-14);
  EXPECT_TRUE(torch::equal(all_of(s.parallel.b), all_of(s.b_serial)));
  for (Vec* w : {&v, &Av, &vs, &Avs}) VecDestroy(w);
  // A NaN in rank 1's rows of b: both ranks stop, with the message of the rank that read it.
  if (world_rank() == 0) {
    auto f = io::H5File::open((dir / "poisson.h5").string(), io::H5File::Mode::read_write);
    f.write_rows("b", 60, torch::full({1}, NAN, torch::kDouble));
    f.flush();
  }
  MPI_Barrier(PETSC_COMM_WORLD);
  const std::string expected = world_rank() == 0 ? "on rank 1: linear system: '" : "linear system: '";
  EXPECT_THROW_MSG(load_linear_system_hdf5((dir / "poisson.h5").string(), PETSC_COMM_WORLD), expected);
  EXPECT_THROW_MSG(load_linear_system_hdf5((dir / "poisson.h5").string(), PETSC_COMM_WORLD), "b contains NaN or Inf");
}

TEST(DistributedSolveMPI, ParallelHDF5SaveWritesTheFileOfOneRank) {
  REQUIRE_TWO_RANKS("solvers.mpi.distributed");
  const auto dir = physml::test::shared_scratch_dir();
  Systems s(dir / "serial.h5", 9, 7);  // rank 0 saved the PETSC_COMM_SELF system
  // The 32 + 31 split, and a lopsided one: all 63 rows of A on rank 0, none on rank 1 (b split 32 + 31).
  save_linear_system_hdf5((dir / "parallel.h5").string(), s.parallel.A, s.parallel.b);
  const PetscInt nloc = world_rank() == 0 ? 63 : 0;
  Mat B;
  Vec c;
  PHYSML_PETSC(MatCreateAIJ(PETSC_COMM_WORLD, nloc, nloc, 63, 63, 5, nullptr, 5, nullptr, &B));
  PHYSML_PETSC(VecCreateMPI(PETSC_COMM_WORLD, PETSC_DECIDE, 63, &c));  // b in another layout than A's rows
  const at::Tensor b_all = all_of(s.b_serial);
  for (PetscInt i = 0; i < nloc; ++i) {
    PetscInt nc;
    const PetscInt* cols;
    const PetscScalar* v;
    PHYSML_PETSC(MatGetRow(s.A_serial, i, &nc, &cols, &v));
    PHYSML_PETSC(MatSetValues(B, 1, &i, nc, cols, v, INSERT_VALUES));
    PHYSML_PETSC(MatRestoreRow(s.A_serial, i, &nc, &cols, &v));
    PHYSML_PETSC(VecSetValue(c, i, b_all[i].item<double>(), INSERT_VALUES));
  }
  PHYSML_PETSC(MatAssemblyBegin(B, MAT_FINAL_ASSEMBLY));
  PHYSML_PETSC(MatAssemblyEnd(B, MAT_FINAL_ASSEMBLY));
  PHYSML_PETSC(VecAssemblyBegin(c));
  PHYSML_PETSC(VecAssemblyEnd(c));
  save_linear_system_hdf5((dir / "lopsided.h5").string(), B, c);
  MPI_Barrier(PETSC_COMM_WORLD);
  // Every dataset and size equal to the one-rank file's, bit for bit.
  auto serial = io::H5File::open((dir / "serial.h5").string());
  for (const char* name : {"parallel.h5", "lopsided.h5"}) {
    auto f = io::H5File::open((dir / name).string());
    for (const char* d : {"A/row_ptr", "A/col_idx", "A/values", "b"})
      EXPECT_TRUE(torch::equal(f.read(d), serial.read(d))) << name << ": " << d;
    EXPECT_EQ(f.attribute_int("/", "rows"), 63);
    EXPECT_EQ(f.attribute_int("/", "cols"), 63);
    EXPECT_EQ(f.attribute_string("/", "format"), "physml.linear_system");
  }
  EXPECT_EQ(serial.shape("A/col_idx"), std::vector<std::int64_t>{63 * 5 - 2 * (9 + 7)});
  // A b that does not fit: both ranks stop, the file written before stays as it was.
  const std::string before = physml::test::file_bytes(dir / "parallel.h5");
  Vec wrong;
  PHYSML_PETSC(VecCreateMPI(PETSC_COMM_WORLD, PETSC_DECIDE, 64, &wrong));
  EXPECT_THROW_MSG(save_linear_system_hdf5((dir / "parallel.h5").string(), s.parallel.A, wrong),
                   "b has 64 entries, A has 63 rows");
  MPI_Barrier(PETSC_COMM_WORLD);
  EXPECT_EQ(physml::test::file_bytes(dir / "parallel.h5"), before);
  EXPECT_TRUE(physml::test::no_temporaries(dir));
  VecDestroy(&wrong);
  MatDestroy(&B);
  VecDestroy(&c);
}

TEST(DistributedSolveMPI, KSPDCDMFromOptionsTakesTheSerialIterations) {
  REQUIRE_TWO_RANKS("solvers.mpi.distributed");
  const auto dir = physml::test::shared_scratch_dir();
  Systems s(dir / "poisson.h5", 16, 16);
  const auto model = save_dcdm(dir, 7);
  register_petsc_types();
  // The safeguard at its defaults: the untrained network is judged after 5 iterations and
  // handed over to Jacobi-PCG, so both the network and the fallback PC run distributed.
  for (const std::string prefix : {"dds_", "ddn_"}) {
    set_options(prefix, {{"ksp_type", "dcdm"}, {"ksp_dcdm_model", model}, {"ksp_rtol", "1e-8"}, {"ksp_max_it", "400"},
                         {"pc_type", "jacobi"}});
  }
  set_options("ddn_", {{"ksp_dcdm_safeguard_early_its", "0"}, {"ksp_dcdm_stagnation_window", "0"}, {"ksp_max_it", "25"}});
  const auto serial = solve(s.A_serial, s.b_serial, "dds_");
  const auto parallel = solve(s.parallel.A, s.parallel.b, "dds_");
  ASSERT_GT(serial.reason, 0) << KSPConvergedReasons[serial.reason];
  expect_same_solve(serial, parallel, 1e-6);
  EXPECT_EQ(parallel.info.fallback_iteration, serial.info.fallback_iteration);
  EXPECT_EQ(parallel.info.network_applications, serial.info.network_applications);
  EXPECT_GT(serial.info.network_applications, 0);
  // The network alone for 25 iterations: 25 gathered applications, the same residuals.
  const auto serial_net = solve(s.A_serial, s.b_serial, "ddn_");
  const auto parallel_net = solve(s.parallel.A, s.parallel.b, "ddn_");
  EXPECT_EQ(serial_net.info.network_applications, 25);
  expect_same_solve(serial_net, parallel_net, 1e-5);
}

TEST(DistributedSolveMPI, PCDCDMAndPCPhysMLInsideFlexibleKrylovTakeTheSerialIterations) {
  REQUIRE_TWO_RANKS("solvers.mpi.distributed");
  const auto dir = physml::test::shared_scratch_dir();
  Systems s(dir / "poisson.h5", 16, 16);
  const auto dcdm = save_dcdm(dir, 3);
  const auto mgno = (dir / "mgno.h5").string();
  if (world_rank() == 0) {
    torch::manual_seed(11);
    operators::MgNO net(operators::MgNOOptions(1, 1).channels(4).levels(3).layers(1));
    operators::save(mgno, *net);
  }
  MPI_Barrier(PETSC_COMM_WORLD);
  register_petsc_types();
  // FCG with the untrained DCDM network as PC does not converge (no safeguard there): 40
  // iterations of it, compared residual by residual.
  set_options("dpc_", {{"ksp_type", "fcg"}, {"ksp_fcg_mmax", "2"}, {"ksp_fcg_truncation_type", "standard"},
                       {"pc_type", "dcdm"}, {"pc_dcdm_model", dcdm}, {"ksp_rtol", "1e-6"}, {"ksp_max_it", "40"},
                       {"ksp_norm_type", "unpreconditioned"}});
  set_options("dpp_", {{"ksp_type", "fgmres"}, {"pc_type", "physml"}, {"pc_physml_model", mgno}, {"ksp_rtol", "1e-6"},
                       {"ksp_max_it", "300"}});
  for (const std::string prefix : {"dpc_", "dpp_"}) {
    const auto serial = solve(s.A_serial, s.b_serial, prefix);
    const auto parallel = solve(s.parallel.A, s.parallel.b, prefix);
    SCOPED_TRACE(prefix);
    if (prefix == "dpp_") {
      ASSERT_GT(serial.reason, 0) << KSPConvergedReasons[serial.reason];
    } else {
      ASSERT_EQ(serial.its, 40);  // (its 2-norm residual need not decrease: an untrained network)
    }
    expect_same_solve(serial, parallel, 1e-5);
  }
}

TEST(DistributedSolveMPI, ADMDAFieldReachesTheNetworkInGridOrder) {
  REQUIRE_TWO_RANKS("solvers.mpi.distributed");
  // A 16 x 16 DMDA split along x (2 x 1 ranks): its global vectors are in PETSc's block
  // order, not the grid's, so the gather must go through the natural ordering.
  const PetscInt n = 16;
  DM da;
  PHYSML_PETSC(DMDACreate2d(PETSC_COMM_WORLD, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DMDA_STENCIL_STAR, n, n, 2, 1, 1, 1,
                            nullptr, nullptr, &da));
  PHYSML_PETSC(DMSetUp(da));
  Mat A;
  PHYSML_PETSC(DMCreateMatrix(da, &A));
  PetscInt xs, ys, xm, ym;
  PHYSML_PETSC(DMDAGetCorners(da, &xs, &ys, nullptr, &xm, &ym, nullptr));
  for (PetscInt j = ys; j < ys + ym; ++j)
    for (PetscInt i = xs; i < xs + xm; ++i) {
      MatStencil row{0, j, i, 0}, cols[5];
      PetscScalar vals[5];
      int k = 0;
      cols[k] = row;
      vals[k++] = 4.0;  // cell-centred Dirichlet walls: every cell has diagonal 4 (poisson_matrix)
      const PetscInt nb[4][2] = {{i - 1, j}, {i + 1, j}, {i, j - 1}, {i, j + 1}};
      for (const auto& p : nb)
        if (p[0] >= 0 && p[0] < n && p[1] >= 0 && p[1] < n) {
          cols[k] = MatStencil{0, p[1], p[0], 0};
          vals[k++] = -1.0;
        }
      PHYSML_PETSC(MatSetValuesStencil(A, 1, &row, k, cols, vals, INSERT_VALUES));
    }
  PHYSML_PETSC(MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY));
  PHYSML_PETSC(MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY));
  Vec b, natural;
  PHYSML_PETSC(DMCreateGlobalVector(da, &b));
  PHYSML_PETSC(DMDACreateNaturalVector(da, &natural));
  {
    PetscInt lo, hi;
    PHYSML_PETSC(VecGetOwnershipRange(natural, &lo, &hi));
    const auto rhs = smooth_rhs(n, n);
    for (PetscInt i = lo; i < hi; ++i) PHYSML_PETSC(VecSetValue(natural, i, rhs[i].item<double>(), INSERT_VALUES));
    PHYSML_PETSC(VecAssemblyBegin(natural));
    PHYSML_PETSC(VecAssemblyEnd(natural));
  }
  PHYSML_PETSC(DMDANaturalToGlobalBegin(da, natural, INSERT_VALUES, b));
  PHYSML_PETSC(DMDANaturalToGlobalEnd(da, natural, INSERT_VALUES, b));
  // The global order really differs from the grid order here (else the test could not fail).
  EXPECT_FALSE(torch::allclose(all_of(b), all_of(natural)));

  const auto dir = physml::test::shared_scratch_dir();
  const auto model_path = save_dcdm(dir, 5);
  auto model = cached_dcdm_model(model_path);
  // The direction of the gathered field equals the serial network's on the grid-ordered rhs;
  // a gather without the DMDA (global order taken as grid order) gives another direction.
  Mat A_serial = poisson_matrix({n, n});
  Vec b_serial = as_vec(smooth_rhs(n, n)), q_serial;
  PHYSML_PETSC(VecDuplicate(b_serial, &q_serial));
  auto serial_dir = network_direction_for(model, {n, n}, A_serial, nullptr, "none");
  serial_dir->apply(b_serial, q_serial);
  Vec q, qn;
  PHYSML_PETSC(VecDuplicate(b, &q));
  PHYSML_PETSC(VecDuplicate(natural, &qn));
  auto with_da = network_direction_for(model, {n, n}, A, da, "none");
  EXPECT_NE(with_da->name().find("on the field gathered to rank 0"), std::string::npos) << with_da->name();
  with_da->apply(b, q);
  PHYSML_PETSC(DMDAGlobalToNaturalBegin(da, q, INSERT_VALUES, qn));
  PHYSML_PETSC(DMDAGlobalToNaturalEnd(da, q, INSERT_VALUES, qn));
  const auto qs = all_of(q_serial);
  EXPECT_LT((all_of(qn) - qs).abs().max().item<double>(), 1e-5 * qs.abs().max().item<double>());
  GatheredDirection without_da(std::make_shared<NetworkDirection>(model, std::vector<int64_t>{n, n}));
  without_da.apply(b, q);
  PHYSML_PETSC(DMDAGlobalToNaturalBegin(da, q, INSERT_VALUES, qn));
  PHYSML_PETSC(DMDAGlobalToNaturalEnd(da, q, INSERT_VALUES, qn));
  EXPECT_GT((all_of(qn) - qs).abs().max().item<double>(), 1e-2 * qs.abs().max().item<double>());

  // The whole solve from options with the DMDA on the KSP: the serial iterations.
  register_petsc_types();
  // (Jacobi as the fallback PC: PETSc's default PC is ILU on one rank, block Jacobi on several.)
  set_options("dda_", {{"ksp_type", "dcdm"}, {"ksp_dcdm_model", model_path}, {"ksp_rtol", "1e-8"}, {"ksp_max_it", "400"},
                       {"pc_type", "jacobi"}});
  const auto serial = solve(A_serial, b_serial, "dda_");
  const auto parallel = solve(A, b, "dda_", da);
  ASSERT_GT(serial.reason, 0);
  expect_same_solve(serial, parallel, 1e-6);
  for (Vec* w : {&b, &natural, &b_serial, &q_serial, &q, &qn}) VecDestroy(w);
  MatDestroy(&A);
  MatDestroy(&A_serial);
  DMDestroy(&da);
}

TEST(DistributedSolveMPI, AFailureOfTheNetworkOnRankZeroReachesEveryRank) {
  REQUIRE_TWO_RANKS("solvers.mpi.distributed");
  const auto dir = physml::test::shared_scratch_dir();
  Systems s(dir / "poisson.h5", 16, 16);
  // A NaN weight: the network's output is NaN on rank 0, both ranks see a NonFiniteError and
  // KSP dcdm falls back to the PC together (iteration 1 on both), or stops together.
  torch::manual_seed(0);
  auto net = std::make_shared<operators::DCDMNetImpl>(operators::DCDMNetOptions(2));
  {
    torch::NoGradGuard ng;
    net->parameters()[0].view(-1)[0] = NAN;
  }
  auto dir_nan = network_direction_for(net, {16, 16}, s.parallel.A, nullptr, "none");
  Vec q;
  PHYSML_PETSC(VecDuplicate(s.parallel.b, &q));
  try {
    dir_nan->apply(s.parallel.b, q);
    ADD_FAILURE() << "no error on rank " << world_rank();
  } catch (const NonFiniteError& e) {
    EXPECT_NE(std::string(e.what()).find("NaN or Inf"), std::string::npos) << e.what();
  }
  KSP ksp;
  PHYSML_PETSC(KSPCreate(PETSC_COMM_WORLD, &ksp));
  PHYSML_PETSC(KSPSetOperators(ksp, s.parallel.A, s.parallel.A));
  PHYSML_PETSC(KSPSetType(ksp, "dcdm"));
  PHYSML_PETSC(KSPSetTolerances(ksp, 1e-6, PETSC_DEFAULT, PETSC_DEFAULT, 500));
  ksp_dcdm_set_direction(ksp, dir_nan);
  PHYSML_PETSC(KSPSolve(ksp, s.parallel.b, q));
  KSPConvergedReason reason;
  PHYSML_PETSC(KSPGetConvergedReason(ksp, &reason));
  EXPECT_GT(reason, 0);
  EXPECT_EQ(ksp_dcdm_info(ksp).fallback_iteration, 1);
  // Any other error on rank 0 (here: a 3-D grid for a 2-D model is caught at construction,
  // so a direction that throws) stops the solve on both ranks instead of hanging rank 1.
  struct Broken : DirectionOperator {
    void apply(Vec, Vec) override { PHYSML_THROW("broken direction"); }
    std::string name() const override { return "broken"; }
  };
  ksp_dcdm_set_direction(ksp, std::make_shared<GatheredDirection>(std::make_shared<Broken>()));
  EXPECT_NE(KSPSolve(ksp, s.parallel.b, q), 0);
  KSPDestroy(&ksp);
  VecDestroy(&q);
  // run_collectively: the lowest failing rank's message on every rank.
  EXPECT_THROW_MSG(run_collectively(PETSC_COMM_WORLD, [] {
                     if (world_rank() == 1) PHYSML_THROW("only rank 1 failed");
                   }),
                   "only rank 1 failed");
  EXPECT_NO_THROW(run_collectively(PETSC_COMM_WORLD, [] {}));
}

TEST(DistributedSolveMPI, LanczosOnTwoRanksGivesTheSerialRitzPairs) {
  REQUIRE_TWO_RANKS("solvers.mpi.distributed");
  const auto dir = physml::test::shared_scratch_dir();
  Systems s(dir / "poisson.h5", 12, 10);
  const int steps = 30;
  Vec v0s = lanczos_start_vector(s.A_serial, 42), v0p = lanczos_start_vector(s.parallel.A, 42);
  EXPECT_LT((all_of(v0s) - all_of(v0p)).abs().max().item<double>(), 1e-13);  // ξ independent of the ranks
  const auto ls = lanczos(s.A_serial, v0s, steps), lp = lanczos(s.parallel.A, v0p, steps);
  ASSERT_EQ(lp.steps(), ls.steps());
  EXPECT_LT((lp.alpha - ls.alpha).cwiseAbs().maxCoeff(), 1e-10);
  EXPECT_LT((lp.beta - ls.beta).cwiseAbs().maxCoeff(), 1e-10);
  PetscInt rs, re;
  PHYSML_PETSC(MatGetOwnershipRange(s.parallel.A, &rs, &re));
  EXPECT_EQ(lp.V.rows(), re - rs);
  EXPECT_EQ(lp.row_begin, rs);
  const auto rp = ritz_pairs(lp), rser = ritz_pairs(ls);
  ASSERT_EQ(rp.values.size(), rser.values.size());
  EXPECT_LT((rp.values - rser.values).cwiseAbs().maxCoeff(), 1e-9 * rser.values.maxCoeff());
  // This rank's rows of the training vectors are the serial vectors' rows; the norms are global.
  const auto tp = ritz_training_vectors(rp, 4, 9, 9.0, 0.55, torch::kDouble);
  const auto ts = ritz_training_vectors(rser, 4, 9, 9.0, 0.55, torch::kDouble);
  ASSERT_EQ(tp.size(1), re - rs);
  EXPECT_LT((tp - ts.slice(1, rs, re)).abs().max().item<double>(), 1e-8);
  at::Tensor norms2 = (tp * tp).sum(1).contiguous();
  MPI_Allreduce(MPI_IN_PLACE, norms2.data_ptr<double>(), 4, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD);
  EXPECT_LT((norms2 - 1).abs().max().item<double>(), 1e-12);
  VecDestroy(&v0s);
  VecDestroy(&v0p);
}
