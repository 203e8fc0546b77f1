// Interpolation of irregular series, controlled differential equations, log-signatures.
#include "physml/solvers/diffeq/cde.hpp"

#include "ode_internal.hpp"

#include "physml/core/error.hpp"

#include <sstream>

namespace physml::solvers::diffeq {
namespace {

std::string shape_of(at::IntArrayRef s) {
  std::ostringstream os;
  os << s;
  return os.str();
}

void check_series(const at::Tensor& ts, const at::Tensor& x, const char* what) {
  PHYSML_CHECK(x.defined() && x.dim() == 3, what, ": series must be [batch, T, channels], got ",
               x.defined() ? shape_of(x.sizes()) : std::string("undefined"));
  PHYSML_CHECK(ts.defined() && ts.dim() == 1 && ts.size(0) == x.size(1), what, ": times must be [T] = [", x.size(1),
               "], got ", ts.defined() ? shape_of(ts.sizes()) : std::string("undefined"));
  PHYSML_CHECK(x.size(1) >= 2, what, ": need at least 2 observation times, got ", x.size(1));
  auto tc = ts.detach().to(torch::kCPU, torch::kDouble);
  PHYSML_CHECK((tc.slice(0, 1) > tc.slice(0, 0, -1)).all().item<bool>(), what,
               ": observation times must be strictly increasing");
}

}  // namespace

at::Tensor fill_missing(const at::Tensor& ts, const at::Tensor& x, bool causal) {
  check_series(ts, x, "fill_missing");
  auto nan = torch::isnan(x);
  if (!nan.any().item<bool>()) return x;
  // Build, per (batch, channel), the indices of the previous and next observed samples.
  const auto B = x.size(0), T = x.size(1), C = x.size(2);
  auto obs = (~nan).to(torch::kCPU);
  auto prev = torch::full({B, T, C}, -1, torch::kLong), next = torch::full({B, T, C}, -1, torch::kLong);
  auto o = obs.accessor<bool, 3>();
  auto p = prev.accessor<int64_t, 3>(), n = next.accessor<int64_t, 3>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < C; ++c) {
      int64_t last = -1;
      for (int64_t t = 0; t < T; ++t) {
        if (o[b][t][c]) last = t;
        p[b][t][c] = last;
      }
      last = -1;
      for (int64_t t = T - 1; t >= 0; --t) {
        if (o[b][t][c]) last = t;
        n[b][t][c] = last;
      }
    }
  prev = prev.to(x.device());
  next = next.to(x.device());
  auto has_prev = prev >= 0, has_next = next >= 0;
  auto xz = torch::where(nan, torch::zeros_like(x), x);  // no NaN in any branch (keeps gradients finite)
  auto xp = torch::gather(xz, 1, prev.clamp_min(0)), xn = torch::gather(xz, 1, next.clamp_min(0));
  auto tt = ts.to(x.device(), x.scalar_type());
  auto tfull = tt.view({1, T, 1}).expand({B, T, C});
  auto tp = torch::gather(tfull, 1, prev.clamp_min(0)), tn = torch::gather(tfull, 1, next.clamp_min(0));
  at::Tensor interp;
  if (causal) {
    interp = torch::where(has_prev, xp, xn);
  } else {
    auto w = torch::where(tn > tp, (tfull - tp) / torch::where(tn > tp, tn - tp, torch::ones_like(tn)),
                          torch::zeros_like(tn));
    auto both = xp + w * (xn - xp);
    interp = torch::where(has_prev & has_next, both, torch::where(has_prev, xp, xn));
  }
  interp = torch::where(has_prev | has_next, interp, torch::zeros_like(interp));
  return torch::where(nan, interp, x);
}

CubicPath::CubicPath(at::Tensor t, at::Tensor a, at::Tensor b, at::Tensor c, at::Tensor d)
    : t_(std::move(t)), a_(std::move(a)), b_(std::move(b)), c_(std::move(c)), d_(std::move(d)) {}

CubicPath CubicPath::linear(const at::Tensor& ts, const at::Tensor& x_in) {
  auto x = fill_missing(ts, x_in);
  auto t = ts.to(x.device(), x.scalar_type());
  auto dt = (t.slice(0, 1) - t.slice(0, 0, -1)).view({1, -1, 1});
  auto x0 = x.slice(1, 0, -1), x1 = x.slice(1, 1);
  auto z = torch::zeros_like(x0);
  return CubicPath(t, x0, (x1 - x0) / dt, z, z);
}

