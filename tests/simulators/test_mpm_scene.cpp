// MPM scenes from options and simulate(): the default scene is NCLaw's training cube, the
// trajectory holds exactly the simulator's states, and an interrupted run resumes bit for bit.
#include "physml/core/interrupt.hpp"
#include "physml/core/options.hpp"
#include "physml/io/trajectory.hpp"
#include "physml/operators/checkpoint.hpp"
#include "physml/operators/nclaw.hpp"
#include "physml/simulators/mpm_diff.hpp"
#include "physml/simulators/mpm_scene.hpp"
#include "test_util.hpp"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <csignal>
#include <filesystem>

namespace sim = physml::simulators;
using physml::Options;

namespace {

using Database = physml::test::OptionsDatabase;

/// A small 2-D two-material scene: sand box and jelly ball on a 16^2 grid.
sim::MPMScene small_scene(Database& d) {
  d.set("-mpm_dim", "2");
  d.set("-mpm_cells", "16");
  d.set("-mpm_dt", "1e-3");
  d.set("-mpm_substeps", "2");
  d.set("-mpm_threads", "1");
  d.set("-bodies", "2");
  d.set("-body0_material", "sand");
  d.set("-body0_lower", "0.25,0.25");
  d.set("-body0_upper", "0.5,0.5");
  d.set("-body1_material", "jelly");
  d.set("-body1_shape", "sphere");
  d.set("-body1_center", "0.7,0.6");
  d.set("-body1_radius", "0.12");
  d.set("-body1_particles_per_cell_axis", "2");
  return sim::MPMScene().set_from_options(Options("", d.db));
}

sim::SimulateOptions quiet(const std::filesystem::path& p, int frames) {
  return sim::SimulateOptions().output(p.string()).frames(frames).dtype("float64").progress(false);
}

}  // namespace

TEST(MPMScene, DefaultIsNCLawsTrainingCube) {
  Database d;
  auto scene = sim::MPMScene().set_from_options(Options("", d.db));
  auto s = scene.build();
  const auto& P = s->particles();
  EXPECT_EQ(P.size(), 1000);  // 10 x 10 x 10 lattice in the cube of side 0.5
  auto lo = std::get<0>(P.positions().min(0)), hi = std::get<0>(P.positions().max(0));
  EXPECT_TRUE(torch::allclose(lo, torch::full({3}, 0.275, torch::kDouble)));
  EXPECT_TRUE(torch::allclose(hi, torch::full({3}, 0.725, torch::kDouble)));
  // v = (1, -1.5, -2) + (4, 4, 4) x (x - c): the mean is the linear part.
  EXPECT_TRUE(torch::allclose(P.velocities().mean(0), torch::tensor({1.0, -1.5, -2.0}, torch::kDouble), 1e-12, 1e-12));
  EXPECT_EQ(scene.materials(), (std::vector<std::string>{"jelly"}));
  EXPECT_DOUBLE_EQ(s->dx(), 0.05);
  const auto p = nlohmann::json::parse(scene.parameters_json());
  EXPECT_EQ(p.at("mpm_dim"), 3);
  EXPECT_EQ(p.at("body0_material"), "jelly");
}

TEST(MPMScene, BadOptionsNameTheKey) {
  Database d;
  d.set("-body0_material", "honey");
  EXPECT_THROW_MSG(sim::MPMScene().set_from_options(Options("", d.db)),
                   "option -body0_material: unknown value 'honey'; expected one of: jelly, plasticine, sand, water");
  Database e;
  e.set("-mpm_dim", "2");
  e.set("-body0_lower", "0.1,0.1,0.1");
  e.set("-body0_upper", "0.5,0.5,0.5");
  auto scene = sim::MPMScene().set_from_options(Options("", e.db));
  EXPECT_THROW_MSG(scene.build(), "body 0 (-body0_*): the shape has 3 coordinates, the scene is 2-D");
}

TEST(Simulate, TrajectoryHoldsTheSimulatorStatesFrameByFrame) {
  const auto dir = physml::test::scratch_dir();
  Database d;
  auto scene = small_scene(d);
  const auto r = sim::simulate(scene, quiet(dir / "t.h5", 4));
  EXPECT_EQ(r.status, sim::SimulateResult::Status::complete);
  EXPECT_EQ(r.frames_written, 5);
  auto reader = physml::io::TrajectoryReader::open((dir / "t.h5").string());
  EXPECT_EQ(reader.info().frames, 5);
  EXPECT_DOUBLE_EQ(reader.info().frame_dt, 2e-3);
  EXPECT_EQ(reader.info().fields.count("F_zz"), 1u);
  // The same scene stepped by hand: frame k is the state after k steps.
  auto s = scene.build();
  EXPECT_TRUE(torch::equal(reader.particle("material"), s->particles().get("material")));
  for (int k = 0; k < 5; ++k) {
    if (k > 0) s->step();
    EXPECT_TRUE(torch::equal(reader.read("positions", k, k + 1)[0], s->particles().positions())) << "frame " << k;
    EXPECT_TRUE(torch::equal(reader.read("F", k, k + 1)[0], s->particles().get("F"))) << "frame " << k;
  }
  // Mass: density 1e3 kg/m^3 times the lattice area of each particle (plane strain, kg/m).
  EXPECT_NEAR(reader.particle("mass").sum().item<double>(), s->total_mass(), 1e-12);
}

