#pragma once
// Pressure-Poisson scenes for the DCDM example, in plain PETSc (no PhysML headers): a
// cell-centred 5/7-point Laplacian on a DMDA (unit spacing, homogeneous Dirichlet walls),
// solid obstacles whose cells are decoupled (row = identity) with Neumann faces towards
// the fluid, an optional free surface (air cells above it are decoupled too, and a fluid
// face towards air is Dirichlet, p = 0), and a right-hand side that is the divergence of a
// random smooth velocity (or of a rising plume plus a weaker random field).
//
// Scenes (Obstacle::shape):
//   sphere   one sphere (a disc in 2D) of radius r at (cx, cy, cz)
//   box      one box of half-sizes (r, r/2, r) at (cx, cy, cz)
//   spheres  the sphere plus two fixed smaller spheres
//   random   `count` spheres and boxes with seeded random centres and sizes (0.06-0.18)
//   plume    the sphere, with the right-hand side of a plume rising from the bottom wall
//            (y = 0) at x = 0.5 (and z = 0.5) past it
//   none     no obstacle
// Obstacle::shift is added to every x centre (all shapes of "random" move; poisson.cpp
// moves the other scenes through cx, so in "spheres" only the main sphere moves), so a
// sequence of frames changes the matrix every frame. Fluid cells that are cut off from every
// Dirichlet face (a pocket enclosed by solids) would make the fluid block singular (a pure
// Neumann problem); classify() turns them into solid cells.
#include <petscdmda.h>
#include <petscksp.h>

#include <array>
#include <cmath>
#include <deque>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace scene {

/// A solid shape: a sphere of radius h[0], or a box of half-sizes h (x, y, z).
struct Shape {
  bool box = false;
  std::array<double, 3> c{0.5, 0.5, 0.5};
  std::array<double, 3> h{0.2, 0.2, 0.2};
};

struct Obstacle {
  std::string shape = "sphere";  // sphere | box | spheres | random | plume | none
  double cx = 0.5, cy = 0.5, cz = 0.5, radius = 0.2;
  std::vector<std::array<double, 4>> extra;  // further spheres (x, y, z, r) for "spheres"
  std::vector<Shape> shapes;                 // the shapes of "random" (random_shapes)
  double shift = 0.0;                        // added to every x centre (moving obstacles)
  double surface = 1.0;                      // free-surface height in y; >= 1: none
};

inline const std::vector<std::string>& shape_names() {
  static const std::vector<std::string> names = {"sphere", "box", "spheres", "random", "plume", "none"};
  return names;
}

/// Throw std::invalid_argument naming the valid scenes if `shape` is not one of them.
inline void check_shape(const std::string& shape) {
  for (const auto& n : shape_names())
    if (n == shape) return;
  std::string all;
  for (const auto& n : shape_names()) all += (all.empty() ? "" : "|") + n;
  throw std::invalid_argument("unknown obstacle '" + shape + "'; expected " + all);
}

/// `count` spheres and boxes with centres uniform in [0.2, 0.8]^d and sizes in [0.06, 0.18]
/// (boxes: each half-size independently), deterministic in `seed`.
inline std::vector<Shape> random_shapes(int count, unsigned seed, int dim) {
  std::mt19937 eng(seed);
  std::uniform_real_distribution<double> pos(0.2, 0.8), size(0.06, 0.18), coin(0.0, 1.0);
  std::vector<Shape> out;
  for (int s = 0; s < count; ++s) {
    Shape sh;
    sh.box = coin(eng) < 0.5;
    for (int d = 0; d < 3; ++d) sh.c[d] = d < dim ? pos(eng) : 0.5;
    const double r = size(eng);
    sh.h = {r, r, r};
    if (sh.box)
      for (int d = 1; d < dim; ++d) sh.h[d] = size(eng);
    out.push_back(sh);
  }
  return out;
}

