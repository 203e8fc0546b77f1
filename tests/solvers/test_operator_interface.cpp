// The one operator interface (operator.hpp) bridged to PETSc both ways: a Mat as an Operator,
// an Operator as a MatShell, a KSP as a Solver, a model as PC type "physml".
#include "dcdm_test_problems.hpp"
#include "physml/core/views.hpp"
#include "physml/operators/checkpoint.hpp"
#include "physml/operators/dcdm_net.hpp"
#include "physml/operators/normalized_model.hpp"
#include "physml/solvers/linear/dcdm.hpp"
#include "physml/solvers/linear/model_operator.hpp"
#include "physml/solvers/linear/operator.hpp"
#include "physml/solvers/linear/pc_physml.hpp"
#include "test_util.hpp"

#include <petscksp.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

using namespace physml;
using namespace physml::solvers;
using physml::test::poisson_matrix;
using physml::test::random_vec;
using physml::test::residual_history;

namespace {

at::Tensor to_tensor(Vec v) { return as_tensor_read(v).clone(); }

/// The matrix as a dense float64 tensor [n, n].
at::Tensor dense_of(Mat A) { return sparse_from_mat(A, torch::kDouble).to_dense(); }

/// y = W x for a dense W [m, n].
class DenseOperator : public Operator {
public:
  explicit DenseOperator(at::Tensor W) : W_(std::move(W)) {}
  PetscInt rows() const override { return W_.size(0); }
  PetscInt cols() const override { return W_.size(1); }
  void apply(Vec x, Vec y) override {
    ++calls;
    at::Tensor r = torch::matmul(W_, as_tensor_read(x));
    as_tensor(y).copy_(r);
    mark_modified(y);
  }
  std::string name() const override { return "dense"; }
  int calls = 0;

private:
  at::Tensor W_;
};

class Throwing : public DenseOperator {
public:
  using DenseOperator::DenseOperator;
  void apply(Vec, Vec) override { PHYSML_THROW("the operator failed on purpose"); }
};

/// q = r, a DCDM direction (of any size).
class CopyDirection : public DirectionOperator {
public:
  void apply(Vec r, Vec q) override { PHYSML_PETSC(VecCopy(r, q)); }
  std::string name() const override { return "copy"; }
};

/// A registered model "test_dense_map": forward(x [1, 1, ny, nx]) = W x.flatten(), W a
/// buffer [n, n]; config records n, the grid dimension and the channels (in_channels may be
/// set to 2 to test the channel check). Built with W = A^{-1} it is the perfect learned PC.
struct DenseMapModel : operators::Model {
  DenseMapModel(int64_t n, int64_t in_channels = 1) : Model("DenseMapModel"), in(in_channels) {
    W = register_buffer("W", torch::zeros({n, n}, torch::kDouble));  // float64: an exact inverse
  }
  at::Tensor forward(const at::Tensor& x) override {
    inputs.push_back(x.detach().clone());
    auto flat = x.reshape({-1}).to(W.dtype());
    return torch::matmul(W, flat).reshape(x.sizes());
  }
  std::string type() const override { return "test_dense_map"; }
  operators::ModelConfig config() const override {
    return {{"n", std::to_string(W.size(0))}, {"dim", "2"}, {"in_channels", std::to_string(in)}, {"out_channels", "1"}};
  }
  at::Tensor W;
  int64_t in;
  std::vector<at::Tensor> inputs;
};

void register_test_models() {
  const auto types = operators::registered_models();
  if (std::find(types.begin(), types.end(), "test_dense_map") != types.end()) return;
  operators::register_model("test_dense_map", [](const operators::ModelConfig& c) -> std::shared_ptr<operators::Model> {
    return std::make_shared<DenseMapModel>(std::stol(c.at("n")), std::stol(c.at("in_channels")));
  });
}

/// Save a DenseMapModel with weight W (float64) at `path`.
std::string save_dense_model(const std::filesystem::path& path, const at::Tensor& W, int64_t in_channels = 1) {
  register_test_models();
  DenseMapModel m(W.size(0), in_channels);
  m.to(torch::kDouble);
  m.W.copy_(W);
  operators::save(path.string(), m);
  return path.string();
}

void set_options(const std::vector<std::pair<std::string, std::string>>& kv) {
  for (const auto& [k, v] : kv) PHYSML_PETSC(PetscOptionsSetValue(nullptr, k.c_str(), v.empty() ? nullptr : v.c_str()));
}
void clear_options(const std::vector<std::pair<std::string, std::string>>& kv) {
  for (const auto& [k, v] : kv) PHYSML_PETSC(PetscOptionsClearValue(nullptr, k.c_str()));
}

struct Solve {
  PetscInt its = -1;
  KSPConvergedReason reason = KSP_CONVERGED_ITERATING;
  double true_relres = 0;
  std::vector<double> history;
};

/// KSP configured from options under `prefix` on A; solves A x = b from x = 0.
Solve solve_from_options(const std::string& prefix, Mat A, Vec b) {
  register_petsc_types();
  KSP ksp;
  Vec x, r;
  PHYSML_PETSC(VecDuplicate(b, &x));
  PHYSML_PETSC(VecDuplicate(b, &r));
  PHYSML_PETSC(KSPCreate(PETSC_COMM_SELF, &ksp));
  PHYSML_PETSC(KSPSetOptionsPrefix(ksp, prefix.c_str()));
  PHYSML_PETSC(KSPSetOperators(ksp, A, A));
  PHYSML_PETSC(KSPSetResidualHistory(ksp, nullptr, PETSC_DECIDE, PETSC_TRUE));
  PHYSML_PETSC(KSPSetFromOptions(ksp));
  Solve s;
  PetscErrorCode ierr = KSPSolve(ksp, b, x);
  if (ierr) {
    KSPDestroy(&ksp);
    VecDestroy(&x);
    VecDestroy(&r);
    PHYSML_PETSC(ierr);
  }
  PHYSML_PETSC(KSPGetIterationNumber(ksp, &s.its));
  PHYSML_PETSC(KSPGetConvergedReason(ksp, &s.reason));
  s.history = residual_history(ksp);
  PHYSML_PETSC(MatMult(A, x, r));
  PHYSML_PETSC(VecAYPX(r, -1.0, b));
  PetscReal rn, bn;
  PHYSML_PETSC(VecNorm(r, NORM_2, &rn));
  PHYSML_PETSC(VecNorm(b, NORM_2, &bn));
  s.true_relres = rn / bn;
  KSPDestroy(&ksp);
  VecDestroy(&x);
  VecDestroy(&r);
  return s;
}

}  // namespace

