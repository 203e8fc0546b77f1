#include "physml/embed/learned_rhs.hpp"

#include "physml/core/views.hpp"

#include <torch/torch.h>

namespace physml::embed {

struct LearnedRHS::Impl {
  Model& model;
  PetscInt n;
  std::vector<std::int64_t> shape;
  Physics physics;
  std::vector<at::Tensor> params;
  PetscInt np = 0;
  Mat J = nullptr, Jp = nullptr;
  double t = 0;   // (t, u) of the last Jacobian evaluation PETSc asked for
  double scale = 1.0, shift = 0.0;  // the shell J is scale * dF/du + shift * I
  double p_scale = 1.0;             // the shell Jp is p_scale * dF/dp (implicit TS: -dF/dp)
  at::Tensor u;   // a copy [n]: PETSc may change its vector afterwards

  Impl(Model& m, PetscInt n_, std::vector<std::int64_t> s, Physics p)
      : model(m), n(n_), shape(std::move(s)), physics(std::move(p)) {
    PHYSML_CHECK(n > 0, "LearnedRHS: the state size must be positive, got ", n);
    PHYSML_CHECK(model.dtype() == petsc_scalar_type(), "LearnedRHS: the model has dtype ", c10::toString(model.dtype()),
                 ", PETSc's vectors ", c10::toString(petsc_scalar_type()), " (load it with dtype float64)");
    params = model.parameters();
    for (auto& q : params) {
      q.requires_grad_(true);
      np += static_cast<PetscInt>(q.numel());
    }
  }

  at::Tensor rhs(double time, const at::Tensor& state) const {
    const auto x = shape.empty() ? state : state.view(shape);
    auto f = model.forward_with_grad({x}).at(0).reshape({-1});
    PHYSML_CHECK(f.numel() == n, "LearnedRHS: the network maps the state of ", n, " entries to ", f.numel());
    if (physics) f = f + physics(time, state).reshape({-1});
    return f;
  }

  /// The stored state, as a leaf that requires grad, and F there.
  std::pair<at::Tensor, at::Tensor> linearization() const {
    PHYSML_CHECK(u.defined(), "LearnedRHS: a Jacobian product before TS evaluated the Jacobian");
    auto u0 = u.detach().clone().requires_grad_(true);
    return {u0, rhs(t, u0)};
  }

  /// grad of <f, w> w.r.t. `wrt`, undefined (unused) entries as zeros.
  static std::vector<at::Tensor> vjp(const at::Tensor& f, const std::vector<at::Tensor>& wrt, const at::Tensor& w,
                                     bool create_graph) {
    auto g = torch::autograd::grad({f}, wrt, {w}, /*retain_graph=*/true, create_graph, /*allow_unused=*/true);
    for (std::size_t i = 0; i < g.size(); ++i)
      if (!g[i].defined()) g[i] = torch::zeros_like(wrt[i]);
    return g;
  }

  /// J v by double backward: g(w) = J^T w is linear in w, and d<g, v>/dw = J v.
  static at::Tensor jvp(const at::Tensor& f, const std::vector<at::Tensor>& wrt, const std::vector<at::Tensor>& v) {
    auto w = torch::zeros_like(f).requires_grad_(true);
    auto g = vjp(f, wrt, w, /*create_graph=*/true);
    std::vector<at::Tensor> outs, vs;
    for (std::size_t i = 0; i < g.size(); ++i)
      if (g[i].requires_grad()) {
        outs.push_back(g[i]);
        vs.push_back(v[i]);
      }
    if (outs.empty()) return torch::zeros_like(f);  // F does not depend on `wrt`
    auto r = torch::autograd::grad(outs, {w}, vs, /*retain_graph=*/false, false, /*allow_unused=*/true)[0];
    return r.defined() ? r : torch::zeros_like(f);
  }

