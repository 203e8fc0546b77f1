// The data generation library: the generator registry, generators reading their own options
// (values, typed parameters metadata, grids), and generate_dataset (content, resume,
// interruption, failed samples, settings mismatch) on a generator with a known answer.
#include "physml/core/interrupt.hpp"
#include "physml/core/options.hpp"
#include "physml/core/options_reader.hpp"
#include "physml/io/dataset.hpp"
#include "physml/simulators/data_generator.hpp"
#include "physml/simulators/generate_dataset.hpp"
#include "test_util.hpp"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <csignal>
#include <filesystem>

namespace sim = physml::simulators;
using physml::Options;

namespace {

using Database = physml::test::OptionsDatabase;

/// Sample i of seed s: input = (s + i) everywhere on an n-point periodic line, output =
/// scale * input; sample `fail_index` fails. The known answer for generate_dataset.
class Affine final : public sim::SampleGenerator {
public:
  std::string name() const override { return "affine-test"; }
  std::string default_prefix() const override { return "affine_"; }
  std::string summary() const override { return "test generator"; }
  physml::mesh::Grid grid() const override { return physml::mesh::Grid(physml::mesh::GridOptions({n_}).periodic(0)); }
  sim::FieldName input_name() const override { return {"x", "x"}; }
  sim::FieldName output_name() const override { return {"y", "y"}; }
  int calls = 0;

protected:
  void read_options(physml::OptionsReader& r) override {
    n_ = r.integer("points", 4, "points", 1);
    scale_ = positive(r, "scale", 2.0, "output scale");
    fail_index_ = r.integer("fail_index", -1, "sample that fails", -1);
    std_fail_index_ = r.integer("std_fail_index", -1, "sample that throws a non-PhysML exception", -1);
    record("equation", "y = scale x");
  }
  std::pair<at::Tensor, at::Tensor> solve(std::uint64_t seed, std::uint64_t index) override {
    ++calls;
    PHYSML_CHECK(static_cast<long>(index) != fail_index_, "sample ", index, " diverged on purpose");
    if (static_cast<long>(index) == std_fail_index_) throw std::runtime_error("a library below PhysML failed");
    auto x = torch::full({n_}, static_cast<double>(seed + index), torch::kDouble);
    return {x, scale_ * x};
  }

private:
  long n_ = 4, fail_index_ = -1, std_fail_index_ = -1;
  double scale_ = 2.0;
};

sim::GenerateOptions quiet(const std::filesystem::path& out) {
  return sim::GenerateOptions().output(out.string()).ntrain(3).ntest(2).nvalid(1).seed(10).dtype("float64").progress(false);
}

}  // namespace

TEST(DataGenerator, RegistryListsPhysMLGeneratorsAndRefusesUnknown) {
  const auto names = sim::registered_generators();
  const std::vector<std::string> own{"darcy", "poisson", "helmholtz", "burgers", "navier-stokes"};
  ASSERT_GE(names.size(), own.size());
  EXPECT_EQ(std::vector<std::string>(names.begin(), names.begin() + 5), own);
  for (const auto& n : own) EXPECT_EQ(sim::create_generator(n)->name(), n);
  EXPECT_THROW_MSG(sim::create_generator("heat"), "unknown data generator 'heat'; expected one of: darcy, poisson");
  EXPECT_THROW_MSG(sim::register_generator("darcy", [] { return std::unique_ptr<sim::DataGenerator>(); }),
                   "'darcy' is already registered");
  sim::register_generator("affine-test-registered", [] { return std::make_unique<Affine>(); });
  EXPECT_EQ(sim::create_generator("affine-test-registered")->name(), "affine-test");
}

