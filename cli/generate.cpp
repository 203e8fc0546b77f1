// `physml generate <pde>`: benchmark PDE data sets (Darcy, Poisson, Burgers, Navier–Stokes)
// written as PhysML Dataset HDF5 files, split over MPI ranks by sample index, resumable.
#include "command.hpp"

#include "physml/core/error.hpp"
#include "physml/core/log.hpp"
#include "physml/core/options.hpp"
#include "physml/core/progress.hpp"
#include "physml/core/random.hpp"
#include "physml/io/dataset.hpp"
#include "physml/io/png.hpp"
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

/// A data generator: the dataset description plus a function computing a block of samples.
struct Generator {
  physml::io::DatasetInfo info;
  int64_t unit = 1;  ///< samples computed together (NS batch)
  std::function<std::vector<SampleResult>(std::uint64_t seed, int64_t first, int64_t count)> compute;
  std::function<void(const std::string& dir, int64_t index, const SampleResult& r)> snapshot;
};

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

std::string grid_json(const std::vector<int64_t>& shape, const std::string& centering, const std::string& bc) {
  std::ostringstream s;
  s << "{\"shape\": [";
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << "], \"domain\": \"unit box\", \"points\": \"" << centering << "\", \"boundary\": \"" << bc << "\"}";
  return s.str();
}

int64_t positive(const Options& o, const std::string& name, long def) {
  const long v = o.get_int(name, def);
  PHYSML_CHECK(v > 0, "option ", o.key(name), " = ", v, " must be positive");
  return v;
}
double positive_real(const Options& o, const std::string& name, double def) {
  const double v = o.get_real(name, def);
  PHYSML_CHECK(v > 0 && std::isfinite(v), "option ", o.key(name), " = ", v, " must be positive");
  return v;
}

void field_png(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& fields) {
  std::vector<physml::io::FieldPanel> panels;
  for (const auto& [t, f] : fields) panels.emplace_back(t, f.to(torch::kDouble));
  physml::io::write_fields_png(path, panels, physml::io::FieldPlotOptions(400 * static_cast<int>(panels.size()), 380));
}

// ---------------------------------------------------------------------------------------

Generator make_darcy(const Options& o) {
  auto d = sim::DarcyOptions::smooth();
  const std::string preset = o.get_choice("preset", {"smooth", "rough"}, "smooth");
  if (preset == "rough") d = sim::DarcyOptions::rough();
  // Scaled default: 85² solved directly (published: 421 solved, stored at 85/141/211/421).
  d.resolution = positive(o, "resolution", preset == "rough" ? 128 : 85);
  d.alpha = positive_real(o, "alpha", d.alpha);
  d.tau = positive_real(o, "tau", d.tau);
  d.high = positive_real(o, "high", d.high);
  d.low = positive_real(o, "low", d.low);
  const int64_t r = positive(o, "downsample", 1);
  // Keep the corners when (s-1) % r == 0 (FNO 421 -> 85/141/211); otherwise plain striding
  // [::r] as MgNO does for 512 -> 256.
  const bool keep_corners = (d.resolution - 1) % r == 0;
  PHYSML_CHECK(keep_corners || d.resolution % r == 0, "option ", o.key("downsample"), " = ", r,
               ": neither resolution - 1 = ", d.resolution - 1, " nor resolution = ", d.resolution, " is divisible by it");
  const int64_t s = keep_corners ? (d.resolution - 1) / r + 1 : d.resolution / r;
  auto gen = std::make_shared<sim::DarcyGenerator>(d, o.prefix());
  Generator g;
  g.info.generator = "darcy";
  g.info.parameters_json = Json()
                               .add_str("preset", preset)
                               .add("resolution", d.resolution)
                               .add("downsample", r)
                               .add_str("downsample_mode", keep_corners ? "vertex (corners kept)" : "stride [::r]")
                               .add("alpha", d.alpha)
                               .add("tau", d.tau)
                               .add("high", d.high)
                               .add("low", d.low)
                               .add("source", d.source)
                               .add_str("equation", "-div(a grad u) = 1, u = 0 on the boundary")
                               .str();
  g.info.grid_json = grid_json({s, s}, "vertex", "dirichlet");
  g.info.input_shape = {1, s, s};
  g.info.output_shape = {1, s, s};
  g.compute = [gen, r, keep_corners](std::uint64_t seed, int64_t first, int64_t) {
    SampleResult res;
    try {
      auto smp = gen->generate(seed, static_cast<std::uint64_t>(first));
      auto down = [&](const at::Tensor& t) { return keep_corners ? sim::downsample_vertex(t, r) : sim::downsample_stride(t, r); };
      res.input = down(smp.coefficient).unsqueeze(0);
      res.output = down(smp.solution).unsqueeze(0);
    } catch (const physml::Error& e) {
      res.ok = false;
      res.message = e.what();
    }
    return std::vector<SampleResult>{res};
  };
  g.snapshot = [](const std::string& dir, int64_t i, const SampleResult& r) {
    field_png(dir + "/darcy_" + std::to_string(i) + ".png", {{"coefficient a", r.input[0]}, {"solution u", r.output[0]}});
  };
  return g;
}

