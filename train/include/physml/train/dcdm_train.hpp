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

public:
  /// Read -valid_fraction under the prefix of `options`; the current value is the default.
  DCDMTaskOptions& set_from_options(const Options& options);
};

/// The unsupervised DCDM objective as a TrainingTask: for right-hand sides b [N, n] (unit
/// norm) of one sparse matrix A [n, n] on `grid` = {nx, ny(, nz)}, the loss of a batch is
/// operators::dcdm_loss(q, b, A·) with q = f(b) (masked: q = 0 in solid cells when a mask
/// [n] (1 fluid, 0 solid) is given; a mask-channel net requires it). The first
/// (1 - valid_fraction) N right-hand sides train; the rest give the metric "valid_loss"
/// (evaluate_dcdm), the best.h5 criterion. The model must be an operators::DCDMNetImpl of
/// the grid's dimension.
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
  std::vector<std::string> metric_names() const override { return {"valid_loss"}; }
  std::map<std::string, double> validate(operators::Model& model) override;
  std::string criterion() const override { return "valid_loss"; }

private:
  at::Tensor b_, A_, mask_;
  std::vector<int64_t> grid_;
  std::int64_t n_train_ = 0, n_valid_ = 0;
  operators::DCDMNetImpl* net_ = nullptr;
};

/// Mean DCDM loss of `net` over b [N, n] (no gradients; the net's device), weighted by batch size.
double evaluate_dcdm(operators::DCDMNetImpl& net, const at::Tensor& b, const at::Tensor& A,
                     const std::vector<int64_t>& grid, const at::Tensor& mask = {}, int batch_size = 32);

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
