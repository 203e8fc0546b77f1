// Fixed-step and step-doubling adaptive SDE solvers.
#include "physml/solvers/diffeq/sde.hpp"

#include "ode_internal.hpp"

#include "physml/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace physml::solvers::diffeq {
namespace {

enum class Noise { diagonal, scalar, additive, general };

struct Sde {
  const VectorField* f;
  const VectorField* g;
  Noise noise;
  bool strat;
  std::string method;
  std::int64_t B, d, m;
  SdeStats* st;
  // Reversible Heun reuses f(t_{n+1}, z_{n+1}), g(t_{n+1}, z_{n+1}) of step n as the first
  // evaluation of step n + 1 (one drift and one diffusion evaluation per step, Kidger et al.
  // 2021). The cache holds the z tensor it belongs to, so it can only hit for that very tensor.
  mutable at::Tensor cache_z, cache_f, cache_g;
  mutable double cache_t = 0;

  std::string sh(at::IntArrayRef s) const {
    std::ostringstream os;
    os << s;
    return os.str();
  }
  at::Tensor drift(const at::Tensor& t, const at::Tensor& y) const {
    ++st->drift_evals;
    auto r = (*f)(t, y);
    PHYSML_CHECK(r.sizes() == y.sizes(), "sdeint: drift returned shape ", sh(r.sizes()), " for a state of shape ",
                 sh(y.sizes()), "; expected the shape of the state");
    return r;
  }
  at::Tensor diffusion(const at::Tensor& t, const at::Tensor& y) const {
    ++st->diffusion_evals;
    auto r = (*g)(t, y);
    const bool matrix = noise == Noise::additive || noise == Noise::general;
    const std::vector<std::int64_t> want = matrix ? std::vector<std::int64_t>{B, d, m} : std::vector<std::int64_t>{B, d};
    PHYSML_CHECK(r.sizes() == at::IntArrayRef(want), "sdeint: diffusion returned shape ", sh(r.sizes()),
                 " but noise type ", noise_name(), " needs ", sh(want));
    return r;
  }
  const char* noise_name() const {
    switch (noise) {
      case Noise::diagonal: return "diagonal";
      case Noise::scalar: return "scalar";
      case Noise::additive: return "additive";
      default: return "general";
    }
  }
  /// g(t, y) "times" dW for the noise type.
  at::Tensor gdw(const at::Tensor& gv, const at::Tensor& dW) const {
    switch (noise) {
      case Noise::diagonal: return gv * dW;
      case Noise::scalar: return gv * dW;  // dW [B, 1] broadcasts
      default: return torch::bmm(gv, dW.unsqueeze(2)).squeeze(2);
    }
  }

  /// One step of size h from (t, y) with increment dW; z is the reversible-Heun auxiliary state.
  void step(const at::Tensor& t, double h, const at::Tensor& dW, at::Tensor& y, at::Tensor& z) const {
    auto th = t + h;
    if (method == "euler") {
      y = y + drift(t, y) * h + gdw(diffusion(t, y), dW);
    } else if (method == "milstein") {
      auto fv = drift(t, y);
      auto gv = diffusion(t, y);
      auto yn = y + fv * h + gdw(gv, dW);
      if (noise == Noise::diagonal || noise == Noise::scalar) {
        // Derivative-free Milstein: (g(y + g sqrt h) - g(y)) / sqrt(h) ~ g g' (Kloeden & Platen 11.1).
        const double sq = std::sqrt(h);
        auto ghat = diffusion(t, y + gv * sq);
        auto dgg = (ghat - gv) / sq;
        auto corr = strat ? dW * dW : dW * dW - h;
        yn = yn + 0.5 * dgg * corr;  // scalar noise: corr [B, 1] broadcasts over d
      }
      y = yn;
    } else if (method == "heun") {
      auto fv = drift(t, y);
      auto gv = diffusion(t, y);
      auto yt = y + fv * h + gdw(gv, dW);
      y = y + 0.5 * (fv + drift(th, yt)) * h + 0.5 * gdw(gv + diffusion(th, yt), dW);
    } else {  // reversible_heun
      const double t0 = t[0].item<double>();
      at::Tensor fz, gz;
      if (cache_z.defined() && cache_z.is_same(z) && cache_t == t0) {
        fz = cache_f;
        gz = cache_g;
      } else {
        fz = drift(t, z);
        gz = diffusion(t, z);
      }
      auto z1 = 2 * y - z + fz * h + gdw(gz, dW);
      auto f1 = drift(th, z1);
      auto g1 = diffusion(th, z1);
      cache_z = z1, cache_f = f1, cache_g = g1, cache_t = t0 + h;
      y = y + 0.5 * (fz + f1) * h + 0.5 * gdw(gz + g1, dW);
      z = z1;
    }
    PHYSML_CHECK(torch::isfinite(y.detach()).all().item<bool>(), "sdeint: NaN/Inf in the state at t = ",
                 t[0].item<double>() + h, " (step ", st->steps, ", method ", method, ")");
  }
};

}  // namespace

