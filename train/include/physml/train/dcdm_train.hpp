#pragma once
/// \file dcdm_train.hpp
/// Unsupervised training of the DCDM network (Kaneda et al. 2023, the loss of src/train.py in their code):
/// minimize mean_b ‖b − (qᵀb / qᵀAq) A q‖², q = f(b), over Ritz-vector right-hand sides b
/// of one fixed matrix A, with Adam.

#include "physml/operators/dcdm_net.hpp"

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <string>
#include <vector>

namespace physml {
class Options;
}

namespace physml::train {

/// Settings of train_dcdm (paper: Adam, lr 1e-4, batch 10).
struct DCDMTrainOptions {
  int epochs = 10;
  int batch_size = 10;
  double lr = 1e-4;
  double valid_fraction = 0.1;  ///< last fraction of the samples held out for validation
  std::uint64_t seed = 0;       ///< shuffling and initialization
  std::string checkpoint;       ///< if non-empty, operators::save here after every epoch
  c10::Device device = c10::Device(c10::kCPU);
  bool progress = true;

  /// Read -epochs, -batch_size, -lr, -valid_fraction, -seed and -device under the prefix of
  /// `options`; the current values are the defaults.
  DCDMTrainOptions& set_from_options(const Options& options);
};

/// Per-epoch mean training and validation losses.
struct DCDMTrainHistory {
  std::vector<double> train_loss, valid_loss;
};

/// Train `net` on right-hand sides b [N, n] (unit norm) for the sparse matrix A [n, n]
/// (COO, float32) on `grid` = {nx, ny(, nz)}. `mask` [n] (1 fluid, 0 solid), if given,
/// zeroes q in solid cells exactly as the solver does (and is the second input channel of
/// a mask-channel net, which requires it). Returns the loss history.
DCDMTrainHistory train_dcdm(operators::DCDMNetImpl& net, const at::Tensor& b, const at::Tensor& A,
                            const std::vector<int64_t>& grid, const DCDMTrainOptions& options,
                            const at::Tensor& mask = {});

/// Write `history` as DIR/log.csv (epoch,train_loss,valid_loss; atomically) and DIR/loss.png
/// (log-scale curves; none for an empty history).
void write_dcdm_history(const std::string& dir, const DCDMTrainHistory& history);

/// Mean DCDM loss of `net` over b [N, n] (no gradients).
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