CubicPath CubicPath::rectilinear(const at::Tensor& ts, const at::Tensor& x_in) {
  auto x = fill_missing(ts, x_in, /*causal=*/true);
  const auto B = x.size(0), T = x.size(1), C = x.size(2);
  auto t = ts.to(x.device(), x.scalar_type());
  // Knot 2i: (t_i, x_i); knot 2i+1: (t_{i+1}, x_i): time first, then the data.
  auto tcol = t.view({1, T, 1}).expand({B, T, 1});
  auto full = torch::cat({tcol, x}, 2);  // [B, T, 1 + C]
  std::vector<at::Tensor> pts;
  for (int64_t i = 0; i < T; ++i) {
    pts.push_back(full.select(1, i));
    if (i + 1 < T) pts.push_back(torch::cat({tcol.select(1, i + 1), x.select(1, i)}, 1));
  }
  auto path = torch::stack(pts, 1);
  auto vt = torch::arange(2 * T - 1, x.options());
  (void)C;
  return linear(vt, path);
}

CubicPath CubicPath::hermite(const at::Tensor& ts, const at::Tensor& x_in) {
  auto x = fill_missing(ts, x_in);
  auto t = ts.to(x.device(), x.scalar_type());
  auto dt = (t.slice(0, 1) - t.slice(0, 0, -1)).view({1, -1, 1});
  auto slope = (x.slice(1, 1) - x.slice(1, 0, -1)) / dt;  // [B, T-1, C]
  // Derivative at the left knot of interval i: backward difference (slope of interval i-1).
  auto m = torch::cat({slope.slice(1, 0, 1), slope.slice(1, 0, -1)}, 1);
  // Cubic Hermite with end slopes m (left) and slope_i (right):
  // X(t_{i+1}) = x_i + slope_i dt and X'(t_{i+1}) = m + 2c dt + 3d dt^2 = slope_i.
  auto c = 2 * (slope - m) / dt;
  auto d = (m - slope) / (dt * dt);
  return CubicPath(t, x.slice(1, 0, -1), m, c, d);
}

CubicPath CubicPath::natural_cubic(const at::Tensor& ts, const at::Tensor& x_in) {
  auto x = fill_missing(ts, x_in);
  auto t = ts.to(x.device(), x.scalar_type());
  const auto T = x.size(1);
  auto h = t.slice(0, 1) - t.slice(0, 0, -1);  // [T-1]
  auto slope = (x.slice(1, 1) - x.slice(1, 0, -1)) / h.view({1, -1, 1});
  // Second derivatives M_i: h_{i-1} M_{i-1} + 2 (h_{i-1} + h_i) M_i + h_i M_{i+1} = 6 (s_i - s_{i-1}),
  // M_0 = M_{T-1} = 0. Thomas algorithm over i = 1..T-2, vectorised over batch and channels.
  std::vector<at::Tensor> M(T, torch::zeros_like(x.select(1, 0)));
  if (T > 2) {
    const auto n = T - 2;
    std::vector<at::Tensor> cp(n), dp(n);
    auto hc = h.to(torch::kCPU, torch::kDouble).contiguous();
    const double* hv = hc.data_ptr<double>();
    for (int64_t k = 0; k < n; ++k) {
      const int64_t i = k + 1;
      const double lower = hv[i - 1], diag = 2 * (hv[i - 1] + hv[i]), upper = hv[i];
      auto rhs = 6 * (slope.select(1, i) - slope.select(1, i - 1));
      if (k == 0) {
        cp[k] = torch::full({}, upper / diag, x.options());
        dp[k] = rhs / diag;
      } else {
        auto denom = diag - lower * cp[k - 1];
        cp[k] = upper / denom;
        dp[k] = (rhs - lower * dp[k - 1]) / denom;
      }
    }
    M[n] = dp[n - 1];
    for (int64_t k = n - 2; k >= 0; --k) M[k + 1] = dp[k] - cp[k] * M[k + 2];
  }
  auto Ms = torch::stack(M, 1);  // [B, T, C]
  auto M0 = Ms.slice(1, 0, -1), M1 = Ms.slice(1, 1);
  auto hv = h.view({1, -1, 1});
  auto b = slope - hv * (2 * M0 + M1) / 6;
  return CubicPath(t, x.slice(1, 0, -1), b, M0 / 2, (M1 - M0) / (6 * hv));
}

at::Tensor CubicPath::locate(const at::Tensor& t, at::Tensor& s) const {
  auto tt = t.to(t_.scalar_type()).reshape({-1});
  if (tt.numel() == 1 && batch() > 1) tt = tt.expand({batch()});
  const auto n = t_.size(0) - 1;
  auto idx = (torch::searchsorted(t_, tt.detach().contiguous(), /*out_int32=*/false, /*right=*/true) - 1).clamp(0, n - 1);
  s = tt - t_.index_select(0, idx);
  return idx;
}

