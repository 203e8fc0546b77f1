// DCDM network (parameter counts pinned to the paper's Keras models) and its
// scale-invariant unsupervised loss.
#include "physml/core/error.hpp"
#include "physml/operators/checkpoint.hpp"
#include "physml/operators/dcdm_net.hpp"
#include "test_util.hpp"

#include <torch/torch.h>

#include <fstream>

using namespace physml::operators;

namespace {

int64_t count_parameters(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

// 2D 5-point Dirichlet Laplacian on an m x m grid, as a sparse COO tensor (double).
at::Tensor laplacian_2d(int64_t m) {
  std::vector<int64_t> rows, cols;
  std::vector<double> vals;
  auto id = [m](int64_t i, int64_t j) { return j * m + i; };
  for (int64_t j = 0; j < m; ++j) {
    for (int64_t i = 0; i < m; ++i) {
      rows.push_back(id(i, j)); cols.push_back(id(i, j)); vals.push_back(4.0);
      const int64_t nb[4][2] = {{i - 1, j}, {i + 1, j}, {i, j - 1}, {i, j + 1}};
      for (const auto& n : nb) {
        if (n[0] < 0 || n[0] >= m || n[1] < 0 || n[1] >= m) continue;
        rows.push_back(id(i, j)); cols.push_back(id(n[0], n[1])); vals.push_back(-1.0);
      }
    }
  }
  auto idx = torch::stack({torch::tensor(rows), torch::tensor(cols)});
  return torch::sparse_coo_tensor(idx, torch::tensor(vals, torch::kDouble), {m * m, m * m}).coalesce();
}

}  // namespace

TEST(DCDMNet, ParameterCountsMatchThePaper) {
  // Kaneda et al. 2023, the Keras network of src/train.py in their code: from64 = 448 + 14*6928 + 17,
  // from128 = 448 + 22*6928 + 17.
  DCDMNet from64(DCDMNetOptions(3).variant("from64"));
  DCDMNet from128(DCDMNetOptions(3).variant("from128"));
  EXPECT_EQ(count_parameters(*from64), 97457);
  EXPECT_EQ(count_parameters(*from128), 152881);
  // 2D analogue: 3x3 kernels: 1*9*16+16 + 14*(16*16*9+16) + 17.
  DCDMNet two_d(DCDMNetOptions(2));
  EXPECT_EQ(count_parameters(*two_d), 160 + 14 * 2320 + 17);
  // The mask channel adds one input channel to the first conv only (27*16 weights).
  DCDMNet masked(DCDMNetOptions(3).mask_channel(true));
  EXPECT_EQ(count_parameters(*masked), 97457 + 27 * 16);
}

TEST(DCDMNet, KerasInitHasZeroBiasesGlorotKernelsAndIsPositivelyHomogeneous) {
  // The paper's Keras model starts with Glorot-uniform kernels, limit sqrt(6/(fan_in+fan_out))
  // with fan = channels * k^d, and zero biases. A bias-free ReLU net is positively
  // homogeneous, f(a x) = a f(x) for a > 0, so the tiny entries of a unit-norm residual are
  // not drowned by biases (docs/results-dcdm.md).
  for (int dim : {2, 3}) {
    torch::manual_seed(4);
    DCDMNet net{DCDMNetOptions(dim)};
    for (const auto& p : net->named_parameters()) {
      const auto& t = p.value();
      if (t.dim() == 1) {
        EXPECT_EQ(t.abs().max().item<float>(), 0.0f) << p.key();
        continue;
      }
      const int64_t k = t[0][0].numel();
      const double limit = std::sqrt(6.0 / double((t.size(0) + t.size(1)) * k));
      EXPECT_LE(t.abs().max().item<double>(), limit * (1 + 1e-6)) << p.key();
      if (t.numel() > 1000) {  // uniform(-l, l) has variance l^2/3
        EXPECT_NEAR(t.var().item<double>(), limit * limit / 3, 0.1 * limit * limit / 3) << p.key();
      }
    }
    const auto x = dim == 3 ? torch::randn({2, 1, 8, 8, 8}) : torch::randn({2, 1, 16, 16});
    torch::NoGradGuard ng;
    const auto y = net->forward(x), y_scaled = net->forward(3.7 * x);
    EXPECT_LT((y_scaled - 3.7 * y).abs().max().item<double>(), 1e-5 * 3.7 * y.abs().max().item<double>()) << dim << "D";
    // LibTorch's default init (random biases) is not homogeneous: the check above can fail.
    torch::manual_seed(4);
    DCDMNet torch_init(DCDMNetOptions(dim).init("torch"));
    const auto z = torch_init->forward(x), z_scaled = torch_init->forward(3.7 * x);
    EXPECT_GT((z_scaled - 3.7 * z).abs().max().item<double>(), 1e-2 * 3.7 * z.abs().max().item<double>()) << dim << "D";
  }
  EXPECT_THROW(DCDMNet(DCDMNetOptions(3).init("he")), physml::Error);
}

TEST(DCDMNet, ShapesAndBadInput) {
  torch::manual_seed(0);
  DCDMNet net3(DCDMNetOptions(3));
  auto y = net3->forward(torch::randn({2, 1, 8, 6, 4}));
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 1, 8, 6, 4}));
  DCDMNet net2(DCDMNetOptions(2).mask_channel(true));
  EXPECT_EQ(net2->forward(torch::randn({1, 2, 10, 12})).sizes(), (std::vector<int64_t>{1, 1, 10, 12}));
  EXPECT_THROW_MSG(net3->forward(torch::randn({1, 1, 7, 8, 8})), "even");
  EXPECT_THROW_MSG(net3->forward(torch::randn({1, 1, 8, 8})), "expected input [batch, 1, nz, ny, nx]");
  EXPECT_THROW_MSG(DCDMNet(DCDMNetOptions(3).variant("from256")), "unknown variant 'from256'");
}

