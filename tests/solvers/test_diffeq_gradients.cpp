// Gradient methods of odeint: backprop, continuous adjoint (+ seminorm), checkpointed adjoint and
// reversible Heun, each against central finite differences (float64) and against each other.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "physml/solvers/diffeq/ode.hpp"

namespace de = physml::solvers::diffeq;

namespace {
auto f64 = torch::TensorOptions().dtype(torch::kDouble);

struct Problem {
  torch::Tensor y0, W, b, ts, weights;
  Problem() {
    torch::manual_seed(7);
    y0 = torch::randn({3, 2}, f64);
    W = torch::randn({2, 2}, f64);
    b = torch::randn({2}, f64) * 0.5;
    ts = torch::tensor({0.0, 0.37, 1.1}, f64);
    weights = torch::randn({3, 3, 2}, f64);
  }
  // Non-autonomous neural vector field f(t, y) = tanh(y W + b) (1 + 0.3 t).
  de::VectorField field(const torch::Tensor& W_, const torch::Tensor& b_) const {
    return de::VectorField(
        [W_, b_](const torch::Tensor& t, const torch::Tensor& y) {
          return torch::tanh(y.mm(W_) + b_) * (1 + 0.3 * t.unsqueeze(1));
        },
        {W_, b_});
  }
  double loss(const de::OdeOptions& o, const torch::Tensor& y0_, const torch::Tensor& W_, const torch::Tensor& b_,
              const torch::Tensor& ts_) const {
    torch::NoGradGuard ng;
    return (de::odeint(field(W_, b_), y0_, ts_, o) * weights).sum().item<double>();
  }
  /// Gradients {y0, W, b, ts} by autograd through odeint with options `o`.
  std::vector<torch::Tensor> grads(const de::OdeOptions& o, bool with_ts = true, std::int64_t* bnfe = nullptr) const {
    auto y0_ = y0.clone().requires_grad_(true), W_ = W.clone().requires_grad_(true),
         b_ = b.clone().requires_grad_(true), ts_ = ts.clone().requires_grad_(with_ts);
    auto sol = de::odesolve(field(W_, b_), y0_, ts_, o);
    (sol.ys * weights).sum().backward();
    if (bnfe) *bnfe = *sol.stats.backward_nfe;
    return {y0_.grad(), W_.grad(), b_.grad(), with_ts ? ts_.grad() : torch::Tensor()};
  }
  /// Central finite differences of the loss, same order {y0, W, b, ts}.
  std::vector<torch::Tensor> fd(const de::OdeOptions& o, double eps = 1e-6) const {
    std::vector<torch::Tensor> base{y0, W, b, ts}, out;
    for (size_t which = 0; which < base.size(); ++which) {
      auto g = torch::zeros_like(base[which]);
      auto flat = g.view(-1);
      for (int64_t i = 0; i < base[which].numel(); ++i) {
        std::vector<torch::Tensor> p{y0.clone(), W.clone(), b.clone(), ts.clone()}, m{y0.clone(), W.clone(), b.clone(), ts.clone()};
        p[which].view(-1)[i] += eps;
        m[which].view(-1)[i] -= eps;
        flat[i] = (loss(o, p[0], p[1], p[2], p[3]) - loss(o, m[0], m[1], m[2], m[3])) / (2 * eps);
      }
      out.push_back(g);
    }
    return out;
  }
};

double rel(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / (b.abs().max() + 1e-12)).item<double>();
}
const char* names[] = {"y0", "W", "b", "ts"};
}  // namespace

TEST(DiffeqGradients, BackpropMatchesFiniteDifferencesIncludingTimes) {
  Problem pb;
  auto o = de::OdeOptions().method("rk4").dt(0.03).adaptive(false);
  auto g = pb.grads(o), f = pb.fd(o);
  for (int i = 0; i < 4; ++i) EXPECT_LT(rel(g[i], f[i]), 1e-6) << names[i] << "\n" << g[i] << "\n" << f[i];
}

TEST(DiffeqGradients, AdjointMatchesFiniteDifferencesAndBackprop) {
  Problem pb;
  auto o = de::OdeOptions().method("dopri5").rtol(1e-10).atol(1e-12);
  auto f = pb.fd(o, 1e-5);
  auto bp = pb.grads(o);
  std::int64_t nfe_full = 0, nfe_semi = 0;
  auto adj = pb.grads(de::OdeOptions(o).gradient("adjoint"), true, &nfe_full);
  auto semi = pb.grads(de::OdeOptions(o).gradient("adjoint").seminorm(true), true, &nfe_semi);
  for (int i = 0; i < 4; ++i) {
    EXPECT_LT(rel(bp[i], f[i]), 1e-6) << "backprop " << names[i] << "\n" << bp[i] << "\n" << f[i];
    EXPECT_LT(rel(adj[i], f[i]), 1e-6) << "adjoint " << names[i];
    EXPECT_LT(rel(semi[i], f[i]), 1e-6) << "seminorm adjoint " << names[i];
    EXPECT_LT(rel(adj[i], bp[i]), 1e-6) << names[i];
  }
  EXPECT_GT(nfe_full, 0);
  EXPECT_LE(nfe_semi, nfe_full);  // the seminorm never needs more backward steps here
}

