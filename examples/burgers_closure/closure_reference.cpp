// The library's side of the closure-in-a-foreign-time-loop check: writes the run that the C
// and Fortran programs (c/closure_loop.c, fortran/closure_loop.f90) integrate in their own
// time loops, and what simulators::CoarseBurgers gives for it; then judges their result.
//
//   # a run: grid, viscosity, dt, steps, start time, the drawn forcing and u0 (text, setup.txt),
//   # and CoarseBurgers' final state with the closure model (reference.txt) and without (no_closure.txt)
//   ./burgers_closure_reference -model closure.h5 -setup setup.txt -reference reference.txt -no_closure no_closure.txt
//   # the same with a fixed-seed float64 FNO written to -model first (tests, trying it out)
//   ./burgers_closure_reference -make_model -model fno_seed0.h5 -setup setup.txt ...
//   # judge a foreign program's final state against CoarseBurgers (exit 1 beyond -rtol)
//   ./burgers_closure_reference -check final_c.txt -reference reference.txt -no_closure no_closure.txt -rtol 1e-10
//
// The closure is train::model_closure (the model on [1, 1, n], as the example's training and
// rollouts call it) with the model cast to float64: the C and Fortran programs load it with
// -closure_dtype float64 and compute in float64.
#include "physml/core/environment.hpp"
#include "physml/core/error.hpp"
#include "physml/core/options.hpp"
#include "physml/core/options_reader.hpp"
#include "physml/core/random.hpp"
#include "physml/io/atomic_file.hpp"
#include "physml/operators/checkpoint.hpp"
#include "physml/operators/fno.hpp"
#include "physml/simulators/coarse_burgers.hpp"
#include "physml/train/closure_task.hpp"

#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace sim = physml::simulators;

namespace {

struct Settings {
  std::string model, setup = "setup.txt", reference = "reference.txt", no_closure = "no_closure.txt", check;
  bool make_model = false;
  std::int64_t n = 64, steps = 50, forcing_modes = 3;
  std::uint64_t forcing_seed = 1, u0_seed = 0, model_seed = 0;
  double viscosity = 2e-3, dt = 0.0025, t0 = 2.0, forcing_amplitude = 1.5, rtol = 1e-10;