TEST(Simulate, InterruptedRunResumesBitForBit) {
  const auto dir = physml::test::scratch_dir();
  Database d;
  auto scene = small_scene(d);
  const auto r1 = sim::simulate(scene, quiet(dir / "a.h5", 6).test_interrupt_after(3));
  EXPECT_EQ(r1.status, sim::SimulateResult::Status::interrupted);
  EXPECT_EQ(r1.signal, SIGINT);
  EXPECT_TRUE(std::filesystem::exists(dir / "a.h5.partial"));
  EXPECT_FALSE(std::filesystem::exists(dir / "a.h5"));
  const auto r2 = sim::simulate(scene, quiet(dir / "a.h5", 6));
  EXPECT_EQ(r2.status, sim::SimulateResult::Status::complete);
  EXPECT_EQ(r2.frames_written, 4);  // frames 3..6
  sim::simulate(scene, quiet(dir / "ref.h5", 6));
  auto a = physml::io::TrajectoryReader::open((dir / "a.h5").string());
  auto b = physml::io::TrajectoryReader::open((dir / "ref.h5").string());
  for (const auto& [name, shape] : b.info().fields)
    EXPECT_TRUE(torch::equal(a.read(name, 0, 7), b.read(name, 0, 7))) << name;
  EXPECT_TRUE(torch::equal(a.times(), b.times()));
  EXPECT_EQ(sim::simulate(scene, quiet(dir / "a.h5", 6)).status, sim::SimulateResult::Status::already_complete);
  EXPECT_THROW_MSG(sim::simulate(scene, quiet(dir / "a.h5", 8)), "frames: 7 in the file, 9 requested");
}

TEST(Simulate, ATrainedLawReplacesTheAnalyticOne) {
  const auto dir = physml::test::scratch_dir();
  Database d;
  d.set("-mpm_dim", "2");
  d.set("-mpm_cells", "16");
  d.set("-mpm_substeps", "2");
  d.set("-mpm_threads", "1");
  d.set("-body0_lower", "0.3,0.3");
  d.set("-body0_upper", "0.6,0.6");
  auto scene = sim::MPMScene().set_from_options(Options("", d.db));
  torch::manual_seed(2);
  auto net = std::make_shared<physml::operators::NCLawElasticImpl>();
  net->to(torch::kDouble);
  for (auto& p : net->parameters()) p.data().mul_(20.0);
  physml::operators::save((dir / "law.h5").string(), *net);
  sim::simulate(scene, quiet(dir / "t.h5", 3).law((dir / "law.h5").string()));
  auto r = physml::io::TrajectoryReader::open((dir / "t.h5").string());
  EXPECT_EQ(nlohmann::json::parse(r.info().parameters_json).at("law"), (dir / "law.h5").string());
  // The same rollout by hand through the differentiable simulator with that network.
  auto s = scene.build();
  sim::DifferentiableMPM mpm(scene.simulator, s->particles());
  auto st = sim::DifferentiableMPM::state_of(s->particles());
  const auto law = sim::nclaw_law(net);
  torch::NoGradGuard ng;
  for (int k = 0; k < 6; ++k) st = mpm.substep(st, law);
  EXPECT_TRUE(torch::allclose(r.read("positions", 3, 4)[0], st.x, 1e-12, 1e-14));
  // ... and it differs from the analytic jelly's trajectory.
  sim::simulate(scene, quiet(dir / "analytic.h5", 3));
  auto a = physml::io::TrajectoryReader::open((dir / "analytic.h5").string());
  EXPECT_FALSE(torch::allclose(a.read("positions", 3, 4)[0], st.x, 1e-9, 1e-9));
  EXPECT_THROW_MSG(sim::simulate(scene, quiet(dir / "bad.h5", 1).law((dir / "t.h5").string())), "is not a PhysML model");
}

// -law_allow_inverted: a law without stiffness (the unconstrained network with zero weights:
// zero stress) lets a block thrown at the floor (faster than a cell per substep) invert elements. simulate()
// stops there with the particle named, unless inversions are allowed; then it runs to the end
// and counts them, and the file records the setting.
TEST(Simulate, ALawThatInvertsElementsStopsUnlessInversionsAreAllowed) {
  const auto dir = physml::test::scratch_dir();
  Database d;
  d.set("-mpm_dim", "2");
  d.set("-mpm_cells", "16");
  d.set("-mpm_substeps", "2");
  d.set("-mpm_threads", "1");
  d.set("-body0_lower", "0.3,0.15");
  d.set("-body0_upper", "0.6,0.45");
  d.set("-body0_velocity", "0,-300");  // dt dv/dy ~ -1 at the floor: F_trial = (I + dt C) F inverts
  auto scene = sim::MPMScene().set_from_options(Options("", d.db));
  auto net = std::make_shared<physml::operators::NCLawUnconstrainedImpl>();
  for (auto& p : net->parameters()) p.data().zero_();
  physml::operators::save((dir / "soft.h5").string(), *net);
  const auto law = (dir / "soft.h5").string();
  EXPECT_THROW_MSG(sim::simulate(scene, quiet(dir / "stop.h5", 60).law(law)), "<= 0 at particle");
  const auto r = sim::simulate(scene, quiet(dir / "go.h5", 60).law(law).law_allow_inverted(true));
  EXPECT_EQ(r.status, sim::SimulateResult::Status::complete);
  EXPECT_GT(r.inverted, 0);
  auto t = physml::io::TrajectoryReader::open((dir / "go.h5").string());
  EXPECT_EQ(t.info().frames, 61);
  EXPECT_TRUE(torch::isfinite(t.read("positions", 60, 61)).all().item<bool>());
  EXPECT_EQ(nlohmann::json::parse(t.info().parameters_json).at("law_allow_inverted"), true);
  EXPECT_THROW_MSG(sim::simulate(scene, quiet(dir / "none.h5", 1).law_allow_inverted(true)), "set -law FILE.h5 too");
}