at::Tensor CubicPath::gather(const at::Tensor& coef, const at::Tensor& idx) const {
  auto i = idx.view({-1, 1, 1}).expand({coef.size(0), 1, coef.size(2)});
  return torch::gather(coef, 1, i).squeeze(1);
}

at::Tensor CubicPath::evaluate(const at::Tensor& t) const {
  at::Tensor s;
  auto idx = locate(t, s);
  auto sv = s.view({-1, 1});
  return gather(a_, idx) + sv * (gather(b_, idx) + sv * (gather(c_, idx) + sv * gather(d_, idx)));
}

at::Tensor CubicPath::derivative(const at::Tensor& t) const {
  at::Tensor s;
  auto idx = locate(t, s);
  auto sv = s.view({-1, 1});
  return gather(b_, idx) + sv * (2 * gather(c_, idx) + 3 * sv * gather(d_, idx));
}

at::Tensor CubicPath::second_derivative(const at::Tensor& t) const {
  at::Tensor s;
  auto idx = locate(t, s);
  return 2 * gather(c_, idx) + 6 * s.view({-1, 1}) * gather(d_, idx);
}

at::Tensor cdeint(const VectorField& f, const CubicPath& X, const at::Tensor& z0, const at::Tensor& ts,
                  const OdeOptions& options) {
  PHYSML_CHECK(z0.defined() && z0.dim() == 2 && z0.size(0) == X.batch(), "cdeint: z0 must be [batch = ",
               X.batch(), ", hidden], got ", z0.defined() ? shape_of(z0.sizes()) : std::string("undefined"));
  auto kn = X.knots().detach().to(torch::kCPU, torch::kDouble);
  auto tc = ts.detach().to(torch::kCPU, torch::kDouble);
  PHYSML_CHECK(tc.numel() >= 1 && tc.min().item<double>() >= kn[0].item<double>() - 1e-12 &&
                   tc.max().item<double>() <= kn[-1].item<double>() + 1e-12,
               "cdeint: ts must lie inside the path's knot range [", kn[0].item<double>(), ", ", kn[-1].item<double>(), "]");
  const auto H = z0.size(1), C = X.channels();
  VectorField field(
      [f, X, H, C](const at::Tensor& t, const at::Tensor& z) {
        auto F = f(t, z);
        PHYSML_CHECK(F.dim() == 3 && F.size(0) == z.size(0) && F.size(1) == H && F.size(2) == C,
                     "cdeint: vector field returned shape ", shape_of(F.sizes()), "; expected [batch, hidden, channels] = [",
                     z.size(0), ", ", H, ", ", C, "]");
        auto dX = X.derivative(t).to(F.scalar_type());
        return torch::bmm(F, dX.unsqueeze(2)).squeeze(2);
      },
      f.parameters());
  return odeint(field, z0, ts, options);
}

std::pair<at::Tensor, at::Tensor> logsig_windows(const at::Tensor& ts, const at::Tensor& x_in, std::int64_t window) {
  auto x = fill_missing(ts, x_in);
  PHYSML_CHECK(window >= 1, "logsig_windows: window must be >= 1, got ", window);
  const auto T = x.size(1), C = x.size(2);
  std::vector<int64_t> ends{0};
  while (ends.back() < T - 1) ends.push_back(std::min<int64_t>(ends.back() + window, T - 1));
  std::vector<at::Tensor> pieces{torch::zeros({x.size(0), C + C * (C - 1) / 2}, x.options())};
  for (size_t w = 1; w < ends.size(); ++w) {
    auto seg = x.slice(1, ends[w - 1], ends[w] + 1);  // [B, L+1, C]
    auto rel = seg.slice(1, 0, -1) - seg.slice(1, 0, 1);  // position at each segment start, relative
    auto inc = seg.slice(1, 1) - seg.slice(1, 0, -1);     // segment increments
    // Lévy area A_ij = 1/2 sum_k (rel_i inc_j - rel_j inc_i) of the piecewise-linear path.
    auto area = 0.5 * (torch::einsum("bki,bkj->bij", {rel, inc}) - torch::einsum("bkj,bki->bij", {rel, inc}));
    auto iu = torch::triu_indices(C, C, 1, torch::TensorOptions().device(x.device()));
    auto a = area.index({torch::indexing::Slice(), iu[0], iu[1]});
    pieces.push_back(pieces.back() + torch::cat({seg.select(1, -1) - seg.select(1, 0), a}, 1));
  }
  auto t = ts.to(x.device(), x.scalar_type());
  auto knots = t.index_select(0, torch::tensor(ends, torch::TensorOptions().dtype(torch::kLong).device(x.device())));
  return {knots, torch::stack(pieces, 1)};
}

}  // namespace physml::solvers::diffeq
