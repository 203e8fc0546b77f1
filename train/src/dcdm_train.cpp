#include "physml/train/dcdm_train.hpp"

#include "physml/mesh/grid.hpp"

#include "physml/core/error.hpp"
#include "physml/core/options_reader.hpp"
#include "physml/core/log.hpp"
#include "physml/operators/checkpoint.hpp"
#include "physml/io/dataset.hpp"
#include "physml/io/hdf5.hpp"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

namespace physml::train {

namespace {

at::Tensor net_input(operators::DCDMNetImpl& net, const at::Tensor& b, const std::vector<int64_t>& grid,
                     const at::Tensor& mask) {
  std::vector<int64_t> shape = {b.size(0), 1};
  for (auto it = grid.rbegin(); it != grid.rend(); ++it) shape.push_back(*it);
  at::Tensor x = b.reshape(shape);
  if (net.in_channels() == 2) {
    PHYSML_CHECK(mask.defined(), "DCDM: the net takes a mask channel but no mask was given");
    std::vector<int64_t> mshape = shape;
    mshape[0] = 1;
    x = torch::cat({x, mask.reshape(mshape).to(x.options()).expand(shape)}, 1);
  }
  return x;
}

void check_inputs(operators::DCDMNetImpl& net, const at::Tensor& b, const at::Tensor& A, const std::vector<int64_t>& grid) {
  int64_t cells = 1;
  for (auto g : grid) cells *= g;
  PHYSML_CHECK(static_cast<int>(grid.size()) == net.options().dim(), "DCDM: the net is ", net.options().dim(),
               "D but the grid has ", grid.size(), " sizes");
  PHYSML_CHECK(b.dim() == 2 && b.size(1) == cells, "DCDM: expected b [N, ", cells, "] for the grid, got ", b.sizes());
  PHYSML_CHECK(A.dim() == 2 && A.size(0) == cells && A.size(1) == cells, "DCDM: expected A [", cells, ", ", cells,
               "], got ", A.sizes());
  PHYSML_CHECK(torch::isfinite(b).all().item<bool>(), "DCDM: the right-hand sides contain NaN or Inf");
}

}  // namespace

double evaluate_dcdm(operators::DCDMNetImpl& net, const at::Tensor& b_in, const at::Tensor& A_in,
                     const std::vector<int64_t>& grid, const at::Tensor& mask, int batch_size) {
  check_inputs(net, b_in, A_in, grid);
  torch::NoGradGuard ng;
  auto device = net.parameters().front().device();
  const at::Tensor A = A_in.to(device).to(torch::kFloat);
  const at::Tensor b = b_in.to(device).to(torch::kFloat);
  auto apply = [&](const at::Tensor& x) { return operators::sparse_apply(A, x); };
  double sum = 0;
  for (int64_t i = 0; i < b.size(0); i += batch_size) {
    const auto bb = b.slice(0, i, std::min<int64_t>(i + batch_size, b.size(0)));
    auto q = net.forward(net_input(net, bb, grid, mask)).reshape({bb.size(0), -1});
    if (mask.defined()) q = q * mask.to(q.options()).reshape({1, -1});
    sum += operators::dcdm_loss(q, bb, apply).item<double>() * bb.size(0);
  }
  return sum / b.size(0);
}

TrainerOptions dcdm_trainer_options() {
  ScheduleOptions s;
  s.type = "constant";
  s.lr = 1e-4;
  return TrainerOptions().epochs(10).batch_size(10).optimizer("adam").weight_decay(0.0).schedule(s);
}

DCDMTask::DCDMTask(const at::Tensor& b, const at::Tensor& A, std::vector<int64_t> grid, const at::Tensor& mask,
                   DCDMTaskOptions options)
    : grid_(std::move(grid)) {
  PHYSML_CHECK(!grid_.empty() && grid_.size() <= 3, "DCDMTask: the grid must have 1 to 3 sizes, got ", grid_.size());
  int64_t cells = 1;
  for (auto g : grid_) cells *= g;
  PHYSML_CHECK(b.defined() && b.dim() == 2 && b.size(1) == cells, "DCDMTask: expected b [N, ", cells, "] for the grid, got ",
               b.defined() ? b.sizes() : at::IntArrayRef{});
  PHYSML_CHECK(A.defined() && A.dim() == 2 && A.size(0) == cells && A.size(1) == cells, "DCDMTask: expected A [", cells,
               ", ", cells, "], got ", A.defined() ? A.sizes() : at::IntArrayRef{});
  PHYSML_CHECK(!mask.defined() || mask.numel() == cells, "DCDMTask: expected a mask of ", cells, " cells, got ",
               mask.numel());
  PHYSML_CHECK(torch::isfinite(b).all().item<bool>(), "DCDMTask: the right-hand sides contain NaN or Inf");
  const double f = options.valid_fraction();
  PHYSML_CHECK(f >= 0 && f < 1, "DCDMTask: valid_fraction = ", f, " must be in [0, 1)");
  const int64_t N = b.size(0);
  n_valid_ = static_cast<int64_t>(std::floor(f * static_cast<double>(N)));
  n_train_ = N - n_valid_;
  PHYSML_CHECK(n_train_ > 0, "DCDMTask: no training samples (N = ", N, ", valid_fraction = ", f, ")");
  b_ = b.to(torch::kFloat);
  A_ = A.to(torch::kFloat);
  if (A_.is_sparse()) A_ = A_.coalesce();
  if (mask.defined()) mask_ = mask.to(torch::kFloat).reshape({cells});
}

void DCDMTask::prepare(operators::Model& model) {
  net_ = dynamic_cast<operators::DCDMNetImpl*>(&model);
  PHYSML_CHECK(net_ != nullptr, "DCDMTask: the model is a '", model.type(), "' model, expected a DCDM network ('dcdm')");
  check_inputs(*net_, b_, A_, grid_);
  PHYSML_CHECK(net_->in_channels() == 1 || mask_.defined(), "DCDMTask: the net takes a mask channel but no mask was given");
  const auto device = net_->parameters().front().device();
  b_ = b_.to(device);
  A_ = A_.to(device);
  if (mask_.defined()) mask_ = mask_.to(device);
}

Batch DCDMTask::batch(const std::vector<std::int64_t>& indices, std::uint64_t) const {
  const at::Tensor idx = torch::tensor(indices, torch::kLong).to(b_.device());
  return {b_.slice(0, 0, n_train_).index_select(0, idx), {}};
}

at::Tensor DCDMTask::loss(operators::Model& model, const Batch& batch) {
  PHYSML_CHECK(net_ == &model, "DCDMTask::loss: call prepare(model) first (Trainer::fit does)");
  const at::Tensor& bb = batch.input;
  auto q = net_->forward(net_input(*net_, bb, grid_, mask_)).reshape({bb.size(0), -1});
  if (mask_.defined()) q = q * mask_.reshape({1, -1});
  return operators::dcdm_loss(q, bb, [&](const at::Tensor& x) { return operators::sparse_apply(A_, x); });
}

std::map<std::string, double> DCDMTask::validate(operators::Model& model) {
  if (n_valid_ == 0) return {};
  PHYSML_CHECK(net_ == &model, "DCDMTask::validate: call prepare(model) first (Trainer::fit does)");
  return {{"valid_loss", evaluate_dcdm(*net_, b_.slice(0, n_train_), A_, grid_, mask_)}};
}

void save_ritz_dataset(const std::string& path, const RitzDataset& d) {
  PHYSML_CHECK(d.b.defined() && d.A.defined() && d.A.is_sparse(), "save_ritz_dataset: need b and a sparse A");
  PHYSML_CHECK(!d.grid.empty(), "save_ritz_dataset: empty grid");
  int64_t cells = 1;
  for (auto g : d.grid) cells *= g;
  PHYSML_CHECK(d.b.dim() == 2 && d.b.size(1) == cells, "save_ritz_dataset: b has shape ", d.b.sizes(), ", expected [N, ",
               cells, "]");
  PHYSML_CHECK(d.A.size(0) == cells && d.A.size(1) == cells, "save_ritz_dataset: A is ", d.A.sizes(), ", expected [",
               cells, ", ", cells, "]");
  std::vector<int64_t> sample = {1};
  for (auto it = d.grid.rbegin(); it != d.grid.rend(); ++it) sample.push_back(*it);  // [1, (nz,) ny, nx]
  // The one grid description: DCDM's unknowns sit at the cell centres of the unit box.
  const std::string grid_json = mesh::Grid(mesh::GridOptions(d.grid).centering(mesh::Centering::cell)).to_json();
  io::DatasetInfo info;
  info.generator = "dcdm-ritz";
  info.parameters_json = "{\"samples\": " + std::to_string(d.b.size(0)) + "}";
  info.grid_json = grid_json;
  info.split_sizes = {{"train", d.b.size(0)}};
  info.input_shape = sample;
  info.output_shape = sample;
  info.dtype = torch::kFloat;
  // Written under a temporary name (Dataset first, then the matrix), renamed at the end.
  const std::string tmp = path + ".tmp-ritz";
  std::filesystem::remove(tmp);
  std::filesystem::remove(tmp + ".partial");
  {
    auto w = io::DatasetWriter::open(tmp, info);
    const at::Tensor mask =
        (d.mask.defined() ? d.mask : torch::ones({cells})).to(torch::kFloat).reshape(sample).contiguous();
    const at::Tensor b = d.b.to(torch::kFloat);
    for (int64_t i = 0; i < d.b.size(0); ++i) w.write_sample("train", i, b[i].reshape(sample), mask);
    w.finish();
  }
  {
    // A in the CSR layout of a physml.linear_system file (docs/file-formats.md).
    auto f = io::H5File::open(tmp, io::H5File::Mode::read_write);
    const auto A = d.A.coalesce();
    const at::Tensor rows = A.indices()[0].contiguous(), cols = A.indices()[1].contiguous();
    const at::Tensor row_ptr =
        torch::cat({torch::zeros({1}, torch::kLong), torch::bincount(rows, {}, cells).cumsum(0).to(torch::kLong)});
    f.set_attribute("/", "rows", cells);
    f.set_attribute("/", "cols", cells);
    f.write("A/row_ptr", row_ptr);
    f.write("A/col_idx", cols);
    f.write("A/values", A.values().to(torch::kDouble).contiguous());
    f.flush();
  }
  std::filesystem::rename(tmp, path);
}

RitzDataset load_ritz_dataset(const std::string& path) {
  PHYSML_CHECK(std::filesystem::exists(path), "load_ritz_dataset: '", path, "' does not exist");
  std::optional<io::DatasetReader> r;
  try {
    r.emplace(io::DatasetReader::open(path));
  } catch (const Error& e) {
    PHYSML_THROW("load_ritz_dataset: '", path, "' is not a DCDM Ritz data file (a physml.dataset of generator "
                 "dcdm-ritz): ", e.what());
  }
  const auto& info = r->info();
  PHYSML_CHECK(info.generator == "dcdm-ritz", "load_ritz_dataset: '", path, "' is a Dataset of generator '", info.generator,
               "', expected 'dcdm-ritz'");
  PHYSML_CHECK(info.input_shape.size() >= 3 && info.input_shape[0] == 1, "load_ritz_dataset: '", path,
               "': samples of shape ", io::shape_string(info.input_shape), ", expected [1, (nz,) ny, nx]");
  RitzDataset d;
  int64_t cells = 1;
  for (size_t i = info.input_shape.size() - 1; i >= 1; --i) {
    d.grid.push_back(info.input_shape[i]);
    cells *= info.input_shape[i];
  }
  const int64_t n = r->size("train");
  d.b = r->read("train", "inputs", 0, n).reshape({n, cells});
  if (n > 0) d.mask = r->read("train", "outputs", 0, 1).reshape({cells});
  const auto& f = r->file();
  for (const char* name : {"A/row_ptr", "A/col_idx", "A/values"}) {
    PHYSML_CHECK(f.exists(name), "load_ritz_dataset: '", path, "' has no matrix dataset '/", name, "'");
  }
  const at::Tensor row_ptr = f.read("A/row_ptr", torch::kLong, {cells + 1});
  const at::Tensor cols = f.read("A/col_idx", torch::kLong, {-1});
  const at::Tensor vals = f.read("A/values", torch::kDouble, {cols.size(0)});
  PHYSML_CHECK(row_ptr[cells].item<int64_t>() == cols.size(0), "load_ritz_dataset: '", path,
               "': A/row_ptr does not end at the number of entries");
  const at::Tensor rows =
      torch::repeat_interleave(torch::arange(cells, torch::kLong), row_ptr.slice(0, 1) - row_ptr.slice(0, 0, cells));
  d.A = torch::sparse_coo_tensor(torch::stack({rows, cols}), vals, {cells, cells}).coalesce();
  return d;
}

DCDMTaskOptions& DCDMTaskOptions::set_from_options(const Options& options) {
  OptionsReader r(options, "DCDM training: unsupervised loss |b - (q'b / q'Aq) A q|^2 over Ritz vectors");
  valid_fraction(r.real("valid_fraction", valid_fraction(), "last fraction of the samples held out for validation"));
  PHYSML_CHECK(valid_fraction() >= 0 && valid_fraction() < 1, "option -", options.prefix(),
               "valid_fraction = ", valid_fraction(), " must be in [0, 1)");
  return *this;
}

}  // namespace physml::train
