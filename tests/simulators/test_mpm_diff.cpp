// Differentiable MPM: the stress-given transfer reproduces the fused simulator's substep, and
// gradients through several substeps (hand-written adjoint + LibTorch law) match central finite
// differences in float64, for the initial state, material parameters and NCLaw network weights.
#include "physml/operators/nclaw.hpp"
#include "physml/physics/constitutive_batch.hpp"
#include "physml/simulators/mpm.hpp"
#include "physml/simulators/mpm_diff.hpp"
#include "test_util.hpp"

#include <torch/torch.h>

namespace sim = physml::simulators;

namespace {

/// A jittered box of particles (2 per cell and axis) in the middle of an 8- or 6-cell grid.
std::unique_ptr<sim::MPMSimulator> scene(int dim, const std::string& material, int walls = 0) {
  sim::MPMOptions o(dim);
  o.cells({dim == 2 ? 10 : 6}).dt(dim == 2 ? 2e-4 : 2e-4).boundary_cells(walls).threads(1);
  auto s = std::make_unique<sim::MPMSimulator>(o, sim::mpm_materials({material}));
  std::vector<double> lo(static_cast<size_t>(dim), 0.35), hi(static_cast<size_t>(dim), 0.65);
  std::vector<double> v(static_cast<size_t>(dim), 0.0);
  v[0] = 1.0;
  v[1] = -0.5;
  s->add_body(sim::MPMBody()
                  .shapes({sim::MPMShape::box(lo, hi)})
                  .particles_per_cell_axis(2)
                  .jitter(0.4)
                  .seed(3)
                  .velocity(v)
                  .angular_velocity(dim == 2 ? std::vector<double>{2.0} : std::vector<double>{1.0, 2.0, -1.0}));
  return s;
}

sim::TorchLaw analytic(const physml::physics::Material& m) {
  sim::TorchLaw law;
  law.elastic = [m](const at::Tensor& F) { return physml::physics::batch_kirchhoff(m, F.detach()); };
  if (m.plasticity != physml::physics::PlasticityModel::none)
    law.plastic = [m](const at::Tensor& F) { return physml::physics::batch_project(m, F.detach()); };
  return law;
}

/// Random fixed weights of a linear functional of the final state.
struct Functional {
  at::Tensor wx, wv, wC, wF;
  explicit Functional(const sim::MPMState& s) {
    auto g = at::make_generator<at::CPUGeneratorImpl>(11);
    wx = torch::randn(s.x.sizes(), g, torch::kDouble);
    wv = torch::randn(s.v.sizes(), g, torch::kDouble);
    wC = torch::randn(s.C.sizes(), g, torch::kDouble) * 1e-2;
    wF = torch::randn(s.F.sizes(), g, torch::kDouble);
  }
  at::Tensor operator()(const sim::MPMState& s) const {
    return (wx * s.x).sum() + (wv * s.v).sum() + (wC * s.C).sum() + (wF * s.F).sum();
  }
};

sim::MPMState rollout(const sim::DifferentiableMPM& mpm, sim::MPMState s, const sim::TorchLaw& law, int steps) {
  for (int k = 0; k < steps; ++k) s = mpm.substep(s, law);
  return s;
}

}  // namespace

TEST(MPMDiff, TransferReproducesTheFusedSubstep) {
  for (int dim : {2, 3})
    for (const char* material : {"jelly", "sand"}) {
      auto s = scene(dim, material, 2);
      sim::DifferentiableMPM mpm(s->options(), s->particles());
      auto state = sim::DifferentiableMPM::state_of(s->particles());
      const auto law = analytic(s->materials()[0]);
      for (int k = 0; k < 3; ++k) {
        state = mpm.substep(state, law);
        s->substep();
        const auto& P = s->particles();
        const std::string where = std::to_string(dim) + "-D " + material + " substep " + std::to_string(k + 1);
        EXPECT_TRUE(torch::allclose(state.x, P.positions(), 1e-12, 1e-14)) << where;
        EXPECT_TRUE(torch::allclose(state.v, P.velocities(), 1e-10, 1e-12)) << where;
        EXPECT_TRUE(torch::allclose(state.C, P.get("C"), 1e-9, 1e-9)) << where;
        EXPECT_TRUE(torch::allclose(state.F, P.get("F"), 1e-12, 1e-14)) << where;
        if (dim == 2) {
          EXPECT_TRUE(torch::allclose(state.F_zz, P.get("F_zz"), 1e-12, 1e-14)) << where;
        }
      }
    }
}

