#include "physml/train/particle_task.hpp"

#include "physml/core/error.hpp"
#include "physml/core/options_reader.hpp"
#include "physml/core/random.hpp"
#include "physml/io/trajectory.hpp"
#include "physml/mesh/sampling.hpp"
#include "physml/operators/giorom.hpp"
#include "physml/simulators/particle_rollout.hpp"

#include <torch/torch.h>

#include <glob.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

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

namespace {

struct TrajectoryData {
  std::string path;
  at::Tensor x;         // [T, N, d] float64
  at::Tensor material;  // [N] int64
};

/// Positions and materials of a Trajectory file; `who` names the task in the messages.
TrajectoryData read_trajectory(const std::string& path, const char* who) {
  PHYSML_CHECK(std::filesystem::exists(path), who, ": trajectory file '", path, "' does not exist");
  auto r = io::TrajectoryReader::open(path);
  const auto& info = r.info();
  TrajectoryData t;
  t.path = path;
  t.x = r.read("positions", 0, info.frames).to(torch::kDouble);
  at::Tensor m;
  try {
    m = r.particle("material");
  } catch (const Error& e) {
    PHYSML_THROW(who, ": '", path, "' stores no particle materials (write it with physml simulate): ", e.what());
  }
  t.material = m.to(torch::kLong).reshape({-1});
  PHYSML_CHECK(t.material.size(0) == t.x.size(1), who, ": '", path, "' has ", t.material.size(0), " materials for ",
               t.x.size(1), " particles");
  return t;
}

}  // namespace

struct ParticleTask::Impl {
  ParticleTaskOptions o;
  using Trajectory = TrajectoryData;
  std::vector<Trajectory> train, valid;
  std::int64_t window = 5, d = 0;
  std::vector<std::pair<std::int64_t, std::int64_t>> samples;  // (trajectory, t)
  double noise = 0;

  static Trajectory read(const std::string& path) { return read_trajectory(path, "ParticleTask"); }
};

