// The pressure-Poisson scenes of examples/dcdm_poisson (poisson_scene.hpp): matrix structure
// per cell type, symmetry and definiteness, enclosed pockets, seeds, the free surface, and
// the plume's divergence against finite differences of its velocity.
#include "../../examples/dcdm_poisson/poisson_scene.hpp"
#include "physml/core/error.hpp"
#include "physml/solvers/linear/dcdm.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

using namespace physml;

namespace {

struct SceneSystem {
  DM da = nullptr;
  Mat A = nullptr;
  Vec b = nullptr;
  PetscInt enclosed = 0;
  scene::Cells cells;
  SceneSystem(int dim, PetscInt n, const scene::Obstacle& o, unsigned rhs_seed = 1) {
    if (dim == 2) {
      PHYSML_PETSC(DMDACreate2d(PETSC_COMM_SELF, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DMDA_STENCIL_STAR, n, n, 1, 1, 1, 1,
                                nullptr, nullptr, &da));
    } else {
      PHYSML_PETSC(DMDACreate3d(PETSC_COMM_SELF, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DMDA_STENCIL_STAR, n,
                                n, n, 1, 1, 1, 1, 1, nullptr, nullptr, nullptr, &da));
    }
    PHYSML_PETSC(DMSetUp(da));
    PHYSML_PETSC(DMCreateMatrix(da, &A));
    PHYSML_PETSC(DMCreateGlobalVector(da, &b));
    PHYSML_PETSC(scene::assemble(da, o, A, &enclosed));
    PHYSML_PETSC(scene::divergence_rhs(da, o, rhs_seed, b));
    cells = scene::classify(dim, n, n, dim == 3 ? n : 1, o);
  }
  ~SceneSystem() {
    VecDestroy(&b);
    MatDestroy(&A);
    DMDestroy(&da);
  }
};

// Every row as the cell types say: solid/air rows identity, fluid rows −1 per fluid
// neighbour and diagonal = fluid neighbours + walls + air faces; b = 0 off the fluid.
void check_structure(const SceneSystem& s) {
  const auto& c = s.cells;
  const PetscScalar* bv;
  PHYSML_PETSC(VecGetArrayRead(s.b, &bv));
  int fluid = 0;
  for (PetscInt k = 0; k < c.P; ++k)
    for (PetscInt j = 0; j < c.N; ++j)
      for (PetscInt i = 0; i < c.M; ++i) {
        const PetscInt row = (k * c.N + j) * c.M + i;
        PetscInt nc;
        const PetscInt* cols;
        const PetscScalar* vals;
        PHYSML_PETSC(MatGetRow(s.A, row, &nc, &cols, &vals));
        double diag = 0, off = 0;
        int off_count = 0;
        for (PetscInt q = 0; q < nc; ++q) {
          if (cols[q] == row) diag = vals[q];
          else if (vals[q] != 0.0) {
            off += vals[q];
            ++off_count;
          }
        }
        PHYSML_PETSC(MatRestoreRow(s.A, row, &nc, &cols, &vals));
        if (c.at(i, j, k) != scene::kFluid) {
          ASSERT_EQ(diag, 1.0) << row;
          ASSERT_EQ(off_count, 0) << row;
          ASSERT_EQ(bv[row], 0.0) << row;
          continue;
        }
        ++fluid;
        int fluid_nb = 0, dirichlet = 0;
        const PetscInt nb[6][3] = {{-1, 0, 0}, {1, 0, 0}, {0, -1, 0}, {0, 1, 0}, {0, 0, -1}, {0, 0, 1}};
        for (int q = 0; q < 2 * c.dim; ++q) {
          const PetscInt a = i + nb[q][0], b = j + nb[q][1], d = k + nb[q][2];
          if (!c.inside(a, b, d) || c.at(a, b, d) == scene::kAir) ++dirichlet;
          else if (c.at(a, b, d) == scene::kFluid) ++fluid_nb;
        }
        ASSERT_EQ(off_count, fluid_nb) << row;
        ASSERT_EQ(off, -fluid_nb) << row;
        ASSERT_EQ(diag, fluid_nb + dirichlet) << row;
      }
  PHYSML_PETSC(VecRestoreArrayRead(s.b, &bv));
  EXPECT_GT(fluid, 0);
}

// Symmetric, and unpreconditioned CG converges to 1e-10 with positive extreme
// eigenvalue estimates (SPD: no singular pure-Neumann block), bounded by Gershgorin.
void check_spd(const SceneSystem& s) {
  PetscBool sym = PETSC_FALSE;
  PHYSML_PETSC(MatIsSymmetric(s.A, 0.0, &sym));
  EXPECT_TRUE(sym);
  KSP ksp;
  PHYSML_PETSC(KSPCreate(PETSC_COMM_SELF, &ksp));
  PHYSML_PETSC(KSPSetOperators(ksp, s.A, s.A));
  PHYSML_PETSC(KSPSetType(ksp, KSPCG));
  PC pc;
  PHYSML_PETSC(KSPGetPC(ksp, &pc));
  PHYSML_PETSC(PCSetType(pc, PCNONE));
  PHYSML_PETSC(KSPSetTolerances(ksp, 1e-10, 1e-50, PETSC_DEFAULT, 5000));
  PHYSML_PETSC(KSPSetNormType(ksp, KSP_NORM_UNPRECONDITIONED));
  PHYSML_PETSC(KSPSetComputeSingularValues(ksp, PETSC_TRUE));
  Vec x;
  PHYSML_PETSC(VecDuplicate(s.b, &x));
  PHYSML_PETSC(KSPSolve(ksp, s.b, x));
  KSPConvergedReason reason;
  PHYSML_PETSC(KSPGetConvergedReason(ksp, &reason));
  EXPECT_EQ(reason, KSP_CONVERGED_RTOL) << KSPConvergedReasons[reason];
  PetscReal emax, emin;
  PHYSML_PETSC(KSPComputeExtremeSingularValues(ksp, &emax, &emin));
  EXPECT_GT(emin, 1e-4);
  EXPECT_LE(emax, 4.0 * s.cells.dim + 1e-9);  // Gershgorin: |row| sum <= 2 * 2d
  VecDestroy(&x);
  KSPDestroy(&ksp);
}

}  // namespace

