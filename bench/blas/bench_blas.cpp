// GEMM throughput of the BLAS LibTorch runs on (results in docs/results-speed.md): the
// baseline later speed work reports ratios against. torch::mm of n x n matrices at 1 and 2
// threads (physml::set_num_threads: LibTorch and the BLAS together), best of >= 5 runs and
// >= 1 s per row.
// Usage: bench_blas [-bench_n 2048] [-bench_dtypes float32,float64]
//   OPENBLAS_CORETYPE=Prescott bench_blas   measures OpenBLAS's own fallback kernels
#include <sys/resource.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>

#include "physml/core/blas.hpp"
#include "physml/core/environment.hpp"
#include "physml/core/options.hpp"

namespace {

double cpu_seconds() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) + 1e-6 * static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec);
}

/// Best GFLOP/s of n x n GEMMs on `threads` threads; `busy` = CPU time / wall time of the
/// timed runs (~threads when the threads really run; more would mean oversubscription).
double gflops(std::int64_t n, torch::Dtype dtype, int threads, double& busy) {
  physml::set_num_threads(threads);
  auto a = torch::randn({n, n}, dtype), b = torch::randn({n, n}, dtype);
  auto c = torch::mm(a, b);  // warm-up (thread pool, BLAS buffers)
  double best = 1e30;
  int runs = 0;
  const auto start = std::chrono::steady_clock::now();
  const double cpu0 = cpu_seconds();
  while (runs < 5 || std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 1.0) {
    const auto t0 = std::chrono::steady_clock::now();
    torch::mm_out(c, a, b);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (++runs >= 1000) break;
  }
  busy = (cpu_seconds() - cpu0) / std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return 2.0 * static_cast<double>(n) * n * n / best * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  physml::EnvironmentOptions eo;
  eo.threads = 1;
  physml::Environment env(argc, argv, eo);
  physml::Options o;
  const std::int64_t n = o.get_int("bench_n", 2048);
  const std::string dtypes = o.get_string("bench_dtypes", "float32,float64");
  const auto blas = physml::blas_info();
  const auto dnnl = physml::onednn_info();
  std::printf("# bench_blas: torch::mm %ldx%ld\n\n", static_cast<long>(n), static_cast<long>(n));
  std::printf("BLAS: %s, %s kernels%s (%s)\n", blas.name.c_str(), blas.core.empty() ? "?" : blas.core.c_str(),
              blas.retargeted ? ", chosen by PhysML" : "", blas.library.c_str());
  std::printf("oneDNN: %s, ISA %s; ATen ISA %s\n\n", dnnl.version.c_str(), dnnl.isa.c_str(),
              physml::aten_cpu_capability().c_str());
  std::printf("| dtype | 1 thread [GFLOP/s] | 2 threads [GFLOP/s] | 2 / 1 | CPU/wall at 1, 2 threads |\n|---|---|---|---|---|\n");
  std::stringstream list(dtypes);
  for (std::string name; std::getline(list, name, ',');) {
    const auto dtype = name == "float64" ? torch::kDouble : torch::kFloat;
    double b1 = 0, b2 = 0;
    const double g1 = gflops(n, dtype, 1, b1), g2 = gflops(n, dtype, 2, b2);
    std::printf("| %s | %.1f | %.1f | %.2f | %.2f, %.2f |\n", name.c_str(), g1, g2, g2 / g1, b1, b2);
  }
  return 0;
}