TEST(DataGenerator, ReadsItsOwnOptionsIntoTypedParametersAndGrid) {
  Database d;
  d.set("-darcy_resolution", "9");
  d.set("-darcy_tau", "4.5");
  d.set("-darcy_pc_type", "jacobi");
  d.set("-darcy_ksp_rtol", "1e-8");
  auto g = sim::create_generator("darcy");
  g->set_from_options(Options("darcy_", d.db));
  const auto p = nlohmann::json::parse(g->parameters_json());
  EXPECT_EQ(p.at("resolution"), 9);
  EXPECT_DOUBLE_EQ(p.at("tau").get<double>(), 4.5);
  EXPECT_DOUBLE_EQ(p.at("alpha").get<double>(), 2.0);  // defaults are recorded too
  EXPECT_EQ(p.at("preset"), "smooth");
  EXPECT_EQ(p.at("downsample_mode"), "vertex (corners kept)");
  // The solver the data were made with is recorded too (the KSP's own -darcy_ksp_*/pc_* keys).
  EXPECT_EQ(p.at("ksp_type"), "cg");
  EXPECT_EQ(p.at("pc_type"), "jacobi");
  EXPECT_DOUBLE_EQ(p.at("ksp_rtol").get<double>(), 1e-8);
  EXPECT_EQ(p.at("ksp_norm_type"), "unpreconditioned");
  const auto grid = g->grid();
  EXPECT_EQ(grid.shape(), (std::vector<int64_t>{9, 9}));
  EXPECT_EQ(grid.centering(), physml::mesh::Centering::vertex);
  EXPECT_EQ(grid.boundary(0, 0), physml::mesh::Boundary::dirichlet);
  EXPECT_DOUBLE_EQ(grid.spacing(0), 1.0 / 8.0);

  Database bad;
  bad.set("-darcy_alpha", "-1");
  EXPECT_THROW_MSG(sim::create_generator("darcy")->set_from_options(Options("darcy_", bad.db)),
                   "option -darcy_alpha = -1 must be positive");
  Database ns;
  ns.set("-navier_stokes_resolution", "16");
  ns.set("-navier_stokes_steps", "3");
  auto n = sim::create_generator("navier-stokes");
  n->set_from_options(Options("navier_stokes_", ns.db));
  EXPECT_EQ(n->output_channels(), 3);
  EXPECT_EQ(n->times(), (std::vector<double>{1.0, 2.0, 3.0}));
  EXPECT_TRUE(n->grid().periodic(0) && n->grid().periodic(1));
  EXPECT_DOUBLE_EQ(n->grid().spacing(0), 1.0 / 16.0);  // x_j = j/n on the torus
}

TEST(DataGenerator, SamplesDependOnSeedAndIndexOnlyNotOnBatching) {
  Database d;
  d.set("-burgers_resolution", "64");
  d.set("-burgers_final_time", "0.05");
  auto g = sim::create_generator("burgers");
  g->set_from_options(Options("burgers_", d.db));
  const auto all = g->compute(3, 0, 3);
  const auto one = g->compute(3, 2, 1);
  ASSERT_TRUE(all[2].ok && one[0].ok);
  EXPECT_TRUE(torch::equal(all[2].input, one[0].input));
  EXPECT_TRUE(torch::equal(all[2].output, one[0].output));
  EXPECT_FALSE(torch::equal(all[0].input, all[1].input));
}

TEST(GenerateDataset, WritesTheKnownAnswerInSplitOrderWithGridAndParameters) {
  const auto dir = physml::test::scratch_dir();
  Database d;
  d.set("-affine_scale", "3");
  Affine g;
  g.set_from_options(Options("affine_", d.db));
  const auto r = sim::generate_dataset(g, quiet(dir / "a.h5"), PETSC_COMM_SELF);
  EXPECT_EQ(r.status, sim::GenerateResult::Status::complete);
  EXPECT_EQ(r.written, 6);
  // The run's time and, inside it, rank 0's time writing its 6 samples.
  EXPECT_GT(r.write_seconds, 0.0);
  EXPECT_LT(r.write_seconds, r.seconds);
  auto reader = physml::io::DatasetReader::open((dir / "a.h5").string());
  EXPECT_EQ(r.checksum, physml::io::content_checksum(reader));
  // Sample index: train 0..2, test 3..4, valid 5; input = seed + index, output = 3 input.
  const std::vector<std::pair<std::string, int64_t>> first{{"train", 0}, {"test", 3}, {"valid", 5}};
  for (const auto& [split, base] : first)
    for (int64_t i = 0; i < reader.size(split); ++i) {
      auto x = reader.read(split, "inputs", i, i + 1), y = reader.read(split, "outputs", i, i + 1);
      EXPECT_EQ(x.sizes(), (std::vector<int64_t>{1, 1, 4}));
      EXPECT_TRUE(torch::all(x == static_cast<double>(10 + base + i)).item<bool>()) << split << i;
      EXPECT_TRUE(torch::allclose(y, 3.0 * x));
    }
  EXPECT_EQ(physml::mesh::Grid::from_json(reader.info().grid_json), g.grid());
  const auto p = nlohmann::json::parse(reader.info().parameters_json);
  EXPECT_DOUBLE_EQ(p.at("scale").get<double>(), 3.0);
  EXPECT_EQ(p.at("equation"), "y = scale x");
  EXPECT_EQ(reader.info().generator, "affine-test");

  // Rerun: nothing computed, file unchanged.
  const int calls = g.calls;
  const auto again = sim::generate_dataset(g, quiet(dir / "a.h5"), PETSC_COMM_SELF);
  EXPECT_EQ(again.status, sim::GenerateResult::Status::already_complete);
  EXPECT_EQ(g.calls, calls);
  // Other settings for the same file: refused, naming the difference.
  EXPECT_THROW_MSG(sim::generate_dataset(g, quiet(dir / "a.h5").seed(11), PETSC_COMM_SELF), "seed: 10 in the file, 11 requested");
}

