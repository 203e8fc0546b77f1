// An ordinary PETSc pressure-Poisson program: a DMDA, a matrix with a solid obstacle
// (optionally moving over frames, so the matrix changes every frame), KSPSetFromOptions,
// KSPSolve. It knows nothing about PhysML: DCDM arrives through the command line only,
//
//   ./dcdm_poisson -n 32 -dim 3 -dll_append <build>/solvers/libphysml_solvers.so
//       -ksp_type dcdm -ksp_dcdm_model model.h5 -ksp_monitor
//
// Options: -n N (cells per side), -dim 2|3, -frames F, -obstacle sphere|box|spheres|random|
// plume|none (poisson_scene.hpp), -radius R, -nobstacles K and -scene_seed S (random scene),
// -surface H (free surface at height y = H: air above, p = 0 on it; default none),
// -speed S (obstacle x-velocity per frame, in domain units), -seed s (right-hand side),
// -save_system FILE (write frame 0's A and b as PETSc binary, for `physml solve`).
// Prints per frame: iterations, setup and solve seconds, converged reason, true residual.
// Exit status: 0 if every frame converged; PETSC_ERR_NOT_CONVERGED (91) if a solve diverged
// (KSPGetConvergedReason < 0; all frames are still run and summarized); any other PETSc
// error's code (e.g. 63 for a bad option), never 0.
#include "poisson_scene.hpp"

#include <petscksp.h>
#include <petsctime.h>

