#include "physml/operators/nclaw.hpp"

#include "config_text.hpp"
#include "gelu_kernels.hpp"
#include "physml/core/error.hpp"
#include "physml/core/options_reader.hpp"
#include "physml/physics/constitutive.hpp"

#include <torch/torch.h>

#include <Eigen/Core>
#include <Eigen/LU>  // determinant

#include <atomic>
#include <cstdio>
#include <limits>

namespace physml::operators {
namespace {

using detail::shape_text;
template <typename T>
using RowMat3 = Eigen::Matrix<T, 3, 3, Eigen::RowMajor>;

void check_F(const at::Tensor& F, const char* who) {
  PHYSML_CHECK(F.defined() && F.dim() == 3 && F.size(1) == 3 && F.size(2) == 3, who,
               " expects deformation gradients F of shape [N, 3, 3], got ",
               F.defined() ? shape_text(F.sizes()) : std::string("an undefined tensor"));
}

/// Per-particle signed SVD over a contiguous [N, 3, 3] tensor of T.
template <typename T>
void svd_forward(const at::Tensor& F, at::Tensor& U, at::Tensor& S, at::Tensor& V) {
  const auto N = F.size(0);
  const T* f = F.data_ptr<T>();
  T* u = U.data_ptr<T>();
  T* s = S.data_ptr<T>();
  T* v = V.data_ptr<T>();
  std::atomic<std::int64_t> bad{std::numeric_limits<std::int64_t>::max()};
  at::parallel_for(0, N, 64, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      const physics::Mat3<T> Fi = Eigen::Map<const RowMat3<T>>(f + 9 * i);
      if (!Fi.allFinite()) {
        std::int64_t cur = bad.load();
        while (i < cur && !bad.compare_exchange_weak(cur, i)) {
        }
        continue;
      }
      const auto r = physics::signed_svd<T, 3>(Fi);
      Eigen::Map<RowMat3<T>>(u + 9 * i) = r.U;
      Eigen::Map<physics::Vec3<T>>(s + 3 * i) = r.sigma;
      Eigen::Map<RowMat3<T>>(v + 9 * i) = r.V;
    }
  });
  if (bad.load() != std::numeric_limits<std::int64_t>::max()) {
    const auto i = bad.load();
    std::string entries;
    for (int k = 0; k < 9; ++k) entries += (k ? ", " : "") + std::to_string(static_cast<double>(f[9 * i + k]));
    throw NonFiniteError(physml::detail::concat("batch_signed_svd: F[", i, "] has non-finite entries (NaN or inf): [",
                                        entries, "]; expected a finite deformation gradient"),
                         __FILE__, __LINE__);
  }
}

template <typename T>
at::Tensor svd_backward(const at::Tensor& U, const at::Tensor& S, const at::Tensor& V, const at::Tensor& gU,
                        const at::Tensor& gS, const at::Tensor& gV) {
  const auto N = U.size(0);
  auto dF = torch::empty_like(U);
  const T *u = U.data_ptr<T>(), *s = S.data_ptr<T>(), *v = V.data_ptr<T>();
  const T *gu = gU.data_ptr<T>(), *gs = gS.data_ptr<T>(), *gv = gV.data_ptr<T>();
  T* df = dF.data_ptr<T>();
  at::parallel_for(0, N, 64, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      physics::SignedSvd<T, 3> r{Eigen::Map<const RowMat3<T>>(u + 9 * i), Eigen::Map<const physics::Vec3<T>>(s + 3 * i),
                                 Eigen::Map<const RowMat3<T>>(v + 9 * i)};
      Eigen::Map<RowMat3<T>>(df + 9 * i) = physics::signed_svd_backward<T, 3>(
          r, Eigen::Map<const RowMat3<T>>(gu + 9 * i), Eigen::Map<const physics::Vec3<T>>(gs + 3 * i),
          Eigen::Map<const RowMat3<T>>(gv + 9 * i));
    }
  });
  return dF;
}

