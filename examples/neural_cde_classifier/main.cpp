// Neural CDE classifier (Kidger et al. 2020) on a synthetic, irregularly sampled pen-trajectory
// task in the style of UEA CharacterTrajectories: each class is a smooth 2-D pen stroke with a
// pen-force channel; every sample is randomly time-warped, scaled, rotated and noisy. For each
// drop rate (default 30 %, 50 %, 70 %) the same random time rows of each series are set to NaN
// in every data channel (the paper's protocol), time is appended as a channel, the series is
// interpolated (natural cubic spline, or Hermite cubic with backward differences), and the
// neural CDE dz = f(z) dX(t) is trained; the test accuracy at the epoch of best validation
// accuracy is reported. PNG plots: samples with dropped points, loss and accuracy curves.
//
//   ./build/examples/neural_cde_classifier/neural_cde_classifier -threads 1 [-cde_epochs 15]
//       [-cde_classes 20] [-cde_per_class 20] [-cde_length 50] [-cde_drop 0.3,0.5,0.7]
//       [-cde_interp natural|hermite|linear] [-cde_hidden 32] [-cde_width 32] [-cde_batch 32]
//       [-cde_lr 5e-3] [-cde_seed 56789] [-cde_out dir]
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>

#include "physml/core/environment.hpp"
#include "physml/core/error.hpp"
#include "physml/core/log.hpp"
#include "physml/core/options.hpp"
#include "physml/core/random.hpp"
#include "physml/io/png.hpp"
#include "physml/solvers/diffeq/cde.hpp"

namespace de = physml::solvers::diffeq;
namespace io = physml::io;