  Settings& set_from_options(const physml::Options& o) {
    physml::OptionsReader r(o, "Closure in a foreign time loop: the run, CoarseBurgers' result, the check");
    model = r.string("model", model, "closure model (PhysML Checkpoint or TorchScript), written first with -make_model");
    make_model = r.boolean("make_model", make_model, "write a fixed-seed float64 FNO-1D (modes 8, width 8, 2 layers) to -model");
    model_seed = static_cast<std::uint64_t>(r.integer("model_seed", static_cast<long>(model_seed), "seed of the -make_model FNO", 0));
    setup = r.string("setup", setup, "run file the C and Fortran programs read (written)");
    reference = r.string("reference", reference, "CoarseBurgers' final state with the closure (written; read by -check)");
    no_closure = r.string("no_closure", no_closure, "CoarseBurgers' final state without closure (written; read by -check)");
    check = r.string("check", check, "final state of a foreign program to judge against -reference (writes nothing)");
    rtol = r.real("rtol", rtol, "-check: largest relative L2 difference from -reference");
    n = r.integer("n", n, "coarse grid points on [0, 1)", 8);
    steps = r.integer("steps", steps, "coarse time steps", 1);
    viscosity = r.real("viscosity", viscosity, "viscosity nu");
    dt = r.real("dt", dt, "time step");
    t0 = r.real("t0", t0, "start time (the forcing's phase depends on it)");
    forcing_amplitude = r.real("forcing_amplitude", forcing_amplitude, "forcing amplitude A");
    forcing_modes = r.integer("forcing_modes", forcing_modes, "forced wavenumbers 1..K", 0);
    forcing_seed = static_cast<std::uint64_t>(r.integer("forcing_seed", static_cast<long>(forcing_seed), "seed of the forcing's phases and frequencies", 0));
    u0_seed = static_cast<std::uint64_t>(r.integer("u0_seed", static_cast<long>(u0_seed), "seed of u0 (the Burgers GRF, filtered to |k| < n/3)", 0));
    return *this;
  }
};

std::string real_text(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.17g", v);
  return b;
}

void write_text(const std::string& path, const std::string& text) {
  physml::io::check_writable_path(path, "text file");
  const auto tmp = physml::io::temporary_path(path);
  {
    std::ofstream f(tmp);
    f << text;
    PHYSML_CHECK(f.good(), "could not write ", tmp);
  }
  physml::io::publish_file(tmp, path);
}

std::string state_text(const at::Tensor& u, const std::string& what) {
  std::ostringstream s;
  s << "# " << what << "\n";
  auto c = u.contiguous();
  for (std::int64_t j = 0; j < c.size(0); ++j) s << real_text(c[j].item<double>()) << "\n";
  return s.str();
}

/// The numbers of a state file (lines starting with '#' skipped).
std::vector<double> read_state(const std::string& path) {
  std::ifstream f(path);
  PHYSML_CHECK(f.good(), "state file ", path, " cannot be read");
  std::vector<double> v;
  std::string line;
  for (int no = 1; std::getline(f, line); ++no) {
    if (line.empty() || line[0] == '#') continue;
    char* end = nullptr;
    const double x = std::strtod(line.c_str(), &end);
    PHYSML_CHECK(end != line.c_str(), path, ":", no, ": expected a number, got '", line, "'");
    v.push_back(x);
  }
  PHYSML_CHECK(!v.empty(), "state file ", path, " holds no values");
  return v;
}

int check(const Settings& st) {
  const auto got = read_state(st.check), ref = read_state(st.reference), noc = read_state(st.no_closure);
  PHYSML_CHECK(got.size() == ref.size() && noc.size() == ref.size(), "-check: ", st.check, " has ", got.size(),
               " values, ", st.reference, " ", ref.size(), " and ", st.no_closure, " ", noc.size());
  double d = 0, e = 0, r = 0;
  for (std::size_t j = 0; j < ref.size(); ++j) {
    d += (got[j] - ref[j]) * (got[j] - ref[j]);
    e += (noc[j] - ref[j]) * (noc[j] - ref[j]);
    r += ref[j] * ref[j];
  }
  const double rel = std::sqrt(d / r), effect = std::sqrt(e / r);
  std::printf("%s: relative L2 difference from CoarseBurgers %.3e (tolerance %.1e); the closure changes the state by %.3e\n",
              st.check.c_str(), rel, st.rtol, effect);
  if (!(rel <= st.rtol)) {
    std::fprintf(stderr, "burgers_closure_reference: error: %s differs from CoarseBurgers by %.3e > %.1e\n",
                 st.check.c_str(), rel, st.rtol);
    return 1;
  }
  if (!(effect >= 1e3 * st.rtol)) {
    std::fprintf(stderr, "burgers_closure_reference: error: the closure changes the state by only %.3e: the check "
                 "cannot tell a run with the closure from one without\n", effect);
    return 1;
  }
  return 0;
}

int run(const Settings& st) {
  PHYSML_CHECK(!st.model.empty(), "-model is required (a closure model, or the file -make_model writes)");
  if (st.make_model) {
    physml::seed_everything(st.model_seed);
    auto fno = std::make_shared<physml::operators::FNOImpl>(physml::operators::FNOOptions(1, 1).dim(1).modes({8}).width(8)
        .layers(2).projection_channels(16).append_grid(false).domain_padding(0));
    fno->to(torch::kDouble);
    physml::operators::save(st.model, *fno);
    std::printf("wrote a fixed-seed (%llu) float64 FNO-1D closure to %s\n", static_cast<unsigned long long>(st.model_seed),
                st.model.c_str());
  }
  auto model = physml::operators::load(st.model);
  model->to(torch::kDouble);
  model->eval();
  torch::NoGradGuard no_grad;

  sim::BurgersOptions o;
  o.resolution = st.n;
  o.viscosity = st.viscosity;
  o.forcing_amplitude = st.forcing_amplitude;
  o.forcing_modes = st.forcing_modes;
  o.forcing_seed = st.forcing_seed;
  sim::CoarseBurgers solver(o, st.dt);
  auto u0 = sim::spectral_filter(sim::BurgersGenerator(o).initial(st.u0_seed, 0).to(torch::kDouble), st.n);

  const auto closure = physml::train::model_closure(*model);
  auto with = solver.rollout(u0.unsqueeze(0), st.t0, st.steps, st.steps, closure)[0][0];
  auto without = solver.rollout(u0.unsqueeze(0), st.t0, st.steps, st.steps)[0][0];

  std::ostringstream s;
  s << "# coarse Burgers run for a closure in a foreign time loop (burgers_closure_reference; key value lines, u0 last)\n";
  s << "n " << st.n << "\nviscosity " << real_text(st.viscosity) << "\ndt " << real_text(st.dt) << "\nsteps " << st.steps
    << "\nt0 " << real_text(st.t0) << "\n";
  const auto& f = solver.forcing();
  const std::size_t K = f.active() ? f.phase.size() : 0;
  s << "forcing_amplitude " << real_text(f.active() ? f.amplitude : 0.0) << "\nforcing_modes " << K << "\nforcing_phase";
  for (std::size_t q = 0; q < K; ++q) s << " " << real_text(f.phase[q]);
  s << "\nforcing_frequency";
  for (std::size_t q = 0; q < K; ++q) s << " " << real_text(f.frequency[q]);
  s << "\nu0\n";
  for (std::int64_t j = 0; j < st.n; ++j) s << real_text(u0[j].item<double>()) << "\n";
  write_text(st.setup, s.str());
  const double t1 = st.t0 + static_cast<double>(st.steps) * st.dt;
  write_text(st.reference, state_text(with, "CoarseBurgers with the closure " + st.model + " at t = " + real_text(t1)));
  write_text(st.no_closure, state_text(without, "CoarseBurgers without closure at t = " + real_text(t1)));
  std::printf("CoarseBurgers: n %lld, %lld steps of %g from t0 = %g: wrote %s, %s and %s; the closure changes the final "
              "state by %.3e (relative L2)\n",
              static_cast<long long>(st.n), static_cast<long long>(st.steps), st.dt, st.t0, st.setup.c_str(),
              st.reference.c_str(), st.no_closure.c_str(), ((with - without).norm() / with.norm()).item<double>());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    physml::Environment env(argc, argv);
    const physml::Options opt;
    Settings st;
    st.set_from_options(opt);
    if (opt.has("help")) return 0;
    physml::check_no_unused_options();
    return st.check.empty() ? run(st) : check(st);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "burgers_closure_reference: error: %s\n", e.what());
    return 1;
  }
}
