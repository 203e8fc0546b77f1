// Checkpoint files: bit-exact round trip of parameters, buffers and optimizer state,
// clear errors for mismatched modules, and the documented layout.
#include "physml/core/error.hpp"
#include "physml/io/checkpoint.hpp"
#include "test_util.hpp"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <iterator>

namespace fs = std::filesystem;
using namespace physml::io;

namespace {

/// A small module with nested submodules, a buffer-carrying BatchNorm and a float64 layer.
struct NetImpl : torch::nn::Module {
  explicit NetImpl(int width = 4) {
    fc1 = register_module("fc1", torch::nn::Linear(3, width));
    bn = register_module("bn", torch::nn::BatchNorm1d(width));
    fc2 = register_module("fc2", torch::nn::Linear(width, 2));
    scale = register_parameter("scale", torch::randn({2}, torch::kFloat64));
    register_buffer("step", torch::tensor({5}, torch::kInt64));
  }
  torch::Tensor forward(torch::Tensor x) {
    return fc2(torch::relu(bn(fc1(x)))) * scale.to(torch::kFloat32);
  }
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  torch::nn::BatchNorm1d bn{nullptr};
  torch::Tensor scale;
};
TORCH_MODULE(Net);

using physml::test::file_bytes;

void expect_bit_equal(const torch::nn::Module& a, const torch::nn::Module& b) {
  auto pa = a.named_parameters(), pb = b.named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& item : pa) {
    const auto& y = pb[item.key()];
    ASSERT_EQ(item.value().scalar_type(), y.scalar_type()) << item.key();
    EXPECT_TRUE(torch::equal(item.value(), y)) << item.key();
  }
  for (const auto& item : a.named_buffers()) EXPECT_TRUE(torch::equal(item.value(), b.named_buffers()[item.key()])) << item.key();
}

/// Train a few Adam steps so that parameters, BatchNorm running stats and Adam moments are non-trivial.
void train_steps(Net& net, torch::optim::Adam& opt, int steps) {
  torch::manual_seed(3);
  for (int i = 0; i < steps; ++i) {
    auto x = torch::randn({8, 3});
    auto loss = net->forward(x).pow(2).mean();
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
}

}  // namespace

TEST(Checkpoint, RoundTripIsBitExactIncludingOptimizer) {
  auto dir = physml::test::scratch_dir();
  auto path = (dir / "c.h5").string();
  torch::manual_seed(1);
  Net a;
  torch::optim::Adam opt_a(a->parameters(), torch::optim::AdamOptions(1e-2));
  train_steps(a, opt_a, 3);
  save_checkpoint(path, *a, "net", {{"width", "4"}, {"activation", "relu"}},
                  {{"epoch", std::int64_t(3)}, {"best_validation_loss", 0.25}, {"note", std::string("x")}}, &opt_a);

  torch::manual_seed(2);  // different initial weights
  Net b;
  torch::optim::Adam opt_b(b->parameters(), torch::optim::AdamOptions(1e-2));
  load_checkpoint(path, *b, &opt_b);
  expect_bit_equal(*a, *b);
  // Resuming must continue identically: the optimizer moments were restored too.
  train_steps(a, opt_a, 2);
  train_steps(b, opt_b, 2);
  expect_bit_equal(*a, *b);

  auto info = read_checkpoint_info(path);
  EXPECT_EQ(info.model_type, "net");
  EXPECT_EQ(info.config, (std::map<std::string, std::string>{{"activation", "relu"}, {"width", "4"}}));
  EXPECT_EQ(std::get<std::int64_t>(info.state.at("epoch")), 3);
  EXPECT_EQ(std::get<double>(info.state.at("best_validation_loss")), 0.25);
  EXPECT_TRUE(info.has_optimizer);
}

TEST(Checkpoint, FileLayoutIsTheDocumentedOne) {
  auto dir = physml::test::scratch_dir();
  auto path = (dir / "c.h5").string();
  Net a;
  save_checkpoint(path, *a, "net", {{"width", "4"}});
  auto f = H5File::open(path);
  EXPECT_EQ(f.attribute_string("/", "format"), "physml.checkpoint");
  EXPECT_EQ(f.attribute_int("/", "format_version"), 1);
  EXPECT_EQ(f.attribute_string("/", "model_type"), "net");
  EXPECT_EQ(f.attribute_string("config", "width"), "4");
  EXPECT_EQ(f.list("parameters"), (std::vector<std::string>{"bn.bias", "bn.weight", "fc1.bias", "fc1.weight",
                                                             "fc2.bias", "fc2.weight", "scale"}));
  EXPECT_EQ(f.list("buffers"), (std::vector<std::string>{"bn.num_batches_tracked", "bn.running_mean", "bn.running_var", "step"}));
  EXPECT_TRUE(torch::equal(f.read("parameters/fc1.weight", torch::kFloat32, {4, 3}), a->fc1->weight));
  EXPECT_TRUE(torch::equal(f.read("parameters/scale", torch::kFloat64, {2}), a->scale));
  EXPECT_TRUE(torch::equal(f.read("buffers/step", torch::kInt64, {1}), torch::tensor({5}, torch::kInt64)));
  EXPECT_FALSE(f.exists("optimizer"));
  EXPECT_FALSE(read_checkpoint_info(path).has_optimizer);
  auto tensors = read_checkpoint_tensors(path);
  EXPECT_EQ(tensors.size(), 11u);
  EXPECT_TRUE(torch::equal(tensors.at("fc2.bias"), a->fc2->bias));
}

