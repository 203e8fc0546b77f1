#include "physml/embed/online_trainer.hpp"

#include "physml/core/options_reader.hpp"
#include "physml/io/checkpoint.hpp"
#include "physml/operators/checkpoint.hpp"
#include "physml/train/losses.hpp"

#include <torch/torch.h>

#include <cmath>
#include <mutex>
#include <shared_mutex>

namespace physml::embed {
namespace {

/// Training mode for the lifetime of the guard, evaluation mode after.
struct TrainingMode {
  explicit TrainingMode(Model& m) : model(m) { model.train(true); }
  ~TrainingMode() { model.train(false); }
  Model& model;
};

constexpr const char* kTorchScriptType = "torchscript";

}  // namespace

OnlineTrainerOptions& OnlineTrainerOptions::set_from_options(const Options& options) {
  {
    OptionsReader r(options, "Online training (physml::embed::OnlineTrainer)");
    optimizer(r.choice("optimizer", {"adam", "adamw"}, optimizer(), "adam (L2 weight decay) or adamw (decoupled)"));
    weight_decay(r.real("weight_decay", weight_decay(), "weight decay"));
    total_steps(r.integer("total_steps", total_steps(), "length of the learning-rate schedule in training steps", 1));
    loss(r.string("loss", loss(), "loss of input/target steps: mse, l2, h1, h1_spectral"));
    grad_clip(r.real("grad_clip", grad_clip(), "clip the global gradient 2-norm to this value (0 = off)"));
    checkpoint(r.string("checkpoint", checkpoint(), "Checkpoint file written every checkpoint_every steps"));
    checkpoint_every(r.integer("checkpoint_every", checkpoint_every(), "steps between checkpoints (0 = never)", 0));
  }
  auto s = schedule();
  s.set_from_options(options, "Online training learning-rate schedule (stepped once per training step)");
  schedule(s);
  return *this;
}

OnlineTrainer::OnlineTrainer(Model& model, OnlineTrainerOptions options) : model_(model), options_(std::move(options)) {
  PHYSML_CHECK(options_.total_steps() >= 1, "OnlineTrainer total_steps must be >= 1, got ", options_.total_steps());
  PHYSML_CHECK(options_.grad_clip() >= 0, "OnlineTrainer grad_clip must be >= 0, got ", options_.grad_clip());
  auto s = options_.schedule();
  s.total_steps = options_.total_steps();
  options_.schedule(s);
  schedule_ = std::make_unique<train::LRSchedule>(s);
  auto params = model_.parameters();
  PHYSML_CHECK(!params.empty(), "OnlineTrainer: the model has no trainable parameters");
  {
    std::unique_lock lock(model_.mutex());
    for (auto& p : params) p.requires_grad_(true);
  }
  optimizer_ = train::make_optimizer(options_.optimizer(), params, s.lr, options_.weight_decay());
  // Validates the loss name now rather than at the first step.
  train::loss_by_name(options_.loss(), torch::ones({1, 1, 2}), torch::ones({1, 1, 2}));
}

OnlineTrainer::~OnlineTrainer() = default;

double OnlineTrainer::learning_rate() const { return schedule_->lr(steps_); }

double OnlineTrainer::finish_step(at::Tensor loss) {
  PHYSML_CHECK(loss.defined() && loss.numel() == 1, "OnlineTrainer: the loss must be a scalar tensor, got ",
               loss.defined() ? loss.sizes() : at::IntArrayRef{});
  PHYSML_CHECK(loss.requires_grad(), "OnlineTrainer: the loss does not depend on the model's parameters "
                                     "(compute it from Model::forward_with_grad)");
  const double value = loss.item<double>();
  if (!std::isfinite(value))
    throw NonFiniteError(detail::concat("online training: loss is ", value, " at step ", steps_ + 1,
                                        "; the parameters are unchanged"),
                         __FILE__, __LINE__);
  optimizer_->zero_grad();
  loss.backward();
  if (options_.grad_clip() > 0) {
    const double norm = torch::nn::utils::clip_grad_norm_(model_.parameters(), options_.grad_clip());
    if (!std::isfinite(norm)) {
      optimizer_->zero_grad();
      throw NonFiniteError(detail::concat("online training: gradient norm is ", norm, " at step ", steps_ + 1,
                                          "; the parameters are unchanged"),
                           __FILE__, __LINE__);
    }
  }
  train::set_learning_rate(*optimizer_, schedule_->lr(steps_));
  optimizer_->step();
  ++steps_;
  if (!options_.checkpoint().empty() && options_.checkpoint_every() > 0 && steps_ % options_.checkpoint_every() == 0)
    write_checkpoint(options_.checkpoint());  // this step holds the model's lock
  return value;
}

double OnlineTrainer::step(const std::vector<at::Tensor>& inputs, const std::vector<at::Tensor>& targets) {
  std::unique_lock lock(model_.mutex());
  TrainingMode mode(model_);
  const auto out = model_.forward_with_grad(inputs);
  if (out.size() != targets.size())
    throw ShapeError(detail::concat("online training: the model returned ", out.size(), " outputs, got ",
                                    targets.size(), " targets"),
                     __FILE__, __LINE__);
  at::Tensor loss;
  for (std::size_t k = 0; k < out.size(); ++k) {
    const auto& y = targets[k];
    PHYSML_CHECK(y.defined(), "online training: target ", k, " is undefined");
    if (y.sizes() != out[k].sizes())
      throw ShapeError(detail::concat("online training: target ", k, " has shape ", y.sizes(), ", the model's output ",
                                      k, " has shape ", out[k].sizes()),
                       __FILE__, __LINE__);
    if (y.scalar_type() != out[k].scalar_type())
      throw DTypeError(detail::concat("online training: target ", k, " has dtype ", c10::toString(y.scalar_type()),
                                      ", the model's output ", k, " has dtype ", c10::toString(out[k].scalar_type())),
                       __FILE__, __LINE__);
    if (model_.options().check_finite() && !torch::isfinite(y).all().item<bool>())
      throw NonFiniteError(detail::concat("online training: target ", k, " contains NaN or Inf"), __FILE__, __LINE__);
    auto l = train::loss_by_name(options_.loss(), out[k], y);
    loss = loss.defined() ? loss + l : l;
  }
  PHYSML_CHECK(loss.defined(), "online training: the model returned no outputs");
  return finish_step(loss);
}

double OnlineTrainer::step(const at::Tensor& input, const at::Tensor& target) {
  return step(std::vector<at::Tensor>{input}, std::vector<at::Tensor>{target});
}

double OnlineTrainer::step(const std::vector<ArrayView>& inputs, const std::vector<ArrayView>& targets) {
  std::vector<at::Tensor> x, y;
  for (const auto& v : inputs) x.push_back(as_tensor(v, model_.options().device()));
  for (const auto& v : targets) y.push_back(as_tensor(v, model_.options().device()));
  return step(x, y);
}

double OnlineTrainer::step(const std::function<at::Tensor(Model&)>& loss) {
  PHYSML_CHECK(loss != nullptr, "OnlineTrainer::step: null loss function");
  std::unique_lock lock(model_.mutex());
  TrainingMode mode(model_);
  torch::AutoGradMode grad(true);
  return finish_step(loss(model_));
}

void OnlineTrainer::save(const std::string& path) const {
  std::shared_lock lock(model_.mutex());  // no step changes the weights while they are written
  write_checkpoint(path);
}

void OnlineTrainer::write_checkpoint(const std::string& path) const {
  io::Attributes state{{"online_step", static_cast<std::int64_t>(steps_)},
                       {"learning_rate", schedule_->lr(steps_)}};
  if (auto m = model_.physml_model()) {
    operators::save(path, *m, state, optimizer_.get());
  } else {
    io::save_checkpoint(path, model_.module(), kTorchScriptType, {{"source", model_.path()}}, state,
                        optimizer_.get());
  }
}

void OnlineTrainer::resume(const std::string& path) {
  std::unique_lock lock(model_.mutex());
  // FileNotFoundError / FileFormatError naming the file.
  if (detect_format(path) != ModelFormat::PhysMLCheckpoint)
    throw FileFormatError(detail::concat("cannot resume online training from '", path,
                                         "': it is a TorchScript file, not a PhysML Checkpoint (OnlineTrainer::save)"),
                          __FILE__, __LINE__);
  io::CheckpointInfo info;
  try {
    info = io::read_checkpoint_info(path);
  } catch (const Error& e) {
    throw FileFormatError(detail::concat("cannot resume online training from '", path,
                                         "': an HDF5 file but not a PhysML Checkpoint: ", e.what()),
                          __FILE__, __LINE__);
  }
  PHYSML_CHECK(info.has_optimizer, "checkpoint ", path, " has no optimizer state; cannot resume online training from it");
  auto it = info.state.find("online_step");
  PHYSML_CHECK(it != info.state.end(), "checkpoint ", path,
               " has no online_step (not written by OnlineTrainer::save); cannot resume from it");
  std::int64_t step = 0;
  if (const auto* i = std::get_if<std::int64_t>(&it->second))
    step = *i;
  else if (const auto* d = std::get_if<double>(&it->second))
    step = static_cast<std::int64_t>(*d);
  else
    PHYSML_THROW("checkpoint ", path, ": online_step is not a number");
  if (auto m = model_.physml_model()) {
    operators::load_into(path, *m, optimizer_.get());
  } else {
    PHYSML_CHECK(info.model_type == kTorchScriptType, "checkpoint ", path, " holds a '", info.model_type,
                 "' model, cannot resume training a TorchScript model from it");
    io::load_checkpoint(path, model_.module(), optimizer_.get());
  }
  steps_ = step;
}

}  // namespace physml::embed
