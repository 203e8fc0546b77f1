// Signed SVD and its backward (reconstruction, proper rotations, finite differences at
// distinct, nearly repeated and exactly repeated singular values) and the analytic NCLaw
// laws (objectivity, zero stress at rest, P = dpsi/dF, tau = P F^T, hand-computed values,
// return mappings on the yield surface, water's volume reset, presets, batched wrappers).
#include "physml/physics/constitutive.hpp"
#include "physml/physics/constitutive_batch.hpp"

#include "test_util.hpp"

#include <torch/torch.h>

#include <Eigen/Geometry>
#include <Eigen/LU>

#include <cmath>
#include <functional>
#include <random>

using namespace physml::physics;

namespace {

using M3 = Eigen::Matrix3d;
using V3 = Eigen::Vector3d;

M3 random_rotation(std::mt19937_64& rng) {
  std::normal_distribution<double> n(0.0, 1.0);
  Eigen::Quaterniond q(n(rng), n(rng), n(rng), n(rng));
  return q.normalized().toRotationMatrix();
}

M3 random_matrix(std::mt19937_64& rng, double scale) {
  std::normal_distribution<double> n(0.0, scale);
  M3 A;
  for (int i = 0; i < 9; ++i) A(i) = n(rng);
  return A;
}

/// A deformation gradient near I with det F > 0.
M3 random_F(std::mt19937_64& rng, double scale = 0.2) {
  for (;;) {
    M3 F = M3::Identity() + random_matrix(rng, scale);
    if (F.determinant() > 0.2) return F;
  }
}

/// Central finite-difference gradient of a scalar function of a 3x3 matrix.
template <int D>
Eigen::Matrix<double, D, D> fd_gradient(const std::function<double(const Eigen::Matrix<double, D, D>&)>& f,
                                        const Eigen::Matrix<double, D, D>& X, double h) {
  Eigen::Matrix<double, D, D> g;
  for (int i = 0; i < D * D; ++i) {
    auto Xp = X, Xm = X;
    Xp(i) += h;
    Xm(i) -= h;
    g(i) = (f(Xp) - f(Xm)) / (2 * h);
  }
  return g;
}

double rel_err(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  return (a - b).norm() / std::max(b.norm(), 1e-300);
}

/// The singular vectors of a perturbed matrix with column signs aligned to a reference SVD (the
/// pair (u_k, v_k) -> (-u_k, -v_k) is the SVD's own ambiguity), so finite differences follow
/// one smooth branch.
template <int D>
SignedSvd<double, D> aligned_svd(const Eigen::Matrix<double, D, D>& F, const SignedSvd<double, D>& ref) {
  auto s = signed_svd<double, D>(F);
  for (int k = 0; k < D; ++k)
    if (s.U.col(k).dot(ref.U.col(k)) < 0) {
      s.U.col(k) *= -1;
      s.V.col(k) *= -1;
    }
  return s;
}

template <int D>
void expect_valid_svd(const Eigen::Matrix<double, D, D>& F) {
  const auto s = signed_svd<double, D>(F);
  const Eigen::Matrix<double, D, D> I = Eigen::Matrix<double, D, D>::Identity();
  const double scale = std::max(F.norm(), 1.0);
  EXPECT_LT((s.U * s.sigma.asDiagonal() * s.V.transpose() - F).norm(), 1e-14 * scale) << F;
  EXPECT_NEAR(s.U.determinant(), 1.0, 1e-14) << F;
  EXPECT_NEAR(s.V.determinant(), 1.0, 1e-14) << F;
  EXPECT_LT((s.U.transpose() * s.U - I).norm(), 1e-14);
  EXPECT_LT((s.V.transpose() * s.V - I).norm(), 1e-14);
  for (int i = 0; i + 1 < D; ++i) EXPECT_GE(s.sigma(i), std::abs(s.sigma(i + 1)) - 1e-15 * scale) << s.sigma;
  const double det = F.determinant();
  if (std::abs(det) > 1e-12) {
    EXPECT_EQ(s.sigma(D - 1) < 0, det < 0) << F;
  }
  EXPECT_NEAR(s.sigma.prod(), det, 1e-13 * scale * scale * scale);
}

const M3 kRepeated[] = {M3::Identity(), M3(V3(2, 2, 1).asDiagonal()), M3(V3(2, 1, 1).asDiagonal()),
                        M3(V3(1.5, 1.5, 1.5).asDiagonal())};

}  // namespace

// ==========================================================================================
// Signed SVD
// ==========================================================================================

