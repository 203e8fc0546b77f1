// MPM scenes from options, simulated into Trajectory files (simulate), with VTK series and
// PNG renders; resumable from the partial file's last frame.
#include "physml/simulators/mpm_scene.hpp"

#include "scene_output.hpp"

#include "physml/core/error.hpp"
#include "physml/core/interrupt.hpp"
#include "physml/core/log.hpp"
#include "physml/core/options_reader.hpp"
#include "physml/core/progress.hpp"
#include "physml/core/random.hpp"
#include "physml/io/png.hpp"
#include "physml/io/surface_mesh.hpp"
#include "physml/io/trajectory.hpp"
#include "physml/io/vtk.hpp"
#include "physml/operators/checkpoint.hpp"
#include "physml/simulators/mpm_diff.hpp"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>

namespace physml::simulators {

namespace {

std::vector<double> cut(const std::vector<double>& v, std::int64_t d) {
  return std::vector<double>(v.begin(), v.begin() + std::min<std::int64_t>(d, static_cast<std::int64_t>(v.size())));
}

}  // namespace

MPMShapeOptions MPMShapeOptions::defaults(std::int64_t dim) {
  MPMShapeOptions s;
  if (dim == 3) return s;
  s.lower(cut(s.lower(), dim)).upper(cut(s.upper(), dim)).center(cut(s.center(), dim));
  return s;
}

void MPMShapeOptions::read(OptionsReader& r) {
  shape(r.choice("shape", {"box", "sphere", "torus", "mesh"}, shape(), "shape of the body"));
  lower(r.real_list("lower", lower(), "box: lower corner [m]"));
  upper(r.real_list("upper", upper(), "box: upper corner [m]"));
  center(r.real_list("center", center(), "sphere, torus: centre [m]"));
  radius(r.real("radius", radius(), "sphere: radius; torus: major radius [m]"));
  minor_radius(r.real("minor_radius", minor_radius(), "torus: minor radius (of the tube) [m]"));
  mesh(r.string("mesh", mesh(), "mesh: closed surface file (.obj, .stl, .vtk, .vtp), volume-sampled"));
  mesh_scale(r.real("mesh_scale", mesh_scale(), "mesh: scale factor of the file's coordinates"));
  mesh_offset(r.real_list("mesh_offset", mesh_offset(), "mesh: shift after scaling [m] (3 values)"));
}

MPMShapeOptions& MPMShapeOptions::set_from_options(const Options& options) {
  OptionsReader r(options, "MPM body part (a further shape of the body's union)");
  read(r);
  r.end();
  return *this;
}

MPMShape MPMShapeOptions::build(std::int64_t d) const {
  MPMShape s;
  if (shape() == "box") {
    s = MPMShape::box(lower(), upper());
  } else if (shape() == "sphere") {
    s = MPMShape::sphere(center(), radius());
  } else if (shape() == "torus") {
    s = MPMShape::torus(center(), radius(), minor_radius());
  } else {
    PHYSML_CHECK(!mesh().empty(), "-shape mesh needs -mesh FILE (.obj, .stl, .vtk, .vtp)");
    PHYSML_CHECK(d == 3, "-shape mesh: surface meshes are 3-D, the scene is ", d, "-D");
    s = MPMShape::mesh(
        std::make_shared<const mesh::SurfaceMesh>(io::read_surface_mesh(mesh()).transformed(mesh_scale(), mesh_offset())));
  }
  PHYSML_CHECK(static_cast<std::int64_t>(s.a.size()) == d, "the shape has ", s.a.size(), " coordinates, the scene is ", d,
               "-D");
  return s;
}

MPMBodyOptions MPMBodyOptions::defaults(std::int64_t dim) {
  MPMBodyOptions b;
  if (dim == 3) return b;
  static_cast<MPMShapeOptions&>(b) = MPMShapeOptions::defaults(dim);
  b.velocity(cut(b.velocity(), dim));
  b.angular_velocity({4.0});
  return b;
}

MPMBodyOptions& MPMBodyOptions::set_from_options(const Options& options) {
  long parts_count = static_cast<long>(parts().size()) + 1;
  {
    OptionsReader r(options, "MPM body (shape, material, initial motion)");
    read(r);
    parts_count = r.integer("parts", parts_count, "shapes in the body's union: its own and -part<j>_* for j = 1 .. parts-1",
                            1, 64);
    const auto names = physics::nclaw_material_names();
    material(r.choice("material", names, material(), "material"));
    particles_per_cell_axis(r.integer("particles_per_cell_axis", particles_per_cell_axis(),
                                      "lattice points per cell and axis (lattice spacing dx / this)", 1));
    jitter(r.real("jitter", jitter(), "random lattice displacement, fraction of the spacing in [0, 1)"));
    seed(r.integer("seed", seed(), "seed of the jitter", 0));
    velocity(r.real_list("velocity", velocity(), "initial linear velocity [m/s]"));
    angular_velocity(r.real_list("angular_velocity", angular_velocity(), "initial angular velocity [rad/s] (1 value in 2-D)"));
    rotation_center(r.real_list("rotation_center", rotation_center(), "centre of the rotation [m] (default: centroid)"));
    r.end();
  }
  // Further shapes: the caller's part j is the default where it has one.
  std::vector<MPMShapeOptions> read_parts;
  for (long j = 1; j < parts_count; ++j) {
    MPMShapeOptions p = static_cast<size_t>(j - 1) < parts().size() ? parts()[static_cast<size_t>(j - 1)]
                                                                     : MPMShapeOptions::defaults(static_cast<std::int64_t>(lower().size()));
    read_parts.push_back(p.set_from_options(options.sub("part" + std::to_string(j) + "_")));
  }
  parts(std::move(read_parts));
  return *this;
}

std::vector<MPMShape> MPMBodyOptions::shapes(std::int64_t dim) const {
  std::vector<MPMShape> all;
  try {
    all.push_back(build(dim));
  } catch (const physml::Error& e) {
    if (parts().empty()) throw;
    PHYSML_THROW("part 0 (its own shape keys): ", e.what());
  }
  for (size_t j = 0; j < parts().size(); ++j) {
    try {
      all.push_back(parts()[j].build(dim));
    } catch (const physml::Error& e) {
      PHYSML_THROW("part ", j + 1, " (-part", j + 1, "_*): ", e.what());
    }
  }
  return all;
}

MPMScene& MPMScene::set_from_options(const Options& options) {
  OptionsRecorder recorder;
  simulator.set_from_options(options.sub("mpm_"));
  long n = static_cast<long>(bodies.size());
  {
    OptionsReader r(options, "MPM scene");
    n = r.integer("bodies", n, "number of bodies (each reads -body<k>_*)", 1, 64);
    r.end();
  }
  std::vector<MPMBodyOptions> read;
  for (long k = 0; k < n; ++k) {
    // The caller's body k is the default if it has this dimension's coordinates.
    const bool have = static_cast<size_t>(k) < bodies.size() &&
                      static_cast<std::int64_t>(bodies[static_cast<size_t>(k)].lower().size()) == simulator.dim();
    MPMBodyOptions b = have ? bodies[static_cast<size_t>(k)] : MPMBodyOptions::defaults(simulator.dim());
    read.push_back(b.set_from_options(options.sub("body" + std::to_string(k) + "_")));
  }
  bodies = std::move(read);
  recorded_ = recorder.values();
  return *this;
}

std::vector<std::string> MPMScene::materials() const {
  std::vector<std::string> names;
  for (const auto& b : bodies)
    if (std::find(names.begin(), names.end(), b.material()) == names.end()) names.push_back(b.material());
  return names;
}

std::unique_ptr<MPMSimulator> MPMScene::build() const {
  const auto names = materials();
  auto sim = std::make_unique<MPMSimulator>(simulator, mpm_materials(names));
  const auto d = simulator.dim();
  for (size_t k = 0; k < bodies.size(); ++k) {
    const auto& b = bodies[k];
    auto where = [&] { return "body " + std::to_string(k) + " (-body" + std::to_string(k) + "_*)"; };
    try {
      const auto shapes = b.shapes(d);
      MPMBody body;
      body.shapes(shapes)
          .material(std::find(names.begin(), names.end(), b.material()) - names.begin())
          .particles_per_cell_axis(b.particles_per_cell_axis())
          .jitter(b.jitter())
          .seed(static_cast<std::uint64_t>(b.seed()))
          .velocity(b.velocity())
          .angular_velocity(b.angular_velocity())
          .center(b.rotation_center());
      sim->add_body(body);
    } catch (const physml::Error& e) {
      PHYSML_THROW(where(), ": ", e.what());
    }
  }
  return sim;
}

std::string MPMScene::parameters_json() const {
  auto values = recorded_;
  if (values.empty()) values.emplace_back("bodies", std::to_string(bodies.size()));
  std::vector<std::pair<std::string, std::string>> named;
  for (const auto& [k, v] : values) named.emplace_back(!k.empty() && k[0] == '-' ? k.substr(1) : k, v);
  return options_json(named);
}

MPMScene& MPMScene::record(const std::string& key, const std::string& value) {
  if (recorded_.empty()) recorded_.emplace_back("bodies", std::to_string(bodies.size()));
  const auto k = key.empty() || key[0] == '-' ? key : "-" + key;
  for (auto& [name, v] : recorded_)
    if (name == k || name == key) {
      v = value;
      return *this;
    }
  recorded_.emplace_back(k, value);
  return *this;
}

MPMOptions mpm_options_from_parameters(const std::string& parameters_json) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(parameters_json);
  } catch (const std::exception& e) {
    PHYSML_THROW("the trajectory's parameters are not JSON (", e.what(), ")");
  }
  PHYSML_CHECK(j.is_object(), "the trajectory's parameters are not a JSON object");
  PetscOptions db = nullptr;
  PHYSML_PETSC(PetscOptionsCreate(&db));
  try {
    for (const auto& [key, value] : j.items()) {
      if (key.rfind("mpm_", 0) != 0) continue;
      const std::string text = value.is_string() ? value.get<std::string>() : value.dump();
      PHYSML_PETSC(PetscOptionsSetValue(db, ("-" + key).c_str(), text.c_str()));
    }
    auto o = MPMOptions().set_from_options(Options("mpm_", db));
    PetscOptionsDestroy(&db);
    return o;
  } catch (...) {
    PetscOptionsDestroy(&db);
    throw;
  }
}

