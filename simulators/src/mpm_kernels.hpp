#pragma once
// Internal to physml_simulators: the MLS-MPM substep as loops over raw particle buffers.
// Kept free of torch so that this file alone is compiled with OpenMP (the LibTorch
// precompiled header is built without -fopenmp and GCC refuses it when _OPENMP is defined).

#include "physml/physics/constitutive.hpp"

#include <array>
#include <cstdint>
#include <vector>

namespace physml::simulators {
struct MPMOptions;
}

namespace physml::simulators::detail {

/// Grid and step parameters of one substep (see mpm.hpp for their meaning).
struct MPMKernelParams {
  std::array<std::int64_t, 3> cells{1, 1, 1};  // cells per axis
  std::array<std::int64_t, 3> nodes{1, 1, 1};  // nodes per axis = cells + 2
  std::array<double, 3> length{0, 0, 0};       // domain extent per axis [m]
  std::array<double, 3> gravity{0, 0, 0};      // [m/s^2]
  double dx = 0, dt = 0, clamp_cells = 0.5;
  std::int64_t boundary_cells = 0;
  bool no_slip = false, apic = true;
  int threads = 1;
  std::int64_t substep = 0;  // 1-based number of the substep being taken (for messages)
  double time = 0;           // time at its start [s]
  const std::vector<physics::Material>* materials = nullptr;
};

/// Raw contiguous particle buffers (row-major; F_zz only in 2-D).
template <typename T>
struct MPMParticleBuffers {
  std::int64_t n = 0;
  T *x = nullptr, *v = nullptr, *C = nullptr, *F = nullptr, *F_zz = nullptr;
  const T *volume = nullptr, *mass = nullptr;
  const std::int64_t* material = nullptr;
};

/// What a substep reports back.
struct MPMKernelResult {
  std::int64_t clamped = 0;                      // particles clamped in this substep
  double max_speed = 0;                          // max_p |v_p| after G2P [m/s]
  double grid_mass = 0;                          // sum_i m_i after P2G
  std::array<double, 3> grid_momentum{0, 0, 0};  // sum_i (m v)_i after P2G, before forces on the grid
};

/// One P2G / grid / G2P substep in place; `grids` holds one scatter grid per thread (resized
/// as needed). Throws physml::Error naming the lowest-index failing particle.
template <typename T, int D>
MPMKernelResult mpm_substep(const MPMKernelParams& prm, const MPMParticleBuffers<T>& p,
                            std::vector<std::vector<T>>& grids);

/// Validated kernel parameters of `options` (cells, nodes, lengths, gravity, dt, walls,
/// threads); throws physml::Error naming the bad option. Defined in mpm.cpp.
MPMKernelParams mpm_kernel_params(const MPMOptions& options);

/// omp_get_max_threads().
int mpm_max_threads();

/// Whether a material is the stress-free marker (youngs_modulus == 0).
inline bool is_stress_free(const physics::Material& m) { return m.youngs_modulus == 0; }

}  // namespace physml::simulators::detail