Generator make_poisson(const Options& o) {
  const int64_t dim = o.get_int("dim", 2);
  PHYSML_CHECK(dim == 2 || dim == 3, "option ", o.key("dim"), " = ", dim, ": expected 2 or 3");
  const int64_t s = positive(o, "resolution", dim == 2 ? 65 : 17);
  PHYSML_CHECK(s >= 3, "option ", o.key("resolution"), " = ", s, " must be at least 3");
  phys::GaussianRandomFieldOptions go;
  go.shape.assign(static_cast<size_t>(dim), s);
  go.alpha = positive_real(o, "alpha", 2.0);
  go.tau = positive_real(o, "tau", 3.0);
  go.boundary = phys::FieldBoundary::neumann;
  auto grf = std::make_shared<phys::GaussianRandomField>(go);
  auto solver = std::make_shared<sim::PoissonSolver>(PETSC_COMM_SELF, o.prefix());
  Generator g;
  g.info.generator = "poisson";
  g.info.parameters_json = Json()
                               .add("dim", dim)
                               .add("resolution", s)
                               .add("alpha", go.alpha)
                               .add("tau", go.tau)
                               .add_str("equation", "-laplace(u) = f, f ~ GRF (zero-Neumann), u = 0 on the boundary")
                               .str();
  std::vector<int64_t> shape(static_cast<size_t>(dim), s);
  g.info.grid_json = grid_json(shape, "vertex", "dirichlet");
  g.info.input_shape = {1};
  g.info.input_shape.insert(g.info.input_shape.end(), shape.begin(), shape.end());
  g.info.output_shape = g.info.input_shape;
  g.compute = [grf, solver, shape](std::uint64_t seed, int64_t first, int64_t) {
    SampleResult res;
    try {
      sim::PoissonProblem pb;
      pb.shape = shape;
      pb.source = grf->sample(seed, static_cast<std::uint64_t>(first));
      auto sys = sim::assemble_poisson(pb, PETSC_COMM_SELF);
      auto rep = solver->solve(sys);
      res.input = pb.source.unsqueeze(0);
      res.output = rep.solution.unsqueeze(0);
    } catch (const physml::Error& e) {
      res.ok = false;
      res.message = e.what();
    }
    return std::vector<SampleResult>{res};
  };
  g.snapshot = [dim](const std::string& dir, int64_t i, const SampleResult& r) {
    auto f = dim == 2 ? r.input[0] : r.input[0][r.input.size(1) / 2];
    auto u = dim == 2 ? r.output[0] : r.output[0][r.output.size(1) / 2];
    field_png(dir + "/poisson_" + std::to_string(i) + ".png", {{"source f", f}, {"solution u", u}});
  };
  return g;
}

