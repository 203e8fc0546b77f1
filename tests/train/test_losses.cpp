// Losses on analytic fields with hand-computed values; normalizers; schedules vs closed forms.
#include "physml/core/error.hpp"
#include "physml/train/losses.hpp"
#include "physml/operators/normalizer.hpp"
#include "physml/train/schedule.hpp"
#include "test_util.hpp"

#include <torch/torch.h>

#include <cmath>

using namespace physml::train;
using physml::operators::Normalizer;

namespace {
/// Field f(x) on an n x n periodic grid (x along the last axis, x_j = j / n), shape [1, 1, n, n].
at::Tensor periodic_field(int n, double (*f)(double)) {
  auto t = torch::empty({1, 1, n, n}, torch::kDouble);
  auto a = t.accessor<double, 4>();
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) a[0][0][i][j] = f(static_cast<double>(j) / n);
  return t;
}
double sin1(double x) { return std::sin(2 * M_PI * x); }
double sin1_plus(double x) { return std::sin(2 * M_PI * x) + 0.1 * std::sin(4 * M_PI * x); }
}  // namespace

TEST(Losses, RelativeL2OfScaledField) {
  auto y = torch::randn({3, 2, 8, 8}, torch::kDouble);
  auto per = relative_lp(1.1 * y, y);
  EXPECT_TRUE(torch::allclose(per, torch::full({3}, 0.1, torch::kDouble), 1e-12, 1e-12));
  // L1 of a field offset by a constant: n c / sum |y|.
  auto ones = torch::ones({1, 1, 4, 4}, torch::kDouble);
  EXPECT_NEAR(relative_lp(ones * 1.5, ones, 1.0).item<double>(), 0.5, 1e-12);
  EXPECT_NEAR(mean_squared_error(ones * 3, ones).item<double>(), 4.0, 1e-12);
}

TEST(Losses, RelativeH1FiniteDifferencePeriodicSine) {
  // y = sin 2 pi x, e = 0.1 sin 4 pi x; central differences give derivatives scaled by
  // s_k = sin(2 pi k h) / h (h = 1/n); sums of sin^2 and cos^2 over a period are both n/2, so
  // rel H1 = 0.1 sqrt((1 + s_2^2) / (1 + s_1^2)).
  const int n = 32;
  const double h = 1.0 / n, s1 = std::sin(2 * M_PI * h) / h, s2 = std::sin(4 * M_PI * h) / h;
  auto y = periodic_field(n, sin1), p = periodic_field(n, sin1_plus);
  const double expected = 0.1 * std::sqrt((1 + s2 * s2) / (1 + s1 * s1));
  EXPECT_NEAR(relative_h1(p, y, true).item<double>(), expected, 1e-12);
  // Far from the relative L2 error (0.1): the gradient weighs the second harmonic more.
  EXPECT_GT(expected, 0.17);
}

TEST(Losses, RelativeH1OfLinearFieldUsesExactDerivative) {
  // Non-periodic: differences of linear fields are exact. y = 1 + x, p = 1 + 2x on [0, 1].
  const int n = 11;
  auto x = torch::linspace(0, 1, n, torch::kDouble).view({1, 1, 1, n}).expand({1, 1, 5, n});
  auto y = 1 + x, p = 1 + 2 * x;
  // |e|^2 = sum x^2 (+ 1 per point for the derivative), |y|^2 = sum (1+x)^2 + 1 per point.
  const double sx2 = (x * x).sum().item<double>(), sy2 = (y * y).sum().item<double>(), npts = 5.0 * n;
  EXPECT_NEAR(relative_h1(p, y, false).item<double>(), std::sqrt((sx2 + npts) / (sy2 + npts)), 1e-12);
}

