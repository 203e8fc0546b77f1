// SDE solvers and Brownian motion: strong/weak orders on GBM and OU with exact solutions,
// Brownian consistency under shuffled queries, increment statistics, noise-type equivalences.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "physml/core/error.hpp"
#include "physml/solvers/diffeq/sde.hpp"
#include "test_util.hpp"

namespace de = physml::solvers::diffeq;

namespace {
auto f64 = torch::TensorOptions().dtype(torch::kDouble);

/// Least-squares slope of log(err) against log(h).
double slope(const std::vector<double>& h, const std::vector<double>& e) {
  double mx = 0, my = 0;
  for (size_t i = 0; i < h.size(); ++i) mx += std::log(h[i]) / h.size(), my += std::log(e[i]) / h.size();
  double num = 0, den = 0;
  for (size_t i = 0; i < h.size(); ++i) {
    num += (std::log(h[i]) - mx) * (std::log(e[i]) - my);
    den += (std::log(h[i]) - mx) * (std::log(h[i]) - mx);
  }
  return num / den;
}

// Geometric Brownian motion dX = mu X dt + sigma X dW, X_T = X0 exp((mu - sigma^2/2) T + sigma W_T).
constexpr double mu = 1.0, sigma = 0.5;
const int paths = 4000;

struct GbmRun {
  std::vector<double> hs, strong, weak;
};

GbmRun gbm(const std::string& method, const std::string& type, std::vector<int> ks) {
  auto bm = std::make_shared<de::BrownianInterval>(0.0, 1.0, std::vector<std::int64_t>{paths, 1}, 42);
  const bool strat = type == "stratonovich";
  de::VectorField f([strat](const torch::Tensor&, const torch::Tensor& y) {
    return (strat ? mu - 0.5 * sigma * sigma : mu) * y;
  });
  de::VectorField g([](const torch::Tensor&, const torch::Tensor& y) { return sigma * y; });
  auto y0 = torch::ones({paths, 1}, f64);
  auto exact = torch::exp((mu - 0.5 * sigma * sigma) + sigma * bm->increment(0, 1));
  GbmRun r;
  for (int k : ks) {
    double h = std::ldexp(1.0, -k);
    auto ys = de::sdeint(f, g, y0, torch::tensor({0.0, 1.0}, f64),
                         de::SdeOptions().method(method).sde_type(type).dt(h), bm);
    auto diff = ys[1] - exact;
    r.hs.push_back(h);
    r.strong.push_back(diff.abs().mean().item<double>());
    r.weak.push_back(std::abs(diff.mean().item<double>()));
  }
  return r;
}
}  // namespace

TEST(DiffeqBrownian, SamePathWhateverTheQueryOrder) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> U(0, 2);
  std::vector<double> t(64);
  for (auto& x : t) x = U(rng);
  std::vector<size_t> order(t.size());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  de::BrownianInterval a(0, 2, {3, 2}, 11), b(0, 2, {3, 2}, 11), c(0, 2, {3, 2}, 11, f64, 40, /*cache_nodes=*/8);
  std::vector<torch::Tensor> wa(t.size()), wb(t.size()), wc(t.size());
  for (size_t i = 0; i < t.size(); ++i) wa[i] = a(t[i]);
  for (size_t i : order) wb[i] = b(t[i]);
  for (size_t i : order) wc[i] = c(t[i]);
  for (size_t i = 0; i < t.size(); ++i) {
    EXPECT_TRUE(torch::equal(wa[i], wb[i])) << i;
    EXPECT_TRUE(torch::equal(wa[i], wc[i])) << i;  // evicted nodes are recomputed exactly
  }
  de::BrownianInterval other(0, 2, {3, 2}, 12);
  EXPECT_FALSE(torch::allclose(other(1.0), a(1.0)));  // the seed matters
  // A virtual Brownian tree of the same depth is the same path, without memory.
  de::VirtualBrownianTree v(0, 2, {3, 2}, 11, 2.0 / std::ldexp(1.0, 40));
  EXPECT_TRUE(torch::allclose(v(t[5]), wa[5], 0, 1e-14));
}

