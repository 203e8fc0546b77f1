// Gradient methods of odeint other than plain backpropagation: the continuous backsolve
// adjoint (with seminorm), the checkpointed discrete adjoint, and reversible Heun.
#include "ode_internal.hpp"

#include "physml/core/error.hpp"
#include "physml/core/revolve.hpp"

#include <cmath>
#include <functional>

namespace physml::solvers::diffeq {

std::pair<at::Tensor, at::Tensor> reversible_heun_step(const VectorField& f, const at::Tensor& t, double h,
                                                       const at::Tensor& y, const at::Tensor& z) {
  auto fz = f(t, z);
  auto z1 = 2 * y - z + h * fz;
  auto f1 = f(t + h, z1);
  auto y1 = y + (0.5 * h) * (fz + f1);
  return {y1, z1};
}

std::pair<at::Tensor, at::Tensor> reversible_heun_reverse(const VectorField& f, const at::Tensor& t, double h,
                                                          const at::Tensor& y1, const at::Tensor& z1) {
  auto f1 = f(t + h, z1);
  auto z = 2 * y1 - z1 - h * f1;
  auto fz = f(t, z);
  auto y = y1 - (0.5 * h) * (fz + f1);
  return {y, z};
}

namespace internal {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct SolveState : torch::CustomClassHolder {
  explicit SolveState(VectorField field, OdeOptions o) : f(std::move(field)), opt(std::move(o)) {}
  VectorField f;
  OdeOptions opt;
  std::vector<at::Tensor> params;
  OdeStats stats;
  // checkpoint
  std::vector<StepRecord> records;
  std::vector<std::pair<std::int64_t, LoopState>> snapshots;
  // reversible heun: final (y, z) and the step grid
  at::Tensor y_end, z_end;
  std::vector<double> grid;        // all step times t_0 .. t_N
  std::vector<std::int64_t> out_step;  // step index of each output time
};

at::Tensor flat_params(const std::vector<at::Tensor>& params, const at::Tensor& like) {
  if (params.empty()) return torch::zeros({0}, like.options());
  std::vector<at::Tensor> v;
  for (const auto& p : params) v.push_back(p.reshape(-1));
  return torch::cat(v);
}

/// Concatenate parameter gradients (zeros where undefined) into one flat vector.
at::Tensor flat_grads(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& grads,
                      const at::Tensor& like) {
  if (params.empty()) return torch::zeros({0}, like.options());
  std::vector<at::Tensor> v;
  for (size_t i = 0; i < params.size(); ++i)
    v.push_back(grads[i].defined() ? grads[i].reshape(-1) : torch::zeros({params[i].numel()}, params[i].options()));
  return torch::cat(v);
}

std::vector<at::Tensor> grad_params(const std::vector<at::Tensor>& params) {
  std::vector<at::Tensor> r;
  for (const auto& p : params)
    if (p.requires_grad()) r.push_back(p);
  return r;
}

/// VJP helper: grads of `outputs` w.r.t. `inputs` (undefined where unused).
variable_list vjp(const variable_list& outputs, const variable_list& inputs, const variable_list& cotangents) {
  variable_list outs, cots;
  for (size_t i = 0; i < outputs.size(); ++i)
    if (outputs[i].defined() && outputs[i].requires_grad() && cotangents[i].defined()) {
      outs.push_back(outputs[i]);
      cots.push_back(cotangents[i]);
    }
  if (outs.empty()) return variable_list(inputs.size());
  return torch::autograd::grad(outs, inputs, cots, /*retain_graph=*/false, /*create_graph=*/false,
                               /*allow_unused=*/true);
}

void accumulate_grads(std::vector<at::Tensor>& acc, const variable_list& g, size_t offset) {
  for (size_t i = 0; i < acc.size(); ++i) {
    const auto& gi = g[offset + i];
    if (!gi.defined()) continue;
    acc[i] = acc[i].defined() ? acc[i] + gi : gi;
  }
}

// ---------------------------------------------------------------- continuous adjoint
struct AdjointFn : torch::autograd::Function<AdjointFn> {
  static variable_list forward(AutogradContext* ctx, at::Tensor y0, at::Tensor ts, at::Tensor flat,
                               c10::intrusive_ptr<SolveState> st) {
    torch::NoGradGuard ng;
    auto c = make_ctx(st->f, y0, ts, st->opt);
    auto sol = integrate(c, y0);
    st->stats = sol.stats;
    ctx->save_for_backward({sol.ys, ts});
    ctx->saved_data["state"] = c10::IValue::make_capsule(st);
    return {sol.ys};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto st = c10::static_intrusive_pointer_cast<SolveState>(ctx->saved_data["state"].toCapsule());
    auto saved = ctx->get_saved_variables();
    auto ys = saved[0], ts = saved[1];
    auto g = grads[0].defined() ? grads[0] : torch::zeros_like(ys);
    const auto n = ts.size(0), B = ys.size(1);
    const auto& f = st->f;
    auto params = grad_params(st->params);
    const int64_t Ny = ys[0].numel();
    int64_t P = 0;
    for (const auto& p : params) P += p.numel();
    auto yshape = ys[0].sizes().vec();
    auto tsd = ts.detach().to(torch::kDouble);

    // Augmented backward dynamics in s = -t: d/ds [y, a, a_theta] = [-f, a^T df/dy, a^T df/dtheta].
    VectorField aug([&](const at::Tensor& s, const at::Tensor& z) {
      auto zz = z[0];
      auto y = zz.narrow(0, 0, Ny).view(yshape);
      auto a = zz.narrow(0, Ny, Ny).view(yshape);
      at::Tensor fy;
      variable_list gr;
      {
        torch::AutoGradMode on(true);
        auto y_ = y.detach().requires_grad_(true);
        fy = f((-s).expand({B}), y_);
        variable_list inputs{y_};
        inputs.insert(inputs.end(), params.begin(), params.end());
        gr = torch::autograd::grad({fy}, inputs, {a}, false, false, true);
      }
      std::vector<at::Tensor> parts{-fy.detach().reshape(-1),
                                    gr[0].defined() ? gr[0].reshape(-1) : torch::zeros({Ny}, z.options())};
      for (size_t i = 0; i < params.size(); ++i)
        parts.push_back(gr[1 + i].defined() ? gr[1 + i].reshape(-1).to(z.scalar_type())
                                            : torch::zeros({params[i].numel()}, z.options()));
      return torch::cat(parts).unsqueeze(0);
    });

    OdeOptions o = st->opt;
    if (o.adjoint_rtol() > 0) o.rtol(o.adjoint_rtol());
    if (o.adjoint_atol() > 0) o.atol(o.adjoint_atol());
    o.gradient("backprop");
    o.event(nullptr);

    auto gts = torch::zeros({n}, tsd.options());
    auto a = g[n - 1].clone();
    auto p_adj = torch::zeros({P}, ys.options());
    const auto nfe0 = f.nfe();
    for (int64_t i = n - 1; i >= 1; --i) {
      auto fi = f(tsd[i].expand({B}), ys[i]);
      gts[i] = (fi * g[i]).sum().to(torch::kDouble);
      auto z = torch::cat({ys[i].reshape(-1), a.reshape(-1), p_adj}).unsqueeze(0);
      auto sts = torch::stack({-tsd[i], -tsd[i - 1]});
      auto c = make_ctx(aug, z, sts, o);
      if (o.seminorm()) c.norm_components = 2 * Ny;
      auto sol = integrate(c, z);
      auto zend = sol.ys[1][0];
      a = zend.narrow(0, Ny, Ny).view(yshape);
      p_adj = zend.narrow(0, 2 * Ny, P);
      if (i == 1) gts[0] = -(a * f(tsd[0].expand({B}), ys[0])).sum().to(torch::kDouble);
      a = a + g[i - 1];
    }
    *st->stats.backward_nfe = f.nfe() - nfe0;
    // Split the parameter adjoint back over all parameters (zeros for frozen ones).
    std::vector<at::Tensor> pg;
    int64_t off = 0;
    for (const auto& p : st->params) {
      if (p.requires_grad()) {
        pg.push_back(p_adj.narrow(0, off, p.numel()));
        off += p.numel();
      } else {
        pg.push_back(at::Tensor());
      }
    }
    return {a, gts.to(ts.scalar_type()), flat_grads(st->params, pg, ys), at::Tensor()};
  }
};

// ---------------------------------------------------------------- checkpointed discrete adjoint
struct CheckpointFn : torch::autograd::Function<CheckpointFn> {
  static variable_list forward(AutogradContext* ctx, at::Tensor y0, at::Tensor ts, at::Tensor flat,
                               c10::intrusive_ptr<SolveState> st) {
    torch::NoGradGuard ng;
    auto c = make_ctx(st->f, y0, ts, st->opt);
    const auto nfe0 = st->f.nfe();
    LoopState s = init_state(c, y0);
    const std::int64_t K = std::max<std::int64_t>(2, st->opt.checkpoints());
    const bool binomial = st->opt.checkpoint_schedule() == "binomial";
    std::int64_t every = 1;
    while (!all_done(s)) {
      // Binomial: only the initial state is kept now; the backward pass places the others.
      if (binomial ? s.step == 0 : s.step % every == 0) {
        st->snapshots.emplace_back(s.step, snapshot(s));
        if (static_cast<std::int64_t>(st->snapshots.size()) > K) {  // thin out: keep every other one
          every *= 2;
          std::vector<std::pair<std::int64_t, LoopState>> kept;
          for (auto& sn : st->snapshots)
            if (sn.first % every == 0) kept.push_back(sn);
          st->snapshots = kept;
        }
      }
      attempt(c, s, nullptr, &st->records);
    }
    auto ys = torch::stack(s.out);
    st->stats.nfe = st->f.nfe() - nfe0;
    st->stats.steps = s.step;
    st->stats.accepted_max = accepted_max(s);
    st->stats.rejected_total = s.rejected;
    if (!binomial) *st->stats.stored_states_max = static_cast<std::int64_t>(st->snapshots.size());
    ctx->save_for_backward({y0, ts});
    ctx->saved_data["state"] = c10::IValue::make_capsule(st);
    return {ys};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto st = c10::static_intrusive_pointer_cast<SolveState>(ctx->saved_data["state"].toCapsule());
    auto saved = ctx->get_saved_variables();
    auto y0 = saved[0], ts = saved[1];
    auto g = grads[0];
    const auto n = ts.size(0), B = y0.size(0);
    auto params = grad_params(st->params);
    auto c = make_ctx(st->f, y0, ts.detach(), st->opt);
    const auto nfe0 = st->f.nfe();
    torch::AutoGradMode on(true);
    at::Tensor a_y = torch::zeros_like(y0), a_k1 = torch::zeros_like(y0);
    std::vector<at::Tensor> pacc(params.size());
    const auto N = static_cast<std::int64_t>(st->records.size());
    // Replay steps [s0, s1) from the state `snap` at step s0 with autograd and pull the adjoint
    // (a_y, a_k1) at s1 back to s0, accumulating parameter gradients and output cotangents.
    auto reverse_segment = [&](std::int64_t s0, std::int64_t s1, const LoopState& snap) {
      LoopState r = snapshot(snap);
      r.y = snap.y.detach().requires_grad_(true);
      r.k1 = snap.k1.detach().requires_grad_(true);
      r.out.assign(n, at::Tensor());
      for (int64_t k = 0; k < n; ++k) r.out[k] = torch::zeros_like(y0);
      r.step = s0;
      auto yc = r.y, kc = r.k1;
      for (auto step = s0; step < s1; ++step) attempt(c, r, &st->records[step], nullptr);
      variable_list outs{r.y, r.k1}, cots{a_y, a_k1};
      for (int64_t k = 1; k < n; ++k)
        if (r.out[k].requires_grad() && g.defined()) {
          outs.push_back(r.out[k]);
          cots.push_back(g[k]);
        }
      variable_list inputs{yc, kc};
      inputs.insert(inputs.end(), params.begin(), params.end());
      auto res = vjp(outs, inputs, cots);
      a_y = res[0].defined() ? res[0] : torch::zeros_like(y0);
      a_k1 = res[1].defined() ? res[1] : torch::zeros_like(y0);
      accumulate_grads(pacc, res, 2);
    };
    if (st->opt.checkpoint_schedule() == "binomial") {
      // Binomial (revolve) schedule, core/revolve.hpp: at most `checkpoints` states (the
      // initial one included) stored at any time, and only one step's graph alive.
      auto advance = [&](const LoopState& from, std::int64_t a, std::int64_t b) {
        torch::NoGradGuard ng;
        LoopState r = snapshot(from);
        r.out.assign(n, at::Tensor());
        for (int64_t k = 0; k < n; ++k) r.out[k] = torch::zeros_like(y0);
        r.step = a;
        for (auto step = a; step < b; ++step) attempt(c, r, &st->records[step], nullptr);
        return snapshot(r);
      };
      const auto live_max = reverse_binomial<LoopState>(
          N, std::max<std::int64_t>(2, st->opt.checkpoints()), st->snapshots.front().second, advance,
          [&](std::int64_t i, const LoopState& snap) { reverse_segment(i, i + 1, snap); });
      *st->stats.stored_states_max = live_max;
    } else {
      for (auto j = static_cast<std::int64_t>(st->snapshots.size()) - 1; j >= 0; --j) {
        const auto s0 = st->snapshots[j].first;
        const auto s1 = j + 1 < static_cast<std::int64_t>(st->snapshots.size()) ? st->snapshots[j + 1].first : N;
        reverse_segment(s0, s1, st->snapshots[j].second);
      }
    }
    // k1 = f(t0, y0) at the start.
    {
      auto y_ = y0.detach().requires_grad_(true);
      auto k = st->f(ts.detach().to(torch::kDouble)[0].expand({B}), y_);
      variable_list inputs{y_};
      inputs.insert(inputs.end(), params.begin(), params.end());
      auto res = vjp({k}, inputs, {a_k1});
      if (res[0].defined()) a_y = a_y + res[0];
      accumulate_grads(pacc, res, 1);
    }
    if (g.defined()) a_y = a_y + g[0];
    *st->stats.backward_nfe = st->f.nfe() - nfe0;
    std::vector<at::Tensor> pg;
    size_t q = 0;
    for (const auto& p : st->params) pg.push_back(p.requires_grad() ? pacc[q++] : at::Tensor());
    return {a_y, at::Tensor(), flat_grads(st->params, pg, y0), at::Tensor()};
  }
};

// ---------------------------------------------------------------- reversible Heun
std::vector<double> make_grid(const std::vector<double>& ts, double dt, std::vector<std::int64_t>& out_step) {
  std::vector<double> grid{ts[0]};
  out_step = {0};
  for (size_t i = 1; i < ts.size(); ++i) {
    const double span = ts[i] - ts[i - 1];
    const auto m = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(span / dt - 1e-9)));
    for (std::int64_t j = 1; j < m; ++j) grid.push_back(ts[i - 1] + span * static_cast<double>(j) / m);
    grid.push_back(ts[i]);
    out_step.push_back(static_cast<std::int64_t>(grid.size()) - 1);
  }
  return grid;
}

