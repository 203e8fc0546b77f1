// Implicit (stiff) integration through PETSc TS: BDF, fully implicit ARKIMEX or Rosenbrock-W,
// with the right-hand side and its Jacobian (dense, one VJP per row) from LibTorch autograd.
#include "ode_internal.hpp"

#include "physml/core/error.hpp"

#include <petscts.h>

namespace physml::solvers::diffeq::internal {
namespace {

struct TsContext {
  const VectorField* f;
  std::vector<std::int64_t> shape;
  c10::ScalarType dtype;
  c10::Device device{c10::kCPU};
  std::int64_t nfe = 0, njac = 0;
};

at::Tensor vec_to_tensor(Vec v, const TsContext& c) {
  const PetscScalar* a = nullptr;
  PetscInt n = 0;
  PHYSML_PETSC(VecGetLocalSize(v, &n));
  PHYSML_PETSC(VecGetArrayRead(v, &a));
  auto t = torch::from_blob(const_cast<PetscScalar*>(a), {n}, torch::kDouble).clone();
  PHYSML_PETSC(VecRestoreArrayRead(v, &a));
  return t.view(c.shape).to(c.device, c.dtype);
}

at::Tensor batch_time(PetscReal t, const TsContext& c) {
  return torch::full({c.shape[0]}, static_cast<double>(t), torch::TensorOptions().dtype(torch::kDouble).device(c.device));
}

PetscErrorCode rhs(TS, PetscReal t, Vec U, Vec F, void* ctx) {
  auto* c = static_cast<TsContext*>(ctx);
  PHYSML_PETSC_CALLBACK(PETSC_COMM_SELF, {
    torch::NoGradGuard ng;
    auto y = vec_to_tensor(U, *c);
    auto fy = (*c->f)(batch_time(t, *c), y);
    PHYSML_CHECK(fy.sizes() == y.sizes(), "odeint (PETSc TS): vector field returned a shape different from the state's");
    auto fc = fy.to(torch::kCPU, torch::kDouble).contiguous();
    PetscScalar* a = nullptr;
    PHYSML_PETSC(VecGetArray(F, &a));
    std::copy(fc.data_ptr<double>(), fc.data_ptr<double>() + fc.numel(), a);
    PHYSML_PETSC(VecRestoreArray(F, &a));
    ++c->nfe;
  });
  return 0;
}

PetscErrorCode jacobian(TS, PetscReal t, Vec U, Mat A, Mat P, void* ctx) {
  auto* c = static_cast<TsContext*>(ctx);
  PHYSML_PETSC_CALLBACK(PETSC_COMM_SELF, {
    torch::AutoGradMode on(true);
    auto y = vec_to_tensor(U, *c).detach().requires_grad_(true);
    auto fy = (*c->f)(batch_time(t, *c), y).reshape({-1});
    const auto n = fy.numel();
    PetscScalar* a = nullptr;
    PHYSML_PETSC(MatDenseGetArray(P, &a));
    for (int64_t i = 0; i < n; ++i) {  // row i = d f_i / d y (one VJP per row)
      auto g = torch::autograd::grad({fy[i]}, {y}, {}, /*retain_graph=*/true, false, /*allow_unused=*/true)[0];
      auto gc = g.defined() ? g.reshape({-1}).to(torch::kCPU, torch::kDouble).contiguous() : torch::zeros({n}, torch::kDouble);
      const double* gp = gc.data_ptr<double>();
      for (int64_t j = 0; j < n; ++j) a[i + j * n] = gp[j];  // column-major
    }
    PHYSML_PETSC(MatDenseRestoreArray(P, &a));
    PHYSML_PETSC(MatAssemblyBegin(P, MAT_FINAL_ASSEMBLY));
    PHYSML_PETSC(MatAssemblyEnd(P, MAT_FINAL_ASSEMBLY));
    if (A != P) {
      PHYSML_PETSC(MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY));
      PHYSML_PETSC(MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY));
    }
    ++c->njac;
  });
  return 0;
}

}  // namespace

