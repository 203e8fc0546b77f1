// MgNO: parameter counts against the official code (reference mgno_fno.md §1.6), the
// V-cycle recursion of §1.2 checked against hand-written convolutions, any grid size.
#include "physml/core/error.hpp"
#include "physml/operators/mgno.hpp"
#include "test_util.hpp"

#include <torch/torch.h>

using namespace physml::operators;

namespace {
std::int64_t count_parameters(const torch::nn::Module& m) {
  std::int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}
at::Tensor param(const torch::nn::Module& m, const std::string& name) {
  auto params = m.named_parameters();
  auto* p = params.find(name);
  if (!p) throw std::runtime_error("no parameter " + name);
  return *p;
}
}  // namespace

TEST(MgNO, ParameterCountDarcyRough) {
  // Official MgNO_DC(num_layer=4, num_channel_u=24, num_channel_f=1, 6 levels): 572,661.
  MgNO model(MgNOOptions(1, 1).channels(24).levels(6).layers(4));
  EXPECT_EQ(count_parameters(*model), 572661);
  // Same with 3 input channels: 578,685.
  EXPECT_EQ(count_parameters(*MgNO(MgNOOptions(3, 1).channels(24).levels(6).layers(4))), 578685);
}

TEST(MgNO, ParameterCountDarcySmoothFrom211Grid) {
  // Official MgNO_DC_smooth(5, 24, 1): prolongation kernels [3,4,3,3,4] on 211->106->53->27->14->7.
  MgNO model(MgNOOptions(1, 1).channels(24).levels(6).layers(5).grid_size({211, 211}));
  EXPECT_EQ(count_parameters(*model), 678093);
  VCycle cycle(VCycleOptions(24, 24).levels(6).grid_size({211}));
  const auto& k = cycle->prolongation_kernels();
  ASSERT_EQ(k.size(), 5u);
  const std::int64_t expected[5] = {3, 4, 3, 3, 4};
  for (int j = 0; j < 5; ++j) EXPECT_EQ(k[j], std::vector<std::int64_t>({expected[j], expected[j]})) << j;
  // The same model described by the Dataset grid of 421 -> 211 Darcy data (vertex grid of [0,1]^2).
  const physml::mesh::Grid grid(physml::mesh::GridOptions({211, 211}));
  const auto on = MgNOOptions(1, 1).channels(24).levels(6).layers(5).on(grid);
  EXPECT_EQ(on.grid_size(), (std::vector<std::int64_t>{211, 211}));
  EXPECT_EQ(count_parameters(*MgNO(on)), 678093);
  // Non-square: grid_size is tensor order (ny, nx), the reverse of the grid's x-first sizes.
  EXPECT_EQ(MgNOOptions(1, 1).on(physml::mesh::Grid(physml::mesh::GridOptions({64, 32}))).grid_size(),
            (std::vector<std::int64_t>{32, 64}));
}

TEST(MgNO, ParameterCountOneVCycleAndPipe) {
  EXPECT_EQ(count_parameters(*VCycle(VCycleOptions(24, 24).levels(6))), 165312);
  // Pipe: MgNO_DC(5, 24, 2) with [[1,0]]x4, [1,1], [2,0]: 783,876.
  MgNO pipe(MgNOOptions(2, 1).channels(24).levels(6).layers(5).smoothing({{1, 0}, {1, 0}, {1, 0}, {1, 0}, {1, 1}, {2, 0}}));
  EXPECT_EQ(count_parameters(*pipe), 783876);
}

TEST(MgNO, TwoLevelVCycleMatchesHandWrittenRecursion) {
  torch::manual_seed(1);
  VCycle cycle(VCycleOptions(3, 2).levels(2).smoothing({{2, 1}, {1, 0}}));
  cycle->to(torch::kDouble);
  auto f = torch::randn({2, 2, 9, 12}, torch::kDouble);
  namespace F = torch::nn::functional;
  auto c = [](const at::Tensor& x, const at::Tensor& w, int s = 1) {
    return F::conv2d(x, w, F::Conv2dFuncOptions().stride(s).padding(1));
  };
  const auto& m = *cycle;
  auto u0 = c(f, param(m, "S_pre_l0_s0"));
  u0 = u0 + c(f - c(u0, param(m, "A_pre_l0_s1")), param(m, "S_pre_l0_s1"));
  auto f1 = c(f, param(m, "R_l1"), 2);
  auto u1 = c(u0, param(m, "Pi_l1"), 2);
  EXPECT_EQ(f1.sizes(), (std::vector<std::int64_t>{2, 2, 5, 6}));
  u1 = u1 + c(f1 - c(u1, param(m, "A_pre_l1_s0")), param(m, "S_pre_l1_s0"));
  // 5 -> 9 rows: 4x4 transposed conv gives 10, crop one; 6 -> 12 columns exactly.
  auto up = F::conv_transpose2d(u1, param(m, "P_l1"), F::ConvTranspose2dFuncOptions().stride(2).padding(1));
  u0 = u0 + up.narrow(2, 0, 9);
  u0 = u0 + c(f - c(u0, param(m, "A_post_l0_s0")), param(m, "S_post_l0_s0"));
  auto out = cycle->forward(f);
  EXPECT_TRUE(torch::allclose(out, u0, 1e-12, 1e-12));
}

