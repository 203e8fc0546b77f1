#include "physml/train/nclaw_task.hpp"

#include "physml/core/error.hpp"
#include "physml/core/options_reader.hpp"
#include "physml/io/trajectory.hpp"
#include "physml/simulators/mpm_diff.hpp"
#include "physml/simulators/mpm_scene.hpp"
#include "physml/simulators/trajectory_metrics.hpp"

#include <torch/torch.h>

#include <cmath>

namespace physml::train {

NCLawTaskOptions& NCLawTaskOptions::set_from_options(const Options& options) {
  OptionsReader r(options, "NCLaw training: teacher-forced segments of one trajectory");
  segment_min(r.integer("segment_min", segment_min(), "frames per segment in the first epoch", 1));
  segment_max(r.integer("segment_max", segment_max(), "frames per segment in the last epoch", 1));
  loss_scale(r.real("loss_scale", loss_scale(), "factor of the position MSE"));
  valid_frames(r.integer("valid_frames", valid_frames(), "frames of the validation rollout from frame 0 (0 = all)", 0));
  valid_every(r.integer("valid_every", valid_every(), "validation MSE at every this-many-th frame", 1));
  allow_inverted(r.boolean("allow_inverted", allow_inverted(),
                           "roll out through inverted elements (J <= 0) and count them, instead of stopping"));
  diverged(r.choice("diverged", {"skip", "error"}, diverged(),
                    "a training segment that blows up: drop it from the loss (skip) or stop (error)"));
  dtype(r.choice("dtype", {"float64", "float32"}, dtype(),
                 "precision of the law and the simulation during training (float32: NCLaw's own, faster)"));
  checkpoints(r.integer("checkpoints", checkpoints(),
                        "particle states kept per training segment: 0 = every substep (fastest), K >= 1 = at most K "
                        "(binomial checkpointing; the backward pass recomputes the rest)",
                        0));
  r.end();
  PHYSML_CHECK(segment_min() <= segment_max(), "-segment_min ", segment_min(), " exceeds -segment_max ", segment_max());
  PHYSML_CHECK(loss_scale() > 0 && std::isfinite(loss_scale()), "-loss_scale ", loss_scale(), " must be positive");
  return *this;
}

TrainerOptions nclaw_trainer_options() {
  ScheduleOptions s;
  s.type = "cosine";
  s.lr = 1.0;
  return TrainerOptions().epochs(300).batch_size(1000).optimizer("adam").weight_decay(0.0).grad_clip(0.1).schedule(s);
}

struct NCLawTask::Impl {
  NCLawTaskOptions o;
  std::string path;
  simulators::MPMOptions mpm;
  mesh::ParticleSet constants;  // volume, mass (positions of frame 0)
  at::Tensor x, v, C, F, Fzz;   // [T, N, ...]
  std::int64_t T = 0, N = 0, substeps = 1, length = 25, inverted_reported = 0, diverged = 0;
  std::unique_ptr<simulators::DifferentiableMPM> mpm_diff;