  std::vector<at::Tensor> split_parameters(const at::Tensor& flat) const {
    std::vector<at::Tensor> out;
    std::int64_t at = 0;
    for (const auto& q : params) {
      out.push_back(flat.narrow(0, at, q.numel()).view(q.sizes()));
      at += q.numel();
    }
    return out;
  }
};

namespace {

LearnedRHS::Impl& impl_of(Mat A) {
  void* ctx = nullptr;
  PHYSML_PETSC(MatShellGetContext(A, &ctx));
  return *static_cast<LearnedRHS::Impl*>(ctx);
}

/// Write `value` into the Vec `y` (same number of entries) and tell PETSc it changed.
void store(const at::Tensor& value, Vec y) {
  {
    auto dst = physml::as_tensor(y);
    dst.copy_(value.detach().reshape({-1}));
  }
  mark_modified(y);
}

PetscErrorCode rhs_function(TS, PetscReal t, Vec U, Vec F, void* ctx) {
  PHYSML_PETSC_CALLBACK(PETSC_COMM_SELF, {
    auto& impl = *static_cast<LearnedRHS::Impl*>(ctx);
    torch::NoGradGuard no_grad;
    auto u = physml::as_tensor_read(U);
    const auto x = impl.shape.empty() ? u : u.view(impl.shape);
    auto f = impl.model.forward(x).reshape({-1});
    PHYSML_CHECK(f.numel() == impl.n, "LearnedRHS: the network maps the state of ", impl.n, " entries to ", f.numel());
    if (impl.physics) f = f + impl.physics(t, u).reshape({-1});
    store(f, F);
  });
  return 0;
}

/// Store (t, u). An implicit TS turns the RHS Jacobian into shift I - J with MatScale and
/// MatShift on this very shell (our own ops, j_scale and j_shift); a new evaluation starts
/// again from dF/du.
PetscErrorCode rhs_jacobian(TS, PetscReal t, Vec U, Mat, Mat, void* ctx) {
  PHYSML_PETSC_CALLBACK(PETSC_COMM_SELF, {
    auto& impl = *static_cast<LearnedRHS::Impl*>(ctx);
    impl.t = t;
    impl.u = physml::as_tensor_read(U).clone();
    impl.scale = 1.0;
    impl.shift = 0.0;
  });
  return 0;
}

PetscErrorCode rhs_jacobian_p(TS, PetscReal t, Vec U, Mat, void* ctx) {
  PHYSML_PETSC_CALLBACK(PETSC_COMM_SELF, {
    auto& impl = *static_cast<LearnedRHS::Impl*>(ctx);
    impl.t = t;
    impl.u = physml::as_tensor_read(U).clone();
    impl.p_scale = 1.0;
  });
  return 0;
}

PetscErrorCode j_mult(Mat A, Vec x, Vec y) {  // y = (scale dF/du + shift I) x
  PHYSML_PETSC_CALLBACK(PETSC_COMM_SELF, {
    auto& impl = impl_of(A);
    torch::AutoGradMode grad(true);
    auto [u0, f] = impl.linearization();
    const auto xt = physml::as_tensor_read(x).clone();
    store(impl.scale * LearnedRHS::Impl::jvp(f, {u0}, {xt}) + impl.shift * xt, y);
  });
  return 0;
}

PetscErrorCode j_mult_transpose(Mat A, Vec w, Vec y) {  // y = (scale dF/du + shift I)^T w
  PHYSML_PETSC_CALLBACK(PETSC_COMM_SELF, {
    auto& impl = impl_of(A);
    torch::AutoGradMode grad(true);
    auto [u0, f] = impl.linearization();
    const auto wt = physml::as_tensor_read(w).clone();
    store(impl.scale * LearnedRHS::Impl::vjp(f, {u0}, wt, false)[0] + impl.shift * wt, y);
  });
  return 0;
}

PetscErrorCode j_scale(Mat A, PetscScalar a) {
  PHYSML_PETSC_CALLBACK(PETSC_COMM_SELF, {
    auto& impl = impl_of(A);
    impl.scale *= a;
    impl.shift *= a;
  });
  return 0;
}

PetscErrorCode jp_scale(Mat A, PetscScalar a) {
  PHYSML_PETSC_CALLBACK(PETSC_COMM_SELF, impl_of(A).p_scale *= a);
  return 0;
}

PetscErrorCode j_shift(Mat A, PetscScalar s) {
  PHYSML_PETSC_CALLBACK(PETSC_COMM_SELF, impl_of(A).shift += s);
  return 0;
}

PetscErrorCode jp_mult(Mat A, Vec dp, Vec y) {  // y = dF/dp dp
  PHYSML_PETSC_CALLBACK(PETSC_COMM_SELF, {
    auto& impl = impl_of(A);
    torch::AutoGradMode grad(true);
    auto [u0, f] = impl.linearization();
    store(impl.p_scale * LearnedRHS::Impl::jvp(f, impl.params, impl.split_parameters(physml::as_tensor_read(dp).clone())),
          y);
  });
  return 0;
}

PetscErrorCode jp_mult_transpose(Mat A, Vec w, Vec y) {  // y = (dF/dp)^T w, parameters flattened
  PHYSML_PETSC_CALLBACK(PETSC_COMM_SELF, {
    auto& impl = impl_of(A);
    torch::AutoGradMode grad(true);
    auto [u0, f] = impl.linearization();
    auto g = LearnedRHS::Impl::vjp(f, impl.params, physml::as_tensor_read(w).clone(), false);
    std::vector<at::Tensor> flat;
    for (auto& gi : g) flat.push_back(gi.reshape({-1}));
    store(impl.p_scale * torch::cat(flat), y);
  });
  return 0;
}

}  // namespace

LearnedRHS::LearnedRHS(Model& model, PetscInt n, std::vector<std::int64_t> shape, Physics physics)
    : impl_(std::make_unique<Impl>(model, n, std::move(shape), std::move(physics))) {
  PHYSML_PETSC(MatCreateShell(PETSC_COMM_SELF, n, n, n, n, impl_.get(), &impl_->J));
  PHYSML_PETSC(MatShellSetManageScalingShifts(impl_->J));  // j_scale / j_shift do it
  PHYSML_PETSC(MatShellSetOperation(impl_->J, MATOP_MULT, reinterpret_cast<void (*)(void)>(j_mult)));
  PHYSML_PETSC(
      MatShellSetOperation(impl_->J, MATOP_MULT_TRANSPOSE, reinterpret_cast<void (*)(void)>(j_mult_transpose)));
  PHYSML_PETSC(MatShellSetOperation(impl_->J, MATOP_SCALE, reinterpret_cast<void (*)(void)>(j_scale)));
  PHYSML_PETSC(MatShellSetOperation(impl_->J, MATOP_SHIFT, reinterpret_cast<void (*)(void)>(j_shift)));
  const PetscInt np = impl_->np;
  PHYSML_PETSC(MatCreateShell(PETSC_COMM_SELF, n, np, n, np, impl_.get(), &impl_->Jp));
  PHYSML_PETSC(MatShellSetManageScalingShifts(impl_->Jp));
  PHYSML_PETSC(MatShellSetOperation(impl_->Jp, MATOP_SCALE, reinterpret_cast<void (*)(void)>(jp_scale)));
  PHYSML_PETSC(MatShellSetOperation(impl_->Jp, MATOP_MULT, reinterpret_cast<void (*)(void)>(jp_mult)));
  PHYSML_PETSC(
      MatShellSetOperation(impl_->Jp, MATOP_MULT_TRANSPOSE, reinterpret_cast<void (*)(void)>(jp_mult_transpose)));
}

LearnedRHS::~LearnedRHS() {
  if (impl_) {
    MatDestroy(&impl_->J);
    MatDestroy(&impl_->Jp);
  }
}

void LearnedRHS::attach(TS ts) {
  PHYSML_CHECK(ts != nullptr, "LearnedRHS::attach: null TS");
  PHYSML_PETSC(TSSetRHSFunction(ts, nullptr, rhs_function, impl_.get()));
  PHYSML_PETSC(TSSetRHSJacobian(ts, impl_->J, impl_->J, rhs_jacobian, impl_.get()));
  PHYSML_PETSC(TSSetRHSJacobianP(ts, impl_->Jp, rhs_jacobian_p, impl_.get()));
}

at::Tensor LearnedRHS::rhs(double t, const at::Tensor& u) const { return impl_->rhs(t, u); }

PetscInt LearnedRHS::num_parameters() const { return impl_->np; }

Vec LearnedRHS::create_parameter_vec() const {
  Vec v;
  PHYSML_PETSC(VecCreateSeq(PETSC_COMM_SELF, impl_->np, &v));
  PHYSML_PETSC(VecSet(v, 0.0));
  return v;
}

}  // namespace physml::embed
