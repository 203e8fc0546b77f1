#include "physml/solvers/linear/model_operator.hpp"

#include "physml/core/error.hpp"
#include "physml/core/views.hpp"
#include "physml/operators/checkpoint.hpp"
#include "physml/operators/normalized_model.hpp"

#include <petscdmda.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>
#include <sstream>

namespace physml::solvers {

namespace {

std::string shape_text(at::IntArrayRef s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << "]";
  return o.str();
}

long config_int(const operators::ModelConfig& c, const std::string& key, long fallback) {
  auto it = c.find(key);
  if (it == c.end()) return fallback;
  try {
    return std::stol(it->second);
  } catch (const std::exception&) {
    PHYSML_THROW("model config entry ", key, " = '", it->second, "' is not an integer");
  }
}

}  // namespace

std::pair<int64_t, int64_t> model_channels(const operators::Model& model) {
  const auto c = model.config();
  if (model.type() == "dcdm") return {1 + (config_int(c, "mask_channel", 0) ? 1 : 0), 1};
  for (const std::string prefix : {"", "model."}) {
    const long in = config_int(c, prefix + "in_channels", -1), out = config_int(c, prefix + "out_channels", -1);
    if (in > 0 && out > 0) return {in, out};
  }
  return {-1, -1};
}

int model_dim(const operators::Model& model) {
  const auto c = model.config();
  long d = config_int(c, "dim", 0);
  if (d == 0) d = config_int(c, "model.dim", 0);
  return static_cast<int>(d);
}

double training_input_rms(const operators::Model& model) {
  auto* nm = dynamic_cast<const operators::NormalizedModel*>(&model);
  if (!nm) return 0;
  auto& xn = const_cast<operators::NormalizedModel*>(nm)->x_normalizer();
  if (xn->kind() == "none" || !xn->fitted()) return 0;
  const auto m = xn->mean().to(torch::kDouble), s = xn->std().to(torch::kDouble);
  return std::sqrt((m * m + s * s).mean().item<double>());
}

// ---------------------------------------------------------------------------------------
// Model cache
// ---------------------------------------------------------------------------------------

namespace {
struct CacheEntry {
  std::filesystem::file_time_type time;
  std::shared_ptr<operators::Model> model;
};
std::mutex cache_mutex;
std::map<std::string, CacheEntry>& model_cache() {
  static std::map<std::string, CacheEntry> c;
  return c;
}
int loads = 0;
}  // namespace

std::shared_ptr<operators::Model> cached_model(const std::string& path, const std::string& expected_type) {
  std::lock_guard<std::mutex> lock(cache_mutex);
  PHYSML_CHECK(std::filesystem::exists(path), "model file '", path, "' does not exist");
  const auto key = std::filesystem::absolute(path).string();
  const auto time = std::filesystem::last_write_time(path);
  auto it = model_cache().find(key);
  if (it != model_cache().end() && it->second.time == time &&
      (expected_type.empty() || it->second.model->type() == expected_type))
    return it->second.model;
  auto model = operators::load(path, expected_type);
  ++loads;
  model_cache()[key] = {time, model};
  return model;
}

int model_loads() { return loads; }

// ---------------------------------------------------------------------------------------
// Grid of the unknowns
// ---------------------------------------------------------------------------------------

std::vector<int64_t> resolve_grid(const std::string& who, const std::string& option, int dim, PetscInt n,
                                  const std::vector<long>& given, DM dm) {
  PHYSML_CHECK(dim >= 1 && dim <= 3, who, ": the model's dimension ", dim, " is not 1, 2 or 3");
  const std::string sizes = dim == 1 ? "nx" : dim == 2 ? "nx,ny" : "nx,ny,nz";
  if (!given.empty()) {
    PHYSML_CHECK(static_cast<int>(given.size()) == dim, who, ": the model is ", dim, "D but the grid option gives ",
                 given.size(), " sizes; expected ", sizes);
    int64_t cells = 1;
    for (auto g : given) {
      PHYSML_CHECK(g >= 1, who, ": grid option ", option, " has a size ", g, "; expected positive sizes ", sizes);
      cells *= g;
    }
    PHYSML_CHECK(cells == n, who, ": grid option has ", cells, " cells but the system has ", n, " unknowns");
    return {given.begin(), given.end()};
  }
  if (dm) {
    PetscBool is_da = PETSC_FALSE;
    PHYSML_PETSC(PetscObjectTypeCompare((PetscObject)dm, DMDA, &is_da));
    if (is_da) {
      PetscInt d, M, N, P, dof;
      PHYSML_PETSC(DMDAGetInfo(dm, &d, &M, &N, &P, nullptr, nullptr, nullptr, &dof, nullptr, nullptr, nullptr, nullptr,
                               nullptr));
      PHYSML_CHECK(dof == 1, who, ": the DMDA has ", dof, " dof per point; ", who, " needs a scalar field (dof 1)");
      PHYSML_CHECK(d == dim, who, ": the model is ", dim, "D but the DMDA is ", d, "D");
      std::vector<int64_t> g = {M, N, P};
      g.resize(d);
      return g;
    }
  }
  const auto side = static_cast<int64_t>(std::llround(std::pow(static_cast<double>(n), 1.0 / dim)));
  int64_t cells = 1;
  for (int i = 0; i < dim; ++i) cells *= side;
  PHYSML_CHECK(cells == n, who, ": cannot infer a ", dim, "D grid for a system of size ", n, " (not a perfect ",
               dim == 3 ? "cube" : "square", "); the model is ", dim, "D: give the grid with ", option, " ", sizes,
               " or attach a DMDA");
  return std::vector<int64_t>(dim, side);
}

// ---------------------------------------------------------------------------------------
// ModelOperator
// ---------------------------------------------------------------------------------------

ModelOperator::ModelOperator(std::shared_ptr<operators::Model> model, ModelOperatorOptions options)
    : model_(std::move(model)), o_(std::move(options)) {
  PHYSML_CHECK(model_, "ModelOperator: null model");
  const auto [in, out] = model_channels(*model_);
  PHYSML_CHECK(in < 0 || (in == 1 && out == 1), "ModelOperator: the model (type '", model_->type(), "') maps ", in,
               " input channel(s) to ", out, "; a residual -> correction operator needs a model mapping 1 channel to 1");
  PHYSML_CHECK(!o_.grid.empty() && o_.grid.size() <= 3, "ModelOperator: the grid must have 1 to 3 sizes (tensor order ",
               "[ny, nx] or [nz, ny, nx]), got ", o_.grid.size());
  const int dim = model_dim(*model_);
  PHYSML_CHECK(dim == 0 || dim == static_cast<int>(o_.grid.size()), "ModelOperator: the model (type '", model_->type(),
               "') is ", dim, "D but the grid has ", o_.grid.size(), " sizes");
  PHYSML_CHECK(o_.pad >= 0, "ModelOperator: pad must be >= 0, got ", o_.pad);
  int64_t n = 1;
  for (auto g : o_.grid) {
    PHYSML_CHECK(g >= 1, "ModelOperator: grid sizes must be positive, got ", shape_text(o_.grid));
    n *= g;
  }
  n_ = static_cast<PetscInt>(n);
  PHYSML_CHECK(o_.dtype == c10::kFloat || o_.dtype == c10::kDouble, "ModelOperator: dtype must be float32 or float64");
  if (o_.input_rms > 0) {
    rms_ = o_.input_rms;
  } else {
    const double trained = training_input_rms(*model_);
    rms_ = trained > 0 ? trained : 1.0;
  }
  PHYSML_CHECK(std::isfinite(rms_), "ModelOperator: input RMS ", rms_, " is not finite");
  model_->to(o_.device, o_.dtype);
  model_->eval();
}

std::string ModelOperator::name() const {
  std::ostringstream s;
  s << "model '" << model_->type() << "' on grid ";
  for (size_t i = 0; i < o_.grid.size(); ++i) s << (i ? "x" : "") << o_.grid[i];
  s << " (tensor order)";
  if (o_.pad) s << ", padded by " << o_.pad;
  s << ", input RMS " << rms_ << (o_.rescale_output ? ", output rescaled" : "") << ", "
    << (o_.dtype == c10::kFloat ? "float32" : "float64");
  return s.str();
}

void ModelOperator::apply(Vec x, Vec y) {
  PetscInt nl;
  PHYSML_PETSC(VecGetLocalSize(x, &nl));
  PHYSML_CHECK(nl == n_, "ModelOperator: the vector has ", nl, " local entries but the grid ", shape_text(o_.grid), " has ",
               n_, " (the model runs on the whole grid: a sequential vector)");
  std::vector<int64_t> shape = {1, 1};
  shape.insert(shape.end(), o_.grid.begin(), o_.grid.end());
  torch::NoGradGuard no_grad;
  at::Tensor X;
  double s = 1;
  {
    at::Tensor xt = as_tensor_read(x);
    const double norm = xt.norm().item<double>();
    PHYSML_CHECK(std::isfinite(norm), "ModelOperator: the input vector contains NaN or Inf");
    if (norm == 0.0) {
      PHYSML_PETSC(VecSet(y, 0.0));
      return;
    }
    s = rms_ * std::sqrt(static_cast<double>(n_)) / norm;
    X = (xt * s).to(o_.dtype).reshape(shape).to(o_.device);
  }
  if (o_.pad > 0) X = torch::constant_pad_nd(X, std::vector<int64_t>(2 * o_.grid.size(), o_.pad), 0.0);
  at::Tensor Y = model_->forward(X);
  PHYSML_CHECK(Y.dim() == X.dim() && Y.size(0) == 1 && Y.size(1) == 1 && Y.sizes().slice(2) == X.sizes().slice(2),
               "ModelOperator: the model (type '", model_->type(), "') maps an input ", shape_text(X.sizes()),
               " to ", shape_text(Y.sizes()), "; expected one output channel on the same grid");
  if (o_.pad > 0)
    for (size_t d = 0; d < o_.grid.size(); ++d) Y = Y.narrow(static_cast<int64_t>(2 + d), o_.pad, o_.grid[d]);
  Y = Y.to(torch::kCPU).to(torch::kDouble).reshape(-1);
  if (o_.rescale_output) Y = Y / s;
  if (!torch::isfinite(Y).all().item<bool>())
    throw NonFiniteError("ModelOperator: the output of the model (type '" + model_->type() + "') contains NaN or Inf",
                         __FILE__, __LINE__);
  {
    at::Tensor yt = as_tensor(y);
    yt.copy_(Y);
  }
  mark_modified(y);
}

}  // namespace physml::solvers
