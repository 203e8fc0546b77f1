#include "physml/train/schedule.hpp"

#include "physml/core/error.hpp"
#include "physml/core/options_reader.hpp"

#include <torch/torch.h>

#include <cmath>

namespace physml::train {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::string& name, std::vector<at::Tensor> parameters,
                                                        double lr, double weight_decay) {
  PHYSML_CHECK(lr > 0, "learning rate must be > 0, got ", lr);
  PHYSML_CHECK(weight_decay >= 0, "weight decay must be >= 0, got ", weight_decay);
  if (name == "adam")
    return std::make_unique<torch::optim::Adam>(std::move(parameters),
                                                torch::optim::AdamOptions(lr).weight_decay(weight_decay));
  if (name == "adamw")
    return std::make_unique<torch::optim::AdamW>(std::move(parameters),
                                                 torch::optim::AdamWOptions(lr).weight_decay(weight_decay));
  PHYSML_THROW("unknown optimizer '", name, "'; expected adam or adamw");
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::string& name,
                                                        const std::vector<operators::ParameterGroup>& groups,
                                                        double lr, double weight_decay) {
  PHYSML_CHECK(!groups.empty(), "make_optimizer: no parameter groups");
  std::vector<double> scales;
  for (const auto& g : groups) {
    PHYSML_CHECK(g.lr_scale > 0 && std::isfinite(g.lr_scale), "parameter group '", g.name,
                 "': lr_scale must be positive, got ", g.lr_scale);
    scales.push_back(g.lr_scale);
  }
  auto opt = make_optimizer(name, groups.front().parameters, lr, weight_decay);
  for (std::size_t k = 1; k < groups.size(); ++k) {
    if (name == "adam")
      opt->add_param_group(torch::optim::OptimizerParamGroup(
          groups[k].parameters, std::make_unique<torch::optim::AdamOptions>(torch::optim::AdamOptions(lr).weight_decay(weight_decay))));
    else
      opt->add_param_group(torch::optim::OptimizerParamGroup(
          groups[k].parameters, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(lr).weight_decay(weight_decay))));
  }
  set_learning_rate(*opt, lr, scales);
  return opt;
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr, const std::vector<double>& scales) {
  auto& groups = optimizer.param_groups();
  PHYSML_CHECK(scales.empty() || scales.size() == groups.size(), "set_learning_rate: ", scales.size(),
               " scales for ", groups.size(), " parameter groups");
  for (std::size_t k = 0; k < groups.size(); ++k) {
    const double g = scales.empty() ? lr : lr * scales[k];
    if (auto* a = dynamic_cast<torch::optim::AdamOptions*>(&groups[k].options()))
      a->lr(g);
    else if (auto* w = dynamic_cast<torch::optim::AdamWOptions*>(&groups[k].options()))
      w->lr(g);
    else
      PHYSML_THROW("set_learning_rate supports Adam and AdamW parameter groups only");
  }
}

LRSchedule::LRSchedule(ScheduleOptions o) : options_(std::move(o)) {
  const auto& s = options_;
  PHYSML_CHECK(s.type == "constant" || s.type == "step" || s.type == "cosine" || s.type == "onecycle",
               "unknown learning-rate schedule '", s.type, "'; expected constant, step, cosine or onecycle");
  PHYSML_CHECK(s.lr > 0, "learning rate must be > 0, got ", s.lr);
  PHYSML_CHECK(s.total_steps >= 1, "schedule total_steps must be >= 1, got ", s.total_steps);
  PHYSML_CHECK(s.step_size >= 1, "step schedule step_size must be >= 1, got ", s.step_size);
  PHYSML_CHECK(s.warmup_steps >= 0, "warmup_steps must be >= 0, got ", s.warmup_steps);
  if (s.type == "onecycle") {
    PHYSML_CHECK(s.pct_start > 0 && s.pct_start < 1, "onecycle pct_start must be in (0, 1), got ", s.pct_start);
    PHYSML_CHECK(s.div_factor > 0 && s.final_div_factor > 0, "onecycle div factors must be > 0");
  }
}

double LRSchedule::lr(std::int64_t t) const {
  const auto& s = options_;
  const double td = static_cast<double>(t);
  double value = s.lr;
  if (s.type == "step") {
    value = s.lr * std::pow(s.gamma, static_cast<double>(t / s.step_size));
  } else if (s.type == "cosine") {
    const double x = std::min(td, static_cast<double>(s.total_steps));
    value = s.min_lr + (s.lr - s.min_lr) * (1 + std::cos(M_PI * x / static_cast<double>(s.total_steps))) / 2;
  } else if (s.type == "onecycle") {
    const double initial = s.lr / s.div_factor, final_lr = initial / s.final_div_factor;
    const double up_end = s.pct_start * static_cast<double>(s.total_steps) - 1;
    const double down_end = static_cast<double>(s.total_steps - 1);
    auto anneal = [](double a, double b, double pct) { return b + (a - b) / 2 * (1 + std::cos(M_PI * pct)); };
    if (up_end <= 0)  // too few steps for a warm-up phase (short runs): anneal down from the peak
      value = down_end <= 0 ? s.lr : anneal(s.lr, final_lr, std::min(1.0, td / down_end));
    else if (td <= up_end)
      value = anneal(initial, s.lr, td / up_end);
    else
      value = anneal(s.lr, final_lr, std::min(1.0, (td - up_end) / (down_end - up_end)));
  }
  if (t < s.warmup_steps) value *= (td + 1) / static_cast<double>(s.warmup_steps);
  return value;
}

ScheduleOptions& ScheduleOptions::set_from_options(const Options& options, const std::string& title) {
  OptionsReader r(options, title);
  type = r.choice("schedule", {"constant", "step", "cosine", "onecycle"}, type, "learning-rate schedule");
  lr = r.real("lr", lr, "base learning rate (the peak for onecycle)");
  step_size = r.integer("step_size", step_size, "step: lr * gamma^floor(epoch / step_size)", 1);
  gamma = r.real("gamma", gamma, "step: decay factor");
  min_lr = r.real("min_lr", min_lr, "cosine: final learning rate");
  pct_start = r.real("pct_start", pct_start, "onecycle: fraction of the epochs spent warming up");
  div_factor = r.real("div_factor", div_factor, "onecycle: start at lr / div_factor");
  final_div_factor = r.real("final_div_factor", final_div_factor, "onecycle: end at lr / div_factor / final_div_factor");
  warmup_steps = r.integer("warmup", warmup_steps, "linear warm-up epochs on top of the schedule", 0);
  return *this;
}

}  // namespace physml::train
