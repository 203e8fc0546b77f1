#include "test_util.hpp"

#include "physml/core/error.hpp"

#include "physml/core/views.hpp"
#include "physml/mesh/grid.hpp"

#include <petscdmda.h>
#include <torch/torch.h>

using physml::mesh::Boundary;
using physml::mesh::Centering;
using physml::mesh::Grid;
using physml::mesh::GridOptions;

TEST(Grid, VertexCentredSpacingShapeAndCoordinates2D) {
  Grid g(GridOptions({5, 3}).lower({0.0, -1.0}).upper({2.0, 1.0}));
  EXPECT_EQ(g.dim(), 2);
  EXPECT_EQ(g.shape(), (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(g.numel(), 15);
  EXPECT_DOUBLE_EQ(g.spacing(0), 0.5);  // 2 / (5 - 1)
  EXPECT_DOUBLE_EQ(g.spacing(1), 1.0);  // 2 / (3 - 1)
  EXPECT_DOUBLE_EQ(g.cell_volume(), 0.5);
  auto xy = g.coordinates();
  ASSERT_EQ(xy.size(), 2u);
  EXPECT_EQ(xy[0].sizes(), (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(xy[0].scalar_type(), torch::kDouble);
  for (int j = 0; j < 3; ++j)
    for (int i = 0; i < 5; ++i) {
      EXPECT_DOUBLE_EQ(xy[0][j][i].item<double>(), 0.5 * i);   // x varies fastest
      EXPECT_DOUBLE_EQ(xy[1][j][i].item<double>(), -1.0 + j);
    }
  // Boundary points are grid points on a vertex-centred non-periodic axis.
  EXPECT_DOUBLE_EQ(g.axis_coordinates(0)[4].item<double>(), 2.0);
}

TEST(Grid, CellCentredAndPeriodicSpacing) {
  Grid cell(GridOptions({4}).centering(Centering::cell));
  EXPECT_DOUBLE_EQ(cell.spacing(0), 0.25);
  EXPECT_TRUE(torch::allclose(cell.axis_coordinates(0), torch::tensor({0.125, 0.375, 0.625, 0.875}, torch::kDouble)));
  // Periodic vertex-centred: the point at `upper` is the image of the one at `lower`.
  Grid per(GridOptions({4}).periodic(0));
  EXPECT_DOUBLE_EQ(per.spacing(0), 0.25);
  EXPECT_TRUE(torch::allclose(per.axis_coordinates(0), torch::tensor({0.0, 0.25, 0.5, 0.75}, torch::kDouble)));
  EXPECT_TRUE(per.periodic(0));
  EXPECT_EQ(per.boundary(0, 1), Boundary::periodic);
}

TEST(Grid, ThreeDCoordinatesAreZYXWithXFastest) {
  Grid g(GridOptions({4, 3, 2}).centering(Centering::cell).upper({4.0, 3.0, 2.0}));
  auto c = g.coordinates(torch::kFloat);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].sizes(), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(c[2].scalar_type(), torch::kFloat);
  // Flat index = (k ny + j) nx + i: PETSc DMDA natural ordering.
  auto x = c[0].reshape({-1}), y = c[1].reshape({-1}), z = c[2].reshape({-1});
  for (int k = 0; k < 2; ++k)
    for (int j = 0; j < 3; ++j)
      for (int i = 0; i < 4; ++i) {
        int64_t n = (k * 3 + j) * 4 + i;
        EXPECT_FLOAT_EQ(x[n].item<float>(), i + 0.5f);
        EXPECT_FLOAT_EQ(y[n].item<float>(), j + 0.5f);
        EXPECT_FLOAT_EQ(z[n].item<float>(), k + 0.5f);
      }
}

namespace {
/// Coordinates that PETSc stored in the DMDA (serial), as [ny, nx, 2] / [nz, ny, nx, 3].
torch::Tensor dmda_coordinates(DM da) {
  Vec coords = nullptr;
  PetscCallAbort(PETSC_COMM_SELF, DMGetCoordinates(da, &coords));
  DM cda = nullptr;
  PetscCallAbort(PETSC_COMM_SELF, DMGetCoordinateDM(da, &cda));
  return physml::as_tensor(cda, coords).clone();
}
}  // namespace

TEST(Grid, ToDmdaMatchesSizesBoundariesAndCoordinates2D) {
  Grid g(GridOptions({6, 4}).lower({-1.0, 0.0}).upper({2.0, 1.0}).centering(Centering::cell).periodic(1));
  DM da = g.to_dmda(PETSC_COMM_SELF, /*dof=*/2, /*stencil_width=*/2);
  PetscInt dim, M, N, P, m, n, p, dof, s;
  DMBoundaryType bx, by, bz;
  DMDAStencilType st;
  ASSERT_EQ(DMDAGetInfo(da, &dim, &M, &N, &P, &m, &n, &p, &dof, &s, &bx, &by, &bz, &st), 0);
  EXPECT_EQ(dim, 2);
  EXPECT_EQ(M, 6);
  EXPECT_EQ(N, 4);
  EXPECT_EQ(dof, 2);
  EXPECT_EQ(s, 2);
  EXPECT_EQ(bx, DM_BOUNDARY_GHOSTED);  // cell-centred Dirichlet: ghost cells for the BC
  EXPECT_EQ(by, DM_BOUNDARY_PERIODIC);
  EXPECT_EQ(st, DMDA_STENCIL_BOX);
  auto pc = dmda_coordinates(da);
  ASSERT_EQ(pc.sizes(), (std::vector<int64_t>{4, 6, 2}));
  auto xy = g.coordinates();
  EXPECT_TRUE(torch::allclose(pc.select(2, 0), xy[0], 0, 1e-13)) << pc.select(2, 0) << xy[0];
  EXPECT_TRUE(torch::allclose(pc.select(2, 1), xy[1], 0, 1e-13)) << pc.select(2, 1) << xy[1];
  // Cell centres: x from -1 + 0.25 to 2 - 0.25, y (periodic, 4 cells on [0, 1]) 0.125 .. 0.875.
  EXPECT_NEAR(pc[0][0][0].item<double>(), -0.75, 1e-14);
  EXPECT_NEAR(pc[3][5][0].item<double>(), 1.75, 1e-14);
  EXPECT_NEAR(pc[3][5][1].item<double>(), 0.875, 1e-14);
  DMDestroy(&da);
}

TEST(Grid, ToDmda1DAnd3D) {
  Grid g1(GridOptions({9}).lower({1.0}).upper({3.0}));
  DM da1 = g1.to_dmda(PETSC_COMM_SELF);
  PetscInt dim, M, N, P;
  DMBoundaryType bx, by, bz;
  ASSERT_EQ(DMDAGetInfo(da1, &dim, &M, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, &bx, nullptr,
                        nullptr, nullptr), 0);
  EXPECT_EQ(dim, 1);
  EXPECT_EQ(M, 9);
  EXPECT_EQ(bx, DM_BOUNDARY_NONE);
  EXPECT_TRUE(torch::allclose(dmda_coordinates(da1), g1.axis_coordinates(0), 0, 1e-14));
  DMDestroy(&da1);

  Grid g3(GridOptions({5, 4, 3}).periodic(0).periodic(1).periodic(2).upper({1.0, 2.0, 3.0}));
  DM da3 = g3.to_dmda(PETSC_COMM_SELF, 1, 1, DMDA_STENCIL_STAR);
  DMDAStencilType st;
  ASSERT_EQ(DMDAGetInfo(da3, &dim, &M, &N, &P, nullptr, nullptr, nullptr, nullptr, nullptr, &bx, &by, &bz, &st), 0);
  EXPECT_EQ(dim, 3);
  EXPECT_EQ(M, 5);
  EXPECT_EQ(N, 4);
  EXPECT_EQ(P, 3);
  EXPECT_EQ(bx, DM_BOUNDARY_PERIODIC);
  EXPECT_EQ(bz, DM_BOUNDARY_PERIODIC);
  EXPECT_EQ(st, DMDA_STENCIL_STAR);
  auto pc = dmda_coordinates(da3);
  ASSERT_EQ(pc.sizes(), (std::vector<int64_t>{3, 4, 5, 3}));
  auto c = g3.coordinates();
  for (int a = 0; a < 3; ++a) EXPECT_TRUE(torch::allclose(pc.select(3, a), c[a], 0, 1e-14)) << "axis " << a;
  DMDestroy(&da3);
}

TEST(Grid, JsonDescription) {
  Grid g(GridOptions({8, 4}).upper({2.0, 1.0}).centering(Centering::cell).boundary(Boundary::neumann).periodic(0));
  EXPECT_EQ(g.to_json(),
            "{\"type\":\"uniform_grid\",\"dim\":2,\"sizes\":[8,4],\"shape\":[4,8],\"lower\":[0.0,0.0],"
            "\"upper\":[2.0,1.0],\"spacing\":[0.25,0.25],\"centering\":\"cell\",\"boundary\":"
            "[[\"periodic\",\"periodic\"],[\"neumann\",\"neumann\"]]}");
  // Numbers are the shortest text that reads back exactly (0.1, not 0.10000000000000001).
  EXPECT_NE(Grid(GridOptions({4}).upper({0.1})).to_json().find("\"upper\":[0.1]"), std::string::npos);
}

TEST(Grid, MixedFaceBoundaries) {
  Grid g(GridOptions({4, 4}).boundary(1, Boundary::dirichlet, Boundary::neumann));
  EXPECT_EQ(g.boundary(0, 0), Boundary::dirichlet);
  EXPECT_EQ(g.boundary(1, 0), Boundary::dirichlet);
  EXPECT_EQ(g.boundary(1, 1), Boundary::neumann);
  EXPECT_FALSE(g.periodic(1));
}

TEST(Grid, BadInputGivesClearErrors) {
  EXPECT_THROW_MSG(Grid(GridOptions(std::vector<int64_t>{})), "dimension must be 1, 2 or 3");
  EXPECT_THROW_MSG(Grid(GridOptions({4, 4, 4, 4})), "dimension must be 1, 2 or 3");
  EXPECT_THROW_MSG(Grid(GridOptions({4, 0})), "number of points along y must be positive, got 0");
  EXPECT_THROW_MSG(Grid(GridOptions({4, -3})), "must be positive, got -3");
  EXPECT_THROW_MSG(Grid(GridOptions({4, 4}).lower({0.0, 1.0}).upper({1.0, 1.0})),
                   "upper (1) must be greater than lower (1) along y");
  EXPECT_THROW_MSG(Grid(GridOptions({4, 4}).lower({0.0})), "lower has 1 entries but the grid has dimension 2");
  EXPECT_THROW_MSG(Grid(GridOptions({4, 4}).boundary(0, Boundary::periodic, Boundary::dirichlet)),
                   "periodic boundary along x must be set on both faces");
  EXPECT_THROW_MSG(Grid(GridOptions({1})), "vertex-centred non-periodic axis needs at least 2 points");
  EXPECT_THROW_MSG(GridOptions({4}).boundary(3, Boundary::neumann, Boundary::neumann), "axis must be 0 (x), 1 (y) or 2 (z)");
  Grid g(GridOptions({4, 4}));
  EXPECT_THROW_MSG(g.spacing(2), "axis must be in [0, 2), got 2");
  EXPECT_THROW_MSG(g.to_dmda(PETSC_COMM_SELF, 0), "dof must be >= 1");
}

TEST(Grid, SingleCellAxisHasFiniteDmdaCoordinates) {
  Grid g(GridOptions({1, 3}).centering(Centering::cell).upper({2.0, 3.0}));
  EXPECT_DOUBLE_EQ(g.spacing(0), 2.0);
  DM da = g.to_dmda(PETSC_COMM_SELF);
  auto pc = dmda_coordinates(da);
  ASSERT_EQ(pc.sizes(), (std::vector<int64_t>{3, 1, 2}));
  EXPECT_TRUE(torch::isfinite(pc).all().item<bool>()) << pc;
  EXPECT_DOUBLE_EQ(pc[0][0][0].item<double>(), 1.0);  // centre of the single cell [0, 2]
  EXPECT_DOUBLE_EQ(pc[2][0][1].item<double>(), 2.5);
  DMDestroy(&da);
}

TEST(Grid, JsonRoundTrip) {
  for (const Grid& g : {Grid(GridOptions({8, 4}).upper({2.0, 0.1}).centering(Centering::cell).periodic(0)),
                        Grid(GridOptions({3, 5, 7}).lower({-1.0 / 3.0, 0.0, 1e-9}).upper({1.0, 2.0, 3.0}).boundary(
                            2, Boundary::neumann, Boundary::dirichlet)),
                        Grid(GridOptions({17}))}) {
    Grid back = Grid::from_json(g.to_json());
    EXPECT_TRUE(back == g) << g.to_json() << "\n" << back.to_json();
    EXPECT_EQ(back.to_json(), g.to_json());
  }
  // Hand-written, other key order and spacing, defaults for what is missing.
  Grid h = Grid::from_json(R"( { "centering" : "cell", "sizes": [4,2] , "boundary": [["periodic","periodic"],
                                 ["neumann", "neumann"]] } )");
  EXPECT_TRUE(h == Grid(GridOptions({4, 2}).centering(Centering::cell).boundary(Boundary::neumann).periodic(0)));
  EXPECT_FALSE(h == Grid(GridOptions({4, 2}).centering(Centering::cell)));
}

TEST(Grid, FromJsonBadInput) {
  EXPECT_THROW_MSG(Grid::from_json("{\"sizes\": [4, 4"), "malformed JSON");
  EXPECT_THROW_MSG(Grid::from_json("[1, 2]"), "expected a JSON object");
  EXPECT_THROW_MSG(Grid::from_json("{\"lower\": [0]}"), "missing \"sizes\"");
  EXPECT_THROW_MSG(Grid::from_json("{\"sizes\": [4.5]}"), "\"sizes\" must hold integers");
  EXPECT_THROW_MSG(Grid::from_json("{\"sizes\": [4], \"centering\": \"face\"}"), "\"centering\" must be");
  EXPECT_THROW_MSG(Grid::from_json("{\"sizes\": [4], \"boundary\": [[\"robin\", \"robin\"]]}"),
                   "unknown boundary type \"robin\"");
  EXPECT_THROW_MSG(Grid::from_json("{\"type\": \"plex\", \"sizes\": [4]}"), "must be \"uniform_grid\"");
  EXPECT_THROW_MSG(Grid::from_json("{\"sizes\": [4, 0]}"), "must be positive");  // Grid's own checks
}

// Found by fuzz_grid_json: a number too large for a double escaped as nlohmann's out_of_range
// exception instead of a physml::Error, and an integral size beyond int64 was cast (UB).
TEST(Grid, FromJsonNumbersOutOfRangeAreErrors) {
  EXPECT_THROW_MSG(Grid::from_json("4e33334"), "malformed JSON");
  EXPECT_THROW_MSG(Grid::from_json("{\"sizes\": [1e400]}"), "malformed JSON");
  EXPECT_THROW_MSG(Grid::from_json("{\"sizes\": [1e300]}"), "\"sizes\" must hold integers");
  EXPECT_THROW_MSG(Grid::from_json("{\"sizes\": [-1e19]}"), "\"sizes\" must hold integers");
}
