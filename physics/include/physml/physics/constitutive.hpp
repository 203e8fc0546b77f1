#pragma once
/// \file constitutive.hpp
/// Analytic constitutive laws for MPM, per particle, on Eigen matrices: the signed
/// ("rotation-variant") SVD with its backward, hyperelastic energies psi(F), first
/// Piola-Kirchhoff stresses P(F) and Kirchhoff stresses tau(F) = P F^T, and the plastic
/// return mappings F_trial -> F_projected. These are the ground-truth materials of NCLaw
/// (Ma et al., ICML 2023, the material presets of the official code): jelly, plasticine, sand, water.
///
/// Form: every function takes one particle's deformation gradient F as an Eigen 3x3 matrix
/// (float or double; 2x2 as well for the SVD), because the hand-written MPM kernels call
/// them inside their per-particle loops. There is no torch here; the batched, autograd-
/// differentiable SVD of the NCLaw networks (operators/nclaw.hpp) wraps signed_svd and
/// signed_svd_backward over [N, 3, 3] tensors.
///
/// Units: moduli and stresses in Pa (stress = energy density, J/m^3); F, strains and the
/// friction coefficient are dimensionless; angles in degrees where named *_deg.
/// Conventions: mu = E / (2 (1 + nu)), lambda = E nu / ((1 + nu)(1 - 2 nu)); J = det F;
/// eps = log(sigma) is the Hencky (logarithmic) principal strain; tau = P F^T is what an
/// MLS-MPM P2G step uses (A_p = -dt V_p (4/dx^2) tau_p + m_p C_p).

#include <Eigen/Core>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace physml::physics {

/// D x D matrix and D-vector of scalar T (T = float or double).
template <typename T, int D>
using Mat = Eigen::Matrix<T, D, D>;
template <typename T, int D>
using Vec = Eigen::Matrix<T, D, 1>;
template <typename T>
using Mat3 = Mat<T, 3>;
template <typename T>
using Vec3 = Vec<T, 3>;

// ------------------------------------------------------------------------------------------
// Signed SVD and its derivative
// ------------------------------------------------------------------------------------------

/// F = U diag(sigma) V^T with U, V proper rotations (det = +1) and sigma sorted by
/// decreasing |sigma_i| except that the sign of det F sits on the last (smallest) singular
/// value: sigma_0 >= sigma_1 >= |sigma_{D-1}|, sigma_{D-1} < 0 iff det F < 0 (Irving et al.
/// 2004, "Invertible finite elements"; the SVD MPM codes and NCLaw's svd3 use). Then
/// R = U V^T is a rotation and the fixed-corotated and Hencky laws handle inverted F.
template <typename T, int D>
struct SignedSvd {
  /// Left singular vectors (columns), det U = +1.
  Mat<T, D> U;
  /// Singular values, last one carrying sign(det F).
  Vec<T, D> sigma;
  /// Right singular vectors (columns), det V = +1.
  Mat<T, D> V;
  /// The rotation R = U V^T of the polar decomposition F = R S (S = V diag(sigma) V^T).
  Mat<T, D> rotation() const { return U * V.transpose(); }
};

/// Signed SVD of a 2x2 or 3x3 matrix (Eigen's two-sided Jacobi SVD, then the sign fix: a
/// column of U or V with det -1 is flipped together with the last singular value).
template <typename T, int D>
SignedSvd<T, D> signed_svd(const Mat<T, D>& F);