/// The autograd node of batch_signed_svd.
class SignedSvdFunction : public torch::autograd::Function<SignedSvdFunction> {
public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const at::Tensor& F) {
    auto Fc = F.contiguous();
    auto U = torch::empty_like(Fc), V = torch::empty_like(Fc);
    auto S = torch::empty({Fc.size(0), 3}, Fc.options());
    if (Fc.scalar_type() == torch::kDouble)
      svd_forward<double>(Fc, U, S, V);
    else
      svd_forward<float>(Fc, U, S, V);
    ctx->save_for_backward({U, S, V});
    return {U, S, V};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    PHYSML_CHECK(!torch::GradMode::is_enabled(),
                 "batch_signed_svd: second derivatives (backward with create_graph = true) are not implemented");
    const auto saved = ctx->get_saved_variables();
    const auto &U = saved[0], &S = saved[1], &V = saved[2];
    auto grad = [](const at::Tensor& g, const at::Tensor& like) {
      return g.defined() ? g.contiguous() : torch::zeros_like(like);
    };
    const auto gU = grad(grads[0], U), gS = grad(grads[1], S), gV = grad(grads[2], V);
    if (U.scalar_type() == torch::kDouble) return {svd_backward<double>(U, S, V, gU, gS, gV)};
    return {svd_backward<float>(U, S, V, gU, gS, gV)};
  }
};

/// The NCLaw features and R = U V^T of F in one pass per particle (the signed SVD, F^T F - I,
/// det F - 1), with the adjoint of all three written out: dL/dF = svd_backward(dU = gR V,
/// dsigma = g_sigma, dV = gR^T U) + F (G + G^T) + g_det cof F (G = the gradient of F^T F as 3x3).
template <typename T>
void features_forward(const at::Tensor& F, const at::Tensor& U, const at::Tensor& S, const at::Tensor& V,
                      at::Tensor& X, at::Tensor& R) {
  const auto N = F.size(0);
  const T *f = F.data_ptr<T>(), *u = U.data_ptr<T>(), *s = S.data_ptr<T>(), *v = V.data_ptr<T>();
  T *x = X.data_ptr<T>(), *r = R.data_ptr<T>();
  at::parallel_for(0, N, 256, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      const RowMat3<T> Fi = Eigen::Map<const RowMat3<T>>(f + 9 * i);
      const RowMat3<T> C = Fi.transpose() * Fi - RowMat3<T>::Identity();
      T* xi = x + 13 * i;
      for (int k = 0; k < 3; ++k) xi[k] = s[3 * i + k] - T(1);
      Eigen::Map<RowMat3<T>>(xi + 3) = C;
      xi[12] = Fi.determinant() - T(1);
      Eigen::Map<RowMat3<T>>(r + 9 * i) =
          Eigen::Map<const RowMat3<T>>(u + 9 * i) * Eigen::Map<const RowMat3<T>>(v + 9 * i).transpose();
    }
  });
}

template <typename T>
at::Tensor features_backward(const at::Tensor& F, const at::Tensor& U, const at::Tensor& S, const at::Tensor& V,
                             const at::Tensor& gX, const at::Tensor& gR) {
  const auto N = F.size(0);
  auto dF = torch::empty_like(F);
  const T *f = F.data_ptr<T>(), *u = U.data_ptr<T>(), *s = S.data_ptr<T>(), *v = V.data_ptr<T>();
  const T *gx = gX.data_ptr<T>(), *gr = gR.data_ptr<T>();
  T* df = dF.data_ptr<T>();
  at::parallel_for(0, N, 256, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      const RowMat3<T> Fi = Eigen::Map<const RowMat3<T>>(f + 9 * i);
      physics::SignedSvd<T, 3> svd{Eigen::Map<const RowMat3<T>>(u + 9 * i), Eigen::Map<const physics::Vec3<T>>(s + 3 * i),
                                   Eigen::Map<const RowMat3<T>>(v + 9 * i)};
      const RowMat3<T> Gr = Eigen::Map<const RowMat3<T>>(gr + 9 * i);
      const T* g = gx + 13 * i;
      const physics::Mat3<T> dU = Gr * svd.V, dV = Gr.transpose() * svd.U;
      const physics::Vec3<T> dsigma(g[0], g[1], g[2]);
      const RowMat3<T> G = Eigen::Map<const RowMat3<T>>(g + 3);
      const physics::Mat3<T> Fc = Fi;
      Eigen::Map<RowMat3<T>>(df + 9 * i) = physics::signed_svd_backward<T, 3>(svd, dU, dsigma, dV) +
                                           Fc * (G + G.transpose()) + g[12] * physics::cofactor<T>(Fc);
    }
  });
  return dF;
}

