// The PDE simulators' options types configure themselves (set_from_options on a PETSc options
// database, defaults = the published values, checks naming the key) and describe their solve
// grid as a mesh::Grid (grid(), on(grid)); downsample_grid describes the points the
// downsampling functions keep.
#include "physml/core/options.hpp"
#include "physml/simulators/burgers.hpp"
#include "physml/simulators/darcy.hpp"
#include "physml/simulators/helmholtz.hpp"
#include "physml/simulators/navier_stokes.hpp"
#include "test_util.hpp"

#include <torch/torch.h>

namespace sim = physml::simulators;
namespace mesh = physml::mesh;
using physml::Options;
using Database = physml::test::OptionsDatabase;

TEST(PdeOptions, ReadTheirKeysWithTheCurrentValuesAsDefaults) {
  Database d;
  d.set("-darcy_resolution", "33");
  d.set("-darcy_low", "0.5");
  auto darcy = sim::DarcyOptions::rough();
  darcy.set_from_options(Options("darcy_", d.db));
  EXPECT_EQ(darcy.resolution, 33);
  EXPECT_DOUBLE_EQ(darcy.low, 0.5);
  EXPECT_DOUBLE_EQ(darcy.tau, 5.0);  // not given: the rough preset's value stays
  EXPECT_DOUBLE_EQ(darcy.high, 12.0);

  Database b;
  b.set("-burgers_viscosity", "0.01");
  b.set("-burgers_resolution", "256");
  sim::BurgersOptions burgers;
  burgers.set_from_options(Options("burgers_", b.db));
  EXPECT_EQ(burgers.resolution, 256);
  EXPECT_DOUBLE_EQ(burgers.viscosity, 0.01);
  EXPECT_DOUBLE_EQ(burgers.sigma, 25.0);

  Database n;
  n.set("-ns_time_stepping", "euler");
  n.set("-ns_forcing", "0");
  sim::NavierStokesOptions ns;
  ns.set_from_options(Options("ns_", n.db));
  EXPECT_EQ(ns.time_stepping, "euler");
  EXPECT_EQ(ns.forcing_amplitude, 0.0);
  EXPECT_EQ(ns.resolution, 256);

  Database h;
  h.set("-helmholtz_omega", "50");
  h.set("-helmholtz_source_width", "0.1");
  sim::HelmholtzOptions helm;
  helm.set_from_options(Options("helmholtz_", h.db));
  EXPECT_DOUBLE_EQ(helm.omega, 50.0);
  EXPECT_DOUBLE_EQ(helm.source_width, 0.1);
  EXPECT_EQ(helm.terms, 100);
}

TEST(PdeOptions, BadValuesNameTheKey) {
  Database d;
  d.set("-darcy_tau", "0");
  EXPECT_THROW_MSG(sim::DarcyOptions().set_from_options(Options("darcy_", d.db)), "option -darcy_tau = 0 must be positive");
  Database b;
  b.set("-burgers_max_dt", "nan");
  EXPECT_THROW_MSG(sim::BurgersOptions().set_from_options(Options("burgers_", b.db)), "-burgers_max_dt");
  Database n;
  n.set("-ns_time_stepping", "rk4");
  EXPECT_THROW_MSG(sim::NavierStokesOptions().set_from_options(Options("ns_", n.db)), "rk4");
  Database h;
  h.set("-helmholtz_resolution", "2");
  EXPECT_THROW_MSG(sim::HelmholtzOptions().set_from_options(Options("helmholtz_", h.db)), "-helmholtz_resolution");
}

TEST(PdeOptions, ScaledPresetsKeepThePublishedDistribution) {
  const auto smooth = sim::DarcyOptions::scaled("smooth"), rough = sim::DarcyOptions::scaled("rough");
  EXPECT_EQ(smooth.resolution, 85);
  EXPECT_EQ(rough.resolution, 128);
  EXPECT_DOUBLE_EQ(smooth.tau, sim::DarcyOptions::smooth().tau);
  EXPECT_DOUBLE_EQ(rough.tau, sim::DarcyOptions::rough().tau);
  EXPECT_THROW_MSG(sim::DarcyOptions::scaled("wavy"), "unknown preset 'wavy'");
  EXPECT_EQ(sim::BurgersOptions::scaled().resolution, 1024);
  EXPECT_DOUBLE_EQ(sim::BurgersOptions::scaled().viscosity, sim::BurgersOptions().viscosity);
  EXPECT_EQ(sim::NavierStokesOptions::scaled().resolution, 64);
  EXPECT_DOUBLE_EQ(sim::NavierStokesOptions::scaled().tau, sim::NavierStokesOptions().tau);
}

