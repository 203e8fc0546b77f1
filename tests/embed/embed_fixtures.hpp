#pragma once
// Paths of the fixtures tests/embed/make_fixtures.py writes (ctest fixture embed.fixtures).
#include <torch/script.h>

#include <filesystem>
#include <string>

namespace physml::test {

inline std::string embed_fixture(const std::string& name) {
  return (std::filesystem::path(PHYSML_TEST_DATA_DIR) / "embed_fixtures" / name).string();
}

/// A tensor Python stored in reference.pt (a buffer of the Holder module).
inline at::Tensor python_reference(const std::string& name) {
  static torch::jit::Module ref = torch::jit::load(embed_fixture("reference.pt"));
  return ref.attr(name).toTensor();
}

/// The fixture linear.pt evaluated independently: y[k, i] = sum_j W[i, j] x[k, j] + b[i] with
/// W[i, j] = 0.1 (i + 1) - 0.05 j, b[i] = 0.01 (i + 1); x [n, 3] row-major, y [n, 2].
inline void linear_reference(const double* x, double* y, int n) {
  for (int k = 0; k < n; ++k)
    for (int i = 0; i < 2; ++i) {
      double s = 0.01 * (i + 1);
      for (int j = 0; j < 3; ++j) s += (0.1 * (i + 1) - 0.05 * j) * x[3 * k + j];
      y[2 * k + i] = s;
    }
}

}  // namespace physml::test