TEST(MPMDiff, CountsClampedParticlesAsTheFusedSimulatorDoes) {
  for (int dim : {2, 3}) {
    auto s = scene(dim, "jelly");
    // Thrown at the +x wall fast enough that part of the box crosses the clamp line.
    const auto& P0 = s->particles();
    auto v = P0.velocities().clone();
    v.select(1, 0).fill_(400.0);
    physml::mesh::ParticleSet fast(P0.positions().clone(), v);
    for (const char* k : {"C", "F", "mass", "volume", "material"}) fast.set(k, P0.get(k));
    if (P0.has("F_zz")) fast.set("F_zz", P0.get("F_zz"));
    s->set_particles(std::move(fast));
    sim::DifferentiableMPM mpm(s->options(), s->particles());
    auto state = sim::DifferentiableMPM::state_of(s->particles());
    const auto law = analytic(s->materials()[0]);
    EXPECT_EQ(mpm.clamped_count(), 0);
    for (int k = 0; k < 8; ++k) {  // 0.08 per substep: the box's right half passes x = 1 - dx/2
      state = mpm.substep(state, law);
      s->substep();
    }
    EXPECT_GT(s->clamped_count(), 0) << dim << "-D";
    EXPECT_EQ(mpm.clamped_count(), s->clamped_count()) << dim << "-D";
  }
}

TEST(MPMDiff, GradientsOfStateAndModuliMatchFiniteDifferences) {
  for (int dim : {2, 3}) {
    auto s = scene(dim, "jelly", 0);
    sim::DifferentiableMPM mpm(s->options(), s->particles());
    auto s0 = sim::DifferentiableMPM::state_of(s->particles());
    auto g = at::make_generator<at::CPUGeneratorImpl>(5);
    s0.F = s0.F + 0.02 * torch::randn(s0.F.sizes(), g, torch::kDouble);  // away from the rest state
    s0.C = 0.5 * torch::randn(s0.C.sizes(), g, torch::kDouble);
    const Functional L(s0);
    const int steps = 4;
    auto mu = torch::tensor(4e4, torch::kDouble), lambda = torch::tensor(2e4, torch::kDouble);
    // Autograd.
    auto x = s0.x.clone().requires_grad_(true), v = s0.v.clone().requires_grad_(true),
         C = s0.C.clone().requires_grad_(true), F = s0.F.clone().requires_grad_(true);
    auto mu_g = mu.clone().requires_grad_(true), la_g = lambda.clone().requires_grad_(true);
    sim::MPMState st{x, v, C, F, s0.F_zz};
    L(rollout(mpm, st, sim::neo_hookean_law(mu_g, la_g), steps)).backward();
    // Central differences along random directions of every input.
    auto value = [&](const sim::MPMState& in, const at::Tensor& m, const at::Tensor& l) {
      torch::NoGradGuard ng;
      return L(rollout(mpm, in, sim::neo_hookean_law(m, l), steps)).item<double>();
    };
    struct Dir {
      const char* name;
      at::Tensor grad, dir;
    };
    std::vector<Dir> dirs{{"x", x.grad(), 1e-3 * torch::randn(x.sizes(), g, torch::kDouble)},
                          {"v", v.grad(), torch::randn(v.sizes(), g, torch::kDouble)},
                          {"C", C.grad(), torch::randn(C.sizes(), g, torch::kDouble)},
                          {"F", F.grad(), 1e-2 * torch::randn(F.sizes(), g, torch::kDouble)}};
    for (const auto& d : dirs) {
      const double eps = 1e-5;
      auto shifted = [&](double e) {
        sim::MPMState t = s0;
        if (std::string(d.name) == "x") t.x = s0.x + e * d.dir;
        if (std::string(d.name) == "v") t.v = s0.v + e * d.dir;
        if (std::string(d.name) == "C") t.C = s0.C + e * d.dir;
        if (std::string(d.name) == "F") t.F = s0.F + e * d.dir;
        return value(t, mu, lambda);
      };
      const double fd = (shifted(eps) - shifted(-eps)) / (2 * eps);
      const double ad = (d.grad * d.dir).sum().item<double>();
      EXPECT_NEAR(ad, fd, 1e-6 * std::max(1.0, std::abs(fd))) << dim << "-D, d/d" << d.name;
    }
    const double h = 1.0;  // Pa
    const double fd_mu = (value(s0, mu + h, lambda) - value(s0, mu - h, lambda)) / (2 * h);
    const double fd_la = (value(s0, mu, lambda + h) - value(s0, mu, lambda - h)) / (2 * h);
    EXPECT_NEAR(mu_g.grad().item<double>(), fd_mu, 1e-6 * std::max(1e-6, std::abs(fd_mu))) << dim << "-D, d/dmu";
    EXPECT_NEAR(la_g.grad().item<double>(), fd_la, 1e-6 * std::max(1e-6, std::abs(fd_la))) << dim << "-D, d/dlambda";
  }
}