/// The autograd node of nclaw_features: F -> (features [N, 13], R [N, 3, 3]).
class FeaturesFunction : public torch::autograd::Function<FeaturesFunction> {
public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const at::Tensor& F) {
    auto Fc = F.contiguous();
    const auto N = Fc.size(0);
    auto U = torch::empty_like(Fc), V = torch::empty_like(Fc), R = torch::empty_like(Fc);
    auto S = torch::empty({N, 3}, Fc.options());
    auto X = torch::empty({N, 13}, Fc.options());
    if (Fc.scalar_type() == torch::kDouble) {
      svd_forward<double>(Fc, U, S, V);
      features_forward<double>(Fc, U, S, V, X, R);
    } else {
      svd_forward<float>(Fc, U, S, V);
      features_forward<float>(Fc, U, S, V, X, R);
    }
    ctx->save_for_backward({Fc, U, S, V});
    return {X, R};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    PHYSML_CHECK(!torch::GradMode::is_enabled(),
                 "nclaw_features: second derivatives (backward with create_graph = true) are not implemented");
    const auto saved = ctx->get_saved_variables();
    const auto &F = saved[0], &U = saved[1], &S = saved[2], &V = saved[3];
    const auto gX = grads[0].defined() ? grads[0].contiguous() : torch::zeros({F.size(0), 13}, F.options());
    const auto gR = grads[1].defined() ? grads[1].contiguous() : torch::zeros_like(F);
    if (F.scalar_type() == torch::kDouble) return {features_backward<double>(F, U, S, V, gX, gR)};
    return {features_backward<float>(F, U, S, V, gX, gR)};
  }
};

/// out = R sym(X), or R sym(X) F^T when F is defined, X the MLP output [N, 9] read as row-major
/// 3x3, in one pass per particle. With M = R S, S = sym(X) and g = dL/dout:
/// dR = g S (g F S), dX = sym(R^T g) (sym(R^T g F)), dF = g^T M.
template <typename T>
void rotate_sym_forward(const at::Tensor& R, const at::Tensor& X, const at::Tensor& F, at::Tensor& out) {
  const T *r = R.data_ptr<T>(), *x = X.data_ptr<T>();
  const T* f = F.defined() ? F.data_ptr<T>() : nullptr;
  T* o = out.data_ptr<T>();
  at::parallel_for(0, R.size(0), 512, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      const RowMat3<T> Xi = Eigen::Map<const RowMat3<T>>(x + 9 * i);
      const RowMat3<T> M = Eigen::Map<const RowMat3<T>>(r + 9 * i) * (T(0.5) * (Xi + Xi.transpose()));
      if (f) Eigen::Map<RowMat3<T>>(o + 9 * i) = M * Eigen::Map<const RowMat3<T>>(f + 9 * i).transpose();
      else Eigen::Map<RowMat3<T>>(o + 9 * i) = M;
    }
  });
}

template <typename T>
void rotate_sym_backward(const at::Tensor& R, const at::Tensor& X, const at::Tensor& F, const at::Tensor& g,
                         at::Tensor& dR, at::Tensor& dX, at::Tensor& dF) {
  const T *r = R.data_ptr<T>(), *x = X.data_ptr<T>(), *gp = g.data_ptr<T>();
  const T* f = F.defined() ? F.data_ptr<T>() : nullptr;
  T *dr = dR.data_ptr<T>(), *dx = dX.data_ptr<T>();
  T* df = f ? dF.data_ptr<T>() : nullptr;
  at::parallel_for(0, R.size(0), 512, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      const RowMat3<T> Xi = Eigen::Map<const RowMat3<T>>(x + 9 * i);
      const RowMat3<T> Sym = T(0.5) * (Xi + Xi.transpose());
      const RowMat3<T> Ri = Eigen::Map<const RowMat3<T>>(r + 9 * i);
      const RowMat3<T> gi = Eigen::Map<const RowMat3<T>>(gp + 9 * i);
      RowMat3<T> gM = gi;  // dL/dM
      if (f) {
        gM = gi * Eigen::Map<const RowMat3<T>>(f + 9 * i);
        Eigen::Map<RowMat3<T>>(df + 9 * i) = gi.transpose() * (Ri * Sym);
      }
      Eigen::Map<RowMat3<T>>(dr + 9 * i) = gM * Sym;
      const RowMat3<T> gS = Ri.transpose() * gM;
      Eigen::Map<RowMat3<T>>(dx + 9 * i) = T(0.5) * (gS + gS.transpose());
    }
  });
}

