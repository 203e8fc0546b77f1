// Neural-SDE helpers: the latent-SDE KL term against the analytic KL of a linear SDE, its
// gradient against finite differences, the Gaussian KL against its closed form, LipSwish's
// Lipschitz constant, and weight clipping making an MLP 1-Lipschitz in l1.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "physml/core/error.hpp"
#include "physml/solvers/diffeq/neural_sde.hpp"
#include "test_util.hpp"

namespace de = physml::solvers::diffeq;

namespace {
auto f64 = torch::TensorOptions().dtype(torch::kDouble);

/// Posterior dz = -theta z dt + sigma dW (OU), prior dz = sigma dW, z0 = 1: u = -theta z / sigma and
/// KL[0, T] = theta^2 / (2 sigma^2) int_0^T E z_t^2 dt with E z_t^2 = e^{-2 theta t} + sigma^2 (1 - e^{-2 theta t}) / (2 theta).
double exact_kl(double theta, double sigma, double T) {
  const double a = (1 - std::exp(-2 * theta * T)) / (2 * theta);
  return theta * theta / (2 * sigma * sigma) * (a + sigma * sigma / (2 * theta) * (T - a));
}

de::LogqpSolution ou_logqp(const torch::Tensor& theta, double sigma, int batch, std::uint64_t seed, double dt) {
  de::VectorField post([theta](const torch::Tensor&, const torch::Tensor& z) { return -theta * z; }, {theta});
  de::VectorField prior([](const torch::Tensor&, const torch::Tensor& z) { return torch::zeros_like(z); });
  de::VectorField g([sigma](const torch::Tensor&, const torch::Tensor& z) { return torch::full_like(z, sigma); });
  auto ts = torch::tensor({0.0, 0.5, 1.0}, f64);
  auto bm = std::make_shared<de::BrownianInterval>(0.0, 1.0, std::vector<std::int64_t>{batch, 2}, seed, f64, 8);
  return de::sdeint_logqp(post, prior, g, torch::ones({batch, 1}, f64), ts, de::SdeOptions().method("euler").dt(dt),
                          bm);
}
}  // namespace

TEST(DiffeqNeuralSde, LogqpMatchesAnalyticKlOfLinearSde) {
  const double theta = 1.0, sigma = 0.5;
  const int batch = 4000;
  auto sol = ou_logqp(torch::tensor(theta, f64), sigma, batch, 7, 1.0 / 256);
  ASSERT_EQ(sol.ys.sizes(), (std::vector<int64_t>{3, batch, 1}));
  ASSERT_EQ(sol.kl.sizes(), (std::vector<int64_t>{3, batch}));
  EXPECT_EQ(sol.kl[0].abs().max().item<double>(), 0.0);
  for (int i : {1, 2}) {
    const double T = 0.5 * i;
    auto k = sol.kl[i];
    const double mean = k.mean().item<double>(), se = k.std().item<double>() / std::sqrt(batch);
    // Monte Carlo error (4 standard errors) plus the O(dt) bias of Euler (~ 1e-2 relative here).
    EXPECT_NEAR(mean, exact_kl(theta, sigma, T), 4 * se + 0.01 * exact_kl(theta, sigma, T)) << "T = " << T;
  }
  // The posterior path itself is the OU process: E z_1 = e^{-1}, Var z_1 = sigma^2 (1 - e^{-2}) / 2.
  auto z1 = sol.ys[2].squeeze(1);
  EXPECT_NEAR(z1.mean().item<double>(), std::exp(-1.0), 4 * z1.std().item<double>() / std::sqrt(batch) + 4e-3);
  EXPECT_NEAR(z1.var().item<double>(), sigma * sigma * (1 - std::exp(-2.0)) / 2, 0.01);
}