TEST(DiffeqBrownian, IncrementsAdditiveWithRightVarianceAndLevyArea) {
  de::BrownianInterval bm(0, 1, {20000, 1}, 5);
  auto w1 = bm.increment(0.1, 0.27), w2 = bm.increment(0.27, 0.35);
  EXPECT_LT((bm.increment(0.1, 0.35) - (w1 + w2)).abs().max().item<double>(), 1e-12);
  auto [W, H] = bm.increment_levy(0.1, 0.35);
  const double h = 0.25, n = 20000;
  EXPECT_NEAR(W.var().item<double>(), h, 4 * h * std::sqrt(2 / n));
  EXPECT_NEAR(W.mean().item<double>(), 0, 4 * std::sqrt(h / n));
  EXPECT_NEAR(H.var().item<double>(), h / 12, 4 * h / 12 * std::sqrt(2 / n));
  auto corr = ((W * H).mean() / (W.std() * H.std())).item<double>();
  EXPECT_LT(std::abs(corr), 4 / std::sqrt(n));  // W and H independent
  auto c12 = ((w1 * w2).mean() / (w1.std() * w2.std())).item<double>();
  EXPECT_LT(std::abs(c12), 4 / std::sqrt(n));  // disjoint increments independent
  EXPECT_NEAR(w1.var().item<double>(), 0.17, 4 * 0.17 * std::sqrt(2 / n));
  // Virtual Brownian tree: same law.
  de::VirtualBrownianTree v(0, 1, {20000, 1}, 9, 1e-8);
  EXPECT_NEAR(v.increment(0.1, 0.35).var().item<double>(), h, 4 * h * std::sqrt(2 / n));
  EXPECT_THROW_MSG(bm.increment(0.5, 1.5), "outside [0, 1]");
}

TEST(DiffeqBrownian, ForStepMakesEachFixedStepOneNodeWithTheRightLaw) {
  EXPECT_EQ(de::BrownianInterval::depth_for_step(0, 1, 0.01, 10), 17);  // ceil(log2 100) + 10
  EXPECT_EQ(de::BrownianInterval::depth_for_step(0, 1, 1.0 / 64, 0), 6);
  EXPECT_THROW_MSG(de::BrownianInterval::depth_for_step(0, 1, 0.0), "dt must be positive");
  const int n = 4000, steps = 100;
  auto bm = de::BrownianInterval::for_step(0.0, 1.0, 0.01, {n, 1}, 21);
  EXPECT_EQ(bm->depth(), 7);  // root spans [0, 1.28]: 128 cells of exactly 0.01
  std::vector<torch::Tensor> dw;
  for (int k = 0; k < steps; ++k) dw.push_back(bm->increment(0.01 * k, 0.01 * (k + 1)));
  // Each step is one node: the splits are the internal nodes above leaves 0..99 of a depth-7
  // tree (50 + 25 + 13 + 7 + 4 + 2 + 1), i.e. ~1 per step, not ~depth per step.
  EXPECT_EQ(bm->splits(), 102);
  auto all = torch::stack(dw);  // [steps, n, 1]
  EXPECT_LT((all.sum(0) - bm->increment(0, 1)).abs().max().item<double>(), 1e-12);  // additive
  const double m = static_cast<double>(n) * steps;
  EXPECT_NEAR(all.pow(2).mean().item<double>(), 0.01, 4 * 0.01 * std::sqrt(2 / m));  // Var = dt
  EXPECT_NEAR(bm->increment(0, 1).var().item<double>(), 1.0, 4 * std::sqrt(2.0 / n));
  auto c = ((all[10] * all[11]).mean() / (all[10].std() * all[11].std())).item<double>();
  EXPECT_LT(std::abs(c), 4 / std::sqrt(static_cast<double>(n)));  // neighbouring steps independent
  // Order independence holds for this tree too: the same steps queried backwards.
  auto back = de::BrownianInterval::for_step(0.0, 1.0, 0.01, {n, 1}, 21, f64, 0, /*cache_nodes=*/16);
  for (int k = steps - 1; k >= 0; --k) EXPECT_TRUE(torch::equal(back->increment(0.01 * k, 0.01 * (k + 1)), dw[k])) << k;
  EXPECT_THROW_MSG(bm->increment(0.5, 1.2), "outside [0, 1]");  // the root is longer, the path is not
}

TEST(DiffeqBrownian, Float32PathIsTheFloat64PathRounded) {
  de::BrownianInterval a(0, 1, {64, 3}, 7), b(0, 1, {64, 3}, 7, torch::TensorOptions().dtype(torch::kFloat));
  for (auto [s, t] : {std::pair<double, double>{0.1, 0.35}, {0.0, 1.0}, {0.333, 0.334}}) {
    auto [wa, ha] = a.increment_levy(s, t);
    auto [wb, hb] = b.increment_levy(s, t);
    EXPECT_EQ(wb.scalar_type(), torch::kFloat);
    EXPECT_TRUE(torch::equal(wb, wa.to(torch::kFloat)));
    EXPECT_TRUE(torch::equal(hb, ha.to(torch::kFloat)));
    EXPECT_TRUE(torch::equal(b.increment(s, t), wb));
  }
}