/// Forward of R sym(X) [F^T] on contiguous tensors (F undefined: without F^T).
at::Tensor run_rotate_sym(const at::Tensor& R, const at::Tensor& X, const at::Tensor& F) {
  auto out = torch::empty_like(R);
  if (R.scalar_type() == torch::kDouble) rotate_sym_forward<double>(R, X, F, out);
  else rotate_sym_forward<float>(R, X, F, out);
  return out;
}

/// Backward of R sym(X) [F^T]: {dR, dX, dF} (dF undefined without F).
torch::autograd::variable_list run_rotate_sym_backward(const at::Tensor& R, const at::Tensor& X, const at::Tensor& F,
                                                       const at::Tensor& grad) {
  PHYSML_CHECK(!torch::GradMode::is_enabled(),
               "NCLaw stress: second derivatives (backward with create_graph = true) are not implemented");
  const auto g = grad.contiguous();
  auto dR = torch::empty_like(R), dX = torch::empty_like(X);
  auto dF = F.defined() ? torch::empty_like(F) : at::Tensor();
  if (R.scalar_type() == torch::kDouble) rotate_sym_backward<double>(R, X, F, g, dR, dX, dF);
  else rotate_sym_backward<float>(R, X, F, g, dR, dX, dF);
  return {dR, dX, dF};
}

/// The autograd node of R sym(X).
class RotateSymFunction : public torch::autograd::Function<RotateSymFunction> {
public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const at::Tensor& R,
                                                const at::Tensor& X) {
    auto Rc = R.contiguous(), Xc = X.contiguous();
    ctx->save_for_backward({Rc, Xc});
    return {run_rotate_sym(Rc, Xc, at::Tensor())};
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    auto d = run_rotate_sym_backward(saved[0], saved[1], at::Tensor(), grads[0]);
    return {d[0], d[1]};
  }
};

/// The autograd node of R sym(X) F^T.
class RotateSymFtFunction : public torch::autograd::Function<RotateSymFtFunction> {
public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const at::Tensor& R,
                                                const at::Tensor& X, const at::Tensor& F) {
    auto Rc = R.contiguous(), Xc = X.contiguous(), Fc = F.contiguous();
    ctx->save_for_backward({Rc, Xc, Fc});
    return {run_rotate_sym(Rc, Xc, Fc)};
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    return run_rotate_sym_backward(saved[0], saved[1], saved[2], grads[0]);
  }
};

/// R sym(X) [N, 3, 3] for R [N, 3, 3] and the MLP output X [N, 9].
at::Tensor rotate_sym(const at::Tensor& R, const at::Tensor& X) { return RotateSymFunction::apply(R, X)[0]; }

/// R sym(X) F^T [N, 3, 3].
at::Tensor rotate_sym_times_Ft(const at::Tensor& R, const at::Tensor& X, const at::Tensor& F) {
  return RotateSymFtFunction::apply(R, X, F)[0];
}

void check_hidden(const std::vector<std::int64_t>& hidden, const char* who) {
  PHYSML_CHECK(!hidden.empty(), who, ": hidden must list at least one layer width");
  for (auto h : hidden) PHYSML_CHECK(h >= 1, who, ": hidden layer widths must be >= 1, got ", detail::join(hidden));
}

