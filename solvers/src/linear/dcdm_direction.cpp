// The DCDM network as a search direction: q = f(s r/|r|) (dcdm.hpp, NetworkDirection), and
// the cached loading of "dcdm" models.
#include "physml/solvers/linear/dcdm.hpp"

#include "physml/core/error.hpp"
#include "physml/core/views.hpp"
#include "physml/operators/registry.hpp"
#include "physml/solvers/linear/model_operator.hpp"

#include <torch/torch.h>

#include <cmath>
#include <sstream>

namespace physml::solvers {

NetworkDirection::NetworkDirection(std::shared_ptr<operators::Model> model, std::vector<int64_t> grid, c10::Device device)
    : model_(std::move(model)), grid_(std::move(grid)), device_(device) {
  PHYSML_CHECK(model_, "NetworkDirection: null model");
  PHYSML_CHECK(model_->type() == "dcdm", "NetworkDirection: model of type '", model_->type(), "', expected 'dcdm'");
  const auto cfg = model_->config();
  dim_ = std::stoi(cfg.at("dim"));
  needs_mask_ = cfg.count("mask_channel") && cfg.at("mask_channel") == "1";
  PHYSML_CHECK(static_cast<int>(grid_.size()) == dim_, "NetworkDirection: the model is ", dim_, "D but the grid has ",
               grid_.size(), " sizes");
  model_->to(device_);
  model_->eval();
}

void NetworkDirection::set_mask(const at::Tensor& mask) {
  int64_t n = 1;
  for (auto g : grid_) n *= g;
  PHYSML_CHECK(mask.numel() == n, "NetworkDirection: mask has ", mask.numel(), " entries, the grid has ", n);
  mask_ = mask.reshape(-1).to(torch::kFloat).to(device_);
}

void NetworkDirection::set_input_scale(double s) {
  PHYSML_CHECK(std::isfinite(s) && s > 0, "NetworkDirection: the input scale must be positive and finite, got ", s);
  input_scale_ = s;
}

double NetworkDirection::grid_input_scale() const {
  const auto cfg = model_->config();
  const auto it = cfg.find("train_grid");
  PHYSML_CHECK(it != cfg.end() && !it->second.empty(), "DCDM input scale 'grid': the model does not record the grid it was "
               "trained on (config entry train_grid); use input scale 'none' or retrain with DCDMNetOptions::train_grid");
  double train_cells = 1;
  std::stringstream ss(it->second);
  std::string item;
  int count = 0;
  while (std::getline(ss, item, ',')) {
    try {
      train_cells *= std::stod(item);
    } catch (const std::exception&) {
      PHYSML_THROW("DCDM input scale 'grid': malformed train_grid '", it->second, "' in the model config");
    }
    ++count;
  }
  PHYSML_CHECK(count == dim_ && train_cells > 0, "DCDM input scale 'grid': malformed train_grid '", it->second, "' for a ",
               dim_, "D model");
  double cells = 1;
  for (auto g : grid_) cells *= static_cast<double>(g);
  return std::sqrt(cells / train_cells);
}

PetscInt NetworkDirection::rows() const {
  int64_t n = 1;
  for (auto g : grid_) n *= g;
  return static_cast<PetscInt>(n);
}

std::string NetworkDirection::name() const {
  std::string g;
  for (size_t i = 0; i < grid_.size(); ++i) g += (i ? "x" : "") + std::to_string(grid_[i]);
  std::string scale;
  if (input_scale_ != 1.0) scale = ", input scale " + std::to_string(input_scale_);
  return "DCDM network (" + model_->config().at("variant") + ", " + std::to_string(dim_) + "D) on grid " + g + scale;
}

void NetworkDirection::apply(Vec r, Vec q) {
  PetscInt n;
  PHYSML_PETSC(VecGetLocalSize(r, &n));
  int64_t cells = 1;
  for (auto g : grid_) cells *= g;
  PHYSML_CHECK(n == cells, "DCDM network: the vector has ", n, " entries but the grid has ", cells);
  std::vector<int64_t> shape = {1, 1};
  for (auto it = grid_.rbegin(); it != grid_.rend(); ++it) shape.push_back(*it);  // [.., nz, ny, nx]
  torch::NoGradGuard no_grad;
  at::Tensor input;
  {
    at::Tensor rt = as_tensor_read(r);
    const double norm = rt.norm().item<double>();
    if (norm == 0.0) {
      PHYSML_PETSC(VecSet(q, 0.0));
      return;
    }
    input = (rt * (input_scale_ / norm)).to(torch::kFloat).reshape(shape).to(device_);
  }
  if (needs_mask_) {
    PHYSML_CHECK(mask_.defined(), "DCDM network: the model takes a mask channel but no mask was set");
    input = torch::cat({input, mask_.reshape(shape)}, 1);
  }
  at::Tensor out = model_->forward(input);
  if (mask_.defined()) out = out * mask_.reshape(shape);  // solid (decoupled) cells are not unknowns
  out = out.to(torch::kCPU).to(torch::kDouble).reshape(-1);
  if (!torch::isfinite(out).all().item<bool>()) throw NonFiniteError("DCDM network output contains NaN or Inf", __FILE__, __LINE__);
  at::Tensor qt = as_tensor(q);
  qt.copy_(out);
}

std::shared_ptr<operators::Model> cached_dcdm_model(const std::string& path) { return cached_model(path, "dcdm"); }

int dcdm_model_loads() { return model_loads(); }

}  // namespace physml::solvers