TEST(MPMDiff, GradientOfNCLawWeightsMatchesFiniteDifferences) {
  auto s = scene(3, "jelly", 0);
  sim::DifferentiableMPM mpm(s->options(), s->particles());
  auto s0 = sim::DifferentiableMPM::state_of(s->particles());
  auto g = at::make_generator<at::CPUGeneratorImpl>(9);
  s0.F = s0.F + 0.05 * torch::randn(s0.F.sizes(), g, torch::kDouble);
  torch::manual_seed(4);
  auto net = std::make_shared<physml::operators::NCLawElasticImpl>();
  net->to(torch::kDouble);
  for (auto& p : net->parameters()) p.data().mul_(30.0);  // a stress scale the motion feels
  const auto law = sim::nclaw_law(net);
  const Functional L(s0);
  L(rollout(mpm, s0, law, 3)).backward();
  std::vector<at::Tensor> dirs;
  double ad = 0;
  for (auto& p : net->parameters()) {
    dirs.push_back(torch::randn(p.sizes(), g, torch::kDouble));
    ad += (p.grad() * dirs.back()).sum().item<double>();
  }
  auto value = [&](double e) {
    torch::NoGradGuard ng;
    auto ps = net->parameters();
    for (size_t i = 0; i < ps.size(); ++i) ps[i].add_(e * dirs[i]);
    const double v = L(rollout(mpm, s0, law, 3)).item<double>();
    for (size_t i = 0; i < ps.size(); ++i) ps[i].sub_(e * dirs[i]);
    return v;
  };
  const double eps = 1e-6, fd = (value(eps) - value(-eps)) / (2 * eps);
  EXPECT_NEAR(ad, fd, 1e-6 * std::max(1.0, std::abs(fd)));
  EXPECT_GT(std::abs(ad), 0.0);
}

TEST(MPMDiff, TwoThreadsGiveTheGradientsOfOne) {
  // The scatter grids are per thread and summed in thread order: the same to rounding.
  std::vector<at::Tensor> grads;
  for (int threads : {1, 2}) {
    auto s = scene(3, "jelly", 2);
    auto o = s->options();
    o.threads(threads);
    sim::DifferentiableMPM mpm(o, s->particles());
    auto st = sim::DifferentiableMPM::state_of(s->particles());
    st.v.requires_grad_(true);
    const auto v0 = st.v;
    const Functional L(st);
    auto mu = torch::tensor(4e4, torch::kDouble), lambda = torch::tensor(2e4, torch::kDouble);
    L(rollout(mpm, st, sim::neo_hookean_law(mu, lambda), 3)).backward();
    grads.push_back(v0.grad().clone());
  }
  EXPECT_TRUE(torch::allclose(grads[0], grads[1], 1e-10, 1e-12));
}

