// `physml train CONFIG.yaml [-option value ...]`: train a neural operator on a Dataset file,
// or (-model dcdm) a DCDM network on a Ritz-vector data file with the unsupervised DCDM loss.
#include "command.hpp"

#include "physml/core/error.hpp"
#include "physml/core/log.hpp"
#include "physml/core/options.hpp"
#include "physml/core/random.hpp"
#include "physml/io/png.hpp"
#include "physml/operators/checkpoint.hpp"
#include "physml/operators/dcdm_net.hpp"
#include "physml/operators/fno.hpp"
#include "physml/operators/mgno.hpp"
#include "physml/train/dataset.hpp"
#include "physml/train/dcdm_train.hpp"
#include "physml/train/figures.hpp"
#include "physml/train/normalized_model.hpp"
#include "physml/train/trainer.hpp"

#include <petscsys.h>
#include <torch/torch.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

namespace {

using physml::Options;

/// Insert the options of `path` that the command line did not set (the command line wins).
void insert_config(const std::string& path) {
  PetscOptions fdb = nullptr;
  PHYSML_PETSC(PetscOptionsCreate(&fdb));
  Options(std::string(), fdb).insert_file(path);
  char* all = nullptr;
  PHYSML_PETSC(PetscOptionsGetAll(fdb, &all));
  std::istringstream ss(all ? all : "");
  std::vector<std::string> tokens;
  for (std::string t; ss >> t;) tokens.push_back(t);
  PHYSML_PETSC(PetscFree(all));
  PHYSML_PETSC(PetscOptionsDestroy(&fdb));
  Options global;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].size() < 2 || tokens[i][0] != '-') continue;
    std::string name = tokens[i].substr(1), value;
    if (i + 1 < tokens.size() && !(tokens[i + 1][0] == '-' && tokens[i + 1].size() > 1 && std::isalpha(static_cast<unsigned char>(tokens[i + 1][1])))) value = tokens[++i];
    if (!global.has(name)) global.set(name, value);
  }
}

std::vector<std::int64_t> to64(const std::vector<long>& v) { return {v.begin(), v.end()}; }

std::shared_ptr<physml::operators::Model> build_model(const Options& opt, std::int64_t cin, std::int64_t cout,
                                                      const std::vector<std::int64_t>& grid) {
  const auto type = opt.get_choice("model", {"mgno", "fno"}, "mgno");
  const auto dim = static_cast<std::int64_t>(grid.size());
  std::optional<physml::operators::MgNOOptions> mgno;
  // Both option sets are read, so one file can carry an mgno and an fno section and
  // -model switches between them; misspelled names are still reported as unused.
  {
    auto o = opt.sub("mgno_");
    physml::operators::MgNOOptions m(cin, cout);
    m.channels(o.get_int("channels", 24)).levels(o.get_int("levels", 6)).layers(o.get_int("layers", 4)).dim(dim);
    m.padding_mode(o.get_choice("padding_mode", {"zeros", "circular", "reflect"}, "zeros"));
    m.normalization(o.get_bool("normalization", false));
    m.residual(o.get_bool("residual", false));
    m.grid_size(o.get_bool("fit_grid", true) ? grid : std::vector<std::int64_t>{});
    auto s = o.get_int_list("smoothing", {});
    if (!s.empty()) {
      PHYSML_CHECK(s.size() % 2 == 0, "-mgno_smoothing takes pre,post pairs (e.g. 1,0,1,0,2,0), got ", s.size(), " numbers");
      physml::operators::Smoothing sm;
      for (std::size_t i = 0; i < s.size(); i += 2) sm.push_back({s[i], s[i + 1]});
      m.smoothing(sm);
    }
    if (type == "mgno") mgno = m;
  }
  auto o = opt.sub("fno_");
  physml::operators::FNOOptions f(cin, cout);
  f.modes(to64(o.get_int_list("modes", {12}))).width(o.get_int("width", 32)).layers(o.get_int("layers", 4)).dim(dim);
  f.projection_channels(o.get_int("projection_channels", 128)).domain_padding(o.get_real("domain_padding", 0.0));
  f.append_grid(o.get_bool("append_grid", true));
  if (mgno) return std::make_shared<physml::operators::MgNOImpl>(*mgno);
  return std::make_shared<physml::operators::FNOImpl>(f);
}

