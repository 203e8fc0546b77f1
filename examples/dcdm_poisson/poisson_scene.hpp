#pragma once
// Pressure-Poisson scenes for the DCDM example, in plain PETSc (no PhysML headers): a
// cell-centred 5/7-point Laplacian on a DMDA (unit spacing, homogeneous Dirichlet walls),
// solid obstacles whose cells are decoupled (row = identity) with Neumann faces towards
// the fluid, and a right-hand side that is the divergence of a random smooth velocity.
#include <petscdmda.h>
#include <petscksp.h>

#include <array>
#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace scene {

struct Obstacle {
  std::string shape = "sphere";  // sphere | box | spheres | none
  double cx = 0.5, cy = 0.5, cz = 0.5, radius = 0.2;
  std::vector<std::array<double, 4>> extra;  // further spheres (x, y, z, r) for "spheres"
};

/// Is the cell with centre (x, y, z) in [0,1]^d inside a solid?
inline bool solid(const Obstacle& o, int dim, double x, double y, double z) {
  if (o.shape == "none") return false;
  auto in_sphere = [&](double cx, double cy, double cz, double r) {
    const double dz = dim == 3 ? z - cz : 0.0;
    return (x - cx) * (x - cx) + (y - cy) * (y - cy) + dz * dz < r * r;
  };
  if (o.shape == "box") {
    return std::abs(x - o.cx) < o.radius && std::abs(y - o.cy) < 0.5 * o.radius &&
           (dim == 2 || std::abs(z - o.cz) < o.radius);
  }
  if (in_sphere(o.cx, o.cy, o.cz, o.radius)) return true;
  for (const auto& s : o.extra)
    if (in_sphere(s[0], s[1], s[2], s[3])) return true;
  return false;
}

/// Assemble A (into `A`, created on first use with the DMDA's preallocation).
inline PetscErrorCode assemble(DM da, const Obstacle& o, Mat A) {
  PetscInt dim, M, N, P, xs, ys, zs, xm, ym, zm;
  PetscFunctionBeginUser;
  PetscCall(DMDAGetInfo(da, &dim, &M, &N, &P, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr));
  PetscCall(DMDAGetCorners(da, &xs, &ys, &zs, &xm, &ym, &zm));
  if (dim == 2) { P = 1; zs = 0; zm = 1; }
  auto is_solid = [&](PetscInt i, PetscInt j, PetscInt k) {
    return solid(o, (int)dim, (i + 0.5) / M, (j + 0.5) / N, dim == 3 ? (k + 0.5) / P : 0.5);
  };
  PetscCall(MatZeroEntries(A));
  for (PetscInt k = zs; k < zs + zm; ++k)
    for (PetscInt j = ys; j < ys + ym; ++j)
      for (PetscInt i = xs; i < xs + xm; ++i) {
        MatStencil row{}, col[7];
        PetscScalar v[7];
        row.i = i; row.j = j; row.k = k;
        if (is_solid(i, j, k)) {
          PetscScalar one = 1.0;
          PetscCall(MatSetValuesStencil(A, 1, &row, 1, &row, &one, INSERT_VALUES));
          continue;
        }
        PetscInt nc = 0;
        double diag = 0;
        const PetscInt nb[6][3] = {{i - 1, j, k}, {i + 1, j, k}, {i, j - 1, k}, {i, j + 1, k}, {i, j, k - 1}, {i, j, k + 1}};
        for (int q = 0; q < 2 * dim; ++q) {
          const PetscInt a = nb[q][0], b = nb[q][1], c = nb[q][2];
          if (a < 0 || a >= M || b < 0 || b >= N || c < 0 || c >= P) { diag += 1.0; continue; }  // Dirichlet wall
          if (is_solid(a, b, c)) continue;                                                   // Neumann at the solid
          diag += 1.0;
          col[nc].i = a; col[nc].j = b; col[nc].k = c; col[nc].c = 0;
          v[nc++] = -1.0;
        }
        col[nc] = row;
        v[nc++] = diag;
        PetscCall(MatSetValuesStencil(A, 1, &row, nc, col, v, INSERT_VALUES));
      }
  PetscCall(MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY));
  PetscCall(MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY));
  PetscFunctionReturn(0);
}

/// b = div u for a random smooth velocity u (a few low Fourier modes per component),
/// zero in solid cells.
inline PetscErrorCode divergence_rhs(DM da, const Obstacle& o, unsigned seed, Vec b) {
  PetscInt dim, M, N, P, xs, ys, zs, xm, ym, zm;
  PetscFunctionBeginUser;
  PetscCall(DMDAGetInfo(da, &dim, &M, &N, &P, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr));
  PetscCall(DMDAGetCorners(da, &xs, &ys, &zs, &xm, &ym, &zm));
  if (dim == 2) { P = 1; zs = 0; zm = 1; }
  std::mt19937 eng(seed);
  std::normal_distribution<double> g;
  std::uniform_int_distribution<int> kdist(1, 4);
  struct Mode { double a; int kx, ky, kz; double ph; };
  std::vector<Mode> modes[3];
  for (int c = 0; c < dim; ++c)
    for (int m = 0; m < 6; ++m) modes[c].push_back({g(eng), kdist(eng), kdist(eng), kdist(eng), 6.283 * g(eng)});
  // d/dx_c of u_c = Σ a sin(2π(k·x) + φ) is Σ a 2π k_c cos(2π(k·x) + φ)
  PetscScalar* a;
  PetscCall(VecGetArray(b, &a));
  PetscInt idx = 0;
  for (PetscInt k = zs; k < zs + zm; ++k)
    for (PetscInt j = ys; j < ys + ym; ++j)
      for (PetscInt i = xs; i < xs + xm; ++i, ++idx) {
        const double x = (i + 0.5) / M, y = (j + 0.5) / N, z = dim == 3 ? (k + 0.5) / P : 0.0;
        double div = 0;
        if (!solid(o, (int)dim, x, y, dim == 3 ? z : 0.5)) {
          for (int c = 0; c < dim; ++c)
            for (const auto& m : modes[c]) {
              const double kc = c == 0 ? m.kx : c == 1 ? m.ky : m.kz;
              div += m.a * 6.283185307 * kc * std::cos(6.283185307 * (m.kx * x + m.ky * y + (dim == 3 ? m.kz * z : 0)) + m.ph);
            }
          div /= double(M) * double(M);  // scaled like the unit-spacing matrix (h² absorbed)
        }
        a[idx] = div;
      }
  PetscCall(VecRestoreArray(b, &a));
  PetscFunctionReturn(0);
}

}  // namespace scene