TEST(SvdSigned, ReconstructsWithProperRotationsAndSignOnSmallest) {
  std::mt19937_64 rng(1);
  for (int k = 0; k < 200; ++k) {
    M3 F = random_matrix(rng, 1.0);  // about half have det F < 0
    expect_valid_svd<3>(F);
    Eigen::Matrix2d G = random_matrix(rng, 1.0).topLeftCorner<2, 2>();
    expect_valid_svd<2>(G);
  }
  for (const auto& F : kRepeated) expect_valid_svd<3>(F);
  const M3 Q = random_rotation(rng);
  expect_valid_svd<3>(Q);
  expect_valid_svd<3>(Q * V3(2, 2, -1).asDiagonal() * random_rotation(rng));  // inverted, repeated
  expect_valid_svd<3>(M3::Zero());
  expect_valid_svd<3>(V3(1, 0, 0).asDiagonal());  // rank 1
  // An inverted F: a reflection. The sign must land on the smallest singular value.
  const auto s = signed_svd<double, 3>(V3(3, -2, 1).asDiagonal());
  EXPECT_NEAR(s.sigma(0), 3, 1e-15);
  EXPECT_NEAR(s.sigma(1), 2, 1e-15);
  EXPECT_NEAR(s.sigma(2), -1, 1e-15);
  // float instantiation
  const Eigen::Matrix3f Ff = random_matrix(rng, 1.0).cast<float>();
  const auto sf = signed_svd<float, 3>(Ff);
  EXPECT_LT((sf.U * sf.sigma.asDiagonal() * sf.V.transpose() - Ff).norm(), 1e-5f * Ff.norm());
  EXPECT_NEAR(sf.U.determinant(), 1.0f, 1e-5f);
  EXPECT_NEAR(sf.V.determinant(), 1.0f, 1e-5f);
}

TEST(PolarRotation, EqualsTheSignedSvdRotationForEveryF) {
  std::mt19937_64 rng(11);
  auto check = [](const M3& F, double tol) {
    const M3 R = polar_rotation<double>(F);
    const M3 Rsvd = signed_svd<double, 3>(F).rotation();
    EXPECT_LT((R - Rsvd).norm(), tol) << "F =\n" << F;
    EXPECT_LT((R.transpose() * R - M3::Identity()).norm(), 1e-14) << "F =\n" << F;
    EXPECT_NEAR(R.determinant(), 1.0, 1e-14);
    // S = R^T F, the polar factor, is symmetric (checked on F scaled to |F|_max = 1, whose
    // norms neither overflow nor underflow).
    const M3 Fn = F / F.cwiseAbs().maxCoeff();
    const M3 S = R.transpose() * Fn;
    EXPECT_LT((S - S.transpose()).norm(), 1e-13 * Fn.norm()) << "F =\n" << F;
  };
  for (int k = 0; k < 200; ++k) check(random_F(rng), 1e-13);  // near I, the MPM case
  for (int k = 0; k < 200; ++k) {
    // Large stretches and condition numbers up to e^10 = 2e4 (the rotation's sensitivity grows with
    // 1 / (sigma_1 + sigma_2), so the tolerance is relative to the conditioning).
    const double s0 = std::exp(std::uniform_real_distribution<double>(-3, 3)(rng));
    const double s1 = std::exp(std::uniform_real_distribution<double>(-3, 3)(rng));
    const double s2 = std::exp(std::uniform_real_distribution<double>(-7, 7)(rng));
    const M3 F = random_rotation(rng) * V3(s0, s1, s2).asDiagonal() * random_rotation(rng);
    const auto sv = signed_svd<double, 3>(F).sigma;
    check(F, 1e-14 * sv(0) / (sv(1) + sv(2)) + 1e-14);
  }
  // Repeated singular values (the SVD's vectors are not unique there, R is).
  const M3 Q = random_rotation(rng);
  check(Q, 1e-14);
  check(Q * V3(2, 2, 0.5).asDiagonal() * random_rotation(rng), 1e-13);
  check(3.0 * M3::Identity(), 1e-15);
  // Inverted, singular and non-finite F take the signed SVD itself: bit for bit equal.
  for (const M3& F : {M3(Q * V3(2, 1, -0.5).asDiagonal() * random_rotation(rng)), M3(V3(1, 1, 0).asDiagonal()),
                      M3(M3::Zero())}) {
    const M3 R = polar_rotation<double>(F);
    EXPECT_TRUE(R == (signed_svd<double, 3>(F).rotation())) << "F =\n" << F;
    EXPECT_NEAR(R.determinant(), 1.0, 1e-14);
  }
  // Any magnitude: R does not depend on the scale of F (no overflow of the scaling factor).
  const M3 A = random_rotation(rng) * V3(2, 1, 0.5).asDiagonal() * random_rotation(rng);
  for (double s : {1e-200, 1e-100, 1e-80, 1e80, 1e100, 1e200}) check(s * A, 1e-14);
  // float, also at scales where |X^{-1}| / |X| would overflow without the normalization
  for (float s : {1.0f, 1e-11f, 1e-30f, 1e11f, 1e30f}) {
    const Eigen::Matrix3f Ff = s * random_F(rng).cast<float>();
    const Eigen::Matrix3f Rf = polar_rotation<float>(Ff);
    EXPECT_TRUE(Rf.allFinite()) << "scale " << s;
    EXPECT_LT((Rf - signed_svd<float, 3>(Ff).rotation()).norm(), 1e-5f) << "scale " << s;
  }
}

