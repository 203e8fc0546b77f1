#pragma once
// Raw-buffer kernels of the Brownian Interval (brownian.cpp): midpoint splits and the root
// node, with counter-based Gaussian draws. Internal to physml_solvers.

#include <cstdint>

namespace physml::solvers::diffeq::internal {

/// Midpoint split of a node (W, H) of length h (n elements each) into (WL, HL), (WR, HR),
/// with the standard normal pairs of stream `seed` (pair i depends only on (seed, i)).
void brownian_split(const double* W, const double* H, double* WL, double* HL, double* WR, double* HR, std::int64_t n,
                    std::uint64_t seed, double h);

/// Root node of an interval of length L: W ~ N(0, L), H ~ N(0, L/12), from stream `seed`.
void brownian_root(double* W, double* H, std::int64_t n, std::uint64_t seed, double L);

/// Standard normal pair i of stream `seed` (the draws brownian_split and brownian_root use).
void brownian_normal_pair(std::uint64_t seed, std::int64_t i, double& z, double& a);

}  // namespace physml::solvers::diffeq::internal