TEST(DCDMNet, SaveLoadRoundTripAndTypeCheck) {
  auto dir = physml::test::scratch_dir();
  torch::manual_seed(1);
  DCDMNet net(DCDMNetOptions(2).variant("from128").train_grid({16, 16}));
  const std::string path = (dir / "net.h5").string();
  save(path, *net);
  auto loaded = load(path, "dcdm");
  EXPECT_EQ(loaded->type(), "dcdm");
  EXPECT_EQ(loaded->config(), net->config());
  auto x = torch::randn({1, 1, 16, 16});
  torch::NoGradGuard ng;
  EXPECT_TRUE(torch::equal(loaded->forward(x), net->forward(x)));
  EXPECT_THROW_MSG(load(path, "mgno"), "expected type 'mgno'");
  EXPECT_THROW_MSG(load((dir / "missing.h5").string()), "does not exist");
  std::ofstream(dir / "junk.h5") << "not a model";
  EXPECT_THROW_MSG(load((dir / "junk.h5").string()), "not a PhysML model file");
}

TEST(DCDMLoss, InvariantToScalingQ) {
  torch::manual_seed(2);
  const auto A = laplacian_2d(6);
  auto apply = [&](const at::Tensor& x) { return sparse_apply(A, x); };
  auto b = torch::randn({3, 36}, torch::kDouble);
  auto q = torch::randn({3, 36}, torch::kDouble);
  const double l = dcdm_loss(q, b, apply).item<double>();
  EXPECT_GT(l, 1e-3);
  // Powers of two scale exactly in floating point: the loss is bit-identical.
  EXPECT_EQ(dcdm_loss(4.0 * q, b, apply).item<double>(), l);
  EXPECT_EQ(dcdm_loss(-0.125 * q, b, apply).item<double>(), l);
  EXPECT_NEAR(dcdm_loss(3.7 * q, b, apply).item<double>(), l, 1e-13 * l);
}