TEST(DiffeqNeuralSde, LogqpGradientMatchesFiniteDifferences) {
  // Same Brownian path (seed) for every evaluation: d KL / d theta by backprop vs central differences.
  auto kl_of = [](double th, bool grad) {
    auto theta = torch::tensor(th, f64).requires_grad_(grad);
    auto sol = ou_logqp(theta, 0.5, 16, 3, 1.0 / 32);
    auto v = sol.kl[-1].mean() + sol.ys[-1].pow(2).mean();
    if (grad) {
      v.backward();
      return theta.grad().item<double>();
    }
    return v.item<double>();
  };
  const double th = 0.8, h = 1e-5;
  const double fd = (kl_of(th + h, false) - kl_of(th - h, false)) / (2 * h);
  const double g = kl_of(th, true);
  EXPECT_NEAR(g, fd, 1e-6 * std::max(1.0, std::abs(fd)));
  EXPECT_GT(std::abs(g), 1e-3);
}

TEST(DiffeqNeuralSde, LogqpRejectsVanishingDiffusionAndNonDiagonalNoise) {
  de::VectorField f([](const torch::Tensor&, const torch::Tensor& z) { return -z; });
  de::VectorField zero([](const torch::Tensor&, const torch::Tensor& z) { return torch::zeros_like(z); });
  auto y0 = torch::ones({2, 1}, f64);
  auto ts = torch::tensor({0.0, 1.0}, f64);
  EXPECT_THROW_MSG(de::sdeint_logqp(f, zero, zero, y0, ts), "diffusion vanishes");
  EXPECT_THROW_MSG(de::sdeint_logqp(f, zero, f, y0, ts, de::SdeOptions().noise_type("general").brownian_size(1)),
                   "needs diagonal noise");
}

TEST(DiffeqNeuralSde, GaussianKlMatchesClosedForm) {
  // 1-D: KL(N(1, 0.5^2) || N(0, 2^2)) = log(2/0.5) + (0.25 + 1)/8 - 1/2.
  auto kl = de::gaussian_kl(torch::tensor({{1.0, 0.0}}, f64), torch::tensor({{std::log(0.5), 0.3}}, f64),
                            torch::tensor({{0.0, 0.0}}, f64), torch::tensor({{std::log(2.0), 0.3}}, f64));
  EXPECT_NEAR(kl.item<double>(), std::log(4.0) + 1.25 / 8 - 0.5, 1e-12);
  EXPECT_NEAR(de::gaussian_kl(torch::zeros({3, 4}, f64), torch::zeros({3, 4}, f64), torch::zeros({3, 4}, f64),
                              torch::zeros({3, 4}, f64))
                  .abs()
                  .max()
                  .item<double>(),
              0.0, 0.0);
}

TEST(DiffeqNeuralSde, LipSwishIsOneLipschitzAndTight) {
  auto x = torch::linspace(-10, 10, 200001, f64).requires_grad_(true);
  de::lipswish(x).sum().backward();
  const double slope = x.grad().abs().max().item<double>();
  EXPECT_LE(slope, 1.0);
  EXPECT_GT(slope, 0.99);
}

TEST(DiffeqNeuralSde, ClippingMakesAnMlpOneLipschitzInL1) {
  torch::manual_seed(0);
  torch::nn::Sequential mlp(torch::nn::Linear(3, 16), torch::nn::Functional(de::lipswish), torch::nn::Linear(16, 16),
                            torch::nn::Functional(torch::tanh), torch::nn::Linear(16, 2));
  mlp->to(torch::kDouble);
  {
    torch::NoGradGuard ng;
    for (auto& p : mlp->parameters()) p.mul_(5);  // far from 1-Lipschitz
  }
  auto x = torch::randn({2000, 3}, f64), y = x + 0.1 * torch::randn({2000, 3}, f64);
  auto ratio = [&] {
    torch::NoGradGuard ng;
    return ((mlp->forward(x) - mlp->forward(y)).abs().sum(1) / (x - y).abs().sum(1)).max().item<double>();
  };
  EXPECT_GT(ratio(), 1.0);  // the test can fail: before clipping the network expands distances
  de::clip_lipschitz_(*mlp);
  for (auto& m : mlp->modules(false)) {
    if (auto* lin = m->as<torch::nn::Linear>()) {
      EXPECT_LE(lin->weight.abs().sum(0).max().item<double>(), 1.0 + 1e-12);  // column sums
    }
  }
  EXPECT_LE(ratio(), 1.0 + 1e-12);
}
