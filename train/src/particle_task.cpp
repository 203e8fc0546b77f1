#include "physml/train/particle_task.hpp"

#include "physml/core/error.hpp"
#include "physml/core/options_reader.hpp"
#include "physml/io/trajectory.hpp"
#include "physml/mesh/sampling.hpp"
#include "physml/simulators/particle_rollout.hpp"

#include <torch/torch.h>

#include <glob.h>

#include <cmath>
#include <filesystem>

namespace physml::train {

ParticleTaskOptions& ParticleTaskOptions::set_from_options(const Options& options) {
  OptionsReader r(options, "Particle simulator training (GNS, GIOROM): windows of Trajectory files");
  position_weight(r.real("position_weight", position_weight(), "factor of the next-position MSE (GIOROM: 1e9)"));
  sample_fraction(r.real("sample_fraction", sample_fraction(), "fraction of the particles each sample keeps (1 = all)"));
  valid_frames(r.integer("valid_frames", valid_frames(), "frames of the validation rollouts (0 = to the end)", 0));
  r.end();
  PHYSML_CHECK(position_weight() >= 0 && std::isfinite(position_weight()), "-position_weight ", position_weight(),
               " must be >= 0");
  PHYSML_CHECK(sample_fraction() > 0 && sample_fraction() <= 1, "-sample_fraction ", sample_fraction(),
               " must be in (0, 1]");
  return *this;
}

TrainerOptions particle_trainer_options() {
  ScheduleOptions s;
  s.type = "step";  // exponential decay per epoch: lr 0.9^epoch
  s.lr = 1e-4;
  s.step_size = 1;
  s.gamma = 0.9;
  return TrainerOptions().epochs(20).batch_size(2).optimizer("adam").weight_decay(0.0).schedule(s);
}

struct ParticleTask::Impl {
  ParticleTaskOptions o;
  struct Trajectory {
    std::string path;
    at::Tensor x;         // [T, N, d] float64
    at::Tensor material;  // [N] int64
  };
  std::vector<Trajectory> train, valid;
  std::int64_t window = 5, d = 0;
  std::vector<std::pair<std::int64_t, std::int64_t>> samples;  // (trajectory, t)
  double noise = 0;