SimulateOptions& SimulateOptions::set_from_options(const Options& options) {
  OptionsReader r(options, "MPM simulation output (trajectory, VTK, PNG)");
  output(r.string("output", output(), "Trajectory file to write (required; FILE.partial while incomplete)"));
  frames(r.integer("frames", frames(), "frames after the initial state", 1));
  store(r.choice("store", {"state", "kinematics"}, store(), "per-frame fields: state (x, v, C, F) or kinematics (x, v)"));
  dtype(r.choice("dtype", {"float32", "float64"}, dtype(), "storage type of the per-frame fields"));
  vtk(r.string("vtk", vtk(), "directory for a .vtp series (+ .pvd)"));
  vtk_every(r.integer("vtk_every", vtk_every(), "write a .vtp every this many frames", 1));
  png(r.string("png", png(), "directory for PNG renders"));
  png_every(r.integer("png_every", png_every(), "write a PNG every this many frames", 1));
  png_color(r.choice("png_color", {"speed", "material"}, png_color(), "colour of the renders"));
  law(r.string("law", law(), "trained law (Checkpoint of physml train -model nclaw*) in place of every analytic one"));
  MaterialLaws per;
  for (const auto& m : physics::nclaw_material_names()) {
    const auto f = r.string("law_" + m, material_laws().count(m) ? material_laws().at(m) : std::string(),
                            "trained law for the " + m + " bodies (a law per material instead of -law)");
    if (!f.empty()) per[m] = f;
  }
  material_laws(per);
  law_allow_inverted(r.boolean("law_allow_inverted", law_allow_inverted(),
                               "with -law or -law_<material>: carry on through inverted elements (J <= 0), counting them, instead of stopping"));
  model(r.string("model", model(), "learned particle simulator (gns/giorom Checkpoint) instead of MPM; needs -initial"));
  initial(r.string("initial", initial(), "Trajectory whose first frames start the -model rollout (and score it)"));
  evaluator(r.string("evaluator", evaluator(),
                     "with -model: a giorom_evaluator Checkpoint; the model steps -evaluator_sparse particles, the "
                     "evaluator gives all"));
  evaluator_sparse(r.integer("evaluator_sparse", evaluator_sparse(), "with -evaluator: particles the model steps", 1));
  evaluator_sampling(r.choice("evaluator_sampling", {"fps", "random"}, evaluator_sampling(),
                              "with -evaluator: how they are chosen on frame 0 (farthest points from particle 0, or seeded random)"));
  progress(r.boolean("progress", progress(), "print a progress line (rate, ETA)"));
  reference(r.string("reference", reference(),
                     "Trajectory of the same scene to score the output against (mean position MSE over every "
                     "-reference_every-th frame, NCLaw's metric)"));
  reference_every(r.integer("reference_every", reference_every(), "with -reference: score every this many frames", 1));
  test_interrupt_after(r.integer("test_interrupt_after", test_interrupt_after(),
                                 "(testing) raise SIGINT after this many frames are written", 0));
  r.end();
  return *this;
}

