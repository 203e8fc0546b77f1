#include "test_util.hpp"

#include "physml/core/error.hpp"
#include "physml/simulators/mpm.hpp"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

using namespace physml::simulators;
namespace phys = physml::physics;

namespace {

double norm(const std::vector<double>& a) {
  double s = 0;
  for (double x : a) s += x * x;
  return std::sqrt(s);
}

double max_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

/// A grid of `cells` cells on [0, 1]^d, no gravity, no walls, 1 thread.
MPMOptions free_space(int64_t dim, int64_t cells = 32) {
  return MPMOptions(dim).cells({cells}).gravity(std::vector<double>(dim, 0.0)).boundary_cells(0).threads(1).dt(5e-4);
}

std::vector<double> fill(int64_t dim, double v) { return std::vector<double>(dim, v); }

/// Per particle 3x3 deformation gradients (2-D: [[F, 0], [0, F_zz]]).
std::vector<phys::Mat3<double>> F3_all(const physml::mesh::ParticleSet& P) {
  const int64_t d = P.dim(), n = P.size();
  auto F = P.get("F").to(torch::kDouble).contiguous();
  auto zz = d == 2 ? P.get("F_zz").to(torch::kDouble).contiguous() : torch::ones({n}, torch::kDouble);
  const double* f = F.data_ptr<double>();
  const double* z = zz.data_ptr<double>();
  std::vector<phys::Mat3<double>> out(n, phys::Mat3<double>::Zero());
  for (int64_t p = 0; p < n; ++p) {
    for (int a = 0; a < d; ++a)
      for (int b = 0; b < d; ++b) out[p](a, b) = f[(p * d + a) * d + b];
    if (d == 2) out[p](2, 2) = z[p];
  }
  return out;
}

}  // namespace

// P2G/G2P: grid mass = particle mass, grid momentum = particle momentum, and with no gravity
// and no wall touched the total linear momentum is conserved to rounding, with stress (two
// materials on one grid).
TEST(MPM, MassAndLinearMomentumConservedWithoutGravityOrWalls) {
  for (int64_t dim : {2, 3}) {
    MPMSimulator sim(free_space(dim, dim == 2 ? 32 : 16), mpm_materials({"jelly", "sand"}));
    sim.add_body(MPMBody().shapes({MPMShape::sphere(fill(dim, 0.35), 0.12)}).material(0).velocity(fill(dim, 0.6)));
    sim.add_body(MPMBody()
                     .shapes({MPMShape::box(fill(dim, 0.55), fill(dim, 0.75))})
                     .material(1)
                     .velocity(fill(dim, -0.8))
                     .jitter(0.5)
                     .seed(3));
    const double M = sim.total_mass();
    const auto p0 = sim.linear_momentum();
    const double scale = M * 0.8;
    for (int s = 0; s < 200; ++s) {
      const auto before = sim.linear_momentum();
      sim.substep();
      EXPECT_NEAR(sim.grid_mass(), M, 1e-13 * M);
      EXPECT_LT(max_diff(sim.grid_momentum(), before), 1e-13 * scale);
    }
    EXPECT_LT(max_diff(sim.linear_momentum(), p0), 1e-12 * scale) << dim << "-D";
    EXPECT_EQ(sim.clamped_count(), 0);
    // The bodies collided: the momentum exchange happened, not just free flight.
    auto v = sim.particles().velocities();
    EXPECT_GT((v - v.mean(0)).abs().max().item<double>(), 0.1);
  }
}