TEST(DCDMLoss, ZeroForTheExactInverse) {
  torch::manual_seed(3);
  const auto A = laplacian_2d(6);
  auto apply = [&](const at::Tensor& x) { return sparse_apply(A, x); };
  auto b = torch::randn({2, 36}, torch::kDouble);
  auto x = torch::linalg_solve(A.to_dense(), b.t()).t();  // A x = b
  EXPECT_LT(dcdm_loss(x, b, apply).item<double>(), 1e-24);
  EXPECT_LT(dcdm_loss(-5.0 * x, b, apply).item<double>(), 1e-24);  // A⁻¹ up to a scalar
  // The loss is b's squared norm minus the energy captured by the line search: <= |b|².
  auto q = torch::randn({2, 36}, torch::kDouble);
  EXPECT_LE(dcdm_loss(q, b, apply).item<double>(), (b * b).sum(1).mean().item<double>());
}

TEST(DCDMLoss, GradientMatchesFiniteDifferences) {
  torch::manual_seed(4);
  const auto A = laplacian_2d(5);
  auto apply = [&](const at::Tensor& x) { return sparse_apply(A, x); };
  auto b = torch::randn({2, 25}, torch::kDouble);
  auto q = torch::randn({2, 25}, torch::kDouble).requires_grad_(true);
  dcdm_loss(q, b, apply).backward();
  auto g = q.grad().clone();
  torch::NoGradGuard ng;
  const double h = 1e-6;
  for (int64_t k : {0, 7, 24, 31, 49}) {
    auto qp = q.detach().clone(), qm = q.detach().clone();
    qp.view(-1)[k] += h;
    qm.view(-1)[k] -= h;
    const double fd = (dcdm_loss(qp, b, apply).item<double>() - dcdm_loss(qm, b, apply).item<double>()) / (2 * h);
    EXPECT_NEAR(g.view(-1)[k].item<double>(), fd, 1e-7 * std::max(1.0, std::abs(fd))) << "entry " << k;
  }
  // Gradients also reach the network parameters through a float32 forward pass.
  DCDMNet net(DCDMNetOptions(2));
  auto bf = torch::randn({2, 1, 8, 8});
  const auto Af = laplacian_2d(8).to(torch::kFloat);
  torch::GradMode::set_enabled(true);
  auto loss = dcdm_loss(net->forward(bf), bf, [&](const at::Tensor& x) { return sparse_apply(Af, x); });
  loss.backward();
  double gn = 0;
  for (const auto& p : net->parameters()) gn += p.grad().norm().item<double>();
  EXPECT_GT(gn, 0.0);
}

// The direct oneDNN convolution path (default, fast for batch-1 3D inputs) computes the same
// function and input gradient as LibTorch's own Conv3d/Conv2d modules (onednn(false)).
TEST(DCDMNet, OneDNNPathMatchesLibTorchConvolutions) {
  for (int dim : {2, 3}) {
    torch::manual_seed(3);
    DCDMNet net(DCDMNetOptions(dim).mask_channel(true));
    std::vector<int64_t> shape = {1, 2, 8, 6};
    if (dim == 3) shape.push_back(4);
    auto grad_and_out = [&](bool onednn) {
      net->set_onednn(onednn);
      torch::manual_seed(4);
      auto x = torch::randn(shape).requires_grad_(true);
      auto y = net->forward(x);
      (y * y).sum().backward();
      return std::make_pair(y.detach(), x.grad());
    };
    auto [y1, g1] = grad_and_out(true);
    auto [y0, g0] = grad_and_out(false);
    EXPECT_LT((y1 - y0).abs().max().item<double>(), 1e-5 * y0.abs().max().item<double>()) << "dim " << dim;
    EXPECT_LT((g1 - g0).abs().max().item<double>(), 1e-4 * g0.abs().max().item<double>()) << "dim " << dim;
  }
}