TEST(OperatorInterface, PetscMatOperatorIsMatMult) {
  Mat A = poisson_matrix({7, 5});
  Vec x = random_vec(35, 3), y, y_ref;
  PHYSML_PETSC(VecDuplicate(x, &y));
  PHYSML_PETSC(VecDuplicate(x, &y_ref));
  auto op = std::make_shared<PetscMatOperator>(A);
  EXPECT_EQ(op->rows(), 35);
  EXPECT_EQ(op->cols(), 35);
  EXPECT_EQ(op->size(), 35);
  op->apply(x, y);
  PHYSML_PETSC(MatMult(A, x, y_ref));
  const auto yt = to_tensor(y), yr = to_tensor(y_ref);
  EXPECT_GT(yr.abs().max().item<double>(), 0.1);
  EXPECT_TRUE(torch::equal(yt, yr));
  // The tensor form: same numbers, x's shape kept for a square operator.
  const auto yt2 = apply(*op, to_tensor(x).reshape({5, 7}));
  EXPECT_EQ(yt2.sizes(), (std::vector<int64_t>{5, 7}));
  EXPECT_TRUE(torch::equal(yt2.reshape(-1), yr));
  EXPECT_THROW_MSG(apply(*op, torch::zeros({34})), "34 entries, the operator has 35 columns");
  // The operator holds its own reference: the Mat outlives the caller's MatDestroy.
  MatDestroy(&A);
  op->apply(x, y);
  EXPECT_TRUE(torch::equal(to_tensor(y), yr));
  VecDestroy(&x);
  VecDestroy(&y);
  VecDestroy(&y_ref);
}