TEST(PdeOptions, GridsDescribeTheSolveGridAndRoundTrip) {
  sim::DarcyOptions darcy;
  darcy.resolution = 17;
  const auto g = darcy.grid();
  EXPECT_EQ(g.sizes(), (std::vector<int64_t>{17, 17}));
  EXPECT_EQ(g.boundary(1, 1), mesh::Boundary::dirichlet);
  EXPECT_DOUBLE_EQ(g.spacing(0), 1.0 / 16.0);  // vertices x_i = i / (s - 1)
  EXPECT_EQ(sim::DarcyOptions().on(g).resolution, 17);

  sim::BurgersOptions burgers;
  burgers.resolution = 128;
  EXPECT_TRUE(burgers.grid().periodic(0));
  EXPECT_DOUBLE_EQ(burgers.grid().spacing(0), 1.0 / 128.0);  // x_j = j / n
  EXPECT_EQ(sim::BurgersOptions().on(burgers.grid()).resolution, 128);

  sim::NavierStokesOptions ns;
  ns.resolution = 32;
  EXPECT_EQ(sim::NavierStokesOptions().on(ns.grid()).resolution, 32);
  sim::HelmholtzOptions helm;
  helm.resolution = 21;
  EXPECT_EQ(helm.grid().boundary(0, 0), mesh::Boundary::neumann);
  EXPECT_EQ(sim::HelmholtzOptions().on(helm.grid()).resolution, 21);

  // Grids of another kind are refused with what was expected.
  EXPECT_THROW_MSG(sim::DarcyOptions().on(helm.grid()), "DarcyOptions::on: expected a grid like");
  EXPECT_THROW_MSG(sim::DarcyOptions().on(mesh::Grid(mesh::GridOptions({17, 9}))), "DarcyOptions::on");
  EXPECT_THROW_MSG(sim::NavierStokesOptions().on(darcy.grid()), "NavierStokesOptions::on");
  EXPECT_THROW_MSG(sim::BurgersOptions().on(mesh::Grid(mesh::GridOptions({64}).periodic(0).upper({2.0}))),
                   "BurgersOptions::on");
}

TEST(PdeOptions, DownsampleGridHoldsThePointsTheDownsamplingKeeps) {
  // The coordinates of the subsampled grid equal the subsampled coordinates of the grid.
  auto check = [](const mesh::Grid& fine, int64_t r, bool corners) -> mesh::Grid {
    const auto coarse = sim::downsample_grid(fine, r, corners);
    const auto xf = fine.coordinates(), xc = coarse.coordinates();
    for (int a = 0; a < fine.dim(); ++a) {
      const auto kept = corners ? sim::downsample_vertex(xf[static_cast<size_t>(a)], r)
                                : sim::downsample_stride(xf[static_cast<size_t>(a)], r);
      EXPECT_EQ(kept.sizes(), xc[static_cast<size_t>(a)].sizes());
      if (kept.sizes() != xc[static_cast<size_t>(a)].sizes()) continue;
      EXPECT_LT((kept - xc[static_cast<size_t>(a)]).abs().max().item<double>(), 1e-14);
    }
    return coarse;
  };
  sim::DarcyOptions fno;
  fno.resolution = 21;
  EXPECT_EQ(check(fno.grid(), 5, true).sizes(), (std::vector<int64_t>{5, 5}));  // 421 -> 85 in small
  sim::DarcyOptions mgno;
  mgno.resolution = 16;
  const auto strided = check(mgno.grid(), 2, false);  // 512 -> 256 in small: the box shrinks to the last point
  EXPECT_DOUBLE_EQ(strided.upper(0), 14.0 / 15.0);
  sim::NavierStokesOptions ns;
  ns.resolution = 16;
  const auto torus = check(ns.grid(), 4, false);
  EXPECT_TRUE(torus.periodic(0));
  EXPECT_DOUBLE_EQ(torus.upper(0), 1.0);
  EXPECT_THROW_MSG(sim::downsample_grid(fno.grid(), 3, true), "(n - 1) divisible by 3");
  EXPECT_THROW_MSG(sim::downsample_grid(mesh::Grid(mesh::GridOptions({8, 8}).centering(mesh::Centering::cell)), 2, false),
                   "expected a vertex-centred grid");
}
