#include "physml/solvers/linear/operator.hpp"

#include "physml/core/error.hpp"
#include "physml/core/views.hpp"
#include "physml/solvers/linear/pc_physml.hpp"

#include <torch/torch.h>

#include <sstream>

namespace physml::solvers {

PetscInt Operator::size() const {
  PHYSML_CHECK(rows() == cols(), "operator ", name(), " is ", rows(), " x ", cols(), ": expected a square operator");
  return rows();
}

at::Tensor apply(Operator& A, const at::Tensor& x) {
  PHYSML_CHECK(x.defined(), "apply(Operator, tensor): undefined input tensor");
  const PetscInt cols = A.cols(), rows = A.rows();
  PHYSML_CHECK(cols == Operator::any_size || x.numel() == cols, "apply(", A.name(), ", x): x has ", x.numel(),
               " entries, the operator has ", cols, " columns");
  at::Tensor xin = x.detach().to(torch::kCPU).to(petsc_scalar_type()).contiguous().reshape(-1).clone();
  const int64_t m = rows == Operator::any_size ? x.numel() : rows;
  at::Tensor y = torch::zeros({m}, torch::TensorOptions().dtype(petsc_scalar_type()));
  VecHandle xv(as_vec(xin)), yv(as_vec(y));
  A.apply(xv, yv);
  if (m == x.numel()) return y.reshape(x.sizes());
  return y;
}

// ---------------------------------------------------------------------------------------
// PetscMatOperator
// ---------------------------------------------------------------------------------------

PetscMatOperator::PetscMatOperator(Mat A) : A_(A) {
  PHYSML_CHECK(A_, "PetscMatOperator: null Mat");
  PHYSML_PETSC(PetscObjectReference((PetscObject)A_));
}

PetscMatOperator::~PetscMatOperator() { MatDestroy(&A_); }

PetscInt PetscMatOperator::rows() const {
  PetscInt m;
  PHYSML_PETSC(MatGetSize(A_, &m, nullptr));
  return m;
}

PetscInt PetscMatOperator::cols() const {
  PetscInt n;
  PHYSML_PETSC(MatGetSize(A_, nullptr, &n));
  return n;
}

void PetscMatOperator::apply(Vec x, Vec y) { PHYSML_PETSC(MatMult(A_, x, y)); }

std::string PetscMatOperator::name() const {
  MatType type;
  PHYSML_PETSC(MatGetType(A_, &type));
  std::ostringstream s;
  s << "PETSc Mat (" << (type ? type : "no type") << ", " << rows() << " x " << cols() << ")";
  return s.str();
}

// ---------------------------------------------------------------------------------------
// Any Operator as a MatShell
// ---------------------------------------------------------------------------------------

namespace {

PetscErrorCode MatMult_PhysMLOperator(Mat M, Vec x, Vec y) {
  void* ctx = nullptr;
  PetscCall(MatShellGetContext(M, &ctx));
  PHYSML_PETSC_CALLBACK(PetscObjectComm((PetscObject)M), {
    (*static_cast<std::shared_ptr<Operator>*>(ctx))->apply(x, y);
  });
  return 0;
}

PetscErrorCode MatDestroyContext_PhysMLOperator(void* ctx) {
  delete static_cast<std::shared_ptr<Operator>*>(ctx);
  return 0;
}

}  // namespace

Mat as_petsc_mat(std::shared_ptr<Operator> op, MPI_Comm comm) {
  PHYSML_CHECK(op, "as_petsc_mat: null operator");
  const PetscInt m = op->rows(), n = op->cols();
  PHYSML_CHECK(m != Operator::any_size && n != Operator::any_size, "as_petsc_mat: operator ", op->name(),
               " acts on vectors of any size; a MatShell needs its global sizes (rows(), cols())");
  Mat M;
  auto* ctx = new std::shared_ptr<Operator>(std::move(op));
  PetscErrorCode ierr = MatCreateShell(comm, PETSC_DECIDE, PETSC_DECIDE, m, n, ctx, &M);
  if (ierr) {
    delete ctx;
    PHYSML_PETSC(ierr);
  }
  // From here the shell owns ctx: MatDestroy calls the context destroy callback.
  PHYSML_PETSC(MatShellSetContextDestroy(M, MatDestroyContext_PhysMLOperator));
  PHYSML_PETSC(MatShellSetOperation(M, MATOP_MULT, (void (*)(void))MatMult_PhysMLOperator));
  PHYSML_PETSC(MatSetUp(M));
  return M;
}

// ---------------------------------------------------------------------------------------
// KSPSolver
// ---------------------------------------------------------------------------------------

KSPSolver::KSPSolver(MPI_Comm comm, const std::string& prefix) {
  PHYSML_PETSC(KSPCreate(comm, &ksp_));
  if (!prefix.empty()) PHYSML_PETSC(KSPSetOptionsPrefix(ksp_, prefix.c_str()));
}

KSPSolver::KSPSolver(KSP ksp) : ksp_(ksp) {
  PHYSML_CHECK(ksp_, "KSPSolver: null KSP");
  PHYSML_PETSC(PetscObjectReference((PetscObject)ksp_));
}

KSPSolver::~KSPSolver() { KSPDestroy(&ksp_); }

void KSPSolver::set_operator(std::shared_ptr<Operator> A) {
  PHYSML_CHECK(A, "KSPSolver::set_operator: null operator");
  A->size();  // a KSP inverts square operators only
  Mat M = nullptr;
  if (auto* m = dynamic_cast<PetscMatOperator*>(A.get())) {
    M = m->mat();
    PHYSML_PETSC(PetscObjectReference((PetscObject)M));
  } else {
    MPI_Comm comm;
    PHYSML_PETSC(PetscObjectGetComm((PetscObject)ksp_, &comm));
    M = as_petsc_mat(A, comm);
  }
  PetscErrorCode ierr = KSPSetOperators(ksp_, M, M);
  MatDestroy(&M);  // the KSP holds its own reference
  PHYSML_PETSC(ierr);
  A_ = std::move(A);
}

void KSPSolver::set_preconditioner(std::shared_ptr<Operator> M) {
  PHYSML_CHECK(M, "KSPSolver::set_preconditioner: null operator");
  register_petsc_types();
  PC pc;
  PHYSML_PETSC(KSPGetPC(ksp_, &pc));
  PHYSML_PETSC(PCSetType(pc, "physml"));
  pc_physml_set_operator(pc, M);
  M_ = std::move(M);
}

void KSPSolver::set_from_options() { PHYSML_PETSC(KSPSetFromOptions(ksp_)); }

void KSPSolver::set_initial_guess_nonzero(bool on) {
  PHYSML_PETSC(KSPSetInitialGuessNonzero(ksp_, on ? PETSC_TRUE : PETSC_FALSE));
}

PetscInt KSPSolver::rows() const { return A_ ? A_->cols() : any_size; }
PetscInt KSPSolver::cols() const { return A_ ? A_->rows() : any_size; }

void KSPSolver::apply(Vec b, Vec x) {
  PHYSML_CHECK(A_, "KSPSolver: no operator; call set_operator(A) before apply");
  PHYSML_PETSC(KSPSolve(ksp_, b, x));
  const KSPConvergedReason r = reason();
  if (throw_on_divergence_ && r < 0) {
    PHYSML_THROW("KSPSolver (", name(), "): the solve did not converge: ", KSPConvergedReasons[r], " after ",
                 iterations(), " iterations; expected a positive converged reason (raise -ksp_max_it, change the "
                 "preconditioner, or call set_throw_on_divergence(false))");
  }
}

std::string KSPSolver::name() const {
  KSPType kt;
  PC pc;
  PCType pt;
  PHYSML_PETSC(KSPGetType(ksp_, &kt));
  PHYSML_PETSC(KSPGetPC(ksp_, &pc));
  PHYSML_PETSC(PCGetType(pc, &pt));
  return std::string("KSP ") + (kt ? kt : "(default)") + " + PC " + (pt ? pt : "(default)");
}

PetscInt KSPSolver::iterations() const {
  PetscInt its;
  PHYSML_PETSC(KSPGetIterationNumber(ksp_, &its));
  return its;
}

KSPConvergedReason KSPSolver::reason() const {
  KSPConvergedReason r;
  PHYSML_PETSC(KSPGetConvergedReason(ksp_, &r));
  return r;
}

}  // namespace physml::solvers