TEST(MPMDiff, BadStateIsRefused) {
  auto s = scene(2, "jelly");
  sim::DifferentiableMPM mpm(s->options(), s->particles());
  auto st = sim::DifferentiableMPM::state_of(s->particles());
  auto bad = st;
  bad.x = bad.x.slice(0, 1);
  EXPECT_THROW_MSG(mpm.substep(bad, analytic(s->materials()[0])), "x has shape");
  sim::TorchLaw nan_law;
  nan_law.elastic = [](const at::Tensor& F) { return torch::full_like(F, std::nan("")); };
  EXPECT_THROW_MSG(mpm.substep(st, nan_law), "Kirchhoff stress of particle 0 is not finite");
}

TEST(MPMDiff, InvertedElementsStopUnlessAllowedThenAreCounted) {
  auto s = scene(2, "jelly");
  sim::DifferentiableMPM mpm(s->options(), s->particles());
  auto st = sim::DifferentiableMPM::state_of(s->particles());
  // v_x = -k (x - 0.5), v_y = 0 with k dt = 3: the G2P velocity gradient is about diag(-k, 0),
  // so F_trial = (I + dt C) F has det about 1 - k dt < 0 in the interior of the block.
  const double k = 3.0 / s->options().dt();
  st.v = torch::zeros_like(st.v);
  st.v.select(1, 0).copy_(-k * (st.x.select(1, 0) - 0.5));
  st.C = torch::zeros_like(st.C);
  st.C.select(1, 0).select(1, 0).fill_(-k);
  sim::TorchLaw zero;
  zero.elastic = [](const at::Tensor& F) { return torch::zeros_like(F); };
  EXPECT_FALSE(mpm.inverted_allowed());
  EXPECT_THROW_MSG(mpm.substep(st, zero), "<= 0 at particle");
  mpm.allow_inverted(true);
  const auto next = mpm.substep(st, zero);
  auto J = torch::linalg::det(next.F) * next.F_zz;
  const auto inverted = (J <= 0).sum().item<std::int64_t>();
  EXPECT_GT(inverted, 0);
  EXPECT_EQ(mpm.inverted_count(), inverted);
  // A non-finite state is an error whatever the policy, and of the recoverable type.
  sim::TorchLaw nan_law;
  nan_law.elastic = [](const at::Tensor& F) { return torch::full_like(F, std::nan("")); };
  EXPECT_THROW(mpm.substep(st, nan_law), physml::NonFiniteError);
}

TEST(MPMDiff, LearnedLawOfATrainedModel) {
  auto both = std::make_shared<physml::operators::NCLawImpl>();
  const auto law = sim::learned_law(both);
  EXPECT_TRUE(law.elastic && law.plastic);
  const auto elastic_only = sim::learned_law(std::make_shared<physml::operators::NCLawElasticImpl>());
  EXPECT_TRUE(elastic_only.elastic && !elastic_only.plastic);
  EXPECT_THROW_MSG(sim::learned_law(std::make_shared<physml::operators::NCLawPlasticImpl>()),
                   "a model of type 'nclaw_plastic' is not a constitutive law");
  // The law keeps the model alive.
  sim::TorchLaw kept;
  {
    auto m = std::make_shared<physml::operators::NCLawImpl>();
    m->to(torch::kDouble);
    kept = sim::learned_law(m);
  }
  const auto F = torch::eye(3, torch::kDouble).expand({2, 3, 3}).contiguous();
  EXPECT_TRUE(torch::equal(kept.plastic(F), F));  // F_new(I) = I exactly
}

