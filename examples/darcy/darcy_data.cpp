// Writes a Darcy Dataset file (inputs: coefficient a, outputs: solution u) for the MgNO/FNO
// comparison, with the generator of physml/simulators/darcy.hpp.
//
//   ./darcy_data -preset smooth -solve_resolution 421 -subsample 5 -train 1000 -valid 100 -test 100
//                -output darcy_smooth85.h5
//
// -solve_resolution 421 -subsample 5 is the published protocol (solve on 421^2, keep every 5th
// vertex: 85^2); -solve_resolution 85 -subsample 1 solves directly on the coarse grid (cheaper;
// the default here for this machine's budget).
#include "physml/core/environment.hpp"
#include "physml/core/error.hpp"
#include "physml/core/log.hpp"
#include "physml/core/options.hpp"
#include "physml/core/progress.hpp"
#include "physml/io/dataset.hpp"
#include "physml/simulators/darcy.hpp"

#include <torch/torch.h>

#include <cstdio>
#include <sstream>

int main(int argc, char** argv) {
  try {
    physml::Environment env(argc, argv);
    physml::Options opt;
    const auto preset = opt.get_choice("preset", {"smooth", "rough"}, "smooth");
    auto d = preset == "smooth" ? physml::simulators::DarcyOptions::smooth() : physml::simulators::DarcyOptions::rough();
    d.resolution = opt.get_int("solve_resolution", 85);
    const auto r = opt.get_int("subsample", 1);
    const auto seed = static_cast<std::uint64_t>(opt.get_int("seed", 1));
    const auto output = opt.get_string("output", "darcy_" + preset + ".h5");
    physml::io::DatasetInfo info;
    info.generator = "darcy";
    info.seed = static_cast<std::int64_t>(seed);
    info.split_sizes = {{"train", opt.get_int("train", 200)}, {"valid", opt.get_int("valid", 50)},
                        {"test", opt.get_int("test", 50)}};
    // Vertex grids keep the corners (421 -> 85 with r = 5); -cell_grid takes every r-th point of
    // an n-point grid with n divisible by r (MgNO rough: 512 -> 256 with r = 2).
    const bool cell = opt.get_bool("cell_grid", false);
    PHYSML_CHECK(cell ? d.resolution % r == 0 : (d.resolution - 1) % r == 0, "-subsample ", r, " must divide ",
                 cell ? "solve_resolution" : "solve_resolution - 1", " (", d.resolution, ")");
    const auto s = cell ? d.resolution / r : (d.resolution - 1) / r + 1;
    auto down = [&](const at::Tensor& f) {
      return cell ? physml::simulators::downsample_stride(f, r) : physml::simulators::downsample_vertex(f, r);
    };
    info.input_shape = {1, s, s};
    info.output_shape = {1, s, s};
    std::ostringstream params;
    params << "{\"preset\":\"" << preset << "\",\"solve_resolution\":" << d.resolution << ",\"subsample\":" << r << ",\"cell_grid\":" << (cell ? "true" : "false")
           << ",\"alpha\":" << d.alpha << ",\"tau\":" << d.tau << ",\"high\":" << d.high << ",\"low\":" << d.low << "}";
    info.parameters_json = params.str();
    info.grid_json = "{\"points\":[" + std::to_string(s) + "," + std::to_string(s) + "],\"extent\":[0,1,0,1]}";
    physml::simulators::DarcyGenerator gen(d);  // reads the KSP options (-darcy_*)
    physml::check_no_unused_options();
    auto writer = physml::io::DatasetWriter::open(output, info);
    std::uint64_t index = 0;
    for (const auto& [split, count] : info.split_sizes) {
      physml::Progress progress("darcy " + split, count);
      for (std::int64_t i = 0; i < count; ++i, ++index) {
        if (writer.has_sample(split, i)) {
          progress.advance();
          continue;
        }
        auto sample = gen.generate(seed, index);
        auto a = down(sample.coefficient).unsqueeze(0);
        auto u = down(sample.solution).unsqueeze(0);
        writer.write_sample(split, i, a, u);
        progress.advance();
      }
    }
    writer.finish();
    std::printf("wrote %s (%lld x %lld grid)\n", output.c_str(), static_cast<long long>(s), static_cast<long long>(s));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "darcy_data: error: %s\n", e.what());
    return 1;
  }
}
