// `physml generate <pde>`: benchmark PDE data sets (Darcy, Poisson, Helmholtz, Burgers,
// Navier–Stokes) written as PhysML Dataset HDF5 files, split over MPI ranks by sample index,
// resumable, interruptible (SIGINT/SIGTERM finish the sample in flight), with PNG and VTK
// snapshots of the first samples.
//
// Each PDE is one GeneratorSpec (name, option prefix, make function) in kGenerators; its make
// function reads every option once through Parameters, which records the value in the data
// set's metadata under the option's own name.
#include "command.hpp"

#include "physml/core/error.hpp"
#include "physml/core/log.hpp"
#include "physml/core/options.hpp"
#include "physml/core/progress.hpp"
#include "physml/core/random.hpp"
#include "physml/io/dataset.hpp"
#include "physml/io/png.hpp"
#include "physml/io/vtk.hpp"
#include "physml/physics/random_field.hpp"
#include "physml/simulators/burgers.hpp"
#include "physml/simulators/darcy.hpp"
#include "physml/simulators/helmholtz.hpp"
#include "physml/simulators/navier_stokes.hpp"
#include "physml/simulators/poisson.hpp"

#include <mpi.h>
#include <petscsys.h>
#include <torch/torch.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <sstream>

namespace {

using physml::Options;
namespace sim = physml::simulators;
namespace phys = physml::physics;

/// Result of one sample: input/output tensors (float64) or a failure message.
struct SampleResult {
  bool ok = true;
  std::string message;
  at::Tensor input, output;
};

/// Computes samples [first, first + count) of the data set drawn from master seed `seed`.
using Compute = std::function<std::vector<SampleResult>(std::uint64_t seed, int64_t first, int64_t count)>;

/// A field as snapshots name it: VTK array name and plot title.
struct FieldName {
  std::string array, title;
};

/// A data generator: the dataset description, the solver, and how to picture a sample.
struct Generator {
  physml::io::DatasetInfo info;
  int64_t unit = 1;  ///< samples computed together (NS batch)
  Compute compute;
  std::vector<int64_t> grid;  ///< stored grid points per axis, tensor order ([n], [ny, nx], [nz, ny, nx])
  bool periodic = false;      ///< points x_j = j/n on the torus; else vertices x_j = j/(n-1) of [0,1]
  std::string boundary;       ///< boundary condition of a vertex grid ("dirichlet", "neumann")
  FieldName input_name, output_name;
  std::vector<double> times;  ///< non-empty: output channel k is the state at times[k]
};

/// Minimal JSON object text builder for the metadata ("key": value pairs in insertion order).
class Json {
public:
  template <typename T>
  Json& add(const std::string& k, const T& v) {
    os_ << (first_ ? "" : ", ") << '"' << k << "\": " << v;
    first_ = false;
    return *this;
  }
  Json& add_str(const std::string& k, const std::string& v) {
    os_ << (first_ ? "" : ", ") << '"' << k << "\": \"" << v << '"';
    first_ = false;
    return *this;
  }
  std::string str() const { return "{" + os_.str() + "}"; }

private:
  std::ostringstream os_;
  bool first_ = true;
};

/// A generator's options, read once: every getter checks the value, records it in the
/// "parameters" metadata under the option's name (in reading order) and returns it.
class Parameters {
public:
  explicit Parameters(Options o) : o_(std::move(o)) {}
  const Options& options() const { return o_; }
  std::string key(const std::string& name) const { return o_.key(name); }
  /// A positive integer option.
  int64_t count(const std::string& name, long def) {
    const long v = o_.get_int(name, def);
    PHYSML_CHECK(v > 0, "option ", o_.key(name), " = ", v, " must be positive");
    json_.add(name, v);
    return v;
  }
  /// A positive finite real option.
  double positive(const std::string& name, double def) {
    const double v = o_.get_real(name, def);
    PHYSML_CHECK(v > 0 && std::isfinite(v), "option ", o_.key(name), " = ", v, " must be positive");
    json_.add(name, v);
    return v;
  }
  /// A finite real option of any sign.
  double real(const std::string& name, double def) {
    const double v = o_.get_real(name, def);
    PHYSML_CHECK(std::isfinite(v), "option ", o_.key(name), " = ", v, " must be finite");
    json_.add(name, v);
    return v;
  }
  std::string choice(const std::string& name, const std::vector<std::string>& choices, const std::string& def) {
    auto v = o_.get_choice(name, choices, def);
    json_.add_str(name, v);
    return v;
  }
  /// A derived value that is not an option (e.g. the downsampling mode).
  template <typename T>
  void record(const std::string& name, const T& v) {
    json_.add(name, v);
  }
  void record_str(const std::string& name, const std::string& v) { json_.add_str(name, v); }
  std::string json() const { return json_.str(); }

private:
  Options o_;
  Json json_;
};

/// A Compute for generators that solve one sample at a time: `solve(seed, index)` returns
/// (input, output) without the channel axis; a physml::Error marks that sample failed.
Compute one_at_a_time(std::function<std::pair<at::Tensor, at::Tensor>(std::uint64_t, std::uint64_t)> solve) {
  return [solve](std::uint64_t seed, int64_t first, int64_t count) {
    std::vector<SampleResult> out(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) {
      auto& res = out[static_cast<size_t>(i)];
      try {
        auto [in, o] = solve(seed, static_cast<std::uint64_t>(first + i));
        res.input = in.unsqueeze(0);
        res.output = o.unsqueeze(0);
      } catch (const physml::Error& e) {
        res.ok = false;
        res.message = e.what();
      }
    }
    return out;
  };
}

/// Fill the grid description and the per-sample shapes ([channels, grid...]).
void set_grid(Generator& g, std::vector<int64_t> grid, bool periodic, const std::string& boundary, int64_t in_channels,
              int64_t out_channels) {
  g.grid = std::move(grid);
  g.periodic = periodic;
  g.boundary = boundary;
  std::ostringstream s;
  s << "{\"shape\": [";
  for (size_t i = 0; i < g.grid.size(); ++i) s << (i ? ", " : "") << g.grid[i];
  s << "], \"domain\": \"unit box\", \"points\": \"" << (periodic ? "periodic x_j = j/n" : "vertex")
    << "\", \"boundary\": \"" << (periodic ? "periodic" : boundary) << "\"}";
  g.info.grid_json = s.str();
  g.info.input_shape = {in_channels};
  g.info.input_shape.insert(g.info.input_shape.end(), g.grid.begin(), g.grid.end());
  g.info.output_shape = {out_channels};
  g.info.output_shape.insert(g.info.output_shape.end(), g.grid.begin(), g.grid.end());
}

/// Downsampling factor r of a periodic / cell grid of n points (n % r == 0).
int64_t stride_factor(Parameters& p, int64_t n) {
  const int64_t r = p.count("downsample", 1);
  PHYSML_CHECK(n % r == 0, "option ", p.key("downsample"), " = ", r, " does not divide the resolution ", n);
  return r;
}

// ---------------------------------------------------------------------------------------
// The generators (Kovachki, Li et al., "Neural Operator", JMLR 2023, §6.2-6.4; Helmholtz: de Hoop,
// Huang, Qian, Stuart 2022; docs/results-pde-data.md). Options are read in the order of the
// metadata: the parameters JSON of files written by earlier versions stays identical.

Generator make_darcy(Parameters& p) {
  const std::string preset = p.choice("preset", {"smooth", "rough"}, "smooth");
  auto d = preset == "rough" ? sim::DarcyOptions::rough() : sim::DarcyOptions::smooth();
  // Scaled default: 85² solved directly (published: 421 solved, stored at 85/141/211/421).
  d.resolution = p.count("resolution", preset == "rough" ? 128 : 85);
  const int64_t r = p.count("downsample", 1);
  // Keep the corners when (s-1) % r == 0 (FNO 421 -> 85/141/211); otherwise plain striding
  // [::r] as MgNO does for 512 -> 256.
  const bool keep_corners = (d.resolution - 1) % r == 0;
  PHYSML_CHECK(keep_corners || d.resolution % r == 0, "option ", p.key("downsample"), " = ", r,
               ": neither resolution - 1 = ", d.resolution - 1, " nor resolution = ", d.resolution, " is divisible by it");
  p.record_str("downsample_mode", keep_corners ? "vertex (corners kept)" : "stride [::r]");
  d.alpha = p.positive("alpha", d.alpha);
  d.tau = p.positive("tau", d.tau);
  // Threshold T(g) = high (g >= 0) / low (g < 0). Smooth: 12/3 (FNO paper). Rough: MgNO's
  // values are undocumented; the same 12/3 by default (docs/results-pde-data.md).
  d.high = p.positive("high", d.high);
  d.low = p.positive("low", d.low);
  p.record("source", d.source);
  p.record_str("equation", "-div(a grad u) = 1, u = 0 on the boundary");
  const int64_t s = keep_corners ? (d.resolution - 1) / r + 1 : d.resolution / r;
  auto gen = std::make_shared<sim::DarcyGenerator>(d, p.options().prefix());
  Generator g;
  set_grid(g, {s, s}, false, "dirichlet", 1, 1);
  g.input_name = {"a", "coefficient a"};
  g.output_name = {"u", "solution u"};
  g.compute = one_at_a_time([gen, r, keep_corners](std::uint64_t seed, std::uint64_t index) {
    auto smp = gen->generate(seed, index);
    auto down = [&](const at::Tensor& t) { return keep_corners ? sim::downsample_vertex(t, r) : sim::downsample_stride(t, r); };
    return std::make_pair(down(smp.coefficient), down(smp.solution));
  });
  return g;
}

Generator make_poisson(Parameters& p) {
  const int64_t dim = p.options().get_int("dim", 2);
  PHYSML_CHECK(dim == 2 || dim == 3, "option ", p.key("dim"), " = ", dim, ": expected 2 or 3");
  p.record("dim", dim);
  const int64_t s = p.count("resolution", dim == 2 ? 65 : 17);
  PHYSML_CHECK(s >= 3, "option ", p.key("resolution"), " = ", s, " must be at least 3");
  phys::GaussianRandomFieldOptions go;
  go.shape.assign(static_cast<size_t>(dim), s);
  go.alpha = p.positive("alpha", 2.0);
  go.tau = p.positive("tau", 3.0);
  go.boundary = phys::FieldBoundary::neumann;
  p.record_str("equation", "-laplace(u) = f, f ~ GRF (zero-Neumann), u = 0 on the boundary");
  auto grf = std::make_shared<phys::GaussianRandomField>(go);
  auto solver = std::make_shared<sim::PoissonSolver>(PETSC_COMM_SELF, p.options().prefix());
  Generator g;
  set_grid(g, go.shape, false, "dirichlet", 1, 1);
  g.input_name = {"f", "source f"};
  g.output_name = {"u", "solution u"};
  g.compute = one_at_a_time([grf, solver, shape = go.shape](std::uint64_t seed, std::uint64_t index) {
    sim::PoissonProblem pb;
    pb.shape = shape;
    pb.source = grf->sample(seed, index);
    auto sys = sim::assemble_poisson(pb, PETSC_COMM_SELF);
    return std::make_pair(pb.source, solver->solve(sys).solution);
  });
  return g;
}

Generator make_helmholtz(Parameters& p) {
  sim::HelmholtzOptions h;
  h.resolution = p.count("resolution", h.resolution);
  PHYSML_CHECK(h.resolution >= 3, "option ", p.key("resolution"), " = ", h.resolution, " must be at least 3");
  h.omega = p.positive("omega", h.omega);
  h.tau = p.positive("tau", h.tau);
  h.terms = p.count("terms", h.terms);
  p.record("source_center", h.source_center);
  p.record("source_width", h.source_width);
  p.record_str("equation", "-lap(u) - (omega/c)^2 u = 0, c = 20 + tanh(a), du/dn = 1 on top |x-x0|<=d0/2");
  auto solver = std::make_shared<sim::HelmholtzSolver>(h, p.options().prefix());
  Generator g;
  set_grid(g, {h.resolution, h.resolution}, false, "neumann", 1, 1);
  g.input_name = {"c", "wave speed c"};
  g.output_name = {"u", "solution u"};
  g.compute = one_at_a_time([solver](std::uint64_t seed, std::uint64_t index) { return solver->generate(seed, index); });
  return g;
}

Generator make_burgers(Parameters& p) {
  sim::BurgersOptions b;
  b.resolution = p.count("resolution", 1024);  // published: 8192, stored ::8 -> 1024
  const int64_t r = stride_factor(p, b.resolution);
  b.viscosity = p.positive("viscosity", b.viscosity);
  b.final_time = p.positive("final_time", b.final_time);
  b.sigma = p.positive("sigma", b.sigma);
  b.tau = p.positive("tau", b.tau);
  b.alpha = p.positive("alpha", b.alpha);
  b.cfl = p.positive("cfl", b.cfl);
  b.max_dt = p.positive("max_dt", b.max_dt);
  p.record_str("equation", "u_t + (u^2/2)_x = nu u_xx, periodic on [0,1)");
  auto gen = std::make_shared<sim::BurgersGenerator>(b);
  Generator g;
  set_grid(g, {b.resolution / r}, true, "", 1, 1);
  g.input_name = {"u0", "u0"};
  g.output_name = {"u", "u(T)"};
  g.compute = one_at_a_time([gen, r](std::uint64_t seed, std::uint64_t index) {
    auto smp = gen->generate(seed, index);
    return std::make_pair(smp.initial.slice(0, 0, smp.initial.size(0), r), smp.solution.slice(0, 0, smp.solution.size(0), r));
  });
  return g;
}

Generator make_navier_stokes(Parameters& p) {
  sim::NavierStokesOptions n;
  n.resolution = p.count("resolution", 64);  // published: 256 solved, stored at 64
  const int64_t r = stride_factor(p, n.resolution);
  n.viscosity = p.positive("viscosity", n.viscosity);
  n.dt = p.positive("dt", 1e-3);  // published: 1e-4
  n.forcing_amplitude = p.real("forcing", 0.1);
  n.time_stepping = p.choice("time_stepping", {"heun", "euler"}, "heun");
  n.alpha = p.positive("alpha", n.alpha);
  n.tau = p.positive("tau", n.tau);
  const int64_t T = p.count("steps", 10);  // published: 50 (nu=1e-3), 30, 20
  const double interval = p.positive("record_interval", 1.0);
  const int64_t batch = p.count("batch", 8);
  p.record_str("equation", "w_t + u.grad w = nu lap w + f on the unit torus; outputs w(t_1..t_T)");
  auto gen = std::make_shared<sim::NavierStokesGenerator>(n);
  Generator g;
  for (int64_t i = 1; i <= T; ++i) g.times.push_back(interval * static_cast<double>(i));
  g.unit = batch;
  set_grid(g, {n.resolution / r, n.resolution / r}, true, "", 1, T);
  g.input_name = {"w0", "w0"};
  g.output_name = {"w", "w"};
  g.compute = [gen, r, times = g.times](std::uint64_t seed, int64_t first, int64_t count) {
    std::vector<SampleResult> out(static_cast<size_t>(count));
    try {
      auto b = gen->generate(seed, static_cast<std::uint64_t>(first), count, times);
      for (int64_t i = 0; i < count; ++i) {
        out[static_cast<size_t>(i)].input = sim::downsample_stride(b.initial[i], r).unsqueeze(0);
        out[static_cast<size_t>(i)].output = sim::downsample_stride(b.snapshots[i], r);
      }
    } catch (const physml::Error& e) {
      for (auto& x : out) {
        x.ok = false;
        x.message = e.what();
      }
    }
    return out;
  };
  return g;
}

/// One PDE of `physml generate`: its name, its option prefix and the function that reads its
/// options and builds the generator.
struct GeneratorSpec {
  const char* name;
  const char* prefix;
  Generator (*make)(Parameters&);
};

const GeneratorSpec kGenerators[] = {
    {"darcy", "darcy_", make_darcy},
    {"poisson", "poisson_", make_poisson},
    {"helmholtz", "helmholtz_", make_helmholtz},
    {"burgers", "burgers_", make_burgers},
    {"navier-stokes", "navier_stokes_", make_navier_stokes},
};

/// Throw on a given option of the generator's prefix that nothing has read (a misspelled
/// -darcy_tua), before any sample is computed. Solver options (-darcy_ksp_*, -darcy_pc_*,
/// -darcy_mg_levels_*, ...) may be read only at the first solve; they are left to the check
/// at the end of the command.
void check_generator_options(const std::string& prefix) {
  static const char* solver_families[] = {"ksp_", "pc_", "mg_", "mat_", "sub_", "fieldsplit_", "gamg_", "hypre_", "redundant_"};
  for (const auto& opt : physml::unused_options()) {
    const std::string name = opt.substr(0, opt.find(' '));
    if (name.rfind("-" + prefix, 0) != 0) continue;
    const std::string rest = name.substr(prefix.size() + 1);
    bool solver = false;
    for (const char* f : solver_families) solver = solver || rest.rfind(f, 0) == 0;
    PHYSML_CHECK(solver, "unknown option ", name, " (see 'physml generate --help' for the options of each PDE)");
  }
}

/// Build the generator named `pde` from its options (throws listing the known PDEs).
Generator make_generator(const std::string& pde) {
  std::string known;
  for (const auto& spec : kGenerators) {
    if (pde == spec.name) {
      Parameters p{Options(spec.prefix)};
      Generator g = spec.make(p);
      g.info.generator = spec.name;
      g.info.parameters_json = p.json();
      check_generator_options(spec.prefix);
      return g;
    }
    known += (known.empty() ? "" : ", ") + std::string(spec.name);
  }
  PHYSML_THROW("physml generate: unknown PDE '", pde, "'; expected one of: ", known);
}

// ---------------------------------------------------------------------------------------
// Snapshots: PNG pictures and VTK files of a sample.

/// Write `<stem>.png` and `<stem>.vti` for one sample (`<stem>_t<k>.vti` + `<stem>.pvd` for a
/// time series: k = 0 is the input state, k >= 1 the output at times[k-1]). 1-D fields are
/// a line plot and a one-row image; 3-D fields are pictured by their middle z slice.
void write_snapshot(const Generator& g, const std::string& stem, const std::string& label, const SampleResult& r) {
  namespace io = physml::io;
  const auto in = r.input[0].to(torch::kDouble), out = r.output.to(torch::kDouble);
  const size_t d = g.grid.size();
  std::vector<double> spacing, origin;
  std::vector<int64_t> points = g.grid;
  for (auto n : g.grid) spacing.push_back(1.0 / static_cast<double>(g.periodic ? n : n - 1));
  origin.assign(d, 0.0);
  if (d == 1) {  // one row of points in VTK; a line plot in PNG
    points.insert(points.begin(), 1);
    spacing.insert(spacing.begin(), spacing[0]);
    origin.push_back(0.0);
  }
  const io::ImageGeometry geometry(points, origin, spacing);
  auto image = [&](const at::Tensor& t) { return t.reshape(points); };

  if (d == 1) {
    const auto n = g.grid[0];
    std::vector<double> x(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) x[static_cast<size_t>(j)] = static_cast<double>(j) * spacing[0];
    auto vec = [](const at::Tensor& t) {
      auto c = t.contiguous();
      return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
    };
    io::LinePlotOptions lo;
    lo.xlabel = "x";
    lo.ylabel = g.output_name.array;
    lo.title = label;
    std::vector<io::Series> series{io::Series(g.input_name.title, x, vec(in))};
    for (int64_t k = 0; k < out.size(0); ++k)
      if (g.times.empty() || k == out.size(0) - 1) series.emplace_back(g.output_name.title, x, vec(out[k]), true);
    io::write_line_plot_png(stem + ".png", series, lo);
  } else {
    auto slice = [d](const at::Tensor& t) { return d == 3 ? t[t.size(0) / 2] : t; };
    std::vector<io::FieldPanel> panels{{g.input_name.title, slice(in)}};
    if (g.times.empty()) {
      panels.emplace_back(g.output_name.title, slice(out[0]));
    } else {
      panels.emplace_back(g.output_name.title + "(t_1)", slice(out[0]));
      panels.emplace_back(g.output_name.title + "(t_T)", slice(out[out.size(0) - 1]));
    }
    io::write_fields_png(stem + ".png", panels, io::FieldPlotOptions(400 * static_cast<int>(panels.size()), 380));
  }

  if (g.times.empty()) {
    std::vector<io::VtkArray> arrays{{g.input_name.array, image(in)}};
    for (int64_t c = 0; c < out.size(0); ++c)
      arrays.push_back({out.size(0) == 1 ? g.output_name.array : g.output_name.array + std::to_string(c), image(out[c])});
    io::write_vti(stem + ".vti", geometry, arrays);
    return;
  }
  io::PvdWriter pvd(stem + ".pvd");
  for (int64_t k = 0; k <= out.size(0); ++k) {
    const std::string file = stem + "_t" + std::to_string(k) + ".vti";
    io::write_vti(file, geometry, {{g.output_name.array, image(k == 0 ? in : out[k - 1])}});
    pvd.add(k == 0 ? 0.0 : g.times[static_cast<size_t>(k - 1)], file);
  }
}

// ---------------------------------------------------------------------------------------
// Interruption: SIGINT / SIGTERM set a flag; the sample in flight is finished and written,
// the partial file is closed and the command exits with 128 + signal. A second signal
// kills at once (default action).

volatile std::sig_atomic_t g_interrupt_signal = 0;

void on_interrupt(int sig) {
  if (g_interrupt_signal != 0) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  g_interrupt_signal = sig;
}

/// Installs on_interrupt for SIGINT and SIGTERM while alive; restores the previous handlers.
class InterruptHandler {
public:
  InterruptHandler() {
    g_interrupt_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~InterruptHandler() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  InterruptHandler(const InterruptHandler&) = delete;
  InterruptHandler& operator=(const InterruptHandler&) = delete;

private:
  struct sigaction old_int_ {}, old_term_ {};
};

// ---------------------------------------------------------------------------------------
// MPI transport of results to rank 0.

void send_result(const SampleResult& r, int dest, MPI_Comm comm) {
  int head[2] = {r.ok ? 1 : 0, static_cast<int>(r.message.size())};
  MPI_Send(head, 2, MPI_INT, dest, 11, comm);
  if (!r.ok) {
    MPI_Send(r.message.data(), head[1], MPI_CHAR, dest, 12, comm);
    return;
  }
  auto in = r.input.to(torch::kDouble).contiguous(), out = r.output.to(torch::kDouble).contiguous();
  MPI_Send(in.data_ptr<double>(), static_cast<int>(in.numel()), MPI_DOUBLE, dest, 13, comm);
  MPI_Send(out.data_ptr<double>(), static_cast<int>(out.numel()), MPI_DOUBLE, dest, 14, comm);
}

SampleResult recv_result(const physml::io::DatasetInfo& info, int src, MPI_Comm comm) {
  SampleResult r;
  int head[2];
  MPI_Recv(head, 2, MPI_INT, src, 11, comm, MPI_STATUS_IGNORE);
  r.ok = head[0] != 0;
  if (!r.ok) {
    r.message.resize(static_cast<size_t>(head[1]));
    MPI_Recv(r.message.data(), head[1], MPI_CHAR, src, 12, comm, MPI_STATUS_IGNORE);
    return r;
  }
  r.input = torch::empty(info.input_shape, torch::kDouble);
  r.output = torch::empty(info.output_shape, torch::kDouble);
  MPI_Recv(r.input.data_ptr<double>(), static_cast<int>(r.input.numel()), MPI_DOUBLE, src, 13, comm, MPI_STATUS_IGNORE);
  MPI_Recv(r.output.data_ptr<double>(), static_cast<int>(r.output.numel()), MPI_DOUBLE, src, 14, comm,
           MPI_STATUS_IGNORE);
  return r;
}

/// FNV-1a hash of every sample's stored bytes (inputs then outputs, splits in name order):
/// equal for files with equal data whatever their creation time or the number of ranks.
std::string content_checksum(const std::string& path) {
  auto reader = physml::io::DatasetReader::open(path);
  std::uint64_t h = 1469598103934665603ULL;
  for (const auto& split : reader.splits())
    for (const char* field : {"inputs", "outputs"}) {
      auto t = reader.read(split, field, 0, reader.size(split)).contiguous();
      const auto* p = static_cast<const unsigned char*>(t.data_ptr());
      const auto nbytes = static_cast<size_t>(t.numel()) * t.element_size();
      for (size_t i = 0; i < nbytes; ++i) h = (h ^ p[i]) * 1099511628211ULL;
    }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

const char* kUsage =
    "physml generate darcy|poisson|helmholtz|burgers|navier-stokes -output FILE.h5 [options]\n\n"
    "Generates a benchmark data set (Kovachki, Li et al., \"Neural Operator\", JMLR 2023, sections\n"
    "6.2-6.4; Helmholtz: de Hoop, Huang, Qian, Stuart 2022; docs/results-pde-data.md) as a PhysML\n"
    "Dataset file with splits 'train', 'test' and (with -nvalid) 'valid'. Sample i is drawn from seed derive_seed(seed, i),\n"
    "i counting train, then test, then valid samples, so the file does not depend on the number of MPI\n"
    "ranks (mpirun -n N physml generate ...) and adding a valid split leaves train and test unchanged.\n"
    "Ctrl-C (SIGINT) or SIGTERM finishes the sample in flight, keeps FILE.h5.partial and exits with\n"
    "128 + signal; rerunning the same command completes the missing samples. A sample whose solve\n"
    "fails is reported and not written.\n\n"
    "Common options:\n"
    "  -output FILE.h5      output file (required)\n"
    "  -ntrain N, -ntest M, -nvalid V  split sizes (default 32 / 8 / 0)\n"
    "  -seed S              master seed (default 0)\n"
    "  -dtype float32|float64  storage type (default float32)\n"
    "  -snapshots DIR       write PNG pictures and VTK files (.vti; .pvd time series for navier-stokes)\n"
    "                       of the first -snapshot_count (3) samples\n"
    "  -test_interrupt_after K  (testing) raise SIGINT after K samples are written in this run\n\n"
    "darcy (-darcy_*): preset smooth|rough, resolution (85; published 421 / rough 512), downsample (1;\n"
    "  421 -> 85/141/211 with 5/3/2), alpha (2), tau (3; rough 5), high (12), low (3) (rough: MgNO's\n"
    "  thresholds are undocumented, 12/3 by default); the CG+GAMG solver takes -darcy_ksp_* /\n"
    "  -darcy_pc_* (e.g. -darcy_pc_type hypre).\n"
    "poisson (-poisson_*): dim 2|3, resolution (65 / 17), alpha (2), tau (3); -poisson_ksp_*, -poisson_pc_*.\n"
    "helmholtz (-helmholtz_*): resolution (101), omega (1000), tau (3), terms (100); MUMPS LU by default,\n"
    "  any -helmholtz_ksp_* / -helmholtz_pc_* (e.g. -helmholtz_ksp_type gmres -helmholtz_pc_type ilu).\n"
    "burgers (-burgers_*): resolution (1024; published 8192), downsample (1; published 8), viscosity (0.1),\n"
    "  final_time (1), sigma (25), tau (5), alpha (2), cfl (0.5), max_dt (1e-3).\n"
    "navier-stokes (-navier_stokes_*): resolution (64; published 256), downsample (1; published 4),\n"
    "  viscosity (1e-3), dt (1e-3; published 1e-4), steps (10; published 50/30/20), record_interval (1),\n"
    "  forcing (0.1), time_stepping heun|euler, alpha (2.5), tau (7), batch (8 samples advanced together).";

int run_generate(const std::vector<std::string>& args) {
  PHYSML_CHECK(args.size() == 1, "physml generate: expected one PDE name (darcy, poisson, helmholtz, burgers, navier-stokes), got ",
               args.size(), " positional arguments");
  const std::string pde = args[0];
  MPI_Comm comm = PETSC_COMM_WORLD;
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);

  Options common("");
  const std::string output = common.require_string("output");
  // Splits in sample-index order: train [0, ntrain), test, then valid.
  const std::vector<std::pair<std::string, int64_t>> splits{
      {"train", common.get_int("ntrain", 32)}, {"test", common.get_int("ntest", 8)}, {"valid", common.get_int("nvalid", 0)}};
  int64_t total = 0;
  for (const auto& [name, n] : splits) {
    PHYSML_CHECK(n >= 0, "-n", name, " ", n, ": expected a non-negative split size");
    total += n;
  }
  PHYSML_CHECK(total > 0, "-ntrain / -ntest / -nvalid are all 0: expected at least one sample");
  const long seed_l = common.get_int("seed", 0);
  PHYSML_CHECK(seed_l >= 0, "-seed ", seed_l, " must be non-negative");
  const auto seed = static_cast<std::uint64_t>(seed_l);
  const std::string dtype = common.get_choice("dtype", {"float32", "float64"}, "float32");
  const std::string snapdir = common.get_string("snapshots", "");
  const int64_t snapcount = common.get_int("snapshot_count", 3);
  PHYSML_CHECK(snapcount >= 0, "-snapshot_count ", snapcount, " must be non-negative");
  const int64_t interrupt_after = common.get_int("test_interrupt_after", 0);

  Generator g = make_generator(pde);
  g.info.seed = static_cast<std::int64_t>(seed);
  for (const auto& [name, n] : splits)
    if (n > 0) g.info.split_sizes[name] = n;
  g.info.dtype = dtype == "float32" ? torch::kFloat : torch::kDouble;
  auto split_of = [&](int64_t gidx) {
    for (const auto& [name, n] : splits) {
      if (gidx < n) return std::make_pair(name, gidx);
      gidx -= n;
    }
    PHYSML_THROW("sample index out of range");
  };

  // Rank 0 opens (or resumes) the file and tells everyone which work units are needed.
  std::unique_ptr<physml::io::DatasetWriter> writer;
  std::vector<int> needed;  // per work unit
  const int64_t nunits = (total + g.unit - 1) / g.unit;
  int open_ok = 1;
  std::string open_error;
  if (rank == 0) {
    try {
      const auto parent = std::filesystem::absolute(output).parent_path();
      PHYSML_CHECK(std::filesystem::is_directory(parent), "output directory '", parent.string(), "' does not exist");
      PHYSML_CHECK(access(parent.c_str(), W_OK) == 0, "output directory '", parent.string(), "' is not writable");
      writer = std::make_unique<physml::io::DatasetWriter>(physml::io::DatasetWriter::open(output, g.info));
      for (int64_t u = 0; u < nunits; ++u) {
        int need = 0;
        for (int64_t i = u * g.unit; i < std::min(total, (u + 1) * g.unit); ++i) {
          auto [sp, idx] = split_of(i);
          need = need || !writer->has_sample(sp, idx);
        }
        needed.push_back(need);
      }
    } catch (const std::exception& e) {
      open_ok = 0;
      open_error = e.what();
    }
  }
  MPI_Bcast(&open_ok, 1, MPI_INT, 0, comm);
  if (!open_ok) {
    if (rank == 0) PHYSML_THROW(open_error);
    return 1;
  }
  needed.resize(static_cast<size_t>(nunits));
  MPI_Bcast(needed.data(), static_cast<int>(nunits), MPI_INT, 0, comm);
  std::vector<int64_t> todo;
  for (int64_t u = 0; u < nunits; ++u)
    if (needed[static_cast<size_t>(u)]) todo.push_back(u);
  int64_t missing_samples = 0;
  for (auto u : todo) missing_samples += std::min(total, (u + 1) * g.unit) - u * g.unit;
  if (rank == 0 && todo.empty() && writer->already_complete()) {
    physml::log_info("'", output, "' is already complete (", total, " samples); nothing to do");
    return 0;
  }
  if (rank == 0)
    physml::log_info("generating ", missing_samples, " of ", total, " ", pde, " samples into '", output, "' on ", size,
                     " rank(s)");

  InterruptHandler interrupt_handler;
  physml::Progress progress(pde, total, total - missing_samples);
  int64_t failures = 0, written = 0;
  std::string first_failure;
  int interrupted = 0;
  size_t next = 0;  // first work unit not yet computed
  // Rounds: in round k, rank r computes todo[k*size + r]; rank 0 collects and writes in order.
  for (size_t base = 0; base < todo.size() && !interrupted; base = next) {
    next = base + static_cast<size_t>(size);
    std::vector<SampleResult> mine;
    const size_t my = base + static_cast<size_t>(rank);
    if (my < todo.size()) {
      const int64_t u = todo[my], first = u * g.unit, count = std::min(total, first + g.unit) - first;
      mine = g.compute(seed, first, count);
      if (rank != 0)
        for (const auto& r : mine) send_result(r, 0, comm);
    }
    for (int src = 0; rank == 0 && src < size && base + static_cast<size_t>(src) < todo.size(); ++src) {
      const int64_t u = todo[base + static_cast<size_t>(src)], first = u * g.unit,
                    count = std::min(total, first + g.unit) - first;
      for (int64_t i = 0; i < count; ++i) {
        SampleResult r = src == 0 ? mine[static_cast<size_t>(i)] : recv_result(g.info, src, comm);
        const int64_t gidx = first + i;
        auto [sp, idx] = split_of(gidx);
        if (!r.ok) {
          ++failures;
          if (first_failure.empty()) first_failure = r.message;
          physml::log_warning("sample ", sp, "[", idx, "] not written: ", r.message);
          continue;
        }
        if (writer->has_sample(sp, idx)) continue;
        writer->write_sample(sp, idx, r.input, r.output);
        if (!snapdir.empty() && gidx < snapcount) {
          std::filesystem::create_directories(snapdir);
          const std::string stem = std::string(pde == "navier-stokes" ? "navier_stokes" : pde) + "_" + std::to_string(gidx);
          write_snapshot(g, snapdir + "/" + stem, pde + " sample " + std::to_string(gidx), r);
        }
        progress.advance(1);
        if (++written == interrupt_after) std::raise(SIGINT);
      }
    }
    // Every rank stops after the same round once any rank has seen a signal.
    interrupted = g_interrupt_signal;
    MPI_Allreduce(MPI_IN_PLACE, &interrupted, 1, MPI_INT, MPI_MAX, comm);
  }
  if (interrupted && next < todo.size()) {  // (a signal during the last round changes nothing)
    if (rank == 0) {
      const int64_t missing = [&] {
        int64_t m = 0;
        for (const auto& [name, n] : splits)
          if (n > 0) m += writer->missing(name);
        return m;
      }();
      writer.reset();  // closes the partial file, every written sample flushed
      physml::log_warning("interrupted by signal ", interrupted, " after writing ", written, " sample(s) in this run; '",
                          output, ".partial' holds ", total - missing, " of ", total,
                          " samples; rerun the same command to complete it");
    }
    return 128 + interrupted;
  }
  int64_t fail_all = failures;
  MPI_Bcast(&fail_all, 1, MPI_INT64_T, 0, comm);
  if (fail_all > 0) {
    if (rank == 0)
      PHYSML_THROW(fail_all, " sample(s) failed and were not written (first: ", first_failure,
                   "); the partial file '", output, ".partial' keeps the others");
    return 1;
  }
  if (rank == 0) {
    writer->finish();
    progress.finish();
    writer.reset();
    physml::log_info("wrote '", output, "' (content checksum ", content_checksum(output), ")");
  }
  return 0;
}

PHYSML_COMMAND({"generate", "generate a benchmark PDE data set (darcy, poisson, helmholtz, burgers, navier-stokes) as HDF5",
                kUsage, run_generate});

}  // namespace