at::Tensor sdeint(const VectorField& drift, const VectorField& diffusion, const at::Tensor& y0, const at::Tensor& ts,
                  const SdeOptions& o, std::shared_ptr<BrownianInterval> bm, SdeStats* stats) {
  internal::check_inputs(y0, ts, "sdeint");
  PHYSML_CHECK(y0.dim() == 2, "sdeint: y0 must be [batch, d], got dim ", y0.dim());
  SdeStats local;
  Sde s{&drift, &diffusion, Noise::diagonal, false, o.method(), y0.size(0), y0.size(1), 0, stats ? stats : &local,
        {}, {}, {}, 0.0};
  const auto& nt = o.noise_type();
  if (nt == "diagonal") s.noise = Noise::diagonal, s.m = s.d;
  else if (nt == "scalar") s.noise = Noise::scalar, s.m = 1;
  else if (nt == "additive") s.noise = Noise::additive, s.m = o.brownian_size();
  else if (nt == "general") s.noise = Noise::general, s.m = o.brownian_size();
  else PHYSML_THROW("sdeint: unknown noise type '", nt, "'; expected diagonal, scalar, additive or general");
  if (s.noise == Noise::additive || s.noise == Noise::general)
    PHYSML_CHECK(s.m > 0, "sdeint: noise type ", nt, " needs SdeOptions::brownian_size > 0");
  PHYSML_CHECK(o.sde_type() == "ito" || o.sde_type() == "stratonovich", "sdeint: unknown sde_type '", o.sde_type(),
               "'; expected ito or stratonovich");
  s.strat = o.sde_type() == "stratonovich";
  const auto& me = o.method();
  PHYSML_CHECK(me == "euler" || me == "milstein" || me == "heun" || me == "reversible_heun",
               "sdeint: unknown method '", me, "'; expected euler, milstein, heun or reversible_heun");
  if (me == "euler")
    PHYSML_CHECK(!s.strat || s.noise == Noise::additive,
                 "sdeint: method 'euler' (Euler–Maruyama) converges to the Itô solution; use heun or "
                 "reversible_heun for a Stratonovich SDE");
  if (me == "heun" || me == "reversible_heun")
    PHYSML_CHECK(s.strat || s.noise == Noise::additive, "sdeint: method '", me,
                 "' converges to the Stratonovich solution; set sde_type stratonovich (or use euler/milstein for Itô)");
  if (me == "milstein")
    PHYSML_CHECK(s.noise != Noise::general,
                 "sdeint: milstein needs diagonal, scalar or additive noise (general noise needs Lévy areas)");
  PHYSML_CHECK(o.dt() > 0, "sdeint: dt must be positive, got ", o.dt());

  auto tc = ts.detach().to(torch::kCPU, torch::kDouble).contiguous();
  std::vector<double> tv(tc.data_ptr<double>(), tc.data_ptr<double>() + tc.numel());
  const std::vector<std::int64_t> wshape{s.B, s.m};
  if (!bm) {
    // Resolve the grid to the steps this solve takes. Fixed steps that are all equal (every
    // output time a multiple of one step h from ts[0]): grid cells of exactly h, one node per
    // step. Other fixed steps: 2^-10 of the smallest. Adaptive: dtmin, the smallest step the
    // controller accepts.
    const auto opts = torch::TensorOptions().dtype(y0.scalar_type()).device(y0.device());
    if (!o.adaptive()) {
      std::vector<double> steps;
      for (size_t i = 1; i < tv.size(); ++i) {
        const double span = tv[i] - tv[i - 1];
        const auto n = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(span / o.dt() - 1e-9)));
        steps.push_back(span / static_cast<double>(n));
      }
      const double h = steps.empty() ? o.dt() : *std::min_element(steps.begin(), steps.end());
      bool aligned = true;
      for (size_t i = 1; i < tv.size(); ++i) {
        const double k = (tv[i] - tv.front()) / h;
        aligned = aligned && std::abs(steps[i - 1] - h) <= 1e-12 * h && std::abs(k - std::round(k)) <= 1e-6;
      }
      if (aligned)
        bm = BrownianInterval::for_step(tv.front(), tv.back(), h, wshape, o.seed(), opts);
      else
        bm = std::make_shared<BrownianInterval>(tv.front(), tv.back(), wshape, o.seed(), opts,
                                                BrownianInterval::depth_for_step(tv.front(), tv.back(), h, 10));
    } else {
      bm = std::make_shared<BrownianInterval>(tv.front(), tv.back(), wshape, o.seed(), opts,
                                              BrownianInterval::depth_for_step(tv.front(), tv.back(), o.dtmin(), 0));
    }
  } else {
    PHYSML_CHECK(bm->shape() == wshape, "sdeint: Brownian motion has shape ", s.sh(bm->shape()), " but noise type ",
                 nt, " needs ", s.sh(wshape));
    PHYSML_CHECK(bm->t0() <= tv.front() && bm->t1() >= tv.back(), "sdeint: Brownian motion covers [", bm->t0(),
                 ", ", bm->t1(), "], which does not contain [", tv.front(), ", ", tv.back(), "]");
  }
  auto dW = [&](double a, double b) { return bm->increment(a, b).to(y0.dtype()); };
  auto tt = [&](double t) { return torch::full({s.B}, t, y0.options().dtype(torch::kDouble)); };

  std::vector<at::Tensor> out{y0};
  at::Tensor y = y0, z = y0;
  double h = o.dt();
  for (size_t i = 1; i < tv.size(); ++i) {
    const double a = tv[i - 1], b = tv[i];
    if (!o.adaptive()) {
      const auto n = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil((b - a) / o.dt() - 1e-9)));
      for (std::int64_t j = 0; j < n; ++j) {
        const double t0 = a + (b - a) * j / n, t1 = j + 1 == n ? b : a + (b - a) * (j + 1) / n;
        s.step(tt(t0), t1 - t0, dW(t0, t1), y, z);
        ++s.st->steps;
      }
    } else {
      double t = a;
      while (t < b) {
        PHYSML_CHECK(s.st->steps + s.st->rejected < o.max_steps(), "sdeint: max_steps = ", o.max_steps(),
                     " reached at t = ", t);
        const double hh = std::min(h, b - t);
        const double tm = t + 0.5 * hh, te = (hh == b - t) ? b : t + hh;
        at::Tensor y1 = y, z1 = z, y2 = y, z2 = z;
        s.step(tt(t), te - t, dW(t, te), y1, z1);
        s.step(tt(t), tm - t, dW(t, tm), y2, z2);
        s.step(tt(tm), te - tm, dW(tm, te), y2, z2);
        auto scale = o.atol() + o.rtol() * torch::maximum(y.detach().abs(), y2.detach().abs());
        const double err = ((y1.detach() - y2.detach()) / scale).pow(2).mean().sqrt().item<double>();
        if (err <= 1.0) {
          y = y2;
          z = z2;
          t = te;
          ++s.st->steps;
        } else {
          ++s.st->rejected;
        }
        // Strong order ~1/2..1 of the difference: exponent 1/2 is the safe choice (Ilie et al. 2015).
        h = hh * std::clamp(0.9 * std::pow(std::max(err, 1e-10), -0.5), 0.2, 5.0);
        PHYSML_CHECK(h >= o.dtmin() || t >= b, "sdeint: step size underflow: h = ", h, " < dtmin = ", o.dtmin(),
                     " at t = ", t);
      }
    }
    out.push_back(y);
  }
  return torch::stack(out);
}

}  // namespace physml::solvers::diffeq
