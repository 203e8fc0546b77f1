// bench_surface: which points of a lattice lie inside a closed triangle surface, per point,
// for UV spheres (SurfaceMesh::uv_sphere) of 1.5k to 78k triangles: SurfaceMesh::contains (the +x ray's crossings among
// the triangles of one (y, z) bucket, the exact sum where the ray is degenerate) against the
// generalized winding number summed over every triangle (what contains() cost before).
// Points: the 16^3 lattice of cell centres of the bounding box. Also checks the two agree.
//
// Usage: bench_surface [Google Benchmark flags]
#include "physml/mesh/surface.hpp"

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cmath>
#include <memory>
#include <vector>

namespace {

std::vector<double> lattice(const physml::mesh::SurfaceMesh& m, int n) {
  std::vector<double> p;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      for (int k = 0; k < n; ++k) {
        const int ijk[3] = {i, j, k};
        for (int a = 0; a < 3; ++a)
          p.push_back(m.lower()[a] + (m.upper()[a] - m.lower()[a]) * (ijk[a] + 0.5) / n);
      }
  return p;
}

void run(benchmark::State& state, bool ray) {
  const int rings = static_cast<int>(state.range(0));
  const auto m = physml::mesh::SurfaceMesh::uv_sphere({0.5, 0.5, 0.5}, 0.3, rings, 2 * rings);
  const auto p = lattice(m, 16);
  const auto n = static_cast<std::int64_t>(p.size() / 3);
  std::int64_t inside = 0;
  for (auto _ : state) {
    inside = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      const double* x = &p[static_cast<std::size_t>(3 * i)];
      inside += ray ? m.contains(x) : std::abs(m.winding_number(x)) > 0.5;
    }
    benchmark::DoNotOptimize(inside);
  }
  std::int64_t other = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double* x = &p[static_cast<std::size_t>(3 * i)];
    other += ray ? std::abs(m.winding_number(x)) > 0.5 : m.contains(x);
  }
  if (other != inside) state.SkipWithError("the ray count and the winding number disagree");
  state.counters["triangles"] = static_cast<double>(m.num_triangles());
  state.counters["inside"] = static_cast<double>(inside);
  state.counters["points/s"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_RayCount(benchmark::State& s) { run(s, true); }
void BM_WindingSum(benchmark::State& s) { run(s, false); }

}  // namespace

BENCHMARK(BM_RayCount)->Arg(20)->Arg(60)->Arg(140)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_WindingSum)->Arg(20)->Arg(60)->Arg(140)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