struct ReversibleFn : torch::autograd::Function<ReversibleFn> {
  static variable_list forward(AutogradContext* ctx, at::Tensor y0, at::Tensor flat,
                               c10::intrusive_ptr<SolveState> st) {
    torch::NoGradGuard ng;
    const auto B = y0.size(0);
    const auto nfe0 = st->f.nfe();
    auto dopt = y0.options().dtype(torch::kDouble);
    std::vector<at::Tensor> out{y0};
    at::Tensor y = y0, z = y0;
    const auto& grid = st->grid;
    size_t next = 1;
    for (size_t i = 1; i < grid.size(); ++i) {
      std::tie(y, z) = reversible_heun_step(st->f, torch::full({B}, grid[i - 1], dopt), grid[i] - grid[i - 1], y, z);
      PHYSML_CHECK(torch::isfinite(y).all().item<bool>(), "odeint: NaN/Inf in the state at t = ", grid[i],
                   " (step ", i, ", reversible_heun)");
      if (next < st->out_step.size() && st->out_step[next] == static_cast<std::int64_t>(i)) {
        out.push_back(y);
        ++next;
      }
    }
    st->y_end = y;
    st->z_end = z;
    st->stats.nfe = st->f.nfe() - nfe0;
    st->stats.steps = static_cast<std::int64_t>(grid.size()) - 1;
    st->stats.accepted_max = st->stats.steps;
    ctx->saved_data["state"] = c10::IValue::make_capsule(st);
    return {torch::stack(out)};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto st = c10::static_intrusive_pointer_cast<SolveState>(ctx->saved_data["state"].toCapsule());
    auto g = grads[0];
    auto params = grad_params(st->params);
    const auto& grid = st->grid;
    const auto B = st->y_end.size(0);
    auto dopt = st->y_end.options().dtype(torch::kDouble);
    const auto nfe0 = st->f.nfe();
    at::Tensor y = st->y_end, z = st->z_end;
    at::Tensor a_y = g.defined() ? g[g.size(0) - 1].clone() : torch::zeros_like(y), a_z = torch::zeros_like(y);
    std::vector<at::Tensor> pacc(params.size());
    auto next = static_cast<std::int64_t>(st->out_step.size()) - 2;
    for (auto i = static_cast<std::int64_t>(grid.size()) - 1; i >= 1; --i) {
      const double h = grid[i] - grid[i - 1];
      auto t0 = torch::full({B}, grid[i - 1], dopt);
      at::Tensor yp, zp;
      {
        torch::NoGradGuard ng;
        std::tie(yp, zp) = reversible_heun_reverse(st->f, t0, h, y, z);  // exact algebraic inverse
      }
      torch::AutoGradMode on(true);
      auto y_ = yp.detach().requires_grad_(true), z_ = zp.detach().requires_grad_(true);
      auto [y1, z1] = reversible_heun_step(st->f, t0, h, y_, z_);
      variable_list inputs{y_, z_};
      inputs.insert(inputs.end(), params.begin(), params.end());
      auto res = vjp({y1, z1}, inputs, {a_y, a_z});
      a_y = res[0].defined() ? res[0] : torch::zeros_like(y);
      a_z = res[1].defined() ? res[1] : torch::zeros_like(y);
      accumulate_grads(pacc, res, 2);
      y = yp;
      z = zp;
      if (next >= 0 && st->out_step[next] == i - 1) {
        if (g.defined()) a_y = a_y + g[next];
        --next;
      }
    }
    *st->stats.backward_nfe = st->f.nfe() - nfe0;
    std::vector<at::Tensor> pg;
    size_t q = 0;
    for (const auto& p : st->params) pg.push_back(p.requires_grad() ? pacc[q++] : at::Tensor());
    return {a_y + a_z, flat_grads(st->params, pg, y), at::Tensor()};
  }
};

}  // namespace

