// Overhead of one C-API inference call (physml_model_forward on raw pointers) against calling
// the same TorchScript model in C++ directly (torch::jit::Module::forward on a tensor), at small
// and large tensors; embed::Model::forward (tensor in, tensor out) in between. Prints a table.
//   ./build/bench/embed/bench_embed [-threads 1] [-bench_seconds 2]
// The model: y = tanh(x W), x [batch, n], W [n, n], built in C++ as TorchScript (define()),
// saved and loaded back through the C API like a user's file. The C-API call includes what it
// does for safety: dtype/shape checks, the NaN/Inf scan of input and output (also shown with
// -check_finite 0) and the copy of the result into the caller's output array.
#include "physml/core/options.hpp"
#include "physml/embed/model.hpp"
#include "physml/embed/physml_c.h"

#include <torch/script.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace {

/// Mean time of one call (microseconds) of each of `calls`, the median over 9 rounds; the
/// rounds interleave the calls (each runs ~seconds / 9 / calls.size() per round) so that a
/// change of machine load between rounds hits all of them alike.
std::vector<double> time_us(const std::vector<std::function<void()>>& calls, double seconds) {
  using clock = std::chrono::steady_clock;
  const int rounds = 9;
  const double slice = seconds / rounds / static_cast<double>(calls.size());
  std::vector<std::vector<double>> times(calls.size());
  for (const auto& call : calls)
    for (int i = 0; i < 3; ++i) call();  // warm-up (TorchScript profiling runs, allocator)
  for (int r = 0; r < rounds; ++r)
    for (std::size_t c = 0; c < calls.size(); ++c) {
      const auto start = clock::now();
      std::int64_t n = 0;
      double elapsed = 0;
      do {
        calls[c]();
        ++n;
        elapsed = std::chrono::duration<double>(clock::now() - start).count();
      } while (elapsed < slice || n < 3);
      times[c].push_back(1e6 * elapsed / static_cast<double>(n));
    }
  std::vector<double> median;
  for (auto& t : times) {
    std::sort(t.begin(), t.end());
    median.push_back(t[rounds / 2]);
  }
  return median;
}

void check(int status) {
  if (status != PHYSML_OK) {
    std::fprintf(stderr, "bench_embed: %s: %s\n", physml_status_name(status), physml_last_error());
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  check(physml_initialize(&argc, &argv));
  const double seconds = physml::Options("bench_").get_real("seconds", 2.0);
  const auto dir = std::filesystem::temp_directory_path() / "physml_bench_embed";
  std::filesystem::create_directories(dir);
  struct Case {
    const char* name;
    std::int64_t batch, n;
  };
  const std::vector<Case> cases = {{"small", 1, 8}, {"medium", 64, 64}, {"large", 4096, 256}};
  std::printf("One inference call: TorchScript y = tanh(x W), float32, %d LibTorch thread(s)\n",
              torch::get_num_threads());
  std::printf("%-7s %14s %11s %13s %11s %15s %12s %9s\n", "case", "x shape", "direct us", "Model:: us",
              "C API us", "C no-check us", "overhead us", "overhead");
  for (const auto& c : cases) {
    torch::manual_seed(0);
    torch::jit::Module m("Closure");
    m.register_parameter("w", torch::randn({c.n, c.n}) / std::sqrt(static_cast<double>(c.n)), false);
    m.define(R"(
def forward(self, x):
    return torch.tanh(torch.matmul(x, self.w))
)");
    const auto path = (dir / (std::string(c.name) + ".pt")).string();
    m.save(path);
    auto direct = torch::jit::load(path);
    direct.eval();
    auto model = physml::embed::Model::load(path);
    physml_model *h = nullptr, *h_nocheck = nullptr;
    check(physml_model_load(path.c_str(), nullptr, &h));
    check(physml_options_set("-bench_nocheck_check_finite", "0"));
    check(physml_model_load(path.c_str(), "bench_nocheck_", &h_nocheck));

    std::vector<float> x(static_cast<std::size_t>(c.batch * c.n)), y(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::sin(0.1 * static_cast<double>(i)));
    const auto xt = torch::from_blob(x.data(), {c.batch, c.n});
    std::vector<int64_t> shape{c.batch, c.n};
    physml_tensor in{x.data(), PHYSML_FLOAT32, PHYSML_ROW_MAJOR, 2, shape.data(), nullptr};
    physml_tensor out{y.data(), PHYSML_FLOAT32, PHYSML_ROW_MAJOR, 2, shape.data(), nullptr};

    const auto t = time_us(
        {[&] {
           torch::NoGradGuard g;
           auto r = direct.forward({xt}).toTensor();
         },
         [&] { auto r = model.forward(xt); }, [&] { check(physml_model_forward(h, 1, &in, 1, &out)); },
         [&] { check(physml_model_forward(h_nocheck, 1, &in, 1, &out)); }},
        seconds);
    const double t_direct = t[0], t_model = t[1], t_c = t[2], t_c_nocheck = t[3];
    char shape_text[32];
    std::snprintf(shape_text, sizeof shape_text, "[%lld, %lld]", static_cast<long long>(c.batch),
                  static_cast<long long>(c.n));
    std::printf("%-7s %14s %11.2f %13.2f %11.2f %15.2f %12.2f %8.0f%%\n", c.name, shape_text, t_direct, t_model, t_c,
                t_c_nocheck, t_c - t_direct, 100.0 * (t_c - t_direct) / t_direct);
    physml_model_destroy(&h);
    physml_model_destroy(&h_nocheck);
  }
  std::filesystem::remove_all(dir);
  physml_finalize();
  return 0;
}