TEST(SvdBackward, MatchesFiniteDifferencesAtDistinctSingularValues) {
  std::mt19937_64 rng(2);
  for (int k = 0; k < 20; ++k) {
    const double sign = (k % 2) ? -1.0 : 1.0;  // odd k: inverted F, negative last singular value
    const M3 F =
        random_rotation(rng) * V3(2.0, 1.3, sign * 0.6).asDiagonal() * random_rotation(rng) + random_matrix(rng, 0.05);
    const auto s0 = signed_svd<double, 3>(F);
    const M3 GU = random_matrix(rng, 1.0), GV = random_matrix(rng, 1.0);
    const V3 gs = V3::Random();
    auto loss = [&](const M3& X) {
      const auto s = aligned_svd<3>(X, s0);
      return (GU.array() * s.U.array()).sum() + gs.dot(s.sigma) + (GV.array() * s.V.array()).sum();
    };
    const M3 analytic = signed_svd_backward<double, 3>(s0, GU, gs, GV);
    const M3 fd = fd_gradient<3>(loss, F, 1e-6);
    EXPECT_LT(rel_err(analytic, fd), 1e-7) << "k = " << k << "\nanalytic\n" << analytic << "\nfd\n" << fd;
  }
  // 2x2
  for (int k = 0; k < 10; ++k) {
    const Eigen::Matrix2d F = Eigen::Vector2d(1.7, (k % 2 ? -0.8 : 0.8)).asDiagonal();
    const Eigen::Matrix2d F2 =
        Eigen::Rotation2Dd(0.3 + k).toRotationMatrix() * F * Eigen::Rotation2Dd(-1.1 * k).toRotationMatrix();
    const auto s0 = signed_svd<double, 2>(F2);
    const Eigen::Matrix2d GU = Eigen::Matrix2d::Random(), GV = Eigen::Matrix2d::Random();
    const Eigen::Vector2d gs = Eigen::Vector2d::Random();
    auto loss = [&](const Eigen::Matrix2d& X) {
      const auto s = aligned_svd<2>(X, s0);
      return (GU.array() * s.U.array()).sum() + gs.dot(s.sigma) + (GV.array() * s.V.array()).sum();
    };
    const Eigen::Matrix2d analytic = signed_svd_backward<double, 2>(s0, GU, gs, GV);
    EXPECT_LT(rel_err(analytic, fd_gradient<2>(loss, F2, 1e-6)), 1e-7) << k;
  }
}

TEST(SvdBackward, ReconstructionGradientIsExactNearRepeatedSingularValues) {
  // L = <G, U diag(sigma) V^T> = <G, F> for every F, so dL/dF = G. Through the SVD this needs
  // the (a + b)/(s_j - s_i) term at a tiny gap: a naive 1/(s_j^2 - s_i^2) would be ~1e12 here.
  std::mt19937_64 rng(3);
  for (double gap : {1e-2, 1e-4, 1e-6}) {
    const M3 F = random_rotation(rng) * V3(1.5 + gap, 1.5, 0.7).asDiagonal() * random_rotation(rng);
    const auto s = signed_svd<double, 3>(F);
    const M3 G = random_matrix(rng, 1.0);
    const M3 grad =
        signed_svd_backward<double, 3>(s, G * s.V * s.sigma.asDiagonal(), (s.U.transpose() * G * s.V).diagonal(),
                                       G.transpose() * s.U * s.sigma.asDiagonal());
    // Gaps above delta = 1.5e-8 * 1.5 use the exact formula; rounding grows like eps / gap.
    EXPECT_LT(rel_err(grad, G), 1e-10 + 1e-14 / gap) << "gap " << gap;
  }
}