/// Is the point (x, y, z) in [0,1]^d inside a solid? (z is ignored in 2D.)
inline bool solid(const Obstacle& o, int dim, double x, double y, double z) {
  if (o.shape == "none") return false;
  auto in_sphere = [&](double cx, double cy, double cz, double r) {
    const double dz = dim == 3 ? z - cz : 0.0;
    return (x - cx) * (x - cx) + (y - cy) * (y - cy) + dz * dz < r * r;
  };
  if (o.shape == "random") {
    for (const auto& s : o.shapes) {
      const double cx = s.c[0] + o.shift;
      if (s.box) {
        if (std::abs(x - cx) < s.h[0] && std::abs(y - s.c[1]) < s.h[1] && (dim == 2 || std::abs(z - s.c[2]) < s.h[2]))
          return true;
      } else if (in_sphere(cx, s.c[1], s.c[2], s.h[0])) {
        return true;
      }
    }
    return false;
  }
  const double cx = o.cx + o.shift;
  if (o.shape == "box") {
    return std::abs(x - cx) < o.radius && std::abs(y - o.cy) < 0.5 * o.radius && (dim == 2 || std::abs(z - o.cz) < o.radius);
  }
  if (in_sphere(cx, o.cy, o.cz, o.radius)) return true;
  for (const auto& s : o.extra)
    if (in_sphere(s[0] + o.shift, s[1], s[2], s[3])) return true;
  return false;
}

enum Cell : unsigned char { kFluid = 0, kSolid = 1, kAir = 2 };

/// The cell types of the whole grid (every rank holds all of it: M·N·P bytes).
struct Cells {
  PetscInt dim = 2, M = 1, N = 1, P = 1;
  std::vector<unsigned char> type;
  unsigned char at(PetscInt i, PetscInt j, PetscInt k) const { return type[(k * N + j) * M + i]; }
  bool inside(PetscInt i, PetscInt j, PetscInt k) const { return i >= 0 && i < M && j >= 0 && j < N && k >= 0 && k < P; }
  PetscInt enclosed = 0;  ///< fluid cells of enclosed pockets that were made solid
};

/// Classify every cell (centre ((i+½)/M, (j+½)/N, (k+½)/P)): air above the free surface,
/// solid inside an obstacle, else fluid; then fluid cells not connected (through fluid
/// faces) to a Dirichlet face — the domain walls or the free surface — become solid.
inline Cells classify(PetscInt dim, PetscInt M, PetscInt N, PetscInt P, const Obstacle& o) {
  Cells c;
  c.dim = dim;
  c.M = M;
  c.N = N;
  c.P = dim == 3 ? P : 1;
  c.type.assign(static_cast<size_t>(c.M * c.N * c.P), kFluid);
  for (PetscInt k = 0; k < c.P; ++k)
    for (PetscInt j = 0; j < c.N; ++j)
      for (PetscInt i = 0; i < c.M; ++i) {
        const double x = (i + 0.5) / M, y = (j + 0.5) / N, z = dim == 3 ? (k + 0.5) / P : 0.5;
        auto& t = c.type[(k * c.N + j) * c.M + i];
        if (y > o.surface) t = kAir;
        else if (solid(o, (int)dim, x, y, z)) t = kSolid;
      }
  // Flood fill from the fluid cells with a Dirichlet face.
  std::vector<unsigned char> reached(c.type.size(), 0);
  std::deque<PetscInt> queue;
  const PetscInt nb[6][3] = {{-1, 0, 0}, {1, 0, 0}, {0, -1, 0}, {0, 1, 0}, {0, 0, -1}, {0, 0, 1}};
  for (PetscInt k = 0; k < c.P; ++k)
    for (PetscInt j = 0; j < c.N; ++j)
      for (PetscInt i = 0; i < c.M; ++i) {
        if (c.at(i, j, k) != kFluid) continue;
        bool dirichlet = false;
        for (int q = 0; q < 2 * dim; ++q) {
          const PetscInt a = i + nb[q][0], b = j + nb[q][1], d = k + nb[q][2];
          if (!c.inside(a, b, d) || c.at(a, b, d) == kAir) dirichlet = true;
        }
        if (dirichlet) {
          const PetscInt id = (k * c.N + j) * c.M + i;
          reached[id] = 1;
          queue.push_back(id);
        }
      }
  while (!queue.empty()) {
    const PetscInt id = queue.front();
    queue.pop_front();
    const PetscInt i = id % c.M, j = (id / c.M) % c.N, k = id / (c.M * c.N);
    for (int q = 0; q < 2 * dim; ++q) {
      const PetscInt a = i + nb[q][0], b = j + nb[q][1], d = k + nb[q][2];
      if (!c.inside(a, b, d)) continue;
      const PetscInt nid = (d * c.N + b) * c.M + a;
      if (c.type[nid] == kFluid && !reached[nid]) {
        reached[nid] = 1;
        queue.push_back(nid);
      }
    }
  }
  for (size_t id = 0; id < c.type.size(); ++id) {
    if (c.type[id] == kFluid && !reached[id]) {
      c.type[id] = kSolid;
      ++c.enclosed;
    }
  }
  return c;
}

