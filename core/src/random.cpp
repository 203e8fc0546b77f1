#include "physml/core/random.hpp"

#include <torch/torch.h>

namespace physml {
namespace {
std::uint64_t g_seed = 0;
}

std::mt19937_64& global_engine() {
  static std::mt19937_64 engine(0);
  return engine;
}

void seed_everything(std::uint64_t seed) {
  g_seed = seed;
  torch::manual_seed(seed);
  global_engine().seed(seed);
}

std::uint64_t global_seed() { return g_seed; }

std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t index) {
  // SplitMix64 of (seed, index): consecutive indices give decorrelated seeds.
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (index + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace physml