/// Linear-layer weights [out, in] for in -> hidden... -> out, Xavier-uniform (NCLaw's init).
std::vector<at::Tensor> make_mlp(torch::nn::Module& m, std::int64_t in, const std::vector<std::int64_t>& hidden,
                                 std::int64_t out, std::vector<at::Tensor>* biases) {
  std::vector<std::int64_t> widths{in};
  widths.insert(widths.end(), hidden.begin(), hidden.end());
  widths.push_back(out);
  std::vector<at::Tensor> w;
  torch::NoGradGuard guard;
  for (std::size_t l = 0; l + 1 < widths.size(); ++l) {
    auto t = torch::empty({widths[l + 1], widths[l]});
    torch::nn::init::xavier_uniform_(t);
    w.push_back(m.register_parameter("weight" + std::to_string(l), t));
    if (biases) biases->push_back(m.register_parameter("bias" + std::to_string(l), torch::zeros({widths[l + 1]})));
  }
  return w;
}

/// The exact (erf) GELU on float64 CPU tensors through the vectorised kernels of
/// gelu_kernels.cpp (LibTorch 1.13 evaluates float64 erf one element at a time). First
/// derivatives only, like batch_signed_svd.
class Gelu64Function : public torch::autograd::Function<Gelu64Function> {
public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x) {
    auto xc = x.contiguous();
    auto y = torch::empty_like(xc);
    const double* px = xc.data_ptr<double>();
    double* py = y.data_ptr<double>();
    const std::int64_t n = xc.numel(), chunk = internal::kGeluChunk;
    at::parallel_for(0, (n + chunk - 1) / chunk, 256, [&](std::int64_t b, std::int64_t e) {
      internal::gelu_forward(px + b * chunk, py + b * chunk, std::min(n, e * chunk) - b * chunk);
    });
    ctx->save_for_backward({xc});
    return {y};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    PHYSML_CHECK(!torch::GradMode::is_enabled(),
                 "NCLaw GELU (float64): second derivatives (backward with create_graph = true) are not implemented");
    const auto x = ctx->get_saved_variables()[0];
    const auto gy = grads[0].contiguous();
    auto gx = torch::empty_like(x);
    const double *px = x.data_ptr<double>(), *pg = gy.data_ptr<double>();
    double* pgx = gx.data_ptr<double>();
    const std::int64_t n = x.numel(), chunk = internal::kGeluChunk;
    at::parallel_for(0, (n + chunk - 1) / chunk, 256, [&](std::int64_t b, std::int64_t e) {
      internal::gelu_backward(px + b * chunk, pg + b * chunk, pgx + b * chunk, std::min(n, e * chunk) - b * chunk);
    });
    return {gx};
  }
};

/// torch::gelu, with Gelu64Function for float64 CPU tensors.
at::Tensor gelu_exact(const at::Tensor& x) {
  if (x.scalar_type() == torch::kDouble && x.device().is_cpu()) return Gelu64Function::apply(x)[0];
  return torch::gelu(x);
}

/// MLP with GELU between layers (none after the last).
at::Tensor mlp(const at::Tensor& x, const std::vector<at::Tensor>& w, const std::vector<at::Tensor>* b) {
  at::Tensor h = x;
  for (std::size_t l = 0; l < w.size(); ++l) {
    h = b ? at::linear(h, w[l], (*b)[l]) : at::linear(h, w[l]);
    if (l + 1 < w.size()) h = gelu_exact(h);
  }
  return h;
}

void check_dtype(const at::Tensor& F, const at::Tensor& weight, const char* who) {
  PHYSML_CHECK(F.scalar_type() == weight.scalar_type(), who, ": F has dtype ", F.scalar_type(),
               " but the network's weights are ", weight.scalar_type(), "; convert one (model->to(dtype))");
}

