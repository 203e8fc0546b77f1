#include "physml/train/dcdm_train.hpp"

#include "physml/core/error.hpp"
#include "physml/core/options_reader.hpp"
#include "physml/core/log.hpp"
#include "physml/core/progress.hpp"
#include "physml/operators/checkpoint.hpp"
#include "physml/io/dataset.hpp"
#include "physml/io/hdf5.hpp"
#include "physml/io/png.hpp"

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
    if (!o.checkpoint.empty()) operators::save(o.checkpoint, net);
    log_debug("dcdm epoch ", epoch + 1, ": train ", hist.train_loss.back(), " valid ", hist.valid_loss.back());
  }
  if (progress) progress->finish();
  net.eval();
  return hist;
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
  std::string grid_json = "{\"shape\": [";
  for (size_t i = 1; i < sample.size(); ++i) grid_json += (i > 1 ? ", " : "") + std::to_string(sample[i]);
  grid_json += "]}";
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

void write_dcdm_history(const std::string& dir, const DCDMTrainHistory& h) {
  const std::string csv = dir + "/log.csv", tmp = csv + ".tmp";
  {
    std::ofstream f(tmp);
    f << "epoch,train_loss,valid_loss\n";
    for (std::size_t e = 0; e < h.train_loss.size(); ++e) f << e + 1 << "," << h.train_loss[e] << "," << h.valid_loss[e] << "\n";
    f.close();
    PHYSML_CHECK(f.good(), "write_dcdm_history: cannot write '", tmp, "'");
  }
  std::filesystem::rename(tmp, csv);
  if (h.train_loss.empty()) return;
  std::vector<double> ep, tr, va;
  for (std::size_t e = 0; e < h.train_loss.size(); ++e) {
    ep.push_back(static_cast<double>(e + 1));
    tr.push_back(h.train_loss[e]);
    va.push_back(h.valid_loss[e]);
  }
  std::vector<io::Series> series = {{"train", ep, tr}};
  if (std::isfinite(va.back())) series.push_back({"validation", ep, va, true});
  io::LinePlotOptions po;
  po.title = "DCDM loss |b - (q'b / q'Aq) A q|^2";
  po.xlabel = "epoch";
  po.ylabel = "loss";
  po.log_y = true;
  io::write_line_plot_png(dir + "/loss.png", series, po);
}

DCDMTrainOptions& DCDMTrainOptions::set_from_options(const Options& options) {
  OptionsReader r(options, "DCDM training: unsupervised loss |b - (q'b / q'Aq) A q|^2 over Ritz vectors");
  epochs = static_cast<int>(r.integer("epochs", epochs, "epochs", 0));
  batch_size = static_cast<int>(r.integer("batch_size", batch_size, "right-hand sides per batch", 1));
  lr = r.real("lr", lr, "Adam learning rate (the paper: 1e-4)");
  valid_fraction = r.real("valid_fraction", valid_fraction, "last fraction of the samples held out for validation");
  PHYSML_CHECK(valid_fraction >= 0 && valid_fraction < 1, "option -", options.prefix(),
               "valid_fraction = ", valid_fraction, " must be in [0, 1)");
  seed = static_cast<std::uint64_t>(r.integer("seed", static_cast<long>(seed), "seed of shuffling and initialization", 0));
  device = c10::Device(r.string("device", device.str(), "torch device (cpu, cuda, cuda:1, ...)"));
  return *this;
}

}  // namespace physml::train