TEST(OperatorInterface, MatShellOfAnOperatorIsTheOperator) {
  torch::manual_seed(1);
  const at::Tensor W = torch::randn({6, 4}, torch::kDouble);
  auto op = std::make_shared<DenseOperator>(W);
  std::weak_ptr<DenseOperator> alive = op;
  Mat M = as_petsc_mat(op, PETSC_COMM_SELF);
  op.reset();  // the shell shares ownership
  ASSERT_FALSE(alive.expired());
  PetscInt m, n;
  PHYSML_PETSC(MatGetSize(M, &m, &n));
  EXPECT_EQ(m, 6);
  EXPECT_EQ(n, 4);
  Vec x = random_vec(4, 5), y;
  PHYSML_PETSC(VecCreateSeq(PETSC_COMM_SELF, 6, &y));
  PHYSML_PETSC(MatMult(M, x, y));
  EXPECT_TRUE(torch::allclose(to_tensor(y), torch::matmul(W, to_tensor(x)), 1e-14, 1e-14));
  EXPECT_EQ(alive.lock()->calls, 1);
  MatDestroy(&M);
  EXPECT_TRUE(alive.expired());  // the context destroy callback released it
  VecDestroy(&x);
  VecDestroy(&y);

  // A shell of a PETSc Mat through the interface: CG on it follows CG on the Mat exactly.
  Mat A = poisson_matrix({9, 8});
  Mat S = as_petsc_mat(std::make_shared<PetscMatOperator>(A), PETSC_COMM_SELF);
  Vec b = random_vec(72, 9);
  auto cg_history = [&](Mat op_mat) {
    KSP ksp;
    Vec xx;
    PHYSML_PETSC(VecDuplicate(b, &xx));
    PHYSML_PETSC(KSPCreate(PETSC_COMM_SELF, &ksp));
    PHYSML_PETSC(KSPSetOperators(ksp, op_mat, op_mat));
    PHYSML_PETSC(KSPSetType(ksp, KSPCG));
    PC pc;
    PHYSML_PETSC(KSPGetPC(ksp, &pc));
    PHYSML_PETSC(PCSetType(pc, PCNONE));
    PHYSML_PETSC(KSPSetTolerances(ksp, 1e-10, 1e-50, PETSC_DEFAULT, 500));
    PHYSML_PETSC(KSPSetResidualHistory(ksp, nullptr, PETSC_DECIDE, PETSC_TRUE));
    PHYSML_PETSC(KSPSolve(ksp, b, xx));
    auto h = residual_history(ksp);
    KSPDestroy(&ksp);
    VecDestroy(&xx);
    return h;
  };
  const auto h_mat = cg_history(A), h_shell = cg_history(S);
  ASSERT_GT(h_mat.size(), 10u);
  ASSERT_EQ(h_mat.size(), h_shell.size());
  for (size_t i = 0; i < h_mat.size(); ++i) EXPECT_NEAR(h_shell[i] / h_mat[i], 1.0, 1e-12) << i;
  MatDestroy(&S);
  // An exception inside apply is a PETSc error carrying the message.
  Mat T = as_petsc_mat(std::make_shared<Throwing>(torch::eye(72, torch::kDouble)), PETSC_COMM_SELF);
  Vec y2;
  PHYSML_PETSC(VecDuplicate(b, &y2));
  PetscPushErrorHandler(PetscReturnErrorHandler, nullptr);
  EXPECT_THROW_MSG(PHYSML_PETSC(MatMult(T, b, y2)), "the operator failed on purpose");
  PetscPopErrorHandler();
  // An operator without sizes cannot be a Mat.
  EXPECT_THROW_MSG(as_petsc_mat(std::make_shared<CopyDirection>(), PETSC_COMM_SELF), "acts on vectors of any size");
  MatDestroy(&T);
  VecDestroy(&y2);
  VecDestroy(&b);
  MatDestroy(&A);
}

