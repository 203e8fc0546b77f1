#pragma once
/// \file dcdm.hpp
/// The Deep Conjugate Direction Method (Kaneda et al., ICML 2023) inside PETSc.
///
/// DCDM iteration (Kaneda et al. 2023, the algorithm as in their code, lib/conjugate_gradient.py), for SPD A:
///   r0 = b − A x0;  repeat:  q = f(r/‖r‖);  q ← q − Σ_{j ∈ last k} (qᵀAp_j / p_jᵀAp_j) p_j;
///   x ← x + (qᵀr / qᵀAq) q;  r ← r − (qᵀr / qᵀAq) A q  (or r = b − A x with true residuals)
/// stopping on ‖r‖ < max(rtol·‖b‖, atol) (PETSc's default test on the unpreconditioned norm).
///
/// It is a real PETSc KSP type: after register_petsc_types() (or loading
/// libphysml_solvers.so with -dll_append, which registers by itself), any PETSc program
/// uses it with  -ksp_type dcdm -ksp_dcdm_model net.h5  and, for PETSc's flexible
/// Krylov methods, with  -ksp_type fcg -ksp_fcg_mmax 2 -ksp_fcg_truncation_type standard
///   -pc_type dcdm -pc_dcdm_model net.h5.
///
/// KSP options (prefix = the KSP's prefix):
///   -ksp_dcdm_model FILE          PhysML Checkpoint of a "dcdm" model (operators::save)
///   -ksp_dcdm_grid nx,ny[,nz]      grid of the unknowns (x fastest); default: the KSP's
///                                  DMDA, else a square/cube of the system size
///   -ksp_dcdm_k K                  A-orthogonalize against the last K directions (2)
///   -ksp_dcdm_true_residual        recompute r = b − A x every iteration (off)
///   -ksp_dcdm_stagnation_window W  no new minimum of ‖r‖ in W iterations = stagnation (10; 0 = off)
///   -ksp_dcdm_safeguard_early_its M  judge the network after its first M iterations (5; 0 = off)
///   -ksp_dcdm_safeguard_early_ratio T  and hand over if its M steps removed less than T times the
///                                  energy-norm error that steepest descent (q = r) would have
///                                  removed from the same iterates; T in (0, 1] (0.5). Costs one
///                                  SpMV in each of the first M iterations. See DCDMSafeguard.
///   -ksp_dcdm_fallback BOOL        on stagnation, an early hand-over or a NaN/Inf network output,
///                                  continue with the KSP's PC (-pc_type, default jacobi) instead
///                                  of stopping (true); the direction history is cleared, so with
///                                  k >= 1 and a linear SPD PC the rest of the solve is PCG from
///                                  the current x. Without fallback the solve stops with
///                                  KSP_DIVERGED_BREAKDOWN (stagnation, early) or KSP_DIVERGED_NANORINF.
///   -ksp_dcdm_check_symmetric BOOL check A = Aᵀ at setup (true)
///   -ksp_dcdm_input_scale none|grid  scale of the network input (none: r/‖r‖ as in the
///                                  paper; grid: r/‖r‖·sqrt(n/n_train), n_train the cells of the
///                                  model's train_grid, so the entries have the size they had in
///                                  training; see NetworkDirection::set_input_scale). Applies to
///                                  the network loaded from -ksp_dcdm_model; a direction set in
///                                  code (ksp_dcdm_set_direction) is used as it was configured
/// PC options: -pc_dcdm_model FILE, -pc_dcdm_grid nx,ny[,nz], -pc_dcdm_input_scale none|grid.
///
/// Files: the direction (dcdm_direction.cpp), the matrix utilities (dcdm_matrix.cpp), the
/// KSP (ksp_dcdm.cpp), the PC (pc_dcdm.cpp); the registration is shared with PC "physml"
/// (registration.cpp, petsc_types.hpp). Any other residual -> correction model is a PC
/// through PC "physml" (pc_physml.hpp).

#include "physml/solvers/linear/operator.hpp"
#include "physml/solvers/linear/petsc_types.hpp"

#include <ATen/core/Tensor.h>
#include <c10/core/TensorOptions.h>
#include <petscksp.h>

#include <memory>
#include <string>
#include <vector>

namespace physml::operators {
class Model;
}