namespace {

constexpr double kPi = 3.14159265358979323846;

/// Synthetic pen strokes: x [N, T, 3] (x, y, pen force) on the grid t = 0..1, labels [N].
struct Strokes {
  torch::Tensor t, x, y;
};

/// Class k: x(s) = sum_j a_kj sin(2 pi j s + phi_kj), y(s) = sum_j b_kj sin(2 pi j s + psi_kj)
/// (j = 1..3; a, b = a shared template + a class part of half its size, amplitudes decaying
/// like 1/j; phases within +-0.4 pi), force(s) = 0.5 + 0.4 sin(2 pi c_k s + chi_k), c_k in {1,2,3}.
/// Sample: monotone warp s = u + alpha sin(pi u) / pi (|alpha| <= 0.8), scale 0.7..1.3,
/// rotation +-0.5 rad, offset +-0.3, Gaussian noise 0.08. Everything from `seed`.
Strokes make_strokes(long classes, long per_class, long T, std::uint64_t seed) {
  std::mt19937_64 cls_rng(physml::derive_seed(seed, 0));
  std::normal_distribution<double> N01(0, 1);
  std::uniform_real_distribution<double> U(0, 1);
  std::vector<std::array<double, 14>> shape(static_cast<size_t>(classes));
  // Classes share a template stroke and differ by a smaller class-specific part (similar letters).
  std::array<double, 12> base{};
  for (int j = 0; j < 3; ++j) base[j] = N01(cls_rng) / (j + 1), base[6 + j] = N01(cls_rng) / (j + 1);
  for (auto& c : shape) {
    for (int j = 0; j < 3; ++j) {
      c[j] = base[j] + 0.5 * N01(cls_rng) / (j + 1);
      c[3 + j] = 0.8 * kPi * (U(cls_rng) - 0.5);
      c[6 + j] = base[6 + j] + 0.5 * N01(cls_rng) / (j + 1);
      c[9 + j] = 0.8 * kPi * (U(cls_rng) - 0.5);
    }
    c[12] = 1 + std::floor(3 * U(cls_rng));
    c[13] = 2 * kPi * U(cls_rng);
  }
  const long n = classes * per_class;
  auto x = torch::empty({n, T, 3}, torch::kFloat);
  auto lab = torch::empty({n}, torch::kLong);
  auto xa = x.accessor<float, 3>();
  for (long i = 0; i < n; ++i) {
    const long k = i % classes;
    std::mt19937_64 rng(physml::derive_seed(seed, 1 + static_cast<std::uint64_t>(i)));
    const double alpha = 1.6 * (U(rng) - 0.5), scale = 0.7 + 0.6 * U(rng), rot = 1.0 * (U(rng) - 0.5);
    const double ox = 0.6 * (U(rng) - 0.5), oy = 0.6 * (U(rng) - 0.5);
    const auto& c = shape[static_cast<size_t>(k)];
    for (long q = 0; q < T; ++q) {
      const double u = static_cast<double>(q) / (T - 1), s = u + alpha * std::sin(kPi * u) / kPi;
      double px = 0, py = 0;
      for (int j = 0; j < 3; ++j) {
        px += c[j] * std::sin(2 * kPi * (j + 1) * s + c[3 + j]);
        py += c[6 + j] * std::sin(2 * kPi * (j + 1) * s + c[9 + j]);
      }
      const double rx = std::cos(rot) * px - std::sin(rot) * py, ry = std::sin(rot) * px + std::cos(rot) * py;
      xa[i][q][0] = static_cast<float>(scale * rx + ox + 0.08 * N01(rng));
      xa[i][q][1] = static_cast<float>(scale * ry + oy + 0.08 * N01(rng));
      xa[i][q][2] = static_cast<float>(0.5 + 0.4 * std::sin(2 * kPi * c[12] * s + c[13]) + 0.08 * N01(rng));
    }
    lab[i] = k;
  }
  return {torch::linspace(0, 1, T, torch::kDouble), x, lab};
}

/// Drop a fraction `rate` of the time rows of every series (all data channels NaN at those
/// rows; the first row is kept so every channel has a value to start from), then append time
/// as channel 0: [N, T, 1 + 3].
torch::Tensor drop_rows(const Strokes& d, double rate, std::uint64_t seed) {
  auto x = d.x.clone();
  const long N = x.size(0), T = x.size(1);
  const long k = static_cast<long>(std::lround(rate * (T - 1)));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  for (long i = 0; i < N; ++i) {
    auto perm = torch::randperm(T - 1, gen, torch::kLong).slice(0, 0, k) + 1;
    x[i].index_fill_(0, perm, std::nanf(""));
  }
  auto tc = d.t.to(torch::kFloat).view({1, T, 1}).expand({N, T, 1});
  return torch::cat({tc, x}, 2);
}

/// Neural CDE: z(0) = zeta(X(0)), dz = f(z) dX, logits = W z(1).
/// f: MLP hidden -> width -> width -> hidden * channels, ReLU inside, tanh at the output
/// (as in the paper's vector field), reshaped to [batch, hidden, channels].
struct NeuralCdeImpl : torch::nn::Module {
  NeuralCdeImpl(long channels, long hidden, long width, long classes) : C(channels), H(hidden) {
    init = register_module("init", torch::nn::Linear(channels, hidden));
    f1 = register_module("f1", torch::nn::Linear(hidden, width));
    f2 = register_module("f2", torch::nn::Linear(width, width));
    f3 = register_module("f3", torch::nn::Linear(width, hidden * channels));
    readout = register_module("readout", torch::nn::Linear(hidden, classes));
  }
  torch::Tensor field(const torch::Tensor& z) {
    return torch::tanh(f3(torch::relu(f2(torch::relu(f1(z)))))).view({z.size(0), H, C});
  }
  torch::Tensor forward(const de::CubicPath& X, const de::OdeOptions& opts) {
    auto t = X.knots();
    auto z0 = init(X.evaluate(t[0].expand({X.batch()})));
    std::vector<torch::Tensor> params;
    for (auto& p : parameters()) params.push_back(p);
    de::VectorField f([this](const torch::Tensor&, const torch::Tensor& z) { return field(z); }, params);
    auto zs = de::cdeint(f, X, z0, torch::stack({t[0], t[-1]}).to(torch::kDouble), opts);
    return readout(zs[-1]);
  }
  long C, H;
  torch::nn::Linear init{nullptr}, f1{nullptr}, f2{nullptr}, f3{nullptr}, readout{nullptr};
};
TORCH_MODULE(NeuralCde);

de::CubicPath interpolate(const std::string& kind, const torch::Tensor& t, const torch::Tensor& x) {
  if (kind == "natural") return de::CubicPath::natural_cubic(t, x);
  if (kind == "hermite") return de::CubicPath::hermite(t, x);
  return de::CubicPath::linear(t, x);
}

std::vector<double> col(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, torch::kDouble).contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

struct RunResult {
  double drop, best_valid, test_at_best, seconds;
  long best_epoch;
  std::vector<double> epochs, train_loss, valid_acc, test_acc;
};

}  // namespace