OdeSolution solve_petsc(const VectorField& f, const at::Tensor& y0, const at::Tensor& ts, const OdeOptions& o) {
  const std::string kind = o.method().substr(6);
  PHYSML_CHECK(kind == "bdf" || kind == "arkimex" || kind == "rosw", "odeint: unknown PETSc method '", o.method(),
               "'; expected petsc:bdf, petsc:arkimex or petsc:rosw");
  PHYSML_CHECK(o.gradient() == "backprop" && !o.event(),
               "odeint: PETSc TS methods support neither gradients nor events (the result is detached)");
  // The TS solution is computed outside autograd: with gradients being recorded, a detached
  // result would silently give zero gradients, so refuse instead.
  if (at::GradMode::is_enabled()) {
    bool needs_grad = y0.requires_grad();
    for (const auto& p : f.parameters()) needs_grad = needs_grad || p.requires_grad();
    if (!needs_grad) {  // a closure may capture trainable tensors that f.parameters() does not list: one probe
      auto t0 = torch::full({y0.size(0)}, ts[0].item<double>(), y0.options());
      needs_grad = f(t0, y0).requires_grad();
    }
    PHYSML_CHECK(!needs_grad, "odeint: method ", o.method(), " cannot differentiate its result (PETSc TS runs outside "
                 "autograd), but gradients are being recorded for y0 or the vector field's parameters; use an explicit "
                 "method (e.g. dopri5) for gradients, or evaluate under torch::NoGradGuard");
  }
  TsContext c{&f, y0.sizes().vec(), y0.scalar_type(), y0.device()};
  const PetscInt n = static_cast<PetscInt>(y0.numel());
  auto tc = ts.detach().to(torch::kCPU, torch::kDouble).contiguous();
  const double* tv = tc.data_ptr<double>();
  Vec u = nullptr;
  Mat J = nullptr;
  TS t = nullptr;
  std::vector<at::Tensor> out{y0.detach()};
  auto cleanup = [&] {
    if (t) TSDestroy(&t);
    if (J) MatDestroy(&J);
    if (u) VecDestroy(&u);
  };
  try {
    PHYSML_PETSC(VecCreateSeq(PETSC_COMM_SELF, n, &u));
    {
      auto yc = y0.detach().to(torch::kCPU, torch::kDouble).contiguous();
      PetscScalar* a = nullptr;
      PHYSML_PETSC(VecGetArray(u, &a));
      std::copy(yc.data_ptr<double>(), yc.data_ptr<double>() + n, a);
      PHYSML_PETSC(VecRestoreArray(u, &a));
    }
    PHYSML_PETSC(MatCreateSeqDense(PETSC_COMM_SELF, n, n, nullptr, &J));
    PHYSML_PETSC(TSCreate(PETSC_COMM_SELF, &t));
    PHYSML_PETSC(TSSetProblemType(t, TS_NONLINEAR));
    PHYSML_PETSC(TSSetType(t, kind == "bdf" ? TSBDF : kind == "arkimex" ? TSARKIMEX : TSROSW));
    if (kind == "arkimex") PHYSML_PETSC(TSARKIMEXSetFullyImplicit(t, PETSC_TRUE));
    PHYSML_PETSC(TSSetRHSFunction(t, nullptr, rhs, &c));
    PHYSML_PETSC(TSSetRHSJacobian(t, J, J, jacobian, &c));
    PHYSML_PETSC(TSSetTime(t, tv[0]));
    PHYSML_PETSC(TSSetTimeStep(t, o.dt() > 0 ? o.dt() : 1e-6 * std::max(1.0, tv[tc.numel() - 1] - tv[0])));
    PHYSML_PETSC(TSSetTolerances(t, o.atol(), nullptr, o.rtol(), nullptr));
    PHYSML_PETSC(TSSetMaxSteps(t, static_cast<PetscInt>(o.max_steps())));
    PHYSML_PETSC(TSSetExactFinalTime(t, TS_EXACTFINALTIME_MATCHSTEP));
    PHYSML_PETSC(TSSetOptionsPrefix(t, "diffeq_"));
    SNES snes;
    KSP ksp;
    PC pc;
    PHYSML_PETSC(TSGetSNES(t, &snes));
    PHYSML_PETSC(SNESGetKSP(snes, &ksp));
    PHYSML_PETSC(KSPSetType(ksp, KSPPREONLY));
    PHYSML_PETSC(KSPGetPC(ksp, &pc));
    PHYSML_PETSC(PCSetType(pc, PCLU));
    PHYSML_PETSC(TSSetFromOptions(t));
    PHYSML_PETSC(TSSetSolution(t, u));
    std::int64_t steps = 0;
    for (int64_t i = 1; i < tc.numel(); ++i) {
      PHYSML_PETSC(TSSetMaxTime(t, tv[i]));
      PHYSML_PETSC(TSSolve(t, u));
      TSConvergedReason reason;
      PHYSML_PETSC(TSGetConvergedReason(t, &reason));
      PetscReal now;
      PHYSML_PETSC(TSGetTime(t, &now));
      PHYSML_CHECK(reason >= 0, "odeint (", o.method(), "): PETSc TS diverged (reason ", TSConvergedReasons[reason],
                   ") at t = ", now, " before ts[", i, "] = ", tv[i]);
      PetscInt k;
      PHYSML_PETSC(TSGetStepNumber(t, &k));
      steps += k;
      out.push_back(vec_to_tensor(u, c));
    }
    OdeSolution sol;
    sol.ys = torch::stack(out);
    sol.stats.nfe = c.nfe;
    sol.stats.steps = sol.stats.accepted_max = steps;
    cleanup();
    return sol;
  } catch (...) {
    cleanup();
    throw;
  }
}

}  // namespace physml::solvers::diffeq::internal
