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
#include <random>
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

DCDMBatchSolve dcdm_solve_batch(const DCDMDirectionFn& direction, const at::Tensor& A_in, const at::Tensor& b_in,
                                double rtol, std::int64_t max_its, int k) {
  PHYSML_CHECK(b_in.defined() && b_in.dim() == 2, "dcdm_solve_batch: expected b [N, n], got ",
               b_in.defined() ? b_in.sizes() : at::IntArrayRef{});
  PHYSML_CHECK(A_in.defined() && A_in.dim() == 2 && A_in.size(0) == b_in.size(1) && A_in.size(1) == b_in.size(1),
               "dcdm_solve_batch: expected A [", b_in.size(1), ", ", b_in.size(1), "], got ",
               A_in.defined() ? A_in.sizes() : at::IntArrayRef{});
  PHYSML_CHECK(rtol > 0 && max_its >= 0 && k >= 0, "dcdm_solve_batch: need rtol > 0, max_its >= 0, k >= 0; got rtol = ",
               rtol, ", max_its = ", max_its, ", k = ", k);
  torch::NoGradGuard ng;
  const auto dev = b_in.device();
  at::Tensor A = A_in.to(dev).to(torch::kDouble);
  if (A.is_sparse()) A = A.coalesce();
  auto apply = [&](const at::Tensor& x) { return A.is_sparse() ? operators::sparse_apply(A, x) : torch::matmul(x, A.t()); };
  const int64_t N = b_in.size(0), n = b_in.size(1);
  const at::Tensor b = b_in.to(torch::kDouble);
  const at::Tensor bnorm = b.norm(2, 1);
  at::Tensor x = torch::zeros_like(b), r = b.clone();
  at::Tensor its = torch::full({N}, max_its, torch::TensorOptions().dtype(torch::kLong).device(dev));
  at::Tensor relres = torch::ones({N}, b.options());
  at::Tensor done = bnorm <= 0;  // a zero right-hand side is solved by x0 = 0
  its.masked_fill_(done, 0);
  relres.masked_fill_(done, 0.0);
  std::vector<at::Tensor> P, AP, pAp;  // ring buffer of the last k directions, full batch rows
  int head = 0;
  for (std::int64_t i = 1; i <= max_its; ++i) {
    const at::Tensor idx = (~done).nonzero().reshape({-1});
    if (idx.numel() == 0) break;
    const at::Tensor ra = r.index_select(0, idx);
    at::Tensor q = direction(ra / ra.norm(2, 1, true)).to(torch::kDouble).reshape({idx.size(0), n});
    PHYSML_CHECK(torch::isfinite(q).all().item<bool>(), "dcdm_solve_batch: the direction contains NaN or Inf at iteration ", i);
    if (!P.empty()) {
      std::vector<at::Tensor> coef;  // classical Gram-Schmidt: every coefficient from the raw q
      for (size_t j = 0; j < P.size(); ++j)
        coef.push_back((q * AP[j].index_select(0, idx)).sum(1, true) / pAp[j].index_select(0, idx));
      for (size_t j = 0; j < P.size(); ++j) q = q - coef[j] * P[j].index_select(0, idx);
    }
    const at::Tensor Aq = apply(q);
    const at::Tensor qAq = (q * Aq).sum(1, true), qr = (q * ra).sum(1, true);
    PHYSML_CHECK((qAq > 0).all().item<bool>(), "dcdm_solve_batch: q^T A q <= 0 at iteration ", i,
                 " (A is not positive definite, or the direction vanished)");
    const at::Tensor step = qr / qAq;
    x.index_add_(0, idx, step * q);
    const at::Tensor rnew = ra - step * Aq;
    r.index_copy_(0, idx, rnew);
    if (k > 0) {
      if (static_cast<int>(P.size()) < k) {
        P.push_back(torch::zeros_like(b));
        AP.push_back(torch::zeros_like(b));
        pAp.push_back(torch::ones({N, 1}, b.options()));
        head = static_cast<int>(P.size()) - 1;
      }
      P[head].index_copy_(0, idx, q);
      AP[head].index_copy_(0, idx, Aq);
      pAp[head].index_copy_(0, idx, qAq);
      head = (head + 1) % k;
    }
    const at::Tensor rel = rnew.norm(2, 1) / bnorm.index_select(0, idx);
    relres.index_copy_(0, idx, rel);
    const at::Tensor conv = rel <= rtol;
    const at::Tensor newly = idx.masked_select(conv);
    its.index_fill_(0, newly, i);
    done.index_fill_(0, newly, true);
  }
  return {its, relres, x};
}

DCDMDirectionFn dcdm_network_direction(operators::DCDMNetImpl& net, std::vector<int64_t> grid, const at::Tensor& mask) {
  const auto device = net.parameters().front().device();
  const at::Tensor m = mask.defined() ? mask.to(device).to(torch::kFloat).reshape({1, -1}) : at::Tensor();
  return [&net, grid = std::move(grid), m, device](const at::Tensor& r) {
    torch::NoGradGuard ng;
    const at::Tensor in = r.to(device).to(torch::kFloat);
    at::Tensor q = net.forward(net_input(net, in, grid, m)).reshape({in.size(0), -1});
    if (m.defined()) q = q * m;
    return q.to(r.device()).to(torch::kDouble);
  };
}

