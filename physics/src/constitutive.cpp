#include "physml/physics/constitutive.hpp"

#include "physml/core/error.hpp"

#include <Eigen/Geometry>
#include <Eigen/LU>
#include <Eigen/SVD>

#include <algorithm>
#include <cmath>

namespace physml::physics {
namespace {

/// Safe reciprocal: 1/x for |x| >= delta, the linear ramp x / delta^2 inside (continuous at
/// |x| = delta, bounded by 1/delta, exactly 0 at x = 0); see signed_svd_backward.
template <typename T>
T safe_reciprocal(T x, T delta) {
  return std::abs(x) >= delta ? T(1) / x : x / (delta * delta);
}

template <typename T>
void check_positive_sigma(const Vec3<T>& sigma, const char* law) {
  PHYSML_CHECK(sigma(2) > T(0), law, " needs det F > 0 (all signed singular values > 0), got singular values (",
               sigma(0), ", ", sigma(1), ", ", sigma(2), ")");
}

}  // namespace

// ------------------------------------------------------------------------------------------
template <typename T, int D>
SignedSvd<T, D> signed_svd(const Mat<T, D>& F) {
  Eigen::JacobiSVD<Mat<T, D>, Eigen::NoQRPreconditioner> svd(F, Eigen::ComputeFullU | Eigen::ComputeFullV);
  SignedSvd<T, D> out{svd.matrixU(), svd.singularValues(), svd.matrixV()};
  // Eigen's singular values are >= 0 and sorted decreasingly; U and V are orthogonal with
  // det +-1. Flipping column D-1 of U (or V) together with sigma_{D-1} keeps U S V^T = F.
  if (out.U.determinant() < T(0)) {
    out.U.col(D - 1) *= T(-1);
    out.sigma(D - 1) *= T(-1);
  }
  if (out.V.determinant() < T(0)) {
    out.V.col(D - 1) *= T(-1);
    out.sigma(D - 1) *= T(-1);
  }
  return out;
}

template <typename T, int D>
Mat<T, D> signed_svd_backward(const SignedSvd<T, D>& svd, const Mat<T, D>& dU, const Vec<T, D>& dsigma,
                              const Mat<T, D>& dV, T rel) {
  const Mat<T, D> A = svd.U.transpose() * dU;
  const Mat<T, D> B = svd.V.transpose() * dV;
  const Mat<T, D> a = A - A.transpose();
  const Mat<T, D> b = B - B.transpose();
  const auto& s = svd.sigma;
  T delta = rel * s.cwiseAbs().maxCoeff();
  if (!(delta > T(0))) delta = std::numeric_limits<T>::min();
  Mat<T, D> Pbar = Mat<T, D>::Zero();
  for (int i = 0; i < D; ++i) {
    Pbar(i, i) = dsigma(i);
    for (int j = 0; j < D; ++j) {
      if (i == j) continue;
      // K_ij (a_ij s_j + s_i b_ij) with K_ij = 1/((s_j - s_i)(s_j + s_i)), split into the part
      // singular at s_i = s_j and the part singular at s_i = -s_j (header comment).
      Pbar(i, j) = T(0.5) * (a(i, j) + b(i, j)) * safe_reciprocal(s(j) - s(i), delta) +
                   T(0.5) * (a(i, j) - b(i, j)) * safe_reciprocal(s(j) + s(i), delta);
    }
  }
  return svd.U * Pbar * svd.V.transpose();
}

template <typename T>
Mat3<T> cofactor(const Mat3<T>& F) {
  Mat3<T> c;
  c.col(0) = F.col(1).cross(F.col(2));
  c.col(1) = F.col(2).cross(F.col(0));
  c.col(2) = F.col(0).cross(F.col(1));
  return c;
}

template <typename T>
Mat3<T> polar_rotation(const Mat3<T>& F) {
  // Stop when the update is below sqrt(eps) |X| (X tends to R, |R| = sqrt 3): the iteration
  // converges quadratically, so the error after that step is of the order of eps.
  const T eps = std::numeric_limits<T>::epsilon();
  // R does not depend on the scale of F; |X|_max = 1 keeps the scaling factor g (which goes like
  // scale^-1) and the squared norms in range for F of any magnitude.
  const T scale = F.cwiseAbs().maxCoeff();
  if (!(scale > T(0)) || !std::isfinite(scale)) return signed_svd<T, 3>(F).rotation();
  Mat3<T> X = F / scale;
  for (int it = 0; it < 40; ++it) {
    const Mat3<T> cof = cofactor(X);
    const T det = X.col(0).dot(cof.col(0));
    if (!(det > T(0)) || !std::isfinite(det)) break;  // inverted, singular or non-finite: the SVD
    const Mat3<T> XinvT = cof / det;                   // X^{-T}
    const T g = std::sqrt(std::sqrt(XinvT.squaredNorm() / X.squaredNorm()));
    const Mat3<T> next = T(0.5) * (g * X + XinvT / g);
    const T change2 = (next - X).squaredNorm();
    if (!std::isfinite(change2)) break;
    X = next;
    if (change2 <= eps * X.squaredNorm()) return X;
  }
  return signed_svd<T, 3>(F).rotation();
}

// ------------------------------------------------------------------------------------------
ElasticModuli::ElasticModuli(double E, double nu) : youngs_modulus(E), poisson_ratio(nu) {
  PHYSML_CHECK(std::isfinite(E) && E > 0, "Young's modulus must be > 0 Pa, got ", E);
  PHYSML_CHECK(std::isfinite(nu) && nu > -1 && nu < 0.5, "Poisson ratio must be in (-1, 0.5), got ", nu);
  mu = E / (2 * (1 + nu));
  lambda = E * nu / ((1 + nu) * (1 - 2 * nu));
}

// Fixed corotated ----------------------------------------------------------------------------
template <typename T>
T FixedCorotated::energy(const Mat3<T>& F) const {
  const auto svd = signed_svd<T, 3>(F);
  const T J = svd.sigma.prod();
  return T(moduli.mu) * (svd.sigma.array() - T(1)).square().sum() + T(0.5 * moduli.lambda) * (J - 1) * (J - 1);
}

template <typename T>
Mat3<T> FixedCorotated::first_piola(const Mat3<T>& F) const {
  const Mat3<T> R = polar_rotation(F);
  const T J = F.determinant();
  return T(2 * moduli.mu) * (F - R) + T(moduli.lambda) * (J - 1) * cofactor(F);
}

template <typename T>
Mat3<T> FixedCorotated::kirchhoff(const Mat3<T>& F) const {
  const Mat3<T> R = polar_rotation(F);
  const T J = F.determinant();
  return T(2 * moduli.mu) * (F - R) * F.transpose() + T(moduli.lambda) * J * (J - 1) * Mat3<T>::Identity();
}

// Neo-Hookean --------------------------------------------------------------------------------
namespace {
template <typename T>
T positive_det(const Mat3<T>& F, const char* law) {
  const T J = F.determinant();
  PHYSML_CHECK(J > T(0), law, " needs J = det F > 0, got J = ", J);
  return J;
}
}  // namespace

template <typename T>
T NeoHookean::energy(const Mat3<T>& F) const {
  const T logJ = std::log(positive_det(F, "NeoHookean"));
  return T(0.5 * moduli.mu) * (F.squaredNorm() - T(3)) - T(moduli.mu) * logJ + T(0.5 * moduli.lambda) * logJ * logJ;
}

template <typename T>
Mat3<T> NeoHookean::first_piola(const Mat3<T>& F) const {
  const T J = positive_det(F, "NeoHookean");
  const Mat3<T> FinvT = cofactor(F) / J;
  return T(moduli.mu) * (F - FinvT) + T(moduli.lambda) * std::log(J) * FinvT;
}

template <typename T>
Mat3<T> NeoHookean::kirchhoff(const Mat3<T>& F) const {
  const T J = positive_det(F, "NeoHookean");
  return T(moduli.mu) * (F * F.transpose() - Mat3<T>::Identity()) +
         T(moduli.lambda) * std::log(J) * Mat3<T>::Identity();
}

// St Venant-Kirchhoff -----------------------------------------------------------------------
template <typename T>
T StVenantKirchhoff::energy(const Mat3<T>& F) const {
  const Mat3<T> E = T(0.5) * (F.transpose() * F - Mat3<T>::Identity());
  const T trE = E.trace();
  return T(moduli.mu) * E.squaredNorm() + T(0.5 * moduli.lambda) * trE * trE;
}

template <typename T>
Mat3<T> StVenantKirchhoff::first_piola(const Mat3<T>& F) const {
  const Mat3<T> E = T(0.5) * (F.transpose() * F - Mat3<T>::Identity());
  return F * (T(2 * moduli.mu) * E + T(moduli.lambda) * E.trace() * Mat3<T>::Identity());
}

template <typename T>
Mat3<T> StVenantKirchhoff::kirchhoff(const Mat3<T>& F) const {
  return first_piola(F) * F.transpose();
}

// Hencky -------------------------------------------------------------------------------------
template <typename T>
T Hencky::energy(const Mat3<T>& F) const {
  const auto svd = signed_svd<T, 3>(F);
  check_positive_sigma(svd.sigma, "Hencky elasticity");
  const Vec3<T> eps = svd.sigma.array().log();
  const T tr = eps.sum();
  return T(moduli.mu) * eps.squaredNorm() + T(0.5 * moduli.lambda) * tr * tr;
}

template <typename T>
Mat3<T> Hencky::first_piola(const Mat3<T>& F) const {
  const auto svd = signed_svd<T, 3>(F);
  check_positive_sigma(svd.sigma, "Hencky elasticity");
  const Vec3<T> eps = svd.sigma.array().log();
  const Vec3<T> dpsi = (T(2 * moduli.mu) * eps.array() + T(moduli.lambda) * eps.sum()) / svd.sigma.array();
  return svd.U * dpsi.asDiagonal() * svd.V.transpose();
}

template <typename T>
Mat3<T> Hencky::kirchhoff(const Mat3<T>& F) const {
  const auto svd = signed_svd<T, 3>(F);
  check_positive_sigma(svd.sigma, "Hencky elasticity");
  const Vec3<T> eps = svd.sigma.array().log();
  const Vec3<T> t = T(2 * moduli.mu) * eps.array() + T(moduli.lambda) * eps.sum();
  return svd.U * t.asDiagonal() * svd.U.transpose();
}

// Weakly compressible fluid ------------------------------------------------------------------
template <typename T>
T WeaklyCompressibleFluid::energy(const Mat3<T>& F) const {
  const T J = F.determinant();
  return T(0.5 * moduli.lambda) * (J - 1) * (J - 1);
}

template <typename T>
Mat3<T> WeaklyCompressibleFluid::first_piola(const Mat3<T>& F) const {
  return T(moduli.lambda) * (F.determinant() - 1) * cofactor(F);
}

template <typename T>
Mat3<T> WeaklyCompressibleFluid::kirchhoff(const Mat3<T>& F) const {
  const T J = F.determinant();
  return T(moduli.lambda) * J * (J - 1) * Mat3<T>::Identity();
}

// Return mappings ---------------------------------------------------------------------------
VonMisesReturnMapping::VonMisesReturnMapping(double E, double nu, double sigma_y)
    : moduli(E, nu), yield_stress(sigma_y) {
  PHYSML_CHECK(std::isfinite(sigma_y) && sigma_y > 0, "von Mises yield stress must be > 0 Pa, got ", sigma_y);
}

template <typename T>
Mat3<T> VonMisesReturnMapping::project(const Mat3<T>& F_trial) const {
  const auto svd = signed_svd<T, 3>(F_trial);
  const Vec3<T> eps = svd.sigma.array().max(T(kReturnMappingMinSigma)).log();
  const Vec3<T> eps_hat = eps.array() - eps.mean();
  const T norm = eps_hat.norm();
  const T dgamma = norm - T(yield_stress / (2 * moduli.mu));
  if (!(dgamma > T(0))) return F_trial;
  const Vec3<T> eps_new = eps - (dgamma / norm) * eps_hat;
  return svd.U * Vec3<T>(eps_new.array().exp()).asDiagonal() * svd.V.transpose();
}

DruckerPragerReturnMapping::DruckerPragerReturnMapping(double E, double nu, double phi_deg)
    : moduli(E, nu), friction_angle_deg(phi_deg) {
  PHYSML_CHECK(std::isfinite(phi_deg) && phi_deg > 0 && phi_deg < 90,
               "Drucker-Prager friction angle must be in (0, 90) degrees, got ", phi_deg);
}

double DruckerPragerReturnMapping::alpha() const {
  const double s = std::sin(friction_angle_deg * M_PI / 180.0);
  return std::sqrt(2.0 / 3.0) * 2 * s / (3 - s);
}

template <typename T>
Mat3<T> DruckerPragerReturnMapping::project(const Mat3<T>& F_trial) const {
  const auto svd = signed_svd<T, 3>(F_trial);
  const Vec3<T> eps = svd.sigma.array().max(T(kReturnMappingMinSigma)).log();
  const T tr = eps.sum();
  if (tr >= T(0)) return svd.rotation();  // expansion: project to the cone tip, eps = 0
  const Vec3<T> eps_hat = eps.array() - eps.mean();
  const T norm = eps_hat.norm();
  const double mu = moduli.mu, lambda = moduli.lambda;
  const T dgamma = norm + T((3 * lambda + 2 * mu) / (2 * mu) * alpha()) * tr;
  if (!(dgamma > T(0))) return F_trial;
  const Vec3<T> eps_new = eps - (dgamma / norm) * eps_hat;
  return svd.U * Vec3<T>(eps_new.array().exp()).asDiagonal() * svd.V.transpose();
}

template <typename T>
Mat3<T> FluidVolumeReturnMapping::project(const Mat3<T>& F_trial) const {
  return std::cbrt(F_trial.determinant()) * Mat3<T>::Identity();
}

// Materials ----------------------------------------------------------------------------------
template <typename T>
Mat3<T> Material::kirchhoff(const Mat3<T>& F) const {
  switch (elasticity) {
    case ElasticityModel::fixed_corotated: return FixedCorotated(youngs_modulus, poisson_ratio).kirchhoff(F);
    case ElasticityModel::neo_hookean: return NeoHookean(youngs_modulus, poisson_ratio).kirchhoff(F);
    case ElasticityModel::st_venant_kirchhoff: return StVenantKirchhoff(youngs_modulus, poisson_ratio).kirchhoff(F);
    case ElasticityModel::hencky: return Hencky(youngs_modulus, poisson_ratio).kirchhoff(F);
    case ElasticityModel::weakly_compressible_fluid:
      return WeaklyCompressibleFluid(youngs_modulus, poisson_ratio).kirchhoff(F);
  }
  PHYSML_THROW("material '", name, "': unknown elasticity model ", static_cast<int>(elasticity));
}

template <typename T>
Mat3<T> Material::project(const Mat3<T>& F_trial) const {
  switch (plasticity) {
    case PlasticityModel::none: return F_trial;
    case PlasticityModel::von_mises:
      return VonMisesReturnMapping(youngs_modulus, poisson_ratio, yield_stress).project(F_trial);
    case PlasticityModel::drucker_prager:
      return DruckerPragerReturnMapping(youngs_modulus, poisson_ratio, friction_angle_deg).project(F_trial);
    case PlasticityModel::fluid_volume: return FluidVolumeReturnMapping().project(F_trial);
  }
  PHYSML_THROW("material '", name, "': unknown plasticity model ", static_cast<int>(plasticity));
}

std::vector<std::string> nclaw_material_names() { return {"jelly", "plasticine", "sand", "water"}; }

Material nclaw_material(const std::string& name) {
  Material m;
  m.name = name;
  if (name == "jelly") {
    m.elasticity = ElasticityModel::fixed_corotated;
    m.plasticity = PlasticityModel::none;
    m.youngs_modulus = 1e5;
    m.poisson_ratio = 0.2;
  } else if (name == "plasticine") {
    m.elasticity = ElasticityModel::hencky;
    m.plasticity = PlasticityModel::von_mises;
    m.youngs_modulus = 3e5;
    m.poisson_ratio = 0.25;
    m.yield_stress = 5e3;
  } else if (name == "sand") {
    m.elasticity = ElasticityModel::hencky;
    m.plasticity = PlasticityModel::drucker_prager;
    m.youngs_modulus = 1e6;
    m.poisson_ratio = 0.2;
    m.friction_angle_deg = 25;
  } else if (name == "water") {
    m.elasticity = ElasticityModel::weakly_compressible_fluid;
    m.plasticity = PlasticityModel::fluid_volume;
    m.youngs_modulus = 1e5;
    m.poisson_ratio = 0.3;
  } else {
    std::string known;
    for (const auto& n : nclaw_material_names()) known += (known.empty() ? "" : ", ") + n;
    PHYSML_THROW("unknown NCLaw material '", name, "'; expected one of: ", known);
  }
  return m;
}

// Explicit instantiations: float and double, 2x2 and 3x3 SVD ---------------------------------
#define PHYSML_INSTANTIATE_SVD(T, D)                                                                       \
  template SignedSvd<T, D> signed_svd<T, D>(const Mat<T, D>&);                                             \
  template Mat<T, D> signed_svd_backward<T, D>(const SignedSvd<T, D>&, const Mat<T, D>&, const Vec<T, D>&, \
                                               const Mat<T, D>&, T);
PHYSML_INSTANTIATE_SVD(float, 2)
PHYSML_INSTANTIATE_SVD(float, 3)
PHYSML_INSTANTIATE_SVD(double, 2)
PHYSML_INSTANTIATE_SVD(double, 3)

#define PHYSML_INSTANTIATE_ELASTIC(Law, T)                    \
  template T Law::energy<T>(const Mat3<T>&) const;            \
  template Mat3<T> Law::first_piola<T>(const Mat3<T>&) const; \
  template Mat3<T> Law::kirchhoff<T>(const Mat3<T>&) const;
#define PHYSML_INSTANTIATE_LAWS(T)                                               \
  template Mat3<T> cofactor<T>(const Mat3<T>&);                                  \
  template Mat3<T> polar_rotation<T>(const Mat3<T>&);                            \
  PHYSML_INSTANTIATE_ELASTIC(FixedCorotated, T)                                  \
  PHYSML_INSTANTIATE_ELASTIC(NeoHookean, T)                                      \
  PHYSML_INSTANTIATE_ELASTIC(StVenantKirchhoff, T)                               \
  PHYSML_INSTANTIATE_ELASTIC(Hencky, T)                                          \
  PHYSML_INSTANTIATE_ELASTIC(WeaklyCompressibleFluid, T)                         \
  template Mat3<T> VonMisesReturnMapping::project<T>(const Mat3<T>&) const;      \
  template Mat3<T> DruckerPragerReturnMapping::project<T>(const Mat3<T>&) const; \
  template Mat3<T> FluidVolumeReturnMapping::project<T>(const Mat3<T>&) const;   \
  template Mat3<T> Material::kirchhoff<T>(const Mat3<T>&) const;                 \
  template Mat3<T> Material::project<T>(const Mat3<T>&) const;
PHYSML_INSTANTIATE_LAWS(float)
PHYSML_INSTANTIATE_LAWS(double)

}  // namespace physml::physics