TEST(SvdBackward, FiniteAndExactAtRepeatedSingularValuesForRotationAndSymmetricLosses) {
  // Losses that are smooth at repeated singular values: a symmetric function of sigma and a
  // function of the polar rotation R = U V^T. Both must match finite differences exactly there.
  std::mt19937_64 rng(4);
  const M3 G = random_matrix(rng, 1.0);
  auto f_sym = [](const V3& s) { return s.array().cube().sum() + s.prod() + 0.5 * s.squaredNorm(); };
  auto f_sym_grad = [](const V3& s) {
    return V3(3 * s(0) * s(0) + s(1) * s(2) + s(0), 3 * s(1) * s(1) + s(0) * s(2) + s(1),
              3 * s(2) * s(2) + s(0) * s(1) + s(2));
  };
  std::vector<M3> cases(std::begin(kRepeated), std::end(kRepeated));
  const M3 Q1 = random_rotation(rng), Q2 = random_rotation(rng);
  cases.push_back(Q1 * V3(2, 2, 1).asDiagonal() * Q2);
  cases.push_back(Q1 * V3(1, 1.7, 1).asDiagonal() * Q2);
  cases.push_back(Q1);  // a rotation: all singular values 1
  for (const auto& F : cases) {
    const auto s = signed_svd<double, 3>(F);
    auto loss = [&](const M3& X) {
      const auto t = signed_svd<double, 3>(X);
      return f_sym(t.sigma) + (G.array() * t.rotation().array()).sum();
    };
    // dL/dR = G -> dL/dU = G V, dL/dV = G^T U.
    const M3 grad = signed_svd_backward<double, 3>(s, G * s.V, f_sym_grad(s.sigma), G.transpose() * s.U);
    ASSERT_TRUE(grad.allFinite()) << F;
    const M3 fd = fd_gradient<3>(loss, F, 1e-6);
    EXPECT_LT(rel_err(grad, fd), 1e-8) << "F\n" << F << "\ngrad\n" << grad << "\nfd\n" << fd;
    // Float: finite and close.
    const auto sf = signed_svd<float, 3>(F.cast<float>());
    const Eigen::Matrix3f Gf = G.cast<float>();
    const Eigen::Matrix3f gradf = signed_svd_backward<float, 3>(
        sf, Gf * sf.V, f_sym_grad(sf.sigma.cast<double>()).cast<float>(), Gf.transpose() * sf.U);
    ASSERT_TRUE(gradf.allFinite());
    EXPECT_LT(rel_err(gradf.cast<double>(), fd), 1e-3);
  }
}

TEST(SvdBackward, ExactlyRepeatedValuesDropOnlyTheUndeterminedBlockOfVectorLosses) {
  // At an exactly repeated pair the 0/0 entry of the singular term is set to 0 (header comment):
  // for the reconstruction loss at F = diag(2, 2, 1) the result is G except the symmetric
  // off-diagonal part of U^T G V inside the repeated block, which no backward that sees only
  // (dL/dU, dL/dsigma, dL/dV) can recover. Everything else is exact and finite.
  std::mt19937_64 rng(5);
  const M3 F = V3(2, 2, 1).asDiagonal();
  const auto s = signed_svd<double, 3>(F);
  const M3 G = random_matrix(rng, 1.0);
  const M3 grad =
      signed_svd_backward<double, 3>(s, G * s.V * s.sigma.asDiagonal(), (s.U.transpose() * G * s.V).diagonal(),
                                     G.transpose() * s.U * s.sigma.asDiagonal());
  ASSERT_TRUE(grad.allFinite());
  const M3 M = s.U.transpose() * G * s.V, Pbar = s.U.transpose() * grad * s.V;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      const bool block = i != j && i < 2 && j < 2;
      EXPECT_NEAR(Pbar(i, j), block ? 0.5 * (M(i, j) - M(j, i)) : M(i, j), 1e-12) << i << "," << j;
    }
}

// ==========================================================================================
// Elastic laws
// ==========================================================================================

namespace {
/// Every hyperelastic law with energy, P and tau, run through the same checks.
struct LawCase {
  std::string name;
  std::function<double(const M3&)> psi;
  std::function<M3(const M3&)> P, tau;
  double scale;  // a stress scale (mu or lambda) for absolute tolerances
};

template <typename Law>
LawCase law_case(const std::string& name, const Law& law) {
  return {name, [law](const M3& F) { return law.energy(F); }, [law](const M3& F) { return law.first_piola(F); },
          [law](const M3& F) { return law.kirchhoff(F); }, std::max(law.moduli.mu, law.moduli.lambda)};
}

std::vector<LawCase> all_laws() {
  return {law_case("FixedCorotated", FixedCorotated(1e5, 0.2)), law_case("NeoHookean", NeoHookean(1e5, 0.3)),
          law_case("StVenantKirchhoff", StVenantKirchhoff(1e5, 0.3)), law_case("Hencky", Hencky(3e5, 0.25)),
          law_case("WeaklyCompressibleFluid", WeaklyCompressibleFluid(1e5, 0.3))};
}
}  // namespace