at::Tensor dcdm_validation_rhs(const std::vector<int64_t>& grid, const at::Tensor& mask, std::int64_t count,
                               std::uint64_t seed) {
  PHYSML_CHECK(!grid.empty() && grid.size() <= 3, "dcdm_validation_rhs: the grid must have 1 to 3 sizes, got ", grid.size());
  PHYSML_CHECK(count >= 0, "dcdm_validation_rhs: count = ", count, " must be >= 0");
  int64_t cells = 1;
  for (auto g : grid) cells *= g;
  PHYSML_CHECK(!mask.defined() || mask.numel() == cells, "dcdm_validation_rhs: expected a mask of ", cells,
               " cells, got ", mask.numel());
  const int dim = static_cast<int>(grid.size());
  std::mt19937_64 eng(seed);
  std::normal_distribution<double> gauss;
  std::uniform_int_distribution<int> wave(1, 4);
  std::uniform_real_distribution<double> phase(0.0, 2 * M_PI);
  at::Tensor out = torch::zeros({count, cells}, torch::kDouble);
  // cell-centre coordinates of every cell, x fastest: coord[c] [cells]
  std::vector<at::Tensor> coord;
  {
    int64_t stride = 1;
    for (int c = 0; c < dim; ++c) {
      const at::Tensor flat = torch::arange(cells, torch::kLong);
      coord.push_back(((flat.div(stride, "floor") % grid[c]).to(torch::kDouble) + 0.5) / static_cast<double>(grid[c]));
      stride *= grid[c];
    }
  }
  for (int64_t s = 0; s < count; ++s) {
    at::Tensor f = torch::zeros({cells}, torch::kDouble);
    for (int m = 0; m < 6; ++m) {
      const double a = gauss(eng);
      at::Tensor arg = torch::full({cells}, phase(eng), torch::kDouble);
      for (int c = 0; c < dim; ++c) arg = arg + 2 * M_PI * wave(eng) * coord[c];
      f = f + a * torch::cos(arg);
    }
    if (mask.defined()) f = f * mask.to(torch::kDouble).reshape({cells});
    out[s] = f / f.norm().clamp_min(1e-300);
  }
  return out;
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
  PHYSML_CHECK(options.valid_solves() >= 0 && options.valid_max_its() >= 1 && options.valid_rtol() > 0 &&
                   options.valid_rtol() < 1,
               "DCDMTask: need valid_solves >= 0, valid_max_its >= 1 and valid_rtol in (0, 1); got ",
               options.valid_solves(), ", ", options.valid_max_its(), ", ", options.valid_rtol());
  options_ = options;
  if (options.valid_solves() > 0) {
    valid_rhs_ = dcdm_validation_rhs(grid_, mask_, options.valid_solves(), options.valid_seed());
    A64_ = A.to(torch::kDouble);
    if (A64_.is_sparse()) A64_ = A64_.coalesce();
  }
}

std::vector<std::string> DCDMTask::metric_names() const {
  if (valid_rhs_.defined()) return {"valid_loss", "valid_its", "valid_relres"};
  return {"valid_loss"};
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
  if (valid_rhs_.defined()) {
    valid_rhs_ = valid_rhs_.to(device);
    A64_ = A64_.to(device);
  }
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
  PHYSML_CHECK(net_ == &model, "DCDMTask::validate: call prepare(model) first (Trainer::fit does)");
  std::map<std::string, double> m;
  if (n_valid_ > 0) m["valid_loss"] = evaluate_dcdm(*net_, b_.slice(0, n_train_), A_, grid_, mask_);
  if (valid_rhs_.defined()) {
    const auto s = dcdm_solve_batch(dcdm_network_direction(*net_, grid_, mask_), A64_, valid_rhs_, options_.valid_rtol(),
                                    options_.valid_max_its());
    m["valid_its"] = s.iterations.to(torch::kDouble).mean().item<double>();
    // geometric mean of the final relative residuals: separates runs that all hit the cap
    m["valid_relres"] = s.relres.clamp_min(1e-300).log().mean().exp().item<double>();
  }
  return m;
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
  valid_solves(r.integer("dcdm_valid_solves", valid_solves(),
                         "held-out DCDM solves per epoch; their mean iteration count valid_its is the best.h5 "
                         "criterion (0 = off: the Ritz valid_loss is)",
                         0));
  valid_rtol(r.real("dcdm_valid_rtol", valid_rtol(), "relative residual of the held-out solves"));
  PHYSML_CHECK(valid_rtol() > 0 && valid_rtol() < 1, "option -", options.prefix(), "dcdm_valid_rtol = ", valid_rtol(),
               " must be in (0, 1)");
  valid_max_its(r.integer("dcdm_valid_max_its", valid_max_its(),
                          "iteration cap of a held-out solve (a solve that does not converge counts as this)", 1));
  valid_seed(static_cast<std::uint64_t>(
      r.integer("dcdm_valid_seed", static_cast<long>(valid_seed()), "seed of the held-out right-hand sides", 0)));
  return *this;
}

}  // namespace physml::train