TEST(Checkpoint, MismatchedModuleGivesNamedErrorAndChangesNothing) {
  auto dir = physml::test::scratch_dir();
  auto path = (dir / "c.h5").string();
  Net a(4);
  save_checkpoint(path, *a, "net", {{"width", "4"}});
  Net wide(5);
  auto before = wide->fc1->weight.clone();
  EXPECT_THROW_MSG(load_checkpoint(path, *wide), "parameter 'fc1.weight' has shape [4, 3] in the file, the module expects [5, 3]");
  EXPECT_TRUE(torch::equal(wide->fc1->weight, before));

  torch::nn::Sequential missing(torch::nn::Linear(3, 4));
  EXPECT_THROW_MSG(load_checkpoint(path, *missing), "has no parameter '0.weight'");

  // module has fewer parameters than the file: extra tensor named
  struct Part : torch::nn::Module {
    Part() {
      fc1 = register_module("fc1", torch::nn::Linear(3, 4));
    }
    torch::nn::Linear fc1{nullptr};
  } part;
  EXPECT_THROW_MSG(load_checkpoint(path, part), "has an extra parameter 'bn.bias'");

  torch::optim::SGD sgd(a->parameters(), torch::optim::SGDOptions(0.1));
  EXPECT_THROW_MSG(load_checkpoint(path, *a, &sgd), "holds no optimizer state");
  // and the file is intact after all these failures
  Net c;
  EXPECT_NO_THROW(load_checkpoint(path, *c));
  expect_bit_equal(*a, *c);
}

TEST(Checkpoint, DtypeKindMismatchIsRejectedFloatingIsConverted) {
  auto dir = physml::test::scratch_dir();
  auto path = (dir / "c.h5").string();
  Net a;
  save_checkpoint(path, *a, "net", {});
  Net b;
  for (auto& p : b->parameters()) p.set_data(p.to(torch::kFloat64));  // buffers keep their dtypes
  load_checkpoint(path, *b);
  EXPECT_EQ(b->fc1->weight.scalar_type(), torch::kFloat64);
  EXPECT_TRUE(torch::equal(b->fc1->weight, a->fc1->weight.to(torch::kFloat64)));
  // a float buffer where the file has int64
  struct Odd : torch::nn::Module {
    Odd() { register_buffer("step", torch::zeros({1})); }
  } odd;
  auto t = read_checkpoint_tensors(path);
  {
    auto f = H5File::create((dir / "odd.h5").string());
    stamp_file(f, "physml.checkpoint", 1);
    f.set_attribute("/", "model_type", std::string("odd"));
    f.write("buffers/step", t.at("step"));
    f.commit();
  }
  EXPECT_THROW_MSG(load_checkpoint((dir / "odd.h5").string(), odd), "buffer 'step' has dtype int64 in the file, the module expects float32");
  // With the optimizer state (a resume) the dtypes must be the stored ones: Adam's moments would
  // stay float32 beside float64 weights. Refused, and nothing changes.
  torch::optim::Adam opt_a(a->parameters(), torch::optim::AdamOptions(1e-2));
  train_steps(a, opt_a, 1);
  const auto with_opt = (dir / "opt.h5").string();
  save_checkpoint(with_opt, *a, "net", {}, {}, &opt_a);
  Net c;
  for (auto& p : c->parameters()) p.set_data(p.to(torch::kFloat64));
  const auto before = c->fc1->weight.clone();
  torch::optim::Adam opt_c(c->parameters(), torch::optim::AdamOptions(1e-2));
  EXPECT_THROW_MSG(load_checkpoint(with_opt, *c, &opt_c),
                   "holds the parameters in float32 but the module's are float64; restoring the optimizer state");
  EXPECT_TRUE(torch::equal(c->fc1->weight, before));
  Net d;
  torch::optim::Adam opt_d(d->parameters(), torch::optim::AdamOptions(1e-2));
  EXPECT_NO_THROW(load_checkpoint(with_opt, *d, &opt_d));
}

TEST(Checkpoint, BadFilesAndAtomicOverwrite) {
  auto dir = physml::test::scratch_dir();
  auto path = (dir / "c.h5").string();
  Net a;
  EXPECT_THROW_MSG(load_checkpoint(path, *a), "does not exist");
  EXPECT_THROW_MSG(read_checkpoint_info(path), "does not exist");
  save_checkpoint(path, *a, "net", {});
  auto bytes = file_bytes(path);
  {
    std::ofstream out(dir / "cut.h5", std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  }
  EXPECT_THROW_MSG(load_checkpoint((dir / "cut.h5").string(), *a), "truncated");
  std::ofstream(dir / "text.h5") << "# not a checkpoint\n";
  EXPECT_THROW_MSG(load_checkpoint((dir / "text.h5").string(), *a), "is not an HDF5 file");
  EXPECT_THROW_MSG(save_checkpoint(path, *a, "", {}), "model_type is empty");
  // a save that fails half way (a parameter of unsupported dtype) leaves the old file byte-identical
  struct Complex : torch::nn::Module {
    Complex() {
      register_parameter("a", torch::zeros({2}));
      register_parameter("z", torch::zeros({2}, torch::kComplexFloat));
    }
  } complex;
  EXPECT_THROW_MSG(save_checkpoint(path, complex, "complex", {}), "supported dtypes are float32");
  EXPECT_EQ(file_bytes(path), bytes);
  EXPECT_TRUE(physml::test::no_temporaries(dir));
}