void render_points_png(const std::string& path, const at::Tensor& positions, const at::Tensor& values, double spacing,
                       double lx, double ly, const std::string& label, int pixels, const std::string& title) {
  PHYSML_CHECK(pixels >= 8, "render_points_png: pixels must be >= 8, got ", pixels);
  PHYSML_CHECK(positions.dim() == 2 && positions.size(0) > 0 && positions.size(1) >= 2, "render_points_png: expected points [N >= 1, d >= 2]");
  auto x = positions.to(torch::kDouble).contiguous();
  auto v = values.to(torch::kDouble).reshape({-1}).contiguous();
  const int r = static_cast<int>(std::floor(0.5 * spacing / (lx / pixels)));
  auto ix0 = (x.select(1, 0) / lx * pixels).floor().to(torch::kLong);
  auto iy0 = (x.select(1, 1) / ly * pixels).floor().to(torch::kLong);
  auto sum = torch::zeros({pixels * pixels}, torch::kDouble), cnt = torch::zeros({pixels * pixels}, torch::kDouble);
  for (int oy = -r; oy <= r; ++oy)
    for (int ox = -r; ox <= r; ++ox) {
      auto flat = (iy0 + oy).clamp(0, pixels - 1) * pixels + (ix0 + ox).clamp(0, pixels - 1);
      sum.index_add_(0, flat, v);
      cnt.index_add_(0, flat, torch::ones_like(v));
    }
  auto img = torch::where(cnt > 0, sum / cnt.clamp_min(1), torch::zeros_like(sum)).reshape({pixels, pixels});
  io::FieldPanel panel(label, img, "viridis");
  panel.vmin = 0.0;
  io::FieldPlotOptions po(560, 520);
  po.extent = {0, lx, 0, ly};
  po.title = title;
  io::write_field_png(path, panel, po);
}