TEST(OperatorInterface, KSPSolverSolvesToTolerance) {
  Mat A = poisson_matrix({12, 10});
  Vec x_exact = random_vec(120, 11), b, x;
  PHYSML_PETSC(VecDuplicate(x_exact, &b));
  PHYSML_PETSC(VecDuplicate(x_exact, &x));
  PHYSML_PETSC(MatMult(A, x_exact, b));
  KSPSolver cg(PETSC_COMM_SELF, "opiface_cg_");
  PHYSML_PETSC(KSPSetType(cg.ksp(), KSPCG));
  PHYSML_PETSC(KSPSetTolerances(cg.ksp(), 1e-12, 1e-50, PETSC_DEFAULT, 1000));
  EXPECT_THROW_MSG(cg.apply(b, x), "no operator");
  cg.set_operator(std::make_shared<PetscMatOperator>(A));
  cg.set_from_options();
  EXPECT_EQ(cg.rows(), 120);
  cg.apply(b, x);
  EXPECT_GT(cg.iterations(), 5);
  EXPECT_GT(cg.reason(), 0);
  const auto err = (to_tensor(x) - to_tensor(x_exact)).norm().item<double>() / to_tensor(x_exact).norm().item<double>();
  EXPECT_LT(err, 1e-9);
  // A Solver is an Operator: its MatShell applies A^{-1}, so A * shell(b) = b.
  auto inverse = std::make_shared<KSPSolver>(PETSC_COMM_SELF, "opiface_inv_");
  PHYSML_PETSC(KSPSetType(inverse->ksp(), KSPCG));
  PHYSML_PETSC(KSPSetTolerances(inverse->ksp(), 1e-13, 1e-50, PETSC_DEFAULT, 1000));
  inverse->set_operator(std::make_shared<PetscMatOperator>(A));
  EXPECT_FALSE(inverse->linear());
  const auto xt = apply(*inverse, to_tensor(b));
  EXPECT_LT((xt - to_tensor(x_exact)).norm().item<double>(), 1e-9 * to_tensor(x_exact).norm().item<double>());
  // Not converging within -ksp_max_it is an error naming the reason, unless asked otherwise.
  PHYSML_PETSC(KSPSetTolerances(cg.ksp(), 1e-12, 1e-50, PETSC_DEFAULT, 3));
  EXPECT_THROW_MSG(cg.apply(b, x), "DIVERGED_ITS after 3 iterations");
  cg.set_throw_on_divergence(false);
  cg.apply(b, x);
  EXPECT_EQ(cg.reason(), KSP_DIVERGED_ITS);
  // A KSP over an operator that is not a Mat (through its MatShell), preconditioned by any
  // Operator (PC physml): FGMRES with the exact inverse as preconditioner takes one step.
  KSPSolver fgmres(PETSC_COMM_SELF, "opiface_fgmres_");
  PHYSML_PETSC(KSPSetType(fgmres.ksp(), KSPFGMRES));
  PHYSML_PETSC(KSPSetTolerances(fgmres.ksp(), 1e-8, 1e-50, PETSC_DEFAULT, 50));
  fgmres.set_operator(std::make_shared<DenseOperator>(dense_of(A)));
  fgmres.set_preconditioner(inverse);
  fgmres.apply(b, x);
  EXPECT_EQ(fgmres.iterations(), 1);
  EXPECT_LT((to_tensor(x) - to_tensor(x_exact)).norm().item<double>(), 1e-8 * to_tensor(x_exact).norm().item<double>());
  VecDestroy(&x_exact);
  VecDestroy(&b);
  VecDestroy(&x);
  MatDestroy(&A);
}