OdeSolution solve_adjoint(const VectorField& f, const at::Tensor& y0, const at::Tensor& ts, const OdeOptions& o) {
  PHYSML_CHECK(!o.event(), "odeint: events are not supported with gradient 'adjoint'");
  tableau(o.method());
  auto st = c10::make_intrusive<SolveState>(f, o);
  st->params = f.parameters();
  auto out = AdjointFn::apply(y0, ts, flat_params(st->params, y0), st);
  OdeSolution sol;
  sol.ys = out[0];
  sol.stats = st->stats;
  return sol;
}

OdeSolution solve_checkpoint(const VectorField& f, const at::Tensor& y0, const at::Tensor& ts, const OdeOptions& o) {
  PHYSML_CHECK(!o.event(), "odeint: events are not supported with gradient 'checkpoint'");
  PHYSML_CHECK(o.checkpoints() >= 2, "odeint: checkpoints must be >= 2, got ", o.checkpoints());
  PHYSML_CHECK(o.checkpoint_schedule() == "uniform" || o.checkpoint_schedule() == "binomial",
               "odeint: unknown checkpoint_schedule '", o.checkpoint_schedule(), "'; expected uniform or binomial");
  tableau(o.method());
  auto st = c10::make_intrusive<SolveState>(f, o);
  st->params = f.parameters();
  auto out = CheckpointFn::apply(y0, ts, flat_params(st->params, y0), st);
  OdeSolution sol;
  sol.ys = out[0];
  sol.stats = st->stats;
  return sol;
}