TEST(DiffeqGradients, CheckpointedAdjointEqualsBackprop) {
  Problem pb;
  auto o = de::OdeOptions().method("dopri5").rtol(1e-6).atol(1e-8);
  auto bp = pb.grads(o, false);
  for (std::int64_t k : {2, 3, 50}) {
    auto ck = pb.grads(de::OdeOptions(o).gradient("checkpoint").checkpoints(k), false);
    for (int i = 0; i < 3; ++i) EXPECT_LT(rel(ck[i], bp[i]), 1e-12) << names[i] << " checkpoints " << k;
  }
  // ... and the discrete gradient is close to the exact one.
  auto f = pb.fd(de::OdeOptions().method("dopri5").rtol(1e-11).atol(1e-12), 1e-5);
  for (int i = 0; i < 3; ++i) EXPECT_LT(rel(bp[i], f[i]), 1e-4) << names[i];
}

TEST(DiffeqGradients, ReversibleHeunAdjointIsExact) {
  Problem pb;
  auto o = de::OdeOptions().method("reversible_heun").dt(0.02);
  auto bp = pb.grads(o, false);
  std::int64_t bnfe = 0;
  auto rv = pb.grads(de::OdeOptions(o).gradient("reversible"), false, &bnfe);
  auto f = pb.fd(o);
  for (int i = 0; i < 3; ++i) {
    EXPECT_LT(rel(rv[i], bp[i]), 1e-10) << names[i];
    EXPECT_LT(rel(rv[i], f[i]), 1e-6) << names[i];
  }
  EXPECT_GT(bnfe, 0);
}

TEST(DiffeqGradients, ReversibleHeunReconstructsTrajectoryBackwards) {
  Problem pb;
  auto f = pb.field(pb.W, pb.b);
  const double h = 0.01;
  const int N = 500;
  std::vector<torch::Tensor> ys{pb.y0}, zs{pb.y0};
  auto t = [&](int n) { return torch::full({3}, n * h, f64); };
  for (int n = 0; n < N; ++n) {
    auto [y1, z1] = de::reversible_heun_step(f, t(n), h, ys.back(), zs.back());
    ys.push_back(y1);
    zs.push_back(z1);
  }
  auto y = ys.back(), z = zs.back();
  double worst = 0;
  for (int n = N - 1; n >= 0; --n) {
    std::tie(y, z) = de::reversible_heun_reverse(f, t(n), h, y, z);
    worst = std::max(worst, (y - ys[n]).abs().max().item<double>());
    worst = std::max(worst, (z - zs[n]).abs().max().item<double>());
  }
  // Round-off only after 500 steps each way (a non-reversible backward Heun solve would be off by ~h^2).
  EXPECT_LT(worst, 1e-10);
}

TEST(DiffeqGradients, Float32NeuralFieldBackpropAndAdjointAgree) {
  // A torch::nn module as vector field (float32 network): adjoint ~ backprop.
  struct FieldImpl : torch::nn::Module {
    FieldImpl() {
      l1 = register_module("l1", torch::nn::Linear(2, 16));
      l2 = register_module("l2", torch::nn::Linear(16, 2));
    }
    torch::Tensor forward(const torch::Tensor& y) { return l2(torch::tanh(l1(y))); }
    torch::nn::Linear l1{nullptr}, l2{nullptr};
  };
  torch::manual_seed(3);
  auto net = std::make_shared<FieldImpl>();
  de::VectorField f(net);
  EXPECT_EQ(f.parameters().size(), 4u);
  auto y0 = torch::randn({8, 2});
  auto ts = torch::linspace(0, 1, 4, f64);
  std::vector<std::vector<torch::Tensor>> g;
  for (std::string m : {"backprop", "adjoint"}) {
    net->zero_grad();
    de::odeint(f, y0, ts, de::OdeOptions().rtol(1e-5).atol(1e-6).gradient(m)).pow(2).sum().backward();
    g.push_back({net->l1->weight.grad().clone(), net->l2->bias.grad().clone()});
  }
  for (int i = 0; i < 2; ++i) EXPECT_LT(rel(g[1][i], g[0][i]), 1e-3);
}