// APIC conserves angular momentum (with the affine part dx^2/4 eps:C^T) in the transfers and,
// with a symmetric stress, in the whole step; PIC loses it. A spinning jelly block, 2-D and 3-D.
TEST(MPM, AngularMomentumConservedByAPICButNotByPIC) {
  for (int64_t dim : {2, 3}) {
    std::vector<double> L_apic, L_pic, L0;
    for (bool apic : {true, false}) {
      MPMSimulator sim(free_space(dim, dim == 2 ? 32 : 16).apic(apic), mpm_materials({"jelly"}));
      std::vector<double> omega = dim == 2 ? std::vector<double>{6.0} : std::vector<double>{2.0, -3.0, 5.0};
      sim.add_body(MPMBody()
                       .shapes({MPMShape::box(fill(dim, 0.35), fill(dim, 0.65))})
                       .velocity(fill(dim, 0.1))
                       .angular_velocity(omega));
      L0 = sim.angular_momentum();
      for (int s = 0; s < 200; ++s) sim.substep();
      (apic ? L_apic : L_pic) = sim.angular_momentum();
      EXPECT_EQ(sim.clamped_count(), 0);
    }
    EXPECT_LT(max_diff(L_apic, L0), 1e-11 * norm(L0)) << dim << "-D APIC";
    EXPECT_GT(max_diff(L_pic, L0), 1e-2 * norm(L0)) << dim << "-D PIC";
  }
}

// A stress-free body falls rigidly: every particle has the same velocity, and the centre of
// mass follows the symplectic-Euler sequence x_n = x0 + n dt v0 + g dt^2 n(n+1)/2 to rounding,
// i.e. x0 + v0 t + g t^2/2 up to the O(dt) term g t dt/2, until it reaches the floor.
TEST(MPM, RigidFreeFallFollowsBallisticTrajectory) {
  for (int64_t dim : {2, 3}) {
    const double dt = 1e-3, g = -9.8;
    MPMOptions o = MPMOptions(dim).cells({dim == 2 ? 32 : 16}).dt(dt).threads(1);
    MPMSimulator sim(o, {stress_free_material()});
    std::vector<double> v0 = dim == 2 ? std::vector<double>{0.3, 1.0} : std::vector<double>{0.3, 1.0, -0.2};
    std::vector<double> lo = fill(dim, 0.4), hi = fill(dim, 0.6);
    lo[1] = 0.5, hi[1] = 0.7;
    sim.add_body(MPMBody().shapes({MPMShape::box(lo, hi), MPMShape::sphere(fill(dim, 0.5), 0.08)}).velocity(v0));
    const auto x0 = sim.center_of_mass();
    const double floor_y = (3 + 1.5) * sim.dx();  // the stencil reaches the wall band below this
    int64_t n = 0;
    for (;;) {
      const double lowest = sim.particles().positions().select(1, 1).min().item<double>();
      if (lowest + dt * (v0[1] + g * (n + 1) * dt) < floor_y) break;
      sim.substep();
      ++n;
      const double t = n * dt;
      const auto c = sim.center_of_mass();
      for (int a = 0; a < dim; ++a) {
        const double ga = a == 1 ? g : 0.0;
        const double discrete = x0[a] + n * dt * v0[a] + ga * dt * dt * n * (n + 1) / 2;
        const double exact = x0[a] + v0[a] * t + ga * t * t / 2;
        ASSERT_NEAR(c[a], discrete, 1e-12) << dim << "-D axis " << a << " step " << n;
        ASSERT_NEAR(c[a], exact, std::abs(ga) * t * dt / 2 + 1e-12);
      }
      auto v = sim.particles().velocities();
      ASSERT_LT((v - v.mean(0)).abs().max().item<double>(), 1e-12) << "not rigid at step " << n;
    }
    EXPECT_GT(n * dt, 0.3) << "the fall was too short to test anything";
  }
}