TEST(MPMDiff, PerMaterialLawsGiveEachMaterialItsOwnLawAndGradients) {
  // Two Neo-Hookean materials in one body, particles alternating between them: each particle's
  // stress is its material's law, the plastic part applies to its material only, and the
  // gradients of a rollout (both materials coupled through the one grid) with respect to each
  // material's modulus match central differences.
  auto s = scene(3, "jelly", 0);
  sim::DifferentiableMPM mpm(s->options(), s->particles());
  auto s0 = sim::DifferentiableMPM::state_of(s->particles());
  const auto n = s0.x.size(0);
  const auto material = torch::arange(n, torch::kLong).remainder(2);
  auto g = at::make_generator<at::CPUGeneratorImpl>(7);
  s0.F = s0.F + 0.02 * torch::randn(s0.F.sizes(), g, torch::kDouble);
  const auto muA = torch::tensor(4e4, torch::kDouble), muB = torch::tensor(1e4, torch::kDouble);
  const auto la = torch::tensor(2e4, torch::kDouble);
  auto halve = [](const at::Tensor& F) { return 0.5 * F; };
  auto lawB = sim::neo_hookean_law(muB, la);
  lawB.plastic = halve;
  const auto per = sim::per_material_law({sim::neo_hookean_law(muA, la), lawB}, material);
  const auto idxA = torch::nonzero(material == 0).view(-1), idxB = torch::nonzero(material == 1).view(-1);
  {
    torch::NoGradGuard ng;
    const auto tau = per.elastic(s0.F);
    EXPECT_TRUE(torch::equal(tau.index_select(0, idxA), sim::neo_hookean_law(muA, la).elastic(s0.F.index_select(0, idxA))));
    EXPECT_TRUE(torch::equal(tau.index_select(0, idxB), lawB.elastic(s0.F.index_select(0, idxB))));
    ASSERT_TRUE(static_cast<bool>(per.plastic));
    const auto Fp = per.plastic(s0.F);
    EXPECT_TRUE(torch::equal(Fp.index_select(0, idxA), s0.F.index_select(0, idxA)));  // no plasticity: unchanged
    EXPECT_TRUE(torch::equal(Fp.index_select(0, idxB), 0.5 * s0.F.index_select(0, idxB)));
  }
  // Gradients with respect to each material's shear modulus (elastic only).
  const Functional L(s0);
  auto value = [&](const at::Tensor& a, const at::Tensor& b) {
    torch::NoGradGuard ng;
    return L(rollout(mpm, s0, sim::per_material_law({sim::neo_hookean_law(a, la), sim::neo_hookean_law(b, la)}, material), 3))
        .item<double>();
  };
  auto a = muA.clone().requires_grad_(true), b = muB.clone().requires_grad_(true);
  L(rollout(mpm, s0, sim::per_material_law({sim::neo_hookean_law(a, la), sim::neo_hookean_law(b, la)}, material), 3)).backward();
  const double h = 1.0;
  const double fdA = (value(muA + h, muB) - value(muA - h, muB)) / (2 * h);
  const double fdB = (value(muA, muB + h) - value(muA, muB - h)) / (2 * h);
  EXPECT_NEAR(a.grad().item<double>(), fdA, 1e-6 * std::abs(fdA));
  EXPECT_NEAR(b.grad().item<double>(), fdB, 1e-6 * std::abs(fdB));
  EXPECT_GT(std::abs(fdA), 0.0);
  EXPECT_GT(std::abs(fdB), 0.0);
  // Bad input.
  EXPECT_THROW_MSG(sim::per_material_law({}, material), "per_material_law: no law");
  EXPECT_THROW_MSG(sim::per_material_law({sim::neo_hookean_law(muA, la)}, material), "material indices 0..1 but 1 law(s)");
  EXPECT_THROW_MSG(sim::per_material_law({sim::neo_hookean_law(muA, la)}, material.to(torch::kDouble)),
                   "expected integer material indices [N]");
  EXPECT_THROW_MSG(sim::per_material_law({sim::neo_hookean_law(muA, la), sim::TorchLaw{}}, material), "law 1 has no elastic part");
  EXPECT_THROW_MSG(per.elastic(s0.F.slice(0, 0, n - 1)), "deformation gradients for " + std::to_string(n) + " particles");
}