TEST(DiffeqGradients, BinomialCheckpointingEqualsBackpropWithBoundedStates) {
  Problem pb;
  for (auto base : {de::OdeOptions().method("rk4").dt(0.02), de::OdeOptions().method("dopri5").rtol(1e-6).atol(1e-8)}) {
    auto bp = pb.grads(base, false);
    for (std::int64_t k : {2, 3, 5, 12}) {
      auto o = de::OdeOptions(base).gradient("checkpoint").checkpoints(k).checkpoint_schedule("binomial");
      auto y0 = pb.y0.clone().requires_grad_(true), W = pb.W.clone().requires_grad_(true),
           b = pb.b.clone().requires_grad_(true);
      auto sol = de::odesolve(pb.field(W, b), y0, pb.ts, o);
      (sol.ys * pb.weights).sum().backward();
      std::vector<torch::Tensor> g{y0.grad(), W.grad(), b.grad()};
      for (int i = 0; i < 3; ++i) EXPECT_LT(rel(g[i], bp[i]), 1e-12) << base.method() << " " << names[i] << " k " << k;
      // Never more than k states stored at once, and the slots are used.
      const auto stored = *sol.stats.stored_states_max, N = sol.stats.steps;
      EXPECT_LE(stored, k) << base.method() << " k " << k;
      EXPECT_GE(stored, std::min<std::int64_t>(k, 2)) << base.method() << " k " << k;
      // Revolve bound: with s = k - 1 slots and the smallest r with C(s + r, s) >= N, every
      // step is evaluated at most r + 1 times in the backward pass (r replays + the graph step).
      std::int64_t r = 0;
      auto binom = [](std::int64_t s, std::int64_t rr) {
        double v = 1;
        for (std::int64_t i = 1; i <= s; ++i) v = v * static_cast<double>(rr + i) / static_cast<double>(i);
        return v;
      };
      while (binom(k - 1, r) < static_cast<double>(N)) ++r;
      const auto per_step = sol.stats.nfe / std::max<std::int64_t>(1, N);  // evaluations per step attempt
      EXPECT_LE(*sol.stats.backward_nfe, (r + 1) * per_step * N + per_step + 1) << base.method() << " k " << k
                                                                                 << " N " << N << " r " << r;
    }
  }
  // The uniform schedule reports its stored states too; an unknown schedule is an error.
  auto y0 = pb.y0.clone().requires_grad_(true);
  auto sol = de::odesolve(pb.field(pb.W, pb.b), y0, pb.ts,
                          de::OdeOptions().method("rk4").dt(0.01).gradient("checkpoint").checkpoints(4));
  EXPECT_LE(*sol.stats.stored_states_max, 4);
  EXPECT_GE(*sol.stats.stored_states_max, 2);
  try {
    de::odeint(pb.field(pb.W, pb.b), y0, pb.ts,
               de::OdeOptions().method("rk4").dt(0.01).gradient("checkpoint").checkpoint_schedule("revolve2"));
    ADD_FAILURE() << "no error for an unknown checkpoint schedule";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("checkpoint_schedule"), std::string::npos) << e.what();
  }
}

TEST(DiffeqGradients, SharedStepControlGradientsMatchFiniteDifferences) {
  Problem pb;
  auto o = de::OdeOptions().method("dopri5").rtol(1e-10).atol(1e-12).step_control("shared");
  auto f = pb.fd(o, 1e-5);
  auto bp = pb.grads(o);  // ts included: the times carry their graph through the host steps
  auto adj = pb.grads(de::OdeOptions(o).gradient("adjoint"));
  auto semi = pb.grads(de::OdeOptions(o).gradient("adjoint").seminorm(true));
  for (int i = 0; i < 4; ++i) {
    EXPECT_LT(rel(bp[i], f[i]), 1e-6) << "backprop " << names[i] << "\n" << bp[i] << "\n" << f[i];
    EXPECT_LT(rel(adj[i], f[i]), 1e-6) << "adjoint " << names[i];
    EXPECT_LT(rel(semi[i], f[i]), 1e-6) << "seminorm adjoint " << names[i];
  }
  // The checkpointed discrete adjoint replays the recorded shared steps: equal to backprop.
  auto o6 = de::OdeOptions().method("dopri5").rtol(1e-6).atol(1e-8).step_control("shared");
  auto bp6 = pb.grads(o6, false);
  for (std::int64_t k : {2, 3, 50}) {
    auto ck = pb.grads(de::OdeOptions(o6).gradient("checkpoint").checkpoints(k), false);
    auto bi = pb.grads(de::OdeOptions(o6).gradient("checkpoint").checkpoints(k).checkpoint_schedule("binomial"), false);
    for (int i = 0; i < 3; ++i) {
      EXPECT_LT(rel(ck[i], bp6[i]), 1e-12) << names[i] << " checkpoints " << k;
      EXPECT_LT(rel(bi[i], bp6[i]), 1e-12) << names[i] << " binomial " << k;
    }
  }
  // Shared and per-element control give the same gradient to the solver tolerance.
  auto pe = pb.grads(de::OdeOptions(o).step_control("per_element"));
  for (int i = 0; i < 4; ++i) EXPECT_LT(rel(bp[i], pe[i]), 1e-7) << names[i];
}