TEST(DiffeqSde, StrongOrdersOnGeometricBrownianMotion) {
  auto em = gbm("euler", "ito", {4, 5, 6, 7});
  auto mil = gbm("milstein", "ito", {4, 5, 6, 7});
  auto heun = gbm("heun", "stratonovich", {4, 5, 6, 7});
  auto rev = gbm("reversible_heun", "stratonovich", {4, 5, 6, 7});
  EXPECT_NEAR(slope(em.hs, em.strong), 0.5, 0.2);
  EXPECT_NEAR(slope(mil.hs, mil.strong), 1.0, 0.2);
  EXPECT_NEAR(slope(heun.hs, heun.strong), 1.0, 0.2);
  EXPECT_GT(slope(rev.hs, rev.strong), 0.4);  // reversible Heun: strong order >= 1/2
  EXPECT_LT(rev.strong.back(), 0.05);
}

TEST(DiffeqSde, ReversibleHeunNeedsOneDriftAndDiffusionEvaluationPerStep) {
  // f(t_{n+1}, z_{n+1}) of one step is the first evaluation of the next: N steps cost N + 1
  // evaluations of each, and the result equals the uncached formula step by step.
  const int paths = 8, N = 40;
  auto bm = std::make_shared<de::BrownianInterval>(0.0, 1.0, std::vector<std::int64_t>{paths, 1}, 5, f64, 12);
  de::VectorField f([](const torch::Tensor&, const torch::Tensor& y) { return (mu - 0.5 * sigma * sigma) * y; });
  de::VectorField g([](const torch::Tensor&, const torch::Tensor& y) { return sigma * y; });
  auto y0 = torch::ones({paths, 1}, f64);
  de::SdeStats st;
  auto ys = de::sdeint(f, g, y0, torch::tensor({0.0, 0.5, 1.0}, f64),
                       de::SdeOptions().method("reversible_heun").sde_type("stratonovich").dt(1.0 / N), bm, &st);
  EXPECT_EQ(st.steps, N);
  EXPECT_EQ(st.drift_evals, N + 1);
  EXPECT_EQ(st.diffusion_evals, N + 1);
  torch::Tensor y = y0, z = y0;
  for (int k = 0; k < N; ++k) {
    const double t = static_cast<double>(k) / N, h = 1.0 / N;
    auto dW = bm->increment(t, t + h);
    auto fz = (mu - 0.5 * sigma * sigma) * z, gz = sigma * z;
    auto z1 = 2 * y - z + fz * h + gz * dW;
    y = y + 0.5 * (fz + (mu - 0.5 * sigma * sigma) * z1) * h + 0.5 * (gz + sigma * z1) * dW;
    z = z1;
  }
  EXPECT_LT((ys[2] - y).abs().max().item<double>(), 1e-13);
}

TEST(DiffeqSde, WeakOrderOfEulerMaruyamaOnGbm) {
  auto em = gbm("euler", "ito", {2, 3, 4, 5});
  EXPECT_NEAR(slope(em.hs, em.weak), 1.0, 0.2);
}

TEST(DiffeqSde, OrnsteinUhlenbeckAdditiveNoise) {
  // dX = theta (m - X) dt + s dW: Euler–Maruyama has strong order 1 for additive noise
  // (reference: a fine solve on the same Brownian path), and the exact stationary statistics.
  const double theta = 2.0, m = 0.5, s = 0.3;
  const int n = 2000;
  auto bm = std::make_shared<de::BrownianInterval>(0.0, 1.0, std::vector<std::int64_t>{n, 1}, 8);
  de::VectorField f([=](const torch::Tensor&, const torch::Tensor& y) { return theta * (m - y); });
  de::VectorField g([=](const torch::Tensor&, const torch::Tensor& y) { return torch::full({y.size(0), 1, 1}, s, y.options()); });
  auto y0 = torch::zeros({n, 1}, f64);
  auto ts = torch::tensor({0.0, 1.0}, f64);
  auto opts = de::SdeOptions().method("euler").noise_type("additive").brownian_size(1);
  auto ref = de::sdeint(f, g, y0, ts, de::SdeOptions(opts).dt(std::ldexp(1.0, -10)), bm)[1];
  std::vector<double> hs, es;
  for (int k : {2, 3, 4, 5}) {
    hs.push_back(std::ldexp(1.0, -k));
    es.push_back((de::sdeint(f, g, y0, ts, de::SdeOptions(opts).dt(hs.back()), bm)[1] - ref).abs().mean().item<double>());
  }
  EXPECT_NEAR(slope(hs, es), 1.0, 0.2);
  const double mean = m * (1 - std::exp(-theta)), var = s * s / (2 * theta) * (1 - std::exp(-2 * theta));
  EXPECT_NEAR(ref.mean().item<double>(), mean, 4 * std::sqrt(var / n));
  EXPECT_NEAR(ref.var().item<double>(), var, 4 * var * std::sqrt(2.0 / n));
}

