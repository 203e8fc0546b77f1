// Brief DCDM training on Ritz-vector data of a small 2D Poisson matrix.
#include "physml/operators/fno.hpp"
#include "physml/solvers/linear/dcdm.hpp"
#include "physml/solvers/linear/lanczos.hpp"
#include "physml/train/dcdm_train.hpp"
#include "solvers/dcdm_test_problems.hpp"
#include "physml/io/dataset.hpp"
#include "physml/io/hdf5.hpp"
#include "physml/io/checkpoint.hpp"
#include "physml/operators/checkpoint.hpp"
#include "physml/train/trainer.hpp"
#include "resume_check.hpp"
#include "model_compare.hpp"
#include "test_util.hpp"

#include <torch/torch.h>

#include <fstream>

using namespace physml;

namespace {
train::RitzDataset make_data(int64_t count, PetscInt n = 16, int lanczos_steps = 100) {
  Mat A = test::poisson_matrix({n, n});
  Vec v0 = solvers::lanczos_start_vector(A, 1);
  auto ritz = solvers::ritz_pairs(solvers::lanczos(A, v0, lanczos_steps));
  train::RitzDataset d;
  d.b = solvers::ritz_training_vectors(ritz, count, 2);
  d.A = solvers::sparse_from_mat(A, torch::kDouble);
  d.grid = {n, n};
  VecDestroy(&v0);
  MatDestroy(&A);
  return d;
}
}  // namespace

/// Trainer options of these tests: the DCDM defaults with a larger learning rate, quiet.
train::TrainerOptions dcdm_options(std::int64_t epochs, double lr) {
  auto o = train::dcdm_trainer_options().epochs(epochs).verbose(false);
  auto s = o.schedule();
  s.lr = lr;
  return o.schedule(s);
}

TEST(DCDMTrain, PaperDefaults) {
  const auto o = train::dcdm_trainer_options();
  EXPECT_EQ(o.optimizer(), "adam");
  EXPECT_EQ(o.schedule().lr, 1e-4);
  EXPECT_EQ(o.schedule().type, "constant");
  EXPECT_EQ(o.batch_size(), 10);
  EXPECT_EQ(o.weight_decay(), 0.0);
  EXPECT_EQ(train::DCDMTaskOptions().valid_fraction(), 0.1);
}

TEST(DCDMTrain, LossDecreasesAndIsDeterministic) {
  auto data = make_data(110);
  std::vector<double> first;
  for (int run = 0; run < 2; ++run) {
    torch::manual_seed(9);
    operators::DCDMNet net(operators::DCDMNetOptions(2));
    const double before = train::evaluate_dcdm(*net, data.b.slice(0, 100), data.A, data.grid);
    train::DCDMTask task(data.b, data.A, data.grid);
    EXPECT_EQ(task.size(), 99);
    EXPECT_EQ(task.validation_size(), 11);
    auto h = train::Trainer(net.ptr(), dcdm_options(4, 1e-3).seed(3)).fit(task);
    ASSERT_EQ(h.size(), 4u);
    EXPECT_LT(h.back().metric("valid_loss"), 0.7 * before) << "before " << before;
    EXPECT_LT(h.back().train_loss, h.front().train_loss);
    std::vector<double> losses;
    for (const auto& r : h) losses.push_back(r.train_loss);
    if (run == 0) first = losses;
    else EXPECT_EQ(losses, first);
  }
}