TEST(DCDMScenes, RandomObstaclesGiveConsistentSPDSystems) {
  for (int dim : {2, 3}) {
    for (unsigned seed : {1u, 2u, 7u}) {
      scene::Obstacle o;
      o.shape = "random";
      scene::configure(o, dim, dim == 2 ? 10 : 6, seed);
      ASSERT_EQ(o.shapes.size(), dim == 2 ? 10u : 6u);
      SceneSystem s(dim, dim == 2 ? 32 : 12, o);
      SCOPED_TRACE(std::to_string(dim) + "D seed " + std::to_string(seed));
      check_structure(s);
      check_spd(s);
      int solids = 0;
      for (auto t : s.cells.type) solids += t == scene::kSolid;
      EXPECT_GT(solids, 0);
    }
  }
}

TEST(DCDMScenes, SeedsAndMotionChangeTheMatrix) {
  auto matrix = [](unsigned seed, double shift) {
    scene::Obstacle o;
    o.shape = "random";
    scene::configure(o, 2, 6, seed);
    o.shift = shift;
    SceneSystem s(2, 24, o);
    return solvers::sparse_from_mat(s.A, torch::kDouble).to_dense();
  };
  const auto a = matrix(3, 0.0);
  EXPECT_TRUE(torch::equal(a, matrix(3, 0.0)));
  EXPECT_FALSE(torch::equal(a, matrix(4, 0.0)));
  EXPECT_FALSE(torch::equal(a, matrix(3, 0.1)));  // a moving scene changes A every frame
}