TEST(Losses, SpectralH1MatchesParseval) {
  // Orthonormal FFT keeps the energy: sin(2 pi 3 x) has sum n^2/2 at |k| = 3, weight 1 + 9;
  // e = 0.1 sin(2 pi 5 y) has 0.01 n^2/2 at |k| = 5, weight 1 + 25.
  const int n = 24;
  auto g = torch::arange(n, torch::kDouble) / n;
  auto y = torch::sin(2 * M_PI * 3 * g).view({1, 1, 1, n}).expand({2, 1, n, n}).contiguous();
  auto e = 0.1 * torch::sin(2 * M_PI * 5 * g).view({1, 1, n, 1}).expand({2, 1, n, n});
  auto v = spectral_h1(y + e, y);
  EXPECT_NEAR(v[0].item<double>(), 0.1 * std::sqrt(26.0 / 10.0), 1e-12);
  // Wavenumbers >= 20 are truncated to the L2 weight: e at k = 21 on a 48 grid.
  const int m = 48;
  auto gm = torch::arange(m, torch::kDouble) / m;
  auto ym = torch::sin(2 * M_PI * 3 * gm).view({1, 1, 1, m}).expand({1, 1, m, m}).contiguous();
  auto em = 0.1 * torch::sin(2 * M_PI * 21 * gm).view({1, 1, m, 1}).expand({1, 1, m, m});
  EXPECT_NEAR(spectral_h1(ym + em, ym, true).item<double>(), 0.1 * std::sqrt(1.0 / 10.0), 1e-12);
  EXPECT_NEAR(spectral_h1(ym + em, ym, false).item<double>(), 0.1 * std::sqrt(442.0 / 10.0), 1e-12);
}

TEST(Losses, BadInput) {
  EXPECT_THROW_MSG(relative_lp(torch::zeros({2, 1, 4}), torch::zeros({2, 1, 5})), "must have the same shape");
  EXPECT_THROW_MSG(loss_by_name("h2", torch::zeros({1, 1, 4}), torch::zeros({1, 1, 4})), "unknown loss 'h2'");
}

TEST(Normalizer, PointwiseAndScalarRoundTrip) {
  torch::manual_seed(0);
  auto data = 3 + 2 * torch::randn({50, 2, 6, 6}, torch::kDouble);
  Normalizer pw("pointwise");
  pw->fit(data);
  pw->to(torch::kDouble);
  auto enc = pw->encode(data);
  // Pointwise: every grid point has mean 0 and (unbiased) std std/(std + eps) over the samples.
  EXPECT_LT(enc.mean(0).abs().max().item<double>(), 1e-12);
  EXPECT_LT((enc.std(0, true) - 1).abs().max().item<double>(), 1e-4);
  EXPECT_TRUE(torch::allclose(pw->decode(enc), data, 1e-12, 1e-12));
  Normalizer sc("scalar");
  sc->fit(data);
  auto es = sc->encode(data);
  EXPECT_NEAR(es.mean().item<double>(), 0.0, 1e-12);
  EXPECT_NEAR(es.std().item<double>(), 1.0, 1e-4);
  // Buffers are what a checkpoint saves.
  EXPECT_EQ(pw->named_buffers().size(), 2u);
  EXPECT_EQ(pw->mean().sizes(), (std::vector<std::int64_t>{1, 2, 6, 6}));
  // At another resolution the pointwise statistics are resampled: a constant field stays constant.
  Normalizer c("pointwise");
  c->fit(torch::full({4, 1, 5, 5}, 2.0, torch::kDouble) + torch::arange(4, torch::kDouble).view({4, 1, 1, 1}));
  auto fine = c->encode(torch::full({1, 1, 9, 9}, 2.0, torch::kDouble));
  EXPECT_NEAR(fine.min().item<double>(), fine.max().item<double>(), 1e-12);
  EXPECT_THROW_MSG(Normalizer("minmax"), "unknown normalizer 'minmax'");
  EXPECT_THROW_MSG(Normalizer("scalar")->encode(data), "before fit");
}