void render_particles_png(const std::string& path, const MPMSimulator& sim, const std::string& color, int pixels,
                          const std::string& title) {
  PHYSML_CHECK(color == "speed" || color == "material", "render_particles_png: color '", color,
               "', expected speed or material");
  const auto& P = sim.particles();
  PHYSML_CHECK(P.size() > 0, "render_particles_png: no particles");
  const auto grid = sim.options().grid();
  auto v = color == "speed" ? P.velocities().to(torch::kDouble).norm(2, 1) : P.get("material").to(torch::kDouble) + 1.0;
  // Each particle paints the pixels within half its lattice spacing h = volume^(1/d).
  const double h = std::pow(P.get("volume").to(torch::kDouble).mean().item<double>(), 1.0 / static_cast<double>(P.dim()));
  render_points_png(path, P.positions(), v, h, grid.upper(0), grid.upper(1),
                    color == "speed" ? "speed [m/s] (0: no particle)" : "material + 1 (0: no particle)", pixels, title);
}

std::string detail::frame_file(const std::string& dir, std::int64_t k, const char* ext) {
  char name[64];
  std::snprintf(name, sizeof name, "mpm_%05lld.%s", static_cast<long long>(k), ext);
  return (std::filesystem::path(dir) / name).string();
}

namespace {

/// The frame's per-frame fields and its full-precision resume state.
std::map<std::string, at::Tensor> frame_fields(const mesh::ParticleSet& P, bool state) {
  std::map<std::string, at::Tensor> f{{"positions", P.positions()}, {"velocities", P.velocities()}};
  if (state) {
    f["C"] = P.get("C");
    f["F"] = P.get("F");
    if (P.has("F_zz")) f["F_zz"] = P.get("F_zz");
  }
  return f;
}

using detail::frame_file;

}  // namespace

