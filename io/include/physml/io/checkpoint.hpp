#pragma once
/// \file checkpoint.hpp
/// PhysML Checkpoint files: a module's parameters and buffers by name, the options that
/// rebuild it, the optimizer state and the training state, in one HDF5 file readable from
/// h5py. Layout (docs/file-formats.md):
///
///     /                 attrs format="physml.checkpoint", format_version=1, physml_version,
///                             torch_version, created, model_type
///     /config           attrs: one string attribute per model option ("channels" = "24")
///     /parameters/<n>   one dataset per module.named_parameters() entry; <n> is the torch
///                       name with its dots kept ("layers.0.weight"), same dtype and shape
///     /buffers/<n>      the same for module.named_buffers() (undefined buffers skipped)
///     /optimizer        uint8 [bytes]: the optimizer state as written by torch::save
///                       (absent when no optimizer was given)
///     /state            attrs: training state (epoch, best_validation_loss, ...)

#include "physml/io/hdf5.hpp"

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <map>
#include <string>

namespace physml::io {

/// The metadata of a Checkpoint file (everything except the tensors).
struct CheckpointInfo {
  std::string model_type;                      ///< registered model type ("mgno", "fno", ...)
  std::map<std::string, std::string> config;   ///< model options, as stored under /config
  Attributes state;                            ///< training state, as stored under /state
  bool has_optimizer = false;                  ///< whether /optimizer is present
};

/// Write a Checkpoint of `m` atomically (temporary file, then rename) to `path`.
/// `config` are the options that rebuild the module (operators::Model::config());
/// `state` is free training state; `optimizer`, if given, is saved with torch::save.
void save_checkpoint(const std::string& path, const torch::nn::Module& m, const std::string& model_type,
                     const std::map<std::string, std::string>& config, const Attributes& state = {},
                     torch::optim::Optimizer* optimizer = nullptr);

/// Read the model type, config and training state of a Checkpoint without its tensors.
CheckpointInfo read_checkpoint_info(const std::string& path);

/// Copies stored tensors into m's parameters/buffers (on their devices); throws naming the
/// first missing/extra/mis-shaped tensor, or a stored dtype of another kind (integer vs
/// floating; floating dtypes are converted). If `optimizer` is given its state is restored
/// (throws if the file has none, or if the stored parameters are of another floating dtype
/// than m's: the moments would stay in the stored one). Nothing in `m` changes unless every
/// check passes.
void load_checkpoint(const std::string& path, torch::nn::Module& m, torch::optim::Optimizer* optimizer = nullptr);

/// All tensors of a Checkpoint by torch name, e.g. {"layers.0.weight", ...} for parameters
/// and buffers together (for inspection and conversion tools).
std::map<std::string, at::Tensor> read_checkpoint_tensors(const std::string& path);

}  // namespace physml::io