TEST(PCPhysML, ExactInverseModelConvergesInOneIteration) {
  // A model whose output is exactly A^{-1} r (dense solve), saved and loaded through
  // operators::load from -pc_physml_model: the whole PC path, end to end.
  auto dir = test::scratch_dir();
  Mat A = poisson_matrix({8, 6});
  const auto Ad = dense_of(A);
  const auto path = save_dense_model(dir / "inverse.h5", torch::inverse(Ad));
  Vec b = random_vec(48, 4);
  for (const char* ksp : {"fgmres", "fcg"}) {
    const std::vector<std::pair<std::string, std::string>> opts = {
        {"-opi_ksp_type", ksp}, {"-opi_pc_type", "physml"}, {"-opi_pc_physml_model", path},
        {"-opi_pc_physml_grid", "8,6"}, {"-opi_pc_physml_dtype", "float64"}, {"-opi_ksp_rtol", "1e-10"},
        {"-opi_ksp_norm_type", "unpreconditioned"}, {"-opi_ksp_max_it", "20"}};
    set_options(opts);
    const auto s = solve_from_options("opi_", A, b);
    clear_options(opts);
    EXPECT_EQ(s.its, 1) << ksp;
    EXPECT_GT(s.reason, 0) << ksp;
    EXPECT_LT(s.true_relres, 1e-10) << ksp;
  }
  // Without the PC the same KSP needs many iterations (the test above is not vacuous).
  const std::vector<std::pair<std::string, std::string>> plain = {
      {"-opn_ksp_type", "fgmres"}, {"-opn_pc_type", "none"}, {"-opn_ksp_rtol", "1e-10"}, {"-opn_ksp_max_it", "200"}};
  set_options(plain);
  EXPECT_GT(solve_from_options("opn_", A, b).its, 10);
  clear_options(plain);
  VecDestroy(&b);
  MatDestroy(&A);
}

TEST(PCPhysML, LineSearchMakesTheCorrectionRightWhateverTheScalingOfA) {
  // The model is A0^{-1}; the system is c A0 (e.g. the Poisson matrix with the h^2 factor).
  // FGMRES does not care about the constant; Richardson (z used as the step) does: with the
  // line search it converges in one step, with the output as it comes (scale linear) every
  // step is c = 1/36 of the right one, so the residual only shrinks by (1 - c) per step.
  auto dir = test::scratch_dir();
  Mat A0 = poisson_matrix({6, 6});
  const auto path = save_dense_model(dir / "inverse.h5", torch::inverse(dense_of(A0)));
  Mat A;
  PHYSML_PETSC(MatDuplicate(A0, MAT_COPY_VALUES, &A));
  PHYSML_PETSC(MatScale(A, 1.0 / 36.0));
  Vec b = random_vec(36, 8);
  auto run = [&](const char* ksp, const char* scale) {
    const std::vector<std::pair<std::string, std::string>> opts = {
        {"-ops_ksp_type", ksp}, {"-ops_pc_type", "physml"}, {"-ops_pc_physml_model", path},
        {"-ops_pc_physml_scale", scale}, {"-ops_pc_physml_dtype", "float64"}, {"-ops_ksp_rtol", "1e-10"},
        {"-ops_ksp_norm_type", "unpreconditioned"}, {"-ops_ksp_max_it", "5"}};
    set_options(opts);
    const auto s = solve_from_options("ops_", A, b);
    clear_options(opts);
    return s;
  };
  auto s = run("fgmres", "linear");
  EXPECT_EQ(s.its, 1);
  EXPECT_LT(s.true_relres, 1e-10);
  for (const char* search : {"energy", "residual"}) {
    s = run("richardson", search);
    EXPECT_EQ(s.its, 1) << search;
    EXPECT_LT(s.true_relres, 1e-10) << search;
  }
  s = run("richardson", "linear");
  EXPECT_EQ(s.reason, KSP_DIVERGED_ITS);
  EXPECT_NEAR(s.true_relres, std::pow(35.0 / 36.0, 5), 1e-9);
  VecDestroy(&b);
  MatDestroy(&A);
  MatDestroy(&A0);
}