TEST(ConstitutiveElastic, ObjectivityUnderRandomRotations) {
  std::mt19937_64 rng(10);
  for (const auto& law : all_laws()) {
    for (int k = 0; k < 20; ++k) {
      const M3 F = random_F(rng, 0.3), Q = random_rotation(rng);
      const M3 tau = law.tau(F);
      EXPECT_LT((law.tau(Q * F) - Q * tau * Q.transpose()).norm(), 1e-12 * (tau.norm() + law.scale)) << law.name;
      EXPECT_LT((law.P(Q * F) - Q * law.P(F)).norm(), 1e-12 * (tau.norm() + law.scale)) << law.name;
      EXPECT_NEAR(law.psi(Q * F), law.psi(F), 1e-12 * law.scale) << law.name;
    }
  }
}

TEST(ConstitutiveElastic, ZeroStressAtRestAndUnderRotation) {
  std::mt19937_64 rng(11);
  for (const auto& law : all_laws()) {
    EXPECT_LT(law.tau(M3::Identity()).norm(), 1e-12 * law.scale) << law.name;
    EXPECT_LT(law.P(M3::Identity()).norm(), 1e-12 * law.scale) << law.name;
    EXPECT_NEAR(law.psi(M3::Identity()), 0.0, 1e-12 * law.scale) << law.name;
    for (int k = 0; k < 5; ++k) {
      const M3 Q = random_rotation(rng);
      EXPECT_LT(law.tau(Q).norm(), 1e-10 * law.scale) << law.name;
      EXPECT_LT(law.P(Q).norm(), 1e-10 * law.scale) << law.name;
      EXPECT_NEAR(law.psi(Q), 0.0, 1e-10 * law.scale) << law.name;
    }
    // ... and not at a real deformation (the checks above could not pass with tau == 0).
    EXPECT_GT(law.tau(V3(1.1, 1.0, 0.95).asDiagonal()).norm(), 1e-3 * law.scale) << law.name;
  }
}

TEST(ConstitutiveElastic, FirstPiolaIsEnergyGradientAndKirchhoffIsPFt) {
  std::mt19937_64 rng(12);
  for (const auto& law : all_laws()) {
    for (int k = 0; k < 10; ++k) {
      const M3 F = random_F(rng, 0.25);
      const M3 P = law.P(F);
      const M3 fd = fd_gradient<3>(law.psi, F, 1e-6);
      EXPECT_LT(rel_err(P, fd), 1e-7) << law.name << "\nF\n" << F << "\nP\n" << P << "\nfd\n" << fd;
      EXPECT_LT((law.tau(F) - P * F.transpose()).norm(), 1e-12 * (P.norm() + law.scale)) << law.name;
    }
  }
  // Inversion-safe laws also away from J > 0.
  const auto fc = law_case("FixedCorotated", FixedCorotated(1e5, 0.2));
  const auto fl = law_case("WeaklyCompressibleFluid", WeaklyCompressibleFluid(1e5, 0.3));
  for (int k = 0; k < 5; ++k) {
    const M3 F = random_rotation(rng) * V3(1.2, 0.9, -0.3).asDiagonal() * random_rotation(rng);
    for (const auto* law : {&fc, &fl})
      EXPECT_LT(rel_err(law->P(F), fd_gradient<3>(law->psi, F, 1e-6)), 1e-7) << law->name;
  }
}