inline PetscErrorCode grid_info(DM da, PetscInt* dim, PetscInt* M, PetscInt* N, PetscInt* P) {
  PetscFunctionBeginUser;
  PetscCall(DMDAGetInfo(da, dim, M, N, P, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr));
  if (*dim == 2) *P = 1;
  PetscFunctionReturn(0);
}

/// Assemble A (into `A`, created with the DMDA's preallocation): fluid rows get −1 per fluid
/// neighbour and a diagonal counting fluid neighbours, walls and air faces (Dirichlet);
/// solid and air rows are identity rows. If `enclosed` is given it receives the number of
/// enclosed fluid cells made solid.
inline PetscErrorCode assemble(DM da, const Obstacle& o, Mat A, PetscInt* enclosed = nullptr) {
  PetscInt dim, M, N, P, xs, ys, zs, xm, ym, zm;
  PetscFunctionBeginUser;
  PetscCall(grid_info(da, &dim, &M, &N, &P));
  PetscCall(DMDAGetCorners(da, &xs, &ys, &zs, &xm, &ym, &zm));
  if (dim == 2) { zs = 0; zm = 1; }
  const Cells cells = classify(dim, M, N, P, o);
  if (enclosed) *enclosed = cells.enclosed;
  PetscCall(MatZeroEntries(A));
  for (PetscInt k = zs; k < zs + zm; ++k)
    for (PetscInt j = ys; j < ys + ym; ++j)
      for (PetscInt i = xs; i < xs + xm; ++i) {
        MatStencil row{}, col[7];
        PetscScalar v[7];
        row.i = i; row.j = j; row.k = k;
        if (cells.at(i, j, k) != kFluid) {
          PetscScalar one = 1.0;
          PetscCall(MatSetValuesStencil(A, 1, &row, 1, &row, &one, INSERT_VALUES));
          continue;
        }
        PetscInt nc = 0;
        double diag = 0;
        const PetscInt nb[6][3] = {{i - 1, j, k}, {i + 1, j, k}, {i, j - 1, k}, {i, j + 1, k}, {i, j, k - 1}, {i, j, k + 1}};
        for (int q = 0; q < 2 * dim; ++q) {
          const PetscInt a = nb[q][0], b = nb[q][1], c = nb[q][2];
          if (!cells.inside(a, b, c)) { diag += 1.0; continue; }  // Dirichlet wall
          const unsigned char t = cells.at(a, b, c);
          if (t == kSolid) continue;                             // Neumann at the solid
          diag += 1.0;
          if (t == kAir) continue;                               // Dirichlet p = 0 at the free surface
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

/// The plume's velocity: vertical, u_y = exp(−d²/σ(y)²) with d the distance from the axis
/// x = 0.5 (and z = 0.5 in 3D) and σ(y) = 0.08 (1 + 2y), a jet widening as it rises from the
/// bottom wall. Its divergence is ∂u_y/∂y = u_y · 2 d² σ'(y) / σ(y)³, σ' = 0.16.
inline double plume_velocity(int dim, double x, double y, double z) {
  const double d2 = (x - 0.5) * (x - 0.5) + (dim == 3 ? (z - 0.5) * (z - 0.5) : 0.0);
  const double s = 0.08 * (1.0 + 2.0 * y);
  return std::exp(-d2 / (s * s));
}
inline double plume_divergence(int dim, double x, double y, double z) {
  const double d2 = (x - 0.5) * (x - 0.5) + (dim == 3 ? (z - 0.5) * (z - 0.5) : 0.0);
  const double s = 0.08 * (1.0 + 2.0 * y);
  return plume_velocity(dim, x, y, z) * 2.0 * d2 * 0.16 / (s * s * s);
}

/// b = div u for a random smooth velocity u (a few low Fourier modes per component), zero
/// in solid and air cells, scaled by 1/M² like the unit-spacing matrix. For "plume",
/// u = plume + 0.2 · random.
inline PetscErrorCode divergence_rhs(DM da, const Obstacle& o, unsigned seed, Vec b) {
  PetscInt dim, M, N, P, xs, ys, zs, xm, ym, zm;
  PetscFunctionBeginUser;
  PetscCall(grid_info(da, &dim, &M, &N, &P));
  PetscCall(DMDAGetCorners(da, &xs, &ys, &zs, &xm, &ym, &zm));
  if (dim == 2) { zs = 0; zm = 1; }
  const Cells cells = classify(dim, M, N, P, o);
  std::mt19937 eng(seed);
  std::normal_distribution<double> g;
  std::uniform_int_distribution<int> kdist(1, 4);
  struct Mode { double a; int kx, ky, kz; double ph; };
  std::vector<Mode> modes[3];
  for (int c = 0; c < dim; ++c)
    for (int m = 0; m < 6; ++m) modes[c].push_back({g(eng), kdist(eng), kdist(eng), kdist(eng), 6.283 * g(eng)});
  const bool plume = o.shape == "plume";
  // d/dx_c of u_c = Σ a sin(2π(k·x) + φ) is Σ a 2π k_c cos(2π(k·x) + φ)
  PetscScalar* a;
  PetscCall(VecGetArray(b, &a));
  PetscInt idx = 0;
  for (PetscInt k = zs; k < zs + zm; ++k)
    for (PetscInt j = ys; j < ys + ym; ++j)
      for (PetscInt i = xs; i < xs + xm; ++i, ++idx) {
        const double x = (i + 0.5) / M, y = (j + 0.5) / N, z = dim == 3 ? (k + 0.5) / P : 0.0;
        double div = 0;
        if (cells.at(i, j, k) == kFluid) {
          for (int c = 0; c < dim; ++c)
            for (const auto& m : modes[c]) {
              const double kc = c == 0 ? m.kx : c == 1 ? m.ky : m.kz;
              div += m.a * 6.283185307 * kc * std::cos(6.283185307 * (m.kx * x + m.ky * y + (dim == 3 ? m.kz * z : 0)) + m.ph);
            }
          if (plume) div = 0.2 * div + plume_divergence((int)dim, x, y, z);
          div /= double(M) * double(M);  // scaled like the unit-spacing matrix (h² absorbed)
        }
        a[idx] = div;
      }
  PetscCall(VecRestoreArray(b, &a));
  PetscFunctionReturn(0);
}

/// Set up `o` for a scene name: the fixed extra spheres of "spheres", the random shapes
/// of "random" (`count`, `seed`), the plume's obstacle position.
inline void configure(Obstacle& o, int dim, int count, unsigned seed) {
  check_shape(o.shape);
  if (o.shape == "spheres") o.extra = {{0.7, 0.3, 0.6, 0.12}, {0.6, 0.75, 0.3, 0.1}};
  if (o.shape == "random") o.shapes = random_shapes(count, seed, dim);
}

}  // namespace scene
