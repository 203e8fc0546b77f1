// MPM scenes from options and simulate(): the default scene is NCLaw's training cube, the
// trajectory holds exactly the simulator's states, and an interrupted run resumes bit for bit.
#include "physml/core/interrupt.hpp"
#include "physml/core/options.hpp"
#include "physml/io/trajectory.hpp"
#include "physml/mesh/sampling.hpp"
#include "physml/operators/checkpoint.hpp"
#include "physml/operators/giorom.hpp"
#include "physml/operators/gns.hpp"
#include "physml/operators/nclaw.hpp"
#include "physml/simulators/mpm_diff.hpp"
#include "physml/simulators/mpm_scene.hpp"
#include "physml/simulators/particle_rollout.hpp"
#include "test_util.hpp"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <csignal>
#include <filesystem>
#include <fstream>

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

TEST(MPMScene, TorusAndMeshBodiesFillTheirVolume) {
  // A flat torus (R = 0.25, r = 0.08) and a 2-D ring on fine lattices: the particle count
  // times the lattice cell volume is the exact volume 2 pi^2 R r^2 (area 4 pi R r) to the
  // lattice's resolution, and every particle is inside.
  for (int dim : {2, 3}) {
    Database d;
    d.set("-mpm_dim", dim == 3 ? "3" : "2");
    d.set("-mpm_cells", "40");
    d.set("-body0_shape", "torus");
    d.set("-body0_center", dim == 3 ? "0.5,0.5,0.5" : "0.5,0.5");
    d.set("-body0_radius", "0.25");
    d.set("-body0_minor_radius", "0.08");
    d.set("-body0_particles_per_cell_axis", "2");
    auto scene = sim::MPMScene().set_from_options(Options("", d.db));
    auto s = scene.build();
    const auto x = s->particles().positions();
    const double h = 1.0 / 80.0;
    const double exact = dim == 3 ? 2 * M_PI * M_PI * 0.25 * 0.08 * 0.08 : 4 * M_PI * 0.25 * 0.08;
    const double measured = static_cast<double>(x.size(0)) * std::pow(h, dim);
    EXPECT_NEAR(measured, exact, 0.03 * exact) << dim << "-D: " << x.size(0) << " particles";
    const auto c = x - 0.5;
    const auto inside = dim == 3 ? (torch::sqrt(c.select(1, 0).pow(2) + c.select(1, 2).pow(2)) - 0.25).pow(2) +
                                       c.select(1, 1).pow(2) <= 0.08 * 0.08 + 1e-12
                                 : (c.pow(2).sum(1).sqrt() - 0.25).abs() <= 0.08 + 1e-12;
    EXPECT_TRUE(inside.all().item<bool>()) << dim << "-D";
  }
  // A closed surface from an OBJ file: the unit cube scaled to 0.4 and moved to [0.3, 0.7]^3
  // holds exactly the lattice points of the box [0.3, 0.7]^3 (none lies on its faces).
  const auto dir = physml::test::scratch_dir();
  std::ofstream(dir / "cube.obj") << "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 0 0 1\nv 1 0 1\nv 1 1 1\nv 0 1 1\n"
                                     "f 1 4 3 2\nf 5 6 7 8\nf 1 2 6 5\nf 2 3 7 6\nf 3 4 8 7\nf 8 4 1 5\n";
  Database m, b;
  m.set("-body0_shape", "mesh");
  m.set("-body0_mesh", (dir / "cube.obj").string().c_str());
  m.set("-body0_mesh_scale", "0.4");
  m.set("-body0_mesh_offset", "0.3,0.3,0.3");
  b.set("-body0_lower", "0.3,0.3,0.3");
  b.set("-body0_upper", "0.7,0.7,0.7");
  const auto from_mesh = sim::MPMScene().set_from_options(Options("", m.db)).build();
  const auto from_box = sim::MPMScene().set_from_options(Options("", b.db)).build();
  EXPECT_EQ(from_mesh->particles().size(), 512);  // 8^3 lattice points (spacing 0.05)
  EXPECT_TRUE(torch::equal(from_mesh->particles().positions(), from_box->particles().positions()));
  // Bad input: no file, a 2-D scene, a torus whose tube is wider than its ring.
  Database none, flat, fat;
  none.set("-body0_shape", "mesh");
  EXPECT_THROW_MSG(sim::MPMScene().set_from_options(Options("", none.db)).build(), "-shape mesh needs -mesh FILE");
  flat.set("-mpm_dim", "2");
  flat.set("-body0_shape", "mesh");
  flat.set("-body0_mesh", (dir / "cube.obj").string().c_str());
  EXPECT_THROW_MSG(sim::MPMScene().set_from_options(Options("", flat.db)).build(), "surface meshes are 3-D, the scene is 2-D");
  fat.set("-body0_shape", "torus");
  fat.set("-body0_minor_radius", "0.3");
  EXPECT_THROW_MSG(sim::MPMScene().set_from_options(Options("", fat.db)).build(),
                   "body 0 (-body0_*): MPMShape::torus: expected 0 < minor radius < major radius");
}