TEST(ConstitutiveElastic, HandComputedValuesAtDiagonalF) {
  // F = diag(a, b, c): R = I, U = V = I, everything principal.
  const double a = 1.2, b = 0.9, c = 1.05, J = a * b * c;
  const M3 F = V3(a, b, c).asDiagonal();
  {
    const FixedCorotated law(1e5, 0.2);
    EXPECT_NEAR(law.moduli.mu, 1e5 / 2.4, 1e-9);
    EXPECT_NEAR(law.moduli.lambda, 2e4 / (1.2 * 0.6), 1e-9);
    const double mu = law.moduli.mu, la = law.moduli.lambda;
    const V3 t(2 * mu * (a - 1) * a + la * J * (J - 1), 2 * mu * (b - 1) * b + la * J * (J - 1),
               2 * mu * (c - 1) * c + la * J * (J - 1));
    EXPECT_LT((law.kirchhoff(F) - M3(t.asDiagonal())).norm(), 1e-9);
    EXPECT_NEAR(law.energy(F),
                mu * ((a - 1) * (a - 1) + (b - 1) * (b - 1) + (c - 1) * (c - 1)) + 0.5 * la * (J - 1) * (J - 1), 1e-9);
  }
  {
    const Hencky law(3e5, 0.25);
    const double mu = law.moduli.mu, la = law.moduli.lambda;
    EXPECT_NEAR(mu, 120000, 1e-9);
    EXPECT_NEAR(la, 120000, 1e-9);
    const V3 e(std::log(a), std::log(b), std::log(c));
    const V3 t = (2 * mu * e.array() + la * e.sum()).matrix();
    EXPECT_LT((law.kirchhoff(F) - M3(t.asDiagonal())).norm(), 1e-9);
  }
  {
    const NeoHookean law(1e5, 0.3);
    const double mu = law.moduli.mu, la = law.moduli.lambda;
    const V3 t = (mu * (V3(a * a, b * b, c * c).array() - 1) + la * std::log(J)).matrix();
    EXPECT_LT((law.kirchhoff(F) - M3(t.asDiagonal())).norm(), 1e-9);
  }
  {
    const StVenantKirchhoff law(1e5, 0.3);
    const double mu = law.moduli.mu, la = law.moduli.lambda;
    const V3 E = 0.5 * (V3(a * a, b * b, c * c).array() - 1).matrix();
    const V3 t = ((2 * mu * E.array() + la * E.sum()) * V3(a * a, b * b, c * c).array()).matrix();
    EXPECT_LT((law.kirchhoff(F) - M3(t.asDiagonal())).norm(), 1e-9);
  }
  {
    const WeaklyCompressibleFluid law;  // water: E = 1e5, nu = 0.3
    EXPECT_NEAR(law.moduli.lambda, 57692.307692307695, 1e-6);
    EXPECT_LT((law.kirchhoff(F) - law.moduli.lambda * J * (J - 1) * M3::Identity()).norm(), 1e-9);
    // Only J matters: a pure shear with J = 1 gives no stress.
    EXPECT_LT(law.kirchhoff(M3(V3(2.0, 0.5, 1.0).asDiagonal())).norm(), 1e-9);
  }
}

TEST(ConstitutiveElastic, FloatMatchesDouble) {
  std::mt19937_64 rng(13);
  const M3 F = random_F(rng, 0.2);
  const Eigen::Matrix3f Ff = F.cast<float>();
  const FixedCorotated fc;
  const Hencky h(3e5, 0.25);
  EXPECT_LT(rel_err(fc.kirchhoff(Ff).cast<double>(), fc.kirchhoff(F)), 1e-4);
  EXPECT_LT(rel_err(h.kirchhoff(Ff).cast<double>(), h.kirchhoff(F)), 1e-4);
}

TEST(ConstitutiveElastic, BadInputsAreErrors) {
  EXPECT_THROW_MSG(FixedCorotated(-1.0, 0.2), "Young's modulus must be > 0 Pa, got -1");
  EXPECT_THROW_MSG(Hencky(1e5, 0.5), "Poisson ratio must be in (-1, 0.5), got 0.5");
  const M3 inverted = V3(1.0, 1.0, -0.5).asDiagonal();
  EXPECT_THROW_MSG(NeoHookean(1e5, 0.3).kirchhoff(inverted), "NeoHookean needs J = det F > 0, got J = -0.5");
  EXPECT_THROW_MSG(Hencky(1e5, 0.3).kirchhoff(inverted), "Hencky elasticity needs det F > 0");
  EXPECT_THROW_MSG(VonMisesReturnMapping(3e5, 0.25, 0.0), "yield stress must be > 0 Pa");
  EXPECT_THROW_MSG(DruckerPragerReturnMapping(1e6, 0.2, 95.0), "friction angle must be in (0, 90) degrees, got 95");
}

// ==========================================================================================
// Return mappings
// ==========================================================================================

namespace {
/// Principal Hencky strain of F (F with det > 0).
V3 hencky_strain(const M3& F) { return signed_svd<double, 3>(F).sigma.array().log().matrix(); }
/// ||dev tau||_F and tr tau of the Hencky Kirchhoff stress of F.
std::pair<double, double> dev_norm_and_trace(const Hencky& h, const M3& F) {
  const M3 tau = h.kirchhoff(F);
  const double tr = tau.trace();
  return {(tau - tr / 3 * M3::Identity()).norm(), tr};
}
}  // namespace