Generator make_burgers(const Options& o) {
  sim::BurgersOptions b;
  b.resolution = positive(o, "resolution", 1024);  // published: 8192, stored ::8 -> 1024
  b.viscosity = positive_real(o, "viscosity", b.viscosity);
  b.final_time = positive_real(o, "final_time", b.final_time);
  b.tau = positive_real(o, "tau", b.tau);
  b.sigma = positive_real(o, "sigma", b.sigma);
  b.alpha = positive_real(o, "alpha", b.alpha);
  b.cfl = positive_real(o, "cfl", b.cfl);
  b.max_dt = positive_real(o, "max_dt", b.max_dt);
  const int64_t r = positive(o, "downsample", 1);
  PHYSML_CHECK(b.resolution % r == 0, "option ", o.key("downsample"), " = ", r, " does not divide the resolution ",
               b.resolution);
  const int64_t s = b.resolution / r;
  auto gen = std::make_shared<sim::BurgersGenerator>(b);
  Generator g;
  g.info.generator = "burgers";
  g.info.parameters_json = Json()
                               .add("resolution", b.resolution)
                               .add("downsample", r)
                               .add("viscosity", b.viscosity)
                               .add("final_time", b.final_time)
                               .add("sigma", b.sigma)
                               .add("tau", b.tau)
                               .add("alpha", b.alpha)
                               .add("cfl", b.cfl)
                               .add("max_dt", b.max_dt)
                               .add_str("equation", "u_t + (u^2/2)_x = nu u_xx, periodic on [0,1)")
                               .str();
  g.info.grid_json = grid_json({s}, "periodic x_j = j/n", "periodic");
  g.info.input_shape = {1, s};
  g.info.output_shape = {1, s};
  g.compute = [gen, r](std::uint64_t seed, int64_t first, int64_t) {
    SampleResult res;
    try {
      auto smp = gen->generate(seed, static_cast<std::uint64_t>(first));
      res.input = smp.initial.slice(0, 0, smp.initial.size(0), r).unsqueeze(0);
      res.output = smp.solution.slice(0, 0, smp.solution.size(0), r).unsqueeze(0);
    } catch (const physml::Error& e) {
      res.ok = false;
      res.message = e.what();
    }
    return std::vector<SampleResult>{res};
  };
  g.snapshot = [](const std::string& dir, int64_t i, const SampleResult& r) {
    const auto n = r.input.size(1);
    std::vector<double> x(static_cast<size_t>(n)), a(x.size()), u(x.size());
    for (int64_t j = 0; j < n; ++j) {
      x[static_cast<size_t>(j)] = static_cast<double>(j) / static_cast<double>(n);
      a[static_cast<size_t>(j)] = r.input[0][j].item<double>();
      u[static_cast<size_t>(j)] = r.output[0][j].item<double>();
    }
    physml::io::LinePlotOptions lo;
    lo.xlabel = "x";
    lo.ylabel = "u";
    lo.title = "Burgers sample " + std::to_string(i);
    physml::io::write_line_plot_png(dir + "/burgers_" + std::to_string(i) + ".png",
                                    {physml::io::Series("u0", x, a), physml::io::Series("u(T)", x, u, true)}, lo);
  };
  return g;
}