TEST(MgNO, VCycleIsLinearInF) {
  torch::manual_seed(2);
  VCycle cycle(VCycleOptions(4, 3).levels(4).padding_mode("reflect"));
  cycle->to(torch::kDouble);
  auto f = torch::randn({1, 3, 23, 30}, torch::kDouble), g = torch::randn({1, 3, 23, 30}, torch::kDouble);
  auto lhs = cycle->forward(2.5 * f - 0.5 * g);
  auto rhs = 2.5 * cycle->forward(f) - 0.5 * cycle->forward(g);
  EXPECT_TRUE(torch::allclose(lhs, rhs, 1e-10, 1e-12));
}

TEST(MgNO, OutputShapeOnOddAndEvenGrids) {
  torch::manual_seed(3);
  MgNO model(MgNOOptions(1, 2).channels(4).levels(6).layers(2));
  torch::NoGradGuard guard;
  for (auto n : std::vector<std::pair<int, int>>{{85, 85}, {211, 211}, {64, 64}, {33, 40}, {65, 97}}) {
    auto y = model->forward(torch::randn({2, 1, n.first, n.second}));
    EXPECT_EQ(y.sizes(), (std::vector<std::int64_t>{2, 2, n.first, n.second})) << n.first << "x" << n.second;
    EXPECT_TRUE(torch::isfinite(y).all().item<bool>());
  }
}

TEST(MgNO, OneAndThreeDimensions) {
  torch::manual_seed(4);
  torch::NoGradGuard guard;
  MgNO m1(MgNOOptions(2, 1).channels(4).levels(4).layers(2).dim(1));
  EXPECT_EQ(m1->forward(torch::randn({3, 2, 101})).sizes(), (std::vector<std::int64_t>{3, 1, 101}));
  MgNO m3(MgNOOptions(1, 1).channels(3).levels(3).layers(1).dim(3).padding_mode("circular"));
  EXPECT_EQ(m3->forward(torch::randn({1, 1, 9, 10, 11})).sizes(), (std::vector<std::int64_t>{1, 1, 9, 10, 11}));
}

TEST(MgNO, CircularPaddingIsShiftEquivariant) {
  // Periodic problem, grid divisible by 2^(L-1): shifting the input by 2^(L-1) cells shifts the output.
  torch::manual_seed(5);
  MgNO model(MgNOOptions(1, 1).channels(3).levels(3).layers(2).padding_mode("circular"));
  model->to(torch::kDouble);
  auto x = torch::randn({1, 1, 16, 24}, torch::kDouble);
  auto y = model->forward(x);
  auto ys = model->forward(torch::roll(x, {4, -8}, {2, 3}));
  EXPECT_TRUE(torch::allclose(ys, torch::roll(y, {4, -8}, {2, 3}), 1e-10, 1e-12));
  // Zero padding (Dirichlet) is not shift-equivariant.
  MgNO dirichlet(MgNOOptions(1, 1).channels(3).levels(3).layers(2));
  dirichlet->to(torch::kDouble);
  auto yd = dirichlet->forward(x);
  EXPECT_FALSE(torch::allclose(dirichlet->forward(torch::roll(x, {4}, {2})), torch::roll(yd, {4}, {2}), 1e-6, 1e-8));
}

TEST(MgNO, TrainedGridDoesNotTieTheModelToOneResolution) {
  torch::manual_seed(6);
  MgNO model(MgNOOptions(1, 1).channels(4).levels(4).layers(1).grid_size({85, 85}).normalization(true));
  torch::NoGradGuard guard;
  for (int n : {85, 64, 127, 43}) EXPECT_EQ(model->forward(torch::randn({1, 1, n, n})).size(3), n);
}

TEST(MgNO, GridTooSmallForLevels) {
  MgNO model(MgNOOptions(1, 1).channels(2).levels(6).layers(1));
  EXPECT_THROW_MSG(model->forward(torch::randn({1, 1, 16, 16})), "too small for 6 multigrid levels");
  EXPECT_THROW_MSG(model->forward(torch::randn({1, 1, 16, 16})), "at most 4 levels");
  EXPECT_THROW_MSG(model->forward(torch::randn({1, 1, 16, 16})), "at least 33 points per axis");
  EXPECT_NO_THROW(model->forward(torch::randn({1, 1, 33, 33})).sizes());
  EXPECT_THROW_MSG(mg_level_sizes({32, 33}, 6), "axis 0");
}

