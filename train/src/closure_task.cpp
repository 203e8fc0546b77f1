#include "physml/train/closure_task.hpp"

#include "physml/core/error.hpp"
#include "physml/core/options_reader.hpp"
#include "physml/operators/registry.hpp"

#include <torch/torch.h>

#include <cmath>
#include <optional>

namespace physml::train {

ClosureTaskOptions& ClosureTaskOptions::set_from_options(const Options& options) {
  OptionsReader r(options, "Closure task: a-posteriori training through the coarse Burgers solver");
  window(r.integer("window", window(), "snapshot intervals per training rollout", 1));
  substeps(r.integer("substeps", substeps(), "coarse time steps per snapshot interval", 1));
  stride(r.integer("stride", stride(), "a training window starts every stride snapshots", 1));
  return *this;
}

simulators::BurgersClosure model_closure(operators::Model& model) {
  return [&model](const at::Tensor& u, double) {
    auto params = model.parameters();
    auto x = params.empty() ? u : u.to(params.front().device(), params.front().scalar_type());
    return model.forward(x.unsqueeze(1)).squeeze(1).to(u.device(), u.scalar_type());
  };
}

struct ClosureTask::Windows {
  simulators::FilteredBurgers data;
  std::optional<simulators::CoarseBurgers> solver;   // grid, viscosity and dt (shared)
  std::vector<simulators::BurgersForcing> forcings;  // per trajectory
  std::vector<std::pair<std::int64_t, std::int64_t>> windows;  // (trajectory, first snapshot)
};

namespace {

/// Equal snapshot spacing of `f` (throws naming the first unequal interval).
double snapshot_interval(const simulators::FilteredBurgers& f, const char* what) {
  PHYSML_CHECK(f.coarse.defined() && f.coarse.dim() == 3, "ClosureTask: ", what,
               " trajectories must be [trajectories, times, n]");
  PHYSML_CHECK(static_cast<std::int64_t>(f.times.size()) == f.coarse.size(1) && f.times.size() >= 2, "ClosureTask: ",
               what, " has ", f.times.size(), " times for ", f.coarse.size(1), " snapshots (need >= 2, equal counts)");
  PHYSML_CHECK(static_cast<std::int64_t>(f.options.size()) == f.coarse.size(0), "ClosureTask: ", what, " has ",
               f.options.size(), " solver options for ", f.coarse.size(0), " trajectories");
  const double h = f.times[1] - f.times[0];
  for (std::size_t i = 2; i < f.times.size(); ++i)
    PHYSML_CHECK(std::abs(f.times[i] - f.times[i - 1] - h) <= 1e-9 * std::max(1.0, std::abs(h)), "ClosureTask: ", what,
                 " snapshots are not equally spaced (interval ", f.times[i] - f.times[i - 1], " after ", h, ")");
  PHYSML_CHECK(h > 0, "ClosureTask: ", what, " times must increase");
  return h;
}

}  // namespace

ClosureTask::ClosureTask(simulators::FilteredBurgers train, const simulators::FilteredBurgers* valid,
                         ClosureTaskOptions options)
    : options_(options) {
  PHYSML_CHECK(options_.window() >= 1 && options_.substeps() >= 1 && options_.stride() >= 1,
               "ClosureTask: window, substeps and stride must be >= 1");
  const double h = snapshot_interval(train, "training");
  dt_ = h / static_cast<double>(options_.substeps());
  auto make = [&](simulators::FilteredBurgers f, std::int64_t stride, const char* what) {
    auto w = std::make_shared<Windows>();
    PHYSML_CHECK(f.coarse.size(1) > options_.window(), "ClosureTask: ", what, " trajectories have ", f.coarse.size(1),
                 " snapshots, a window of ", options_.window(), " intervals needs ", options_.window() + 1);
    for (const auto& o : f.options) {
      PHYSML_CHECK(o.resolution == f.coarse.size(2) && o.viscosity == f.options.front().viscosity, "ClosureTask: ", what,
                   " trajectories must share the coarse grid ", f.coarse.size(2), " and one viscosity");
      w->forcings.push_back(simulators::BurgersForcing::draw(o));
    }
    w->solver.emplace(f.options.front(), dt_);
    for (std::int64_t s = 0; s < f.coarse.size(0); ++s)
      for (std::int64_t j = 0; j + options_.window() < f.coarse.size(1); j += stride) w->windows.emplace_back(s, j);
    w->data = std::move(f);
    return w;
  };
  train_ = make(std::move(train), options_.stride(), "training");
  if (valid) {
    const double hv = snapshot_interval(*valid, "validation");
    PHYSML_CHECK(std::abs(hv - h) <= 1e-9 * std::max(1.0, h), "ClosureTask: validation snapshot interval ", hv,
                 " differs from the training one ", h);
    PHYSML_CHECK(valid->coarse.size(2) == train_->data.coarse.size(2), "ClosureTask: validation grid ",
                 valid->coarse.size(2), " differs from the training grid ", train_->data.coarse.size(2));
    valid_ = make(*valid, options_.window(), "validation");  // non-overlapping windows
  }
}

std::int64_t ClosureTask::size() const { return static_cast<std::int64_t>(train_->windows.size()); }

void ClosureTask::prepare(operators::Model& model) {
  const auto n = train_->data.coarse.size(2);
  auto params = model.parameters();
  auto probe = torch::zeros({1, 1, n}, params.empty() ? torch::TensorOptions().dtype(torch::kFloat)
                                                      : params.front().options());
  at::Tensor out;
  {
    torch::NoGradGuard g;
    try {
      out = model.forward(probe);
    } catch (const c10::Error& e) {
      PHYSML_THROW("ClosureTask: the model does not accept a coarse field [1, 1, ", n, "]: ", e.what_without_backtrace());
    }
  }
  PHYSML_CHECK(out.sizes() == probe.sizes(), "ClosureTask: the model maps [1, 1, ", n, "] to ", out.sizes(),
               ", a closure must return [1, 1, ", n, "]");
}

Batch ClosureTask::batch(const std::vector<std::int64_t>& indices, std::uint64_t) const {
  // The window numbers travel as the batch input (the Trainer casts it to the model's
  // floating type: exact below 2^24 windows); loss() looks the windows up.
  std::vector<double> ids(indices.begin(), indices.end());
  return {torch::tensor(ids, torch::kDouble), at::Tensor()};
}

std::pair<at::Tensor, at::Tensor> ClosureTask::rollout_error(operators::Model& model, const Windows& w,
                                                             const std::vector<std::int64_t>& indices) const {
  auto params = model.parameters();
  const auto opts = params.empty() ? torch::TensorOptions().dtype(torch::kFloat) : params.front().options();
  const auto closure = model_closure(model);
  const auto m = options_.window();
  // All windows in one batched rollout: each sample starts at its own time with its own
  // trajectory's forcing.
  std::vector<at::Tensor> u0, target;
  std::vector<double> t0;
  std::vector<simulators::BurgersForcing> forcing;
  for (auto i : indices) {
    PHYSML_CHECK(i >= 0 && i < static_cast<std::int64_t>(w.windows.size()), "ClosureTask: window ", i, " of ",
                 w.windows.size());
    const auto [s, j] = w.windows[static_cast<std::size_t>(i)];
    u0.push_back(w.data.coarse[s][j]);
    target.push_back(w.data.coarse[s].narrow(0, j + 1, m));
    t0.push_back(w.data.times[static_cast<std::size_t>(j)]);
    forcing.push_back(w.forcings[static_cast<std::size_t>(s)]);
  }
  auto x0 = torch::stack(u0).to(opts.device(), opts.dtype());
  auto y = torch::stack(target).to(opts.device(), opts.dtype());  // [B, m, n]
  auto pred = w.solver->rollout(x0, t0, forcing, m * options_.substeps(), options_.substeps(), closure);
  auto mse = ((pred - y).pow(2).mean({1, 2}) / y.pow(2).mean({1, 2})).mean();
  auto last = y.select(1, m - 1);
  auto final_l2 = ((pred.select(1, m - 1) - last).norm(2, {1}) / last.norm(2, {1})).mean();
  return {mse, final_l2};
}

at::Tensor ClosureTask::loss(operators::Model& model, const Batch& batch) {
  PHYSML_CHECK(batch.input.defined() && batch.input.dim() == 1 && batch.input.numel() >= 1,
               "ClosureTask: a batch must hold the window numbers [B]");
  auto ids = batch.input.to(torch::kCPU, torch::kDouble).contiguous();
  std::vector<std::int64_t> indices;
  for (std::int64_t i = 0; i < ids.numel(); ++i) indices.push_back(std::llround(ids.data_ptr<double>()[i]));
  return rollout_error(model, *train_, indices).first;
}

std::map<std::string, double> ClosureTask::validate(operators::Model& model) {
  if (!valid_) return {};
  std::vector<std::int64_t> all(valid_->windows.size());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::int64_t>(i);
  auto [mse, l2] = rollout_error(model, *valid_, all);
  return {{"valid_loss", mse.item<double>()}, {"valid_final_l2", l2.item<double>()}};
}

}  // namespace physml::train