TEST(ConstitutiveVonMises, ProjectsOntoYieldSurfaceAndLeavesInsideUnchanged) {
  const VonMisesReturnMapping vm;  // plasticine: E 3e5, nu 0.25, sigma_y 5e3
  const Hencky h(3e5, 0.25);
  std::mt19937_64 rng(20);
  int outside = 0, inside = 0;
  for (int k = 0; k < 200; ++k) {
    const M3 Q1 = random_rotation(rng), Q2 = random_rotation(rng);
    std::normal_distribution<double> n(0.0, k < 100 ? 0.1 : 0.008);
    const M3 F = Q1 * V3(std::exp(n(rng)), std::exp(n(rng)), std::exp(n(rng))).asDiagonal() * Q2;
    const auto [dev_trial, tr_trial] = dev_norm_and_trace(h, F);
    const M3 Fp = vm.project(F);
    const auto [dev, tr] = dev_norm_and_trace(h, Fp);
    if (dev_trial > vm.yield_stress) {
      ++outside;
      EXPECT_NEAR(dev, vm.yield_stress, 1e-9 * vm.yield_stress) << k;
      EXPECT_NEAR(Fp.determinant(), F.determinant(), 1e-12) << k;  // volume preserving
      EXPECT_NEAR(tr, tr_trial, 1e-8 * vm.yield_stress) << k;
      // Objective: project(Q F) = Q project(F).
      const M3 Q = random_rotation(rng);
      EXPECT_LT((vm.project(M3(Q * F)) - Q * Fp).norm(), 1e-12) << k;
      // Idempotent.
      EXPECT_LT((vm.project(Fp) - Fp).norm(), 1e-12) << k;
    } else {
      ++inside;
      EXPECT_EQ(Fp, F) << k;
    }
  }
  EXPECT_GT(outside, 50);
  EXPECT_GT(inside, 50);
  // The threshold in strain: ||eps_hat|| = sigma_y / (2 mu) = 5e3 / 2.4e5 = 0.0208333.
  const double r = 5e3 / 2.4e5;
  const V3 dir = V3(1, -1, 0).normalized();
  for (double f : {0.99, 1.01}) {
    const V3 e = f * r * dir;
    const M3 F = V3(std::exp(e(0)), std::exp(e(1)), std::exp(e(2))).asDiagonal();
    const V3 ep = hencky_strain(vm.project(F));
    const V3 eh = ep.array() - ep.mean();
    EXPECT_NEAR(eh.norm(), std::min(f, 1.0) * r, 1e-12) << f;
  }
}

TEST(ConstitutiveDruckerPrager, ProjectsOntoConeOrTipAndLeavesInsideUnchanged) {
  const DruckerPragerReturnMapping dp;  // sand: E 1e6, nu 0.2, 25 deg
  EXPECT_NEAR(dp.alpha(), 0.2678, 5e-5);
  const Hencky h(1e6, 0.2);
  const double alpha = dp.alpha();
  std::mt19937_64 rng(21);
  int tip = 0, cone = 0, inside = 0;
  for (int k = 0; k < 300; ++k) {
    const M3 Q1 = random_rotation(rng), Q2 = random_rotation(rng);
    std::normal_distribution<double> n(-0.02, 0.05);
    const M3 F = Q1 * V3(std::exp(n(rng)), std::exp(n(rng)), std::exp(n(rng))).asDiagonal() * Q2;
    const V3 e = hencky_strain(F);
    const auto [dev_trial, tr_trial] = dev_norm_and_trace(h, F);
    const M3 Fp = dp.project(F);
    const auto [dev, tr] = dev_norm_and_trace(h, Fp);
    const double stress_scale = std::abs(tr_trial) + dev_trial;
    if (e.sum() >= 0) {
      ++tip;  // expansion: the cone tip, zero stress, F = R
      EXPECT_LT(h.kirchhoff(Fp).norm(), 1e-9 * stress_scale) << k;
      EXPECT_LT((Fp.transpose() * Fp - M3::Identity()).norm(), 1e-13) << k;
      EXPECT_NEAR(Fp.determinant(), 1.0, 1e-13);
    } else if (dev_trial + alpha * tr_trial > 0) {
      ++cone;  // outside in compression: on the cone, pressure kept
      EXPECT_NEAR(dev + alpha * tr, 0.0, 1e-9 * stress_scale) << k;
      EXPECT_NEAR(tr, tr_trial, 1e-9 * stress_scale) << k;
      EXPECT_LT(dev, dev_trial) << k;
      const M3 Q = random_rotation(rng);
      EXPECT_LT((dp.project(M3(Q * F)) - Q * Fp).norm(), 1e-12) << k;
    } else {
      ++inside;
      EXPECT_EQ(Fp, F) << k;
      EXPECT_LT(dev + alpha * tr, 0.0);
    }
  }
  EXPECT_GT(tip, 20);
  EXPECT_GT(cone, 20);
  EXPECT_GT(inside, 20);
}