TEST(MgNO, BadInputIsRejectedClearly) {
  MgNO model(MgNOOptions(2, 1).channels(2).levels(2).layers(1));
  EXPECT_THROW_MSG(model->forward(torch::randn({1, 1, 8, 8})), "built for 2 input channels");
  EXPECT_THROW_MSG(model->forward(torch::randn({1, 2, 8})), "expects input [batch, 2, spatial(2)]");
  EXPECT_THROW_MSG(MgNO(MgNOOptions(1, 1).padding_mode("periodic")), "padding_mode 'periodic'");
  EXPECT_THROW_MSG(MgNO(MgNOOptions(1, 1).levels(3).smoothing({{1, 0}})), "smoothing has 1 entries but levels = 3");
}

TEST(MgNO, ConfigRoundTrip) {
  auto o = MgNOOptions(3, 2).channels(8).levels(4).layers(3).padding_mode("reflect").grid_size({85, 64})
               .smoothing({{1, 0}, {1, 1}, {1, 0}, {2, 0}}).normalization(true);
  auto c = o.to_config();
  auto back = MgNOOptions::from_config(c);
  EXPECT_EQ(back.to_config(), c);
  EXPECT_EQ(c.at("smoothing"), "1,0;1,1;1,0;2,0");
  c["chanels"] = "3";
  EXPECT_THROW_MSG(MgNOOptions::from_config(c), "unknown option 'chanels'");
  EXPECT_THROW_MSG(MgNOOptions::from_config({{"levels", "six"}}), "expected an integer, got 'six'");
}

// The residual head of the official MgNO_NS one-step model: out = head(u) + x exactly, with the
// same parameters (and parameter count) as the plain model; it needs in == out channels.
TEST(MgNO, ResidualOutputAddsTheInput) {
  torch::manual_seed(2);
  auto o = MgNOOptions(1, 1).channels(4).levels(3).layers(2).padding_mode("circular");
  MgNO plain(o), residual(MgNOOptions(o).residual(true));
  torch::NoGradGuard guard;
  auto dst = residual->parameters();
  auto src = plain->parameters();
  ASSERT_EQ(dst.size(), src.size());
  for (std::size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i]);
  auto x = torch::randn({2, 1, 16, 16});
  EXPECT_TRUE(torch::allclose(residual->forward(x), plain->forward(x) + x, 1e-6, 1e-6));
  EXPECT_EQ(MgNOOptions::from_config(MgNOOptions(o).residual(true).to_config()).residual(), true);
  EXPECT_THROW_MSG(MgNO(MgNOOptions(1, 2).residual(true)), "needs as many output as input channels");
}

TEST(MgNO, Float32FastPathMatchesTheReferenceConvolutions) {
  // float32 on the CPU with oneDNN runs channels-last convolutions and the transposed
  // convolutions as sub-pixel convolutions; with oneDNN switched off the plain NCHW /
  // ConvTranspose path runs. Same model, both paths: equal outputs and parameter gradients to
  // float32 rounding, on an even grid and on an odd one (cropped prolongation).
  if (!at::hasMKLDNN()) GTEST_SKIP() << "LibTorch without oneDNN";
  torch::manual_seed(4);
  MgNO net(MgNOOptions(1, 1).channels(8).levels(4).layers(2));
  for (std::int64_t n : {32, 27}) {
    auto x = torch::randn({2, 1, n, n});
    auto wt = torch::randn({2, 1, n, n});
    auto run = [&](bool onednn) {
      at::globalContext().setUserEnabledMkldnn(onednn);
      for (auto& p : net->parameters()) p.mutable_grad() = at::Tensor();
      auto y = net->forward(x);
      (y * wt).sum().backward();  // (convolution backward picks its kernels when it runs)
      at::globalContext().setUserEnabledMkldnn(true);
      EXPECT_TRUE(y.is_contiguous());  // the caller's layout back
      std::vector<at::Tensor> g{y.detach().clone()};
      for (const auto& p : net->parameters()) g.push_back(p.grad().clone());
      return g;
    };
    auto ref = run(false), fast = run(true);
    ASSERT_EQ(fast.size(), ref.size());
    for (std::size_t i = 0; i < ref.size(); ++i) {
      const double err = (fast[i] - ref[i]).abs().max().item<double>() / (ref[i].abs().max().item<double>() + 1e-30);
      EXPECT_LT(err, 1e-4) << "n " << n << (i == 0 ? " output" : " gradient of parameter " + std::to_string(i - 1));
    }
  }
}
