#pragma once
/// \file dcdm_train.hpp
/// Unsupervised training of the DCDM network (Kaneda et al. 2023, the loss of src/train.py in their code):
/// minimize mean_b ‖b − (qᵀb / qᵀAq) A q‖², q = f(b), over Ritz-vector right-hand sides b
/// of one fixed matrix A. DCDMTask is the objective; train::Trainer (trainer.hpp) runs it:
///
///     auto d = train::load_ritz_dataset("ritz.h5");
///     train::DCDMTask task(d.b, d.A, d.grid, d.mask);
///     train::Trainer(net, train::dcdm_trainer_options().output_dir("run")).fit(task);

#include "physml/operators/dcdm_net.hpp"
#include "physml/train/trainer.hpp"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace physml {
class Options;
}

namespace physml::train {

/// The paper's training settings (Kaneda et al. 2023: Adam, lr 1e-4, batch 10, no weight
/// decay, constant learning rate) as TrainerOptions, 10 epochs: the defaults of DCDM training
/// (`physml train -model dcdm`, examples/dcdm_poisson/dcdm_train) before set_from_options.
TrainerOptions dcdm_trainer_options();

/// Options of a DCDMTask.
struct DCDMTaskOptions {
  /// Last fraction of the right-hand sides held out for validation, in [0, 1).
  TORCH_ARG(double, valid_fraction) = 0.1;
  /// Held-out solves per validation (-dcdm_valid_solves): right-hand sides of the training
  /// matrix (dcdm_validation_rhs) solved by DCDM with the network after every epoch; their
  /// mean iteration count is the metric "valid_its" and the best.h5 criterion. 0 = off: the
  /// criterion is the Ritz "valid_loss" (which does not predict the solve: docs/results-dcdm.md).
  TORCH_ARG(std::int64_t, valid_solves) = 0;
  /// Relative residual ‖r‖/‖b‖ a held-out solve must reach (-dcdm_valid_rtol).
  TORCH_ARG(double, valid_rtol) = 1e-6;
  /// Iteration cap of a held-out solve (-dcdm_valid_max_its); a solve that does not converge
  /// counts as this many iterations.
  TORCH_ARG(std::int64_t, valid_max_its) = 300;
  /// Seed of the held-out right-hand sides (-dcdm_valid_seed), independent of the training
  /// seed so that runs of different seeds are judged on the same problems.
  TORCH_ARG(std::uint64_t, valid_seed) = 0;

public:
  /// Read -valid_fraction, -dcdm_valid_solves, -dcdm_valid_rtol, -dcdm_valid_max_its and
  /// -dcdm_valid_seed under the prefix of `options`; the current values are the defaults.
  DCDMTaskOptions& set_from_options(const Options& options);
};

/// The unsupervised DCDM objective as a TrainingTask: for right-hand sides b [N, n] (unit
/// norm) of one sparse matrix A [n, n] on `grid` = {nx, ny(, nz)}, the loss of a batch is
/// operators::dcdm_loss(q, b, A·) with q = f(b) (masked: q = 0 in solid cells when a mask
/// [n] (1 fluid, 0 solid) is given; a mask-channel net requires it). The first
/// (1 - valid_fraction) N right-hand sides train; the rest give the metric "valid_loss"
/// (evaluate_dcdm). With valid_solves > 0 the metric "valid_its" is the mean number of DCDM
/// iterations (dcdm_solve_batch with the network, k = 2, no safeguard) to reach valid_rtol on
/// valid_solves right-hand sides dcdm_validation_rhs(grid, mask, valid_seed), and it is the
/// best.h5 criterion; otherwise "valid_loss" is. The model must be an
/// operators::DCDMNetImpl of the grid's dimension.
class DCDMTask : public TrainingTask {
public:
  /// Throws physml::Error for b, A or mask shapes that do not fit the grid, NaN/Inf in b, or
  /// no training samples left after the validation split.
  DCDMTask(const at::Tensor& b, const at::Tensor& A, std::vector<int64_t> grid, const at::Tensor& mask = {},
           DCDMTaskOptions options = {});
  std::int64_t size() const override { return n_train_; }
  std::int64_t validation_size() const { return n_valid_; }
  void prepare(operators::Model& model) override;
  Batch batch(const std::vector<std::int64_t>& indices, std::uint64_t seed) const override;
  at::Tensor loss(operators::Model& model, const Batch& batch) override;
  std::vector<std::string> metric_names() const override;
  std::map<std::string, double> validate(operators::Model& model) override;
  std::string criterion() const override { return valid_rhs_.defined() ? "valid_its" : "valid_loss"; }
  /// The held-out right-hand sides of valid_its [valid_solves, n] (float64; undefined if off).
  const at::Tensor& validation_rhs() const { return valid_rhs_; }

private:
  at::Tensor b_, A_, mask_, A64_, valid_rhs_;
  DCDMTaskOptions options_;
  std::vector<int64_t> grid_;
  std::int64_t n_train_ = 0, n_valid_ = 0;
  operators::DCDMNetImpl* net_ = nullptr;
};

/// Mean DCDM loss of `net` over b [N, n] (no gradients; the net's device), weighted by batch size.
double evaluate_dcdm(operators::DCDMNetImpl& net, const at::Tensor& b, const at::Tensor& A,
                     const std::vector<int64_t>& grid, const at::Tensor& mask = {}, int batch_size = 32);

/// A search direction for dcdm_solve_batch: maps residuals r [batch, n] (float64, rows of
/// unit norm) to raw directions q [batch, n] (any floating dtype; the scale of each row is
/// irrelevant).
using DCDMDirectionFn = std::function<at::Tensor(const at::Tensor&)>;

/// Outcome of dcdm_solve_batch for each right-hand side.
struct DCDMBatchSolve {
  at::Tensor iterations;  ///< [N] int64: first iteration with ‖r‖ ≤ rtol‖b‖, max_its if never
  at::Tensor relres;      ///< [N] float64: ‖r‖/‖b‖ at that iteration (or after max_its)
  at::Tensor x;           ///< [N, n] float64: the iterates
};

/// The DCDM iteration of KSP dcdm (solvers/linear/dcdm.hpp) on tensors, for N right-hand
/// sides at once and without its safeguard: x0 = 0, r = b;  q = f(r/‖r‖);  q ← q − Σ_j
/// (qᵀAp_j / p_jᵀAp_j) p_j over the last k directions (classical Gram–Schmidt);
/// x ← x + (qᵀr/qᵀAq) q;  r ← r − (qᵀr/qᵀAq) A q (recursive residual), stopping each row at
/// ‖r‖ ≤ rtol‖b‖ (PETSc's relative test with x0 = 0). The Krylov arithmetic is float64;
/// `direction` sees only the rows still iterating. A [n, n] sparse COO (or dense) SPD,
/// b [N, n]. Throws physml::Error for NaN/Inf directions or qᵀAq ≤ 0 (A not SPD).
/// With f = identity and k ≥ 1 this is CG; with f(r) = D⁻¹r it is Jacobi-PCG.
DCDMBatchSolve dcdm_solve_batch(const DCDMDirectionFn& direction, const at::Tensor& A, const at::Tensor& b, double rtol,
                                std::int64_t max_its, int k = 2);

/// The DCDM network as a DCDMDirectionFn: q = f(r) in float32 on the net's device (the
/// input r/‖r‖ as KSP dcdm gives it, input scale 1), zero in solid cells of `mask` [n] if
/// given (and the mask as second channel for a mask-channel net). `net` must outlive it.
DCDMDirectionFn dcdm_network_direction(operators::DCDMNetImpl& net, std::vector<int64_t> grid,
                                       const at::Tensor& mask = {});

/// Held-out right-hand sides of a scene [count, n] (float64, unit norm, zero in solid
/// cells of `mask`): smooth random fields b(x) = Σ_{m<6} a_m cos(2π k_m·x + φ_m) at the cell
/// centres x = (i + ½)/n_x of `grid` = {nx, ny(, nz)}, with a_m ~ N(0, 1), integer wave
/// numbers k_m ∈ {1..4}^dim and φ_m ~ U(0, 2π): the family of dcdm_poisson's divergence
/// right-hand sides (few low Fourier modes). A pure function of (grid, mask, count, seed).
at::Tensor dcdm_validation_rhs(const std::vector<int64_t>& grid, const at::Tensor& mask, std::int64_t count,
                               std::uint64_t seed);

/// A DCDM training set: right-hand sides b [N, n] (float32), the matrix A as sparse COO
/// [n, n] (float64), the grid {nx, ny(, nz)} and the fluid mask.
///
/// Stored as a PhysML Dataset file (io/dataset.hpp, generator "dcdm-ritz", one split
/// "train"): inputs[i] = b_i as [1, (nz,) ny, nx], outputs[i] = the fluid(1)/solid(0) mask
/// (the same for every sample; all ones if none), and the matrix in the CSR layout of a
/// physml.linear_system file (/A/row_ptr, /A/col_idx, /A/values, root attributes rows, cols;
/// docs/file-formats.md). load_ritz_dataset throws physml::Error for a missing file, a file
/// that is not such a Dataset, or a missing/inconsistent matrix.
struct RitzDataset {
  at::Tensor b;
  at::Tensor A;
  std::vector<int64_t> grid;
  at::Tensor mask;  ///< [n] float32 (1 fluid, 0 solid)
};
void save_ritz_dataset(const std::string& path, const RitzDataset& data);
RitzDataset load_ritz_dataset(const std::string& path);

}  // namespace physml::train
