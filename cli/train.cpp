// `physml train CONFIG.yaml [-option value ...]`: train a neural operator on a Dataset file,
// or (-model dcdm) a DCDM network on a Ritz-vector data file with the unsupervised DCDM loss.
#include "command.hpp"

#include "physml/core/error.hpp"
#include "physml/core/log.hpp"
#include "physml/core/options.hpp"
#include "physml/core/options_reader.hpp"
#include "physml/core/random.hpp"
#include "physml/operators/checkpoint.hpp"
#include "physml/operators/dcdm_net.hpp"
#include "physml/operators/fno.hpp"
#include "physml/operators/mgno.hpp"
#include "physml/train/dataset.hpp"
#include "physml/train/dcdm_train.hpp"
#include "physml/train/figures.hpp"
#include "physml/operators/normalized_model.hpp"
#include "physml/train/trainer.hpp"

#include <petscsys.h>
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>

namespace {

using physml::Options;
using physml::OptionsReader;

/// -model dcdm: the DCDM network (operators/dcdm_net.hpp) trained with train::train_dcdm on
/// a "dcdm-ritz" Dataset (train::save_ritz_dataset; examples/dcdm_poisson/dcdm_train -data).
int run_train_dcdm(const Options& opt, const std::string& data, const std::string& out, const std::string& resume) {
  auto d = physml::train::load_ritz_dataset(data);
  const auto dim = static_cast<std::int64_t>(d.grid.size());
  PHYSML_CHECK(dim == 2 || dim == 3, "physml train -model dcdm: '", data, "' has a ", dim,
               "D grid; DCDM networks are 2D or 3D");
  physml::train::DCDMTrainOptions t;
  t.set_from_options(opt);
  physml::seed_everything(t.seed);  // before a new network is initialized
  t.checkpoint = out + "/last.h5";
  const std::vector<std::int64_t> tensor_grid(d.grid.rbegin(), d.grid.rend());
  std::shared_ptr<physml::operators::DCDMNetImpl> net;
  if (!resume.empty()) {
    // Weights only: a new run of -epochs epochs starts from them; Adam's moment estimates
    // start afresh (train_dcdm keeps no optimizer state). Use a new -output directory.
    net = std::dynamic_pointer_cast<physml::operators::DCDMNetImpl>(physml::operators::load(resume, "dcdm"));
    PHYSML_CHECK(net && net->options().dim() == dim, "physml train: '", resume, "' is not a ", dim,
                 "D DCDM model, the data are ", dim, "D");
    PHYSML_CHECK(net->options().train_grid() == d.grid, "physml train: '", resume,
                 "' was trained on another grid than the data's; resuming keeps the model's recorded training grid "
                 "(used by -ksp_dcdm_input_scale grid), so it must match");
    // The options read for a new network must agree with the resumed one where they were given.
    auto fresh = physml::operators::DCDMNetOptions(dim).variant(net->options().variant())
                     .mask_channel(net->options().mask_channel());
    OptionsReader r(opt.sub("dcdm_"), "DCDM network (Kaneda et al., ICML 2023)");
    const auto variant = r.choice("variant", {"from64", "from128"}, fresh.variant(), "network depth");
    const bool mask_channel = r.boolean("mask_channel", fresh.mask_channel(), "fluid/solid mask as a second input channel");
    PHYSML_CHECK(variant == net->options().variant(), "physml train: -dcdm_variant ", variant, " but '", resume,
                 "' is a ", net->options().variant(), " model");
    PHYSML_CHECK(mask_channel == net->options().mask_channel(), "physml train: -dcdm_mask_channel ",
                 mask_channel ? "true" : "false", " does not match '", resume, "'");
    physml::log_info("resumed from ", resume, " (weights; the optimizer restarts)");
  } else {
    net = std::dynamic_pointer_cast<physml::operators::DCDMNetImpl>(
        physml::operators::create_from_options("dcdm", opt, {1, 1, tensor_grid}));
  }
  physml::check_no_unused_options();
  std::filesystem::create_directories(out);
  std::int64_t nparams = 0;
  for (const auto& p : net->parameters()) nparams += p.numel();
  std::string g;
  for (std::size_t i = 0; i < d.grid.size(); ++i) g += (i ? "x" : "") + std::to_string(d.grid[i]);
  physml::log_info("training dcdm (", nparams, " parameters, ", net->options().variant(), ") on ", data, ": ",
                   d.b.size(0), " Ritz right-hand sides, grid ", g, ", validation fraction ", t.valid_fraction);
  const double before = physml::train::evaluate_dcdm(*net, d.b, d.A, d.grid, d.mask);
  auto h = physml::train::train_dcdm(*net, d.b, d.A, d.grid, t, d.mask);
  physml::train::write_dcdm_history(out, h);
  if (!h.train_loss.empty()) {
    std::printf("epoch %zu  train loss %.4e  valid loss %.4e  (before this run %.4e)\n", h.train_loss.size(),
                h.train_loss.back(), h.valid_loss.back(), before);
  } else {
    physml::operators::save(t.checkpoint, *net);
    std::printf("no epochs; loss %.4e\n", before);
  }
  std::printf("model: %s (use with -ksp_type dcdm -ksp_dcdm_model %s); log: %s/log.csv, %s/loss.png\n",
              t.checkpoint.c_str(), t.checkpoint.c_str(), out.c_str(), out.c_str());
  return 0;
}

/// Read the keys of every object `physml train` can build, so that `-help` lists them all
/// (without data, nothing run) and a CONFIG may carry sections for several model types
/// (-model switches between them) without the unselected ones counting as unused.
void read_every_section(const Options& opt) {
  physml::operators::MgNOOptions(1, 1).set_from_options(opt.sub("mgno_"));
  physml::operators::FNOOptions(1, 1).set_from_options(opt.sub("fno_"));
  physml::operators::DCDMNetOptions().set_from_options(opt.sub("dcdm_"));
  physml::train::TrainerOptions().set_from_options(opt);
  physml::train::DCDMTrainOptions().set_from_options(opt);
}

int run_train(const std::vector<std::string>& args) {
  // The CONFIG argument was inserted before the command line by main (-options_file_yaml), so
  // the command line overrides it.
  PHYSML_CHECK(args.size() <= 1, "physml train takes at most one CONFIG file, got ", args.size(), " arguments");
  Options opt;
  const bool help = opt.has("help");
  std::string type, data, out, resume, train_split, valid_split, xn_kind, yn_kind;
  physml::train::GridDatasetOptions dopt;
  std::int64_t train_count = -1, valid_count = -1, valid_begin = 0;
  {
    OptionsReader r(opt, "physml train: data, model type, output");
    auto types = physml::operators::configurable_models();
    type = r.choice("model", types, "mgno", "model type (each reads its own -<type>_* keys)");
    data = r.string("data", "", "Dataset file (physml generate; a dcdm-ritz file for -model dcdm)");
    out = r.string("output", "", "output directory (last.h5, best.h5, log.csv, loss.png, figures/)");
    resume = r.string("resume", "", "checkpoint to resume from (DIR/last.h5)");
    train_split = r.string("train_split", "train", "split to train on");
    valid_split = r.string("valid_split", "valid", "split to validate on (none = no validation)");
    train_count = r.integer("train_count", train_count, "training samples used (-1 = all)", -1);
    valid_count = r.integer("valid_count", valid_count, "validation samples used (-1 = all)", -1);
    valid_begin = r.integer("valid_begin", valid_begin, "first validation sample", 0);
    dopt.stride = r.integer("stride", dopt.stride, "subsample the grid by this stride", 1);
    dopt.snapshot_pairs = r.integer("snapshot_pairs", dopt.snapshot_pairs,
                                    "train on the first K one-step pairs of trajectory data (0 = input/output pairs)", 0);
    xn_kind = r.choice("x_normalizer", {"none", "pointwise", "scalar"}, "none", "input normalizer");
    yn_kind = r.choice("y_normalizer", {"none", "pointwise", "scalar"}, "none", "output normalizer");
  }
  read_every_section(opt);
  if (help) return 0;
  PHYSML_CHECK(!data.empty(), "missing required option -data (a Dataset file)");
  PHYSML_CHECK(std::filesystem::exists(data), "data file '", data, "' does not exist");
  PHYSML_CHECK(!out.empty(), "missing required option -output (a directory)");
  if (type == "dcdm") return run_train_dcdm(opt, data, out, resume);

  physml::train::TrainerOptions t;
  t.set_from_options(opt);
  physml::seed_everything(t.seed());
  dopt.count = train_count;
  physml::train::GridDataset train(data, train_split, dopt);
  dopt.count = valid_count;
  dopt.begin = valid_begin;
  std::unique_ptr<physml::train::GridDataset> valid;
  if (valid_split != "none") valid = std::make_unique<physml::train::GridDataset>(data, valid_split, dopt);

  const auto& in = train.input_shape();
  const std::vector<std::int64_t> grid(in.begin() + 1, in.end());
  auto inner = physml::operators::create_from_options(type, opt, {in[0], train.output_shape()[0], grid});
  physml::operators::Normalizer xn(xn_kind), yn(yn_kind);
  {
    auto [x, y] = train.all();
    xn->fit(x.to(torch::kFloat));
    yn->fit(y.to(torch::kFloat));
  }
  auto model = std::make_shared<physml::operators::NormalizedModel>(inner, xn, yn);
  physml::train::Trainer trainer(model, t);
  if (!resume.empty()) trainer.resume(resume);
  std::int64_t nparams = 0;
  for (const auto& p : model->parameters()) nparams += p.numel();
  physml::log_info("training ", inner->type(), " (", nparams, " parameters) on ", data, ": ", train.size(),
                   " train samples", valid ? ", " + std::to_string(valid->size()) + " validation samples" : "",
                   ", grid ", in.size() > 2 ? std::to_string(in[1]) + "x" + std::to_string(in[2]) : std::to_string(in[1]));
  physml::check_no_unused_options();
  auto records = trainer.fit(train, valid.get());
  if (!records.empty()) {
    const auto& r = records.back();
    std::printf("epoch %lld  train loss %.4e  valid L2 %.4e  valid H1 %.4e  (best valid L2 %.4e)\n",
                static_cast<long long>(r.epoch), r.train_loss, r.valid_l2, r.valid_h1, trainer.best_validation());
  }
  if (valid && (valid->input_shape().size() == 2 || valid->input_shape().size() == 3)) {
    auto best = physml::operators::load(t.output_dir() + "/best.h5");
    physml::train::write_prediction_figures(*best, *valid, t.output_dir() + "/figures", 3);
  }
  std::printf("figures: %s/loss.png, %s/figures/sample*.png|vti\n", t.output_dir().c_str(), t.output_dir().c_str());
  std::printf("checkpoints: %s/last.h5, %s/best.h5; log: %s/log.csv\n", t.output_dir().c_str(), t.output_dir().c_str(),
              t.output_dir().c_str());
  return 0;
}

PHYSML_COMMAND({"train", "train a neural operator (MgNO, FNO) or a DCDM network on a Dataset file",
                "physml train [CONFIG.yaml] -data FILE.h5 -output DIR [-option value ...]\n\n"
                "CONFIG is a PETSc YAML options file; options on the command line override it.\n"
                "`physml train -help` lists every option of every object with its default and meaning\n"
                "(data selection, -model mgno|fno|dcdm, -mgno_*, -fno_*, -dcdm_*, the trainer and the\n"
                "learning-rate schedule, DCDM training) without training anything.\n\n"
                "-model mgno|fno: supervised training through train::Trainer; writes DIR/last.h5 and\n"
                "DIR/best.h5 (checkpoints), DIR/log.csv, DIR/loss.png, DIR/figures/; -resume DIR/last.h5\n"
                "continues a run exactly (weights, optimizer, epoch).\n"
                "-model dcdm: a DCDM network (Kaneda et al. 2023) on a Ritz-vector data file (generator\n"
                "dcdm-ritz, written by examples/dcdm_poisson/dcdm_train -data FILE), unsupervised loss\n"
                "|b - (q'b/q'Aq) A q|^2; writes DIR/last.h5 every epoch, DIR/log.csv, DIR/loss.png;\n"
                "-resume OLD/last.h5 starts a new run (-epochs more epochs, fresh optimizer) from those weights.",
                run_train, /*config_file=*/true});

}  // namespace