TEST(DCDMScenes, EnclosedFluidPocketsBecomeSolid) {
  // Four thin boxes frame the square [0.3, 0.7]^2: the fluid inside touches no Dirichlet
  // face, so it would be a pure-Neumann (singular) block; it must become solid.
  scene::Obstacle o;
  o.shape = "random";
  auto box = [](double cx, double cy, double hx, double hy) {
    scene::Shape s;
    s.box = true;
    s.c = {cx, cy, 0.5};
    s.h = {hx, hy, 0.5};
    return s;
  };
  o.shapes = {box(0.5, 0.3, 0.22, 0.03), box(0.5, 0.7, 0.22, 0.03), box(0.3, 0.5, 0.03, 0.22), box(0.7, 0.5, 0.03, 0.22)};
  SceneSystem s(2, 40, o);
  EXPECT_GT(s.enclosed, 100);  // the interior, about 0.34^2 * 1600 cells
  const PetscInt centre = 20;
  EXPECT_EQ(s.cells.at(centre, centre, 0), scene::kSolid);
  EXPECT_EQ(s.cells.at(2, 2, 0), scene::kFluid);
  check_structure(s);
  check_spd(s);
  // The solver's mask (rows without off-diagonals) agrees.
  const auto mask = solvers::solid_mask_from_matrix(s.A);
  EXPECT_EQ(mask[centre * 40 + centre].item<float>(), 0.0f);
}

TEST(DCDMScenes, FreeSurfaceIsDirichletAndAirIsDecoupled) {
  scene::Obstacle o;
  o.shape = "sphere";
  o.cx = 0.5;
  o.cy = 0.35;
  o.radius = 0.15;
  o.surface = 0.6;
  SceneSystem s(2, 20, o);
  check_structure(s);
  check_spd(s);
  // Rows j >= 12 (centres above y = 0.6) are air; row j = 11 has a Dirichlet face upwards.
  EXPECT_EQ(s.cells.at(3, 12, 0), scene::kAir);
  EXPECT_EQ(s.cells.at(3, 11, 0), scene::kFluid);
  PetscInt nc;
  const PetscInt* cols;
  const PetscScalar* vals;
  const PetscInt row = 11 * 20 + 3;
  PHYSML_PETSC(MatGetRow(s.A, row, &nc, &cols, &vals));
  double diag = 0;
  for (PetscInt q = 0; q < nc; ++q)
    if (cols[q] == row) diag = vals[q];
  PHYSML_PETSC(MatRestoreRow(s.A, row, &nc, &cols, &vals));
  EXPECT_EQ(diag, 4.0);  // 3 fluid neighbours + the air face
}

TEST(DCDMScenes, PlumeDivergenceConvergesToFiniteDifferencesAtSecondOrder) {
  // div u = ∂u_y/∂y for the plume; the centred difference of u_y over [y − h/2, y + h/2]
  // differs from it by O(h²): the error ratio between h and h/2 must be ≈ 4.
  for (int dim : {2, 3}) {
    auto max_error = [&](double h) {
      double e = 0;
      for (double x : {0.42, 0.5, 0.55, 0.61})
        for (double y : {0.1, 0.37, 0.8})
          for (double z : {0.47, 0.53}) {
            const double fd = (scene::plume_velocity(dim, x, y + h / 2, z) - scene::plume_velocity(dim, x, y - h / 2, z)) / h;
            e = std::max(e, std::abs(fd - scene::plume_divergence(dim, x, y, z)));
          }
      return e;
    };
    const double e1 = max_error(1e-2), e2 = max_error(5e-3);
    EXPECT_NEAR(e1 / e2, 4.0, 0.2) << dim << "D: " << e1 << " " << e2;
  }
  // The scene: b vanishes on solids, is driven by the plume (the random part is weaker).
  scene::Obstacle o;
  o.shape = "plume";
  o.cx = 0.45;
  o.cy = 0.6;
  o.radius = 0.15;
  SceneSystem s(2, 32, o);
  check_structure(s);
  check_spd(s);
}

TEST(DCDMScenes, UnknownSceneNamesAreRejected) {
  try {
    scene::check_shape("sphers");
    ADD_FAILURE() << "no exception for an unknown scene";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "unknown obstacle 'sphers'; expected sphere|box|spheres|random|plume|none");
  }
  scene::Obstacle o;
  o.shape = "cube";
  EXPECT_THROW(scene::configure(o, 3, 2, 1), std::invalid_argument);
}
