#include "physml/simulators/navier_stokes.hpp"

#include "physml/core/error.hpp"
#include "pde_options.hpp"
#include "physml/core/options_reader.hpp"
#include "physml/physics/random_field.hpp"

#include <fftw3.h>
#include <torch/torch.h>

#include <cmath>
#include <complex>

namespace physml::simulators {

NavierStokesOptions NavierStokesOptions::scaled() {
  NavierStokesOptions o;
  o.resolution = 64;
  o.dt = 1e-3;
  return o;
}

NavierStokesOptions& NavierStokesOptions::set_from_options(const Options& options) {
  return detail::read_in_own_section(*this, options, "Navier-Stokes vorticity w_t + u.grad w = nu lap w + f (solver and data distribution)");
}

NavierStokesOptions& NavierStokesOptions::read_options(OptionsReader& r) {
  resolution = r.integer("resolution", resolution, "grid points per side of the solve (published: 256)", 1);
  viscosity = detail::positive_option(r, "viscosity", viscosity, "viscosity nu");
  dt = detail::positive_option(r, "dt", dt, "time step (published: 1e-4)");
  forcing_amplitude =
      detail::finite_option(r, "forcing", forcing_amplitude, "amplitude of f = A (sin 2 pi (x+y) + cos 2 pi (x+y))");
  time_stepping = r.choice("time_stepping", {"heun", "euler"}, time_stepping, "time integrator");
  alpha = detail::positive_option(r, "alpha", alpha, "GRF exponent alpha of w0");
  tau = detail::positive_option(r, "tau", tau, "GRF inverse length scale tau of w0");
  return *this;
}

mesh::Grid NavierStokesOptions::grid() const { return detail::unit_periodic_grid(2, resolution); }

NavierStokesOptions& NavierStokesOptions::on(const mesh::Grid& g) {
  resolution = detail::points_per_side(g, detail::unit_periodic_grid(2, 1), "NavierStokesOptions::on");
  return *this;
}

using cplx = std::complex<double>;

struct NavierStokes2D::Impl {
  int64_t n = 0, nh = 0, batch = 0, nreal = 0, ncplx = 0;  // per sample sizes
  double* real = nullptr;       // [batch, n, n] work
  double* prod = nullptr;       // [batch, n, n] accumulated u·∇w
  fftw_complex* work = nullptr; // [batch, n, nh]
  fftw_plan r2c = nullptr, c2r = nullptr;
  std::vector<double> kx, ky, lap, mask;  // per half-spectrum entry (n*nh)
  std::vector<cplx> forcing_hat;          // n*nh
  void free_plans() {
    if (r2c) fftw_destroy_plan(r2c);
    if (c2r) fftw_destroy_plan(c2r);
    if (real) fftw_free(real);
    if (prod) fftw_free(prod);
    if (work) fftw_free(work);
    r2c = c2r = nullptr;
    real = prod = nullptr;
    work = nullptr;
  }
  ~Impl() { free_plans(); }
  void plan(int64_t b) {
    if (b == batch) return;
    free_plans();
    batch = b;
    real = fftw_alloc_real(static_cast<size_t>(b * nreal));
    prod = fftw_alloc_real(static_cast<size_t>(b * nreal));
    work = fftw_alloc_complex(static_cast<size_t>(b * ncplx));
    int dims[2] = {static_cast<int>(n), static_cast<int>(n)};
    r2c = fftw_plan_many_dft_r2c(2, dims, static_cast<int>(b), real, nullptr, 1, static_cast<int>(nreal), work,
                                 nullptr, 1, static_cast<int>(ncplx), FFTW_ESTIMATE);
    c2r = fftw_plan_many_dft_c2r(2, dims, static_cast<int>(b), work, nullptr, 1, static_cast<int>(ncplx), real,
                                 nullptr, 1, static_cast<int>(nreal), FFTW_ESTIMATE);
    PHYSML_CHECK(r2c && c2r, "NavierStokes2D: FFTW could not plan a batch of ", b, " transforms of ", n, "x", n);
  }
  // Inverse transform of (factor ⊙ ŵ) into `real` (normalised).
  template <typename F>
  void to_real(const std::vector<cplx>& wh, F factor) {
    auto* w = reinterpret_cast<cplx*>(work);
    for (int64_t s = 0; s < batch; ++s)
      for (int64_t m = 0; m < ncplx; ++m) w[s * ncplx + m] = factor(m) * wh[static_cast<size_t>(s * ncplx + m)];
    fftw_execute(c2r);
    const double inv = 1.0 / static_cast<double>(nreal);
    for (int64_t j = 0; j < batch * nreal; ++j) real[j] *= inv;
  }
  // F̂ = dealias(FFT(u·∇w)) for ŵ [batch, n, nh].
  void advection(const std::vector<cplx>& wh, std::vector<cplx>& out) {
    const cplx I2pi(0.0, 2.0 * M_PI);
    // u = ψ_y = 2πi k_y ψ̂, ψ̂ = ŵ/λ
    to_real(wh, [&](int64_t m) { const auto mm = static_cast<size_t>(m); return lap[mm] > 0 ? I2pi * ky[mm] / lap[mm] : cplx(0); });
    std::vector<double> u(real, real + batch * nreal);
    to_real(wh, [&](int64_t m) { const auto mm = static_cast<size_t>(m); return I2pi * kx[mm]; });  // w_x
    for (int64_t j = 0; j < batch * nreal; ++j) prod[j] = u[static_cast<size_t>(j)] * real[j];
    to_real(wh, [&](int64_t m) { const auto mm = static_cast<size_t>(m); return lap[mm] > 0 ? -I2pi * kx[mm] / lap[mm] : cplx(0); });  // v = −ψ_x
    std::copy(real, real + batch * nreal, u.begin());
    to_real(wh, [&](int64_t m) { const auto mm = static_cast<size_t>(m); return I2pi * ky[mm]; });  // w_y
    for (int64_t j = 0; j < batch * nreal; ++j) real[j] = prod[j] + u[static_cast<size_t>(j)] * real[j];
    fftw_execute(r2c);
    auto* w = reinterpret_cast<cplx*>(work);
    for (int64_t s = 0; s < batch; ++s)
      for (int64_t m = 0; m < ncplx; ++m) out[static_cast<size_t>(s * ncplx + m)] = w[s * ncplx + m] * mask[static_cast<size_t>(m)];
  }
};

NavierStokes2D::NavierStokes2D(const NavierStokesOptions& options) : options_(options), impl_(std::make_unique<Impl>()) {
  PHYSML_CHECK(options_.resolution >= 4, "Navier-Stokes: resolution ", options_.resolution, " must be at least 4");
  PHYSML_CHECK(options_.viscosity > 0, "Navier-Stokes: viscosity ", options_.viscosity, " must be positive");
  PHYSML_CHECK(options_.dt > 0, "Navier-Stokes: dt ", options_.dt, " must be positive");
  PHYSML_CHECK(options_.time_stepping == "heun" || options_.time_stepping == "euler",
               "Navier-Stokes: time stepping '", options_.time_stepping, "' unknown; expected heun or euler");
  auto& I = *impl_;
  I.n = options_.resolution;
  I.nh = I.n / 2 + 1;
  I.nreal = I.n * I.n;
  I.ncplx = I.n * I.nh;
  const auto nc = static_cast<size_t>(I.ncplx);
  I.kx.resize(nc);
  I.ky.resize(nc);
  I.lap.resize(nc);
  I.mask.resize(nc);
  for (int64_t a = 0; a < I.n; ++a)
    for (int64_t b = 0; b < I.nh; ++b) {
      const auto m = static_cast<size_t>(a * I.nh + b);
      const double ky = static_cast<double>(a <= I.n / 2 ? a : a - I.n), kx = static_cast<double>(b);
      // Derivative symbols: the Nyquist wavenumber of an even grid has no sign, so its
      // derivative is set to zero (the usual convention; it keeps c2r inputs Hermitian).
      const bool nyq_y = I.n % 2 == 0 && a == I.n / 2, nyq_x = I.n % 2 == 0 && b == I.n / 2;
      I.kx[m] = nyq_x ? 0.0 : kx;
      I.ky[m] = nyq_y ? 0.0 : ky;
      I.lap[m] = 4 * M_PI * M_PI * (kx * kx + ky * ky);
      // 2/3 rule: keep |k_x|, |k_y| ≤ (2/3)(n/2).
      const double kmax = 2.0 / 3.0 * (static_cast<double>(I.n) / 2.0);
      I.mask[m] = (std::abs(kx) <= kmax && std::abs(ky) <= kmax) ? 1.0 : 0.0;
    }
  // Forcing spectrum.
  I.plan(1);
  auto f = forcing();
  std::copy(f.data_ptr<double>(), f.data_ptr<double>() + I.nreal, I.real);
  fftw_execute(I.r2c);
  I.forcing_hat.assign(reinterpret_cast<cplx*>(I.work), reinterpret_cast<cplx*>(I.work) + I.ncplx);
}

NavierStokes2D::~NavierStokes2D() = default;

at::Tensor NavierStokes2D::forcing() const {
  const int64_t n = options_.resolution;
  auto f = torch::empty({n, n}, torch::kDouble);
  auto F = f.accessor<double, 2>();
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < n; ++i) {
      const double s = 2 * M_PI * (static_cast<double>(i) + static_cast<double>(j)) / static_cast<double>(n);
      F[j][i] = options_.forcing_amplitude * (std::sin(s) + std::cos(s));
    }
  return f;
}

