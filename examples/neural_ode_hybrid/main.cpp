// Hybrid neural ODE: a damped pendulum theta'' = -(g/L) sin(theta) - c theta' where only the
// frictionless physics -(g/L) sin(theta) is known; an MLP learns the missing term from
// trajectories. Reports fit and extrapolation errors against the physics-only model and the
// recovered damping law, and writes PNG plots (trajectories, loss curve, learned term).
//
//   ./build/examples/neural_ode_hybrid/neural_ode_hybrid [-hybrid_iters 200] [-hybrid_out dir]
#include <torch/torch.h>

#include <cstdio>
#include <exception>
#include <filesystem>

#include "physml/core/environment.hpp"
#include "physml/core/log.hpp"
#include "physml/core/options.hpp"
#include "physml/io/png.hpp"
#include "physml/solvers/diffeq/ode.hpp"

namespace de = physml::solvers::diffeq;

namespace {
constexpr double gL = 9.81, damping = 0.3;

/// y = [theta, omega]: physics + learned correction (MLP 2-32-32-2, float64).
struct HybridImpl : torch::nn::Module {
  HybridImpl() {
    l1 = register_module("l1", torch::nn::Linear(2, 32));
    l2 = register_module("l2", torch::nn::Linear(32, 32));
    l3 = register_module("l3", torch::nn::Linear(32, 2));
    to(torch::kDouble);
    torch::NoGradGuard ng;
    l3->weight.mul_(0.01);
    l3->bias.zero_();
  }
  torch::Tensor physics(const torch::Tensor& y) const {
    return torch::stack({y.select(1, 1), -gL * torch::sin(y.select(1, 0))}, 1);
  }
  torch::Tensor correction(const torch::Tensor& y) { return l3(torch::tanh(l2(torch::tanh(l1(y))))); }
  torch::Tensor forward(const torch::Tensor& y) { return physics(y) + correction(y); }
  torch::nn::Linear l1{nullptr}, l2{nullptr}, l3{nullptr};
};

torch::Tensor truth(const torch::Tensor& y0, const torch::Tensor& ts) {
  de::VectorField f([](const torch::Tensor&, const torch::Tensor& y) {
    return torch::stack({y.select(1, 1), -gL * torch::sin(y.select(1, 0)) - damping * y.select(1, 1)}, 1);
  });
  return de::odeint(f, y0, ts, de::OdeOptions().method("dopri8").rtol(1e-12).atol(1e-12));
}

std::vector<double> col(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, torch::kDouble).contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}
}  // namespace

static int run(int argc, char** argv) {
  physml::Environment env(argc, argv);
  physml::Options opt("hybrid_");
  const long iters = opt.get_int("iters", 200);
  const std::string out = opt.get_string("out", "neural_ode_hybrid_out");
  physml::check_no_unused_options();
  std::filesystem::create_directories(out);
  torch::manual_seed(0);

  // Training data: 32 trajectories over 4 s; test: 8 new initial conditions over 8 s (extrapolation).
  auto y0_train = torch::stack({torch::rand({32}, torch::kDouble) * 3 - 1.5, torch::rand({32}, torch::kDouble) * 4 - 2}, 1);
  auto y0_test = torch::stack({torch::rand({8}, torch::kDouble) * 3 - 1.5, torch::rand({8}, torch::kDouble) * 4 - 2}, 1);
  auto ts_train = torch::linspace(0, 4, 41, torch::kDouble), ts_test = torch::linspace(0, 8, 161, torch::kDouble);
  auto data = truth(y0_train, ts_train), data_test = truth(y0_test, ts_test);

  auto model = std::make_shared<HybridImpl>();
  de::VectorField field(model);
  auto solve_opts = de::OdeOptions().method("dopri5").rtol(1e-6).atol(1e-8);
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(1e-2));
  std::vector<double> its, losses;
  physml::Timer timer;
  for (long it = 0; it < iters; ++it) {
    adam.zero_grad();
    auto loss = (de::odeint(field, y0_train, ts_train, solve_opts) - data).pow(2).mean();
    loss.backward();
    adam.step();
    its.push_back(it);
    losses.push_back(loss.item<double>());
    if (it % 50 == 0 || it + 1 == iters) physml::log_info("iter ", it, " loss ", losses.back());
  }
  const double train_s = timer.seconds();

  torch::NoGradGuard ng;
  auto pred = de::odeint(field, y0_test, ts_test, solve_opts);
  de::VectorField physics_only([&](const torch::Tensor&, const torch::Tensor& y) { return model->physics(y); });
  auto phys = de::odeint(physics_only, y0_test, ts_test, solve_opts);
  const double rmse_h = (pred - data_test).pow(2).mean().sqrt().item<double>();
  const double rmse_p = (phys - data_test).pow(2).mean().sqrt().item<double>();
  // Recovered correction on a grid vs the true missing term (0, -c omega).
  auto grid = torch::stack(torch::meshgrid({torch::linspace(-1.5, 1.5, 31, torch::kDouble),
                                            torch::linspace(-2, 2, 31, torch::kDouble)}, "ij"), -1).view({-1, 2});
  auto corr = model->correction(grid);
  auto true_corr = torch::stack({torch::zeros({grid.size(0)}, torch::kDouble), -damping * grid.select(1, 1)}, 1);
  const double corr_err = (corr - true_corr).abs().max().item<double>();
  std::printf("training: %ld iterations in %.1f s, final loss %.3e\n", iters, train_s, losses.back());
  std::printf("test RMSE over 8 s (2x the training horizon): hybrid %.3e, physics only %.3e\n", rmse_h, rmse_p);
  std::printf("max |learned correction - (0, -c omega)| on [-1.5,1.5]x[-2,2]: %.3e (c omega up to %.2f)\n", corr_err,
              2 * damping);

  namespace io = physml::io;
  io::LinePlotOptions lp;
  lp.title = "Damped pendulum, test trajectory 0";
  lp.xlabel = "t";
  lp.ylabel = "theta";
  io::write_line_plot_png(out + "/trajectories.png",
                          {{"truth", col(ts_test), col(data_test.select(1, 0).select(1, 0))},
                           {"hybrid neural ODE", col(ts_test), col(pred.select(1, 0).select(1, 0)), true},
                           {"physics only", col(ts_test), col(phys.select(1, 0).select(1, 0)), true}},
                          lp);
  io::LinePlotOptions ll;
  ll.title = "Training loss";
  ll.xlabel = "iteration";
  ll.ylabel = "MSE";
  ll.log_y = true;
  io::write_line_plot_png(out + "/loss.png", {{"loss", its, losses}}, ll);
  auto w = torch::linspace(-2, 2, 41, torch::kDouble);
  auto line = torch::stack({torch::zeros_like(w), w}, 1);
  io::LinePlotOptions lc;
  lc.title = "Learned correction to omega' at theta = 0";
  lc.xlabel = "omega";
  lc.ylabel = "correction";
  io::write_line_plot_png(out + "/correction.png",
                          {{"learned", col(w), col(model->correction(line).select(1, 1))},
                           {"true -c omega", col(w), col(-damping * w), true}},
                          lc);
  std::printf("plots written to %s/{trajectories,loss,correction}.png\n", out.c_str());
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {  // a bad option or a failed solve: a message, not an abort
    std::fprintf(stderr, "neural_ode_hybrid: %s\n", e.what());
    return 1;
  }
}
