#pragma once
// File names of the per-frame outputs (.vtp, .png) of simulate and simulate_learned.
#include <cstdint>
#include <string>

namespace physml::simulators::detail {

/// DIR/mpm_00042.EXT
std::string frame_file(const std::string& dir, std::int64_t k, const char* ext);

}  // namespace physml::simulators::detail
