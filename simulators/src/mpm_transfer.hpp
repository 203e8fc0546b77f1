#pragma once
// Internal to physml_simulators: the particle-grid transfer of one MLS-MPM substep with the
// stress given (tau precomputed by a law outside), and its hand-written adjoint, for the
// differentiable simulator (mpm_diff.cpp). Free of torch, compiled with OpenMP.
//
// Forward (file comment of mpm.hpp): from (x, v, C, F, tau) to (x', v', C', F_trial):
//   P2G  A_p = -dt V_p (4/dx^2) tau_p + m_p C_p;  m_i = sum_p w_ip m_p;
//        q_i = sum_p w_ip (m_p v_p + A_p (x_i - x_p))
//   grid u_i = M_i (q_i / m_i + dt g)   (M_i: 0/1 per component from the wall condition)
//   G2P  v'_p = sum_i w_ip u_i;  C_p^new = (4/dx^2) sum_i w_ip u_i (x_i - x_p)^T
//        x'_p = clamp(x_p + dt v'_p);  F_trial = (I + dt C_p^new) F_p;  C' = apic ? C^new : 0
// The plastic projection F_trial -> F' and the stress tau(F) are the law's, outside.

#include "mpm_kernels.hpp"

#include <cstdint>
#include <vector>

namespace physml::simulators::detail {

/// Inputs of a transfer: the state at the start of the substep and the stress (row-major,
/// [N, D], [N, D, D]; tau is the D x D block of the Kirchhoff stress).
template <typename T>
struct TransferInput {
  std::int64_t n = 0;
  const T *x = nullptr, *v = nullptr, *C = nullptr, *F = nullptr, *tau = nullptr;
  const T *volume = nullptr, *mass = nullptr;
};

/// Four [N, ...] buffers: positions, velocities, C, F (outputs: F_trial; adjoints: dL/dF).
template <typename T>
struct TransferBuffers {
  T *x = nullptr, *v = nullptr, *C = nullptr, *F = nullptr;
};

/// Forward transfer into `out`; returns the number of clamped particles. `grids` is scratch.
template <typename T, int D>
std::int64_t mpm_transfer(const MPMKernelParams& prm, const TransferInput<T>& in, const TransferBuffers<T>& out,
                          std::vector<std::vector<T>>& grids);

/// Adjoint of mpm_transfer at `in`: given dL/d(x', v', C', F_trial) in `grad_out`, writes
/// dL/d(x, v, C, F) into `grad_in` and dL/dtau into `grad_tau` ([N, D, D]). The grid is
/// recomputed from `in` (nothing of the forward pass is stored but the inputs).
template <typename T, int D>
void mpm_transfer_adjoint(const MPMKernelParams& prm, const TransferInput<T>& in, const TransferBuffers<T>& grad_out,
                          const TransferBuffers<T>& grad_in, T* grad_tau, std::vector<std::vector<T>>& grids);

}  // namespace physml::simulators::detail