/// -model dcdm: the DCDM network (operators/dcdm_net.hpp) trained with train::train_dcdm on
/// a "dcdm-ritz" Dataset (train::save_ritz_dataset; examples/dcdm_poisson/dcdm_train -data).
int run_train_dcdm(const Options& opt, const std::string& data, std::uint64_t seed) {
  auto d = physml::train::load_ritz_dataset(data);
  const auto dim = static_cast<int>(d.grid.size());
  PHYSML_CHECK(dim == 2 || dim == 3, "physml train -model dcdm: '", data, "' has a ", dim,
               "D grid; DCDM networks are 2D or 3D");
  auto o = opt.sub("dcdm_");
  const auto variant = o.get_choice("variant", {"from64", "from128"}, "from64");
  const bool mask_channel = o.get_bool("mask_channel", false);
  physml::train::DCDMTrainOptions t;
  t.epochs = static_cast<int>(opt.get_int("epochs", 10));
  t.batch_size = static_cast<int>(opt.get_int("batch_size", 10));
  t.lr = opt.get_real("lr", 1e-3);
  t.valid_fraction = opt.get_real("valid_fraction", 0.1);
  t.seed = seed;
  const auto device = opt.get_string("device", "cpu");
  t.device = c10::Device(device);
  const std::string out = opt.get_string("output", "run");
  const std::string resume = opt.get_string("resume", "");
  physml::check_no_unused_options();

  std::filesystem::create_directories(out);
  t.checkpoint = out + "/last.h5";
  std::shared_ptr<physml::operators::DCDMNetImpl> net;
  if (!resume.empty()) {
    // Weights only: a new run of -epochs epochs starts from them; Adam's moment estimates
    // start afresh (train_dcdm keeps no optimizer state). Use a new -output directory.
    net = std::dynamic_pointer_cast<physml::operators::DCDMNetImpl>(physml::operators::load_model(resume, "dcdm"));
    PHYSML_CHECK(net && net->options().dim() == dim, "physml train: '", resume, "' is not a ", dim,
                 "D DCDM model, the data are ", dim, "D");
    PHYSML_CHECK(net->options().train_grid() == d.grid, "physml train: '", resume,
                 "' was trained on another grid than the data's; resuming keeps the model's recorded training grid "
                 "(used by -ksp_dcdm_input_scale grid), so it must match");
    PHYSML_CHECK(!o.has("variant") || variant == net->options().variant(), "physml train: -dcdm_variant ", variant,
                 " but '", resume, "' is a ", net->options().variant(), " model");
    PHYSML_CHECK(!o.has("mask_channel") || mask_channel == net->options().mask_channel(), "physml train: -dcdm_mask_channel ",
                 mask_channel ? "true" : "false", " does not match '", resume, "'");
    physml::log_info("resumed from ", resume, " (weights; the optimizer restarts)");
  } else {
    net = std::make_shared<physml::operators::DCDMNetImpl>(
        physml::operators::DCDMNetOptions(dim).variant(variant).mask_channel(mask_channel).train_grid(d.grid));
  }
  std::int64_t nparams = 0;
  for (const auto& p : net->parameters()) nparams += p.numel();
  std::string g;
  for (std::size_t i = 0; i < d.grid.size(); ++i) g += (i ? "x" : "") + std::to_string(d.grid[i]);
  physml::log_info("training dcdm (", nparams, " parameters, ", net->options().variant(), ") on ", data, ": ",
                   d.b.size(0), " Ritz right-hand sides, grid ", g, ", validation fraction ", t.valid_fraction);
  const double before = physml::train::evaluate_dcdm(*net, d.b, d.A, d.grid, d.mask);
  auto h = physml::train::train_dcdm(*net, d.b, d.A, d.grid, t, d.mask);
  {
    const std::string csv = out + "/log.csv", tmp = csv + ".tmp";
    std::ofstream f(tmp);
    f << "epoch,train_loss,valid_loss\n";
    for (std::size_t e = 0; e < h.train_loss.size(); ++e) f << e + 1 << "," << h.train_loss[e] << "," << h.valid_loss[e] << "\n";
    f.close();
    PHYSML_CHECK(f.good(), "physml train: cannot write '", csv, "'");
    std::filesystem::rename(tmp, csv);
  }
  if (!h.train_loss.empty()) {
    std::vector<double> ep, tr, va;
    for (std::size_t e = 0; e < h.train_loss.size(); ++e) {
      ep.push_back(static_cast<double>(e + 1));
      tr.push_back(h.train_loss[e]);
      va.push_back(h.valid_loss[e]);
    }
    std::vector<physml::io::Series> series = {{"train", ep, tr}};
    if (std::isfinite(va.back())) series.push_back({"validation", ep, va, true});
    physml::io::LinePlotOptions po;
    po.title = "DCDM loss |b - (q'b / q'Aq) A q|^2";
    po.xlabel = "epoch";
    po.ylabel = "loss";
    po.log_y = true;
    physml::io::write_line_plot_png(out + "/loss.png", series, po);
    std::printf("epoch %zu  train loss %.4e  valid loss %.4e  (before this run %.4e)\n", h.train_loss.size(),
                h.train_loss.back(), h.valid_loss.back(), before);
  } else {
    physml::operators::save_model(t.checkpoint, *net);
    std::printf("no epochs; loss %.4e\n", before);
  }
  std::printf("model: %s (use with -ksp_type dcdm -ksp_dcdm_model %s); log: %s/log.csv, %s/loss.png\n",
              t.checkpoint.c_str(), t.checkpoint.c_str(), out.c_str(), out.c_str());
  return 0;
}

