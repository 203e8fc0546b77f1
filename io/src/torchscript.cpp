#include "physml/io/torchscript.hpp"

#include "physml/core/error.hpp"

#include <torch/script.h>

#include <filesystem>

namespace physml::io {

torch::jit::Module load_torchscript(const std::string& path, c10::Device device) {
  PHYSML_CHECK(std::filesystem::is_regular_file(path), "TorchScript model '", path,
               "' does not exist (or is not a file)");
  try {
    return torch::jit::load(path, device);
  } catch (const Error&) {
    throw;
  } catch (const c10::Error& e) {
    PHYSML_THROW("'", path, "' is not a TorchScript model LibTorch can load: ", e.what_without_backtrace());
  } catch (const std::exception& e) {  // the archive reader's and the unpickler's other errors
    PHYSML_THROW("'", path, "' is not a TorchScript model LibTorch can load: ", e.what());
  }
}

}  // namespace physml::io
