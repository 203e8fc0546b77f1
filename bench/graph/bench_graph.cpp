// Radius- and kNN-graph construction: cell list (physml::mesh) against all-pairs brute force.
//
//   ./build/bench/graph/bench_graph --benchmark_counters_tabular=true
//
// Points are uniform in the unit square / cube; the radius keeps the mean degree fixed
// (about 16 neighbours) as N grows, so the cell list should scale linearly and brute
// force quadratically.
#include "physml/core/environment.hpp"
#include "physml/mesh/graph.hpp"

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cmath>

namespace {

constexpr double kMeanDegree = 16.0;

/// Radius that gives about kMeanDegree neighbours for N uniform points in [0, 1]^d.
double radius_for(int64_t n, int d) {
  const double ball = d == 2 ? M_PI : 4.0 / 3.0 * M_PI;  // unit-ball volume
  return std::pow(kMeanDegree / (static_cast<double>(n) * ball), 1.0 / d);
}

torch::Tensor points(int64_t n, int d) {
  torch::manual_seed(1);
  return torch::rand({n, d}, torch::kDouble);
}

/// All-pairs reference: O(N^2) distance tests, the same output layout (sorted by target).
int64_t brute_radius_edges(const torch::Tensor& x, double r) {
  const int64_t n = x.size(0), d = x.size(1);
  const double* p = x.data_ptr<double>();
  const double r2 = r * r;
  std::vector<int64_t> src, dst;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      if (i == j) continue;
      double s = 0;
      for (int64_t a = 0; a < d; ++a) {
        double t = p[i * d + a] - p[j * d + a];
        s += t * t;
      }
      if (s <= r2) {
        src.push_back(j);
        dst.push_back(i);
      }
    }
  return static_cast<int64_t>(src.size());
}

void BM_RadiusCellList(benchmark::State& state, int d) {
  const int64_t n = state.range(0);
  auto x = points(n, d);
  const double r = radius_for(n, d);
  int64_t edges = 0;
  for (auto _ : state) {
    auto e = physml::mesh::radius_graph(x, r);
    edges = e.size(1);
    benchmark::DoNotOptimize(e.data_ptr<int64_t>());
  }
  state.counters["edges"] = static_cast<double>(edges);
  state.counters["time_per_point"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.SetComplexityN(n);
}

void BM_RadiusBrute(benchmark::State& state, int d) {
  const int64_t n = state.range(0);
  auto x = points(n, d);
  const double r = radius_for(n, d);
  int64_t edges = 0;
  for (auto _ : state) {
    edges = brute_radius_edges(x, r);
    benchmark::DoNotOptimize(edges);
  }
  state.counters["edges"] = static_cast<double>(edges);
  state.counters["time_per_point"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.SetComplexityN(n);
}

void BM_KnnCellList(benchmark::State& state, int d) {
  const int64_t n = state.range(0);
  auto x = points(n, d);
  for (auto _ : state) {
    auto e = physml::mesh::knn_graph(x, 16);
    benchmark::DoNotOptimize(e.data_ptr<int64_t>());
  }
  state.counters["time_per_point"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.SetComplexityN(n);
}

void sizes_to_1e5(benchmark::internal::Benchmark* b) {
  for (int64_t n : {1000, 3000, 10000, 30000, 100000}) b->Arg(n);
}
// Brute force stops at 3e4 (3e4^2 = 9e8 distance tests, seconds per run).
void sizes_to_3e4(benchmark::internal::Benchmark* b) {
  for (int64_t n : {1000, 3000, 10000, 30000}) b->Arg(n);
}

}  // namespace

BENCHMARK_CAPTURE(BM_RadiusCellList, 2d, 2)->Apply(sizes_to_1e5)->Unit(benchmark::kMillisecond)->Complexity(benchmark::oN);
BENCHMARK_CAPTURE(BM_RadiusCellList, 3d, 3)->Apply(sizes_to_1e5)->Unit(benchmark::kMillisecond)->Complexity(benchmark::oN);
BENCHMARK_CAPTURE(BM_RadiusBrute, 2d, 2)->Apply(sizes_to_3e4)->Unit(benchmark::kMillisecond)->Complexity(benchmark::oNSquared);
BENCHMARK_CAPTURE(BM_RadiusBrute, 3d, 3)->Apply(sizes_to_3e4)->Unit(benchmark::kMillisecond)->Complexity(benchmark::oNSquared);
BENCHMARK_CAPTURE(BM_KnnCellList, 3d, 3)->Apply(sizes_to_1e5)->Unit(benchmark::kMillisecond)->Complexity(benchmark::oN);

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  physml::EnvironmentOptions opts;
  opts.threads = 1;
  physml::Environment env(opts);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