// A jelly block released on the floor with F = I settles under its own weight and stays there:
// no sinking through the floor (free fall would cover 14 cells), no sideways drift (the scene
// is symmetric), no energy from nowhere (kinetic energy <= the potential energy released, the
// elastic energy being >= 0 and the walls doing no positive work), an oscillation that does not
// grow, and F near I (the bottom layer carries the weight: static strain rho g H / E ~ 0.02,
// doubled by the sudden release).
TEST(MPM, JellyBlockAtRestOnFloorStaysAtRest) {
  for (int64_t dim : {2, 3}) {
    const int64_t cells = dim == 2 ? 32 : 16;
    MPMOptions o = MPMOptions(dim).cells({cells}).dt(5e-4).threads(1);
    MPMSimulator sim(o, mpm_materials({"jelly"}));
    const double dx = sim.dx(), g = 9.8;
    std::vector<double> lo = fill(dim, 0.3), hi = fill(dim, 0.7);
    lo[1] = 3 * dx, hi[1] = 3 * dx + 0.2;
    sim.add_body(MPMBody().shapes({MPMShape::box(lo, hi)}));
    const auto c0 = sim.center_of_mass();
    const double M = sim.total_mass();
    const int steps = dim == 2 ? 600 : 300;
    double vmax_first = 0, vmax_second = 0, drop = 0, side = 0, energy_excess = -1e300;
    for (int s = 0; s < steps; ++s) {
      sim.substep();
      const auto& P = sim.particles();
      auto v = P.velocities();
      const double vmax = v.norm(2, 1).max().item<double>();
      (s < steps / 2 ? vmax_first : vmax_second) = std::max(s < steps / 2 ? vmax_first : vmax_second, vmax);
      const auto c = sim.center_of_mass();
      drop = std::max(drop, c0[1] - c[1]);
      for (int a = 0; a < dim; ++a)
        if (a != 1) side = std::max(side, std::abs(c[a] - c0[a]));
      const double kinetic = 0.5 * (P.get("mass") * v.pow(2).sum(1)).sum().item<double>();
      energy_excess = std::max(energy_excess, kinetic - M * g * (c0[1] - c[1]));
    }
    double fdev = 0;
    const auto& P = sim.particles();
    for (const auto& F : F3_all(P)) fdev = std::max(fdev, (F - phys::Mat3<double>::Identity()).cwiseAbs().maxCoeff());
    EXPECT_LT(drop, 1.0 * dx) << dim << "-D";
    EXPECT_LT(side, 1e-9) << dim << "-D";
    EXPECT_LE(energy_excess, 1e-3 * M * g * drop) << dim << "-D";
    EXPECT_LT(vmax_second, 1.05 * vmax_first) << dim << "-D";
    EXPECT_LT(fdev, 0.1) << dim << "-D";
    EXPECT_EQ(sim.clamped_count(), 0);
  }
}

// Plasticine (von Mises) and sand (Drucker-Prager) hitting the floor: after every substep every
// particle's Hencky stress lies on or inside the yield surface, and the impact did reach it.
TEST(MPM, ReturnMappingKeepsStressInsideYieldSurface) {
  for (int64_t dim : {2, 3}) {
    for (const std::string name : {"plasticine", "sand"}) {
      MPMOptions o = MPMOptions(dim).cells({dim == 2 ? 32 : 16}).dt(dim == 2 ? 2.5e-4 : 5e-4).threads(1);
      MPMSimulator sim(o, mpm_materials({name}));
      const auto mat = sim.materials()[0];
      const phys::Hencky law(mat.youngs_modulus, mat.poisson_ratio);
      const phys::DruckerPragerReturnMapping dp(mat.youngs_modulus, mat.poisson_ratio, 25);
      std::vector<double> lo = fill(dim, 0.35), hi = fill(dim, 0.6), v = fill(dim, 0.0);
      lo[1] = 0.15, hi[1] = 0.35, v[1] = -3.0;
      sim.add_body(MPMBody().shapes({MPMShape::box(lo, hi)}).velocity(v).material(0));
      double worst = -1e300, reached = 0;
      for (int s = 0; s < 120; ++s) {
        sim.substep();
        for (const auto& F : F3_all(sim.particles())) {
          const phys::Mat3<double> tau = law.kirchhoff(F);
          const phys::Mat3<double> dev = tau - tau.trace() / 3 * phys::Mat3<double>::Identity();
          double f;
          if (name == "plasticine") {
            f = dev.norm() / mat.yield_stress - 1;  // <= 0 inside
            reached = std::max(reached, dev.norm() / mat.yield_stress);
          } else {
            f = (dev.norm() + dp.alpha() * tau.trace()) / mat.youngs_modulus;  // <= 0 inside
            reached = std::max(reached, dev.norm());
          }
          worst = std::max(worst, f);
        }
      }
      EXPECT_LT(worst, 1e-9) << dim << "-D " << name;
      if (name == "plasticine")
        EXPECT_GT(reached, 0.999) << dim << "-D plasticine never yielded";
      else
        EXPECT_GT(reached, 1e3) << dim << "-D sand carried no shear stress";
    }
  }
}

