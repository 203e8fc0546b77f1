// `physml train CONFIG.yaml [-option value ...]`: train a neural operator on a Dataset file,
// or (-model dcdm) a DCDM network on a Ritz-vector data file with the unsupervised DCDM loss.
#include "command.hpp"

#include "physml/core/error.hpp"
#include "physml/core/log.hpp"
#include "physml/core/options.hpp"
#include "physml/core/options_reader.hpp"
#include "physml/core/random.hpp"
#include "physml/io/hdf5.hpp"  // dtype_name
#include "physml/operators/checkpoint.hpp"
#include "physml/operators/dcdm_net.hpp"
#include "physml/operators/fno.hpp"
#include "physml/operators/mgno.hpp"
#include "physml/train/dataset.hpp"
#include "physml/train/dcdm_train.hpp"
#include "physml/train/figures.hpp"
#include "physml/train/nclaw_task.hpp"
#include "physml/train/particle_task.hpp"
#include "physml/operators/giorom.hpp"
#include "physml/operators/gns.hpp"
#include "physml/operators/nclaw.hpp"
#include "physml/train/supervised_data.hpp"
#include "physml/operators/normalized_model.hpp"
#include "physml/train/trainer.hpp"

#include <petscsys.h>
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <type_traits>

namespace {

/// What every path of `physml train` does with its Trainer before fit(): record how the run
/// was configured, resume exactly from -resume if given; returns the model's parameter count.
std::int64_t prepare_trainer(physml::train::Trainer& trainer, const physml::operators::Model& model,
                             const std::string& resume, const physml::OptionsRecorder& recorder) {
  trainer.set_metadata(recorder.json());
  if (!resume.empty()) {
    trainer.resume(resume);
    physml::log_info("resumed from ", resume, " at epoch ", trainer.epoch());
  }
  std::int64_t n = 0;
  for (const auto& p : model.parameters()) n += p.numel();
  return n;
}

using physml::Options;
using physml::OptionsReader;

/// Title of the trainer's -help section with the DCDM defaults (train::dcdm_trainer_options).
const char* const kDCDMTrainerTitle = "Trainer with -model dcdm (defaults of DCDM training, Kaneda et al. 2023)";

/// -model dcdm: the DCDM network (operators/dcdm_net.hpp) trained by train::Trainer on the
/// train::DCDMTask of a "dcdm-ritz" Dataset (train::save_ritz_dataset;
/// examples/dcdm_poisson/dcdm_train -data).
int run_train_dcdm(const Options& opt, const std::string& data, const std::string& resume, const std::string& device,
                   const physml::OptionsRecorder& recorder) {
  auto d = physml::train::load_ritz_dataset(data);
  const auto dim = static_cast<std::int64_t>(d.grid.size());
  PHYSML_CHECK(dim == 2 || dim == 3, "physml train -model dcdm: '", data, "' has a ", dim,
               "D grid; DCDM networks are 2D or 3D");
  auto t = physml::train::dcdm_trainer_options().set_from_options(opt, kDCDMTrainerTitle);
  const auto task_options = physml::train::DCDMTaskOptions().set_from_options(opt);
  physml::seed_everything(t.seed());  // before a new network is initialized
  const std::vector<std::int64_t> tensor_grid(d.grid.rbegin(), d.grid.rend());
  auto net = std::dynamic_pointer_cast<physml::operators::DCDMNetImpl>(
      physml::operators::create_from_options("dcdm", opt, {1, 1, tensor_grid}));
  net->to(c10::Device(device));
  physml::check_no_unused_options();
  physml::train::DCDMTask task(d.b, d.A, d.grid, d.mask, task_options);
  physml::train::Trainer trainer(net, t);
  // must be those of the checkpoint (load_into names the first that differs).
  const auto nparams = prepare_trainer(trainer, *net, resume, recorder);
  std::string g;
  for (std::size_t i = 0; i < d.grid.size(); ++i) g += (i ? "x" : "") + std::to_string(d.grid[i]);
  physml::log_info("training dcdm (", nparams, " parameters, ", net->options().variant(), ") on ", data, ": ",
                   task.size(), " + ", task.validation_size(), " Ritz right-hand sides (train + validation), grid ", g);
  const double before = physml::train::evaluate_dcdm(*net, d.b, d.A, d.grid, d.mask);
  auto records = trainer.fit(task);
  if (trainer.rank() != 0) return 0;  // rank 0 prints (and writes)
  if (!records.empty()) {
    const auto& r = records.back();
    std::printf("epoch %lld  train loss %.4e  valid loss %.4e  (before this run %.4e)\n",
                static_cast<long long>(r.epoch), r.train_loss, r.metric("valid_loss"), before);
  }
  const std::string last = t.output_dir() + "/last.h5";
  std::printf("model: %s (use with -ksp_type dcdm -ksp_dcdm_model %s), %s/best.h5; log: %s/log.csv, %s/loss.png\n",
              last.c_str(), last.c_str(), t.output_dir().c_str(), t.output_dir().c_str(), t.output_dir().c_str());
  return 0;
}

/// Title of the trainer's -help section with NCLaw's defaults (train::nclaw_trainer_options).
const char* const kNCLawTrainerTitle = "Trainer with -model nclaw_* (defaults of NCLaw training, Ma et al. 2023)";

/// -model nclaw | nclaw_elastic | nclaw_unconstrained: a learned law (elastic + plastic for nclaw) trained through the
/// differentiable MPM simulator on one Trajectory file (physml simulate -store state), by
/// train::Trainer on the train::NCLawTask.
int run_train_nclaw(const Options& opt, const std::string& type, const std::string& data, const std::string& resume,
                    const std::string& device, const physml::OptionsRecorder& recorder) {
  auto t = physml::train::nclaw_trainer_options().set_from_options(opt, kNCLawTrainerTitle);
  const auto task_options = physml::train::NCLawTaskOptions().set_from_options(opt);
  physml::seed_everything(t.seed());
  auto law = physml::operators::create_from_options(type, opt, {});
  law->to(c10::Device(device), task_options.scalar_type());
  physml::check_no_unused_options();
  physml::train::NCLawTask task(data, task_options);
  physml::train::Trainer trainer(law, t);
  const auto nparams = prepare_trainer(trainer, *law, resume, recorder);
  physml::log_info("training ", type, " (", nparams, " parameters) through the differentiable MPM on ", data, ": ",
                   task.particles(), " particles, ", task.frames(), " frames, ",
                   physml::io::dtype_name(law->parameters().front().scalar_type()), " weights");
  auto records = trainer.fit(task);
  if (trainer.rank() != 0) return 0;  // rank 0 prints (and writes)
  if (!records.empty()) {
    const auto& r = records.back();
    std::printf("epoch %lld  train loss %.4e  rollout MSE %.4e  (best %.4e)\n", static_cast<long long>(r.epoch),
                r.train_loss, r.metric("rollout_mse"), trainer.best_validation());
  }
  std::printf("law: %s/best.h5, %s/last.h5; log: %s/log.csv, %s/loss.png\n", t.output_dir().c_str(),
              t.output_dir().c_str(), t.output_dir().c_str(), t.output_dir().c_str());
  return 0;
}

/// Title of the trainer's -help section with the particle simulators' defaults.
const char* const kParticleTrainerTitle = "Trainer with -model gns|giorom|giorom_evaluator (defaults of GNS training)";

using physml::cli::split_list;

/// -model gns | giorom: a learned particle simulator on Trajectory files of physml simulate
/// (train::ParticleTask); -model giorom_evaluator: GIOROM's point evaluator on their
/// full-resolution frames (train::EvaluatorTask); both through the one train::Trainer with GNS's
/// defaults. `Task` reads its options; the two metrics name what the final line prints.
template <class Task, class TaskOptions>
int run_train_trajectories(const Options& opt, const std::string& type, const std::string& data, const std::string& valid,
                           const std::string& resume, const std::string& device, const physml::OptionsRecorder& recorder,
                           const char* metric1, const char* label1, const char* metric2, const char* label2) {
  auto t = physml::train::particle_trainer_options().set_from_options(opt, kParticleTrainerTitle);
  const auto task_options = TaskOptions().set_from_options(opt);
  physml::seed_everything(t.seed());
  auto model = physml::operators::create_from_options(type, opt, {});
  model->to(c10::Device(device));
  physml::check_no_unused_options();
  Task task(split_list(data), split_list(valid), task_options);
  physml::train::Trainer trainer(model, t);
  const auto nparams = prepare_trainer(trainer, *model, resume, recorder);
  physml::log_info("training ", type, " (", nparams, " parameters) on ", task.train_trajectories(), " trajectories (",
                   task.dim(), "-D", std::is_same_v<Task, physml::train::EvaluatorTask> ? ", " + std::to_string(task.size()) + " frames" : "",
                   "), validating on ", task.valid_trajectories());
  auto records = trainer.fit(task);
  if (trainer.rank() != 0) return 0;  // rank 0 prints (and writes)
  if (!records.empty()) {
    const auto& r = records.back();
    std::printf("epoch %lld  train loss %.4e  %s %.4e  %s %.4e  (best %.4e)\n", static_cast<long long>(r.epoch), r.train_loss,
                label1, r.metric(metric1), label2, r.metric(metric2), trainer.best_validation());
  }
  std::printf("model: %s/best.h5, %s/last.h5; log: %s/log.csv, %s/loss.png\n", t.output_dir().c_str(),
              t.output_dir().c_str(), t.output_dir().c_str(), t.output_dir().c_str());
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
  physml::train::dcdm_trainer_options().set_from_options(opt, kDCDMTrainerTitle);
  physml::train::DCDMTaskOptions().set_from_options(opt);
  physml::operators::NCLawElasticOptions().set_from_options(opt.sub("nclaw_elastic_"));
  physml::operators::NCLawUnconstrainedOptions().set_from_options(opt.sub("nclaw_unconstrained_"));
  physml::operators::NCLawOptions().set_from_options(opt.sub("nclaw_"));
  physml::train::nclaw_trainer_options().set_from_options(opt, kNCLawTrainerTitle);
  physml::train::NCLawTaskOptions().set_from_options(opt);
  physml::train::SupervisedDataOptions().set_from_options(opt);
  physml::operators::GNSOptions().set_from_options(opt.sub("gns_"));
  physml::operators::GIOROMOptions().set_from_options(opt.sub("giorom_"));
  physml::train::particle_trainer_options().set_from_options(opt, kParticleTrainerTitle);
  physml::train::ParticleTaskOptions().set_from_options(opt);
  physml::operators::PointEvaluatorOptions().set_from_options(opt.sub("giorom_evaluator_"));
  physml::train::EvaluatorTaskOptions().set_from_options(opt);
}

int run_train(const std::vector<std::string>& args) {
  // The CONFIG argument was inserted before the command line by main (-options_file_yaml), so
  // the command line overrides it.
  PHYSML_CHECK(args.size() <= 1, "physml train takes at most one CONFIG file, got ", args.size(), " arguments");
  Options opt;
  const bool help = opt.has("help");

  std::string type, data, valid_data, out, resume, device;
  {
    OptionsReader r(opt, "physml train: data, model type, output");
    auto types = physml::operators::configurable_models();
    type = r.choice("model", types, "mgno", "model type (each reads its own -<type>_* keys)");
    data = r.string("data", "", "Dataset file (physml generate; a dcdm-ritz file for -model dcdm; a Trajectory file "
                    "of physml simulate for -model nclaw_*; comma-separated Trajectory files or wildcard patterns for -model gns|giorom)");
    valid_data = r.string("valid_data", "", "validation Trajectory files or patterns for -model gns|giorom (comma-separated)");
    out = r.string("output", "", "output directory (last.h5, best.h5, log.csv, loss.png, figures/)");
    resume = r.string("resume", "", "checkpoint to resume from exactly (DIR/last.h5)");
    device = r.string("device", "cpu", "torch device of the model (cpu, cuda, cuda:1, ...)");
  }
  read_every_section(opt);
  if (help) return 0;
  // Every key the chosen path reads from here on (model, trainer, data) goes into the
  // checkpoints' "options" attribute, with the keys of the first section.
  physml::OptionsRecorder recorder;
  for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
           {"-model", type}, {"-data", data}, {"-valid_data", valid_data}, {"-output", out}, {"-resume", resume}, {"-device", device}})
    recorder.add(k, v);
  PHYSML_CHECK(!data.empty(), "missing required option -data (a Dataset file)");
  // -data lists Trajectory files (or patterns), checked by the task
  const bool particles = type == "gns" || type == "giorom" || type == "giorom_evaluator";
  PHYSML_CHECK(particles || std::filesystem::exists(data), "data file '", data, "' does not exist");
  PHYSML_CHECK(!out.empty(), "missing required option -output (a directory)");
  PHYSML_CHECK(!std::filesystem::exists(out) || std::filesystem::is_directory(out), "-output '", out,
               "' is a file; expected a directory (for last.h5, best.h5, log.csv)");
  if (type == "giorom_evaluator")
    return run_train_trajectories<physml::train::EvaluatorTask, physml::train::EvaluatorTaskOptions>(
        opt, type, data, valid_data, resume, device, recorder, "position_mse", "position MSE", "relative_error",
        "relative error");
  if (particles)
    return run_train_trajectories<physml::train::ParticleTask, physml::train::ParticleTaskOptions>(
        opt, type, data, valid_data, resume, device, recorder, "one_step_mse", "one-step MSE", "rollout_mse", "rollout MSE");
  if (type == "dcdm") return run_train_dcdm(opt, data, resume, device, recorder);
  if (type.rfind("nclaw", 0) == 0) return run_train_nclaw(opt, type, data, resume, device, recorder);

  physml::train::TrainerOptions t;
  t.set_from_options(opt);
  physml::seed_everything(t.seed());
  physml::train::SupervisedData split(data, physml::train::SupervisedDataOptions().set_from_options(opt));
  const auto& train = split.train();
  const auto* valid = split.valid();
  const auto& in = train.input_shape();
  auto inner = physml::operators::create_from_options(type, opt, split.model_shape());
  auto model = split.normalized(inner);
  model->to(c10::Device(device));
  physml::train::Trainer trainer(model, t);
  const auto nparams = prepare_trainer(trainer, *model, resume, recorder);
  physml::log_info("training ", inner->type(), " (", nparams, " parameters) on ", data, ": ", train.size(),
                   " train samples", valid ? ", " + std::to_string(valid->size()) + " validation samples" : "",
                   ", grid ", in.size() > 2 ? std::to_string(in[1]) + "x" + std::to_string(in[2]) : std::to_string(in[1]));
  physml::check_no_unused_options();
  auto records = trainer.fit(train, valid);
  if (trainer.rank() != 0) return 0;  // rank 0 prints and draws the figures
  if (!records.empty()) {
    const auto& r = records.back();
    std::printf("epoch %lld  train loss %.4e  valid L2 %.4e  valid H1 %.4e  (best valid L2 %.4e)\n",
                static_cast<long long>(r.epoch), r.train_loss, r.metric("valid_l2"), r.metric("valid_h1"), trainer.best_validation());
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

PHYSML_COMMAND({"train", "train a neural operator (MgNO, FNO), a DCDM network or an NCLaw constitutive law",
                "physml train [CONFIG.yaml] -data FILE.h5 -output DIR [-option value ...]\n\n"
                "CONFIG is a PETSc YAML options file; options on the command line override it.\n"
                "`physml train -help` lists every option of every object with its default and meaning\n"
                "(data selection, -model mgno|fno|dcdm, -mgno_*, -fno_*, -dcdm_*, the trainer and the\n"
                "learning-rate schedule, DCDM training) without training anything.\n\n"
                "-model mgno|fno: supervised training (train::Trainer, SupervisedTask); writes DIR/last.h5 and\n"
                "DIR/best.h5 (checkpoints), DIR/log.csv, DIR/loss.png, DIR/figures/; -resume DIR/last.h5\n"
                "continues a run exactly (weights, optimizer, epoch).\n"
                "-model dcdm: a DCDM network (Kaneda et al. 2023) on a Ritz-vector data file (generator\n"
                "dcdm-ritz, written by examples/dcdm_poisson/dcdm_train -data FILE), unsupervised loss\n"
                "|b - (q'b/q'Aq) A q|^2 (train::Trainer, DCDMTask); writes the same files; -resume\n"
                "DIR/last.h5 continues exactly as for the operators.\n"
                "-model nclaw|nclaw_elastic|nclaw_unconstrained: a learned constitutive law (Ma et al. 2023; nclaw\n"
                "holds the elastic and the plastic network, -nclaw_law invariant|unconstrained) trained\n"
                "through the differentiable MPM simulator on one Trajectory file (physml simulate -store state):\n"
                "teacher-forced segments of -segment_min to -segment_max frames, position MSE, validation by a\n"
                "free rollout (rollout_mse); Adam lr 1.0, cosine schedule, clip 0.1, 300 epochs by default.\n"
                "-model gns|giorom: a learned particle simulator (GNS, Sanchez-Gonzalez et al. 2020; GIOROM,\n"
                "Viswanath et al.) on -data a.h5,b.h5 or -data 'runs/jelly_0*.h5' (Trajectory files of physml simulate,\n"
                "e.g. the members of physml simulate -trajectories N), validated by free\n"
                "rollouts of -valid_data c.h5: windows of -gns_window / -giorom_window velocities with random-walk\n"
                "noise, acceleration MSE (+ -position_weight x next-position MSE), -sample_fraction for sparse\n"
                "graphs; Adam lr 1e-4 decayed x0.9 per epoch, batch 2 windows by default.\n"
                "-model giorom_evaluator: GIOROM's point evaluator on the full-resolution frames of -data (frame 0\n"
                "the reference; -evaluator_sparse points per trajectory, -evaluator_sampling fps|random,\n"
                "-evaluator_queries per sample), validated by the position MSE of every particle of -valid_data.\n"
                "mpirun -n N physml train ...: data-parallel training, -batch_size per rank (a step sees\n"
                "batch_size x N samples), gradients averaged over ranks, rank 0 writes (docs/parallel.md).",
                run_train, /*config_file=*/true});

}  // namespace
