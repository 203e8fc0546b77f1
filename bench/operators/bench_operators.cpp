// Training-step (forward + backward + Adam step) and inference time of MgNO and FNO at
// batch 8 on 64^2 and 128^2 grids, with an analytic FLOP count -> achieved GFLOP/s.
//   PHYSML_THREADS=1 ./build/bench/operators/bench_operators [--benchmark_filter=MgNO]
// Rates (GFLOP/s, samples/s) are per CPU second of the benchmark thread(s).
// FLOPs count multiply-adds as 2: convolutions 2 Cin Cout k^d per output point, FFTs
// 2.5 N log2 N per real transform and channel, spectral products 8 Cin Cout per kept mode;
// a training step is counted as 3x the forward pass.
#include "physml/operators/fno.hpp"
#include "physml/operators/mgno.hpp"

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>

using namespace physml::operators;

namespace {

constexpr int kBatch = 8;

double conv_flops(double cin, double cout, double k2, double points) { return 2 * cin * cout * k2 * points; }

/// Forward FLOPs of MgNOOptions(1,1).channels(24).levels(6).layers(4) on an n x n grid (per sample).
double mgno_flops(const MgNOOptions& o, std::int64_t n) {
  auto sizes = mg_level_sizes({n, n}, o.levels());
  auto smoothing = o.smoothing();
  if (smoothing.empty()) {
    smoothing.assign(static_cast<std::size_t>(o.levels()), {1, 0});
    smoothing.back() = {2, 0};
  }
  const double cu = static_cast<double>(o.channels());
  double total = 0;
  for (std::int64_t k = 0; k < o.layers(); ++k) {
    const double cf = k == 0 ? static_cast<double>(o.in_channels()) : cu;
    for (std::size_t l = 0; l < sizes.size(); ++l) {
      const double pts = static_cast<double>(sizes[l][0] * sizes[l][1]);
      double steps = static_cast<double>(smoothing[l][0] + smoothing[l][1]);
      if (l == 0) {
        total += conv_flops(cf, cu, 9, pts);  // u0 = S f0
        steps -= 1;
      } else {
        total += conv_flops(cf, cf, 9, pts) + conv_flops(cu, cu, 9, pts);        // R, Pi
        total += conv_flops(cu, cu, 16, static_cast<double>(sizes[l][0] * sizes[l][1]));  // P (per coarse point)
      }
      total += steps * (conv_flops(cu, cf, 9, pts) + conv_flops(cf, cu, 9, pts));  // A and S
    }
    total += conv_flops(cf, cu, 1, static_cast<double>(n * n));  // 1x1 bypass
  }
  return total + conv_flops(cu, static_cast<double>(o.out_channels()), 1, static_cast<double>(n * n));
}

double fno_flops(const FNOOptions& o, std::int64_t n) {
  const double pts = static_cast<double>(n * n), w = static_cast<double>(o.width());
  const double fft = 2.5 * pts * std::log2(pts);
  const double modes = 2.0 * static_cast<double>(o.modes()[0] * o.modes()[1]);
  double per_layer = 2 * w * fft + 8 * w * w * modes + conv_flops(w, w, 1, pts);
  return conv_flops(3, w, 1, pts) + static_cast<double>(o.layers()) * per_layer +
         conv_flops(w, static_cast<double>(o.projection_channels()), 1, pts) +
         conv_flops(static_cast<double>(o.projection_channels()), 1, 1, pts);
}

void configure_threads() {
  static bool done = false;
  if (done) return;
  done = true;
  if (const char* t = std::getenv("PHYSML_THREADS")) torch::set_num_threads(std::atoi(t));
}

template <typename Net>
void run(benchmark::State& state, Net net, double flops_per_sample, bool train) {
  configure_threads();
  const auto n = state.range(0);
  torch::manual_seed(0);
  auto x = torch::randn({kBatch, 1, n, n}), y = torch::randn({kBatch, 1, n, n});
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-4));
  for (auto _ : state) {
    if (train) {
      opt.zero_grad();
      auto loss = (net->forward(x) - y).pow(2).mean();
      loss.backward();
      opt.step();
    } else {
      torch::NoGradGuard g;
      benchmark::DoNotOptimize(net->forward(x).data_ptr());
    }
  }
  const double flops = flops_per_sample * kBatch * (train ? 3.0 : 1.0);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["samples/s"] = benchmark::Counter(kBatch, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["threads"] = torch::get_num_threads();
  double params = 0;  // real numbers: a complex parameter counts twice (stored as [..., 2] reals)
  for (const auto& p : net->parameters()) params += static_cast<double>(p.numel());
  state.counters["params"] = params;
}

void MgNO_TrainStep(benchmark::State& s) {
  auto o = MgNOOptions(1, 1).channels(24).levels(6).layers(4);
  run(s, MgNO(o), mgno_flops(o, s.range(0)), true);
}
void MgNO_Inference(benchmark::State& s) {
  auto o = MgNOOptions(1, 1).channels(24).levels(6).layers(4);
  run(s, MgNO(o), mgno_flops(o, s.range(0)), false);
}
void FNO_TrainStep(benchmark::State& s) {
  auto o = FNOOptions(1, 1).modes({12, 12}).width(32);
  run(s, FNO(o), fno_flops(o, s.range(0)), true);
}
void FNO_Inference(benchmark::State& s) {
  auto o = FNOOptions(1, 1).modes({12, 12}).width(32);
  run(s, FNO(o), fno_flops(o, s.range(0)), false);
}

}  // namespace

BENCHMARK(MgNO_TrainStep)->Arg(64)->Arg(128)->Unit(benchmark::kMillisecond);
BENCHMARK(MgNO_Inference)->Arg(64)->Arg(128)->Unit(benchmark::kMillisecond);
BENCHMARK(FNO_TrainStep)->Arg(64)->Arg(128)->Unit(benchmark::kMillisecond);
BENCHMARK(FNO_Inference)->Arg(64)->Arg(128)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