// Sliding along the floor: free slip keeps the tangential velocity, no slip stops the bottom layer.
TEST(MPM, FreeSlipAndNoSlipWalls) {
  for (const std::string bc : {"free_slip", "no_slip"}) {
    MPMOptions o = MPMOptions(2).cells({32}).gravity({0.0, 0.0}).boundary(bc).dt(1e-3).threads(1);
    MPMSimulator sim(o, {stress_free_material()});
    const double dx = sim.dx();
    sim.add_body(MPMBody().shapes({MPMShape::box({0.3, 2.5 * dx}, {0.5, 2.5 * dx + 0.1})}).velocity({1.0, 0.0}));
    for (int s = 0; s < 20; ++s) sim.substep();
    auto v = sim.particles().velocities();
    auto y = sim.particles().positions().select(1, 1);
    auto bottom = y.lt(3 * dx);
    ASSERT_GT(bottom.sum().item<int64_t>(), 0);
    const double vb = v.select(1, 0).masked_select(bottom).max().item<double>();
    if (bc == "free_slip") {
      EXPECT_NEAR((v.select(1, 0) - 1.0).abs().max().item<double>(), 0.0, 1e-12);
      EXPECT_NEAR(v.select(1, 1).abs().max().item<double>(), 0.0, 1e-12);
    } else {
      EXPECT_LT(vb, 0.5);
    }
  }
}

// A particle flying out of a wall-less domain is clamped at L - clamp_cells dx once per substep.
TEST(MPM, ParticlesLeavingTheDomainAreClampedAndCounted) {
  MPMOptions o = MPMOptions(2).cells({10}).gravity({0.0, 0.0}).boundary_cells(0).dt(1e-2).threads(1);
  MPMSimulator sim(o, {stress_free_material()});
  physml::mesh::ParticleSet P(torch::tensor({{0.503, 0.5}, {0.15, 0.15}}, torch::kDouble),
                              torch::tensor({{1.0, 0.0}, {0.0, 0.0}}, torch::kDouble));
  P.set("mass", torch::ones({2}, torch::kDouble));
  P.set("volume", torch::ones({2}, torch::kDouble));
  P.set("material", torch::zeros({2}, torch::kLong));
  P.set("tag", torch::tensor({7, 9}, torch::kInt));
  sim.set_particles(P);
  EXPECT_TRUE(torch::equal(sim.particles().get("tag"), torch::tensor({7, 9}, torch::kInt)));  // kept
  // x_n = 0.503 + 0.01 n exceeds 0.95 first at n = 45; 60 substeps clamp it 16 times.
  for (int s = 0; s < 44; ++s) sim.substep();
  EXPECT_EQ(sim.clamped_count(), 0);
  for (int s = 0; s < 16; ++s) sim.substep();
  EXPECT_EQ(sim.clamped_count(), 16);
  EXPECT_DOUBLE_EQ(sim.particles().positions()[0][0].item<double>(), 0.95);
  EXPECT_NEAR(sim.particles().positions()[0][1].item<double>(), 0.5, 1e-14);
}

// J <= 0 stops the run with an error naming the particle and the substep: an inverted particle,
// and a compression so fast that (1 + dt dv/dx) < 0.
TEST(MPM, NonPositiveJacobianIsANamedError) {
  {
    MPMSimulator sim(free_space(2), mpm_materials({"jelly"}));
    sim.add_body(MPMBody().shapes({MPMShape::box({0.4, 0.4}, {0.6, 0.6})}));
    auto P = sim.particles();
    auto F = P.get("F").clone();
    F[5][1][1] = -1.0;
    P.set("F", F);
    sim.set_particles(P);
    EXPECT_THROW_MSG(sim.substep(), "particle 5 (material 'jelly') at substep 1");
    EXPECT_THROW_MSG(sim.substep(), "J = det F = -");
  }
  {
    MPMSimulator sim(free_space(3, 16), mpm_materials({"sand"}));
    sim.add_body(MPMBody().shapes({MPMShape::box(fill(3, 0.4), fill(3, 0.6))}));
    auto P = sim.particles();
    auto v = torch::zeros_like(P.velocities());
    v.select(1, 0).copy_(-6000.0 * (P.positions().select(1, 0) - 0.5));  // dt dv/dx = -3
    P.set_velocities(v);
    sim.set_particles(P);
    EXPECT_THROW_MSG(sim.substep(), "at substep 1");
  }
}

