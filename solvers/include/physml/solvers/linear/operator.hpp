#pragma once
/// \file operator.hpp
/// One operator interface for classical and learned numerics (MFEM's Operator/Solver split,
/// linalg/operator.hpp), bridged to PETSc both ways:
///
///   PETSc -> PhysML   PetscMatOperator (a Mat as an Operator), KSPSolver (a KSP as a Solver)
///   PhysML -> PETSc   as_petsc_mat (any Operator as a MatShell), PC type "physml"
///                     (pc_physml.hpp: any Operator, e.g. a ModelOperator, as a preconditioner)
///
/// The primary form is `apply(Vec x, Vec y)`: PETSc vectors carry the parallel layout and
/// are viewed zero-copy as tensors where a network needs one (core/views.hpp). The tensor
/// form `apply(A, x)` below is a helper over it (one copy in, one out), for tests and
/// small drivers.
///
///   auto A = std::make_shared<physml::solvers::PetscMatOperator>(mat);
///   physml::solvers::KSPSolver cg(PETSC_COMM_WORLD, "inner_");   // -inner_ksp_type ...
///   cg.set_operator(A);
///   cg.apply(b, x);                                  // x ~ A^{-1} b
///   Mat shell = physml::solvers::as_petsc_mat(A);     // and back: a MatShell

#include <ATen/core/Tensor.h>
#include <petscksp.h>

#include <memory>
#include <string>

namespace physml::solvers {

/// y = A(x): a map between PETSc vectors. It may be nonlinear (a network; a Krylov solve
/// to a tolerance), then linear() is false and Krylov methods that use it as a
/// preconditioner must be flexible (FCG, FGMRES, GCR), not CG or GMRES.
/// apply is not const: applying may update internal state (a KSP's work vectors, counters).
class Operator {
public:
  /// rows()/cols() of an operator that acts on vectors of any size (the identity, a
  /// pointwise map, a direction defined only by its input).
  static constexpr PetscInt any_size = -1;

  virtual ~Operator() = default;
  /// Global length of y, or any_size.
  virtual PetscInt rows() const = 0;
  /// Global length of x, or any_size.
  virtual PetscInt cols() const = 0;
  /// rows() of a square operator; throws physml::Error if rows() != cols().
  PetscInt size() const;
  /// y = A(x). x and y are distinct Vecs of lengths cols() and rows().
  virtual void apply(Vec x, Vec y) = 0;
  /// Short description for KSPView / PCView / logs.
  virtual std::string name() const = 0;
  /// Whether apply is linear in x (default true; networks and inner Krylov solves are not).
  virtual bool linear() const { return true; }
};

/// The tensor form of A.apply: x (any shape, cols() entries, any dtype/device) is copied
/// to a float64 CPU Vec; returns y as float64 CPU [rows()], reshaped to x's shape when
/// A is square. Sequential (PETSC_COMM_SELF): for drivers and tests, not for a parallel solve.
at::Tensor apply(Operator& A, const at::Tensor& x);

/// An Operator that approximates the inverse of another: apply(b, x) gives x ~ A^{-1} b
/// for the operator given to set_operator (MFEM's Solver).
class Solver : public Operator {
public:
  /// The operator to invert. Sizes of the solver are those of A (transposed).
  virtual void set_operator(std::shared_ptr<Operator> A) = 0;
};

/// A PETSc Mat as an Operator: apply = MatMult. Holds a reference to the Mat
/// (PetscObjectReference) for its own lifetime.
class PetscMatOperator : public Operator {
public:
  explicit PetscMatOperator(Mat A);
  ~PetscMatOperator() override;
  PetscMatOperator(const PetscMatOperator&) = delete;
  PetscMatOperator& operator=(const PetscMatOperator&) = delete;
  PetscInt rows() const override;
  PetscInt cols() const override;
  void apply(Vec x, Vec y) override;
  std::string name() const override;
  Mat mat() const { return A_; }

private:
  Mat A_ = nullptr;
};

/// Any Operator as a PETSc MatShell on `comm` (MATOP_MULT calls op->apply; PETSc's default
/// row layout for the global sizes). The Mat shares ownership of `op` (a shared_ptr is the
/// shell's context, deleted by the shell's context destroy callback), so the operator lives
/// as long as the Mat; destroy the Mat with MatDestroy. C++ exceptions thrown by apply become
/// PETSc errors carrying the message. Throws physml::Error if op has any_size dimensions.
Mat as_petsc_mat(std::shared_ptr<Operator> op, MPI_Comm comm = PETSC_COMM_WORLD);

/// A PETSc KSP as a Solver: set_operator(A) gives the KSP A (the Mat itself for a
/// PetscMatOperator, else as_petsc_mat(A)) as operator and preconditioning matrix;
/// apply(b, x) = KSPSolve. Everything else comes from the KSP and its options prefix
/// (-<prefix>ksp_type, -<prefix>pc_type, tolerances, monitors), read by set_from_options().
class KSPSolver : public Solver {
public:
  /// A new KSP on `comm` with options prefix `prefix` (KSPSetFromOptions is called by
  /// set_from_options(), not here, so code can set defaults first through ksp()).
  explicit KSPSolver(MPI_Comm comm = PETSC_COMM_WORLD, const std::string& prefix = "");
  /// Wrap an existing KSP (takes a reference).
  explicit KSPSolver(KSP ksp);
  ~KSPSolver() override;
  KSPSolver(const KSPSolver&) = delete;
  KSPSolver& operator=(const KSPSolver&) = delete;

  void set_operator(std::shared_ptr<Operator> A) override;
  /// Use `M` (any Operator, e.g. a ModelOperator) as the preconditioner: the KSP's PC
  /// becomes type "physml" applying M (see pc_physml.hpp). A nonlinear M needs a flexible
  /// KSP (fcg, fgmres, gcr).
  void set_preconditioner(std::shared_ptr<Operator> M);
  /// KSPSetFromOptions.
  void set_from_options();
  /// Use x's content as the initial guess (KSPSetInitialGuessNonzero; default: zero).
  void set_initial_guess_nonzero(bool on);
  /// If true (default), apply throws physml::Error naming PETSc's converged reason when the
  /// solve does not converge; if false, check reason() yourself.
  void set_throw_on_divergence(bool on) { throw_on_divergence_ = on; }

  PetscInt rows() const override;
  PetscInt cols() const override;
  /// x = KSPSolve(b). Throws physml::Error if no operator was set.
  void apply(Vec b, Vec x) override;
  std::string name() const override;
  bool linear() const override { return false; }

  KSP ksp() const { return ksp_; }
  /// Iterations and converged reason of the last apply.
  PetscInt iterations() const;
  KSPConvergedReason reason() const;

private:
  KSP ksp_ = nullptr;
  std::shared_ptr<Operator> A_, M_;
  bool throw_on_divergence_ = true;
};

}  // namespace physml::solvers