/// Backward of the signed SVD: given dL/dU, dL/dsigma, dL/dV (the gradients of a loss L with
/// respect to the outputs of signed_svd(F)), returns dL/dF. Pass zero matrices for outputs
/// the loss does not use.
///
/// With dP = U^T dF V the forward derivative is dsigma_i = dP_ii and, for i != j,
/// (U^T dU)_ij = (dP_ij s_j + dP_ji s_i) / (s_j^2 - s_i^2),
/// (V^T dV)_ij = (dP_ij s_i + dP_ji s_j) / (s_j^2 - s_i^2). Its adjoint is
///   dL/dF = U Pbar V^T,  Pbar = diag(dL/dsigma) + (K o (A - A^T)) S + S (K o (B - B^T)),
/// A = U^T dL/dU, B = V^T dL/dV, S = diag(sigma), K_ij = 1 / (s_j^2 - s_i^2) (K_ii = 0).
/// K is singular at repeated singular values (s_i = s_j) and, with the sign fix, where
/// s_i = -s_j. We therefore evaluate the off-diagonal entries in the exactly equivalent form
///   Pbar_ij = 1/2 (a + b)_ij / (s_j - s_i) + 1/2 (a - b)_ij / (s_j + s_i),
///   a = A - A^T, b = B - B^T,
/// and replace each 1/x by the safe reciprocal: 1/x where |x| >= delta, x / delta^2 where
/// |x| < delta (continuous, bounded by 1/delta, 0 at x = 0), delta = rel * max_i |s_i|.
/// Why this is right:
/// - A loss that depends on U and V only through R = U V^T has dL/dU = G V, dL/dV = G^T U,
///   so b = -a exactly: the first (singular) term vanishes identically and the result is
///   exact for every F with s_i + s_j != 0, also at repeated singular values.
/// - A loss that depends on sigma alone has a = b = 0: Pbar = diag(dL/dsigma), exact (and,
///   for a symmetric function of sigma, the gradient of a function smooth in F).
///   These two cover the NCLaw networks (sigma and R) and the energies psi(sigma).
/// - Singular values closer than delta count as repeated; beyond that the formula is exact.
/// - At an exactly repeated pair the (i, j) entry of the first term is 0/0 and is set to 0:
///   its limit depends on how the loss couples sigma_i - sigma_j with the then-arbitrary
///   singular vectors, which the inputs (dL/dU, dL/dsigma, dL/dV) do not carry. A loss that
///   uses the individual singular vectors there (e.g. the reconstruction U diag(sigma) V^T, or
///   U f(sigma) U^T like the Hencky stress, at F = I) loses the symmetric off-diagonal part of
///   its gradient in that block (no backward given only these inputs can recover it); it is
///   exact again as soon as the gap exceeds delta.
/// - `rel` defaults to sqrt(machine epsilon of T) (1.5e-8 double, 3.5e-4 float): rounding in
///   a + b (about eps |dL/dU| where a + b = 0 exactly) then contributes at most eps / delta,
///   i.e. ~sqrt(eps) relative.
template <typename T, int D>
Mat<T, D> signed_svd_backward(const SignedSvd<T, D>& svd, const Mat<T, D>& dU, const Vec<T, D>& dsigma,
                              const Mat<T, D>& dV, T rel = std::sqrt(std::numeric_limits<T>::epsilon()));

/// Cofactor matrix cof F = (det F) F^{-T}, columns f1 x f2, f2 x f0, f0 x f1 of F's columns
/// (defined for every F, also singular ones).
template <typename T>
Mat3<T> cofactor(const Mat3<T>& F);

/// The rotation R of the polar decomposition F = R S, equal to signed_svd(F).rotation() (up to
/// rounding) for every F. For det F > 0 it is computed by the scaled Newton iteration
/// X <- (g X + X^{-T} / g) / 2 (g = (|X^{-1}|_F / |X|_F)^{1/2}, Higham's Frobenius scaling),
/// stopped when the update falls below sqrt(eps) |X|_F (quadratic convergence leaves an error
/// of order eps), after dividing F by its largest entry: 3-6 cofactor evaluations for strains
/// of 1e-3 to 0.3, instead of a Jacobi SVD. Inverted or singular F (det F <= 0), non-finite F and
/// an iteration that has not converged in 40 steps take the signed SVD.
template <typename T>
Mat3<T> polar_rotation(const Mat3<T>& F);

