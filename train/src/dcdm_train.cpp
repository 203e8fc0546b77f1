#include "physml/train/dcdm_train.hpp"

#include "physml/core/error.hpp"
#include "physml/core/log.hpp"
#include "physml/core/progress.hpp"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <sstream>

namespace physml::train {

namespace {

at::Tensor net_input(operators::DCDMNetImpl& net, const at::Tensor& b, const std::vector<int64_t>& grid,
                     const at::Tensor& mask) {
  std::vector<int64_t> shape = {b.size(0), 1};
  for (auto it = grid.rbegin(); it != grid.rend(); ++it) shape.push_back(*it);
  at::Tensor x = b.reshape(shape);
  if (net.in_channels() == 2) {
    PHYSML_CHECK(mask.defined(), "train_dcdm: the net takes a mask channel but no mask was given");
    std::vector<int64_t> mshape = shape;
    mshape[0] = 1;
    x = torch::cat({x, mask.reshape(mshape).to(x.options()).expand(shape)}, 1);
  }
  return x;
}

void check_inputs(operators::DCDMNetImpl& net, const at::Tensor& b, const at::Tensor& A, const std::vector<int64_t>& grid) {
  int64_t cells = 1;
  for (auto g : grid) cells *= g;
  PHYSML_CHECK(static_cast<int>(grid.size()) == net.options().dim(), "train_dcdm: the net is ", net.options().dim(),
               "D but the grid has ", grid.size(), " sizes");
  PHYSML_CHECK(b.dim() == 2 && b.size(1) == cells, "train_dcdm: expected b [N, ", cells, "] for the grid, got ", b.sizes());
  PHYSML_CHECK(A.dim() == 2 && A.size(0) == cells && A.size(1) == cells, "train_dcdm: expected A [", cells, ", ", cells,
               "], got ", A.sizes());
  PHYSML_CHECK(torch::isfinite(b).all().item<bool>(), "train_dcdm: the right-hand sides contain NaN or Inf");
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

DCDMTrainHistory train_dcdm(operators::DCDMNetImpl& net, const at::Tensor& b_in, const at::Tensor& A_in,
                            const std::vector<int64_t>& grid, const DCDMTrainOptions& o, const at::Tensor& mask_in) {
  check_inputs(net, b_in, A_in, grid);
  PHYSML_CHECK(o.epochs >= 0 && o.batch_size > 0 && o.lr > 0, "train_dcdm: need epochs >= 0, batch_size > 0, lr > 0");
  PHYSML_CHECK(o.valid_fraction >= 0 && o.valid_fraction < 1, "train_dcdm: valid_fraction must be in [0, 1)");
  net.to(o.device);
  net.train();
  const at::Tensor A = A_in.to(o.device).to(torch::kFloat).coalesce();
  const at::Tensor b = b_in.to(o.device).to(torch::kFloat);
  const at::Tensor mask = mask_in.defined() ? mask_in.to(o.device).to(torch::kFloat) : mask_in;
  const int64_t N = b.size(0);
  const int64_t n_valid = static_cast<int64_t>(std::floor(o.valid_fraction * N));
  const int64_t n_train = N - n_valid;
  PHYSML_CHECK(n_train > 0, "train_dcdm: no training samples (N = ", N, ", valid_fraction = ", o.valid_fraction, ")");
  const at::Tensor train = b.slice(0, 0, n_train), valid = b.slice(0, n_train, N);
  auto apply = [&](const at::Tensor& x) { return operators::sparse_apply(A, x); };
  torch::optim::Adam adam(net.parameters(), torch::optim::AdamOptions(o.lr));
  auto gen = at::detail::createCPUGenerator(o.seed);
  DCDMTrainHistory hist;
  const int64_t batches = (n_train + o.batch_size - 1) / o.batch_size;
  std::unique_ptr<Progress> progress;
  if (o.progress) progress = std::make_unique<Progress>("train dcdm", static_cast<long>(o.epochs) * batches);
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    const at::Tensor perm = torch::randperm(n_train, gen, torch::kLong).to(o.device);
    double sum = 0;
    for (int64_t k = 0; k < batches; ++k) {
      const auto idx = perm.slice(0, k * o.batch_size, std::min<int64_t>((k + 1) * o.batch_size, n_train));
      const auto bb = train.index_select(0, idx);
      adam.zero_grad();
      auto q = net.forward(net_input(net, bb, grid, mask)).reshape({bb.size(0), -1});
      if (mask.defined()) q = q * mask.reshape({1, -1});
      auto loss = operators::dcdm_loss(q, bb, apply);
      const double l = loss.item<double>();
      PHYSML_CHECK(std::isfinite(l), "train_dcdm: the loss became ", l, " at epoch ", epoch, " (lower the learning rate)");
      loss.backward();
      adam.step();
      sum += l * bb.size(0);
      if (progress) {
        std::ostringstream s;
        s << "epoch " << epoch + 1 << " loss " << l;
        progress->advance(1, s.str());
      }
    }
    hist.train_loss.push_back(sum / n_train);
    net.eval();
    hist.valid_loss.push_back(n_valid > 0 ? evaluate_dcdm(net, valid, A, grid, mask) : NAN);
    net.train();
    if (!o.checkpoint.empty()) operators::save_model(o.checkpoint, net);
    log_debug("dcdm epoch ", epoch + 1, ": train ", hist.train_loss.back(), " valid ", hist.valid_loss.back());
  }
  if (progress) progress->finish();
  net.eval();
  return hist;
}

void save_ritz_dataset(const std::string& path, const RitzDataset& d) {
  PHYSML_CHECK(d.b.defined() && d.A.defined() && d.A.is_sparse(), "save_ritz_dataset: need b and a sparse A");
  torch::serialize::OutputArchive ar;
  ar.write("physml_format", c10::IValue(std::string("physml-dcdm-ritz-1")));
  ar.write("b", d.b.contiguous());
  const auto A = d.A.coalesce();
  ar.write("A_indices", A.indices());
  ar.write("A_values", A.values());
  ar.write("grid", torch::tensor(d.grid, torch::kLong));
  if (d.mask.defined()) ar.write("mask", d.mask);
  const std::string tmp = path + ".tmp";
  ar.save_to(tmp);
  std::filesystem::rename(tmp, path);
}

RitzDataset load_ritz_dataset(const std::string& path) {
  PHYSML_CHECK(std::filesystem::exists(path), "load_ritz_dataset: '", path, "' does not exist");
  torch::serialize::InputArchive ar;
  try {
    ar.load_from(path);
  } catch (const std::exception& e) {
    PHYSML_THROW("load_ritz_dataset: '", path, "' is not a DCDM Ritz data file: ", e.what());
  }
  c10::IValue fmt;
  PHYSML_CHECK(ar.try_read("physml_format", fmt) && fmt.isString() && fmt.toStringRef() == "physml-dcdm-ritz-1",
               "load_ritz_dataset: '", path, "' is not a DCDM Ritz data file (format physml-dcdm-ritz-1)");
  RitzDataset d;
  at::Tensor idx, val, grid;
  ar.read("b", d.b);
  ar.read("A_indices", idx);
  ar.read("A_values", val);
  ar.read("grid", grid);
  ar.try_read("mask", d.mask);
  int64_t cells = 1;
  for (int64_t i = 0; i < grid.numel(); ++i) {
    d.grid.push_back(grid[i].item<int64_t>());
    cells *= d.grid.back();
  }
  d.A = torch::sparse_coo_tensor(idx, val, {cells, cells}).coalesce();
  PHYSML_CHECK(d.b.dim() == 2 && d.b.size(1) == cells, "load_ritz_dataset: '", path, "': b has shape ", d.b.sizes(),
               ", expected [N, ", cells, "]");
  return d;
}

}  // namespace physml::train