TEST(MPMScene, ABodyOfSeveralPartsIsTheirUnion) {
  // -body0_parts 3: the body's own box, a second box overlapping it in one lattice point, and a
  // disc; one lattice (dx = 0.1, one point per cell at (k + 1/2) dx) over the union, so the
  // count is 9 + 6 - 1 + 5 (a disc of radius 0.12 around (0.25, 0.75) holds its centre lattice
  // point and its four neighbours at distance 0.1), and no point is twice in the body.
  Database d;
  d.set("-mpm_dim", "2");
  d.set("-mpm_cells", "10");
  d.set("-body0_lower", "0.2,0.2");
  d.set("-body0_upper", "0.5,0.5");
  d.set("-body0_parts", "3");
  d.set("-body0_part1_lower", "0.4,0.4");
  d.set("-body0_part1_upper", "0.7,0.6");
  d.set("-body0_part2_shape", "sphere");
  d.set("-body0_part2_center", "0.25,0.75");
  d.set("-body0_part2_radius", "0.12");
  auto scene = sim::MPMScene().set_from_options(Options("", d.db));
  ASSERT_EQ(scene.bodies[0].parts().size(), 2u);
  EXPECT_EQ(scene.bodies[0].parts()[1].shape(), "sphere");
  const auto s = scene.build();
  const auto x = s->particles().positions();
  EXPECT_EQ(x.size(0), 9 + 6 - 1 + 5);
  const auto key = torch::round(x * 20.0).to(torch::kLong);  // 2 (k + 1/2): distinct lattice points
  EXPECT_EQ(std::get<0>(torch::unique_dim(key, 0)).size(0), x.size(0));
  EXPECT_TRUE(scene.parameters_json().find("body0_part2_radius") != std::string::npos);
  // A bad part names the body and the part.
  Database bad;
  bad.set("-mpm_dim", "2");
  bad.set("-body0_parts", "2");
  bad.set("-body0_part1_shape", "mesh");
  bad.set("-body0_part1_mesh", "x.obj");
  EXPECT_THROW_MSG(sim::MPMScene().set_from_options(Options("", bad.db)).build(),
                   "body 0 (-body0_*): part 1 (-part1_*): -shape mesh: surface meshes are 3-D, the scene is 2-D");
  Database zero;
  zero.set("-body0_parts", "0");
  EXPECT_THROW_MSG(sim::MPMScene().set_from_options(Options("", zero.db)), "parts");
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

TEST(Simulate, ALawPerMaterialRunsEachBodyWithItsOwnLaw) {
  // The two-material scene (sand box, jelly ball) with a trained law per material (-law_sand,
  // -law_jelly): equal to a hand-written rollout of per_material_law with the two networks.
  const auto dir = physml::test::scratch_dir();
  Database d;
  auto scene = small_scene(d);
  ASSERT_EQ(scene.materials(), (std::vector<std::string>{"sand", "jelly"}));
  std::vector<std::shared_ptr<physml::operators::NCLawElasticImpl>> nets;
  for (int k = 0; k < 2; ++k) {
    torch::manual_seed(10 + k);
    nets.push_back(std::make_shared<physml::operators::NCLawElasticImpl>());
    nets.back()->to(torch::kDouble);
    for (auto& p : nets.back()->parameters()) p.data().mul_(10.0 + 10.0 * k);
    physml::operators::save((dir / ("law" + std::to_string(k) + ".h5")).string(), *nets.back());
  }
  const sim::SimulateOptions::MaterialLaws laws{{"sand", (dir / "law0.h5").string()}, {"jelly", (dir / "law1.h5").string()}};
  sim::simulate(scene, quiet(dir / "t.h5", 3).material_laws(laws));
  auto r = physml::io::TrajectoryReader::open((dir / "t.h5").string());
  const auto p = nlohmann::json::parse(r.info().parameters_json);
  EXPECT_EQ(p.at("law_sand"), (dir / "law0.h5").string());
  EXPECT_EQ(p.at("law_jelly"), (dir / "law1.h5").string());
  auto s = scene.build();
  sim::DifferentiableMPM mpm(scene.simulator, s->particles());
  auto st = sim::DifferentiableMPM::state_of(s->particles());
  const auto law = sim::per_material_law({sim::nclaw_law(nets[0]), sim::nclaw_law(nets[1])}, s->particles().get("material"));
  torch::NoGradGuard ng;
  for (int k = 0; k < 6; ++k) st = mpm.substep(st, law);
  EXPECT_TRUE(torch::allclose(r.read("positions", 3, 4)[0], st.x, 1e-12, 1e-14));
  // ... which is not the rollout with one of the laws for both.
  sim::simulate(scene, quiet(dir / "one.h5", 3).law((dir / "law0.h5").string()));
  EXPECT_FALSE(torch::allclose(physml::io::TrajectoryReader::open((dir / "one.h5").string()).read("positions", 3, 4)[0],
                               st.x, 1e-9, 1e-9));
  // Every material needs a law, only the scene's materials may have one, and -law excludes them.
  EXPECT_THROW_MSG(sim::simulate(scene, quiet(dir / "bad.h5", 1).material_laws({{"sand", (dir / "law0.h5").string()}})),
                   "-law_jelly: the scene has jelly bodies but no law for them");
  auto extra = laws;
  extra["water"] = (dir / "law0.h5").string();
  EXPECT_THROW_MSG(sim::simulate(scene, quiet(dir / "bad.h5", 1).material_laws(extra)),
                   "the scene has no water body (it has: sand, jelly)");
  EXPECT_THROW_MSG(sim::simulate(scene, quiet(dir / "bad.h5", 1).material_laws(laws).law((dir / "law0.h5").string())),
                   "exclude each other");
  EXPECT_FALSE(std::filesystem::exists(dir / "bad.h5.partial"));
  // The options: -law_<material> for each of the four materials.
  Database o;
  o.set("-law_jelly", "a.h5");
  o.set("-law_water", "b.h5");
  const auto read = sim::SimulateOptions().set_from_options(Options("", o.db)).material_laws();
  EXPECT_EQ(read, (sim::SimulateOptions::MaterialLaws{{"jelly", "a.h5"}, {"water", "b.h5"}}));
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
  EXPECT_THROW_MSG(sim::simulate(scene, quiet(dir / "none.h5", 1).law_allow_inverted(true)), "set -law FILE.h5 (or -law_<material>) too");
}

TEST(Ensemble, MemberFilesAreNumberedWithTheDigitsOfTheCount) {
  EXPECT_EQ(sim::ensemble_file("d/jelly.h5", 3, 20), "d/jelly_03.h5");
  EXPECT_EQ(sim::ensemble_file("d/jelly.h5", 19, 20), "d/jelly_19.h5");
  EXPECT_EQ(sim::ensemble_file("jelly.h5", 7, 10), "jelly_7.h5");
  EXPECT_EQ(sim::ensemble_file("d/jelly.h5", 42, 101), "d/jelly_042.h5");
  EXPECT_THROW_MSG(sim::ensemble_file("", 0, 2), "no output file");
}

TEST(Ensemble, MembersGetSeededInitialMotionsWithinTheSpread) {
  Database d;
  auto scene = small_scene(d);  // sand box (velocity (1, -1.5) by default) and jelly ball
  auto e = sim::EnsembleOptions().trajectories(5).velocity_spread(0.5).angular_velocity_spread(2).seed(3);
  std::vector<std::vector<double>> seen;
  for (std::int64_t k = 0; k < 5; ++k) {
    const auto m = sim::ensemble_member(scene, e, k);
    ASSERT_EQ(m.bodies.size(), 2u);
    for (size_t b = 0; b < 2; ++b) {
      const auto &v0 = scene.bodies[b].velocity(), &v = m.bodies[b].velocity();
      const auto &w0 = scene.bodies[b].angular_velocity(), &w = m.bodies[b].angular_velocity();
      ASSERT_EQ(v.size(), 2u);
      ASSERT_EQ(w.size(), 1u);
      for (size_t j = 0; j < 2; ++j) EXPECT_LE(std::abs(v[j] - v0[j]), 0.5) << "member " << k << " body " << b;
      EXPECT_LE(std::abs(w[0] - w0[0]), 2.0);
      seen.push_back({v[0], v[1], w[0]});
    }
    // The same draws again (no hidden state), and the built particles move with them: the
    // sand box (material 0, no rotation about anything but its centroid) has mean velocity v.
    EXPECT_EQ(sim::ensemble_member(scene, e, k).bodies[0].velocity(), m.bodies[0].velocity());
    auto s = m.build();
    const auto& P = s->particles();
    auto sand = P.get("material").reshape({-1}) == 0;
    auto mean = P.velocities().index({sand}).mean(0);
    EXPECT_NEAR(mean[0].item<double>(), m.bodies[0].velocity()[0], 1e-12);
    EXPECT_NEAR(mean[1].item<double>(), m.bodies[0].velocity()[1], 1e-12);
    const auto p = nlohmann::json::parse(m.parameters_json());
    EXPECT_EQ(p.at("ensemble_member"), k);
    // Recorded as the option text "vx,vy", exactly (17 significant digits).
    const auto recorded = p.at("body0_velocity").get<std::string>();
    const auto comma = recorded.find(',');
    ASSERT_NE(comma, std::string::npos) << recorded;
    EXPECT_EQ(std::stod(recorded.substr(0, comma)), m.bodies[0].velocity()[0]);
    EXPECT_EQ(std::stod(recorded.substr(comma + 1)), m.bodies[0].velocity()[1]);
  }
  // Ten draws of (vx, vy, w): all different, and they fill the spread (not all near its centre).
  for (size_t a = 0; a < seen.size(); ++a)
    for (size_t b = a + 1; b < seen.size(); ++b) EXPECT_NE(seen[a], seen[b]);
  double widest = 0;
  for (size_t a = 0; a < seen.size(); ++a)
    widest = std::max(widest, std::abs(seen[a][0] - scene.bodies[a % 2].velocity()[0]));
  EXPECT_GT(widest, 0.25);
  // Another seed, other draws; no spread, the scene's own motion.
  EXPECT_NE(sim::ensemble_member(scene, e.seed(4), 0).bodies[0].velocity(),
            sim::ensemble_member(scene, e.seed(3), 0).bodies[0].velocity());
  auto still = sim::ensemble_member(scene, sim::EnsembleOptions().trajectories(2), 1);
  EXPECT_EQ(still.bodies[1].velocity(), scene.bodies[1].velocity());
  EXPECT_THROW_MSG(sim::ensemble_member(scene, e, 5), "ensemble member 5: expected 0 <= k < 5");
}

TEST(Ensemble, SimulatesEveryMemberIntoItsOwnResumableFile) {
  const auto dir = physml::test::scratch_dir();
  Database d;
  auto scene = small_scene(d);
  const auto e = sim::EnsembleOptions().trajectories(3).velocity_spread(0.5).seed(1);
  const auto out = (dir / "e.h5").string();
  // Interrupted in the first member: nothing complete, the partial file kept.
  auto r0 = sim::simulate_ensemble(scene, quiet(out, 3).test_interrupt_after(2), e);
  EXPECT_EQ(r0.status, sim::SimulateResult::Status::interrupted);
  EXPECT_TRUE(std::filesystem::exists(dir / "e_0.h5.partial"));
  EXPECT_FALSE(std::filesystem::exists(dir / "e_1.h5"));
  auto r = sim::simulate_ensemble(scene, quiet(out, 3), e);
  EXPECT_EQ(r.status, sim::SimulateResult::Status::complete);
  EXPECT_EQ(r.simulated, 3);
  ASSERT_EQ(r.files, (std::vector<std::string>{(dir / "e_0.h5").string(), (dir / "e_1.h5").string(), (dir / "e_2.h5").string()}));
  for (std::int64_t k = 0; k < 3; ++k) {
    // Member k's file is simulate() of ensemble_member(k), frame by frame.
    const auto ref = (dir / ("ref" + std::to_string(k) + ".h5")).string();
    sim::simulate(sim::ensemble_member(scene, e, k), quiet(ref, 3));
    auto a = physml::io::TrajectoryReader::open(r.files[static_cast<size_t>(k)]);
    auto b = physml::io::TrajectoryReader::open(ref);
    EXPECT_TRUE(torch::equal(a.read("positions", 0, 4), b.read("positions", 0, 4))) << "member " << k;
    EXPECT_TRUE(torch::equal(a.read("velocities", 0, 4), b.read("velocities", 0, 4))) << "member " << k;
    EXPECT_EQ(nlohmann::json::parse(a.info().parameters_json).at("ensemble_member"), k);
  }
  auto first = physml::io::TrajectoryReader::open(r.files[0]).read("velocities", 0, 1);
  auto second = physml::io::TrajectoryReader::open(r.files[1]).read("velocities", 0, 1);
  EXPECT_FALSE(torch::equal(first, second));
  const auto bytes = physml::test::file_bytes(r.files[2]);
  auto again = sim::simulate_ensemble(scene, quiet(out, 3), e);
  EXPECT_EQ(again.status, sim::SimulateResult::Status::already_complete);
  EXPECT_EQ(again.already_complete, 3);
  EXPECT_EQ(physml::test::file_bytes(r.files[2]), bytes);
  // Another seed is another ensemble: the existing files are refused and left intact.
  EXPECT_THROW_MSG(sim::simulate_ensemble(scene, quiet(out, 3), sim::EnsembleOptions(e).seed(2)), "trajectory 0 of 3");
  EXPECT_EQ(physml::test::file_bytes(r.files[2]), bytes);
}

TEST(Ensemble, BadOptionsNameTheKey) {
  Database d;
  d.set("-velocity_spread", "-1");
  EXPECT_THROW_MSG(sim::EnsembleOptions().set_from_options(Options("", d.db)), "-velocity_spread -1: expected a finite value >= 0");
  Database z;
  z.set("-trajectories", "0");
  EXPECT_THROW_MSG(sim::EnsembleOptions().set_from_options(Options("", z.db)), "trajectories");
  Database s;
  auto scene = small_scene(s);
  EXPECT_THROW_MSG(sim::simulate_ensemble(scene, quiet("x.h5", 2).model("m.h5"), sim::EnsembleOptions().trajectories(2)),
                   "-trajectories simulates MPM scenes");
}

TEST(LearnedRollout, ReducedOrderRolloutIsTheEvaluatorOfTheSparseRollout) {
  const auto dir = physml::test::scratch_dir();
  Database d;
  auto scene = small_scene(d);  // 61 particles, 2 materials
  sim::simulate(scene, quiet(dir / "truth.h5", 9));
  torch::manual_seed(2);
  namespace ops = physml::operators;
  auto gns = std::make_shared<ops::GNSImpl>(ops::GNSOptions()
                                                .inputs(ops::ParticleInputOptions().dim(2).window(3).radius(0.2).materials(2))
                                                .latent(8)
                                                .steps(1)
                                                .mlp_hidden(1));
  auto ev = std::make_shared<ops::PointEvaluatorImpl>(ops::PointEvaluatorOptions().dim(2).grid(6).width(8));
  const auto stats = ops::ParticleStatistics::of(
      {physml::io::TrajectoryReader::open((dir / "truth.h5").string()).read("positions", 0, 10).to(torch::kDouble)});
  gns->set_statistics(stats);  // a mean acceleration (gravity) for the baseline
  ops::save((dir / "gns.h5").string(), *gns);
  ops::save((dir / "ev.h5").string(), *ev);
  auto o = quiet(dir / "pred.h5", 6)
               .model((dir / "gns.h5").string())
               .initial((dir / "truth.h5").string())
               .evaluator((dir / "ev.h5").string())
               .evaluator_sparse(20);
  const auto r = sim::simulate_learned(o);
  EXPECT_EQ(r.run.status, sim::SimulateResult::Status::complete);
  ASSERT_EQ(r.mse.size(), 3u);  // frames 4, 5, 6
  auto truth_reader = physml::io::TrajectoryReader::open((dir / "truth.h5").string());
  const auto truth = truth_reader.read("positions", 0, 10);
  const auto material = truth_reader.particle("material").reshape({-1}).to(torch::kLong);
  auto pred = physml::io::TrajectoryReader::open((dir / "pred.h5").string());
  EXPECT_EQ(pred.info().particles, 61);  // every particle, not the 20 stepped ones
  const auto x = pred.read("positions", 0, 7);
  EXPECT_TRUE(torch::equal(x.slice(0, 0, 4), truth.slice(0, 0, 4)));  // the window: copied
  // By hand: the GNS steps the 20 farthest points of frame 0, the evaluator maps them to all.
  const auto S = physml::mesh::farthest_point_sample(truth[0], 20, 0);
  EXPECT_TRUE(torch::equal(S, sim::sparse_subset(truth[0], 20, "fps")));
  auto window = truth.slice(0, 0, 4).index_select(1, S);
  for (int k = 4; k <= 6; ++k) {
    const auto stepped = sim::rollout_particles(*gns, window, material.index_select(0, S), 1)[0].to(torch::kDouble);
    window = torch::cat({window.slice(0, 1), stepped.unsqueeze(0)});
    torch::NoGradGuard ng;
    const auto all = ev->evaluate(truth[0].index_select(0, S), stepped, truth[0]).to(torch::kDouble);
    EXPECT_TRUE(torch::allclose(x[k], all, 1e-12, 1e-12)) << "frame " << k;
    EXPECT_NEAR(r.mse[static_cast<size_t>(k - 4)], (all - truth[k]).pow(2).sum(1).mean().item<double>(), 1e-12);
    // The baseline: x_3 + n (x_3 - x_2) + mu n (n + 1) / 2, n = k - 3, every particle.
    const double n = k - 3;
    const auto still = truth[3] + n * (truth[3] - truth[2]) + 0.5 * n * (n + 1) * stats.acc_mean.to(torch::kDouble).reshape({1, 2});
    EXPECT_NEAR(r.baseline_mse[static_cast<size_t>(k - 4)], (still - truth[k]).pow(2).sum(1).mean().item<double>(), 1e-15);
  }
  EXPECT_GT(r.baseline_mse.back(), 0.0);
  EXPECT_LT(stats.acc_mean[1].item<double>(), 0.0);  // gravity pulls along -y: the baseline used it
  // Interrupted after 5 frames and resumed: the same file as the uninterrupted run.
  auto o2 = o;
  o2.output((dir / "pred2.h5").string());
  EXPECT_EQ(sim::simulate_learned(sim::SimulateOptions(o2).test_interrupt_after(5)).run.status,
            sim::SimulateResult::Status::interrupted);
  EXPECT_EQ(sim::simulate_learned(o2).run.status, sim::SimulateResult::Status::complete);
  auto resumed = physml::io::TrajectoryReader::open(o2.output());
  EXPECT_TRUE(torch::equal(resumed.read("positions", 0, 7), x));
  EXPECT_TRUE(torch::equal(resumed.read("velocities", 0, 7), pred.read("velocities", 0, 7)));
  // An evaluator whose box does not hold the particles: refused before any file is written.
  auto small = std::make_shared<ops::PointEvaluatorImpl>(
      ops::PointEvaluatorOptions().dim(2).grid(6).width(8).lower({0.4, 0.0}).upper({1.0, 1.0}));
  ops::save((dir / "small.h5").string(), *small);
  EXPECT_THROW_MSG(sim::simulate_learned(sim::SimulateOptions(o).output((dir / "boxed.h5").string())
                                             .evaluator((dir / "small.h5").string())),
                   "outside the evaluator's box");
  EXPECT_FALSE(std::filesystem::exists(dir / "boxed.h5.partial"));
  // An evaluator of the wrong kind, too many sparse points: named.
  EXPECT_THROW_MSG(sim::simulate_learned(quiet(dir / "bad.h5", 6).model(o.model()).initial(o.initial()).evaluator(o.model())),
                   "holds a model of type 'gns'; expected giorom_evaluator");
  EXPECT_THROW_MSG(
      sim::simulate_learned(quiet(dir / "bad.h5", 6).model(o.model()).initial(o.initial()).evaluator(o.evaluator()).evaluator_sparse(62)),
      "sparse_subset: 62 sparse points of 61: expected 1 .. 61");
}