namespace physml::solvers {

/// DCDM's direction as an instance of the one operator interface (operator.hpp): an
/// Operator mapping a residual r to a raw search direction q whose scale is irrelevant (the
/// line search absorbs it). The DCDM network is one; tests use the identity (CG) or an
/// exact solve (one-step convergence). A direction is defined by its input alone, so its
/// sizes default to Operator::any_size (NetworkDirection reports its grid's).
class DirectionOperator : public Operator {
public:
  PetscInt rows() const override { return any_size; }
  PetscInt cols() const override { return any_size; }
  /// q = f(r). r and q are distinct Vecs with the same layout.
  void apply(Vec r, Vec q) override = 0;
  bool linear() const override { return false; }
};

/// The DCDM network as a direction: q = f(r/‖r‖), run in float32 on `device`.
/// r is viewed zero-copy (as_tensor_read), reshaped to [1, 1, (nz,) ny, nx] with
/// grid = {nx, ny(, nz)}; with a mask-channel model, `mask` (same grid, 1 = fluid,
/// 0 = solid) is the second channel. When a mask is set the output is zeroed in solid
/// cells: decoupled solid rows are not unknowns of the pressure problem (their residual
/// stays zero when b is zero there; otherwise the fallback PC handles them). The KSP and
/// PC types set the mask from the matrix (solid_mask_from_matrix). Throws physml::Error
/// if the output has NaN/Inf.
class NetworkDirection : public DirectionOperator {
public:
  NetworkDirection(std::shared_ptr<operators::Model> model, std::vector<int64_t> grid,
                   c10::Device device = c10::Device(c10::kCPU));
  void apply(Vec r, Vec q) override;
  std::string name() const override;
  /// The product of the grid sizes.
  PetscInt rows() const override;
  PetscInt cols() const override { return rows(); }
  /// Set the solid/fluid mask [n] (1 fluid, 0 solid): masks the output, and is the second
  /// input channel of mask-channel models (required for those).
  void set_mask(const at::Tensor& mask);
  /// The network is applied to s·r/‖r‖ (default s = 1, the paper). A trained network is
  /// not scale-equivariant (its biases are not zero), and a unit vector on a grid with n
  /// cells has entries of size n^{-1/2}, so a model trained on n_train cells sees inputs
  /// sqrt(n_train/n) times smaller on a finer grid. s = grid_input_scale() restores the
  /// training size. The output scale does not matter (the line search absorbs it).
  void set_input_scale(double s);
  double input_scale() const { return input_scale_; }
  /// sqrt(n / n_train) for this grid and the model's "train_grid" config entry; throws
  /// physml::Error if the model does not record its training grid.
  double grid_input_scale() const;
  const std::vector<int64_t>& grid() const { return grid_; }
  int model_dim() const { return dim_; }

private:
  std::shared_ptr<operators::Model> model_;
  std::vector<int64_t> grid_;
  c10::Device device_;
  int dim_ = 3;
  bool needs_mask_ = false;
  at::Tensor mask_;
  double input_scale_ = 1.0;
};

/// Load a "dcdm" model once per (path, modification time) and return the cached copy on
/// later calls, so a driver solving every frame loads the file once.
std::shared_ptr<operators::Model> cached_dcdm_model(const std::string& path);
/// How many times cached_dcdm_model actually read a file (for tests and logs).
int dcdm_model_loads();

/// Resolve the grid of the unknowns for a `dim`-dimensional model and a system of size n:
/// `given` (nx,ny[,nz]) if non-empty, else the sizes of a DMDA `dm` (may be null), else
/// a square/cube. Throws physml::Error naming the sizes if nothing fits.
std::vector<int64_t> resolve_dcdm_grid(int dim, PetscInt n, const std::vector<long>& given, DM dm);

/// Fluid(1)/solid(0) mask of a cell-centred pressure matrix: a row without nonzero
/// off-diagonal entries is a decoupled solid cell. Returns [n] float32.
at::Tensor solid_mask_from_matrix(Mat A);

/// A sequential PETSc AIJ matrix as a coalesced sparse COO tensor [n, n] (for the loss).
at::Tensor sparse_from_mat(Mat A, c10::ScalarType dtype = c10::kFloat);

/// Use `dir` for the directions of a KSP of type dcdm (instead of -ksp_dcdm_model).
void ksp_dcdm_set_direction(KSP ksp, std::shared_ptr<DirectionOperator> dir);
/// Number of previous directions to A-orthogonalize against (-ksp_dcdm_k).
void ksp_dcdm_set_k(KSP ksp, int k);
/// Recompute the true residual b − A x every iteration (-ksp_dcdm_true_residual).
void ksp_dcdm_set_true_residual(KSP ksp, bool on);
/// The safeguard of KSP dcdm: what makes it stop trusting the network and hand the solve to
/// the KSP's classical PC. The member defaults are the defaults of the options
/// (-ksp_dcdm_stagnation_window, -ksp_dcdm_fallback, -ksp_dcdm_safeguard_early_its,
/// -ksp_dcdm_safeguard_early_ratio; the header comment above).
///
/// Two rules, checked after every network iteration i (never after the hand-over):
///  - stagnation: no new minimum of ‖r‖ for `window` iterations (i − argmin ≥ window);
///  - early: at i = early_its = M, the energy-norm error the network's steps removed,
///    compared with what steepest descent would have removed from the same iterates:
///      η_M = Σ_{i≤M} (q_iᵀr_{i−1})² / (q_iᵀA q_i)  /  Σ_{i≤M} (r_{i−1}ᵀr_{i−1})² / (r_{i−1}ᵀA r_{i−1}),
///    q_i the A-orthogonalized direction; hand over if η_M < early_ratio. Each term is the
///    exact decrease of ‖e‖²_A = ‖r‖²_{A⁻¹} of one step (exact line search: the step along q
///    removes (qᵀr)²/qᵀAq), so η_M measures the network in the norm DCDM minimizes; the 2-norm
///    of the residual is not monotone under PCG, and a rule on it rejects good solves (Jacobi-PCG
///    on a smooth right-hand side raises ‖r‖ over its first 5 iterations: test
///    DCDMSafeguard.EarlyRuleNeverFiresOnGoodDirections). A direction close to c·A⁻¹r (the
///    network's aim) removes nearly all of ‖e‖²_A, so η ≥ 1; plain CG has η ≥ 1 too (its
///    iterate minimizes the energy over a space holding the steepest-descent step); a random
///    direction has η ≈ 1/n. Measured η_5 (docs/results-dcdm.md): trained DCDM networks 1.25–2.0,
///    ICC(0)/Jacobi-PCG 1.02–1.98, an untrained network 0.115, a random direction < 0.01; the
///    default T = 0.5 hands over a network that removes less than half of what the cheapest
///    direction, q = r, would. Cost: one SpMV (A r) in each of the first M iterations. The
///    stagnation rule cannot catch a network whose residual creeps down a little every
///    iteration (a new minimum each time); this one does, after M network calls.
struct DCDMSafeguard {
  int window = 10;           ///< stagnation window in iterations (0 = off)
  bool fallback = true;      ///< hand over to the KSP's PC (true) or stop with a diverged reason
  int early_its = 5;         ///< M, network iterations before the early judgement (0 = off)
  double early_ratio = 0.5;  ///< T in (0, 1]: smallest acceptable η_M
  /// Throw physml::Error naming the option and the expected range if a value is out of range
  /// (window, early_its >= 0; early_ratio in (0, 1]). `prefix` is the options prefix for the message.
  void validate(const std::string& prefix = "") const;
};
/// Set the whole safeguard (validated: physml::Error naming the field and its range).
void ksp_dcdm_set_safeguard(KSP ksp, const DCDMSafeguard& safeguard);
/// Stagnation window (0 = off) and whether to fall back to the KSP's PC; the early rule keeps
/// its settings.
void ksp_dcdm_set_safeguard(KSP ksp, int window, bool fallback);
/// The safeguard a KSP of type dcdm uses (after KSPSetFromOptions: as the options set it).
DCDMSafeguard ksp_dcdm_safeguard(KSP ksp);
/// Keep every search direction p_i of the next solve (for inspection; costs memory).
void ksp_dcdm_keep_directions(KSP ksp, bool keep);
/// Directions p_1..p_its kept during the last solve (owned by the KSP).
std::vector<Vec> ksp_dcdm_directions(KSP ksp);

/// What happened in the last solve of a KSP of type dcdm.
struct DCDMSolveInfo {
  int fallback_iteration = -1;  ///< first iteration that used the fallback PC, or -1
  /// "stagnation (...)", "early: no residual reduction" or "network output NaN/Inf"
  /// (empty if the network ran to the end)
  std::string fallback_reason;
  int network_applications = 0;
  /// η_M of the early rule, measured at iteration M = early_its (−1 if not reached: rule off,
  /// converged before M, or handed over earlier)
  double early_ratio = -1;
};
DCDMSolveInfo ksp_dcdm_info(KSP ksp);

/// Use `dir` in a PC of type dcdm (instead of -pc_dcdm_model); the PC normalizes
/// nothing itself: NetworkDirection normalizes its input.
void pc_dcdm_set_direction(PC pc, std::shared_ptr<DirectionOperator> dir);

}  // namespace physml::solvers