TEST(ConstitutiveFluid, VolumeResetKeepsJAndDropsShear) {
  std::mt19937_64 rng(22);
  const WeaklyCompressibleFluid water;
  for (int k = 0; k < 20; ++k) {
    const M3 F = random_F(rng, 0.3);
    const double J = F.determinant();
    const M3 Fp = FluidVolumeReturnMapping().project(F);
    EXPECT_LT((Fp - std::cbrt(J) * M3::Identity()).norm(), 1e-15) << k;
    EXPECT_NEAR(Fp.determinant(), J, 1e-14 * J) << k;
    EXPECT_LT((water.kirchhoff(Fp) - water.kirchhoff(F)).norm(), 1e-10 * water.moduli.lambda) << k;
  }
}

TEST(ConstitutiveMaterial, NCLawPresets) {
  EXPECT_EQ(nclaw_material_names(), (std::vector<std::string>{"jelly", "plasticine", "sand", "water"}));
  const auto jelly = nclaw_material("jelly"), plasticine = nclaw_material("plasticine");
  const auto sand = nclaw_material("sand"), water = nclaw_material("water");
  // mu and lambda as in the NCLaw table (references A5).
  EXPECT_NEAR(ElasticModuli(jelly.youngs_modulus, jelly.poisson_ratio).mu, 41666.67, 0.01);
  EXPECT_NEAR(ElasticModuli(jelly.youngs_modulus, jelly.poisson_ratio).lambda, 27777.78, 0.01);
  EXPECT_NEAR(ElasticModuli(sand.youngs_modulus, sand.poisson_ratio).mu, 416666.67, 0.01);
  EXPECT_NEAR(ElasticModuli(sand.youngs_modulus, sand.poisson_ratio).lambda, 277777.78, 0.01);
  EXPECT_NEAR(ElasticModuli(water.youngs_modulus, water.poisson_ratio).lambda, 57692.31, 0.01);
  EXPECT_EQ(plasticine.yield_stress, 5e3);
  EXPECT_EQ(sand.friction_angle_deg, 25);
  std::mt19937_64 rng(23);
  const M3 F = random_F(rng, 0.2);
  EXPECT_EQ(jelly.kirchhoff(F), FixedCorotated(1e5, 0.2).kirchhoff(F));
  EXPECT_EQ(jelly.project(F), F);
  EXPECT_EQ(plasticine.kirchhoff(F), Hencky(3e5, 0.25).kirchhoff(F));
  EXPECT_EQ(plasticine.project(F), VonMisesReturnMapping(3e5, 0.25, 5e3).project(F));
  EXPECT_EQ(sand.project(F), DruckerPragerReturnMapping(1e6, 0.2, 25).project(F));
  EXPECT_EQ(water.kirchhoff(F), WeaklyCompressibleFluid(1e5, 0.3).kirchhoff(F));
  EXPECT_EQ(water.project(F), FluidVolumeReturnMapping().project(F));
  EXPECT_THROW_MSG(nclaw_material("honey"),
                   "unknown NCLaw material 'honey'; expected one of: jelly, plasticine, sand, water");
}

// ==========================================================================================
// Batched wrappers
// ==========================================================================================

TEST(ConstitutiveBatch, MatchesPerParticleLaws) {
  torch::manual_seed(30);
  const std::int64_t N = 50;
  auto F = torch::eye(3, torch::kDouble) + 0.1 * torch::randn({N, 3, 3}, torch::kDouble);
  for (const auto& name : nclaw_material_names()) {
    const auto mat = nclaw_material(name);
    const auto tau = batch_kirchhoff(mat, F), Fp = batch_project(mat, F);
    const auto tau_f = batch_kirchhoff(mat, F.to(torch::kFloat));
    ASSERT_EQ(tau.sizes(), F.sizes());
    for (std::int64_t n = 0; n < N; ++n) {
      M3 Fn;
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) Fn(i, j) = F[n][i][j].item<double>();
      const M3 t = mat.kirchhoff(Fn), p = mat.project(Fn);
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) {
          EXPECT_EQ(tau[n][i][j].item<double>(), t(i, j)) << name;  // F[n](i, j) is row i, column j
          EXPECT_EQ(Fp[n][i][j].item<double>(), p(i, j)) << name;
          EXPECT_NEAR(tau_f[n][i][j].item<double>(), t(i, j), 1e-4 * (t.norm() + 1e3)) << name;
        }
    }
  }
  EXPECT_THROW_MSG(batch_kirchhoff(nclaw_material("jelly"), torch::zeros({2, 9})),
                   "expects F of shape [N, 3, 3], got [2, 9]");
  auto inverted = torch::eye(3, torch::kDouble).repeat({4, 1, 1});
  inverted[2][2][2] = -1.0;
  EXPECT_THROW_MSG(batch_kirchhoff(nclaw_material("sand"), inverted), "Hencky elasticity needs det F > 0");
}