TEST(DiffeqSde, NoiseTypesAgreeAndBadShapesAreErrors) {
  const int B = 5, d = 3;
  torch::manual_seed(1);
  auto y0 = torch::randn({B, d}, f64);
  auto ts = torch::tensor({0.0, 0.5, 1.0}, f64);
  de::VectorField f([](const torch::Tensor&, const torch::Tensor& y) { return -y; });
  de::VectorField gdiag([](const torch::Tensor&, const torch::Tensor& y) { return 0.3 * torch::sin(y); });
  de::VectorField ggen([](const torch::Tensor&, const torch::Tensor& y) { return torch::diag_embed(0.3 * torch::sin(y)); });
  auto bm = std::make_shared<de::BrownianInterval>(0.0, 1.0, std::vector<std::int64_t>{B, d}, 4);
  auto a = de::sdeint(f, gdiag, y0, ts, de::SdeOptions().dt(0.01), bm);
  auto b = de::sdeint(f, ggen, y0, ts, de::SdeOptions().dt(0.01).noise_type("general").brownian_size(d), bm);
  EXPECT_LT((a - b).abs().max().item<double>(), 1e-13);
  // Scalar noise = general noise with one Brownian channel.
  auto bm1 = std::make_shared<de::BrownianInterval>(0.0, 1.0, std::vector<std::int64_t>{B, 1}, 4);
  de::VectorField gcol([](const torch::Tensor&, const torch::Tensor& y) { return (0.3 * torch::sin(y)).unsqueeze(2); });
  auto c = de::sdeint(f, gdiag, y0, ts, de::SdeOptions().method("milstein").dt(0.01).noise_type("scalar"), bm1);
  auto e = de::sdeint(f, gdiag, y0, ts, de::SdeOptions().dt(0.01).noise_type("scalar"), bm1);
  auto e2 = de::sdeint(f, gcol, y0, ts, de::SdeOptions().dt(0.01).noise_type("general").brownian_size(1), bm1);
  EXPECT_LT((e - e2).abs().max().item<double>(), 1e-13);
  EXPECT_GT((c - e).abs().max().item<double>(), 0);  // Milstein adds its correction
  EXPECT_THROW_MSG(de::sdeint(f, ggen, y0, ts, de::SdeOptions()), "noise type diagonal needs [5, 3]");
  EXPECT_THROW_MSG(de::sdeint(f, gdiag, y0, ts, de::SdeOptions().noise_type("general").brownian_size(2)),
                   "noise type general needs [5, 3, 2]");
  EXPECT_THROW_MSG(de::sdeint(f, gdiag, y0, ts, de::SdeOptions().sde_type("stratonovich")), "Itô solution");
  EXPECT_THROW_MSG(de::sdeint(f, gdiag, y0, ts, de::SdeOptions().method("heun")), "Stratonovich solution");
  EXPECT_THROW_MSG(de::sdeint(f, gdiag, y0, ts, de::SdeOptions().noise_type("full")), "unknown noise type 'full'");
  EXPECT_THROW_MSG(de::sdeint(f, gdiag, y0, ts, de::SdeOptions(), bm1), "Brownian motion has shape [5, 1]");
  de::VectorField gnan([](const torch::Tensor& t, const torch::Tensor& y) {
    return torch::where(t.unsqueeze(1) > 0.3, torch::full_like(y, std::nan("")), y);
  });
  EXPECT_THROW_MSG(de::sdeint(f, gnan, y0, ts, de::SdeOptions().dt(0.1)), "NaN/Inf in the state at t = 0.5");
}

TEST(DiffeqSde, AdaptiveStepDoublingMeetsTolerance) {
  const int paths = 500;
  auto bm = std::make_shared<de::BrownianInterval>(0.0, 1.0, std::vector<std::int64_t>{paths, 1}, 42);
  de::VectorField f([](const torch::Tensor&, const torch::Tensor& y) { return (mu - 0.5 * sigma * sigma) * y; });
  de::VectorField g([](const torch::Tensor&, const torch::Tensor& y) { return sigma * y; });
  auto y0 = torch::ones({paths, 1}, f64);
  auto exact = torch::exp((mu - 0.5 * sigma * sigma) + sigma * bm->increment(0, 1));
  std::vector<double> err;
  for (double tol : {1e-2, 1e-4}) {
    de::SdeStats st;
    auto ys = de::sdeint(f, g, y0, torch::tensor({0.0, 1.0}, f64),
                         de::SdeOptions().method("heun").sde_type("stratonovich").adaptive(true).rtol(tol).atol(tol).dt(0.1),
                         bm, &st);
    err.push_back((ys[1] - exact).abs().mean().item<double>());
    EXPECT_GT(st.steps, 0);
  }
  EXPECT_LT(err[1], err[0] / 10);
  EXPECT_LT(err[1], 5e-3);
}