TEST(PCPhysML, BadInputGivesClearErrors) {
  auto dir = test::scratch_dir();
  Mat A = poisson_matrix({8, 6});
  Vec b = random_vec(48, 2);
  const auto good = save_dense_model(dir / "inverse.h5", torch::inverse(dense_of(A)));
  auto fails = [&](const std::vector<std::pair<std::string, std::string>>& extra, const std::string& message) {
    std::vector<std::pair<std::string, std::string>> opts = {{"-opb_ksp_type", "fgmres"}, {"-opb_pc_type", "physml"}};
    opts.insert(opts.end(), extra.begin(), extra.end());
    set_options(opts);
    PetscPushErrorHandler(PetscReturnErrorHandler, nullptr);
    EXPECT_THROW_MSG(solve_from_options("opb_", A, b), message);
    PetscPopErrorHandler();
    clear_options(opts);
  };
  fails({}, "PC physml: no model; give -pc_physml_model FILE");
  fails({{"-opb_pc_physml_model", (dir / "missing.h5").string()}}, "missing.h5' does not exist");
  // A model mapping two channels to one is not a residual -> correction map.
  const auto two = save_dense_model(dir / "two.h5", torch::eye(48, torch::kDouble), 2);
  fails({{"-opb_pc_physml_model", two}, {"-opb_pc_physml_grid", "8,6"}},
        "maps 2 input channel(s) to 1; a residual -> correction operator needs a model mapping 1 channel to 1");
  // Grid and system size disagree; a non-square system without a grid.
  fails({{"-opb_pc_physml_model", good}, {"-opb_pc_physml_grid", "7,7"}}, "grid option has 49 cells but the system has 48");
  fails({{"-opb_pc_physml_model", good}},
        "cannot infer a 2D grid for a system of size 48 (not a perfect square); the model is 2D: give the grid with "
        "-pc_physml_grid nx,ny");
  fails({{"-opb_pc_physml_model", good}, {"-opb_pc_physml_grid", "8,6"}, {"-opb_pc_physml_scale", "huge"}},
        "unknown value 'huge'");
  // A NaN output is a NonFiniteError, surfaced as the solve's error.
  auto W = torch::inverse(dense_of(A));
  W[3][5] = NAN;
  const auto nan = save_dense_model(dir / "nan.h5", W);
  fails({{"-opb_pc_physml_model", nan}, {"-opb_pc_physml_grid", "8,6"}}, "contains NaN or Inf");
  // The operator itself: a NaN output throws the typed error.
  ModelOperator op(cached_model(nan), ModelOperatorOptions().set_grid({6, 8}));
  Vec z;
  PHYSML_PETSC(VecDuplicate(b, &z));
  EXPECT_THROW(op.apply(b, z), NonFiniteError);
  // A set operator of the wrong size.
  KSP ksp;
  PHYSML_PETSC(KSPCreate(PETSC_COMM_SELF, &ksp));
  PHYSML_PETSC(KSPSetOperators(ksp, A, A));
  PC pc;
  PHYSML_PETSC(KSPGetPC(ksp, &pc));
  register_petsc_types();
  PHYSML_PETSC(PCSetType(pc, "physml"));
  pc_physml_set_operator(pc, std::make_shared<DenseOperator>(torch::eye(47, torch::kDouble)));
  PetscPushErrorHandler(PetscReturnErrorHandler, nullptr);
  EXPECT_THROW_MSG(PHYSML_PETSC(KSPSetUp(ksp)), "is 47 x 47 but the matrix is 48 x 48");
  PetscPopErrorHandler();
  PHYSML_PETSC(PCSetType(pc, PCJACOBI));
  EXPECT_THROW_MSG(pc_physml_set_operator(pc, std::make_shared<CopyDirection>()), "not of type physml");
  KSPDestroy(&ksp);
  VecDestroy(&z);
  VecDestroy(&b);
  MatDestroy(&A);
}