TEST(GenerateDataset, InterruptKeepsPartialAndResumeEqualsUninterrupted) {
  const auto dir = physml::test::scratch_dir();
  Affine g;
  Database d;
  g.set_from_options(Options("affine_", d.db));
  const auto r = sim::generate_dataset(g, quiet(dir / "b.h5").test_interrupt_after(2), PETSC_COMM_SELF);
  EXPECT_EQ(r.status, sim::GenerateResult::Status::interrupted);
  EXPECT_EQ(r.signal, SIGINT);
  EXPECT_EQ(r.written, 2);
  EXPECT_EQ(r.present, 2);
  EXPECT_FALSE(std::filesystem::exists(dir / "b.h5"));
  EXPECT_TRUE(std::filesystem::exists(dir / "b.h5.partial"));
  EXPECT_EQ(physml::InterruptGuard::signal(), 0);  // the guard is gone, and the flag with it

  const int calls = g.calls;
  const auto done = sim::generate_dataset(g, quiet(dir / "b.h5"), PETSC_COMM_SELF);
  EXPECT_EQ(done.status, sim::GenerateResult::Status::complete);
  EXPECT_EQ(done.written, 4);
  EXPECT_EQ(g.calls - calls, 4);  // only the missing samples are computed
  const auto ref = sim::generate_dataset(g, quiet(dir / "ref.h5"), PETSC_COMM_SELF);
  EXPECT_EQ(done.checksum, ref.checksum);
}

TEST(GenerateDataset, FailedSampleIsNotWrittenAndTheRunFails) {
  const auto dir = physml::test::scratch_dir();
  Database d;
  d.set("-affine_fail_index", "4");
  Affine g;
  g.set_from_options(Options("affine_", d.db));
  EXPECT_THROW_MSG(sim::generate_dataset(g, quiet(dir / "c.h5"), PETSC_COMM_SELF),
                   "1 sample(s) failed and were not written (first: ");
  EXPECT_FALSE(std::filesystem::exists(dir / "c.h5"));
  ASSERT_TRUE(std::filesystem::exists(dir / "c.h5.partial"));
  // The partial file keeps the other five: a rerun whose solve succeeds computes only sample 4.
  Database ok;
  Affine h;
  h.set_from_options(Options("affine_", ok.db));
  EXPECT_THROW_MSG(sim::generate_dataset(h, quiet(dir / "c.h5"), PETSC_COMM_SELF), "parameters");  // fail_index differs
  Database same;
  same.set("-affine_fail_index", "4");
  Affine k;
  k.set_from_options(Options("affine_", same.db));
  EXPECT_THROW_MSG(sim::generate_dataset(k, quiet(dir / "c.h5"), PETSC_COMM_SELF), "1 sample(s) failed");
  EXPECT_EQ(k.calls, 1);  // only the missing sample was retried
}

TEST(GenerateDataset, AnyExceptionOfTheGeneratorIsAFailedSampleNotACrash) {
  const auto dir = physml::test::scratch_dir();
  Database d;
  d.set("-affine_std_fail_index", "2");
  Affine g;
  g.set_from_options(Options("affine_", d.db));
  EXPECT_THROW_MSG(sim::generate_dataset(g, quiet(dir / "e.h5"), PETSC_COMM_SELF),
                   "1 sample(s) failed and were not written (first: a library below PhysML failed)");
  EXPECT_TRUE(std::filesystem::exists(dir / "e.h5.partial"));
}
