#include "physml/physics/random_field.hpp"

#include "physml/core/error.hpp"
#include "physml/core/random.hpp"

#include <fftw3.h>
#include <torch/torch.h>

#include <cmath>
#include <random>

namespace physml::physics {

struct GaussianRandomField::Plans {
  int64_t n_real = 0;      // points
  int64_t n_complex = 0;   // r2c half-spectrum size (periodic)
  double* real = nullptr;  // [shape] (periodic: noise, then field; neumann: output)
  double* modes = nullptr;            // neumann: mode coefficients [shape]
  fftw_complex* spectrum = nullptr;   // periodic: half spectrum
  fftw_plan forward = nullptr;        // periodic r2c
  fftw_plan backward = nullptr;       // periodic c2r / neumann REDFT01
  std::vector<double> scale;          // per mode: multiplier applied before the backward transform
  ~Plans() {
    if (forward) fftw_destroy_plan(forward);
    if (backward) fftw_destroy_plan(backward);
    if (real) fftw_free(real);
    if (modes) fftw_free(modes);
    if (spectrum) fftw_free(spectrum);
  }
};

namespace {
// Signed DFT wavenumber of index k on an axis of n points.
double dft_wavenumber(int64_t k, int64_t n) { return static_cast<double>(k <= n / 2 ? k : k - n); }
}  // namespace

GaussianRandomField::GaussianRandomField(GaussianRandomFieldOptions options) : options_(std::move(options)) {
  const auto& shape = options_.shape;
  const int d = dim();
  PHYSML_CHECK(d >= 1 && d <= 3, "GaussianRandomField: grid shape ", c10::IntArrayRef(shape), " has ", d,
               " axes; expected 1, 2 or 3");
  for (auto n : shape)
    PHYSML_CHECK(n >= 1, "GaussianRandomField: grid shape ", c10::IntArrayRef(shape), " has a non-positive extent");
  PHYSML_CHECK(options_.lengths.empty() || options_.lengths.size() == shape.size(), "GaussianRandomField: ",
               options_.lengths.size(), " box lengths for a ", d, "D grid");
  for (double L : options_.lengths)
    PHYSML_CHECK(L > 0 && std::isfinite(L), "GaussianRandomField: box length ", L, " must be positive");
  PHYSML_CHECK(options_.tau > 0 && std::isfinite(options_.tau), "GaussianRandomField: tau = ", options_.tau,
               " must be positive");
  PHYSML_CHECK(options_.alpha > 0 && std::isfinite(options_.alpha), "GaussianRandomField: alpha = ",
               options_.alpha, " must be positive");
  PHYSML_CHECK(!options_.sigma || (*options_.sigma > 0 && std::isfinite(*options_.sigma)),
               "GaussianRandomField: sigma must be positive");

  plans_ = std::make_unique<Plans>();
  auto& p = *plans_;
  p.n_real = 1;
  for (auto n : shape) p.n_real *= n;
  std::vector<int> dims(shape.begin(), shape.end());
  const at::Tensor lambda = eigenvalues();
  const double* lam = lambda.data_ptr<double>();
  double volume = 1;
  for (int a = 0; a < d; ++a) volume *= options_.lengths.empty() ? 1.0 : options_.lengths[static_cast<size_t>(a)];

  if (options_.boundary == FieldBoundary::periodic) {
    p.n_complex = p.n_real / shape.back() * (shape.back() / 2 + 1);
    p.real = fftw_alloc_real(static_cast<size_t>(p.n_real));
    p.spectrum = fftw_alloc_complex(static_cast<size_t>(p.n_complex));
    p.forward = fftw_plan_dft_r2c(d, dims.data(), p.real, p.spectrum, FFTW_ESTIMATE);
    p.backward = fftw_plan_dft_c2r(d, dims.data(), p.spectrum, p.real, FFTW_ESTIMATE);
    // Filtered white noise: W = DFT(w), g = IDFT_unnormalised(m_k W_k) has covariance
    // Σ_k m_k² N e^{2πik(x−y)}, so m_k = √(λ_k / (N |D|)) gives Σ_k λ_k φ_k(x) φ_k(y)*.
    p.scale.resize(static_cast<size_t>(p.n_complex));
    const int64_t nh = shape.back() / 2 + 1;
    for (int64_t c = 0; c < p.n_complex; ++c) {
      const int64_t klast = c % nh, rest = c / nh;  // rest indexes the leading axes
      const int64_t full = rest * shape.back() + klast;
      p.scale[static_cast<size_t>(c)] = std::sqrt(lam[full] / (static_cast<double>(p.n_real) * volume));
    }
  } else {
    p.real = fftw_alloc_real(static_cast<size_t>(p.n_real));
    p.modes = fftw_alloc_real(static_cast<size_t>(p.n_real));
    std::vector<fftw_r2r_kind> kinds(static_cast<size_t>(d), FFTW_REDFT01);
    p.backward = fftw_plan_r2r(d, dims.data(), p.modes, p.real, kinds.data(), FFTW_ESTIMATE);
    // REDFT01: Y_j = X_0 + 2 Σ_{k≥1} X_k cos(πk(j+½)/n) per axis. With X_0 = c_0/√L and
    // X_k = c_k/√(2L) this is Σ_k c_k φ_k(x_j) for the orthonormal cosine basis.
    p.scale.resize(static_cast<size_t>(p.n_real));
    for (int64_t m = 0; m < p.n_real; ++m) {
      double s = std::sqrt(lam[m]);
      int64_t rem = m;
      for (int a = d - 1; a >= 0; --a) {
        const auto n = shape[static_cast<size_t>(a)];
        const int64_t k = rem % n;
        rem /= n;
        const double L = options_.lengths.empty() ? 1.0 : options_.lengths[static_cast<size_t>(a)];
        s *= k == 0 ? 1.0 / std::sqrt(L) : 1.0 / std::sqrt(2.0 * L);
      }
      p.scale[static_cast<size_t>(m)] = s;
    }
  }
  PHYSML_CHECK(p.backward != nullptr, "GaussianRandomField: FFTW could not plan a transform of shape ",
               c10::IntArrayRef(shape));
}

GaussianRandomField::~GaussianRandomField() = default;
GaussianRandomField::GaussianRandomField(GaussianRandomField&&) noexcept = default;
GaussianRandomField& GaussianRandomField::operator=(GaussianRandomField&&) noexcept = default;

double GaussianRandomField::sigma() const {
  return options_.sigma ? *options_.sigma : std::pow(options_.tau, (2.0 * options_.alpha - dim()) / 2.0);
}

double GaussianRandomField::coordinate(int axis, int64_t j) const {
  const double L = options_.lengths.empty() ? 1.0 : options_.lengths.at(static_cast<size_t>(axis));
  const double h = L / static_cast<double>(options_.shape.at(static_cast<size_t>(axis)));
  return options_.boundary == FieldBoundary::periodic ? static_cast<double>(j) * h
                                                      : (static_cast<double>(j) + 0.5) * h;
}

at::Tensor GaussianRandomField::eigenvalues() const {
  const auto& shape = options_.shape;
  const int d = dim();
  auto out = torch::empty(shape, torch::kDouble);
  double* o = out.data_ptr<double>();
  const double s2 = sigma() * sigma();
  const bool periodic = options_.boundary == FieldBoundary::periodic;
  for (int64_t m = 0; m < out.numel(); ++m) {
    double mu = 0;
    int64_t rem = m;
    bool zero = true;
    for (int a = d - 1; a >= 0; --a) {
      const auto n = shape[static_cast<size_t>(a)];
      const int64_t k = rem % n;
      rem /= n;
      zero = zero && k == 0;
      const double L = options_.lengths.empty() ? 1.0 : options_.lengths[static_cast<size_t>(a)];
      const double w = periodic ? 2.0 * M_PI * dft_wavenumber(k, n) / L : M_PI * static_cast<double>(k) / L;
      mu += w * w;
    }
    o[m] = (zero && options_.zero_mean) ? 0.0 : s2 * std::pow(mu + options_.tau * options_.tau, -options_.alpha);
  }
  return out;
}

at::Tensor GaussianRandomField::sample(std::uint64_t seed) {
  auto& p = *plans_;
  std::mt19937_64 engine(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  if (options_.boundary == FieldBoundary::periodic) {
    for (int64_t j = 0; j < p.n_real; ++j) p.real[j] = normal(engine);
    fftw_execute(p.forward);
    for (int64_t c = 0; c < p.n_complex; ++c) {
      p.spectrum[c][0] *= p.scale[static_cast<size_t>(c)];
      p.spectrum[c][1] *= p.scale[static_cast<size_t>(c)];
    }
    fftw_execute(p.backward);
  } else {
    for (int64_t m = 0; m < p.n_real; ++m) p.modes[m] = normal(engine) * p.scale[static_cast<size_t>(m)];
    fftw_execute(p.backward);
  }
  auto out = torch::empty(options_.shape, torch::kDouble);
  std::copy(p.real, p.real + p.n_real, out.data_ptr<double>());
  return out;
}

at::Tensor GaussianRandomField::sample(std::uint64_t seed, std::uint64_t index) {
  return sample(derive_seed(seed, index));
}

at::Tensor GaussianRandomField::sample_batch(std::uint64_t seed, std::uint64_t first, int64_t count) {
  PHYSML_CHECK(count >= 0, "GaussianRandomField::sample_batch: negative count ", count);
  std::vector<int64_t> shape{count};
  shape.insert(shape.end(), options_.shape.begin(), options_.shape.end());
  auto out = torch::empty(shape, torch::kDouble);
  for (int64_t i = 0; i < count; ++i) out[i].copy_(sample(seed, first + static_cast<std::uint64_t>(i)));
  return out;
}

at::Tensor threshold(const at::Tensor& g, double high, double low, double level) {
  PHYSML_CHECK(g.defined(), "threshold: the field is undefined");
  return torch::where(g >= level, torch::full({}, high, g.options()), torch::full({}, low, g.options()));
}

}  // namespace physml::physics