TEST(Schedule, StepCosineOneCycleWarmupClosedForms) {
  ScheduleOptions s;
  s.type = "step";
  s.lr = 1e-3;
  s.step_size = 100;
  s.gamma = 0.5;
  LRSchedule step(s);
  EXPECT_DOUBLE_EQ(step.lr(0), 1e-3);
  EXPECT_DOUBLE_EQ(step.lr(99), 1e-3);
  EXPECT_DOUBLE_EQ(step.lr(100), 5e-4);
  EXPECT_DOUBLE_EQ(step.lr(250), 2.5e-4);

  s.type = "cosine";
  s.total_steps = 10;
  s.min_lr = 1e-5;
  LRSchedule cosine(s);
  for (int t = 0; t <= 10; ++t)
    EXPECT_NEAR(cosine.lr(t), 1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + std::cos(M_PI * t / 10.0)), 1e-18) << t;

  // MgNO: OneCycle, max 5e-4, div 2, final div 100, pct 0.2, 500 epochs: 2.5e-4 -> 5e-4 (epoch 99) -> 2.5e-6 (499).
  ScheduleOptions o;
  o.type = "onecycle";
  o.lr = 5e-4;
  o.total_steps = 500;
  o.pct_start = 0.2;
  o.div_factor = 2;
  o.final_div_factor = 100;
  LRSchedule one(o);
  EXPECT_DOUBLE_EQ(one.lr(0), 2.5e-4);
  EXPECT_DOUBLE_EQ(one.lr(99), 5e-4);
  EXPECT_NEAR(one.lr(499), 2.5e-6, 1e-18);
  // Halfway up (t = 49.5 is the midpoint; t = 33 is one third): 2.5e-4 + 2.5e-4 (1 - cos(pi t / 99)) / 2.
  EXPECT_NEAR(one.lr(33), 2.5e-4 + 2.5e-4 * (1 - std::cos(M_PI * 33 / 99.0)) / 2, 1e-18);
  // Down phase t = 299: pct = 200/400, lr = 2.5e-6 + (5e-4 - 2.5e-6) / 2.
  EXPECT_NEAR(one.lr(299), 2.5e-6 + (5e-4 - 2.5e-6) / 2, 1e-18);

  // Two epochs at pct_start 0.2 leave no warm-up phase: peak, then the final value.
  o.total_steps = 2;
  LRSchedule short_run(o);
  EXPECT_DOUBLE_EQ(short_run.lr(0), 5e-4);
  EXPECT_NEAR(short_run.lr(1), 2.5e-6, 1e-18);

  ScheduleOptions w;
  w.lr = 1e-3;
  w.warmup_steps = 4;
  LRSchedule warm(w);
  EXPECT_DOUBLE_EQ(warm.lr(0), 2.5e-4);
  EXPECT_DOUBLE_EQ(warm.lr(2), 7.5e-4);
  EXPECT_DOUBLE_EQ(warm.lr(4), 1e-3);
  ScheduleOptions bad;
  bad.type = "exp";
  EXPECT_THROW_MSG(LRSchedule{bad}, "unknown learning-rate schedule 'exp'");
}

TEST(Optimizer, AdamWeightDecayAndLearningRate) {
  // One Adam step with L2 weight decay moves each weight by -lr * sign(g + wd w) (first step of Adam).
  auto w = torch::tensor({1.0, -2.0}, torch::kDouble).requires_grad_(true);
  auto opt = make_optimizer("adam", {w}, 0.1, 0.5);
  (w * torch::tensor({0.0, 3.0}, torch::kDouble)).sum().backward();  // g = {0, 3}; g + wd w = {0.5, 2}
  opt->step();
  EXPECT_NEAR(w[0].item<double>(), 0.9, 1e-6);
  EXPECT_NEAR(w[1].item<double>(), -2.1, 1e-6);
  // AdamW decays the weight itself: w <- w (1 - lr wd) then the Adam step (g = 0 -> no move).
  auto v = torch::tensor({1.0}, torch::kDouble).requires_grad_(true);
  auto optw = make_optimizer("adamw", {v}, 0.1, 0.5);
  (v * 0.0).sum().backward();
  optw->step();
  EXPECT_NEAR(v.item<double>(), 0.95, 1e-12);
  set_learning_rate(*opt, 0.01);
  EXPECT_DOUBLE_EQ(static_cast<torch::optim::AdamOptions&>(opt->param_groups()[0].options()).lr(), 0.01);
  EXPECT_THROW_MSG(make_optimizer("sgd", {w}, 0.1, 0), "unknown optimizer 'sgd'");
}