  simulators::MPMState frame(std::int64_t k) const {
    simulators::MPMState s{x[k], v[k], C[k], F[k], Fzz.defined() ? Fzz[k] : at::Tensor()};
    return s;
  }
  /// Free rollout from frame `start` over `frames` frames; returns the positions [frames, N, d]
  /// of frames start+1 .. start+frames.
  /// If `diverged_frame` is given, a blow-up at frame k (NonFiniteError) ends the rollout
  /// there: frames k.. repeat the positions of frame k - 1 and *diverged_frame = k.
  at::Tensor roll(operators::Model& model, std::int64_t start, std::int64_t frames,
                  std::int64_t* diverged_frame = nullptr) const {
    auto net = std::shared_ptr<operators::Model>(&model, [](operators::Model*) {});
    const auto law = simulators::learned_law(net);
    auto s = frame(start);
    // The rollout runs in the model's dtype and on its device (prepare converts the data once;
    // a rollout_mse before training converts the start state here).
    const auto params = model.parameters();
    if (!params.empty())
      for (at::Tensor* t : {&s.x, &s.v, &s.C, &s.F, &s.F_zz})
        if (t->defined()) *t = t->to(params.front().device(), params.front().scalar_type());
    if (!diverged_frame && torch::GradMode::is_enabled())  // a training segment: the rollout with its memory policy
      return mpm_diff
          ->rollout(s, law, frames, simulators::MPMRolloutOptions().substeps_per_frame(substeps).checkpoints(o.checkpoints()),
                    params)
          .positions;
    std::vector<at::Tensor> xs;
    if (diverged_frame) *diverged_frame = 0;
    for (std::int64_t f = 0; f < frames; ++f) {
      try {
        for (std::int64_t k = 0; k < substeps; ++k) s = mpm_diff->substep(s, law);
      } catch (const NonFiniteError&) {
        if (!diverged_frame) throw;
        *diverged_frame = start + f + 1;
        for (; f < frames; ++f) xs.push_back(s.x);
        break;
      }
      xs.push_back(s.x);
    }
    return torch::stack(xs);
  }
};

NCLawTask::NCLawTask(const std::string& trajectory, NCLawTaskOptions options) : impl_(std::make_unique<Impl>()) {
  auto& I = *impl_;
  I.o = std::move(options);
  I.path = trajectory;
  auto r = io::TrajectoryReader::open(trajectory);
  const auto& info = r.info();
  for (const char* f : {"positions", "velocities", "C", "F"})
    PHYSML_CHECK(info.fields.count(f), "NCLaw training needs a trajectory with x, v, C and F per frame (physml simulate ",
                 "-store state); '", trajectory, "' has no field '", f, "'");
  I.T = info.frames;
  I.N = info.particles;
  PHYSML_CHECK(I.T >= 2, "trajectory '", trajectory, "' has ", I.T, " frame(s); NCLaw training needs at least 2");
  I.mpm = simulators::mpm_options_from_parameters(info.parameters_json);
  I.substeps = I.mpm.substeps();
  I.x = r.read("positions", 0, I.T).to(torch::kDouble);
  I.v = r.read("velocities", 0, I.T).to(torch::kDouble);
  I.C = r.read("C", 0, I.T).to(torch::kDouble);
  I.F = r.read("F", 0, I.T).to(torch::kDouble);
  if (info.fields.count("F_zz")) I.Fzz = r.read("F_zz", 0, I.T).to(torch::kDouble);
  I.constants = mesh::ParticleSet(I.x[0].clone());
  I.constants.set("volume", r.particle("volume").to(torch::kDouble)).set("mass", r.particle("mass").to(torch::kDouble));
  I.mpm_diff = std::make_unique<simulators::DifferentiableMPM>(I.mpm, I.constants);
  I.mpm_diff->allow_inverted(I.o.allow_inverted());
  I.length = std::min<std::int64_t>(I.o.segment_min(), I.T - 1);
}

NCLawTask::~NCLawTask() = default;
std::int64_t NCLawTask::frames() const { return impl_->T; }
std::int64_t NCLawTask::particles() const { return impl_->N; }

std::int64_t NCLawTask::segment_length(std::int64_t epoch, std::int64_t epochs) const {
  const auto& o = impl_->o;
  const double t = epochs > 1 ? static_cast<double>(epoch) / static_cast<double>(epochs - 1) : 1.0;
  const double L = static_cast<double>(o.segment_min()) +
                   static_cast<double>(o.segment_max() - o.segment_min()) * 0.5 * (1.0 - std::cos(M_PI * t));
  return std::max<std::int64_t>(1, std::min<std::int64_t>(static_cast<std::int64_t>(std::lround(L)), impl_->T - 1));
}

void NCLawTask::begin_epoch(std::int64_t epoch, std::int64_t epochs) { impl_->length = segment_length(epoch, epochs); }

std::int64_t NCLawTask::size() const { return (impl_->T - 1 + impl_->length - 1) / impl_->length; }

void NCLawTask::prepare(operators::Model& model) {
  auto params = model.parameters();
  PHYSML_CHECK(!params.empty(), "NCLaw training: the model has no parameters");
  auto& I = *impl_;
  const auto dtype = params.front().scalar_type();
  PHYSML_CHECK(dtype == torch::kDouble || dtype == torch::kFloat, "NCLaw training: float32 or float64 model expected");
  for (at::Tensor* t : {&I.x, &I.v, &I.C, &I.F, &I.Fzz})
    if (t->defined()) *t = t->to(params.front().device(), dtype);
  // A check that the model is a law: F [N, 3, 3] -> tau [N, 3, 3].
  simulators::learned_law(std::shared_ptr<operators::Model>(&model, [](operators::Model*) {}));  // throws for other types
  torch::NoGradGuard ng;
  const auto tau = model.forward(torch::eye(3, params.front().options()).expand({2, 3, 3}).contiguous());
  PHYSML_CHECK(tau.sizes() == c10::IntArrayRef({2, 3, 3}), "NCLaw training: the model maps F [N, 3, 3] to ",
               tau.sizes(), ", expected a stress [N, 3, 3] (model types nclaw, nclaw_elastic, nclaw_unconstrained)");
}

Batch NCLawTask::batch(const std::vector<std::int64_t>& indices, std::uint64_t) const {
  std::vector<double> starts;
  for (auto i : indices) starts.push_back(static_cast<double>(i * impl_->length));
  return {torch::tensor(starts, torch::kDouble), at::Tensor()};
}

at::Tensor NCLawTask::loss(operators::Model& model, const Batch& batch) {
  const auto& I = *impl_;
  const auto starts = batch.input.to(torch::kCPU, torch::kDouble).round().to(torch::kLong);
  at::Tensor total;
  std::int64_t used = 0;
  std::string last_failure;
  for (std::int64_t b = 0; b < starts.size(0); ++b) {
    const auto s = starts[b].item<std::int64_t>();
    const auto frames = std::min(I.length, I.T - 1 - s);
    at::Tensor pred;
    try {
      pred = I.roll(model, s, frames);
    } catch (const NonFiniteError& e) {
      if (I.o.diverged() == "error") throw;
      ++impl_->diverged;
      last_failure = e.what();
      continue;
    }
    const auto l = I.o.loss_scale() * (pred - I.x.slice(0, s + 1, s + 1 + frames)).pow(2).mean();
    total = total.defined() ? total + l : l;
    ++used;
  }
  if (used == 0)
    throw NonFiniteError(physml::detail::concat("NCLaw training: the rollouts of all ", starts.size(0),
                                        " segments of the batch blew up (last: ", last_failure,
                                        "); the learned law is unstable at this time step"),
                         __FILE__, __LINE__);
  return total / static_cast<double>(used);
}

double NCLawTask::rollout_mse(operators::Model& model, std::int64_t frames, std::int64_t every,
                              std::int64_t* diverged_frame) const {
  const auto& I = *impl_;
  torch::NoGradGuard ng;
  frames = frames <= 0 ? I.T - 1 : std::min(frames, I.T - 1);
  const auto pred = I.roll(model, 0, frames, diverged_frame);  // frames 1..frames
  return simulators::rollout_position_mse(pred, I.x.slice(0, 1, 1 + frames).to(pred.options()), every).item<double>();
}

std::map<std::string, double> NCLawTask::validate(operators::Model& model) {
  auto& I = *impl_;
  std::int64_t diverged_frame = 0;
  const double mse = rollout_mse(model, I.o.valid_frames(), I.o.valid_every(), &diverged_frame);
  const auto inverted = I.mpm_diff->inverted_count();
  const auto since = inverted - I.inverted_reported;
  I.inverted_reported = inverted;
  const auto diverged = I.diverged;
  I.diverged = 0;
  return {{"rollout_mse", mse},
          {"inverted", static_cast<double>(since)},
          {"diverged", static_cast<double>(diverged)},
          {"valid_diverged_frame", static_cast<double>(diverged_frame)}};
}

}  // namespace physml::train
