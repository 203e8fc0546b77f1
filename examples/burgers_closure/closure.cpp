// A learned subgrid closure for forced Burgers on a coarse grid, trained two ways, and judged
// on long rollouts against the filtered fine solution (the closure example of the embedding
// issue; seed: "Learning fast, accurate, and stable closures of a kinetic theory of an active
// fluid", whose a-priori/a-posteriori comparison this follows in 1-D).
//
//   ./burgers_closure -output runs/closure     # defaults: fine 2048, coarse 64, nu 2e-3, A 1.5
//
// 1. Fine reference: BurgersSolver (FFTW) with the forcing A sum_k sin(2 pi k x + phi_k +
//    omega_k t), every trajectory its own forcing and u0; spin-up, then snapshots.
// 2. Filter to the coarse grid (modes |k| < n/3) and compute the subgrid term tau.
// 3. A-priori: an FNO (no grid input: the closure is translation-equivariant) trained on
//    (u_bar, tau) pairs written as a Dataset file (the same training `physml train` runs).
// 4. A-posteriori: the a-priori model fine-tuned through the differentiable coarse solver
//    (ClosureTask: rollouts of `window` snapshot intervals, relative MSE).
// 5. Rollouts of the held-out trajectories (other forcings) over the whole record with no
//    closure, Smagorinsky (c_s fitted to tau by least squares on the training data), the
//    a-priori and the a-posteriori model: error against the filtered fine solution, energy,
//    time-averaged spectrum and the last state as PNGs, and a table (results.md).
//
// `-help` lists every option (fine_*, fno_*, apriori_*, aposteriori_* and the closure task's).
#include "physml/core/environment.hpp"
#include "physml/core/error.hpp"
#include "physml/core/log.hpp"
#include "physml/core/options.hpp"
#include "physml/core/options_reader.hpp"
#include "physml/core/random.hpp"
#include "physml/io/dataset.hpp"
#include "physml/io/png.hpp"
#include "physml/operators/checkpoint.hpp"
#include "physml/operators/fno.hpp"
#include "physml/simulators/coarse_burgers.hpp"
#include "physml/train/closure_task.hpp"
#include "physml/train/supervised_data.hpp"
#include "physml/train/trainer.hpp"

#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>

namespace sim = physml::simulators;
namespace tr = physml::train;

namespace {

struct Settings {
  std::int64_t coarse = 64, ntrain = 6, nvalid = 2, ntest = 2;
  double spinup = 2.0, interval = 0.02;
  std::int64_t snapshots = 201, test_snapshots = 501;
  std::uint64_t seed = 0;
  std::string output = "runs/closure";
  bool skip_aposteriori = false;