TEST(ModelOperator, ScalesPadsAndCropsAsDocumented) {
  register_test_models();
  // An identity "model" on the padded grid: y = x exactly, whatever the input scale.
  auto model = std::make_shared<DenseMapModel>(8 * 10);
  {
    torch::NoGradGuard ng;
    model->W.copy_(torch::eye(80));
  }
  ModelOperator op(model, ModelOperatorOptions().set_grid({6, 8}).set_pad(1).set_input_rms(0.5));
  EXPECT_EQ(op.rows(), 48);
  EXPECT_DOUBLE_EQ(op.input_rms(), 0.5);
  Vec x = random_vec(48, 6), y;
  PHYSML_PETSC(VecDuplicate(x, &y));
  PHYSML_PETSC(VecScale(x, 1e4));  // the model sees RMS 0.5 anyway
  op.apply(x, y);
  ASSERT_EQ(model->inputs.size(), 1u);
  const auto in = model->inputs[0];
  EXPECT_EQ(in.sizes(), (std::vector<int64_t>{1, 1, 8, 10}));
  // The padding ring is zero, the interior is x in tensor order [ny, nx] with RMS 0.5.
  EXPECT_EQ(in[0][0][0].abs().max().item<float>(), 0.0f);
  EXPECT_EQ(in[0][0].select(1, 9).abs().max().item<float>(), 0.0f);
  const auto interior = in[0][0].slice(0, 1, 7).slice(1, 1, 9);
  EXPECT_NEAR(interior.pow(2).mean().sqrt().item<double>(), 0.5, 1e-6);
  const auto xt = to_tensor(x);
  EXPECT_TRUE(torch::allclose(interior.to(torch::kDouble).reshape(-1) / interior.to(torch::kDouble).norm(),
                              xt / xt.norm(), 1e-6, 1e-7));
  EXPECT_TRUE(torch::allclose(to_tensor(y), xt, 1e-5, 1e-6 * xt.abs().max().item<double>()));
  // Without the output rescaling y is the model's output on the scaled input (RMS 0.5).
  ModelOperator raw(model, ModelOperatorOptions().set_grid({6, 8}).set_pad(1).set_input_rms(0.5).set_rescale_output(false));
  raw.apply(x, y);
  EXPECT_NEAR(to_tensor(y).pow(2).mean().sqrt().item<double>(), 0.5, 1e-6);
  // Zero in, zero out (no division by a zero norm).
  PHYSML_PETSC(VecSet(x, 0.0));
  op.apply(x, y);
  EXPECT_EQ(to_tensor(y).abs().max().item<double>(), 0.0);
  // The input RMS defaults to that of the training inputs of a normalized model.
  operators::Normalizer xn("scalar"), yn("none");
  torch::manual_seed(2);
  xn->fit(3.0 * torch::randn({20, 1, 6, 8}) + 1.0);
  auto normalized = std::make_shared<operators::NormalizedModel>(model, xn, yn);
  EXPECT_NEAR(training_input_rms(*normalized), std::sqrt(1.0 + 9.0), 0.3);
  ModelOperator from_stats(normalized, ModelOperatorOptions().set_grid({8, 10}));
  EXPECT_NEAR(from_stats.input_rms(), training_input_rms(*normalized), 1e-12);
  EXPECT_EQ(training_input_rms(*model), 0.0);
  ModelOperator unit(model, ModelOperatorOptions().set_grid({8, 10}));
  EXPECT_EQ(unit.input_rms(), 1.0);
  // Wrong grid dimension for the model; wrong vector size.
  EXPECT_THROW_MSG(ModelOperator(model, ModelOperatorOptions().set_grid({2, 4, 10})), "is 2D but the grid has 3 sizes");
  Vec small = random_vec(10, 1);
  EXPECT_THROW_MSG(op.apply(small, small), "the vector has 10 local entries but the grid [6, 8] has 48");
  VecDestroy(&small);
  VecDestroy(&x);
  VecDestroy(&y);
}