int run_train(const std::vector<std::string>& args) {
  PHYSML_CHECK(args.size() <= 1, "physml train takes at most one CONFIG file, got ", args.size(), " arguments");
  if (!args.empty()) insert_config(args[0]);
  Options opt;
  const auto seed = static_cast<std::uint64_t>(opt.get_int("seed", 0));
  physml::seed_everything(seed);
  const auto data = opt.require_string("data");
  if (opt.get_choice("model", {"mgno", "fno", "dcdm"}, "mgno") == "dcdm") return run_train_dcdm(opt, data, seed);
  physml::train::GridDatasetOptions dopt;
  dopt.stride = opt.get_int("stride", 1);
  dopt.count = opt.get_int("train_count", -1);
  dopt.snapshot_pairs = opt.get_int("snapshot_pairs", 0);
  physml::train::GridDataset train(data, opt.get_string("train_split", "train"), dopt);
  dopt.count = opt.get_int("valid_count", -1);
  dopt.begin = opt.get_int("valid_begin", 0);
  const auto valid_split = opt.get_string("valid_split", "valid");
  std::unique_ptr<physml::train::GridDataset> valid;
  if (valid_split != "none") valid = std::make_unique<physml::train::GridDataset>(data, valid_split, dopt);

  const auto& in = train.input_shape();
  std::vector<std::int64_t> grid(in.begin() + 1, in.end());
  auto inner = build_model(opt, in[0], train.output_shape()[0], grid);
  physml::train::Normalizer xn(opt.get_choice("x_normalizer", {"none", "pointwise", "scalar"}, "none"));
  physml::train::Normalizer yn(opt.get_choice("y_normalizer", {"none", "pointwise", "scalar"}, "none"));
  {
    auto [x, y] = train.all();
    xn->fit(x.to(torch::kFloat));
    yn->fit(y.to(torch::kFloat));
  }
  auto model = std::make_shared<physml::train::NormalizedModel>(inner, xn, yn);

  physml::train::ScheduleOptions s;
  s.type = opt.get_choice("schedule", {"constant", "step", "cosine", "onecycle"}, "onecycle");
  s.lr = opt.get_real("lr", 5e-4);
  s.step_size = opt.get_int("step_size", 100);
  s.gamma = opt.get_real("gamma", 0.5);
  s.min_lr = opt.get_real("min_lr", 0.0);
  s.pct_start = opt.get_real("pct_start", 0.2);
  s.div_factor = opt.get_real("div_factor", 2.0);
  s.final_div_factor = opt.get_real("final_div_factor", 100.0);
  s.warmup_steps = opt.get_int("warmup", 0);
  physml::train::TrainerOptions t;
  t.epochs(opt.get_int("epochs", 10)).batch_size(opt.get_int("batch_size", 8)).schedule(s);
  t.optimizer(opt.get_choice("optimizer", {"adam", "adamw"}, "adam")).weight_decay(opt.get_real("weight_decay", 1e-4));
  t.loss(opt.get_choice("loss", {"l2", "h1", "h1_spectral", "mse"}, "l2")).periodic(opt.get_bool("periodic", false));
  t.grad_clip(opt.get_real("grad_clip", 0.0)).seed(seed).output_dir(opt.get_string("output", "run"));
  t.stop_after(opt.get_int("stop_after", -1));
  const auto resume = opt.get_string("resume", "");
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
    auto best = physml::train::load_model(t.output_dir() + "/best.h5");
    physml::train::write_prediction_figures(*best, *valid, t.output_dir() + "/figures", 3);
  }
  std::printf("figures: %s/loss.png, %s/figures/sample*.png|vti\n", t.output_dir().c_str(), t.output_dir().c_str());
  std::printf("checkpoints: %s/last.h5, %s/best.h5; log: %s/log.csv\n", t.output_dir().c_str(), t.output_dir().c_str(),
              t.output_dir().c_str());
  return 0;
}