int run(int argc, char** argv) {
  physml::Environment env(argc, argv);
  physml::Options opt("cde_");
  const long epochs = opt.get_int("epochs", 15);
  const long classes = opt.get_int("classes", 20);
  const long per_class = opt.get_int("per_class", 20);
  const long T = opt.get_int("length", 50);
  const auto drops = opt.get_real_list("drop", {0.3, 0.5, 0.7});
  const std::string interp = opt.get_choice("interp", {"natural", "hermite", "linear"}, "natural");
  const long hidden = opt.get_int("hidden", 32), width = opt.get_int("width", 32), batch = opt.get_int("batch", 32);
  const double lr = opt.get_real("lr", 5e-3);
  const auto seed = static_cast<std::uint64_t>(opt.get_int("seed", 56789));
  const std::string out = opt.get_string("out", "neural_cde_classifier_out");
  physml::check_no_unused_options();
  PHYSML_CHECK(epochs >= 1, "-cde_epochs must be >= 1, got ", epochs);
  PHYSML_CHECK(classes >= 2, "-cde_classes must be >= 2, got ", classes);
  PHYSML_CHECK(per_class >= 7, "-cde_per_class must be >= 7 (70/15/15 split), got ", per_class);
  PHYSML_CHECK(T >= 4, "-cde_length must be >= 4, got ", T);
  PHYSML_CHECK(hidden >= 1 && width >= 1 && batch >= 1, "-cde_hidden, -cde_width, -cde_batch must be >= 1");
  PHYSML_CHECK(lr > 0, "-cde_lr must be positive, got ", lr);
  for (double r : drops) PHYSML_CHECK(r >= 0 && r < 1, "-cde_drop values must be in [0, 1), got ", r);
  std::filesystem::create_directories(out);

  auto data = make_strokes(classes, per_class, T, seed);
  // Stratified 70/15/15 split: within each class, the first 70 % train, then 15 % / 15 %.
  std::vector<long> itr, iva, ite;
  {
    std::mt19937_64 rng(physml::derive_seed(seed, 1u << 30));
    for (long k = 0; k < classes; ++k) {
      std::vector<long> idx;
      for (long j = 0; j < per_class; ++j) idx.push_back(j * classes + k);
      std::shuffle(idx.begin(), idx.end(), rng);
      const long ntr = std::lround(0.7 * per_class), nva = std::lround(0.15 * per_class);
      for (long j = 0; j < per_class; ++j) (j < ntr ? itr : j < ntr + nva ? iva : ite).push_back(idx[j]);
    }
  }
  auto as_index = [](const std::vector<long>& v) { return torch::tensor(v, torch::kLong); };
  const auto Itr = as_index(itr), Iva = as_index(iva), Ite = as_index(ite);
  const double dt = 1.0 / (T - 1);
  // RK4 with the step = the smallest gap between observation times (the paper's choice).
  const auto solve = de::OdeOptions().method("rk4").dt(dt);
  std::printf("neural CDE: %ld classes, %ld series of length %ld (train %zu / valid %zu / test %zu), %s interpolation,"
              " hidden %ld, width %ld, rk4 dt %.4g, %ld epochs\n",
              classes, classes * per_class, T, itr.size(), iva.size(), ite.size(), interp.c_str(), hidden, width, dt,
              epochs);

  std::vector<RunResult> results;
  for (size_t r = 0; r < drops.size(); ++r) {
    const double rate = drops[r];
    auto x = drop_rows(data, rate, physml::derive_seed(seed, 2u << 30) + r);
    // One path for the whole data set (coefficients depend only on each series), sliced per batch.
    torch::manual_seed(static_cast<std::uint64_t>(seed + r));
    NeuralCde model(4, hidden, width, classes);
    long nparam = 0;
    for (auto& p : model->parameters()) nparam += p.numel();
    torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(lr));
    auto accuracy = [&](const torch::Tensor& idx) {
      torch::NoGradGuard ng;
      long correct = 0;
      for (long b = 0; b < idx.size(0); b += 256) {
        auto ib = idx.slice(0, b, std::min<long>(b + 256, idx.size(0)));
        auto logits = model->forward(interpolate(interp, data.t, x.index_select(0, ib)), solve);
        correct += (logits.argmax(1) == data.y.index_select(0, ib)).sum().item<long>();
      }
      return static_cast<double>(correct) / static_cast<double>(idx.size(0));
    };
    RunResult res{rate, -1, 0, 0, -1, {}, {}, {}, {}};
    physml::Timer timer;
    std::printf("drop %.0f %%: %ld parameters\n", 100 * rate, nparam);
    for (long e = 0; e < epochs; ++e) {
      auto perm = Itr.index_select(0, torch::randperm(Itr.size(0), torch::kLong));
      double loss_sum = 0;
      long nb = 0;
      for (long b = 0; b < perm.size(0); b += batch) {
        auto ib = perm.slice(0, b, std::min<long>(b + batch, perm.size(0)));
        adam.zero_grad();
        auto logits = model->forward(interpolate(interp, data.t, x.index_select(0, ib)), solve);
        auto loss = torch::nn::functional::cross_entropy(logits, data.y.index_select(0, ib));
        loss.backward();
        adam.step();
        loss_sum += loss.item<double>();
        ++nb;
      }
      const double va = accuracy(Iva), te = accuracy(Ite);
      res.epochs.push_back(e + 1);
      res.train_loss.push_back(loss_sum / nb);
      res.valid_acc.push_back(va);
      res.test_acc.push_back(te);
      if (va > res.best_valid) res.best_valid = va, res.test_at_best = te, res.best_epoch = e + 1;
      std::printf("  epoch %3ld  loss %.4f  valid %.3f  test %.3f  (%.0f s)\n", e + 1, loss_sum / nb, va, te,
                  timer.seconds());
      std::fflush(stdout);
    }
    res.seconds = timer.seconds();
    results.push_back(res);
    std::printf("drop %.0f %%: best valid %.3f at epoch %ld -> test accuracy %.3f (%.0f s)\n", 100 * rate,
                res.best_valid, res.best_epoch, res.test_at_best, res.seconds);

    if (r == 0 || r + 1 == drops.size()) {
      // Sample trajectories (x-y plane): the full stroke and the observed points, 3 classes.
      std::vector<io::Series> ss;
      for (long k = 0; k < std::min<long>(3, classes); ++k) {
        const long i = k;  // series i has class i % classes
        auto full = data.x[i];
        ss.push_back({"class " + std::to_string(k) + " stroke", col(full.select(1, 0)), col(full.select(1, 1))});
        std::vector<double> px, py;
        auto xo = x[i];
        for (long q = 0; q < T; ++q) {
          const double vx = xo[q][1].item<double>();
          if (std::isnan(vx)) continue;
          px.push_back(vx);
          py.push_back(xo[q][2].item<double>());
          px.push_back(std::nan(""));  // NaN after each point: drawn as markers only
          py.push_back(std::nan(""));
        }
        ss.push_back({"observed", px, py, false, true});
      }
      io::LinePlotOptions lp;
      char title[128];
      std::snprintf(title, sizeof title, "Pen strokes, %.0f %% of time rows dropped", 100 * rate);
      lp.title = title;
      lp.xlabel = "x";
      lp.ylabel = "y";
      io::write_line_plot_png(out + "/samples_drop" + std::to_string(static_cast<int>(std::lround(100 * rate))) + ".png",
                              ss, lp);
    }
  }

  std::vector<io::Series> loss_s, acc_s;
  for (const auto& res : results) {
    const std::string name = std::to_string(static_cast<int>(std::lround(100 * res.drop))) + "% dropped";
    loss_s.push_back({name, res.epochs, res.train_loss});
    acc_s.push_back({name + " valid", res.epochs, res.valid_acc});
    acc_s.push_back({name + " test", res.epochs, res.test_acc, true});
  }
  io::LinePlotOptions ll;
  ll.title = "Neural CDE training loss (cross-entropy)";
  ll.xlabel = "epoch";
  ll.ylabel = "loss";
  ll.log_y = true;
  io::write_line_plot_png(out + "/loss.png", loss_s, ll);
  io::LinePlotOptions la;
  la.title = "Neural CDE accuracy";
  la.xlabel = "epoch";
  la.ylabel = "accuracy";
  io::write_line_plot_png(out + "/accuracy.png", acc_s, la);

  std::printf("\n| dropped | test accuracy | best valid (epoch) | train time [s] |\n|---|---|---|---|\n");
  for (const auto& res : results)
    std::printf("| %.0f %% | %.1f %% | %.1f %% (%ld) | %.0f |\n", 100 * res.drop, 100 * res.test_at_best,
                100 * res.best_valid, res.best_epoch, res.seconds);
  std::printf("plots written to %s/{samples_drop*,loss,accuracy}.png\n", out.c_str());
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "neural_cde_classifier: %s\n", e.what());
    return 1;
  }
}
