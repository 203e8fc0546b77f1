#include "physml/simulators/coarse_burgers.hpp"

#include "physml/core/error.hpp"
#include "physml/core/random.hpp"

#include <torch/torch.h>

#include <cmath>

namespace physml::simulators {

namespace {

/// Angular wavenumbers 2πm of an rfft of n points, as real tensor [n/2 + 1] like `like`.
at::Tensor wavenumbers(std::int64_t n, const at::Tensor& like) {
  return torch::arange(n / 2 + 1, like.options().dtype(c10::toRealValueType(like.scalar_type()))) * (2 * M_PI);
}

/// 1 for the modes m with 3m < n (the 2/3 rule), else 0: [n/2 + 1].
at::Tensor dealias_mask(std::int64_t n, const at::Tensor& like) {
  auto m = torch::arange(n / 2 + 1, like.options().dtype(c10::toRealValueType(like.scalar_type())));
  return (3 * m < static_cast<double>(n)).to(m.scalar_type());
}

at::Tensor derivative(const at::Tensor& u) {
  const auto n = u.size(-1);
  auto uh = torch::fft::rfft(u);
  auto ik = torch::complex(torch::zeros_like(wavenumbers(n, u)), wavenumbers(n, u));
  return torch::fft::irfft(uh * ik, n);
}

/// −(u²/2)_x on the grid of u, dealiased, in Fourier space (unnormalized rfft).
at::Tensor advection_hat(const at::Tensor& u) {
  const auto n = u.size(-1);
  auto k = wavenumbers(n, u);
  auto minus_ik = torch::complex(torch::zeros_like(k), -k);
  return minus_ik * dealias_mask(n, u) * torch::fft::rfft(0.5 * u * u);
}

void check_field(const at::Tensor& u, const char* what) {
  PHYSML_CHECK(u.defined() && u.dim() >= 1 && u.is_floating_point(), what,
               ": expected a real floating-point tensor [..., n], got ", u.defined() ? u.sizes() : at::IntArrayRef{});
}

}  // namespace

at::Tensor spectral_filter(const at::Tensor& u, std::int64_t n) {
  check_field(u, "spectral_filter");
  const auto N = u.size(-1);
  PHYSML_CHECK(n >= 2 && n <= N, "spectral_filter: coarse size ", n, " must be in [2, ", N, "] (the fine size)");
  auto uh = torch::fft::rfft(u);
  const std::int64_t keep = std::min((n + 2) / 3, N / 2 + 1);  // modes m with 3m < n
  auto shape = uh.sizes().vec();
  shape.back() = n / 2 + 1;
  auto ch = torch::zeros(shape, uh.options());
  ch.narrow(-1, 0, keep).copy_(uh.narrow(-1, 0, keep) * (static_cast<double>(n) / static_cast<double>(N)));
  return torch::fft::irfft(ch, n);
}

at::Tensor subgrid_term(const at::Tensor& u, std::int64_t n) {
  check_field(u, "subgrid_term");
  // −P(u u_x): the fine advection (u is the dealiased fine solution; what aliases lies above
  // the coarse cutoff n/3 <= N/3 and is filtered away) filtered to the coarse modes.
  auto fine = torch::fft::irfft(advection_hat(u), u.size(-1));
  auto resolved = spectral_filter(fine, n);
  auto ubar = spectral_filter(u, n);
  auto coarse = torch::fft::irfft(advection_hat(ubar), n);
  return resolved - coarse;  // = (ū ū_x)_dealiased − P(u u_x)
}

at::Tensor smagorinsky_term(const at::Tensor& u, double cs) {
  check_field(u, "smagorinsky_term");
  PHYSML_CHECK(std::isfinite(cs) && cs >= 0, "smagorinsky_term: c_s = ", cs, " must be finite and >= 0");
  const double delta = 1.0 / static_cast<double>(u.size(-1));
  auto ux = derivative(u);
  return derivative((cs * delta) * (cs * delta) * ux.abs() * ux);
}

FilteredBurgers filtered_burgers(const BurgersOptions& fine, std::int64_t n, const std::vector<double>& times,
                                 std::uint64_t seed, std::int64_t first, std::int64_t count, bool vary_forcing) {
  PHYSML_CHECK(count >= 1 && first >= 0, "filtered_burgers: need count >= 1 and first >= 0, got ", count, ", ", first);
  PHYSML_CHECK(n >= 8 && n <= fine.resolution, "filtered_burgers: coarse size ", n, " must be in [8, ",
               fine.resolution, "]");
  FilteredBurgers out;
  out.times = times;
  std::vector<at::Tensor> coarse, sub;
  for (std::int64_t i = first; i < first + count; ++i) {
    auto o = fine;
    if (vary_forcing) o.forcing_seed = derive_seed(fine.forcing_seed, static_cast<std::uint64_t>(i));
    BurgersGenerator gen(o);
    auto u = gen.solver().solve(gen.initial(seed, static_cast<std::uint64_t>(i)), times);  // [T, N]
    coarse.push_back(spectral_filter(u, n));
    sub.push_back(subgrid_term(u, n));
    auto c = o;
    c.resolution = n;
    out.options.push_back(c);
  }
  out.coarse = torch::stack(coarse);
  out.subgrid = torch::stack(sub);
  return out;
}

CoarseBurgers::CoarseBurgers(const BurgersOptions& options, double dt)
    : options_(options), forcing_(BurgersForcing::draw(options)), n_(options.resolution), dt_(dt) {
  PHYSML_CHECK(n_ >= 8, "CoarseBurgers: resolution ", n_, " must be at least 8");
  PHYSML_CHECK(options_.viscosity > 0 && std::isfinite(options_.viscosity), "CoarseBurgers: viscosity ",
               options_.viscosity, " must be positive");
  PHYSML_CHECK(dt_ > 0 && std::isfinite(dt_), "CoarseBurgers: time step ", dt_, " must be positive");
}

namespace {

/// Per-sample forcing parameters of a batch: phases φ and frequencies ω [B, K], amplitudes
/// [B, 1], start times [B, 1] (undefined tensors when no sample is forced).
struct BatchForcing {
  at::Tensor phase, frequency, amplitude, start;
  std::int64_t modes = 0;
};

BatchForcing batch_forcing(const std::vector<BurgersForcing>& f, const std::vector<double>& t0, std::int64_t nh) {
  BatchForcing b;
  for (const auto& x : f) b.modes = std::max<std::int64_t>(b.modes, x.active() ? static_cast<std::int64_t>(x.phase.size()) : 0);
  PHYSML_CHECK(b.modes + 1 <= nh, "CoarseBurgers: forcing of ", b.modes, " modes on a grid with ", nh - 1, " modes");
  if (b.modes == 0) return b;
  const auto B = static_cast<std::int64_t>(f.size());
  std::vector<double> ph(static_cast<std::size_t>(B * b.modes), 0.0), fr(ph.size(), 0.0), am;
  for (std::int64_t i = 0; i < B; ++i) {
    const auto& x = f[static_cast<std::size_t>(i)];
    am.push_back(x.active() ? x.amplitude : 0.0);
    for (std::size_t q = 0; x.active() && q < x.phase.size(); ++q) {
      ph[static_cast<std::size_t>(i * b.modes) + q] = x.phase[q];
      fr[static_cast<std::size_t>(i * b.modes) + q] = x.frequency[q];
    }
  }
  auto o = torch::TensorOptions().dtype(torch::kDouble);
  b.phase = torch::tensor(ph, o).view({B, b.modes});
  b.frequency = torch::tensor(fr, o).view({B, b.modes});
  b.amplitude = torch::tensor(am, o).view({B, 1});
  b.start = torch::tensor(t0, o).view({B, 1});
  return b;
}

/// The forcing's unnormalized rfft at time start + tau: [B, nh] complex like `like`.
/// sin(2πkx + θ) has the coefficient n e^{iθ} / (2i) = (n/2)(sin θ − i cos θ) at wavenumber k.
at::Tensor forcing_hat(const BatchForcing& b, double tau, std::int64_t n, const at::Tensor& like) {
  auto th = b.phase + b.frequency * (b.start + tau);
  auto a = 0.5 * static_cast<double>(n) * b.amplitude;
  auto f = torch::complex(a * torch::sin(th), -a * torch::cos(th));  // [B, K]
  auto out = torch::zeros({f.size(0), n / 2 + 1}, f.options());
  out.narrow(1, 1, b.modes).copy_(f);
  return out.to(like.device(), like.scalar_type());
}

}  // namespace

at::Tensor CoarseBurgers::nonlinear(const at::Tensor& u, double t) const {
  PHYSML_CHECK(u.defined() && u.size(-1) == n_, "CoarseBurgers: field of shape ", u.sizes(), ", expected [..., ", n_, "]");
  auto uh = torch::fft::rfft(u);
  auto r = advection_hat(u);
  if (forcing_.active()) {
    auto f = forcing_hat(batch_forcing({forcing_}, {t}, n_ / 2 + 1), 0.0, n_, uh)[0];
    r = r + f;
  }
  return torch::fft::irfft(r, n_);
}

at::Tensor CoarseBurgers::step(const at::Tensor& u_in, double t, const BurgersClosure& closure) const {
  PHYSML_CHECK(u_in.defined() && u_in.is_floating_point() && u_in.size(-1) == n_ && u_in.dim() <= 2,
               "CoarseBurgers: state of shape ", u_in.defined() ? u_in.sizes() : at::IntArrayRef{}, ", expected [batch, ",
               n_, "] or [", n_, "] (floating point)");
  const bool single = u_in.dim() == 1;
  auto u = single ? u_in.unsqueeze(0) : u_in;
  const auto B = static_cast<std::size_t>(u.size(0));
  auto out = step_batch(u, std::vector<double>(B, t), std::vector<BurgersForcing>(B, forcing_), 0.0, closure);
  return single ? out.squeeze(0) : out;
}

at::Tensor CoarseBurgers::step_batch(const at::Tensor& u, const std::vector<double>& t0,
                                     const std::vector<BurgersForcing>& forcings, double offset,
                                     const BurgersClosure& closure) const {
  const auto B = static_cast<std::size_t>(u.size(0));
  PHYSML_CHECK(t0.size() == B && forcings.size() == B, "CoarseBurgers: ", t0.size(), " start times and ",
               forcings.size(), " forcings for a batch of ", B);
  auto bf = batch_forcing(forcings, t0, n_ / 2 + 1);
  auto k = wavenumbers(n_, u);
  auto E = torch::exp(-options_.viscosity * dt_ * k * k), E2 = torch::exp(-0.5 * options_.viscosity * dt_ * k * k);
  auto mask = dealias_mask(n_, u);
  const double t_mean = t0.empty() ? 0.0 : t0[0] + offset;  // the closure's time argument (sample 0)
  auto rhs = [&](const at::Tensor& vh, double tau) {
    auto v = torch::fft::irfft(vh, n_);
    auto r = advection_hat(v);
    if (bf.modes > 0) r = r + forcing_hat(bf, offset + tau, n_, r);
    if (closure) {
      auto c = closure(v, t_mean + tau);
      PHYSML_CHECK(c.defined() && c.sizes() == v.sizes(), "CoarseBurgers: the closure returned shape ",
                   c.defined() ? c.sizes() : at::IntArrayRef{}, " for a state of shape ", v.sizes());
      r = r + mask * torch::fft::rfft(c.to(v.scalar_type()));
    }
    return r;
  };
  auto uh = torch::fft::rfft(u) * mask;
  const double h = dt_;
  auto a = rhs(uh, 0.0);
  auto b = rhs(E2 * (uh + 0.5 * h * a), 0.5 * h);
  auto c = rhs(E2 * uh + 0.5 * h * b, 0.5 * h);
  auto d = rhs(E * uh + h * E2 * c, h);
  auto next = E * uh + (h / 6.0) * (E * a + 2.0 * E2 * (b + c) + d);
  return torch::fft::irfft(next, n_);
}

at::Tensor CoarseBurgers::rollout(const at::Tensor& u0, double t0, std::int64_t steps, std::int64_t every,
                                  const BurgersClosure& closure) const {
  PHYSML_CHECK(u0.defined() && u0.dim() == 2, "CoarseBurgers::rollout: initial state of shape ",
               u0.defined() ? u0.sizes() : at::IntArrayRef{}, ", expected [batch, ", n_, "]");
  const auto B = static_cast<std::size_t>(u0.size(0));
  return rollout(u0, std::vector<double>(B, t0), std::vector<BurgersForcing>(B, forcing_), steps, every, closure);
}

at::Tensor CoarseBurgers::rollout(const at::Tensor& u0, const std::vector<double>& t0,
                                  const std::vector<BurgersForcing>& forcings, std::int64_t steps, std::int64_t every,
                                  const BurgersClosure& closure) const {
  PHYSML_CHECK(steps >= 1 && every >= 1 && steps % every == 0, "CoarseBurgers::rollout: steps ", steps,
               " must be a positive multiple of every = ", every);
  PHYSML_CHECK(u0.defined() && u0.dim() == 2 && u0.size(1) == n_ && u0.is_floating_point(),
               "CoarseBurgers::rollout: initial state of shape ", u0.defined() ? u0.sizes() : at::IntArrayRef{},
               ", expected [batch, ", n_, "]");
  std::vector<at::Tensor> frames;
  auto u = u0;
  for (std::int64_t s = 1; s <= steps; ++s) {
    u = step_batch(u, t0, forcings, static_cast<double>(s - 1) * dt_, closure);
    if (s % every == 0) {
      if (!torch::isfinite(u).all().item<bool>())
        throw NonFiniteError(detail::concat("CoarseBurgers: the state became non-finite at step ", s, " (t = t0 + ",
                                            static_cast<double>(s) * dt_, "); the closure or the time step ", dt_,
                                            " made the rollout unstable"),
                             __FILE__, __LINE__);
      frames.push_back(u);
    }
  }
  return torch::stack(frames, 1);
}

}  // namespace physml::simulators
