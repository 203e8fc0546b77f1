// Explicit Runge–Kutta integration with per-element adaptive steps, dense output and events.
#include "ode_internal.hpp"

#include "physml/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

namespace physml::solvers::diffeq {

at::Tensor VectorField::operator()(const at::Tensor& t, const at::Tensor& y) const {
  ++*nfe_;
  return fn_(t.to(y.scalar_type()), y);
}

namespace internal {
namespace {

std::string shape_str(at::IntArrayRef s) {
  std::ostringstream os;
  os << s;
  return os.str();
}

std::map<std::string, Tableau> make_tableaux() {
  std::map<std::string, Tableau> m;
  {
    Tableau t;
    t.name = "euler";
    t.order = 1;
    t.c = {0};
    t.b = {1};
    t.a = {{}};
    m[t.name] = t;
  }
  {
    Tableau t;
    t.name = "midpoint";
    t.order = 2;
    t.c = {0, 0.5};
    t.b = {0, 1};
    t.a = {{}, {0.5}};
    m[t.name] = t;
  }
  {
    Tableau t;  // explicit trapezoidal rule
    t.name = "heun";
    t.order = 2;
    t.c = {0, 1};
    t.b = {0.5, 0.5};
    t.a = {{}, {1.0}};
    m[t.name] = t;
  }
  {
    Tableau t;  // classical fourth-order Runge–Kutta
    t.name = "rk4";
    t.order = 4;
    t.c = {0, 0.5, 0.5, 1};
    t.b = {1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6};
    t.a = {{}, {0.5}, {0, 0.5}, {0, 0, 1}};
    m[t.name] = t;
  }
  {
    Tableau t;  // Bogacki & Shampine 1989, 3(2), FSAL
    t.name = "bosh3";
    t.order = 3;
    t.error_order = 2;
    t.fsal = true;
    t.c = {0, 0.5, 0.75, 1};
    t.a = {{}, {0.5}, {0, 0.75}, {2.0 / 9, 1.0 / 3, 4.0 / 9}};
    t.b = {2.0 / 9, 1.0 / 3, 4.0 / 9, 0};
    const std::vector<double> bhat = {7.0 / 24, 0.25, 1.0 / 3, 0.125};
    for (int i = 0; i < 4; ++i) t.e.push_back(t.b[i] - bhat[i]);
    m[t.name] = t;
  }
  {
    Tableau t;  // Dormand & Prince 1980, 5(4), FSAL
    t.name = "dopri5";
    t.order = 5;
    t.error_order = 4;
    t.fsal = true;
    t.c = {0, 0.2, 0.3, 0.8, 8.0 / 9, 1, 1};
    t.a = {{},
           {0.2},
           {3.0 / 40, 9.0 / 40},
           {44.0 / 45, -56.0 / 15, 32.0 / 9},
           {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729},
           {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656},
           {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84}};
    t.b = {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84, 0};
    const std::vector<double> bhat = {5179.0 / 57600, 0,           7571.0 / 16695, 393.0 / 640,
                                      -92097.0 / 339200, 187.0 / 2100, 1.0 / 40};
    for (int i = 0; i < 7; ++i) t.e.push_back(t.b[i] - bhat[i]);
    // Shampine's fourth-order continuous extension as written in Hairer's DOPRI5 (CONTD5).
    t.dense = {-12715105075.0 / 11282082432.0, 0, 87487479700.0 / 32700410799.0,
               -10690763975.0 / 1880347072.0, 701980252875.0 / 199316789632.0,
               -1453857185.0 / 822651844.0, 69997945.0 / 29380423.0};
    m[t.name] = t;
  }
  {
    Tableau t;  // Tsitouras 2011, 5(4), FSAL
    t.name = "tsit5";
    t.order = 5;
    t.error_order = 4;
    t.fsal = true;
    t.c = {0, 0.161, 0.327, 0.9, 0.9800255409045097, 1, 1};
    t.a = {{},
           {0.161},
           {-0.008480655492356989, 0.335480655492357},
           {2.897153057105493, -6.359448489975075, 4.3622954328695815},
           {5.325864828439257, -11.748883564062828, 7.4955393428898365, -0.09249506636175525},
           {5.86145544294642, -12.92096931784711, 8.159367898576159, -0.071584973281401,
            -0.028269050394068383},
           {0.09646076681806523, 0.01, 0.4798896504144996, 1.379008574103742, -3.290069515436081,
            2.324710524099774}};
    t.b = {0.09646076681806523, 0.01, 0.4798896504144996, 1.379008574103742, -3.290069515436081,
           2.324710524099774, 0};
    t.e = {-0.00178001105222577714, -0.0008164344596567469, 0.007880878010261995, -0.1447110071732629,
           0.5823571654525552,      -0.45808210592918697,   1.0 / 66};
    m[t.name] = t;
  }
  return m;
}

}  // namespace

const Tableau& tableau(const std::string& method) {
  static const std::map<std::string, Tableau> all = [] {
    auto m = make_tableaux();
    add_dopri8(m);
    return m;
  }();
  auto it = all.find(method);
  if (it == all.end()) {
    std::string names;
    for (const auto& [k, v] : all) names += (names.empty() ? "" : ", ") + k;
    PHYSML_THROW("unknown ODE method '", method, "'; expected one of: ", names,
                 ", reversible_heun, petsc:bdf, petsc:arkimex, petsc:rosw");
  }
  return it->second;
}

void check_inputs(const at::Tensor& y0, const at::Tensor& ts, const char* what) {
  PHYSML_CHECK(y0.defined() && y0.dim() >= 1, what, ": initial state must be [batch, state...], got ",
               y0.defined() ? shape_str(y0.sizes()) : std::string("undefined"));
  PHYSML_CHECK(y0.size(0) > 0, what, ": empty batch");
  PHYSML_CHECK(ts.defined() && ts.dim() == 1 && ts.size(0) >= 2, what,
               ": ts must be a 1-D tensor of at least 2 times, got shape ",
               ts.defined() ? shape_str(ts.sizes()) : std::string("undefined"));
  auto tc = ts.detach().to(torch::kCPU, torch::kDouble).contiguous();
  const double* p = tc.data_ptr<double>();
  for (int64_t i = 0; i < tc.size(0); ++i) {
    PHYSML_CHECK(std::isfinite(p[i]), what, ": ts[", i, "] = ", p[i], " is not finite");
    if (i > 0)
      PHYSML_CHECK(p[i] > p[i - 1], what, ": ts must be strictly increasing, but ts[", i, "] = ", p[i],
                   " <= ts[", i - 1, "] = ", p[i - 1]);
  }
  PHYSML_CHECK(torch::isfinite(y0.detach()).all().item<bool>(), what,
               ": initial state contains NaN or Inf");
}

namespace {

/// Per-element RMS norm of x [B, ...] over its components (or the first `n` of them).
at::Tensor rms(const at::Tensor& x, int64_t n) {
  auto f = x.flatten(1);
  if (n > 0 && n < f.size(1)) f = f.narrow(1, 0, n);
  return f.pow(2).mean(1).sqrt().to(torch::kDouble);
}

/// Cubic Hermite interpolant on [t, t+h] from (y0, f0, y1, f1) at theta in [0,1] ([B]), plus the
/// quartic correction theta^2 (1-theta)^2 corr when the method has one (corr defined).
at::Tensor hermite(const at::Tensor& y0, const at::Tensor& f0, const at::Tensor& y1, const at::Tensor& f1,
                   const at::Tensor& h, const at::Tensor& theta, const at::Tensor& corr = {}) {
  auto th = bview(theta, y0).to(y0.scalar_type());
  auto hb = bview(h, y0).to(y0.scalar_type());
  auto th2 = th * th, th3 = th2 * th;
  auto y = (2 * th3 - 3 * th2 + 1) * y0 + (th3 - 2 * th2 + th) * hb * f0 + (-2 * th3 + 3 * th2) * y1 +
           (th3 - th2) * hb * f1;
  if (corr.defined()) y = y + (th2 * (1 - th) * (1 - th)) * corr;
  return y;
}

at::Tensor eval_checked(const Ctx& c, const at::Tensor& t, const at::Tensor& y) {
  auto out = (*c.f)(t, y);
  PHYSML_CHECK(out.defined() && out.sizes() == y.sizes(), "odeint: vector field returned shape ",
               out.defined() ? shape_str(out.sizes()) : std::string("undefined"), " for a state of shape ",
               shape_str(y.sizes()), "; expected the shape of the state");
  return out;
}

}  // namespace

Ctx make_ctx(const VectorField& f, const at::Tensor& y0, const at::Tensor& ts, const OdeOptions& o) {
  Ctx c;
  c.f = &f;
  c.tab = &tableau(o.method());
  c.opt = o;
  c.batch = y0.size(0);
  c.ts = ts.to(y0.device(), torch::kDouble);
  auto tc = ts.detach().to(torch::kCPU, torch::kDouble).contiguous();
  c.ts_cpu.assign(tc.data_ptr<double>(), tc.data_ptr<double>() + tc.numel());
  c.t_end_graph = c.ts[-1].expand({c.batch});
  c.t_end = c.t_end_graph.detach().clone();
  PHYSML_CHECK(o.rtol() > 0 && o.atol() >= 0, "odeint: need rtol > 0 and atol >= 0, got rtol=", o.rtol(),
               " atol=", o.atol());
  PHYSML_CHECK(o.max_steps() > 0, "odeint: max_steps must be positive, got ", o.max_steps());
  c.adaptive = c.tab->adaptive() && o.adaptive();
  if (!c.adaptive)
    PHYSML_CHECK(o.dt() > 0, "odeint: method '", o.method(), "' is fixed-step: set OdeOptions::dt > 0");
  PHYSML_CHECK(o.dt() >= 0 && o.dtmin() >= 0 && o.dtmax() >= 0, "odeint: dt, dtmin, dtmax must be >= 0");
  PHYSML_CHECK(o.step_control() == "per_element" || o.step_control() == "shared", "odeint: unknown step_control '",
               o.step_control(), "'; expected per_element or shared");
  c.shared = o.step_control() == "shared";
  PHYSML_CHECK(!c.shared || !o.event(),
               "odeint: events stop batch elements one by one and need step_control 'per_element', not 'shared'");
  c.ts_graph = c.shared && c.ts.requires_grad() && at::GradMode::is_enabled();
  return c;
}

namespace {

/// RMS over all components of the batch (or over the first n components of every element).
double rms_all(const at::Tensor& x, int64_t n) {
  auto f = x.flatten(1);
  if (n > 0 && n < f.size(1)) f = f.narrow(1, 0, n);
  return at::linalg_vector_norm(f, 2).item<double>() / std::sqrt(static_cast<double>(f.numel()));
}

/// base + sum_j h coef[j] k[j] (j < upto), on the host step h: one add per nonzero coefficient.
/// With hg defined (a step that carries the graph of ts) the step is that tensor instead.
at::Tensor combine(const at::Tensor* base, const std::vector<double>& coef, std::size_t upto,
                   const std::vector<at::Tensor>& k, double h, const at::Tensor& hg) {
  at::Tensor acc;
  const double scale = hg.defined() ? 1.0 : h;
  if (base && !hg.defined()) acc = *base;  // base + c k as one node per term
  for (std::size_t j = 0; j < upto && j < coef.size(); ++j) {
    if (coef[j] == 0.0) continue;
    acc = acc.defined() ? at::add(acc, k[j], scale * coef[j]) : k[j] * (scale * coef[j]);
  }
  if (base && !hg.defined()) return acc;
  if (!acc.defined()) return base ? *base : at::Tensor();
  if (hg.defined()) acc = acc * hg.to(acc.scalar_type());
  return base ? at::add(*base, acc) : acc;
}

/// The batch's time t + ci h as the [B] tensor the field is called with (with the graph of ts
/// when the state carries it).
at::Tensor stage_time(const Ctx& c, const LoopState& s, double ci, double h, const at::Tensor& hg, bool at_end,
                      const at::Tensor& y) {
  if (s.t_graph.defined()) {
    auto t = at_end ? c.ts[-1] : (hg.defined() ? s.t_graph + ci * hg : s.t_graph + ci * h);
    return t.expand({c.batch});
  }
  const double t = at_end ? c.ts_cpu.back() : s.t_s + ci * h;
  return at::full({c.batch}, t, y.options());
}

LoopState init_state_shared(const Ctx& c, const at::Tensor& y0) {
  LoopState s;
  s.t_s = c.ts_cpu[0];
  if (c.ts_graph) s.t_graph = c.ts[0];
  s.y = y0;
  s.k1 = eval_checked(c, stage_time(c, s, 0, 0, {}, false, y0), y0);
  PHYSML_CHECK(torch::isfinite(s.k1.detach()).all().item<bool>(), "odeint: vector field is NaN/Inf at t=",
               c.ts_cpu[0], " (step 0)");
  s.out.assign(c.ts_cpu.size(), at::Tensor());
  s.out[0] = y0;
  for (size_t k = 1; k < s.out.size(); ++k) s.out[k] = torch::zeros_like(y0);
  if (!c.adaptive || c.opt.dt() > 0) {
    s.h_s = c.opt.dt();
  } else {
    // Hairer, Nørsett & Wanner, Solving ODEs I, II.4, with the norm over the whole batch.
    torch::NoGradGuard ng;
    auto y = y0.detach();
    auto f0 = s.k1.detach();
    auto scale = c.opt.atol() + c.opt.rtol() * y.abs();
    const double d0 = rms_all(y / scale, c.norm_components), d1 = rms_all(f0 / scale, c.norm_components);
    const double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
    auto f1 = (*c.f)(at::full({c.batch}, s.t_s + h0, y.options()), y + h0 * f0);
    const double d2 = rms_all((f1 - f0) / scale, c.norm_components) / h0;
    const double dm = std::max(d1, d2);
    const double h1 = dm <= 1e-15 ? std::max(h0 * 1e-3, 1e-6) : std::pow(0.01 / dm, 1.0 / (c.tab->order + 1));
    s.h_s = std::min(100 * h0, h1);
  }
  if (c.opt.dtmax() > 0) s.h_s = std::min(s.h_s, c.opt.dtmax());
  return s;
}

/// One step attempt of the whole batch with one step size (step_control "shared"): the
/// Runge–Kutta stages and the dense output are the only tensor work; the error norm is one
/// reduction and one host read, the decision and the controller are host arithmetic.
void attempt_shared(const Ctx& c, LoopState& s, const StepRecord* replay, std::vector<StepRecord>* record) {
  const Tableau& tab = *c.tab;
  const auto& o = c.opt;
  const double t_end = c.ts_cpu.back();
  const double remaining = t_end - s.t_s;
  if (!replay && s.step >= o.max_steps())
    PHYSML_THROW("odeint: max_steps = ", o.max_steps(), " reached at t = ", s.t_s, " before t_end = ", t_end,
                 " (raise max_steps, loosen rtol/atol, or use an implicit method for stiff problems)");
  const double h = replay ? replay->h_s : std::min(s.h_s, remaining);
  const bool last = h >= remaining;
  // The last step ends exactly at ts[-1]; with the graph of ts its length is ts[-1] - t.
  at::Tensor hg;
  if (last && s.t_graph.defined()) hg = c.ts[-1] - s.t_graph;

  const int S = tab.stages();
  std::vector<at::Tensor> k(static_cast<std::size_t>(S));
  k[0] = s.k1;
  at::Tensor y_new;
  for (int i = 1; i < S; ++i) {
    auto yi = combine(&s.y, tab.a[i], static_cast<std::size_t>(i), k, h, hg);
    k[i] = eval_checked(c, stage_time(c, s, tab.c[i], h, hg, last && tab.c[i] == 1.0, s.y), yi);
    if (tab.fsal && i == S - 1) y_new = yi;
  }
  if (!y_new.defined()) y_new = combine(&s.y, tab.b, static_cast<std::size_t>(S), k, h, hg);

  bool accept = true;
  double ratio = 0;
  if (replay) {
    accept = replay->accept_s;
  } else if (c.adaptive) {
    torch::NoGradGuard ng;
    auto err = combine(nullptr, tab.e, static_cast<std::size_t>(S), k, h, hg).detach();
    auto scale = torch::maximum(s.y.detach().abs(), y_new.detach().abs()).mul_(o.rtol()).add_(o.atol());
    err.div_(scale);
    ratio = rms_all(err, c.norm_components);
    if (!tab.e3.empty()) {
      auto err3 = combine(nullptr, tab.e3, static_cast<std::size_t>(S), k, h, hg).detach().div_(scale);
      const double r3 = rms_all(err3, c.norm_components);
      const double den = std::sqrt(ratio * ratio + 0.01 * r3 * r3);
      ratio = den > 0 ? ratio * ratio / den : 0.0;
    }
    accept = ratio <= 1.0;  // false for NaN
  }
  // A NaN/Inf state makes the error ratio NaN (adaptive); fixed steps check the state.
  if (!replay && (c.adaptive ? !std::isfinite(ratio) : !torch::isfinite(y_new.detach()).all().item<bool>())) {
    if (!torch::isfinite(y_new.detach()).all().item<bool>())
      PHYSML_THROW("odeint: NaN/Inf in the state at t = ", s.t_s, " (step ", s.step, ", step size ", h,
                   ", shared by the batch): the vector field produced non-finite values or the solution blew up");
    PHYSML_THROW("odeint: NaN/Inf in the error estimate at t = ", s.t_s, " (step ", s.step, ", step size ", h,
                 "): the vector field produced non-finite values");
  }

  if (accept) {
    const double t_new = last ? t_end : s.t_s + h;
    auto f_new = tab.fsal ? k[static_cast<std::size_t>(S - 1)] : eval_checked(c, stage_time(c, s, 1.0, h, hg, last, s.y), y_new);
    // Dense output at the requested times in (t, t_new]: cubic Hermite (+ the quartic
    // correction theta^2 (1-theta)^2 h sum d_i k_i when the method has one). Without the
    // graph of ts: all outputs of the step as one matrix product of their coefficients with
    // the stacked terms (y, y_new, the stages): two autograd nodes instead of ~9 per output.
    std::vector<std::size_t> outs;
    std::vector<double> rows;
    std::vector<at::Tensor> terms;
    std::vector<int> term_stage;  // stage of each term after y, y_new (-1: f_new of a non-FSAL method)
    for (size_t kk = 1; kk < c.ts_cpu.size(); ++kk) {
      const double tk = c.ts_cpu[kk];
      if (tk <= s.t_s) continue;
      if (tk > t_new) break;
      if (tk == t_new && !s.t_graph.defined()) {  // on the step end: the interpolant is y_new
        s.out[kk] = y_new;
        continue;
      }
      if (!s.t_graph.defined()) {
        if (terms.empty()) {
          terms = {s.y, y_new};
          for (int i = 0; i < S; ++i) {
            const bool used = i == 0 || (tab.fsal && i == S - 1) ||
                              (static_cast<std::size_t>(i) < tab.dense.size() && tab.dense[static_cast<std::size_t>(i)] != 0.0);
            if (!used) continue;
            terms.push_back(k[static_cast<std::size_t>(i)]);
            term_stage.push_back(i);
          }
          if (!tab.fsal) {
            terms.push_back(f_new);
            term_stage.push_back(-1);
          }
        }
        const double th = (tk - s.t_s) / h, th2 = th * th, th3 = th2 * th, bump = th2 * (1 - th) * (1 - th);
        rows.push_back(2 * th3 - 3 * th2 + 1);
        rows.push_back(-2 * th3 + 3 * th2);
        for (int i : term_stage) {
          double cf = 0;
          if (i >= 0 && static_cast<std::size_t>(i) < tab.dense.size()) cf += bump * tab.dense[static_cast<std::size_t>(i)];
          if (i == 0) cf += th3 - 2 * th2 + th;
          if (i < 0 || (tab.fsal && i == S - 1)) cf += th3 - th2;  // the term is f_new
          rows.push_back(h * cf);
        }
        outs.push_back(kk);
        continue;
      }
      {
        auto hs = hg.defined() ? hg : torch::full({}, h, c.ts.options());
        auto theta = ((c.ts[kk] - s.t_graph) / hs).expand({c.batch});
        at::Tensor corr;
        if (!tab.dense.empty()) corr = combine(nullptr, tab.dense, static_cast<std::size_t>(S), k, h, hg);
        s.out[kk] = hermite(s.y, s.k1, y_new, f_new, hs.expand({c.batch}), theta, corr);
      }
    }
    if (!outs.empty()) {
      const auto P = static_cast<std::int64_t>(terms.size());
      auto coef = torch::from_blob(rows.data(), {static_cast<std::int64_t>(outs.size()), P}, torch::kDouble)
                      .to(s.y.options().dtype(), /*non_blocking=*/false, /*copy=*/true);
      auto ys = at::mm(coef, at::stack(terms).view({P, -1}));
      for (std::size_t r = 0; r < outs.size(); ++r) s.out[outs[r]] = ys[static_cast<std::int64_t>(r)].view(s.y.sizes());
    }
    s.y = y_new;
    s.k1 = f_new;
    if (s.t_graph.defined()) s.t_graph = last ? c.ts[-1] : s.t_graph + h;
    s.t_s = t_new;
    s.done_s = last;
    ++s.accepted_s;
  }
  if (record) {
    StepRecord r;
    r.h_s = h;
    r.accept_s = accept;
    record->push_back(r);
  }
  ++s.step;
  if (replay || !c.adaptive) return;

  // Step-size control on the host (the same PID controller as per element).
  const double kexp = tab.error_order + 1;
  const double r = std::max(ratio, 1e-10);
  double h_new;
  if (accept) {
    double fa = o.safety() * std::pow(r, -(o.pcoeff() + o.icoeff() + o.dcoeff()) / kexp) *
                std::pow(s.r1_s, (o.pcoeff() + 2 * o.dcoeff()) / kexp) * std::pow(s.r2_s, -o.dcoeff() / kexp);
    h_new = h * std::clamp(fa, o.factor_min(), o.factor_max());
    s.r2_s = s.r1_s;
    s.r1_s = r;
  } else {
    h_new = h * std::clamp(o.safety() * std::pow(r, -1.0 / kexp), o.factor_min(), 0.9);
    s.rejected += c.batch;  // every element rejected this attempt
  }
  if (o.dtmax() > 0) h_new = std::min(h_new, o.dtmax());
  if (s.done_s) return;
  s.h_s = h_new;
  const double hmin = o.dtmin() > 0 ? o.dtmin() : 1e-14 * std::max(std::abs(s.t_s), 1.0);
  if (s.h_s < hmin)
    PHYSML_THROW("odeint: step size underflow: h = ", s.h_s, " < dtmin = ", hmin, " at t = ", s.t_s, " (step ", s.step,
                 ", step size shared by the batch); the problem may be stiff (try method petsc:bdf) or rtol/atol too tight");
}

}  // namespace

LoopState init_state(const Ctx& c, const at::Tensor& y0) {
  if (c.shared) return init_state_shared(c, y0);
  LoopState s;
  const auto B = c.batch;
  auto dopt = torch::TensorOptions().dtype(torch::kDouble).device(y0.device());
  s.t = c.ts[0].expand({B});
  s.y = y0;
  s.k1 = eval_checked(c, s.t, y0);
  PHYSML_CHECK(torch::isfinite(s.k1.detach()).all().item<bool>(), "odeint: vector field is NaN/Inf at t=",
               c.ts_cpu[0], " (step 0)");
  s.done = torch::zeros({B}, dopt.dtype(torch::kBool));
  s.r1 = torch::ones({B}, dopt);
  s.r2 = torch::ones({B}, dopt);
  s.accepted = torch::zeros({B}, dopt.dtype(torch::kLong));
  s.out.assign(c.ts_cpu.size(), at::Tensor());
  s.out[0] = y0;
  for (size_t k = 1; k < s.out.size(); ++k) s.out[k] = torch::zeros_like(y0);
  if (c.opt.event()) {
    s.g = c.opt.event()(s.t, y0).detach().to(torch::kDouble);
    PHYSML_CHECK(s.g.dim() == 1 && s.g.size(0) == B, "odeint: event function must return [batch] = [", B,
                 "], got ", shape_str(s.g.sizes()));
    s.event_times = torch::full({B}, std::nan(""), dopt);
  }
  if (!c.adaptive || c.opt.dt() > 0) {
    s.h = torch::full({B}, c.opt.dt(), dopt);
  } else {
    // Hairer, Nørsett & Wanner, Solving ODEs I, II.4: starting step size.
    torch::NoGradGuard ng;
    auto y = y0.detach();
    auto f0 = s.k1.detach();
    auto scale = c.opt.atol() + c.opt.rtol() * y.abs();
    auto d0 = rms(y / scale, c.norm_components), d1 = rms(f0 / scale, c.norm_components);
    auto h0 = torch::where((d0 < 1e-5) | (d1 < 1e-5), torch::full_like(d0, 1e-6), 0.01 * d0 / d1);
    auto y1 = y + bview(h0, y).to(y.scalar_type()) * f0;
    auto f1 = (*c.f)(s.t.detach() + h0, y1);
    auto d2 = rms((f1 - f0) / scale, c.norm_components) / h0;
    auto dm = torch::maximum(d1, d2);
    auto h1 = torch::where(dm <= 1e-15, torch::clamp_min(h0 * 1e-3, 1e-6),
                           torch::pow(0.01 / dm, 1.0 / (c.tab->order + 1)));
    s.h = torch::minimum(100 * h0, h1);
  }
  if (c.opt.dtmax() > 0) s.h = torch::clamp_max(s.h, c.opt.dtmax());
  return s;
}

bool all_done(const LoopState& s) { return s.done.defined() ? s.done.all().item<bool>() : s.done_s; }

std::int64_t accepted_max(const LoopState& s) {
  return s.accepted.defined() ? s.accepted.max().item<std::int64_t>() : s.accepted_s;
}

void attempt(const Ctx& c, LoopState& s, const StepRecord* replay, std::vector<StepRecord>* record) {
  if (c.shared) return attempt_shared(c, s, replay, record);
  const Tableau& tab = *c.tab;
  const auto& o = c.opt;
  auto tdet = s.t.detach();
  auto remaining = c.t_end - tdet;
  if (!replay && s.step >= o.max_steps()) {
    auto tmin = torch::where(s.done, c.t_end, tdet).min().item<double>();
    PHYSML_THROW("odeint: max_steps = ", o.max_steps(), " reached at t = ", tmin, " before t_end = ",
                 c.ts_cpu.back(), " (raise max_steps, loosen rtol/atol, or use an implicit method for stiff problems)");
  }
  at::Tensor h_eff;
  if (replay) {
    h_eff = replay->h;
  } else {
    h_eff = torch::where(s.done, torch::zeros_like(s.h), torch::minimum(s.h, remaining));
  }
  auto last = (h_eff >= remaining) & ~s.done;
  // The last step ends exactly at ts[-1]: its length t_end - t carries the time points' graph,
  // so that gradients w.r.t. ts are those of the discrete solution.
  auto h_g = torch::where(last, c.t_end_graph - s.t, h_eff);
  auto hb = bview(h_g, s.y).to(s.y.scalar_type());

  // Runge–Kutta stages.
  const int S = tab.stages();
  std::vector<at::Tensor> k(S);
  k[0] = s.k1;
  at::Tensor y_new;
  for (int i = 1; i < S; ++i) {
    at::Tensor acc;
    for (int j = 0; j < i; ++j) {
      double a = j < static_cast<int>(tab.a[i].size()) ? tab.a[i][j] : 0.0;
      if (a == 0.0) continue;
      acc = acc.defined() ? acc + a * k[j] : a * k[j];
    }
    auto yi = acc.defined() ? s.y + hb * acc : s.y;
    auto ti = tab.c[i] == 1.0 ? torch::where(last, c.t_end_graph, s.t + h_g) : s.t + tab.c[i] * h_g;
    k[i] = eval_checked(c, ti, yi);
    if (tab.fsal && i == S - 1) y_new = yi;
  }
  if (!y_new.defined()) {
    at::Tensor acc;
    for (int i = 0; i < S; ++i) {
      if (tab.b[i] == 0.0) continue;
      acc = acc.defined() ? acc + tab.b[i] * k[i] : tab.b[i] * k[i];
    }
    y_new = s.y + hb * acc;
  }
  auto t_new = torch::where(last, c.t_end_graph, s.t + h_g);

  at::Tensor accept, ratio;
  if (replay) {
    accept = replay->accept;
  } else {
    auto finite = torch::isfinite(y_new.detach()).flatten(1).all(1) | s.done;
    if (!finite.all().item<bool>()) {
      auto b = (~finite).nonzero()[0][0].item<int64_t>();
      PHYSML_THROW("odeint: NaN/Inf in the state at t = ", tdet[b].item<double>(), " (step ", s.step,
                   ", batch element ", b, ", step size ", h_eff[b].item<double>(),
                   "): the vector field produced non-finite values or the solution blew up");
    }
    if (c.adaptive) {
      torch::NoGradGuard ng;
      at::Tensor err;
      for (int i = 0; i < S; ++i) {
        if (tab.e[i] == 0.0) continue;
        err = err.defined() ? err + tab.e[i] * k[i] : tab.e[i] * k[i];
      }
      err = hb * err;
      auto scale = o.atol() + o.rtol() * torch::maximum(s.y.detach().abs(), y_new.detach().abs());
      ratio = rms(err.detach() / scale, c.norm_components);
      if (!tab.e3.empty()) {
        at::Tensor err3;
        for (int i = 0; i < S; ++i) {
          if (tab.e3[i] == 0.0) continue;
          err3 = err3.defined() ? err3 + tab.e3[i] * k[i] : tab.e3[i] * k[i];
        }
        auto r3 = rms((hb * err3).detach() / scale, c.norm_components);
        auto den = torch::sqrt(ratio * ratio + 0.01 * r3 * r3);
        ratio = torch::where(den > 0, ratio * ratio / den, torch::zeros_like(ratio));
      }
      accept = (ratio <= 1.0) & ~s.done;
    } else {
      accept = ~s.done;
    }
  }
  auto f_new = tab.fsal ? k[S - 1] : eval_checked(c, t_new, y_new);
  at::Tensor corr;
  if (!tab.dense.empty()) {
    for (int i = 0; i < S; ++i) {
      if (tab.dense[i] == 0.0) continue;
      corr = corr.defined() ? corr + tab.dense[i] * k[i] : tab.dense[i] * k[i];
    }
    corr = hb * corr;
  }

  // Events: bisection on the dense output for elements whose g changed sign.
  at::Tensor cross, theta_event;
  if (o.event() && !replay) {
    torch::NoGradGuard ng;
    auto g_new = o.event()(t_new.detach(), y_new.detach()).detach().to(torch::kDouble);
    cross = accept & ((s.g * g_new) <= 0) & (s.g != 0);
    theta_event = torch::ones_like(h_eff);
    if (cross.any().item<bool>()) {
      auto lo = torch::zeros_like(h_eff), hi = torch::ones_like(h_eff);
      auto hs = torch::where(h_eff > 0, h_eff, torch::ones_like(h_eff));
      auto yd = s.y.detach(), ynd = y_new.detach(), k1d = s.k1.detach(), fnd = f_new.detach();
      for (int it = 0; it < 200; ++it) {
        if (((hi - lo) * hs).masked_select(cross).max().item<double>() <= o.event_tol()) break;
        auto mid = 0.5 * (lo + hi);
        auto gm = o.event()(tdet + mid * h_eff, hermite(yd, k1d, ynd, fnd, hs, mid, corr.defined() ? corr.detach() : corr)).detach().to(torch::kDouble);
        auto same = (gm * s.g) > 0;
        lo = torch::where(same, mid, lo);
        hi = torch::where(same, hi, mid);
      }
      theta_event = torch::where(cross, hi, theta_event);
      s.event_times = torch::where(cross, tdet + hi * h_eff, s.event_times);
    }
    s.g = torch::where(accept, g_new, s.g);
  }

  // Dense output at the requested times inside the accepted steps.
  {
    auto acc_cpu = accept.to(torch::kCPU);
    if (acc_cpu.any().item<bool>()) {
      auto tn_det = t_new.detach();
      double lo = tdet.masked_select(accept).min().item<double>();
      double hi = tn_det.masked_select(accept).max().item<double>();
      bool any_cross = cross.defined() && cross.any().item<bool>();
      auto hs = torch::where(h_eff > 0, h_g, torch::ones_like(h_eff));
      for (size_t kk = 1; kk < c.ts_cpu.size(); ++kk) {
        double tk = c.ts_cpu[kk];
        if (tk <= lo) continue;
        if (tk > hi && !any_cross) break;
        auto cover = accept & (tdet < tk) & (tn_det >= tk);
        if (any_cross) cover = cover | (cross & (tdet < tk));
        if (!cover.any().item<bool>()) continue;
        auto theta = (c.ts[kk] - s.t) / hs;
        if (any_cross) theta = torch::minimum(theta, theta_event);
        auto yk = hermite(s.y, s.k1, y_new, f_new, hs, theta, corr);
        s.out[kk] = torch::where(bview(cover, yk), yk, s.out[kk]);
      }
    }
  }

  // Commit accepted steps.
  auto ab = bview(accept, s.y);
  s.y = torch::where(ab, y_new, s.y);
  s.k1 = torch::where(ab, f_new, s.k1);
  s.t = torch::where(accept, t_new, s.t);
  auto newly_done = accept & last;
  if (cross.defined()) newly_done = newly_done | cross;
  s.done = s.done | newly_done;
  s.accepted = s.accepted + accept.to(torch::kLong);
  if (record) record->push_back({h_eff, accept});
  ++s.step;
  if (replay) return;

  // Step-size control.
  if (c.adaptive) {
    torch::NoGradGuard ng;
    const double kexp = tab.error_order + 1;
    auto r = torch::clamp_min(ratio, 1e-10);
    auto fa = o.safety() * torch::pow(r, -(o.pcoeff() + o.icoeff() + o.dcoeff()) / kexp) *
              torch::pow(s.r1, (o.pcoeff() + 2 * o.dcoeff()) / kexp) * torch::pow(s.r2, -o.dcoeff() / kexp);
    fa = torch::clamp(fa, o.factor_min(), o.factor_max());
    auto fr = torch::clamp(o.safety() * torch::pow(r, -1.0 / kexp), o.factor_min(), 0.9);
    auto h_new = h_eff * torch::where(accept, fa, fr);
    s.rejected += ((~accept) & ~s.done).sum().item<int64_t>();
    s.r2 = torch::where(accept, s.r1, s.r2);
    s.r1 = torch::where(accept, r, s.r1);
    if (o.dtmax() > 0) h_new = torch::clamp_max(h_new, o.dtmax());
    s.h = torch::where(s.done, s.h, h_new);
    auto tcur = s.t.detach();
    auto hmin = o.dtmin() > 0 ? torch::full_like(tcur, o.dtmin())
                              : 1e-14 * torch::clamp_min(tcur.abs(), 1.0);
    auto under = (s.h < hmin) & ~s.done;
    if (under.any().item<bool>()) {
      auto b = under.nonzero()[0][0].item<int64_t>();
      PHYSML_THROW("odeint: step size underflow: h = ", s.h[b].item<double>(), " < dtmin = ",
                   hmin[b].item<double>(), " at t = ", tcur[b].item<double>(), " (step ", s.step,
                   ", batch element ", b, "); the problem may be stiff (try method petsc:bdf) or rtol/atol too tight");
    }
  }
}

OdeSolution integrate(const Ctx& c, const at::Tensor& y0) {
  auto nfe0 = c.f->nfe();
  LoopState s = init_state(c, y0);
  while (!all_done(s)) attempt(c, s, nullptr, nullptr);
  OdeSolution sol;
  sol.ys = torch::stack(s.out);
  sol.event_times = s.event_times;
  sol.stats.nfe = c.f->nfe() - nfe0;
  sol.stats.steps = s.step;
  sol.stats.accepted_max = accepted_max(s);
  sol.stats.rejected_total = s.rejected;
  return sol;
}

}  // namespace internal

std::vector<std::string> ode_methods() {
  return {"euler", "midpoint", "heun", "rk4", "bosh3", "dopri5", "tsit5", "dopri8", "reversible_heun"};
}

int ode_method_order(const std::string& method) {
  if (method == "reversible_heun") return 2;
  return internal::tableau(method).order;
}

OdeSolution odesolve(const VectorField& f, const at::Tensor& y0, const at::Tensor& ts, const OdeOptions& o) {
  internal::check_inputs(y0, ts, "odeint");
  const auto& g = o.gradient();
  PHYSML_CHECK(g == "backprop" || g == "adjoint" || g == "checkpoint" || g == "reversible",
               "odeint: unknown gradient method '", g, "'; expected backprop, adjoint, checkpoint or reversible");
  if (o.method().rfind("petsc:", 0) == 0) return internal::solve_petsc(f, y0, ts, o);
  if (o.method() == "reversible_heun" || g == "reversible") {
    PHYSML_CHECK(o.method() == "reversible_heun", "odeint: gradient 'reversible' needs method 'reversible_heun', got '",
                 o.method(), "'");
    PHYSML_CHECK(!o.event(), "odeint: events are not supported with reversible_heun");
    return internal::solve_reversible_heun(f, y0, ts, o);
  }
  if (g == "adjoint") return internal::solve_adjoint(f, y0, ts, o);
  if (g == "checkpoint") return internal::solve_checkpoint(f, y0, ts, o);
  auto c = internal::make_ctx(f, y0, ts, o);
  return internal::integrate(c, y0);
}

at::Tensor odeint(const VectorField& f, const at::Tensor& y0, const at::Tensor& ts, const OdeOptions& o) {
  return odesolve(f, y0, ts, o).ys;
}

}  // namespace physml::solvers::diffeq
