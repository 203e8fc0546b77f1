// trajectory_compare A.h5 B.h5: exits 0 and prints "ok: ..." if two Trajectory files have the
// same settings and every stored frame byte and time equal; else prints what differs, exits 1.
#include "physml/core/environment.hpp"
#include "physml/io/trajectory.hpp"

#include <torch/torch.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: trajectory_compare A.h5 B.h5\n");
    return 2;
  }
  try {
    auto a = physml::io::TrajectoryReader::open(argv[1]), b = physml::io::TrajectoryReader::open(argv[2]);
    const auto d = physml::io::first_difference(a.info(), b.info());
    if (!d.empty()) {
      std::printf("settings differ: %s\n", d.c_str());
      return 1;
    }
    if (!torch::equal(a.times(), b.times())) {
      std::printf("frame times differ\n");
      return 1;
    }
    for (const auto& [name, shape] : a.info().fields)
      if (!torch::equal(a.read(name, 0, a.info().frames), b.read(name, 0, b.info().frames))) {
        std::printf("field '%s' differs\n", name.c_str());
        return 1;
      }
    std::printf("ok: %lld frames of %lld particles identical\n", static_cast<long long>(a.info().frames),
                static_cast<long long>(a.info().particles));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "trajectory_compare: error: %s\n", e.what());
    return 1;
  }
}