// Exact resume of DCDM training (8x8 Poisson matrix, 14 Ritz right-hand sides): 4 epochs in
// one go equal 1 epoch, then a new Trainer and a new network resumed from last.h5 to 4 —
// weights, Adam state, best validation and the log lines, bit for bit.
TEST(DCDMTrain, ResumeEqualsUninterruptedRunBitForBit) {
  auto dir = test::scratch_dir();
  auto data = make_data(14, 8, 30);
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);
  train::DCDMTask task(data.b, data.A, data.grid, {}, train::DCDMTaskOptions().valid_fraction(0.25));
  auto options = [&](const std::string& sub) { return dcdm_options(4, 1e-3).batch_size(4).seed(6).output_dir((dir / sub).string()); };
  torch::manual_seed(2);
  auto full = std::make_shared<operators::DCDMNetImpl>(operators::DCDMNetOptions(2));
  train::Trainer tf(full, options("full"));
  auto rf = tf.fit(task);
  ASSERT_EQ(rf.size(), 4u);
  torch::manual_seed(2);
  auto part = std::make_shared<operators::DCDMNetImpl>(operators::DCDMNetOptions(2));
  EXPECT_EQ(train::Trainer(part, options("part").stop_after(1)).fit(task).size(), 1u);
  torch::manual_seed(77);  // another initialization: everything must come from the checkpoint
  auto resumed = std::make_shared<operators::DCDMNetImpl>(operators::DCDMNetOptions(2));
  train::Trainer tr(resumed, options("part"));
  tr.resume((dir / "part" / "last.h5").string());
  EXPECT_EQ(tr.epoch(), 1);
  auto rr = tr.fit(task);
  torch::set_num_threads(threads);
  ASSERT_EQ(rr.size(), 3u);
  test::expect_same_parameters(*full, *resumed);
  test::expect_same_adam_state(tf.optimizer(), tr.optimizer());
  EXPECT_EQ(tr.best_validation(), tf.best_validation());
  EXPECT_EQ(tr.best_epoch(), tf.best_epoch());
  EXPECT_EQ(rr.back().metric("valid_loss"), rf.back().metric("valid_loss"));
  const auto lines = test::log_lines_without_seconds(dir / "part" / "log.csv");
  EXPECT_EQ(lines, test::log_lines_without_seconds(dir / "full" / "log.csv"));
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0], "epoch,lr,train_loss,valid_loss");
  EXPECT_TRUE(std::filesystem::exists(dir / "part" / "best.h5"));
  EXPECT_TRUE(std::filesystem::exists(dir / "part" / "loss.png"));
}

