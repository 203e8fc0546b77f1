#pragma once
/// \file torchscript.hpp
/// Reading TorchScript archives (torch.jit.save / torch::jit::Module::save), the one place
/// PhysML calls torch::jit::load: embed::Model::load uses it, and fuzz/fuzz_torchscript checks
/// its contract. Includes LibTorch's jit Module header: include it only where a Module is used.

#include <c10/core/Device.h>
#include <torch/csrc/jit/api/module.h>

#include <string>

namespace physml::io {

/// The TorchScript module in `path`, its tensors on `device`. Throws physml::Error naming the
/// path and LibTorch's reason for a file that does not exist or that LibTorch cannot load (not
/// a zip archive, a damaged archive, a pickle or code it cannot read): LibTorch's own exception
/// types (c10::Error, torch::jit::ErrorReport, std::runtime_error ...) do not escape.
torch::jit::Module load_torchscript(const std::string& path, c10::Device device = c10::Device(c10::kCPU));

}  // namespace physml::io