SimulateResult simulate(const MPMScene& scene, const SimulateOptions& o) {
  PHYSML_CHECK(!o.output().empty(), "no output file: set -output FILE.h5");
  PHYSML_CHECK(o.frames() >= 1, "-frames ", o.frames(), ": expected at least 1");
  PHYSML_CHECK(o.evaluator().empty(), "-evaluator applies to a learned rollout: set -model and -initial too");
  const bool any_law = !o.law().empty() || !o.material_laws().empty();
  PHYSML_CHECK(o.law().empty() || o.material_laws().empty(), "-law (one law for every body) and -law_",
               o.material_laws().empty() ? std::string() : o.material_laws().begin()->first,
               " (a law per material) exclude each other: give either");
  PHYSML_CHECK(!o.law_allow_inverted() || any_law,
               "-law_allow_inverted applies to a trained law: set -law FILE.h5 (or -law_<material>) too (the analytic laws always stop at J <= 0)");
  if (!o.material_laws().empty()) {
    const auto mats = scene.materials();
    std::string names;
    for (const auto& m : mats) names += (names.empty() ? "" : ", ") + m;
    for (const auto& m : mats)
      PHYSML_CHECK(o.material_laws().count(m), "-law_", m, ": the scene has ", m,
                   " bodies but no law for them (with a law per material every material needs one; the scene has: ",
                   names, ")");
    for (const auto& [m, f] : o.material_laws())
      PHYSML_CHECK(std::find(mats.begin(), mats.end(), m) != mats.end(), "-law_", m, " '", f, "': the scene has no ", m,
                   " body (it has: ", names, ")");
  }
  const auto parent = std::filesystem::absolute(o.output()).parent_path();
  PHYSML_CHECK(std::filesystem::is_directory(parent), "output directory '", parent.string(), "' does not exist");
  auto sim = scene.build();
  const auto& P0 = sim->particles();
  const bool state = o.store() == "state";
  const std::int64_t d = scene.simulator.dim();

  io::TrajectoryInfo info;
  info.simulator = "mpm";
  info.parameters_json = scene.parameters_json();
  if (any_law) {  // the file records which law made it (and a resume must use the same)
    auto j = nlohmann::ordered_json::parse(info.parameters_json);
    if (!o.law().empty()) j["law"] = o.law();
    for (const auto& [m, f] : o.material_laws()) j["law_" + m] = f;
    if (o.law_allow_inverted()) j["law_allow_inverted"] = true;
    info.parameters_json = j.dump();
  }
  info.grid_json = scene.simulator.grid().to_json();
  info.particles = P0.size();
  info.frames = o.frames() + 1;
  info.frame_dt = scene.simulator.dt() * static_cast<double>(scene.simulator.substeps());
  for (const auto& [name, t] : frame_fields(P0, state))
    info.fields[name] = std::vector<std::int64_t>(t.sizes().begin() + 1, t.sizes().end());
  info.dtype = o.dtype() == "float64" ? torch::kDouble : torch::kFloat;
  check_reference(o, info.particles, info.frame_dt, P0.positions());
  auto writer = io::TrajectoryWriter::open(o.output(), info);

  SimulateResult result;
  result.particles = P0.size();
  if (writer.already_complete()) {
    log_info("'", o.output(), "' is already complete (", info.frames, " frames of ", info.particles,
             " particles); nothing to do");
    result.status = SimulateResult::Status::already_complete;
    result.reference = score_against_reference(o);
    return result;
  }
  std::int64_t start = writer.frames_written();
  std::int64_t clamped_before = 0;
  if (start > 0) {  // resume: the full-precision state of the last written frame
    auto s = writer.resume_state();
    PHYSML_CHECK(s.count("positions") && s.count("velocities") && s.count("C") && s.count("F") && s.count("clamped") &&
                     s.count("frame"),
                 "partial Trajectory file '", o.output(), ".partial' has no resume state; delete it to start over");
    // The state must be that of the last complete frame (a kill between the state and the
    // frame's done flag would otherwise shift every later frame by one).
    const auto state_frame = s.at("frame").item<std::int64_t>();
    PHYSML_CHECK(state_frame == start - 1, "partial Trajectory file '", o.output(), ".partial': its resume state is of frame ",
                 state_frame, " but its last complete frame is ", start - 1,
                 " (the run was killed while writing a frame); delete it to start over");
    mesh::ParticleSet p(s.at("positions"), s.at("velocities"));
    for (const char* k : {"C", "F", "F_zz"})
      if (s.count(k)) p.set(k, s.at(k));
    for (const auto& [k, t] : writer.particles()) p.set(k, t);
    sim->set_particles(std::move(p));
    clamped_before = s.at("clamped").item<std::int64_t>();
    log_info("resuming '", o.output(), "' after frame ", start - 1, " of ", info.frames - 1);
  } else {
    writer.write_particles({{"mass", P0.get("mass")}, {"volume", P0.get("volume")}, {"material", P0.get("material")}});
  }
  log_info("simulating ", info.frames - start, " of ", info.frames, " frames of ", info.particles, " particles (",
           d, "-D, ", scene.materials().size(), " material(s)) into '", o.output(), "'");

  std::unique_ptr<io::PvdWriter> pvd;
  if (!o.vtk().empty()) {
    std::filesystem::create_directories(o.vtk());
    pvd = std::make_unique<io::PvdWriter>((std::filesystem::path(o.vtk()) / "mpm.pvd").string());
    for (std::int64_t k = 0; k < start; k += o.vtk_every())  // the frames of earlier runs
      if (std::filesystem::exists(frame_file(o.vtk(), k, "vtp")))
        pvd->add(static_cast<double>(k) * info.frame_dt, frame_file(o.vtk(), k, "vtp"));
  }
  if (!o.png().empty()) std::filesystem::create_directories(o.png());

  // A trained law: the substeps run through the differentiable simulator, without gradients.
  std::unique_ptr<DifferentiableMPM> learned;
  TorchLaw law;
  if (any_law) {
    auto load_law = [](const std::string& option, const std::string& file, const std::string& bodies) {
      auto model = operators::load(file);
      TorchLaw l;
      try {
        l = learned_law(model);  // the one check of which model types are laws
      } catch (const Error& e) {
        PHYSML_THROW(option, " '", file, "': ", e.what());
      }
      model->to(torch::kDouble);
      model->eval();
      log_info("law: ", model->type(), " from '", file, "' for ", bodies, " (",
               l.plastic ? "elastic and plastic networks" : "elastic only, no plasticity", ")");
      return l;
    };
    if (!o.law().empty()) {
      law = load_law("-law", o.law(), "every body");
    } else {
      std::vector<TorchLaw> laws;  // in material-index order
      for (const auto& m : scene.materials())
        laws.push_back(load_law("-law_" + m, o.material_laws().at(m), "the " + m + " bodies"));
      law = per_material_law(std::move(laws), sim->particles().get("material"));
    }
    learned = std::make_unique<DifferentiableMPM>(scene.simulator, sim->particles());
    learned->allow_inverted(o.law_allow_inverted());
  }
  // Clamped particle-substeps of this run (either simulator) plus those of the runs resumed from.
  auto clamped_now = [&] { return clamped_before + sim->clamped_count() + (learned ? learned->clamped_count() : 0); };
  auto step = [&] {
    if (!learned) return sim->step();
    torch::NoGradGuard ng;
    auto s = DifferentiableMPM::state_of(sim->particles());
    for (std::int64_t k = 0; k < scene.simulator.substeps(); ++k) s = learned->substep(s, law);
    mesh::ParticleSet p(s.x, s.v);
    p.set("C", s.C).set("F", s.F);
    if (s.F_zz.defined()) p.set("F_zz", s.F_zz);
    for (const char* k : {"mass", "volume", "material"}) p.set(k, sim->particles().get(k));
    sim->set_particles(std::move(p));
  };

  std::unique_ptr<InterruptGuard> guard;
  if (o.handle_signals()) guard = std::make_unique<InterruptGuard>();
  std::unique_ptr<Progress> progress;
  if (o.progress()) progress = std::make_unique<Progress>("simulate", info.frames, start);
  const auto t0 = std::chrono::steady_clock::now();
  for (std::int64_t k = start; k < info.frames; ++k) {
    if (k > 0) step();
    const auto& P = sim->particles();
    const double time = static_cast<double>(k) * info.frame_dt;
    std::map<std::string, at::Tensor> resume{{"positions", P.positions()},
                                             {"velocities", P.velocities()},
                                             {"C", P.get("C")},
                                             {"F", P.get("F")},
                                             {"clamped", torch::full({1}, clamped_now(), torch::kLong)},
                                             {"frame", torch::full({1}, k, torch::kLong)}};
    if (P.has("F_zz")) resume["F_zz"] = P.get("F_zz");
    writer.write_frame(k, time, frame_fields(P, state), resume);
    if (pvd && k % o.vtk_every() == 0) {
      const auto path = frame_file(o.vtk(), k, "vtp");
      auto J = P.get("F").to(torch::kDouble).det();
      if (P.has("F_zz")) J = J * P.get("F_zz").to(torch::kDouble);
      io::write_vtp(path, P.positions(),
                    {{"velocity", P.velocities()}, {"material", P.get("material")}, {"mass", P.get("mass")}, {"J", J}});
      pvd->add(time, path);
    }
    if (!o.png().empty() && k % o.png_every() == 0)
      render_particles_png(frame_file(o.png(), k, "png"), *sim, o.png_color(), 160,
                           "frame " + std::to_string(k) + ", t = " + std::to_string(time) + " s");
    ++result.frames_written;
    if (progress) progress->advance(1);
    if (result.frames_written == o.test_interrupt_after()) std::raise(SIGINT);
    if (InterruptGuard::interrupted() && k + 1 < info.frames) {
      result.status = SimulateResult::Status::interrupted;
      result.signal = InterruptGuard::signal();
      log_warning("interrupted by signal ", result.signal, " after frame ", k, "; '", o.output(), ".partial' holds ",
                  k + 1, " of ", info.frames, " frames; rerun the same command to continue");
      break;
    }
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  result.clamped = clamped_now();
  result.inverted = learned ? learned->inverted_count() : 0;
  if (result.inverted > 0)
    log_warning(result.inverted, " particle-substeps of this run had an inverted element (J <= 0; -law_allow_inverted)");
  if (result.status == SimulateResult::Status::interrupted) return result;
  writer.finish();
  if (progress) progress->finish();
  if (result.clamped > 0)
    log_warning(result.clamped, " particle-substeps left the domain and were clamped back (-mpm_clamp_cells)");
  log_info("wrote '", o.output(), "' (", info.frames, " frames of ", info.particles, " particles, ",
           result.seconds > 0 ? static_cast<double>(result.frames_written * scene.simulator.substeps() * info.particles) /
                                    result.seconds
                              : 0.0,
           " particle-substeps/s)");
  result.reference = score_against_reference(o);
  return result;
}

void check_reference(const SimulateOptions& o, std::int64_t particles, double frame_dt, const at::Tensor& x0) {
  if (o.reference().empty()) return;
  PHYSML_CHECK(std::filesystem::exists(o.reference()), "-reference '", o.reference(), "' does not exist");
  const auto r = io::TrajectoryReader::open(o.reference());
  PHYSML_CHECK(r.info().particles == particles, "-reference '", o.reference(), "' holds ", r.info().particles,
               " particles; this scene has ", particles, ": expected a Trajectory of the same scene");
  PHYSML_CHECK(same_frame_interval(r.info().frame_dt, frame_dt),
               "-reference '", o.reference(), "' has frames every ", r.info().frame_dt, " s; this run every ", frame_dt,
               " s: expected a Trajectory of the same scene (time step x substeps)");
  const auto a = r.read("positions", 0, 1)[0];
  PHYSML_CHECK(a.sizes() == x0.sizes(), "-reference '", o.reference(), "' holds positions ", a.sizes(), ", this scene ",
               x0.sizes());
  const double d0 = initial_position_difference(a, x0);
  PHYSML_CHECK(d0 == 0, "-reference '", o.reference(), "': its frame 0 differs from this scene's initial ",
               "positions by up to ", d0, " m: expected a Trajectory of the same scene");
}

TrajectoryMSE score_against_reference(const SimulateOptions& o, std::int64_t first_frame) {
  if (o.reference().empty()) return {};
  auto r = trajectory_position_mse(o.reference(), o.output(), o.reference_every(), 0, first_frame);
  log_info("rollout MSE against '", o.reference(), "': ", r.mean, " (mean position MSE over frames ", r.frames.front(),
           "..", r.frames.back(), ", every ", o.reference_every(), ": ", r.frames.size(), " frames)");
  return r;
}

EnsembleOptions& EnsembleOptions::set_from_options(const Options& options) {
  OptionsReader r(options, "MPM ensemble (several trajectories with random initial motions)");
  trajectories(r.integer("trajectories", trajectories(),
                         "trajectories of the scene, each with its own random initial motion (OUTPUT_<k>.h5)", 1, 100000));
  velocity_spread(r.real("velocity_spread", velocity_spread(),
                         "each body's initial velocity plus U(-S, S) per component [m/s] (per trajectory)"));
  angular_velocity_spread(r.real("angular_velocity_spread", angular_velocity_spread(),
                                 "each body's angular velocity plus U(-S, S) per component [rad/s] (per trajectory)"));
  seed(r.integer("ensemble_seed", seed(), "seed of the trajectories' initial motions", 0));
  r.end();
  PHYSML_CHECK(std::isfinite(velocity_spread()) && velocity_spread() >= 0, "-velocity_spread ", velocity_spread(),
               ": expected a finite value >= 0");
  PHYSML_CHECK(std::isfinite(angular_velocity_spread()) && angular_velocity_spread() >= 0, "-angular_velocity_spread ",
               angular_velocity_spread(), ": expected a finite value >= 0");
  return *this;
}

namespace {

/// U(-spread, spread) for component j of draw `what` (0 velocity, 1 angular) of body b, member k.
double ensemble_draw(const EnsembleOptions& o, std::int64_t k, size_t b, int what, size_t j, double spread) {
  auto s = derive_seed(static_cast<std::uint64_t>(o.seed()), static_cast<std::uint64_t>(k));
  s = derive_seed(s, 2 * b + static_cast<std::uint64_t>(what));
  s = derive_seed(s, j);
  const double u = static_cast<double>(s >> 11) * 0x1.0p-53;  // [0, 1)
  return spread * (2 * u - 1);
}

std::string join(const std::vector<double>& v) {
  std::string out;
  char buf[64];
  for (size_t j = 0; j < v.size(); ++j) {
    std::snprintf(buf, sizeof buf, "%.17g", v[j]);
    out += (j ? "," : "") + std::string(buf);
  }
  return out;
}

}  // namespace

MPMScene ensemble_member(const MPMScene& scene, const EnsembleOptions& o, std::int64_t k) {
  PHYSML_CHECK(k >= 0 && k < o.trajectories(), "ensemble member ", k, ": expected 0 <= k < ", o.trajectories());
  MPMScene m = scene;
  for (size_t b = 0; b < m.bodies.size(); ++b) {
    auto v = m.bodies[b].velocity();
    auto w = m.bodies[b].angular_velocity();
    for (size_t j = 0; j < v.size(); ++j) v[j] += ensemble_draw(o, k, b, 0, j, o.velocity_spread());
    for (size_t j = 0; j < w.size(); ++j) w[j] += ensemble_draw(o, k, b, 1, j, o.angular_velocity_spread());
    m.bodies[b].velocity(v).angular_velocity(w);
    const auto prefix = "body" + std::to_string(b) + "_";
    m.record(prefix + "velocity", join(v)).record(prefix + "angular_velocity", join(w));
  }
  m.record("ensemble_member", std::to_string(k));
  return m;
}

std::string ensemble_file(const std::string& output, std::int64_t k, std::int64_t n) {
  PHYSML_CHECK(!output.empty(), "no output file: set -output FILE.h5");
  const std::filesystem::path p(output);
  const int digits = static_cast<int>(std::to_string(std::max<std::int64_t>(n - 1, 0)).size());
  char index[32];
  std::snprintf(index, sizeof index, "%0*lld", digits, static_cast<long long>(k));
  return (p.parent_path() / (p.stem().string() + "_" + index + p.extension().string())).string();
}

EnsembleResult simulate_ensemble(const MPMScene& scene, const SimulateOptions& o, const EnsembleOptions& e, MPI_Comm comm) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  PHYSML_CHECK(o.model().empty(), "-trajectories simulates MPM scenes; a -model rollout takes one -initial file");
  PHYSML_CHECK(o.reference().empty(), "-reference scores one trajectory; the members of an ensemble (-trajectories, "
               "-velocity_spread, -angular_velocity_spread) have other initial motions than any one reference");
  const auto n = e.trajectories();
  EnsembleResult result;
  for (std::int64_t k = 0; k < n; ++k) result.files.push_back(ensemble_file(o.output(), k, n));

  std::unique_ptr<InterruptGuard> guard;
  if (o.handle_signals()) guard = std::make_unique<InterruptGuard>();
  long counts[3] = {0, 0, 0};  // simulated, already complete, interrupted signal
  std::string failure;
  for (std::int64_t k = rank; k < n && failure.empty(); k += size) {
    if (InterruptGuard::interrupted()) {
      counts[2] = InterruptGuard::signal();
      break;
    }
    const auto file = result.files[static_cast<size_t>(k)];
    const auto stem = std::filesystem::path(file).stem().string();
    auto member_options = o;
    member_options.output(file);
    if (!o.vtk().empty()) member_options.vtk((std::filesystem::path(o.vtk()) / stem).string());
    if (!o.png().empty()) member_options.png((std::filesystem::path(o.png()) / stem).string());
    try {
      const auto r = simulate(ensemble_member(scene, e, k), member_options);
      if (r.status == SimulateResult::Status::interrupted) {
        counts[2] = r.signal;
        break;
      }
      ++counts[r.status == SimulateResult::Status::already_complete ? 1 : 0];
    } catch (const std::exception& err) {  // any error: every rank must reach the collectives below
      failure = "trajectory " + std::to_string(k) + " of " + std::to_string(n) + " ('" + file + "'): " + err.what();
    } catch (...) {
      failure = "trajectory " + std::to_string(k) + " of " + std::to_string(n) + " ('" + file + "'): unknown error";
    }
  }
  // Collective end: the counts, the first interrupting signal, the lowest failing rank's message.
  long total[3] = {0, 0, 0};
  MPI_Allreduce(counts, total, 2, MPI_LONG, MPI_SUM, comm);
  MPI_Allreduce(&counts[2], &total[2], 1, MPI_LONG, MPI_MAX, comm);
  int failed = failure.empty() ? size : rank, root = size;
  MPI_Allreduce(&failed, &root, 1, MPI_INT, MPI_MIN, comm);
  if (root < size) {
    int len = static_cast<int>(failure.size());
    MPI_Bcast(&len, 1, MPI_INT, root, comm);
    failure.resize(static_cast<size_t>(len));
    MPI_Bcast(failure.data(), len, MPI_CHAR, root, comm);
    PHYSML_THROW(failure);
  }
  result.simulated = total[0];
  result.already_complete = total[1];
  if (total[2] != 0) {
    result.status = SimulateResult::Status::interrupted;
    result.signal = static_cast<int>(total[2]);
  } else if (result.simulated == 0) {
    result.status = SimulateResult::Status::already_complete;
  }
  return result;
}

}  // namespace physml::simulators