TEST(MPMDiff, CheckpointedRolloutGivesTheGradientsOfTheWholeGraph) {
  // Binomial checkpointing (rollout with checkpoints K >= 1) replays substeps from at most K
  // stored states in the backward pass; the gradients with respect to the initial state and
  // to the listed parameters must be those of the plain autograd rollout, the forward values
  // bit for bit the same, and the clamp and inversion counts those of one forward pass. Laws:
  // NCLaw's elastic and plastic networks (in 2-D F_zz then changes) and an elastic Neo-Hookean
  // law with its moduli as the parameters (in 2-D F_zz passes through unchanged). The body
  // moves fast toward the +x wall, so that particles get clamped.
  for (int dim : {2, 3})
    for (const std::string kind : {"nclaw", "neo_hookean"}) {
      auto s = scene(dim, "jelly", 0);
      sim::DifferentiableMPM mpm(s->options(), s->particles());
      mpm.allow_inverted(true);
      auto s0 = sim::DifferentiableMPM::state_of(s->particles());
      auto g = at::make_generator<at::CPUGeneratorImpl>(5);
      s0.F = s0.F + 0.05 * torch::randn(s0.F.sizes(), g, torch::kDouble);
      const double limit = 1.0 - s->options().clamp_cells() / static_cast<double>(s->options().cells()[0]);
      s0.x.select(1, 0).add_(limit - 0.02 - s0.x.select(1, 0).max().item<double>());
      s0.v.select(1, 0).add_(40.0);  // 0.048 m in 6 substeps: past the clamp limit
      torch::manual_seed(2);
      auto net = std::make_shared<physml::operators::NCLawImpl>();
      net->to(torch::kDouble);
      for (auto& p : net->elastic()->parameters()) p.data().mul_(30.0);  // a stress scale the motion feels
      auto mu = torch::tensor(4e4, torch::kDouble).requires_grad_(true);
      auto lambda = torch::tensor(2e4, torch::kDouble).requires_grad_(true);
      const auto law = kind == "nclaw" ? sim::learned_law(net) : sim::neo_hookean_law(mu, lambda);
      const auto params = kind == "nclaw" ? net->parameters() : std::vector<at::Tensor>{mu, lambda};
      const std::int64_t frames = 3, per_frame = 2;
      const Functional L(s0);
      const auto wp = torch::randn({frames, s0.x.size(0), dim}, g, torch::kDouble);
      const auto wzz = dim == 2 ? torch::randn({s0.x.size(0)}, g, torch::kDouble) : at::Tensor();
      struct Result {
        at::Tensor positions, gv, gF, gzz;
        std::vector<at::Tensor> gp;
        std::int64_t stored = 0, clamped = 0, inverted = 0;
      };
      auto run = [&](std::int64_t K) {
        for (auto p : params) p.mutable_grad() = at::Tensor();
        auto st = s0;
        st.v = s0.v.clone().requires_grad_(true);
        st.F = s0.F.clone().requires_grad_(true);
        if (dim == 2) st.F_zz = s0.F_zz.clone().requires_grad_(true);
        const auto c0 = mpm.clamped_count(), i0 = mpm.inverted_count();
        const auto r = mpm.rollout(st, law, frames, sim::MPMRolloutOptions().substeps_per_frame(per_frame).checkpoints(K),
                                   params);
        auto loss = (wp * r.positions).sum() + L(r.last);
        if (dim == 2) loss = loss + (wzz * r.last.F_zz).sum();
        loss.backward();
        Result out{r.positions.detach(), st.v.grad(), st.F.grad(), dim == 2 ? st.F_zz.grad() : at::Tensor(), {},
                   *r.stored_states_max, mpm.clamped_count() - c0, mpm.inverted_count() - i0};
        for (const auto& p : params) out.gp.push_back(p.grad().clone());
        return out;
      };
      const std::string what = std::to_string(dim) + "-D " + kind;
      const auto ref = run(0);
      ASSERT_TRUE(ref.gv.defined() && ref.gF.defined()) << what;
      EXPECT_GT(ref.gv.abs().max().item<double>(), 0.0) << what;
      EXPECT_GT(ref.clamped, 0) << what;
      for (const auto& gp : ref.gp) EXPECT_GT(gp.abs().max().item<double>(), 0.0) << what;
      for (std::int64_t K : {1, 2, 3, 64}) {
        const std::string where = what + ", " + std::to_string(K) + " checkpoint(s)";
        const auto c = run(K);
        EXPECT_TRUE(torch::equal(c.positions, ref.positions)) << where;
        EXPECT_TRUE(torch::allclose(c.gv, ref.gv, 1e-10, 1e-13)) << where;
        EXPECT_TRUE(torch::allclose(c.gF, ref.gF, 1e-10, 1e-13)) << where;
        if (dim == 2) {
          ASSERT_TRUE(c.gzz.defined()) << where;
          EXPECT_TRUE(torch::allclose(c.gzz, ref.gzz, 1e-10, 1e-13)) << where;
        }
        ASSERT_EQ(c.gp.size(), ref.gp.size());
        for (size_t q = 0; q < c.gp.size(); ++q)
          EXPECT_TRUE(torch::allclose(c.gp[q], ref.gp[q], 1e-10, 1e-13)) << where << ", parameter " << q;
        EXPECT_GE(c.stored, 1) << where;
        EXPECT_LE(c.stored, K) << where;
        EXPECT_EQ(c.clamped, ref.clamped) << where;
        EXPECT_EQ(c.inverted, ref.inverted) << where;
      }
      EXPECT_EQ(run(2).stored, 2) << what;  // 6 substeps with 2 slots: the initial state and one more
    }
  // A parameter changed in place between the forward and the backward pass is refused there.
  auto s = scene(3, "jelly", 0);
  sim::DifferentiableMPM mpm(s->options(), s->particles());
  auto mu = torch::tensor(4e4, torch::kDouble).requires_grad_(true), lambda = torch::tensor(2e4, torch::kDouble);
  auto st = sim::DifferentiableMPM::state_of(s->particles());
  const auto r = mpm.rollout(st, sim::neo_hookean_law(mu, lambda), 2, sim::MPMRolloutOptions().checkpoints(2), {mu});
  {
    torch::NoGradGuard ng;
    mu.add_(1.0);
  }
  EXPECT_THROW_MSG(r.positions.sum().backward(), "parameter 0 was changed in place after the forward pass");
}

TEST(MPMDiff, RolloutRefusesBadArguments) {
  auto s = scene(3, "jelly");
  sim::DifferentiableMPM mpm(s->options(), s->particles());
  const auto st = sim::DifferentiableMPM::state_of(s->particles());
  const auto law = analytic(s->materials()[0]);
  EXPECT_THROW_MSG(mpm.rollout(st, law, 0), "0 frames; expected >= 1");
  EXPECT_THROW_MSG(mpm.rollout(st, law, 2, sim::MPMRolloutOptions().substeps_per_frame(0)), "0 substeps per frame");
  EXPECT_THROW_MSG(mpm.rollout(st, law, 2, sim::MPMRolloutOptions().checkpoints(-1)), "-1 checkpoints; expected 0");
  // Without a gradient to take, a checkpointed rollout is the plain loop.
  const auto a = mpm.rollout(st, law, 2, sim::MPMRolloutOptions().substeps_per_frame(2).checkpoints(2));
  EXPECT_TRUE(torch::equal(a.positions[1], rollout(mpm, st, law, 4).x));
  EXPECT_EQ(a.positions.size(0), 2);
}