// ------------------------------------------------------------------------------------------
// Elastic moduli
// ------------------------------------------------------------------------------------------

/// Isotropic linear-elastic moduli: Young's modulus E [Pa] and Poisson ratio nu [-] and the
/// Lame parameters derived from them, mu = E / (2(1+nu)), lambda = E nu / ((1+nu)(1-2nu)) [Pa].
struct ElasticModuli {
  /// Throws physml::Error unless E > 0 and -1 < nu < 0.5.
  ElasticModuli(double youngs_modulus, double poisson_ratio);
  /// Young's modulus E [Pa].
  double youngs_modulus;
  /// Poisson ratio nu [-].
  double poisson_ratio;
  /// Shear modulus mu [Pa].
  double mu;
  /// First Lame parameter lambda [Pa].
  double lambda;
};

// ------------------------------------------------------------------------------------------
// Hyperelastic laws: energy density psi(F) [Pa], P(F) = dpsi/dF [Pa], tau(F) = P F^T [Pa]
// ------------------------------------------------------------------------------------------

/// Fixed corotated elasticity (Stomakhin et al. 2012), NCLaw's jelly (E = 1e5 Pa, nu = 0.2):
///   psi = mu ||F - R||_F^2 + lambda/2 (J - 1)^2 = mu sum_i (sigma_i - 1)^2 + lambda/2 (J - 1)^2,
///   P = 2 mu (F - R) + lambda (J - 1) cof F,  tau = 2 mu (F - R) F^T + lambda J (J - 1) I,
/// R = U V^T from the signed SVD. Defined for inverted F (J <= 0) too.
struct FixedCorotated {
  explicit FixedCorotated(double youngs_modulus = 1e5, double poisson_ratio = 0.2)
      : moduli(youngs_modulus, poisson_ratio) {}
  ElasticModuli moduli;
  template <typename T>
  T energy(const Mat3<T>& F) const;
  template <typename T>
  Mat3<T> first_piola(const Mat3<T>& F) const;
  template <typename T>
  Mat3<T> kirchhoff(const Mat3<T>& F) const;
};

/// Compressible Neo-Hookean elasticity (the form of NCLaw's follow-up SGA):
///   psi = mu/2 (tr(F^T F) - 3) - mu log J + lambda/2 (log J)^2,
///   P = mu (F - F^{-T}) + lambda log(J) F^{-T},  tau = mu (F F^T - I) + lambda log(J) I.
/// Needs J > 0 (throws physml::Error otherwise).
struct NeoHookean {
  explicit NeoHookean(double youngs_modulus, double poisson_ratio) : moduli(youngs_modulus, poisson_ratio) {}
  ElasticModuli moduli;
  template <typename T>
  T energy(const Mat3<T>& F) const;
  template <typename T>
  Mat3<T> first_piola(const Mat3<T>& F) const;
  template <typename T>
  Mat3<T> kirchhoff(const Mat3<T>& F) const;
};

/// Saint Venant-Kirchhoff elasticity (textbook form), E_G = (F^T F - I)/2 the Green strain:
///   psi = mu tr(E_G^2) + lambda/2 tr(E_G)^2,  P = F (2 mu E_G + lambda tr(E_G) I),
///   tau = P F^T. (NCLaw's code has a mixed "StVK" preset 2 mu F E_G + lambda J(J-1) I that
/// no NCLaw scene uses; this is the hyperelastic one, so P = dpsi/dF holds.) Zero stress at
/// every rotation, but not inversion-safe (it stiffens less under compression).
struct StVenantKirchhoff {
  explicit StVenantKirchhoff(double youngs_modulus, double poisson_ratio) : moduli(youngs_modulus, poisson_ratio) {}
  ElasticModuli moduli;
  template <typename T>
  T energy(const Mat3<T>& F) const;
  template <typename T>
  Mat3<T> first_piola(const Mat3<T>& F) const;
  template <typename T>
  Mat3<T> kirchhoff(const Mat3<T>& F) const;
};