OdeSolution solve_reversible_heun(const VectorField& f, const at::Tensor& y0, const at::Tensor& ts,
                                  const OdeOptions& o) {
  PHYSML_CHECK(o.dt() > 0, "odeint: method 'reversible_heun' is fixed-step: set OdeOptions::dt > 0");
  auto st = c10::make_intrusive<SolveState>(f, o);
  st->params = f.parameters();
  auto tc = ts.detach().to(torch::kCPU, torch::kDouble).contiguous();
  std::vector<double> tv(tc.data_ptr<double>(), tc.data_ptr<double>() + tc.numel());
  st->grid = make_grid(tv, o.dt(), st->out_step);
  OdeSolution sol;
  if (o.gradient() == "reversible") {
    sol.ys = ReversibleFn::apply(y0, flat_params(st->params, y0), st)[0];
    sol.stats = st->stats;
    return sol;
  }
  PHYSML_CHECK(o.gradient() == "backprop", "odeint: reversible_heun supports gradient 'backprop' or 'reversible', got '",
               o.gradient(), "'");
  // Plain autograd through the reversible steps.
  const auto B = y0.size(0);
  auto dopt = y0.options().dtype(torch::kDouble);
  const auto nfe0 = f.nfe();
  std::vector<at::Tensor> out{y0};
  at::Tensor y = y0, z = y0;
  size_t next = 1;
  for (size_t i = 1; i < st->grid.size(); ++i) {
    std::tie(y, z) = reversible_heun_step(f, torch::full({B}, st->grid[i - 1], dopt), st->grid[i] - st->grid[i - 1], y, z);
    PHYSML_CHECK(torch::isfinite(y.detach()).all().item<bool>(), "odeint: NaN/Inf in the state at t = ",
                 st->grid[i], " (step ", i, ", reversible_heun)");
    if (next < st->out_step.size() && st->out_step[next] == static_cast<std::int64_t>(i)) {
      out.push_back(y);
      ++next;
    }
  }
  sol.ys = torch::stack(out);
  sol.stats.nfe = f.nfe() - nfe0;
  sol.stats.steps = sol.stats.accepted_max = static_cast<std::int64_t>(st->grid.size()) - 1;
  return sol;
}

}  // namespace internal
}  // namespace physml::solvers::diffeq
