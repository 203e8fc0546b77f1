#include "physml/simulators/burgers.hpp"

#include "physml/core/error.hpp"
#include "physml/core/random.hpp"
#include "pde_options.hpp"
#include "physml/core/options_reader.hpp"
#include "physml/physics/random_field.hpp"

#include <fftw3.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <random>

namespace physml::simulators {

BurgersOptions BurgersOptions::scaled() {
  BurgersOptions o;
  o.resolution = 1024;
  return o;
}

BurgersOptions& BurgersOptions::set_from_options(const Options& options) {
  return detail::read_in_own_section(*this, options, "Burgers u_t + (u^2/2)_x = nu u_xx (solver and data distribution)");
}

BurgersOptions& BurgersOptions::read_options(OptionsReader& r) {
  resolution = r.integer("resolution", resolution, "grid points of the solve (published: 8192, stored ::8)", 1);
  viscosity = detail::positive_option(r, "viscosity", viscosity, "viscosity nu");
  final_time = detail::positive_option(r, "final_time", final_time, "final time T of the output u(T)");
  sigma = detail::positive_option(r, "sigma", sigma, "GRF amplitude sigma of u0");
  tau = detail::positive_option(r, "tau", tau, "GRF inverse length scale tau of u0");
  alpha = detail::positive_option(r, "alpha", alpha, "GRF exponent alpha of u0");
  random_mean = r.boolean("random_mean", random_mean,
                          "draw the constant mode of u0 too (the FNO generator fixes it to mean 0)");
  forcing_amplitude = detail::finite_option(r, "forcing_amplitude", forcing_amplitude,
                                            "amplitude A of the forcing A sum_k sin(2 pi k x + phi_k + omega_k t) (0 = none)");
  forcing_modes = r.integer("forcing_modes", forcing_modes, "forced wavenumbers k = 1..K", 1, 1 << 20);
  forcing_seed = static_cast<std::uint64_t>(
      r.integer("forcing_seed", static_cast<long>(forcing_seed), "seed of the forcing's phases and frequencies", 0));
  cfl = detail::positive_option(r, "cfl", cfl, "CFL number of the adaptive time step");
  max_dt = detail::positive_option(r, "max_dt", max_dt, "largest time step");
  return *this;
}

mesh::Grid BurgersOptions::grid() const { return detail::unit_periodic_grid(1, resolution); }

BurgersOptions& BurgersOptions::on(const mesh::Grid& g) {
  resolution = detail::points_per_side(g, detail::unit_periodic_grid(1, 1), "BurgersOptions::on");
  return *this;
}

using cplx = std::complex<double>;

BurgersForcing BurgersForcing::draw(const BurgersOptions& o) {
  PHYSML_CHECK(std::isfinite(o.forcing_amplitude), "Burgers: forcing amplitude ", o.forcing_amplitude, " is not finite");
  BurgersForcing f;
  f.amplitude = o.forcing_amplitude;
  if (o.forcing_amplitude == 0) return f;
  PHYSML_CHECK(o.forcing_modes >= 1, "Burgers: forcing_modes ", o.forcing_modes, " must be at least 1");
  PHYSML_CHECK(3 * o.forcing_modes < o.resolution, "Burgers: forcing_modes ", o.forcing_modes,
               " must be below resolution/3 = ", o.resolution / 3.0, " (the dealiased modes)");
  auto unit = [](std::mt19937_64& g) { return static_cast<double>(g() >> 11) * 0x1.0p-53; };
  for (int64_t k = 1; k <= o.forcing_modes; ++k) {
    std::mt19937_64 g(derive_seed(o.forcing_seed, static_cast<std::uint64_t>(k)));
    f.phase.push_back(2 * M_PI * unit(g));
    f.frequency.push_back(2 * M_PI * (2 * unit(g) - 1));
  }
  return f;
}

at::Tensor BurgersForcing::evaluate(int64_t n, double t) const {
  auto out = torch::zeros({n}, torch::kDouble);
  if (!active()) return out;
  auto* o = out.data_ptr<double>();
  for (size_t k = 0; k < phase.size(); ++k)
    for (int64_t j = 0; j < n; ++j)
      o[j] += amplitude * std::sin(2 * M_PI * static_cast<double>(k + 1) * static_cast<double>(j) / static_cast<double>(n) +
                                   phase[k] + frequency[k] * t);
  return out;
}

struct BurgersSolver::Impl {
  int64_t n = 0, nh = 0;
  double* real = nullptr;
  fftw_complex* spec = nullptr;
  fftw_plan r2c = nullptr, c2r = nullptr;
  std::vector<double> k;      // angular wavenumbers 2πm
  std::vector<double> mask;   // 2/3 dealiasing
  double max_abs_u = 0;       // from the last nonlinear evaluation
  BurgersForcing forcing;
  ~Impl() {
    if (r2c) fftw_destroy_plan(r2c);
    if (c2r) fftw_destroy_plan(c2r);
    if (real) fftw_free(real);
    if (spec) fftw_free(spec);
  }
  // N(û, t) = −(i k / 2) FFT(u²) + FFT(f(t)), dealiased; records max|u|.
  void nonlinear(const std::vector<cplx>& uh, std::vector<cplx>& out, double t) {
    auto* s = reinterpret_cast<cplx*>(spec);
    for (int64_t m = 0; m < nh; ++m) s[m] = uh[static_cast<size_t>(m)];
    fftw_execute(c2r);
    const double inv_n = 1.0 / static_cast<double>(n);
    double mx = 0;
    for (int64_t j = 0; j < n; ++j) {
      const double u = real[j] * inv_n;
      mx = std::max(mx, std::abs(u));
      real[j] = u * u;
    }
    max_abs_u = mx;
    fftw_execute(r2c);
    for (int64_t m = 0; m < nh; ++m) {
      const auto mm = static_cast<size_t>(m);
      out[mm] = cplx(0.0, -0.5 * k[mm]) * s[m] * mask[mm];
    }
    // sin(2πkx + θ) has the unnormalized coefficient n e^{iθ} / (2i) at wavenumber k.
    for (size_t q = 0; q < forcing.phase.size(); ++q)
      out[q + 1] += cplx(0.0, -0.5 * static_cast<double>(n) * forcing.amplitude) *
                    std::exp(cplx(0.0, forcing.phase[q] + forcing.frequency[q] * t));
  }
};

BurgersSolver::BurgersSolver(const BurgersOptions& options) : options_(options), impl_(std::make_unique<Impl>()) {
  PHYSML_CHECK(options_.resolution >= 4, "Burgers: resolution ", options_.resolution, " must be at least 4");
  PHYSML_CHECK(options_.viscosity > 0, "Burgers: viscosity ", options_.viscosity, " must be positive");
  PHYSML_CHECK(options_.final_time > 0, "Burgers: final time ", options_.final_time, " must be positive");
  PHYSML_CHECK(options_.cfl > 0 && options_.max_dt > 0, "Burgers: cfl and max_dt must be positive");
  auto& I = *impl_;
  I.n = options_.resolution;
  I.nh = I.n / 2 + 1;
  I.real = fftw_alloc_real(static_cast<size_t>(I.n));
  I.spec = fftw_alloc_complex(static_cast<size_t>(I.nh));
  I.r2c = fftw_plan_dft_r2c_1d(static_cast<int>(I.n), I.real, I.spec, FFTW_ESTIMATE);
  I.c2r = fftw_plan_dft_c2r_1d(static_cast<int>(I.n), I.spec, I.real, FFTW_ESTIMATE);
  I.k.resize(static_cast<size_t>(I.nh));
  I.mask.resize(static_cast<size_t>(I.nh));
  for (int64_t m = 0; m < I.nh; ++m) {
    I.k[static_cast<size_t>(m)] = 2.0 * M_PI * static_cast<double>(m);
    I.mask[static_cast<size_t>(m)] = 3 * m < I.n ? 1.0 : 0.0;  // keep |m| < n/3
  }
  I.forcing = BurgersForcing::draw(options_);
}

BurgersSolver::~BurgersSolver() = default;

at::Tensor BurgersSolver::solve(const at::Tensor& u0) { return solve(u0, {options_.final_time})[0]; }

at::Tensor BurgersSolver::solve(const at::Tensor& u0_in, const std::vector<double>& times) {
  auto& I = *impl_;
  PHYSML_CHECK(u0_in.dim() == 1 && u0_in.size(0) == I.n, "Burgers: initial condition has shape ", u0_in.sizes(),
               ", expected [", I.n, "]");
  PHYSML_CHECK(!times.empty(), "Burgers: no output times");
  for (size_t i = 0; i < times.size(); ++i)
    PHYSML_CHECK(times[i] > 0 && (i == 0 || times[i] > times[i - 1]),
                 "Burgers: output times must be positive and increasing");
  at::Tensor u0 = u0_in.to(torch::kCPU, torch::kDouble).contiguous();
  PHYSML_CHECK(torch::isfinite(u0).all().item<bool>(), "Burgers: initial condition contains NaN or Inf");
  const auto nh = static_cast<size_t>(I.nh);
  std::vector<cplx> uh(nh), a(nh), b(nh), c(nh), d(nh), tmp(nh);
  std::copy(u0.data_ptr<double>(), u0.data_ptr<double>() + I.n, I.real);
  fftw_execute(I.r2c);
  auto* s = reinterpret_cast<cplx*>(I.spec);
  for (size_t m = 0; m < nh; ++m) uh[m] = s[m] * I.mask[m];

  auto out = torch::empty({static_cast<int64_t>(times.size()), I.n}, torch::kDouble);
  const double nu = options_.viscosity, dx = 1.0 / static_cast<double>(I.n);
  double t = 0;
  steps_ = 0;
  std::vector<double> E(nh), E2(nh);
  double last_dt = -1;
  for (size_t ti = 0; ti < times.size(); ++ti) {
    while (t < times[ti]) {
      I.nonlinear(uh, a, t);  // also measures max|u|
      PHYSML_CHECK(std::isfinite(I.max_abs_u), "Burgers: the solution became non-finite at t = ", t,
                   " (time step too large? lower -cfl)");
      double dt = std::min(options_.max_dt, options_.cfl * dx / std::max(I.max_abs_u, 1e-300));
      if (t + dt >= times[ti] - 1e-14 * times[ti]) dt = times[ti] - t;
      if (dt != last_dt) {
        for (size_t m = 0; m < nh; ++m) {
          E[m] = std::exp(-nu * I.k[m] * I.k[m] * dt);
          E2[m] = std::exp(-nu * I.k[m] * I.k[m] * dt / 2);
        }
        last_dt = dt;
      }
      // Lawson integrating-factor RK4 on v = e^{νk²t} û.
      for (size_t m = 0; m < nh; ++m) tmp[m] = E2[m] * (uh[m] + 0.5 * dt * a[m]);
      I.nonlinear(tmp, b, t + 0.5 * dt);
      for (size_t m = 0; m < nh; ++m) tmp[m] = E2[m] * uh[m] + 0.5 * dt * b[m];
      I.nonlinear(tmp, c, t + 0.5 * dt);
      for (size_t m = 0; m < nh; ++m) tmp[m] = E[m] * uh[m] + dt * E2[m] * c[m];
      I.nonlinear(tmp, d, t + dt);
      for (size_t m = 0; m < nh; ++m)
        uh[m] = E[m] * uh[m] + dt / 6.0 * (E[m] * a[m] + 2.0 * E2[m] * (b[m] + c[m]) + d[m]);
      t = (dt == times[ti] - t) ? times[ti] : t + dt;
      ++steps_;
    }
    for (size_t m = 0; m < nh; ++m) s[m] = uh[m];
    fftw_execute(I.c2r);
    double* o = out[static_cast<int64_t>(ti)].data_ptr<double>();
    for (int64_t j = 0; j < I.n; ++j) o[j] = I.real[j] / static_cast<double>(I.n);
  }
  return out;
}

struct BurgersGenerator::Impl {
  physics::GaussianRandomField grf;
};

BurgersGenerator::BurgersGenerator(const BurgersOptions& options)
    : solver_(std::make_unique<BurgersSolver>(options)) {
  PHYSML_CHECK(options.tau > 0, "Burgers: tau = ", options.tau, " must be positive");
  physics::GaussianRandomFieldOptions g;
  g.shape = {options.resolution};
  g.alpha = options.alpha;
  g.tau = options.tau;
  g.sigma = options.sigma;
  g.boundary = physics::FieldBoundary::periodic;
  g.zero_mean = !options.random_mean;
  impl_ = std::make_unique<Impl>(Impl{physics::GaussianRandomField(g)});
}

BurgersGenerator::~BurgersGenerator() = default;

at::Tensor BurgersGenerator::initial(std::uint64_t seed, std::uint64_t index) { return impl_->grf.sample(seed, index); }

BurgersSample BurgersGenerator::generate(std::uint64_t seed, std::uint64_t index) {
  BurgersSample s;
  s.initial = impl_->grf.sample(seed, index);
  s.solution = solver_->solve(s.initial);
  return s;
}

}  // namespace physml::simulators