// A learning rate that blows the weights up in the second epoch: NonFiniteError naming the
// divergence, and last.h5 still holds the finite weights of epoch 1.
TEST(DCDMTrain, DivergenceThrowsNonFiniteErrorAndKeepsLastGoodCheckpoint) {
  auto dir = test::scratch_dir();
  auto data = make_data(12, 8, 30);
  train::DCDMTask task(data.b, data.A, data.grid);
  torch::manual_seed(4);
  auto net = std::make_shared<operators::DCDMNetImpl>(operators::DCDMNetOptions(2));
  auto o = dcdm_options(3, 1e-3).output_dir((dir / "run").string());
  auto s = o.schedule();
  s.type = "step";
  s.step_size = 1;
  s.gamma = 1e36;  // epoch 1: lr 1e-3, epoch 2: lr 1e33 -> overflow
  o.schedule(s);
  train::Trainer t(net, o);
  bool thrown = false;
  try {
    t.fit(task);
  } catch (const NonFiniteError& e) {
    thrown = true;
    EXPECT_NE(std::string(e.what()).find("training diverged"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("epoch 2"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(thrown) << "expected physml::NonFiniteError";
  auto info = io::read_checkpoint_info((dir / "run" / "last.h5").string());
  EXPECT_EQ(std::get<std::int64_t>(info.state.at("epoch")), 1);
  auto good = operators::load((dir / "run" / "last.h5").string(), "dcdm");
  for (const auto& p : good->parameters()) EXPECT_TRUE(torch::isfinite(p).all().item<bool>());
  EXPECT_EQ(test::log_lines_without_seconds(dir / "run" / "log.csv").size(), 2u);
}

TEST(DCDMTrain, ThreeDimensionalObstacleSceneLeavesTheLossPlateau) {
  // Regression test for the plateau of session 2: on a 3D scene with a solid sphere,
  // the LibTorch default initialization kept the loss at ~0.99 for hundreds of batches
  // (unit-norm inputs have entries ~n^-1/2, drowned by random biases). With the paper's
  // Keras initialization 30 batches get well below q = b (the identity
  // "network"), which is a floor any useful direction must beat (30 batches of 10).
  const PetscInt m = 16;
  auto sphere = [&](PetscInt i, PetscInt j, PetscInt k) {
    auto c = [&](PetscInt a) { return (a + 0.5) / m - 0.5; };
    return c(i) * c(i) + c(j) * c(j) + c(k) * c(k) < 0.2 * 0.2;
  };
  Mat A = test::poisson_matrix({m, m, m}, sphere);
  Vec v0 = solvers::lanczos_start_vector(A, 1);
  auto ritz = solvers::ritz_pairs(solvers::lanczos(A, v0, 120));
  train::RitzDataset d;
  d.mask = solvers::solid_mask_from_matrix(A);
  ASSERT_LT(d.mask.sum().item<double>(), m * m * m - 100) << "the sphere should have over 100 solid cells";
  d.b = solvers::ritz_training_vectors(ritz, 120, 2) * d.mask.reshape({1, -1});
  d.b = d.b / d.b.norm(2, 1, true);
  d.A = solvers::sparse_from_mat(A, torch::kDouble);
  d.grid = {m, m, m};
  VecDestroy(&v0);
  MatDestroy(&A);
  const at::Tensor Ad = d.A.to(torch::kDouble), bd = d.b.to(torch::kDouble);
  const double identity = operators::dcdm_loss(bd, bd, [&](const at::Tensor& x) { return operators::sparse_apply(Ad, x); })
                              .item<double>();
  torch::manual_seed(0);
  operators::DCDMNet net(operators::DCDMNetOptions(3).train_grid({m, m, m}));
  train::DCDMTask task(d.b, d.A, d.grid, d.mask, train::DCDMTaskOptions().valid_fraction(1.0 / 6));
  auto h = train::Trainer(net.ptr(), dcdm_options(3, 1e-3)).fit(task);
  EXPECT_LT(h.back().metric("valid_loss"), 0.5 * identity) << "q = b gives " << identity;
}

TEST(DCDMTrain, DatasetRoundTripAndBadInput) {
  auto dir = test::scratch_dir();
  auto data = make_data(12);
  const auto path = (dir / "ritz.pt").string();
  train::save_ritz_dataset(path, data);
  auto back = train::load_ritz_dataset(path);
  EXPECT_TRUE(torch::equal(back.b, data.b));
  EXPECT_TRUE(torch::equal(back.A.to_dense(), data.A.to_dense()));
  EXPECT_EQ(back.grid, data.grid);
  EXPECT_TRUE(torch::equal(back.mask, torch::ones({256})));  // no mask given: all fluid
  // It is a PhysML Dataset file (generator dcdm-ritz), with the matrix in CSR.
  {
    auto r = io::DatasetReader::open(path);
    EXPECT_EQ(r.info().generator, "dcdm-ritz");
    EXPECT_EQ(r.size("train"), 12);
    EXPECT_EQ(r.info().input_shape, (std::vector<int64_t>{1, 16, 16}));
    EXPECT_EQ(r.file().read("A/row_ptr").size(0), 257);
  }
  data.mask = (torch::arange(256) % 5 != 0).to(torch::kFloat);
  train::save_ritz_dataset(path, data);  // overwrites
  EXPECT_TRUE(torch::equal(train::load_ritz_dataset(path).mask, data.mask));
  {
    std::ofstream junk((dir / "junk.h5").string());
    junk << "not hdf5";
  }
  EXPECT_THROW_MSG(train::load_ritz_dataset((dir / "junk.h5").string()), "is not a DCDM Ritz data file");
  operators::DCDMNet net(operators::DCDMNetOptions(3));
  train::DCDMTask task(data.b, data.A, data.grid);
  EXPECT_THROW_MSG(train::Trainer(net.ptr(), dcdm_options(1, 1e-3)).fit(task), "the net is 3D but the grid has 2 sizes");
  operators::DCDMNet masked(operators::DCDMNetOptions(2).mask_channel(true));
  EXPECT_THROW_MSG(train::Trainer(masked.ptr(), dcdm_options(1, 1e-3)).fit(task), "takes a mask channel but no mask");
  auto fno = std::make_shared<operators::FNOImpl>(operators::FNOOptions(1, 1).modes({2, 2}).width(2));
  EXPECT_THROW_MSG(train::Trainer(fno, dcdm_options(1, 1e-3)).fit(task), "is a 'fno' model, expected a DCDM network");
  EXPECT_THROW_MSG(train::DCDMTask(data.b, data.A, {8, 8}), "expected b [N, 64]");
  EXPECT_THROW_MSG(train::DCDMTask(data.b, data.A, data.grid, torch::ones({10})), "expected a mask of 256 cells");
  EXPECT_THROW_MSG(train::DCDMTask(data.b.slice(0, 0, 0), data.A, data.grid),
                   "no training samples");
  auto bad = data.b.clone();
  bad[0][0] = NAN;
  EXPECT_THROW_MSG(train::DCDMTask(bad, data.A, data.grid), "NaN or Inf");
  EXPECT_THROW_MSG(train::load_ritz_dataset((dir / "nope.pt").string()), "does not exist");
}

// Loss-plateau diagnosis (docs/results-dcdm.md): on the actual Ritz training vectors the
// exact inverse must give loss ≈ 0, and q = b must give the analytic value of this loss
// (energy line search, not least squares): with b = Σ β_i v_i (A v_i = λ_i v_i, ‖b‖ = 1),
//   L(q = b) = Σ λ_i² β_i² / (Σ λ_i β_i²)² − 1,
// computed here in the eigenbasis of a dense eigensolve, independently of dcdm_loss.
TEST(DCDMTrain, ReferenceDirectionsOnRitzData) {
  auto data = make_data(20);
  const at::Tensor A = data.A.to_dense();
  const at::Tensor b = data.b.to(torch::kDouble);
  auto apply = [&](const at::Tensor& x) { return operators::sparse_apply(data.A, x); };
  const at::Tensor exact = torch::linalg_solve(A, b.t()).t();
  EXPECT_LT(operators::dcdm_loss(exact, b, apply).item<double>(), 1e-8);
  EXPECT_LT(operators::dcdm_loss(-3.5 * exact, b, apply).item<double>(), 1e-8);  // scale-invariant
  auto [lambda, V] = torch::linalg_eigh(A);
  const at::Tensor beta2 = torch::mm(b, V).pow(2);  // [N, n]
  const at::Tensor analytic =
      ((beta2 * lambda.pow(2)).sum(1) / (beta2 * lambda).sum(1).pow(2) - 1).mean();
  const double identity = operators::dcdm_loss(b, b, apply).item<double>();
  EXPECT_NEAR(identity, analytic.item<double>(), 1e-8 * analytic.item<double>());
  // The identity is far from the plateau value ≈ 1 seen in training (the low end carries
  // 81× the energy, so b is smooth and q = b is already a fair direction).
  EXPECT_LT(identity, 0.9);
  // The float32 data path used in training (float32 A, b, q) agrees with float64.
  auto apply32 = [&](const at::Tensor& x) { return operators::sparse_apply(data.A.to(torch::kFloat), x); };
  EXPECT_NEAR(operators::dcdm_loss(data.b, data.b, apply32).item<double>(), identity, 1e-4);
}

// Fixture of the `physml train -model dcdm` CLI tests (tests/cli/train.cmake): Ritz data of
// a 16x16 Poisson matrix with a solid block, as a dcdm-ritz Dataset file.
TEST(CliData, WriteTinyRitzDataset) {
  const std::filesystem::path dir = std::filesystem::path(PHYSML_TEST_DATA_DIR) / "cli_data";
  std::filesystem::create_directories(dir);
  Mat A = test::poisson_matrix({16, 16}, [](PetscInt i, PetscInt j, PetscInt) { return i >= 6 && i < 9 && j >= 7 && j < 10; });
  Vec v0 = solvers::lanczos_start_vector(A, 1);
  auto ritz = solvers::ritz_pairs(solvers::lanczos(A, v0, 100));
  train::RitzDataset d;
  d.mask = solvers::solid_mask_from_matrix(A);
  d.b = solvers::ritz_training_vectors(ritz, 60, 2) * d.mask.reshape({1, -1});
  d.b = d.b / d.b.norm(2, 1, true);
  d.A = solvers::sparse_from_mat(A, torch::kDouble);
  d.grid = {16, 16};
  VecDestroy(&v0);
  MatDestroy(&A);
  train::save_ritz_dataset((dir / "ritz16.h5").string(), d);
  EXPECT_EQ(train::load_ritz_dataset((dir / "ritz16.h5").string()).b.size(0), 60);
}

// ---- valid_its: held-out DCDM solves as the validation criterion (issue 17) ----

namespace {
/// Iterations of a PETSc KSP (type, PC) on b to ‖r‖/‖b‖ ≤ rtol, unpreconditioned norm, x0 = 0.
PetscInt petsc_iterations(Mat A, const at::Tensor& b_row, const char* type, const char* pc_type, double rtol,
                          std::shared_ptr<solvers::DirectionOperator> direction = nullptr) {
  solvers::register_petsc_types();
  const PetscInt n = b_row.numel();
  Vec b, x;
  PHYSML_PETSC(VecCreateSeq(PETSC_COMM_SELF, n, &b));
  PHYSML_PETSC(VecDuplicate(b, &x));
  {
    PetscScalar* a;
    PHYSML_PETSC(VecGetArray(b, &a));
    const at::Tensor c = b_row.to(torch::kDouble).contiguous();
    std::copy(c.data_ptr<double>(), c.data_ptr<double>() + n, a);
    PHYSML_PETSC(VecRestoreArray(b, &a));
  }
  KSP ksp;
  PHYSML_PETSC(KSPCreate(PETSC_COMM_SELF, &ksp));
  PHYSML_PETSC(KSPSetOperators(ksp, A, A));
  PHYSML_PETSC(KSPSetType(ksp, type));
  PHYSML_PETSC(KSPSetTolerances(ksp, rtol, 1e-50, PETSC_DEFAULT, 1000));
  PHYSML_PETSC(KSPSetNormType(ksp, KSP_NORM_UNPRECONDITIONED));
  PC pc;
  PHYSML_PETSC(KSPGetPC(ksp, &pc));
  PHYSML_PETSC(PCSetType(pc, pc_type));
  if (direction) {
    solvers::ksp_dcdm_set_direction(ksp, direction);
    solvers::DCDMSafeguard off;  // the network alone, as in dcdm_solve_batch
    off.window = 0;
    off.early_its = 0;
    off.fallback = false;
    solvers::ksp_dcdm_set_safeguard(ksp, off);
  }
  PHYSML_PETSC(KSPSolve(ksp, b, x));
  PetscInt its;
  KSPConvergedReason reason;
  PHYSML_PETSC(KSPGetIterationNumber(ksp, &its));
  PHYSML_PETSC(KSPGetConvergedReason(ksp, &reason));
  EXPECT_GT(reason, 0) << "the PETSc solve did not converge";
  KSPDestroy(&ksp);
  VecDestroy(&x);
  VecDestroy(&b);
  return its;
}

/// A 14 x 12 Poisson matrix with a 3 x 3 solid block (decoupled rows, diagonal 1) and its fluid mask.
Mat obstacle_matrix(at::Tensor* mask) {
  auto solid = [](PetscInt i, PetscInt j, PetscInt) { return i >= 5 && i < 8 && j >= 4 && j < 7; };
  *mask = torch::ones({12 * 14}, torch::kFloat);
  for (int j = 0; j < 12; ++j)
    for (int i = 0; i < 14; ++i)
      if (solid(i, j, 0)) (*mask)[j * 14 + i] = 0;
  return test::poisson_matrix({14, 12}, solid);
}
}  // namespace

// With q = r the batched DCDM is CG, with q = D⁻¹r Jacobi-PCG: the iteration counts are those
// of PETSc's KSPCG (PC none / jacobi) on the same right-hand sides, each one on its own.
TEST(DCDMValidSolves, BatchSolveWithClassicalDirectionsCountsLikePetscCG) {
  at::Tensor mask;
  Mat A = obstacle_matrix(&mask);
  const at::Tensor As = solvers::sparse_from_mat(A, torch::kDouble);
  const at::Tensor b = train::dcdm_validation_rhs({14, 12}, mask, 3, 5);
  at::Tensor diag = torch::zeros({14 * 12}, torch::kDouble);
  const at::Tensor on = As.indices()[0] == As.indices()[1];
  diag.index_add_(0, As.indices()[0].masked_select(on), As.values().masked_select(on));
  const auto identity = [](const at::Tensor& r) { return r; };
  const auto jacobi = [&](const at::Tensor& r) { return r / diag.reshape({1, -1}); };
  const auto cg = train::dcdm_solve_batch(identity, As, b, 1e-6, 500);
  const auto pcg = train::dcdm_solve_batch(jacobi, As, b, 1e-6, 500);
  for (int s = 0; s < 3; ++s) {
    SCOPED_TRACE("right-hand side " + std::to_string(s));
    const PetscInt its_cg = petsc_iterations(A, b[s], KSPCG, PCNONE, 1e-6);
    const PetscInt its_pcg = petsc_iterations(A, b[s], KSPCG, PCJACOBI, 1e-6);
    EXPECT_GT(its_cg, 15);
    EXPECT_EQ(cg.iterations[s].item<int64_t>(), its_cg);
    EXPECT_EQ(pcg.iterations[s].item<int64_t>(), its_pcg);
    EXPECT_LE(cg.relres[s].item<double>(), 1e-6);
    // the iterate solves the system: ‖b − A x‖ = relres ‖b‖ (recursive residual = true residual here)
    const at::Tensor res = b[s] - operators::sparse_apply(As, cg.x[s].reshape({1, -1})).reshape({-1});
    EXPECT_NEAR(res.norm().item<double>(), cg.relres[s].item<double>(), 1e-8);
  }
  // a cap below the need: every row reports the cap and a residual above rtol
  const auto capped = train::dcdm_solve_batch(identity, As, b, 1e-6, 5);
  EXPECT_TRUE((capped.iterations == 5).all().item<bool>());
  EXPECT_TRUE((capped.relres > 1e-6).all().item<bool>());
  MatDestroy(&A);
}

// The held-out right-hand sides: unit norm, zero in solid cells, a pure function of the seed.
TEST(DCDMValidSolves, ValidationRhsIsDeterministicUnderASeed) {
  at::Tensor mask;
  Mat A = obstacle_matrix(&mask);
  MatDestroy(&A);
  const at::Tensor b0 = train::dcdm_validation_rhs({14, 12}, mask, 4, 11);
  EXPECT_TRUE(torch::equal(b0, train::dcdm_validation_rhs({14, 12}, mask, 4, 11)));
  EXPECT_FALSE(torch::allclose(b0, train::dcdm_validation_rhs({14, 12}, mask, 4, 12)));
  EXPECT_TRUE(torch::allclose(b0.norm(2, 1), torch::ones({4}, torch::kDouble)));
  EXPECT_EQ((b0 * (1 - mask.to(torch::kDouble))).abs().max().item<double>(), 0.0);
  EXPECT_THROW_MSG(train::dcdm_validation_rhs({14, 12}, torch::ones({5}), 1, 0), "expected a mask of 168 cells");
}

// valid_its of a trained network is KSP dcdm's iteration count (safeguard off) with the same
// network on the same right-hand sides: the metric measures the solve a user runs.
TEST(DCDMValidSolves, ValidItsEqualsKspDcdmWithTheSameNetwork) {
  at::Tensor mask;
  Mat A = obstacle_matrix(&mask);
  const at::Tensor As = solvers::sparse_from_mat(A, torch::kDouble);
  Vec v0 = solvers::lanczos_start_vector(A, 1);
  auto ritz = solvers::ritz_pairs(solvers::lanczos(A, v0, 80));
  VecDestroy(&v0);
  at::Tensor b = solvers::ritz_training_vectors(ritz, 120, 2) * mask.reshape({1, -1});
  b = b / b.norm(2, 1, true);
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);
  torch::manual_seed(3);
  auto net = std::make_shared<operators::DCDMNetImpl>(operators::DCDMNetOptions(2));
  train::DCDMTask task(b, As, {14, 12}, mask, train::DCDMTaskOptions().valid_solves(3).valid_max_its(200));
  EXPECT_EQ(task.criterion(), "valid_its");
  const auto records = train::Trainer(net, dcdm_options(6, 1e-3)).fit(task);
  torch::set_num_threads(threads);
  const double valid_its = records.back().metric("valid_its");
  EXPECT_LT(valid_its, 60) << "the network did not learn (CG needs about 40)";
  net->eval();
  auto direction = std::make_shared<solvers::NetworkDirection>(net, std::vector<int64_t>{14, 12});
  direction->set_mask(mask);
  double sum = 0;
  for (int s = 0; s < 3; ++s) sum += petsc_iterations(A, task.validation_rhs()[s], "dcdm", PCJACOBI, 1e-6, direction);
  // float32 network on a batch of 3 vs one at a time may round differently: allow one iteration
  EXPECT_NEAR(valid_its, sum / 3, 1.0);
  MatDestroy(&A);
}

// best.h5 follows valid_its when -dcdm_valid_solves > 0: the Trainer's best value is the
// smallest valid_its of the run (not a valid_loss), at its first epoch, saved as the criterion;
// and the metric repeats bit for bit under the same seeds.
TEST(DCDMValidSolves, BestCheckpointFollowsValidItsAndIsDeterministic) {
  auto dir = test::scratch_dir();
  auto data = make_data(120);
  std::vector<double> its[2];
  for (int run = 0; run < 2; ++run) {
    const int threads = torch::get_num_threads();
    torch::set_num_threads(1);
    torch::manual_seed(4);
    auto net = std::make_shared<operators::DCDMNetImpl>(operators::DCDMNetOptions(2));
    train::DCDMTask task(data.b, data.A, data.grid, {}, train::DCDMTaskOptions().valid_solves(2).valid_max_its(150));
    train::Trainer trainer(net, dcdm_options(6, 1e-3).seed(1).output_dir((dir / std::to_string(run)).string()));
    const auto records = trainer.fit(task);
    torch::set_num_threads(threads);
    ASSERT_EQ(records.size(), 6u);
    double best = std::numeric_limits<double>::infinity();
    std::int64_t best_epoch = 0;
    for (const auto& r : records) {
      its[run].push_back(r.metric("valid_its"));
      if (r.metric("valid_its") < best) {
        best = r.metric("valid_its");
        best_epoch = r.epoch;
      }
    }
    EXPECT_EQ(trainer.best_validation(), best);
    EXPECT_EQ(trainer.best_epoch(), best_epoch);
    auto info = io::read_checkpoint_info((dir / std::to_string(run) / "best.h5").string());
    EXPECT_EQ(std::get<std::string>(info.state.at("criterion")), "valid_its");
    EXPECT_EQ(std::get<std::int64_t>(info.state.at("epoch")), best_epoch);
    EXPECT_EQ(test::log_lines_without_seconds(dir / std::to_string(run) / "log.csv")[0],
              "epoch,lr,train_loss,valid_loss,valid_its,valid_relres");
  }
  EXPECT_EQ(its[0], its[1]);
  EXPECT_GT(*std::max_element(its[0].begin(), its[0].end()), *std::min_element(its[0].begin(), its[0].end()))
      << "valid_its did not change over the run: the test cannot tell the criterion from the first epoch";
  // N = 0 keeps the Ritz loss as the criterion and no solves
  train::DCDMTask plain(data.b, data.A, data.grid);
  EXPECT_EQ(plain.criterion(), "valid_loss");
  EXPECT_EQ(plain.metric_names(), std::vector<std::string>{"valid_loss"});
  EXPECT_THROW_MSG(train::DCDMTask(data.b, data.A, data.grid, {}, train::DCDMTaskOptions().valid_solves(1).valid_rtol(2)),
                   "valid_rtol in (0, 1)");
}

// Data-parallel DCDM training (docs/parallel.md): 2 ranks with batch 3 each make the steps of
// one rank with batch 6, to rounding; batch 3 on one rank is another training (the test can
// fail). Run by the ctest train.mpi.data_parallel (mpiexec -n 2, filter *DataParallel*); on
// one rank it skips.
TEST(DCDMTrainDataParallelMPI, TwoRanksTrainAsOneRankWithTheDoubledBatch) {
  REQUIRE_TWO_RANKS("train.mpi.data_parallel");
  const int rank = test::world_rank();
  auto data = make_data(16, 8, 30);  // 12 training right-hand sides, 4 validation
  train::DCDMTask task(data.b, data.A, data.grid, {}, train::DCDMTaskOptions().valid_fraction(0.25));
  auto net = [](uint64_t seed) {
    torch::manual_seed(seed);
    return std::make_shared<operators::DCDMNetImpl>(operators::DCDMNetOptions(2));
  };
  auto two = net(rank == 0 ? 4 : 40);  // rank 1 starts elsewhere: the broadcast fixes that
  auto r2 = train::Trainer(two, dcdm_options(2, 1e-3).batch_size(3).seed(6)).fit(task);
  auto one = net(4), half = net(4);
  auto r1 = train::Trainer(one, dcdm_options(2, 1e-3).batch_size(6).seed(6), PETSC_COMM_SELF).fit(task);
  train::Trainer(half, dcdm_options(2, 1e-3).batch_size(3).seed(6), PETSC_COMM_SELF).fit(task);
  EXPECT_LT(test::max_relative_difference(*two, *one), 1e-4) << "2 ranks x 3 against 1 rank x 6";
  EXPECT_GT(test::max_relative_difference(*two, *half), 1e-3) << "2 ranks x 3 against 1 rank x 3";
  ASSERT_EQ(r2.size(), 2u);
  for (std::size_t e = 0; e < 2; ++e) {
    EXPECT_NEAR(r2[e].train_loss, r1[e].train_loss, 1e-5 * std::abs(r1[e].train_loss));
    EXPECT_NEAR(r2[e].metric("valid_loss"), r1[e].metric("valid_loss"), 1e-5 * std::abs(r1[e].metric("valid_loss")));
  }
}