/// Hencky elasticity (St Venant-Kirchhoff in the logarithmic strain; NCLaw's "sigma"
/// elasticity of plasticine, E = 3e5, nu = 0.25, and sand, E = 1e6, nu = 0.2), with
/// eps_i = log sigma_i:
///   psi = mu sum_i eps_i^2 + lambda/2 (sum_i eps_i)^2,
///   tau = U diag(2 mu eps + lambda tr(eps)) U^T,  P = U diag((2 mu eps_i + lambda tr eps)/sigma_i) V^T.
/// Needs J > 0 (all signed singular values > 0; throws physml::Error otherwise).
struct Hencky {
  explicit Hencky(double youngs_modulus, double poisson_ratio) : moduli(youngs_modulus, poisson_ratio) {}
  ElasticModuli moduli;
  template <typename T>
  T energy(const Mat3<T>& F) const;
  template <typename T>
  Mat3<T> first_piola(const Mat3<T>& F) const;
  template <typename T>
  Mat3<T> kirchhoff(const Mat3<T>& F) const;
};

/// Weakly compressible J-fluid (NCLaw's water, "volume" elasticity: E = 1e5, nu = 0.3, so
/// lambda = 57,692 Pa); only the volume ratio J is resisted:
///   psi = lambda/2 (J - 1)^2,  P = lambda (J - 1) cof F,  tau = lambda J (J - 1) I.
/// Its return mapping (FluidVolumeReturnMapping) resets F to J^{1/3} I every step.
struct WeaklyCompressibleFluid {
  explicit WeaklyCompressibleFluid(double youngs_modulus = 1e5, double poisson_ratio = 0.3)
      : moduli(youngs_modulus, poisson_ratio) {}
  ElasticModuli moduli;
  template <typename T>
  T energy(const Mat3<T>& F) const;
  template <typename T>
  Mat3<T> first_piola(const Mat3<T>& F) const;
  template <typename T>
  Mat3<T> kirchhoff(const Mat3<T>& F) const;
};

// ------------------------------------------------------------------------------------------
// Plastic return mappings F_trial -> F_projected (applied after G2P, before the next stress)
// ------------------------------------------------------------------------------------------

/// Smallest singular value used before taking log(sigma) in the return mappings (NCLaw
/// clamps sigma >= 0.05 so that inverted or collapsed particles keep a finite strain).
constexpr double kReturnMappingMinSigma = 0.05;

/// Von Mises plasticity in Hencky strain (NCLaw's plasticine: E = 3e5, nu = 0.25,
/// yield stress 5e3 Pa). With eps = log(max(sigma, 0.05)), eps_hat = eps - tr(eps)/3,
///   dgamma = ||eps_hat|| - sigma_y / (2 mu);
///   dgamma <= 0: F unchanged;  else eps <- eps - dgamma eps_hat / ||eps_hat||, F = U diag(exp eps) V^T.
/// Yield criterion in stress: the deviatoric Hencky Kirchhoff stress dev tau = 2 mu eps_hat
/// (principal) satisfies ||dev tau||_F <= sigma_y after the projection, with equality when
/// the trial state was outside (NCLaw's convention: the Frobenius norm, not the classical
/// J2 equivalent stress sqrt(3/2) ||dev tau||). Volume (tr eps) is preserved unless the 0.05 clamp
/// was active.
struct VonMisesReturnMapping {
  VonMisesReturnMapping(double youngs_modulus = 3e5, double poisson_ratio = 0.25, double yield_stress = 5e3);
  ElasticModuli moduli;
  /// Yield stress sigma_y [Pa] (> 0).
  double yield_stress;
  template <typename T>
  Mat3<T> project(const Mat3<T>& F_trial) const;
};