namespace {

PetscErrorCode run(int argc, char** argv) {
  PetscCall(PetscInitialize(&argc, &argv, nullptr, "DCDM example: pressure Poisson with an obstacle"));
  PetscInt n = 32, dim = 3, frames = 1, seed = 1, count = 4, scene_seed = 1;
  PetscReal radius = 0.2, speed = 0.02, surface = 1.0;
  char shape[32] = "sphere", save[PETSC_MAX_PATH_LEN] = "";
  PetscCall(PetscOptionsGetInt(nullptr, nullptr, "-n", &n, nullptr));
  PetscCall(PetscOptionsGetInt(nullptr, nullptr, "-dim", &dim, nullptr));
  PetscCall(PetscOptionsGetInt(nullptr, nullptr, "-frames", &frames, nullptr));
  PetscCall(PetscOptionsGetInt(nullptr, nullptr, "-seed", &seed, nullptr));
  PetscCall(PetscOptionsGetReal(nullptr, nullptr, "-radius", &radius, nullptr));
  PetscCall(PetscOptionsGetReal(nullptr, nullptr, "-surface", &surface, nullptr));
  PetscCall(PetscOptionsGetInt(nullptr, nullptr, "-nobstacles", &count, nullptr));
  PetscCall(PetscOptionsGetInt(nullptr, nullptr, "-scene_seed", &scene_seed, nullptr));
  PetscCall(PetscOptionsGetReal(nullptr, nullptr, "-speed", &speed, nullptr));
  PetscCall(PetscOptionsGetString(nullptr, nullptr, "-obstacle", shape, sizeof(shape), nullptr));
  PetscCall(PetscOptionsGetString(nullptr, nullptr, "-save_system", save, sizeof(save), nullptr));
  try {
    scene::check_shape(shape);
  } catch (const std::exception& e) {
    SETERRQ(PETSC_COMM_WORLD, PETSC_ERR_ARG_OUTOFRANGE, "-obstacle: %s", e.what());
  }
  PetscCheck(dim == 2 || dim == 3, PETSC_COMM_WORLD, PETSC_ERR_ARG_OUTOFRANGE, "-dim must be 2 or 3, got %" PetscInt_FMT, dim);
  PetscCheck(n >= 2 && n % 2 == 0, PETSC_COMM_WORLD, PETSC_ERR_ARG_OUTOFRANGE,
             "-n must be even and >= 2 (the DCDM network pools by 2), got %" PetscInt_FMT, n);
  PetscCheck(count >= 0, PETSC_COMM_WORLD, PETSC_ERR_ARG_OUTOFRANGE, "-nobstacles must be >= 0");

  DM da;
  if (dim == 2) {
    PetscCall(DMDACreate2d(PETSC_COMM_WORLD, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DMDA_STENCIL_STAR, n, n, PETSC_DECIDE,
                           PETSC_DECIDE, 1, 1, nullptr, nullptr, &da));
  } else {
    PetscCall(DMDACreate3d(PETSC_COMM_WORLD, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DMDA_STENCIL_STAR, n, n,
                           n, PETSC_DECIDE, PETSC_DECIDE, PETSC_DECIDE, 1, 1, nullptr, nullptr, nullptr, &da));
  }
  PetscCall(DMSetFromOptions(da));
  PetscCall(DMSetUp(da));
  Mat A;
  Vec b, x, r;
  PetscCall(DMCreateMatrix(da, &A));
  PetscCall(DMCreateGlobalVector(da, &b));
  PetscCall(VecDuplicate(b, &x));
  PetscCall(VecDuplicate(b, &r));
  KSP ksp;
  PetscCall(KSPCreate(PETSC_COMM_WORLD, &ksp));
  PetscCall(KSPSetDM(ksp, da));
  PetscCall(KSPSetDMActive(ksp, PETSC_FALSE));
  PetscCall(KSPSetFromOptions(ksp));

  PetscInt total_its = 0, diverged_frame = -1;
  KSPConvergedReason diverged_reason = KSP_CONVERGED_ITERATING;
  PetscLogDouble total_setup = 0, total_solve = 0;
  for (PetscInt f = 0; f < frames; ++f) {
    scene::Obstacle o;
    o.shape = shape;
    o.radius = radius;
    o.surface = surface;
    scene::configure(o, (int)dim, (int)count, (unsigned)scene_seed);
    if (o.shape == "random") {
      o.shift = speed * f;  // every shape moves
    } else if (o.shape == "plume") {
      o.cx = 0.45 + speed * f;  // the sphere sits in the plume rising at x = 0.5
      o.cy = 0.6;
    } else {
      o.cx = 0.3 + speed * f;  // the main sphere/box moves; the extra spheres stay
    }
    PetscInt enclosed = 0;
    PetscCall(scene::assemble(da, o, A, &enclosed));
    if (enclosed > 0)
      PetscCall(PetscPrintf(PETSC_COMM_WORLD, "scene: frame %" PetscInt_FMT ": %" PetscInt_FMT " enclosed fluid cells made solid\n",
                            f, enclosed));
    PetscCall(scene::divergence_rhs(da, o, (unsigned)(seed * 1000 + f), b));
    PetscCall(KSPSetOperators(ksp, A, A));
    if (save[0] && f == 0) {  // the first frame's A and b, for `physml solve`
      PetscViewer v;
      PetscCall(PetscViewerBinaryOpen(PETSC_COMM_WORLD, save, FILE_MODE_WRITE, &v));
      PetscCall(MatView(A, v));
      PetscCall(VecView(b, v));
      PetscCall(PetscViewerDestroy(&v));
    }
    PetscLogDouble t0, t1, t2;
    PetscCall(PetscTime(&t0));
    PetscCall(KSPSetUp(ksp));
    PetscCall(PetscTime(&t1));
    PetscCall(KSPSolve(ksp, b, x));
    PetscCall(PetscTime(&t2));
    PetscInt its;
    KSPConvergedReason reason;
    PetscReal rn, bn;
    PetscCall(KSPGetIterationNumber(ksp, &its));
    PetscCall(KSPGetConvergedReason(ksp, &reason));
    PetscCall(MatMult(A, x, r));
    PetscCall(VecAYPX(r, -1.0, b));
    PetscCall(VecNorm(r, NORM_2, &rn));
    PetscCall(VecNorm(b, NORM_2, &bn));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "frame %" PetscInt_FMT " its %" PetscInt_FMT " setup %.4f solve %.4f reason %s relres %.3e\n",
                          f, its, t1 - t0, t2 - t1, KSPConvergedReasons[reason], (double)(rn / bn)));
    if (reason < 0 && diverged_frame < 0) {
      diverged_frame = f;
      diverged_reason = reason;
    }
    total_its += its;
    total_setup += t1 - t0;
    total_solve += t2 - t1;
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "summary frames %" PetscInt_FMT " mean_its %.1f mean_setup %.4f mean_solve %.4f\n",
                        frames, (double)total_its / frames, total_setup / frames, total_solve / frames));
  PetscCheck(diverged_frame < 0, PETSC_COMM_WORLD, PETSC_ERR_NOT_CONVERGED,
             "the solve of frame %" PetscInt_FMT " diverged (%s)", diverged_frame, KSPConvergedReasons[diverged_reason]);
  PetscCall(KSPDestroy(&ksp));
  PetscCall(VecDestroy(&r));
  PetscCall(VecDestroy(&x));
  PetscCall(VecDestroy(&b));
  PetscCall(MatDestroy(&A));
  PetscCall(DMDestroy(&da));
  PetscCall(PetscFinalize());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // A PETSc error code as the exit status; codes that would wrap to 0 modulo 256 give 1.
  const PetscErrorCode ierr = run(argc, argv);
  return ierr == 0 ? 0 : (ierr % 256 != 0 ? static_cast<int>(ierr % 256) : 1);
}