TEST(MPM, BadInputIsAnError) {
  EXPECT_THROW_MSG(mpm_materials({"jello"}), "unknown NCLaw material 'jello'");
  EXPECT_THROW_MSG(MPMSimulator(MPMOptions(4), mpm_materials({"jelly"})), "dim must be 2 or 3");
  EXPECT_THROW_MSG(MPMSimulator(MPMOptions(2).boundary("sticky"), mpm_materials({"jelly"})), "'sticky'");
  auto bad = phys::nclaw_material("jelly");
  bad.poisson_ratio = 0.5;
  EXPECT_THROW_MSG(MPMSimulator(MPMOptions(2), {bad}), "material 0 ('jelly')");
  MPMSimulator sim(MPMOptions(2).threads(1), mpm_materials({"jelly"}));
  EXPECT_THROW_MSG(sim.add_body(MPMBody().shapes({MPMShape::box({0.4, 0.4}, {0.6, 0.6})}).material(1)),
                   "material index 1 is out of range");
  EXPECT_THROW_MSG(sim.add_body(MPMBody().shapes({MPMShape::box({0.4, 0.4, 0.4}, {0.6, 0.6, 0.6})})), "3 coordinates");
  physml::mesh::ParticleSet P(torch::tensor({{1.5, 0.5}}, torch::kDouble));
  P.set("mass", torch::ones({1}, torch::kDouble));
  P.set("volume", torch::ones({1}, torch::kDouble));
  P.set("material", torch::zeros({1}, torch::kLong));
  EXPECT_THROW_MSG(sim.set_particles(P), "outside the domain");
  EXPECT_THROW_MSG(sim.substep(), "no particles");
}

// A dt that breaks the CFL condition is warned once (elastic wave speed at construction, particle
// speed during the run), not once per substep.
TEST(MPM, CflViolationIsWarnedOnce) {
  testing::internal::CaptureStderr();
  MPMSimulator stiff(MPMOptions(2).cells({16}).dt(0.01).threads(1), mpm_materials({"jelly", "sand"}));
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(stiff.cfl_warned());
  EXPECT_NE(err.find("elastic CFL condition of material 'jelly'"), std::string::npos) << err;
  EXPECT_EQ(err.find("material 'sand'"), std::string::npos) << "warned twice: " << err;

  MPMSimulator fast(free_space(2), {stress_free_material()});
  EXPECT_FALSE(fast.cfl_warned());
  fast.add_body(MPMBody().shapes({MPMShape::box({0.2, 0.4}, {0.3, 0.5})}).velocity({100.0, 0.0}));
  testing::internal::CaptureStderr();
  for (int s = 0; s < 5; ++s) fast.substep();
  err = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(fast.cfl_warned());
  size_t count = 0;
  for (size_t pos = err.find("breaks the CFL condition"); pos != std::string::npos;
       pos = err.find("breaks the CFL condition", pos + 1))
    ++count;
  EXPECT_EQ(count, 1u) << err;
}