  static Trajectory read(const std::string& path) {
    PHYSML_CHECK(std::filesystem::exists(path), "ParticleTask: trajectory file '", path, "' does not exist");
    auto r = io::TrajectoryReader::open(path);
    const auto& info = r.info();
    Trajectory t;
    t.path = path;
    t.x = r.read("positions", 0, info.frames).to(torch::kDouble);
    at::Tensor m;
    try {
      m = r.particle("material");
    } catch (const Error& e) {
      PHYSML_THROW("ParticleTask: '", path, "' stores no particle materials (write it with physml simulate): ", e.what());
    }
    t.material = m.to(torch::kLong).reshape({-1});
    PHYSML_CHECK(t.material.size(0) == t.x.size(1), "ParticleTask: '", path, "' has ", t.material.size(0),
                 " materials for ", t.x.size(1), " particles");
    return t;
  }
};

namespace {

/// The entries of `files` with the wildcard patterns replaced by the files they match (sorted).
std::vector<std::string> expand_patterns(const std::vector<std::string>& files, const char* what) {
  std::vector<std::string> out;
  for (const auto& f : files) {
    if (f.find_first_of("*?[") == std::string::npos) {
      out.push_back(f);
      continue;
    }
    glob_t g{};
    const int rc = ::glob(f.c_str(), 0, nullptr, &g);  // sorted by glob(3)
    std::vector<std::string> matched(g.gl_pathv, g.gl_pathv + (rc == 0 ? g.gl_pathc : 0));
    globfree(&g);
    PHYSML_CHECK(rc == 0 || rc == GLOB_NOMATCH, "ParticleTask: ", what, " pattern '", f, "' could not be read (glob error ", rc, ")");
    PHYSML_CHECK(!matched.empty(), "ParticleTask: ", what, " pattern '", f, "' matches no file");
    out.insert(out.end(), matched.begin(), matched.end());
  }
  return out;
}

}  // namespace

ParticleTask::ParticleTask(std::vector<std::string> train, std::vector<std::string> valid, ParticleTaskOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->o = options;
  train = expand_patterns(train, "training");
  valid = expand_patterns(valid, "validation");
  PHYSML_CHECK(!train.empty(), "ParticleTask: no training trajectories");
  for (const auto& p : train) impl_->train.push_back(Impl::read(p));
  for (const auto& p : valid) impl_->valid.push_back(Impl::read(p));
  impl_->d = impl_->train[0].x.size(2);
  for (const auto* set : {&impl_->train, &impl_->valid})
    for (const auto& t : *set)
      PHYSML_CHECK(t.x.size(2) == impl_->d, "ParticleTask: '", t.path, "' holds ", t.x.size(2), "-D particles, '",
                   impl_->train[0].path, "' ", impl_->d, "-D ones");
}

ParticleTask::~ParticleTask() = default;

std::int64_t ParticleTask::dim() const { return impl_->d; }

std::int64_t ParticleTask::train_trajectories() const { return static_cast<std::int64_t>(impl_->train.size()); }

std::int64_t ParticleTask::valid_trajectories() const { return static_cast<std::int64_t>(impl_->valid.size()); }

std::int64_t ParticleTask::size() const { return static_cast<std::int64_t>(impl_->samples.size()); }

void ParticleTask::prepare(operators::Model& model) {
  auto* pm = dynamic_cast<operators::ParticleModel*>(&model);
  PHYSML_CHECK(pm != nullptr, "ParticleTask: a model of type '", model.type(),
               "' is not a particle simulator (expected gns or giorom)");
  const auto& in = pm->input_options();
  auto& I = *impl_;
  PHYSML_CHECK(in.dim() == I.d, "ParticleTask: the ", model.type(), " model is ", in.dim(), "-D, the trajectories are ", I.d,
               "-D");
  I.window = in.window();
  I.noise = in.noise();
  I.samples.clear();
  std::vector<at::Tensor> xs;
  for (std::size_t k = 0; k < I.train.size(); ++k) {
    const auto& t = I.train[k];
    PHYSML_CHECK(t.x.size(0) >= I.window + 2, "ParticleTask: '", t.path, "' has ", t.x.size(0), " frames; the model's window needs at least ",
                 I.window + 2);
    const auto hi = t.material.max().item<std::int64_t>();
    PHYSML_CHECK(hi < in.materials(), "ParticleTask: '", t.path, "' has material id ", hi, "; the model knows ",
                 in.materials(), " materials");
    for (std::int64_t f = I.window; f + 1 < t.x.size(0); ++f) I.samples.emplace_back(static_cast<std::int64_t>(k), f);
    xs.push_back(t.x);
  }
  for (const auto& t : I.valid)
    PHYSML_CHECK(t.x.size(0) >= I.window + 2, "ParticleTask: validation trajectory '", t.path, "' has ", t.x.size(0),
                 " frames; at least ", I.window + 2, " needed");
  pm->set_statistics(operators::ParticleStatistics::of(xs));
}

Batch ParticleTask::batch(const std::vector<std::int64_t>& indices, std::uint64_t seed) const {
  const auto& I = *impl_;
  PHYSML_CHECK(!I.samples.empty(), "ParticleTask: prepare() was not called");
  std::vector<at::Tensor> windows, ids;
  std::int64_t system = 0;
  for (const auto i : indices) {
    const auto [k, f] = I.samples[static_cast<size_t>(i)];
    const auto& t = I.train[static_cast<size_t>(k)];
    auto w = t.x.slice(0, f - I.window, f + 2);  // [W + 2, N, d]: the window and the next frame
    auto mat = t.material;
    if (I.o.sample_fraction() < 1) {
      const auto n = t.x.size(1);
      const auto keep = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::llround(I.o.sample_fraction() * n)));
      const auto idx = mesh::random_sample(n, keep, seed * 0x9e3779b97f4a7c15ULL + static_cast<std::uint64_t>(i));
      w = w.index_select(1, idx);
      mat = mat.index_select(0, idx);
    }
    windows.push_back(w);
    ids.push_back(torch::stack({mat.to(torch::kDouble), torch::full({mat.size(0)}, static_cast<double>(system++), torch::kDouble)}, 1));
  }
  auto x = torch::cat(windows, 1).clone();
  // GNS random-walk noise: per-velocity std noise / sqrt(W), cumulative over the window's
  // velocities and integrated to positions (frame t-W keeps its position); the next frame gets
  // the last position's noise so that the target is corrected for it.
  if (I.noise > 0) {
    auto g = at::make_generator<at::CPUGeneratorImpl>(seed ^ 0x5bd1e995ULL);
    const auto W = I.window;
    const auto dv = torch::randn({W, x.size(1), x.size(2)}, g, torch::kDouble) * (I.noise / std::sqrt(static_cast<double>(W)));
    const auto pos = torch::cumsum(torch::cumsum(dv, 0), 0);  // noise of frames t-W+1 .. t
    x.slice(0, 1, W + 1) += pos;
    x[W + 1] += pos[W - 1];
  }
  return {x, torch::cat(ids)};
}