TEST(PCPhysML, DCDMDirectionIsAnOperatorAndPCPhysMLReproducesPCDCDM) {
  // DCDM's network direction is one instance of the interface: PC physml applying it inside
  // FCG(2, standard) follows PC dcdm (and so DCDM) iteration for iteration; the line search
  // only rescales z, which FCG's own line search absorbs.
  Mat A = poisson_matrix({16, 16});
  Vec b = random_vec(256, 7), x;
  PHYSML_PETSC(VecDuplicate(b, &x));
  torch::manual_seed(3);
  auto net = std::make_shared<NetworkDirection>(std::make_shared<operators::DCDMNetImpl>(operators::DCDMNetOptions(2)),
                                                std::vector<int64_t>{16, 16});
  std::shared_ptr<Operator> as_operator = net;
  EXPECT_EQ(as_operator->rows(), 256);
  EXPECT_FALSE(as_operator->linear());
  register_petsc_types();
  auto history = [&](const char* pc_type, const char* scale) {
    KSP ksp;
    PHYSML_PETSC(KSPCreate(PETSC_COMM_SELF, &ksp));
    PHYSML_PETSC(KSPSetOperators(ksp, A, A));
    PHYSML_PETSC(KSPSetType(ksp, KSPFCG));
    PHYSML_PETSC(KSPFCGSetMmax(ksp, 2));
    PHYSML_PETSC(KSPFCGSetTruncationType(ksp, KSP_FCD_TRUNC_TYPE_STANDARD));
    PHYSML_PETSC(KSPSetNormType(ksp, KSP_NORM_UNPRECONDITIONED));
    PHYSML_PETSC(KSPSetTolerances(ksp, 1e-6, 1e-50, PETSC_DEFAULT, 25));
    PHYSML_PETSC(KSPSetResidualHistory(ksp, nullptr, PETSC_DECIDE, PETSC_TRUE));
    PC pc;
    PHYSML_PETSC(KSPGetPC(ksp, &pc));
    PHYSML_PETSC(PCSetType(pc, pc_type));
    if (std::string(pc_type) == "dcdm") {
      pc_dcdm_set_direction(pc, net);
    } else {
      pc_physml_set_operator(pc, net);
      PHYSML_PETSC(PetscOptionsSetValue(nullptr, "-pc_physml_scale", scale));
      PHYSML_PETSC(PCSetFromOptions(pc));
      PHYSML_PETSC(PetscOptionsClearValue(nullptr, "-pc_physml_scale"));
    }
    PHYSML_PETSC(KSPSolve(ksp, b, x));
    auto h = residual_history(ksp);
    if (std::string(pc_type) == "physml") {
      // FCG applies the PC to r_0 and after every iteration that did not converge.
      EXPECT_EQ(pc_physml_applications(pc), static_cast<int>(h.size()));
    }
    KSPDestroy(&ksp);
    return h;
  };
  const auto h_dcdm = history("dcdm", ""), h_linear = history("physml", "linear"),
             h_search = history("physml", "energy");
  ASSERT_GT(h_dcdm.size(), 5u);
  ASSERT_EQ(h_linear.size(), h_dcdm.size());
  ASSERT_EQ(h_search.size(), h_dcdm.size());
  for (size_t i = 0; i < h_dcdm.size(); ++i) {
    EXPECT_NEAR(h_linear[i] / h_dcdm[i], 1.0, 1e-12) << i;
    EXPECT_NEAR(h_search[i] / h_dcdm[i], 1.0, 1e-6) << i;
  }
  VecDestroy(&x);
  VecDestroy(&b);
  MatDestroy(&A);
}

TEST(PCPhysMLRegistration, SurvivesPetscFinalizeAndInitialize) {
  register_petsc_types();
  PHYSML_PETSC(PetscFinalize());
  PHYSML_PETSC(PetscInitializeNoArguments());
  PetscPushErrorHandler(PetscReturnErrorHandler, nullptr);
  register_petsc_types();
  PC pc;
  PHYSML_PETSC(PCCreate(PETSC_COMM_SELF, &pc));
  EXPECT_EQ(PCSetType(pc, "physml"), 0);
  PHYSML_PETSC(PCDestroy(&pc));
}