/// Cohesionless Drucker-Prager plasticity in Hencky strain (Klar et al. 2016; NCLaw's sand:
/// E = 1e6, nu = 0.2, friction angle 25 deg, cohesion 0). With eps = log(max(sigma, 0.05)),
/// eps_hat = eps - tr(eps)/3 and alpha = sqrt(2/3) 2 sin(phi) / (3 - sin(phi)) (0.2678 at 25 deg):
///   tr eps >= 0 (expansion): eps <- 0, i.e. F = U V^T (the cone tip, zero stress);
///   else dgamma = ||eps_hat|| + (3 lambda + 2 mu)/(2 mu) tr(eps) alpha;
///        dgamma <= 0: F unchanged; else eps <- eps - dgamma eps_hat/||eps_hat||, F = U diag(exp eps) V^T.
/// In stress (Hencky tau, principal): yield surface ||dev tau||_F + alpha tr(tau) = 0, i.e.
/// the projected state lies on the cone or at its tip; inside (||dev tau|| + alpha tr tau < 0)
/// F is unchanged. Volume changes only at the tip.
struct DruckerPragerReturnMapping {
  DruckerPragerReturnMapping(double youngs_modulus = 1e6, double poisson_ratio = 0.2, double friction_angle_deg = 25);
  ElasticModuli moduli;
  /// Friction angle phi [degrees], 0 < phi < 90.
  double friction_angle_deg;
  /// alpha = sqrt(2/3) 2 sin(phi) / (3 - sin(phi)) [-].
  double alpha() const;
  template <typename T>
  Mat3<T> project(const Mat3<T>& F_trial) const;
};

/// NCLaw's water "plasticity": F <- J^{1/3} I (keeps J = det F, drops all shear). Uses the
/// real cube root, so it is defined for any J (a particle with J <= 0 has already failed).
struct FluidVolumeReturnMapping {
  template <typename T>
  Mat3<T> project(const Mat3<T>& F_trial) const;
};

// ------------------------------------------------------------------------------------------
// NCLaw's four training materials by name
// ------------------------------------------------------------------------------------------

/// Elastic law of a Material.
enum class ElasticityModel { fixed_corotated, neo_hookean, st_venant_kirchhoff, hencky, weakly_compressible_fluid };
/// Plastic law of a Material.
enum class PlasticityModel { none, von_mises, drucker_prager, fluid_volume };

/// A named material: its elastic law, its plastic law and their parameters (SI units).
struct Material {
  /// Preset name ("jelly", ...), or anything for a hand-made material.
  std::string name;
  ElasticityModel elasticity = ElasticityModel::fixed_corotated;
  PlasticityModel plasticity = PlasticityModel::none;
  /// Young's modulus E [Pa].
  double youngs_modulus = 1e5;
  /// Poisson ratio nu [-].
  double poisson_ratio = 0.2;
  /// Von Mises yield stress [Pa] (von_mises only).
  double yield_stress = 0;
  /// Drucker-Prager friction angle [degrees] (drucker_prager only).
  double friction_angle_deg = 0;
  /// Mass density rho [kg/m^3] (NCLaw: 1e3 for all four).
  double density = 1e3;

  /// Kirchhoff stress tau(F) [Pa] of the elastic law.
  template <typename T>
  Mat3<T> kirchhoff(const Mat3<T>& F) const;
  /// Return mapping F_trial -> F of the plastic law (identity for PlasticityModel::none).
  template <typename T>
  Mat3<T> project(const Mat3<T>& F_trial) const;
};

/// NCLaw's ground-truth materials (references A5): "jelly" (fixed corotated, E 1e5, nu 0.2),
/// "plasticine" (Hencky + von Mises, E 3e5, nu 0.25, sigma_y 5e3), "sand" (Hencky +
/// Drucker-Prager, E 1e6, nu 0.2, 25 deg), "water" (J-fluid + volume reset, E 1e5, nu 0.3).
/// Throws physml::Error naming the known materials for any other name.
Material nclaw_material(const std::string& name);

/// Names accepted by nclaw_material().
std::vector<std::string> nclaw_material_names();

}  // namespace physml::physics