Generator make_navier_stokes(const Options& o) {
  sim::NavierStokesOptions n;
  n.resolution = positive(o, "resolution", 64);  // published: 256 solved, stored at 64
  n.viscosity = positive_real(o, "viscosity", n.viscosity);
  n.dt = positive_real(o, "dt", 1e-3);  // published: 1e-4
  n.forcing_amplitude = o.get_real("forcing", 0.1);
  n.time_stepping = o.get_choice("time_stepping", {"heun", "euler"}, "heun");
  n.alpha = positive_real(o, "alpha", n.alpha);
  n.tau = positive_real(o, "tau", n.tau);
  const int64_t T = positive(o, "steps", 10);  // published: 50 (nu=1e-3), 30, 20
  const double interval = positive_real(o, "record_interval", 1.0);
  const int64_t r = positive(o, "downsample", 1);
  PHYSML_CHECK(n.resolution % r == 0, "option ", o.key("downsample"), " = ", r, " does not divide the resolution ",
               n.resolution);
  const int64_t s = n.resolution / r;
  const int64_t batch = positive(o, "batch", 8);
  auto gen = std::make_shared<sim::NavierStokesGenerator>(n);
  std::vector<double> times;
  for (int64_t i = 1; i <= T; ++i) times.push_back(interval * static_cast<double>(i));
  Generator g;
  g.unit = batch;
  g.info.generator = "navier-stokes";
  g.info.parameters_json = Json()
                               .add("resolution", n.resolution)
                               .add("downsample", r)
                               .add("viscosity", n.viscosity)
                               .add("dt", n.dt)
                               .add("forcing", n.forcing_amplitude)
                               .add_str("time_stepping", n.time_stepping)
                               .add("alpha", n.alpha)
                               .add("tau", n.tau)
                               .add("steps", T)
                               .add("record_interval", interval)
                               .add("batch", batch)
                               .add_str("equation", "w_t + u.grad w = nu lap w + f on the unit torus; outputs w(t_1..t_T)")
                               .str();
  g.info.grid_json = grid_json({s, s}, "periodic x_j = j/n", "periodic");
  g.info.input_shape = {1, s, s};
  g.info.output_shape = {T, s, s};
  g.compute = [gen, r, times](std::uint64_t seed, int64_t first, int64_t count) {
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
  g.snapshot = [](const std::string& dir, int64_t i, const SampleResult& r) {
    field_png(dir + "/navier_stokes_" + std::to_string(i) + ".png",
              {{"w0", r.input[0]}, {"w(t_1)", r.output[0]}, {"w(t_T)", r.output[r.output.size(0) - 1]}});
  };
  return g;
}

Generator make_helmholtz(const Options& o) {
  sim::HelmholtzOptions h;
  h.resolution = positive(o, "resolution", h.resolution);
  PHYSML_CHECK(h.resolution >= 3, "option ", o.key("resolution"), " = ", h.resolution, " must be at least 3");
  h.omega = positive_real(o, "omega", h.omega);
  h.tau = positive_real(o, "tau", h.tau);
  h.terms = positive(o, "terms", h.terms);
  auto solver = std::make_shared<sim::HelmholtzSolver>(h, o.prefix());
  Generator g;
  g.info.generator = "helmholtz";
  g.info.parameters_json = Json()
                               .add("resolution", h.resolution)
                               .add("omega", h.omega)
                               .add("tau", h.tau)
                               .add("terms", h.terms)
                               .add("source_center", h.source_center)
                               .add("source_width", h.source_width)
                               .add_str("equation", "-lap(u) - (omega/c)^2 u = 0, c = 20 + tanh(a), du/dn = 1 on top |x-x0|<=d0/2")
                               .str();
  g.info.grid_json = grid_json({h.resolution, h.resolution}, "vertex", "neumann");
  g.info.input_shape = {1, h.resolution, h.resolution};
  g.info.output_shape = g.info.input_shape;
  g.compute = [solver](std::uint64_t seed, int64_t first, int64_t) {
    SampleResult res;
    try {
      auto [c, u] = solver->generate(seed, static_cast<std::uint64_t>(first));
      res.input = c.unsqueeze(0);
      res.output = u.unsqueeze(0);
    } catch (const physml::Error& e) {
      res.ok = false;
      res.message = e.what();
    }
    return std::vector<SampleResult>{res};
  };
  g.snapshot = [](const std::string& dir, int64_t i, const SampleResult& r) {
    field_png(dir + "/helmholtz_" + std::to_string(i) + ".png", {{"wave speed c", r.input[0]}, {"solution u", r.output[0]}});
  };
  return g;
}

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
    "Generates a benchmark data set (references/mgno_fno.md section 3) as a PhysML Dataset file with\n"
    "splits 'train' and 'test'. Sample i is drawn from seed derive_seed(seed, i), so the file does not\n"
    "depend on the number of MPI ranks (mpirun -n N physml generate ...). Rerunning an interrupted\n"
    "command completes the missing samples; a sample whose solve fails is reported and not written.\n\n"
    "Common options:\n"
    "  -output FILE.h5      output file (required)\n"
    "  -ntrain N, -ntest M  split sizes (default 32 / 8)\n"
    "  -seed S              master seed (default 0)\n"
    "  -dtype float32|float64  storage type (default float32)\n"
    "  -snapshots DIR       write PNG pictures of the first -snapshot_count (3) samples\n\n"
    "darcy (-darcy_*): preset smooth|rough, resolution (85; published 421 / rough 512), downsample (1;\n"
    "  421 -> 85/141/211 with 5/3/2), alpha (2), tau (3; rough 5), high (12), low (3); the CG+GAMG\n"
    "  solver takes -darcy_ksp_* / -darcy_pc_* (e.g. -darcy_pc_type hypre).\n"
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
  const int64_t ntrain = common.get_int("ntrain", 32), ntest = common.get_int("ntest", 8);
  PHYSML_CHECK(ntrain >= 0 && ntest >= 0 && ntrain + ntest > 0, "-ntrain ", ntrain, " / -ntest ", ntest,
               ": expected non-negative sizes with at least one sample");
  const long seed_l = common.get_int("seed", 0);
  PHYSML_CHECK(seed_l >= 0, "-seed ", seed_l, " must be non-negative");
  const auto seed = static_cast<std::uint64_t>(seed_l);
  const std::string dtype = common.get_choice("dtype", {"float32", "float64"}, "float32");
  const std::string snapdir = common.get_string("snapshots", "");
  const int64_t snapcount = common.get_int("snapshot_count", 3);

  Generator g;
  if (pde == "darcy") g = make_darcy(Options("darcy_"));
  else if (pde == "poisson") g = make_poisson(Options("poisson_"));
  else if (pde == "burgers") g = make_burgers(Options("burgers_"));
  else if (pde == "navier-stokes") g = make_navier_stokes(Options("navier_stokes_"));
  else if (pde == "helmholtz") g = make_helmholtz(Options("helmholtz_"));
  else PHYSML_THROW("physml generate: unknown PDE '", pde, "'; expected one of: darcy, poisson, helmholtz, burgers, navier-stokes");

  g.info.seed = static_cast<std::int64_t>(seed);
  if (ntrain > 0) g.info.split_sizes["train"] = ntrain;
  if (ntest > 0) g.info.split_sizes["test"] = ntest;
  g.info.dtype = dtype == "float32" ? torch::kFloat : torch::kDouble;
  const int64_t total = ntrain + ntest;
  auto split_of = [&](int64_t gidx) {
    return gidx < ntrain ? std::make_pair(std::string("train"), gidx) : std::make_pair(std::string("test"), gidx - ntrain);
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

  physml::Progress progress(pde, total, total - missing_samples);
  int64_t failures = 0;
  std::string first_failure;
  // Rounds: in round k, rank r computes todo[k*size + r]; rank 0 collects and writes in order.
  for (size_t base = 0; base < todo.size(); base += static_cast<size_t>(size)) {
    std::vector<SampleResult> mine;
    const size_t my = base + static_cast<size_t>(rank);
    if (my < todo.size()) {
      const int64_t u = todo[my], first = u * g.unit, count = std::min(total, first + g.unit) - first;
      mine = g.compute(seed, first, count);
      if (rank != 0)
        for (const auto& r : mine) send_result(r, 0, comm);
    }
    if (rank != 0) continue;
    for (int src = 0; src < size && base + static_cast<size_t>(src) < todo.size(); ++src) {
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
        if (!snapdir.empty() && gidx < snapcount && g.snapshot) {
          std::filesystem::create_directories(snapdir);
          g.snapshot(snapdir, gidx, r);
        }
        progress.advance(1);
      }
    }
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
