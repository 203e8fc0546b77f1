// libFuzzer target: the Trajectory readers on edits of valid files (hdf5_mutator.hpp):
// io::TrajectoryReader (physml train -model gns/giorom/nclaw, physml simulate -reference:
// open, every field of every frame, the times, the per-particle constants) on a finished file,
// and the resume of io::TrajectoryWriter (physml simulate after an interruption: open, resume
// state, constants) on a partial one.
#include "fuzz_common.hpp"
#include "hdf5_mutator.hpp"

#include "physml/io/trajectory.hpp"

#include <torch/torch.h>

#include <filesystem>

namespace {

physml::io::TrajectoryInfo base_info() {
  physml::io::TrajectoryInfo i;
  i.parameters_json = "{\"dt\":0.001}";
  i.grid_json = "{\"type\":\"uniform_grid\",\"dim\":2,\"sizes\":[4,4],\"lower\":[0.0,0.0],\"upper\":[1.0,1.0]}";
  i.particles = 3;
  i.frames = 3;
  i.frame_dt = 0.5;
  i.fields = {{"positions", {2}}, {"F", {2, 2}}};
  i.dtype = torch::kFloat;
  return i;
}

/// A finished file (frames 0..2) and a partial one (frames 0..1 of 3), both with constants
/// and resume states, written once.
const std::string& base_file(bool finished) {
  static const std::string done = physml::fuzz::scratch("base_trajectory.h5");
  static const std::string partial = physml::fuzz::scratch("base_partial_trajectory.h5");
  static const bool written = [] {
    auto write = [](const std::string& path, std::int64_t frames) {
      auto w = physml::io::TrajectoryWriter::open(path, base_info());
      w.write_particles({{"mass", torch::ones({3}, torch::kDouble)},
                         {"volume", torch::full({3}, 0.5, torch::kDouble)},
                         {"material", torch::zeros({3}, torch::kLong)}});
      for (std::int64_t k = 0; k < frames; ++k)
        w.write_frame(k, 0.5 * k,
                      {{"positions", torch::rand({3, 2})}, {"F", torch::eye(2).expand({3, 2, 2}).contiguous()}},
                      {{"x", torch::rand({3, 2}, torch::kDouble)}, {"v", torch::rand({3, 2}, torch::kDouble)}});
      if (frames == base_info().frames) w.finish();
    };
    write(done, 3);
    write(partial, 2);  // left as base_partial_trajectory.h5.partial
    return true;
  }();
  (void)written;
  static const std::string partial_file = partial + ".partial";
  return finished ? done : partial_file;
}

const physml::fuzz::Vocabulary& vocabulary() {
  static const physml::fuzz::Vocabulary v = [] {
    physml::fuzz::Vocabulary v;
    v.objects = {"frames/time", "frames/done", "frames/positions", "frames/F", "frames", "particles/mass",
                 "particles/volume", "particles/material", "particles", "resume0/x", "resume1/x", "resume0/v",
                 "resume0", "resume1"};
    v.keys = {"format", "format_version", "simulator", "parameters", "grid", "particles", "frames", "frame_dt",
              "dtype", "physml_version", "torch_version", "created"};
    v.strings.insert(v.strings.end(), {"physml.trajectory", "mpm", "float64", "{\"dt\":0.001}"});
    return v;
  }();
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  physml::fuzz::start_petsc();
  base_file(true);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider p(data, size);
  const bool finished = p.ConsumeBool();
  // The partial file must sit at <path>.partial for the writer to resume from it.
  const std::string path = physml::fuzz::scratch("case_trajectory.h5");
  const std::string file = finished ? path : path + ".partial";
  std::filesystem::remove(path);
  std::filesystem::remove(path + ".partial");
  std::filesystem::copy_file(base_file(finished), file, std::filesystem::copy_options::overwrite_existing);
  physml::fuzz::expect_physml_errors_only("fuzz_trajectory (editing)", [&] {
    auto f = physml::io::H5File::open(file, physml::io::H5File::Mode::read_write);
    physml::fuzz::mutate(f, p, vocabulary());
  });
  if (finished) {
    physml::fuzz::expect_physml_errors_only("fuzz_trajectory (reader)", [&] {
      const auto r = physml::io::TrajectoryReader::open(path);
      const auto& info = r.info();
      (void)r.times();
      for (const auto& [field, shape] : info.fields) (void)r.read(field, 0, info.frames);
      for (const char* name : {"mass", "volume", "material"}) {
        try {
          (void)r.particle(name);
        } catch (const physml::Error&) {
        }
      }
    });
  } else {
    physml::fuzz::expect_physml_errors_only("fuzz_trajectory (resume)", [&] {
      auto w = physml::io::TrajectoryWriter::open(path, base_info());
      (void)w.frames_written();
      (void)w.resume_state();
      (void)w.particles();
    });
  }
  return 0;
}