  Settings& set_from_options(const physml::Options& o) {
    physml::OptionsReader r(o, "Burgers closure example");
    coarse = r.integer("coarse", coarse, "coarse grid points (resolved modes |k| < coarse/3)", 8);
    ntrain = r.integer("ntrain", ntrain, "training trajectories", 1);
    nvalid = r.integer("nvalid", nvalid, "validation trajectories", 1);
    ntest = r.integer("ntest", ntest, "held-out test trajectories (other forcings)", 1);
    spinup = r.real("spinup", spinup, "fine spin-up time before the first snapshot");
    interval = r.real("interval", interval, "time between snapshots");
    snapshots = r.integer("snapshots", snapshots, "snapshots per training/validation trajectory", 2);
    test_snapshots = r.integer("test_snapshots", test_snapshots, "snapshots per test trajectory (the long rollout)", 2);
    seed = static_cast<std::uint64_t>(r.integer("seed", static_cast<long>(seed), "seed of u0 and the forcings", 0));
    output = r.string("output", output, "output directory (data, checkpoints, figures, results.md)");
    skip_aposteriori = r.boolean("skip_aposteriori", skip_aposteriori, "stop after the a-priori training");
    PHYSML_CHECK(spinup > 0 && interval > 0, "closure example: -spinup and -interval must be positive, got ", spinup,
                 " and ", interval);
    return *this;
  }
  std::vector<double> times(std::int64_t count) const {
    std::vector<double> t;
    for (std::int64_t j = 0; j < count; ++j) t.push_back(spinup + interval * static_cast<double>(j));
    return t;
  }
};

/// (ū, τ) pairs of every snapshot of `f` into split `split` of `w`, from sample `first` on.
void write_pairs(physml::io::DatasetWriter& w, const std::string& split, const sim::FilteredBurgers& f) {
  std::int64_t i = 0;
  for (std::int64_t s = 0; s < f.coarse.size(0); ++s)
    for (std::int64_t j = 0; j < f.coarse.size(1); ++j, ++i)
      w.write_sample(split, i, f.coarse[s][j].unsqueeze(0).to(torch::kFloat), f.subgrid[s][j].unsqueeze(0).to(torch::kFloat));
}

/// One closure's rollouts of the test trajectories.
struct Judged {
  std::string name;
  std::vector<double> error, energy;  // per snapshot, mean over test trajectories (NaN after a blow-up)
  std::vector<double> spectrum;       // time-averaged energy spectrum of the rollout
  at::Tensor last;                    // last state of test trajectory 0 (undefined after a blow-up)
};

std::vector<double> spectrum_of(const at::Tensor& u /*[T, n]*/) {
  auto uh = torch::fft::rfft(u) / static_cast<double>(u.size(-1));
  auto e = (uh.abs().pow(2)).mean(0);  // time average
  std::vector<double> out(static_cast<std::size_t>(e.size(0)));
  for (std::int64_t k = 0; k < e.size(0); ++k) out[static_cast<std::size_t>(k)] = e[k].item<double>();
  return out;
}

Judged judge(const std::string& name, const sim::FilteredBurgers& test, double dt, std::int64_t substeps,
             const sim::BurgersClosure& closure) {
  Judged j;
  j.name = name;
  const auto T = test.coarse.size(1);
  j.error.assign(static_cast<std::size_t>(T), 0.0);
  j.energy.assign(static_cast<std::size_t>(T), 0.0);
  at::Tensor all;
  torch::NoGradGuard g;
  for (std::int64_t s = 0; s < test.coarse.size(0); ++s) {
    sim::CoarseBurgers solver(test.options[static_cast<std::size_t>(s)], dt);
    auto truth = test.coarse[s];
    at::Tensor traj;
    try {
      auto rest = solver.rollout(truth[0].unsqueeze(0), test.times[0], (T - 1) * substeps, substeps, closure)[0];
      traj = torch::cat({truth[0].unsqueeze(0), rest});
    } catch (const physml::NonFiniteError& e) {
      physml::log_warning(name, ": ", e.what());
      for (auto& v : j.error) v = std::numeric_limits<double>::quiet_NaN();
      for (auto& v : j.energy) v = std::numeric_limits<double>::quiet_NaN();
      return j;
    }
    auto err = (traj - truth).norm(2, {1}) / truth.norm(2, {1});
    auto en = 0.5 * traj.pow(2).mean(1);
    for (std::int64_t t = 0; t < T; ++t) {
      j.error[static_cast<std::size_t>(t)] += err[t].item<double>() / static_cast<double>(test.coarse.size(0));
      j.energy[static_cast<std::size_t>(t)] += en[t].item<double>() / static_cast<double>(test.coarse.size(0));
    }
    all = all.defined() ? torch::cat({all, traj}) : traj;
    if (s == 0) j.last = traj[T - 1];
  }
  j.spectrum = spectrum_of(all);
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    physml::Environment env(argc, argv);
    const physml::Options opt;
    Settings st;
    st.set_from_options(opt);
    sim::BurgersOptions fine;
    fine.resolution = 2048;
    fine.viscosity = 2e-3;
    fine.forcing_amplitude = 1.5;
    fine.forcing_modes = 3;
    fine.forcing_seed = 1;
    fine.set_from_options(opt.sub("fine_"));
    auto fno = physml::operators::FNOOptions(1, 1).dim(1).modes({16}).width(32).layers(4).projection_channels(64)
                   .append_grid(false).domain_padding(0);
    fno.set_from_options(opt.sub("fno_"));
    tr::TrainerOptions pri;
    // Relative L2, not MSE: τ has variance ~3e-4, so MSE gradients sink below Adam's eps and
    // any weight decay (measured: MSE with decay 1e-5 learned nothing in 30 epochs).
    pri.epochs(60).batch_size(32).weight_decay(0).loss("l2").periodic(true);
    {
      tr::ScheduleOptions s;
      s.type = "onecycle";
      s.lr = 2e-3;
      pri.schedule(s);
    }
    pri.set_from_options(opt.sub("apriori_"), "A-priori training (pairs u_bar -> tau)");
    auto post = tr::TrainerOptions().epochs(4).batch_size(8).weight_decay(0);
    {
      tr::ScheduleOptions s;
      s.type = "constant";
      s.lr = 1e-4;
      post.schedule(s);
    }
    post.set_from_options(opt.sub("aposteriori_"), "A-posteriori training (through the coarse solver)");
    auto task_options = tr::ClosureTaskOptions().window(10).substeps(8).stride(5).set_from_options(opt);
    tr::SupervisedDataOptions data_options;
    data_options.x_normalizer = "scalar";
    data_options.y_normalizer = "scalar";
    data_options.set_from_options(opt);
    if (opt.has("help")) return 0;
    physml::check_no_unused_options();
    PHYSML_CHECK(st.coarse <= fine.resolution && fine.resolution % st.coarse == 0, "closure example: -coarse ",
                 st.coarse, " must divide -fine_resolution ", fine.resolution);
    std::filesystem::create_directories(st.output);
    physml::seed_everything(pri.seed());

    // 1-2. filtered fine trajectories: train, valid, test (disjoint indices: disjoint forcings and u0)
    physml::log_info("fine solves: ", st.ntrain + st.nvalid, " trajectories of ", st.snapshots, " snapshots and ", st.ntest,
                     " of ", st.test_snapshots, " at ", fine.resolution, " points");
    auto train = sim::filtered_burgers(fine, st.coarse, st.times(st.snapshots), st.seed, 0, st.ntrain, true);
    auto valid = sim::filtered_burgers(fine, st.coarse, st.times(st.snapshots), st.seed, st.ntrain, st.nvalid, true);
    auto test = sim::filtered_burgers(fine, st.coarse, st.times(st.test_snapshots), st.seed, st.ntrain + st.nvalid,
                                      st.ntest, true);

    // 3. a-priori pairs as a Dataset file, trained like `physml train`
    const auto pairs = st.output + "/apriori_pairs.h5";
    {
      physml::io::DatasetInfo info;
      info.generator = "burgers-closure";
      info.seed = static_cast<std::int64_t>(st.seed);
      info.split_sizes = {{"train", train.coarse.size(0) * train.coarse.size(1)},
                          {"valid", valid.coarse.size(0) * valid.coarse.size(1)}};
      info.input_shape = {1, st.coarse};
      info.output_shape = {1, st.coarse};
      std::filesystem::remove(pairs);
      auto w = physml::io::DatasetWriter::open(pairs, info);
      write_pairs(w, "train", train);
      write_pairs(w, "valid", valid);
      w.finish();
    }
    tr::SupervisedData data(pairs, data_options);
    auto model = data.normalized(std::make_shared<physml::operators::FNOImpl>(fno));
    const auto pri_dir = st.output + "/apriori";
    pri.output_dir(pri_dir);
    tr::Trainer t1(model, pri);
    t1.fit(data.train(), data.valid());
    auto apriori = physml::operators::load(pri_dir + "/best.h5");

    // Smagorinsky's c_s fitted to τ on the training pairs: c_s² = <τ, S₁(ū)> / <S₁, S₁>.
    auto S1 = sim::smagorinsky_term(train.coarse, 1.0);
    const double cs2 = std::max(0.0, (train.subgrid * S1).sum().item<double>() / S1.pow(2).sum().item<double>());
    const double cs = std::sqrt(cs2);
    physml::log_info("Smagorinsky c_s fitted to the subgrid term: ", cs);

    // 4. a-posteriori fine-tuning from the a-priori model
    std::shared_ptr<physml::operators::Model> aposteriori;
    tr::ClosureTask task(train, &valid, task_options);
    if (!st.skip_aposteriori) {
      aposteriori = physml::operators::load(pri_dir + "/best.h5");
      const auto post_dir = st.output + "/aposteriori";
      post.output_dir(post_dir);
      tr::Trainer t2(aposteriori, post);
      t2.fit(task);
      aposteriori = physml::operators::load(post_dir + "/best.h5");
    }

    // 5. long rollouts of the held-out trajectories
    const double dt = task.dt();
    std::vector<Judged> judged;
    judged.push_back(judge("no closure", test, dt, task_options.substeps(), {}));
    judged.push_back(judge("Smagorinsky", test, dt, task_options.substeps(),
                           [cs](const at::Tensor& u, double) { return sim::smagorinsky_term(u, cs); }));
    apriori->eval();
    judged.push_back(judge("a-priori FNO", test, dt, task_options.substeps(), tr::model_closure(*apriori)));
    if (aposteriori) {
      aposteriori->eval();
      judged.push_back(judge("a-posteriori FNO", test, dt, task_options.substeps(), tr::model_closure(*aposteriori)));
    }

    // figures and table
    std::vector<double> tt(test.times.begin(), test.times.end());
    std::vector<physml::io::Series> err, en, spec, last;
    std::vector<double> truth_energy(tt.size(), 0.0);
    for (std::int64_t s = 0; s < test.coarse.size(0); ++s)
      for (std::size_t t = 0; t < tt.size(); ++t)
        truth_energy[t] += 0.5 * test.coarse[s][static_cast<std::int64_t>(t)].pow(2).mean().item<double>() /
                           static_cast<double>(test.coarse.size(0));
    // the resolved modes only (3k < n; the solver keeps the others at zero)
    const auto kmax = static_cast<std::size_t>((st.coarse + 2) / 3);
    auto truth_spec = spectrum_of(test.coarse.reshape({-1, st.coarse}));
    truth_spec.resize(kmax);
    for (auto& j : judged)
      if (!j.spectrum.empty()) j.spectrum.resize(kmax);
    std::vector<double> ks, xs;
    for (std::size_t k = 1; k < kmax; ++k) ks.push_back(static_cast<double>(k));
    for (std::int64_t j = 0; j < st.coarse; ++j) xs.push_back(static_cast<double>(j) / static_cast<double>(st.coarse));
    auto tail = [](const std::vector<double>& v) { return std::vector<double>(v.begin() + 1, v.end()); };
    en.emplace_back("filtered fine", tt, truth_energy, true);
    spec.emplace_back("filtered fine", ks, tail(truth_spec), true);
    {
      auto l = test.coarse[0][test.coarse.size(1) - 1];
      last.emplace_back("filtered fine", xs, std::vector<double>(l.data_ptr<double>(), l.data_ptr<double>() + st.coarse), true);
    }
    std::ofstream md(st.output + "/results.md");
    md << "| closure | rel. L2 at t0+1 | at t0+" << (tt.back() - tt.front()) / 2 << " | at t0+" << tt.back() - tt.front()
       << " (end) | energy at end / filtered fine | spectrum error (k < " << st.coarse / 3 << ", log) |\n|---|---|---|---|---|---|\n";
    const auto at_time = [&](const std::vector<double>& v, double dt_from_start) {
      std::size_t i = static_cast<std::size_t>(std::llround(dt_from_start / st.interval));
      return v[std::min(i, v.size() - 1)];
    };
    for (const auto& j : judged) {
      err.emplace_back(j.name, tt, j.error);
      en.emplace_back(j.name, tt, j.energy);
      if (!j.spectrum.empty()) {
        spec.emplace_back(j.name, ks, tail(j.spectrum));
        auto l = j.last.contiguous();
        last.emplace_back(j.name, xs, std::vector<double>(l.data_ptr<double>(), l.data_ptr<double>() + st.coarse));
      }
      double spec_err = 0;
      int nk = 0;
      for (std::size_t k = 1; k < j.spectrum.size() && 3 * k < static_cast<std::size_t>(st.coarse); ++k, ++nk)
        spec_err += std::pow(std::log10(j.spectrum[k] / truth_spec[k]), 2);
      const double span = tt.back() - tt.front();
      char line[512];
      std::snprintf(line, sizeof line, "| %s | %.3g | %.3g | %.3g | %.3g | %.3g |\n", j.name.c_str(), at_time(j.error, 1.0),
                    at_time(j.error, span / 2), j.error.back(), j.energy.back() / truth_energy.back(),
                    nk ? std::sqrt(spec_err / nk) : std::numeric_limits<double>::quiet_NaN());
      md << line;
      std::printf("%s", line);
    }
    md << "\nSmagorinsky c_s (least squares on the training subgrid terms): " << cs << "\n";
    physml::io::LinePlotOptions p;
    p.xlabel = "t";
    p.title = "relative L2 error against the filtered fine solution";
    p.ylabel = "relative L2";
    p.log_y = true;
    physml::io::write_line_plot_png(st.output + "/error.png", err, p);
    p.title = "energy 1/2 <u^2>";
    p.ylabel = "energy";
    p.log_y = false;
    physml::io::write_line_plot_png(st.output + "/energy.png", en, p);
    p.title = "time-averaged energy spectrum";
    p.xlabel = "wavenumber k";
    p.ylabel = "|u_k|^2";
    p.log_x = p.log_y = true;
    physml::io::write_line_plot_png(st.output + "/spectrum.png", spec, p);
    p.title = "test trajectory 0 at the last snapshot";
    p.xlabel = "x";
    p.ylabel = "u";
    p.log_x = p.log_y = false;
    physml::io::write_line_plot_png(st.output + "/last_state.png", last, p);
    std::printf("wrote %s/{error,energy,spectrum,last_state}.png and results.md\n", st.output.c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "burgers_closure: error: %s\n", e.what());
    return 1;
  }
}