std::string real_text(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

// ------------------------------------------------------------------------------------------
std::tuple<at::Tensor, at::Tensor, at::Tensor> batch_signed_svd(const at::Tensor& F) {
  check_F(F, "batch_signed_svd");
  PHYSML_CHECK(F.device().is_cpu(), "batch_signed_svd runs on CPU tensors, got F on ", F.device());
  PHYSML_CHECK(F.scalar_type() == torch::kFloat || F.scalar_type() == torch::kDouble,
               "batch_signed_svd expects float32 or float64 F, got ", F.scalar_type());
  auto out = SignedSvdFunction::apply(F);
  return {out[0], out[1], out[2]};
}

NCLawFeatures nclaw_features(const at::Tensor& F) {
  check_F(F, "nclaw_features");
  PHYSML_CHECK(F.device().is_cpu(), "nclaw_features runs on CPU tensors, got F on ", F.device());
  PHYSML_CHECK(F.scalar_type() == torch::kFloat || F.scalar_type() == torch::kDouble,
               "nclaw_features expects float32 or float64 F, got ", F.scalar_type());
  auto out = FeaturesFunction::apply(F);
  return {out[0], out[1]};
}

// ------------------------------------------------------------------------------------------
ModelConfig NCLawElasticOptions::to_config() const {
  return {{"hidden", detail::join(hidden())}, {"stress_scale", real_text(stress_scale())}};
}

namespace {
std::vector<std::int64_t> read_hidden(OptionsReader& r, const std::vector<std::int64_t>& hidden) {
  std::vector<long> h(hidden.begin(), hidden.end());
  h = r.int_list("hidden", h, "widths of the hidden layers");
  PHYSML_CHECK(!h.empty(), "option -", r.prefix(), "hidden: expected at least one hidden layer");
  for (long w : h) PHYSML_CHECK(w >= 1, "option -", r.prefix(), "hidden: width ", w, " must be positive");
  return std::vector<std::int64_t>(h.begin(), h.end());
}
double read_stress_scale(OptionsReader& r, double value) {
  value = r.real("stress_scale", value, "stress unit of the network output, Pa (NCLaw: 1)");
  PHYSML_CHECK(value > 0 && std::isfinite(value), "option -", r.prefix(), "stress_scale: expected a positive number, got ",
               value);
  return value;
}
void check_stress_scale(double s, const char* who) {
  PHYSML_CHECK(s > 0 && std::isfinite(s), who, ": stress_scale must be positive and finite, got ", s);
}
}  // namespace

NCLawElasticOptions& NCLawElasticOptions::set_from_options(const Options& options) {
  OptionsReader r(options, "NCLaw elastic network (13 invariants -> MLP, GELU, no biases)");
  hidden(read_hidden(r, hidden()));
  stress_scale(read_stress_scale(r, stress_scale()));
  r.end();
  return *this;
}

NCLawUnconstrainedOptions& NCLawUnconstrainedOptions::set_from_options(const Options& options) {
  OptionsReader r(options, "Unconstrained baseline law (MLP on vec(F - I))");
  hidden(read_hidden(r, hidden()));
  bias(r.boolean("bias", bias(), "biases in every linear layer"));
  stress_scale(read_stress_scale(r, stress_scale()));
  r.end();
  return *this;
}

NCLawElasticOptions NCLawElasticOptions::from_config(const ModelConfig& c) {
  const std::string m = "nclaw_elastic";
  detail::check_keys(m, c, {"hidden", "stress_scale"});
  NCLawElasticOptions o;
  if (auto* v = detail::find(c, "hidden")) o.hidden(detail::parse_int_list(m, "hidden", *v));
  if (auto* v = detail::find(c, "stress_scale")) o.stress_scale(detail::parse_real(m, "stress_scale", *v));
  return o;
}

NCLawElasticImpl::NCLawElasticImpl(NCLawElasticOptions options) : Model("NCLawElastic"), options_(std::move(options)) {
  check_hidden(options_.hidden(), "NCLawElastic");
  check_stress_scale(options_.stress_scale(), "NCLawElastic");
  weights_ = make_mlp(*this, 13, options_.hidden(), 9, nullptr);
}

at::Tensor NCLawElasticImpl::first_piola(const at::Tensor& F) {
  check_F(F, "NCLawElastic");
  check_dtype(F, weights_[0], "NCLawElastic");
  const auto in = nclaw_features(F);
  const auto P = rotate_sym(in.rotation, mlp(in.features, weights_, nullptr));
  return options_.stress_scale() == 1.0 ? P : options_.stress_scale() * P;
}

at::Tensor NCLawElasticImpl::forward(const at::Tensor& F) {
  check_F(F, "NCLawElastic");
  check_dtype(F, weights_[0], "NCLawElastic");
  const auto in = nclaw_features(F);
  const auto tau = rotate_sym_times_Ft(in.rotation, mlp(in.features, weights_, nullptr), F);
  return options_.stress_scale() == 1.0 ? tau : options_.stress_scale() * tau;
}

// ------------------------------------------------------------------------------------------
ModelConfig NCLawPlasticOptions::to_config() const {
  return {{"hidden", detail::join(hidden())}, {"alpha", real_text(alpha())}};
}

NCLawPlasticOptions NCLawPlasticOptions::from_config(const ModelConfig& c) {
  const std::string m = "nclaw_plastic";
  detail::check_keys(m, c, {"hidden", "alpha"});
  NCLawPlasticOptions o;
  if (auto* v = detail::find(c, "hidden")) o.hidden(detail::parse_int_list(m, "hidden", *v));
  if (auto* v = detail::find(c, "alpha")) o.alpha(detail::parse_real(m, "alpha", *v));
  return o;
}

NCLawPlasticImpl::NCLawPlasticImpl(NCLawPlasticOptions options) : Model("NCLawPlastic"), options_(std::move(options)) {
  check_hidden(options_.hidden(), "NCLawPlastic");
  PHYSML_CHECK(std::isfinite(options_.alpha()), "NCLawPlastic: alpha must be finite, got ", options_.alpha());
  weights_ = make_mlp(*this, 13, options_.hidden(), 9, nullptr);
}

at::Tensor NCLawPlasticImpl::forward(const at::Tensor& F) {
  check_F(F, "NCLawPlastic");
  check_dtype(F, weights_[0], "NCLawPlastic");
  const auto in = nclaw_features(F);
  return F + options_.alpha() * rotate_sym(in.rotation, mlp(in.features, weights_, nullptr));
}

// ------------------------------------------------------------------------------------------
ModelConfig NCLawUnconstrainedOptions::to_config() const {
  return {{"hidden", detail::join(hidden())},
          {"bias", bias() ? "true" : "false"},
          {"plastic", plastic() ? "true" : "false"},
          {"alpha", real_text(alpha())},
          {"stress_scale", real_text(stress_scale())}};
}

NCLawUnconstrainedOptions NCLawUnconstrainedOptions::from_config(const ModelConfig& c) {
  const std::string m = "nclaw_unconstrained";
  detail::check_keys(m, c, {"hidden", "bias", "plastic", "alpha", "stress_scale"});
  NCLawUnconstrainedOptions o;
  if (auto* v = detail::find(c, "hidden")) o.hidden(detail::parse_int_list(m, "hidden", *v));
  if (auto* v = detail::find(c, "bias")) o.bias(detail::parse_bool(m, "bias", *v));
  if (auto* v = detail::find(c, "plastic")) o.plastic(detail::parse_bool(m, "plastic", *v));
  if (auto* v = detail::find(c, "alpha")) o.alpha(detail::parse_real(m, "alpha", *v));
  if (auto* v = detail::find(c, "stress_scale")) o.stress_scale(detail::parse_real(m, "stress_scale", *v));
  return o;
}

NCLawUnconstrainedImpl::NCLawUnconstrainedImpl(NCLawUnconstrainedOptions options)
    : Model("NCLawUnconstrained"), options_(std::move(options)) {
  check_hidden(options_.hidden(), "NCLawUnconstrained");
  PHYSML_CHECK(std::isfinite(options_.alpha()), "NCLawUnconstrained: alpha must be finite, got ", options_.alpha());
  check_stress_scale(options_.stress_scale(), "NCLawUnconstrained");
  weights_ = make_mlp(*this, 9, options_.hidden(), 9, options_.bias() ? &biases_ : nullptr);
}

at::Tensor NCLawUnconstrainedImpl::forward(const at::Tensor& F) {
  check_F(F, "NCLawUnconstrained");
  check_dtype(F, weights_[0], "NCLawUnconstrained");
  const auto N = F.size(0);
  const auto x = (F - torch::eye(3, F.options())).reshape({N, 9});
  const auto X = mlp(x, weights_, options_.bias() ? &biases_ : nullptr).reshape({N, 3, 3});
  if (options_.plastic()) return F + options_.alpha() * X;
  return (options_.stress_scale() == 1.0 ? X : options_.stress_scale() * X).matmul(F.transpose(1, 2));
}

// ------------------------------------------------------------------------------------------
ModelConfig NCLawOptions::to_config() const {
  return {{"law", law()},
          {"hidden", detail::join(hidden())},
          {"stress_scale", real_text(stress_scale())},
          {"plastic", plastic() ? "true" : "false"},
          {"alpha", real_text(alpha())},
          {"plastic_lr_scale", real_text(plastic_lr_scale())}};
}

NCLawOptions NCLawOptions::from_config(const ModelConfig& c) {
  const std::string m = "nclaw";
  detail::check_keys(m, c, {"law", "hidden", "stress_scale", "plastic", "alpha", "plastic_lr_scale"});
  NCLawOptions o;
  if (auto* v = detail::find(c, "law")) o.law(*v);
  if (auto* v = detail::find(c, "hidden")) o.hidden(detail::parse_int_list(m, "hidden", *v));
  if (auto* v = detail::find(c, "stress_scale")) o.stress_scale(detail::parse_real(m, "stress_scale", *v));
  if (auto* v = detail::find(c, "plastic")) o.plastic(detail::parse_bool(m, "plastic", *v));
  if (auto* v = detail::find(c, "alpha")) o.alpha(detail::parse_real(m, "alpha", *v));
  if (auto* v = detail::find(c, "plastic_lr_scale")) o.plastic_lr_scale(detail::parse_real(m, "plastic_lr_scale", *v));
  return o;
}

NCLawOptions& NCLawOptions::set_from_options(const Options& options) {
  OptionsReader r(options, "NCLaw material: elastic + plastic networks (one model)");
  law(r.choice("law", {"invariant", "unconstrained"}, law(),
               "invariant: NCLaw's equivariant networks; unconstrained: the baseline MLPs on F - I"));
  hidden(read_hidden(r, hidden()));
  stress_scale(read_stress_scale(r, stress_scale()));
  plastic(r.boolean("plastic", plastic(), "learn a plastic network (return mapping) too"));
  alpha(r.real("alpha", alpha(), "scale of the plastic correction"));
  plastic_lr_scale(r.real("plastic_lr_scale", plastic_lr_scale(),
                          "learning rate of the plastic network / that of the elastic network"));
  r.end();
  PHYSML_CHECK(plastic_lr_scale() > 0 && std::isfinite(plastic_lr_scale()), "option -", r.prefix(),
               "plastic_lr_scale: expected a positive number, got ", plastic_lr_scale());
  return *this;
}

NCLawImpl::NCLawImpl(NCLawOptions options) : Model("NCLaw"), options_(std::move(options)) {
  const auto& o = options_;
  PHYSML_CHECK(o.law() == "invariant" || o.law() == "unconstrained", "nclaw: unknown law '", o.law(),
               "'; expected invariant or unconstrained");
  PHYSML_CHECK(o.plastic_lr_scale() > 0 && std::isfinite(o.plastic_lr_scale()),
               "nclaw: plastic_lr_scale must be positive, got ", o.plastic_lr_scale());
  if (o.law() == "invariant") {
    elastic_ = std::make_shared<NCLawElasticImpl>(NCLawElasticOptions().hidden(o.hidden()).stress_scale(o.stress_scale()));
    if (o.plastic()) plastic_ = std::make_shared<NCLawPlasticImpl>(NCLawPlasticOptions().hidden(o.hidden()).alpha(o.alpha()));
  } else {
    elastic_ = std::make_shared<NCLawUnconstrainedImpl>(
        NCLawUnconstrainedOptions().hidden(o.hidden()).stress_scale(o.stress_scale()));
    if (o.plastic())
      plastic_ = std::make_shared<NCLawUnconstrainedImpl>(
          NCLawUnconstrainedOptions().hidden(o.hidden()).plastic(true).alpha(o.alpha()));
  }
  register_module("elastic", elastic_);
  if (plastic_) register_module("plastic", plastic_);
}

at::Tensor NCLawImpl::forward(const at::Tensor& F) { return elastic_->forward(F); }

std::vector<ParameterGroup> NCLawImpl::parameter_groups() {
  std::vector<ParameterGroup> g{{"elastic", elastic_->parameters(), 1.0}};
  if (plastic_) g.push_back({"plastic", plastic_->parameters(), options_.plastic_lr_scale()});
  return g;
}

}  // namespace physml::operators