// Bit-identical states from two runs with the same thread count (2 threads, per-thread grids),
// and the 1-thread run equal up to the rounding of the grid reduction order.
TEST(MPM, DeterministicForAFixedThreadCount) {
  auto run = [](int64_t threads) {
    auto sim = std::make_unique<MPMSimulator>(MPMOptions(3).cells({16}).threads(threads),
                                              mpm_materials({"jelly", "plasticine", "water"}));
    sim->add_body(MPMBody().shapes({MPMShape::sphere({0.3, 0.4, 0.5}, 0.1)}).material(0).velocity({1, 0, 0}));
    sim->add_body(MPMBody().shapes({MPMShape::box({0.5, 0.3, 0.4}, {0.7, 0.5, 0.6})}).material(1).jitter(0.3));
    sim->add_body(MPMBody().shapes({MPMShape::box({0.3, 0.6, 0.3}, {0.6, 0.7, 0.6})}).material(2));
    for (int s = 0; s < 40; ++s) sim->substep();
    return sim;
  };
  auto a = run(2), b = run(2), c = run(1);
  const auto &A = a->particles(), &B = b->particles(), &Cs = c->particles();
  EXPECT_TRUE(torch::equal(A.positions(), B.positions()));
  EXPECT_TRUE(torch::equal(A.velocities(), B.velocities()));
  for (const char* n : {"C", "F"}) EXPECT_TRUE(torch::equal(A.get(n), B.get(n))) << n;
  EXPECT_LT((A.positions() - Cs.positions()).abs().max().item<double>(), 1e-10);
  EXPECT_LT((A.get("F") - Cs.get("F")).abs().max().item<double>(), 1e-8);
}

// float32 particles run the same kernels (3-D jelly, a few substeps): finite and close to float64.
TEST(MPM, Float32MatchesFloat64) {
  MPMSimulator d(MPMOptions(3).cells({16}).threads(1), mpm_materials({"jelly"}));
  d.add_body(MPMBody().shapes({MPMShape::box(fill(3, 0.3), fill(3, 0.5))}).velocity({0.5, -1, 0}));
  MPMSimulator f(MPMOptions(3).cells({16}).threads(1), mpm_materials({"jelly"}));
  auto P = d.particles();
  physml::mesh::ParticleSet Q(P.positions().to(torch::kFloat), P.velocities().to(torch::kFloat));
  for (const auto& n : P.names()) Q.set(n, P.get(n).is_floating_point() ? P.get(n).to(torch::kFloat) : P.get(n));
  f.set_particles(Q);
  for (int s = 0; s < 20; ++s) {
    d.substep();
    f.substep();
  }
  EXPECT_EQ(f.particles().positions().scalar_type(), torch::kFloat);
  EXPECT_LT((f.particles().positions().to(torch::kDouble) - d.particles().positions()).abs().max().item<double>(),
            1e-5);
}

TEST(MPM, WritesVtpFramesAndPvdSeries) {
  const auto dir = physml::test::scratch_dir();
  MPMSimulator sim(MPMOptions(2).cells({16}).substeps(5).threads(1), mpm_materials({"water"}));
  sim.add_body(MPMBody().shapes({MPMShape::box({0.4, 0.4}, {0.6, 0.6})}));
  MPMFrameWriter out(dir.string(), "drop");
  out.write(sim);
  sim.step();
  const auto last = out.write(sim);
  EXPECT_EQ(sim.substeps_taken(), 5);
  EXPECT_TRUE(std::filesystem::exists(dir / "drop_00000.vtp"));
  EXPECT_TRUE(std::filesystem::exists(last));
  std::ifstream in(dir / "drop.pvd");
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_NE(ss.str().find("drop_00001.vtp"), std::string::npos);
  EXPECT_NE(ss.str().find("timestep=\"0.0025"), std::string::npos) << ss.str();
}

// A non-finite stress stops the run with an error naming the particle and the substep.
TEST(MPM, NonFiniteStressIsANamedError) {
  MPMSimulator sim(free_space(3, 16), mpm_materials({"jelly", "water"}));
  sim.add_body(MPMBody().shapes({MPMShape::box(fill(3, 0.4), fill(3, 0.6))}).material(1));
  auto P = sim.particles();
  auto F = P.get("F").clone();
  F[7][0][0] = std::numeric_limits<double>::quiet_NaN();
  P.set("F", F);
  sim.set_particles(P);
  EXPECT_THROW_MSG(sim.substep(), "particle 7 (material 'water') at substep 1");
  EXPECT_THROW_MSG(sim.substep(), "Kirchhoff stress is not finite");
}
