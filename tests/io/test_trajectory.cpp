// Trajectory files: round trip, resume after the last frame, refused settings, bad frames.
#include "physml/io/trajectory.hpp"
#include "test_util.hpp"

#include <torch/torch.h>

#include <filesystem>

using physml::io::TrajectoryInfo;
using physml::io::TrajectoryReader;
using physml::io::TrajectoryWriter;

namespace {

TrajectoryInfo small_info() {
  TrajectoryInfo i;
  i.parameters_json = R"({"dt":0.001})";
  i.particles = 5;
  i.frames = 4;
  i.frame_dt = 0.5;
  i.fields = {{"positions", {2}}, {"F", {2, 2}}};
  i.dtype = torch::kDouble;
  return i;
}

std::map<std::string, at::Tensor> frame(int k) {
  return {{"positions", torch::full({5, 2}, 1.0 + k, torch::kDouble)},
          {"F", torch::eye(2, torch::kDouble).expand({5, 2, 2}) * (1.0 + 0.1 * k)}};
}

}  // namespace

TEST(Trajectory, RoundTripAndResumeAfterTheLastWrittenFrame) {
  const auto dir = physml::test::scratch_dir();
  const auto path = (dir / "t.h5").string();
  {
    auto w = TrajectoryWriter::open(path, small_info());
    EXPECT_EQ(w.frames_written(), 0);
    w.write_particles({{"mass", torch::arange(5, torch::kDouble)}});
    w.write_frame(0, 0.0, frame(0), {{"x", torch::full({5, 2}, 7.0, torch::kDouble)}});
    w.write_frame(1, 0.5, frame(1), {{"x", torch::full({5, 2}, 8.0, torch::kDouble)}});
    EXPECT_THROW_MSG(w.finish(), "incomplete: 2 of 4 frames");
  }  // closed: the partial file stays
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_THROW_MSG(TrajectoryReader::open(path), "a .partial file exists");
  {
    auto w = TrajectoryWriter::open(path, small_info());
    EXPECT_EQ(w.frames_written(), 2);
    EXPECT_TRUE(torch::equal(w.resume_state().at("x"), torch::full({5, 2}, 8.0, torch::kDouble)));
    EXPECT_TRUE(torch::equal(w.particles().at("mass"), torch::arange(5, torch::kDouble)));
    EXPECT_THROW_MSG(w.write_frame(3, 1.5, frame(3)), "frame 3 written out of order (next is 2)");
    w.write_frame(2, 1.0, frame(2));
    w.write_frame(3, 1.5, frame(3));
    w.finish();
  }
  auto r = TrajectoryReader::open(path);
  EXPECT_EQ(r.info().frames, 4);
  EXPECT_EQ(r.info().fields, small_info().fields);
  EXPECT_TRUE(torch::equal(r.times(), torch::tensor({0.0, 0.5, 1.0, 1.5}, torch::kDouble)));
  auto x = r.read("positions", 1, 3);
  EXPECT_EQ(x.sizes(), (std::vector<int64_t>{2, 5, 2}));
  EXPECT_TRUE(torch::equal(x[0], frame(1).at("positions")));
  EXPECT_TRUE(torch::equal(x[1], frame(2).at("positions")));
  EXPECT_TRUE(torch::equal(r.read("F", 3, 4)[0], frame(3).at("F")));
  EXPECT_THROW_MSG(r.read("velocities", 0, 1), "has no field 'velocities'; its fields are F, positions");
  EXPECT_THROW_MSG(r.read("F", 2, 5), "out of range");
  // Reopening a finished file with the same settings: nothing to do; other settings: refused.
  EXPECT_TRUE(TrajectoryWriter::open(path, small_info()).already_complete());
  auto other = small_info();
  other.frames = 6;
  EXPECT_THROW_MSG(TrajectoryWriter::open(path, other), "frames: 4 in the file, 6 requested");
}

TEST(Trajectory, BadFramesAreRefusedNamingWhatIsWrong) {
  const auto dir = physml::test::scratch_dir();
  auto w = TrajectoryWriter::open((dir / "b.h5").string(), small_info());
  auto f = frame(0);
  f["positions"] = torch::zeros({5, 3}, torch::kDouble);
  EXPECT_THROW_MSG(w.write_frame(0, 0.0, f), "field 'positions' of frame 0 has shape [5, 3], expected [5, 2]");
  f = frame(0);
  f["F"][2][0][0] = std::nan("");
  EXPECT_THROW_MSG(w.write_frame(0, 0.0, f), "field 'F' of frame 0 contains NaN or Inf");
  f = frame(0);
  f.erase("F");
  EXPECT_THROW_MSG(w.write_frame(0, 0.0, f), "frame 0 lacks field 'F'");
  EXPECT_EQ(w.frames_written(), 0);
  EXPECT_THROW_MSG(w.write_particles({{"mass", torch::ones({4})}}), "particle constant 'mass' must be [5, ...]");
}