namespace {

/// The entries of `files` with the wildcard patterns replaced by the files they match (sorted).
std::vector<std::string> expand_patterns(const std::vector<std::string>& files, const char* what,
                                         const char* who = "ParticleTask") {
  std::vector<std::string> out;
  for (const auto& f : files) {
    if (f.find_first_of("*?[") == std::string::npos || std::filesystem::exists(f)) {  // a literal path
      out.push_back(f);
      continue;
    }
    glob_t g{};
    const int rc = ::glob(f.c_str(), 0, nullptr, &g);  // sorted by glob(3)
    std::vector<std::string> matched(g.gl_pathv, g.gl_pathv + (rc == 0 ? g.gl_pathc : 0));
    globfree(&g);
    PHYSML_CHECK(rc == 0 || rc == GLOB_NOMATCH, who, ": ", what, " pattern '", f, "' could not be read (glob error ", rc, ")");
    PHYSML_CHECK(!matched.empty(), who, ": ", what, " pattern '", f, "' matches no file");
    out.insert(out.end(), matched.begin(), matched.end());
  }
  return out;
}

/// A file listed twice, or for training and validation, is an error (an overlapping pattern
/// would otherwise validate on training data without a word). After the files were read, so
/// that a file of the wrong kind is reported as that first.
void check_listed_once(const std::vector<std::string>& train, const std::vector<std::string>& valid, const char* who) {
  std::map<std::string, std::string> seen;  // canonical path -> the list it came from
  for (const auto* list : {&train, &valid})
    for (const auto& f : *list) {
      std::error_code ec;
      auto key = std::filesystem::weakly_canonical(f, ec).string();
      if (ec) key = f;
      const char* where = list == &train ? "training" : "validation";
      const auto it = seen.find(key);
      PHYSML_CHECK(it == seen.end(), who, ": '", f, "' is listed twice (", it == seen.end() ? "" : it->second, " and ",
                   where, " files); each trajectory may appear once");
      seen.emplace(key, where);
    }
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
  check_listed_once(train, valid, "ParticleTask");
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

// ---------------------------------------------------------------------------------------------
// EvaluatorTask

EvaluatorTaskOptions& EvaluatorTaskOptions::set_from_options(const Options& options) {
  OptionsReader r(options, "GIOROM point evaluator training: full-resolution frames of Trajectory files");
  sparse(r.integer("evaluator_sparse", sparse(), "sparse points per trajectory (at most its particles)", 1));
  sampling(r.choice("evaluator_sampling", {"fps", "random"}, sampling(), "how the sparse points are chosen"));
  queries(r.integer("evaluator_queries", queries(), "query particles per training sample (0 = all)", 0));
  valid_every(r.integer("evaluator_valid_every", valid_every(), "validate on every k-th frame", 1));
  r.end();
  return *this;
}

struct EvaluatorTask::Impl {
  EvaluatorTaskOptions o;
  std::vector<TrajectoryData> train, valid;
  std::vector<at::Tensor> sparse_train, sparse_valid;  // [S] int64 per trajectory
  std::vector<std::pair<std::int64_t, std::int64_t>> samples;  // (trajectory, frame)
  std::int64_t d = 0;

  at::Tensor choose(const TrajectoryData& t, std::int64_t index) const {
    const auto n = t.x.size(1);
    PHYSML_CHECK(o.sparse() <= n, "EvaluatorTask: -evaluator_sparse ", o.sparse(), " exceeds the ", n, " particles of '",
                 t.path, "'");
    return simulators::sparse_subset(t.x[0], o.sparse(), o.sampling(), static_cast<std::uint64_t>(index));
  }

  /// Position MSE (sum over axes, mean over the queries) of frame f of t; the queries' squared
  /// displacement sum and error sum go to *err / *disp when given.
  static at::Tensor frame_mse(operators::PointEvaluatorImpl& ev, const TrajectoryData& t, const at::Tensor& sparse,
                              std::int64_t f, const at::Tensor& queries, double* err = nullptr, double* disp = nullptr) {
    const auto X = t.x[0], x = t.x[f];
    const auto Xq = queries.defined() ? X.index_select(0, queries) : X;
    const auto xq = queries.defined() ? x.index_select(0, queries) : x;
    const auto pred = ev.evaluate(X.index_select(0, sparse), x.index_select(0, sparse), Xq);
    const auto e = (pred - xq.to(pred.options())).pow(2).sum(-1);
    if (err) *err += e.sum().item<double>();
    if (disp) *disp += (xq - Xq).pow(2).sum().item<double>();
    return e.mean();
  }
};

EvaluatorTask::EvaluatorTask(std::vector<std::string> train, std::vector<std::string> valid, EvaluatorTaskOptions options)
    : impl_(std::make_unique<Impl>()) {
  auto& I = *impl_;
  I.o = options;
  PHYSML_CHECK(I.o.sampling() == "fps" || I.o.sampling() == "random", "EvaluatorTask: sampling '", I.o.sampling(),
               "': expected fps or random");
  PHYSML_CHECK(I.o.sparse() >= 1 && I.o.queries() >= 0 && I.o.valid_every() >= 1,
               "EvaluatorTask: expected sparse >= 1, queries >= 0, valid_every >= 1");
  train = expand_patterns(train, "training", "EvaluatorTask");
  valid = expand_patterns(valid, "validation", "EvaluatorTask");
  PHYSML_CHECK(!train.empty(), "EvaluatorTask: no training trajectories");
  for (const auto& p : train) I.train.push_back(read_trajectory(p, "EvaluatorTask"));
  for (const auto& p : valid) I.valid.push_back(read_trajectory(p, "EvaluatorTask"));
  check_listed_once(train, valid, "EvaluatorTask");
  I.d = I.train[0].x.size(2);
  for (const auto* set : {&I.train, &I.valid})
    for (const auto& t : *set) {
      PHYSML_CHECK(t.x.size(2) == I.d, "EvaluatorTask: '", t.path, "' holds ", t.x.size(2), "-D particles, '",
                   I.train[0].path, "' ", I.d, "-D ones");
      PHYSML_CHECK(t.x.size(0) >= 2, "EvaluatorTask: '", t.path, "' has ", t.x.size(0),
                   " frame(s); expected the reference frame and at least one more");
      PHYSML_CHECK(torch::isfinite(t.x).all().item<bool>(), "EvaluatorTask: '", t.path, "' has NaN or Inf positions");
    }
  for (size_t k = 0; k < I.train.size(); ++k) {
    I.sparse_train.push_back(I.choose(I.train[k], static_cast<std::int64_t>(k)));
    for (std::int64_t f = 1; f < I.train[k].x.size(0); ++f) I.samples.emplace_back(static_cast<std::int64_t>(k), f);
  }
  for (size_t k = 0; k < I.valid.size(); ++k) I.sparse_valid.push_back(I.choose(I.valid[k], static_cast<std::int64_t>(k)));
}

EvaluatorTask::~EvaluatorTask() = default;

std::int64_t EvaluatorTask::size() const { return static_cast<std::int64_t>(impl_->samples.size()); }

std::int64_t EvaluatorTask::dim() const { return impl_->d; }

std::int64_t EvaluatorTask::train_trajectories() const { return static_cast<std::int64_t>(impl_->train.size()); }

std::int64_t EvaluatorTask::valid_trajectories() const { return static_cast<std::int64_t>(impl_->valid.size()); }

at::Tensor EvaluatorTask::sparse_indices(std::int64_t k) const {
  PHYSML_CHECK(k >= 0 && k < train_trajectories(), "EvaluatorTask: no training trajectory ", k);
  return impl_->sparse_train[static_cast<size_t>(k)];
}

namespace {

operators::PointEvaluatorImpl& as_evaluator(operators::Model& model) {
  auto* ev = dynamic_cast<operators::PointEvaluatorImpl*>(&model);
  PHYSML_CHECK(ev != nullptr, "EvaluatorTask: a model of type '", model.type(),
               "' is not a point evaluator (expected giorom_evaluator)");
  return *ev;
}

}  // namespace

void EvaluatorTask::prepare(operators::Model& model) {
  auto& ev = as_evaluator(model);
  const auto& eo = ev.options();
  PHYSML_CHECK(eo.dim() == impl_->d, "EvaluatorTask: the giorom_evaluator model is ", eo.dim(), "-D, the trajectories are ",
               impl_->d, "-D");
  // The evaluator's own checks (box, shapes), once per trajectory now rather than at the first batch.
  torch::NoGradGuard ng;
  const auto& I = *impl_;
  for (const auto* set : {&I.train, &I.valid})
    for (size_t k = 0; k < set->size(); ++k) {
      const auto& t = (*set)[k];
      const auto X = t.x[0], S = (set == &I.train ? I.sparse_train : I.sparse_valid)[k];
      try {
        ev.evaluate(X.index_select(0, S), X.index_select(0, S), X);
      } catch (const Error& e) {
        PHYSML_THROW("EvaluatorTask: '", t.path, "': ", e.what(), " (set -giorom_evaluator_lower / -giorom_evaluator_upper)");
      }
    }
}

Batch EvaluatorTask::batch(const std::vector<std::int64_t>& indices, std::uint64_t seed) const {
  const auto& I = *impl_;
  auto input = torch::empty({static_cast<std::int64_t>(indices.size()), 2}, torch::kLong);
  const std::int64_t q = I.o.queries();
  std::vector<at::Tensor> queries;
  for (size_t b = 0; b < indices.size(); ++b) {
    const auto [k, f] = I.samples.at(static_cast<size_t>(indices[b]));
    input[static_cast<std::int64_t>(b)][0] = k;
    input[static_cast<std::int64_t>(b)][1] = f;
    if (q > 0) {
      const auto n = I.train[static_cast<size_t>(k)].x.size(1);
      queries.push_back(mesh::random_sample(n, std::min(q, n), derive_seed(seed, b)));
    }
  }
  if (q == 0) return {input, torch::empty({input.size(0), 0}, torch::kLong)};
  // Trajectories with fewer than q particles keep them all, padded to the batch's width by
  // repeating them cyclically (so the first ones count slightly more in that sample's mean).
  const auto width = std::max_element(queries.begin(), queries.end(), [](const at::Tensor& a, const at::Tensor& c) {
                       return a.size(0) < c.size(0);
                     })->size(0);
  for (auto& t : queries)
    if (t.size(0) < width) t = t.repeat({(width + t.size(0) - 1) / t.size(0)}).slice(0, 0, width);
  return {input, torch::stack(queries)};
}

at::Tensor EvaluatorTask::loss(operators::Model& model, const Batch& batch) {
  auto& ev = as_evaluator(model);
  const auto& I = *impl_;
  // (The Trainer may have cast the batch to the model's dtype: indices are exact in it.)
  const auto in = batch.input.to(torch::kCPU).to(torch::kLong);
  const auto qs = batch.target.to(torch::kCPU).to(torch::kLong);
  at::Tensor total;
  for (std::int64_t b = 0; b < in.size(0); ++b) {
    const auto k = in[b][0].item<std::int64_t>(), f = in[b][1].item<std::int64_t>();
    const auto& t = I.train.at(static_cast<size_t>(k));
    const auto m = Impl::frame_mse(ev, t, I.sparse_train[static_cast<size_t>(k)], f, qs.size(1) > 0 ? qs[b] : at::Tensor());
    total = total.defined() ? total + m : m;
  }
  return total / static_cast<double>(in.size(0));
}

std::map<std::string, double> EvaluatorTask::validate(operators::Model& model) {
  const auto& I = *impl_;
  if (I.valid.empty()) return {};
  auto& ev = as_evaluator(model);
  torch::NoGradGuard ng;
  double mse = 0, err = 0, disp = 0;
  std::int64_t frames = 0;
  for (size_t k = 0; k < I.valid.size(); ++k)
    for (std::int64_t f = 1; f < I.valid[k].x.size(0); f += I.o.valid_every()) {
      mse += Impl::frame_mse(ev, I.valid[k], I.sparse_valid[k], f, at::Tensor(), &err, &disp).item<double>();
      ++frames;
    }
  return {{"position_mse", mse / static_cast<double>(frames)}, {"relative_error", disp > 0 ? std::sqrt(err / disp) : 0.0}};
}

}  // namespace physml::train