PHYSML_COMMAND({"train", "train a neural operator (MgNO, FNO) or a DCDM network on a Dataset file",
                "physml train [CONFIG.yaml] -data FILE.h5 [-option value ...]\n\n"
                "CONFIG is a PETSc YAML options file; options on the command line override it.\n"
                "  -data FILE            Dataset file (physml generate)\n"
                "  -train_split train    -valid_split valid|none   -train_count N -valid_count N\n"
                "  -valid_begin B        first validation sample (e.g. -valid_split train -train_count 200\n"
                "                        -valid_begin 200 validates on the rest of the training split)\n"
                "  -stride S             subsample the grid by S\n"
                "  -snapshot_pairs K     train a one-step model on the pairs (w(t_k), w(t_k+1)), k < K, of\n"
                "                        trajectory data (physml generate navier-stokes); 0 = input/output pairs\n"
                "  -model mgno|fno|dcdm\n"
                "  -mgno_channels 24 -mgno_levels 6 -mgno_layers 4 -mgno_padding_mode zeros|circular|reflect\n"
                "  -mgno_smoothing 1,0,...,2,0 -mgno_normalization false -mgno_residual false -mgno_fit_grid true\n"
                "  -fno_modes 12 -fno_width 32 -fno_layers 4 -fno_projection_channels 128 -fno_domain_padding 0\n"
                "  -x_normalizer none|pointwise|scalar  -y_normalizer none|pointwise|scalar\n"
                "  -epochs 10 -batch_size 8 -optimizer adam|adamw -lr 5e-4 -weight_decay 1e-4\n"
                "  -schedule onecycle|step|cosine|constant (-pct_start 0.2 -div_factor 2 -final_div_factor 100,\n"
                "            -step_size 100 -gamma 0.5, -min_lr 0) -warmup 0\n"
                "  -loss l2|h1|h1_spectral|mse -periodic false -grad_clip 0 -seed 0\n"
                "  -output DIR (last.h5, best.h5, log.csv)  -resume DIR/last.h5  -stop_after N\n\n"
                "-model dcdm: a DCDM network (Kaneda et al. 2023) on a Ritz-vector data file (generator\n"
                "dcdm-ritz, written by examples/dcdm_poisson/dcdm_train -data FILE), unsupervised loss\n"
                "|b - (q'b/q'Aq) A q|^2; writes DIR/last.h5 every epoch, DIR/log.csv, DIR/loss.png:\n"
                "  -dcdm_variant from64|from128 -dcdm_mask_channel false -epochs 10 -batch_size 10\n"
                "  -lr 1e-3 -valid_fraction 0.1 -seed 0 -device cpu -output DIR\n"
                "  -resume OLD/last.h5   start a new run (-epochs more epochs, fresh optimizer) from those weights",
                run_train});

}  // namespace