at::Tensor ParticleTask::loss(operators::Model& model, const Batch& b) {
  auto& pm = dynamic_cast<operators::ParticleModel&>(model);
  const auto W = impl_->window;
  operators::ParticleWindow w;
  w.positions = b.input.slice(0, 0, W + 1);
  w.material = b.target.select(1, 0).round().to(torch::kLong);
  w.system = b.target.select(1, 1).round().to(torch::kLong);
  const auto next = b.input[W + 1];
  const auto a = pm.acceleration(w);
  auto loss = torch::mse_loss(a, pm.normalised_acceleration(w, next));
  if (impl_->o.position_weight() > 0) loss = loss + impl_->o.position_weight() * torch::mse_loss(pm.integrate(w, a), next);
  return loss;
}

std::map<std::string, double> ParticleTask::validate(operators::Model& model) {
  auto& pm = dynamic_cast<operators::ParticleModel&>(model);
  const auto& I = *impl_;
  if (I.valid.empty()) return {};
  const bool was_training = model.is_training();
  model.eval();
  double rollout_sum = 0, one = 0;
  std::int64_t n_roll = 0, n_one = 0;
  for (const auto& t : I.valid) {
    const auto T = t.x.size(0);
    const auto frames = I.o.valid_frames() > 0 ? std::min(I.o.valid_frames(), T - I.window - 1) : T - I.window - 1;
    const auto pred = simulators::rollout_particles(pm, t.x.slice(0, 0, I.window + 1), t.material, frames).to(torch::kDouble);
    const auto truth = t.x.slice(0, I.window + 1, I.window + 1 + frames);
    rollout_sum += (pred - truth).pow(2).sum(-1).mean().item<double>();
    ++n_roll;
    torch::NoGradGuard ng;
    for (std::int64_t f = I.window; f + 1 < T; ++f) {
      operators::ParticleWindow w;
      w.positions = t.x.slice(0, f - I.window, f + 1).to(model.parameters().front().options());
      w.material = t.material;
      one += (pm.step(w).to(torch::kDouble) - t.x[f + 1]).pow(2).sum(-1).mean().item<double>();
      ++n_one;
    }
  }
  if (was_training) model.train();
  return {{"rollout_mse", rollout_sum / static_cast<double>(n_roll)}, {"one_step_mse", one / static_cast<double>(n_one)}};
}

}  // namespace physml::train
