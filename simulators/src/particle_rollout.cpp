#include "physml/simulators/particle_rollout.hpp"

#include "physml/core/error.hpp"
#include "physml/core/interrupt.hpp"
#include "physml/core/log.hpp"
#include "physml/core/progress.hpp"
#include "physml/io/trajectory.hpp"
#include "physml/io/vtk.hpp"
#include "physml/mesh/sampling.hpp"
#include "physml/operators/checkpoint.hpp"
#include "physml/operators/giorom.hpp"
#include "scene_output.hpp"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>

namespace physml::simulators {

at::Tensor rollout_particles(operators::ParticleModel& model, const at::Tensor& window, const at::Tensor& material,
                             std::int64_t frames) {
  const auto W = model.input_options().window();
  PHYSML_CHECK(window.dim() == 3 && window.size(0) == W + 1, "rollout_particles: expected the window [", W + 1,
               ", N, d] of the ", model.type(), " model, got ", window.sizes());
  PHYSML_CHECK(frames >= 0, "rollout_particles: frames must be >= 0, got ", frames);
  torch::NoGradGuard ng;
  const auto params = model.parameters();
  operators::ParticleWindow w;
  w.positions = params.empty() ? window : window.to(params.front().options());
  w.material = material;
  std::vector<at::Tensor> out;
  for (std::int64_t f = 0; f < frames; ++f) {
    const auto next = model.step(w);
    PHYSML_CHECK(torch::isfinite(next).all().item<bool>(), "rollout_particles: the ", model.type(),
                 " model's positions became NaN or Inf at step ", f + 1);
    out.push_back(next);
    w.positions = torch::cat({w.positions.slice(0, 1), next.unsqueeze(0)});
  }
  if (out.empty()) return torch::empty({0, window.size(1), window.size(2)}, w.positions.options());
  return torch::stack(out);
}

at::Tensor sparse_subset(const at::Tensor& points, std::int64_t k, const std::string& sampling, std::uint64_t seed) {
  PHYSML_CHECK(points.dim() == 2 && points.size(0) >= 1, "sparse_subset: expected points [N >= 1, d], got ", points.sizes());
  const auto n = points.size(0);
  PHYSML_CHECK(k >= 1 && k <= n, "sparse_subset: ", k, " sparse points of ", n, ": expected 1 .. ", n);
  if (sampling == "random") return std::get<0>(mesh::random_sample(n, k, seed).sort());
  PHYSML_CHECK(sampling == "fps", "sparse_subset: sampling '", sampling, "': expected fps or random");
  return mesh::farthest_point_sample(points, k, 0);
}

LearnedRolloutResult simulate_learned(const SimulateOptions& o) {
  PHYSML_CHECK(!o.output().empty(), "no output file: set -output FILE.h5");
  PHYSML_CHECK(!o.initial().empty(), "-model needs -initial FILE.h5 (the Trajectory whose first frames start the rollout)");
  PHYSML_CHECK(std::filesystem::exists(o.model()), "model file '", o.model(), "' does not exist");
  PHYSML_CHECK(std::filesystem::exists(o.initial()), "initial Trajectory file '", o.initial(), "' does not exist");
  const auto parent = std::filesystem::absolute(o.output()).parent_path();
  PHYSML_CHECK(std::filesystem::is_directory(parent), "output directory '", parent.string(), "' does not exist");
  auto loaded = operators::load(o.model());
  auto model = std::dynamic_pointer_cast<operators::ParticleModel>(loaded);
  PHYSML_CHECK(model != nullptr, "-model '", o.model(), "' holds a model of type '", loaded->type(),
               "'; expected a particle simulator (gns, giorom)");
  model->eval();
  const auto W = model->input_options().window(), d = model->input_options().dim();
  auto reader = io::TrajectoryReader::open(o.initial());
  const auto& in = reader.info();
  const auto truth = reader.read("positions", 0, in.frames).to(torch::kDouble);
  PHYSML_CHECK(truth.size(2) == d, "-initial '", o.initial(), "' holds ", truth.size(2), "-D particles; the ", model->type(),
               " model is ", d, "-D");
  PHYSML_CHECK(in.frames >= W + 1, "-initial '", o.initial(), "' has ", in.frames, " frames; the model's window needs ",
               W + 1);
  PHYSML_CHECK(o.frames() > W, "-frames ", o.frames(), ": a rollout needs more than the window's ", W, " frames after frame 0");
  const auto material = reader.particle("material").to(torch::kLong).reshape({-1});
  // GIOROM's reduced-order rollout: the model on a sparse subset, the evaluator for all.
  std::shared_ptr<operators::PointEvaluatorImpl> evaluator;
  at::Tensor sparse, reference;
  if (!o.evaluator().empty()) {
    PHYSML_CHECK(std::filesystem::exists(o.evaluator()), "evaluator file '", o.evaluator(), "' does not exist");
    auto e = operators::load(o.evaluator());
    evaluator = std::dynamic_pointer_cast<operators::PointEvaluatorImpl>(e);
    PHYSML_CHECK(evaluator != nullptr, "-evaluator '", o.evaluator(), "' holds a model of type '", e->type(),
                 "'; expected giorom_evaluator");
    PHYSML_CHECK(evaluator->options().dim() == d, "-evaluator '", o.evaluator(), "' is ", evaluator->options().dim(),
                 "-D; the ", model->type(), " model is ", d, "-D");
    evaluator->eval();
    try {
      sparse = sparse_subset(truth[0], o.evaluator_sparse(), o.evaluator_sampling());
    } catch (const Error& e2) {
      PHYSML_THROW("-evaluator_sparse with -initial '", o.initial(), "': ", e2.what());
    }
    reference = truth[0];
    // The evaluator's checks (box, shapes) now, before an output file exists.
    torch::NoGradGuard ng;
    try {
      evaluator->evaluate(reference.index_select(0, sparse), reference.index_select(0, sparse), reference);
    } catch (const Error& e2) {
      PHYSML_THROW("-evaluator '", o.evaluator(), "' with -initial '", o.initial(), "': ", e2.what());
    }
  }
  auto full = [&](const at::Tensor& stepped) {  // every particle's positions from the stepped ones
    if (!evaluator) return stepped;
    return evaluator->evaluate(reference.index_select(0, sparse), stepped, reference).to(torch::kDouble);
  };
  const auto stepped_material = evaluator ? material.index_select(0, sparse) : material;
  const auto mean_acceleration = model->statistics().acc_mean.to(torch::kDouble).reshape({1, d});

  io::TrajectoryInfo info;
  info.simulator = model->type();
  nlohmann::ordered_json p;
  p["model"] = o.model();
  p["model_type"] = model->type();
  p["initial"] = o.initial();
  p["window"] = W;
  if (evaluator) {
    p["evaluator"] = o.evaluator();
    p["evaluator_sparse"] = o.evaluator_sparse();
    p["evaluator_sampling"] = o.evaluator_sampling();
  }
  info.parameters_json = p.dump();
  info.grid_json = in.grid_json;
  info.particles = truth.size(1);
  info.frames = o.frames() + 1;
  info.frame_dt = in.frame_dt;
  info.fields = {{"positions", {d}}, {"velocities", {d}}};
  info.dtype = o.dtype() == "float64" ? torch::kDouble : torch::kFloat;
  check_reference(o, info.particles, info.frame_dt, truth[0]);
  auto writer = io::TrajectoryWriter::open(o.output(), info);
  LearnedRolloutResult result;
  result.run.particles = info.particles;
  if (writer.already_complete()) {
    log_info("'", o.output(), "' is already complete (", info.frames, " frames of ", info.particles,
             " particles); nothing to do");
    result.run.status = SimulateResult::Status::already_complete;
    result.run.reference = score_against_reference(o, W + 1);
    return result;
  }
  std::int64_t start = writer.frames_written();
  // The window of the stepped particles (all, or the sparse subset) and the last full frame.
  at::Tensor window = evaluator ? truth.slice(0, 0, W + 1).index_select(1, sparse) : truth.slice(0, 0, W + 1);
  at::Tensor last;
  if (start > W + 1) {
    const auto s = writer.resume_state();
    PHYSML_CHECK(s.count("window") && s.count("frame") && s.at("frame").item<std::int64_t>() == start - 1,
                 "partial Trajectory file '", o.output(), ".partial' has no usable resume state; delete it to start over");
    window = s.at("window");
    if (s.count("last")) last = s.at("last");
    log_info("resuming '", o.output(), "' after frame ", start - 1, " of ", info.frames - 1);
  }  // else: nothing predicted yet, the window is the initial file's
  if (start == 0) writer.write_particles({{"material", material}});

  std::unique_ptr<io::PvdWriter> pvd;
  if (!o.vtk().empty()) {
    std::filesystem::create_directories(o.vtk());
    pvd = std::make_unique<io::PvdWriter>((std::filesystem::path(o.vtk()) / "mpm.pvd").string());
    for (std::int64_t k = 0; k < start; k += o.vtk_every())
      if (std::filesystem::exists(detail::frame_file(o.vtk(), k, "vtp")))
        pvd->add(static_cast<double>(k) * info.frame_dt, detail::frame_file(o.vtk(), k, "vtp"));
  }
  if (!o.png().empty()) std::filesystem::create_directories(o.png());
  // Render extent: the simulator's grid when the initial file has one, else the unit box.
  double lx = 1.0, ly = 1.0;
  try {
    const auto g = mesh::Grid::from_json(in.grid_json);
    lx = g.upper(0);
    ly = g.upper(1);
  } catch (const Error&) {
  }
  // Particle spacing for the renders: (bounding-box volume of frame 0 / N)^(1/d).
  const auto extent = (std::get<0>(truth[0].max(0)) - std::get<0>(truth[0].min(0))).clamp_min(1e-12);
  const double spacing = std::pow(extent.prod().item<double>() / static_cast<double>(std::max<std::int64_t>(info.particles, 1)),
                                  1.0 / static_cast<double>(d));

  std::unique_ptr<InterruptGuard> guard;
  if (o.handle_signals()) guard = std::make_unique<InterruptGuard>();
  std::unique_ptr<Progress> progress;
  if (o.progress()) progress = std::make_unique<Progress>("rollout", info.frames, start);
  const auto t0 = std::chrono::steady_clock::now();
  double predict_seconds = 0;  // the model (and evaluator) steps only, not the copied window or the output
  std::int64_t predicted = 0;
  torch::NoGradGuard ng;
  for (std::int64_t k = start; k < info.frames; ++k) {
    at::Tensor x, prev;
    if (k <= W) {
      x = truth[k];
      prev = k > 0 ? truth[k - 1] : truth[k];
    } else {
      const auto t_step = std::chrono::steady_clock::now();
      const auto stepped = rollout_particles(*model, window, stepped_material, 1)[0].to(torch::kDouble);
      prev = last.defined() ? last : (evaluator ? truth[W] : window[W]);
      window = torch::cat({window.slice(0, 1), stepped.unsqueeze(0)});
      x = full(stepped);
      predict_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t_step).count();
      ++predicted;
      if (k < in.frames) {
        result.mse.push_back((x - truth[k]).pow(2).sum(1).mean().item<double>());
        const double n = static_cast<double>(k - W);
        const auto still = truth[W] + n * (truth[W] - truth[W - 1]) + 0.5 * n * (n + 1) * mean_acceleration;
        result.baseline_mse.push_back((still - truth[k]).pow(2).sum(1).mean().item<double>());
      }
    }
    last = x;
    const auto v = (x - prev) / (info.frame_dt > 0 ? info.frame_dt : 1.0);
    writer.write_frame(k, static_cast<double>(k) * info.frame_dt, {{"positions", x}, {"velocities", v}},
                       {{"window", window.clone()}, {"last", x.clone()}, {"frame", torch::full({1}, k, torch::kLong)}});
    if (pvd && k % o.vtk_every() == 0) {
      const auto path = detail::frame_file(o.vtk(), k, "vtp");
      io::write_vtp(path, x, {{"velocity", v}, {"material", material}});
      pvd->add(static_cast<double>(k) * info.frame_dt, path);
    }
    if (!o.png().empty() && k % o.png_every() == 0)
      render_points_png(detail::frame_file(o.png(), k, "png"), x, o.png_color() == "speed" ? v.norm(2, 1) : material + 1,
                        spacing, lx, ly, o.png_color() == "speed" ? "speed (0: no particle)" : "material + 1 (0: no particle)",
                        160, model->type() + " rollout, frame " + std::to_string(k));
    ++result.run.frames_written;
    if (progress) progress->advance(1);
    if (result.run.frames_written == o.test_interrupt_after()) std::raise(SIGINT);
    if (InterruptGuard::interrupted() && k + 1 < info.frames) {
      result.run.status = SimulateResult::Status::interrupted;
      result.run.signal = InterruptGuard::signal();
      log_warning("interrupted by signal ", result.run.signal, " after frame ", k, "; rerun the same command to continue");
      return result;
    }
  }
  result.run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  writer.finish();
  if (progress) progress->finish();
  for (double m : result.mse) result.mean_mse += m / static_cast<double>(result.mse.size());
  for (double m : result.baseline_mse) result.mean_baseline_mse += m / static_cast<double>(result.baseline_mse.size());
  log_info("wrote '", o.output(), "' (", info.frames, " frames of ", info.particles, " particles by ", model->type(),
           evaluator ? " on " + std::to_string(sparse.size(0)) + " sparse particles + giorom_evaluator" : std::string(), ", ",
           predict_seconds > 0 ? static_cast<double>(predicted) / predict_seconds : 0.0, " predicted frames/s)");
  if (!result.mse.empty())
    log_info("rollout position MSE against '", o.initial(), "' over ", result.mse.size(), " predicted frames: mean ",
             result.mean_mse, ", last ", result.mse.back(), " (the window extrapolated with the mean training acceleration: mean ",
             result.mean_baseline_mse, ", last ", result.baseline_mse.back(), ")");
  result.run.reference = score_against_reference(o, W + 1);
  return result;
}

}  // namespace physml::simulators