at::Tensor NavierStokes2D::solve(const at::Tensor& w0_in, const std::vector<double>& times) {
  auto& I = *impl_;
  PHYSML_CHECK(w0_in.dim() == 3 && w0_in.size(1) == I.n && w0_in.size(2) == I.n, "Navier-Stokes: initial vorticity has shape ",
               w0_in.sizes(), ", expected [batch, ", I.n, ", ", I.n, "]");
  PHYSML_CHECK(!times.empty(), "Navier-Stokes: no output times");
  const double dt = options_.dt;
  std::vector<int64_t> record_steps;
  for (size_t i = 0; i < times.size(); ++i) {
    const double steps = times[i] / dt;
    const auto r = static_cast<int64_t>(std::llround(steps));
    PHYSML_CHECK(times[i] > 0 && std::abs(steps - static_cast<double>(r)) < 1e-6 * std::max(1.0, steps),
                 "Navier-Stokes: output time ", times[i], " is not a positive multiple of dt = ", dt);
    PHYSML_CHECK(i == 0 || r > record_steps.back(), "Navier-Stokes: output times must increase");
    record_steps.push_back(r);
  }
  at::Tensor w0 = w0_in.to(torch::kCPU, torch::kDouble).contiguous();
  PHYSML_CHECK(torch::isfinite(w0).all().item<bool>(), "Navier-Stokes: initial vorticity contains NaN or Inf");
  const int64_t B = w0.size(0);
  I.plan(B);
  const auto total = static_cast<size_t>(B * I.ncplx);
  std::vector<cplx> wh(total), F1(total), F2(total), wstar(total);
  std::copy(w0.data_ptr<double>(), w0.data_ptr<double>() + B * I.nreal, I.real);
  fftw_execute(I.r2c);
  std::copy(reinterpret_cast<cplx*>(I.work), reinterpret_cast<cplx*>(I.work) + total, wh.begin());

  const double nu = options_.viscosity;
  std::vector<double> num(static_cast<size_t>(I.ncplx)), den(static_cast<size_t>(I.ncplx));
  for (size_t m = 0; m < num.size(); ++m) {
    num[m] = 1.0 - 0.5 * dt * nu * I.lap[m];
    den[m] = 1.0 / (1.0 + 0.5 * dt * nu * I.lap[m]);
  }
  // CN step: ŵ_new = [(1 − ½dtνλ)ŵ + dt(f̂ − F̂)] / (1 + ½dtνλ).
  auto cn_step = [&](const std::vector<cplx>& from, const std::vector<cplx>& F, std::vector<cplx>& to) {
    for (int64_t s = 0; s < B; ++s)
      for (int64_t m = 0; m < I.ncplx; ++m) {
        const auto k = static_cast<size_t>(s * I.ncplx + m), mm = static_cast<size_t>(m);
        to[k] = (num[mm] * from[k] + dt * (I.forcing_hat[mm] - F[k])) * den[mm];
      }
  };
  const bool heun = options_.time_stepping == "heun";
  auto out = torch::empty({B, static_cast<int64_t>(times.size()), I.n, I.n}, torch::kDouble);
  int64_t step = 0;
  for (size_t ti = 0; ti < record_steps.size(); ++ti) {
    for (; step < record_steps[ti]; ++step) {
      I.advection(wh, F1);
      if (heun) {
        cn_step(wh, F1, wstar);
        I.advection(wstar, F2);
        for (size_t k = 0; k < total; ++k) F1[k] = 0.5 * (F1[k] + F2[k]);
      }
      cn_step(wh, F1, wh);
    }
    I.to_real(wh, [](int64_t) { return cplx(1.0); });
    for (int64_t s = 0; s < B; ++s) {
      double* o = out[s][static_cast<int64_t>(ti)].data_ptr<double>();
      std::copy(I.real + s * I.nreal, I.real + (s + 1) * I.nreal, o);
    }
    PHYSML_CHECK(torch::isfinite(out.select(1, static_cast<int64_t>(ti))).all().item<bool>(),
                 "Navier-Stokes: the vorticity became non-finite by t = ", times[ti], " (lower dt)");
  }
  return out;
}

struct NavierStokesGenerator::Impl {
  physics::GaussianRandomField grf;
};

NavierStokesGenerator::NavierStokesGenerator(const NavierStokesOptions& options)
    : solver_(std::make_unique<NavierStokes2D>(options)) {
  PHYSML_CHECK(options.tau > 0, "Navier-Stokes: tau = ", options.tau, " must be positive");
  physics::GaussianRandomFieldOptions g;
  g.shape = {options.resolution, options.resolution};
  g.alpha = options.alpha;
  g.tau = options.tau;
  g.boundary = physics::FieldBoundary::periodic;
  impl_ = std::make_unique<Impl>(Impl{physics::GaussianRandomField(g)});
}

NavierStokesGenerator::~NavierStokesGenerator() = default;

NavierStokesBatch NavierStokesGenerator::generate(std::uint64_t seed, std::uint64_t first, int64_t count,
                                                  const std::vector<double>& times) {
  NavierStokesBatch b;
  b.initial = impl_->grf.sample_batch(seed, first, count);
  b.snapshots = solver_->solve(b.initial, times);
  return b;
}

}  // namespace physml::simulators
