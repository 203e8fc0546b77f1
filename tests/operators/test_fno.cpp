// FNO: parameter count of the legacy FNO2d Darcy model (reference mgno_fno.md §1.6),
// SpectralConv as an exact Fourier low-pass, gradients against finite differences.
#include "physml/core/error.hpp"
#include "physml/operators/fno.hpp"
#include "test_util.hpp"

#include <torch/torch.h>

#include <cmath>

using namespace physml::operators;

namespace {
std::int64_t count_parameters(const torch::nn::Module& m) {
  std::int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}
}  // namespace

TEST(FNO, ParameterCountLegacyDarcy2d) {
  FNO model(FNOOptions(1, 1).modes({12, 12}).width(32));
  EXPECT_EQ(count_parameters(*model), 2368001);
}

TEST(FNO, ParameterCountLegacyBurgers1d) {
  // fc0 2*64+64, 4 x (64*64*16*2 + 64*64+64), fc1 64*128+128, fc2 128+1 = 549,569.
  FNO model(FNOOptions(1, 1).modes({16}).width(64));
  EXPECT_EQ(count_parameters(*model), 192 + 4 * (131072 + 4160) + 8320 + 129);
}

TEST(FNO, SpectralConvWithUnitWeightsIsALowPassFilter1d) {
  SpectralConv conv(1, 1, std::vector<std::int64_t>{4});
  conv->to(torch::kDouble);
  {
    torch::NoGradGuard g;
    conv->weight(0).zero_().select(-1, 0).fill_(1.0);
  }
  const int n = 32;
  auto x = torch::arange(n, torch::kDouble) / n;
  auto low = torch::cos(2 * M_PI * 2 * x) + 0.3 * torch::sin(2 * M_PI * 3 * x) + 0.7;
  auto high = torch::cos(2 * M_PI * 7 * x);
  auto y = conv->forward((low + high).view({1, 1, n}));
  EXPECT_TRUE(torch::allclose(y.view({n}), low, 1e-12, 1e-12));
}

TEST(FNO, SpectralConvCornerBlocksKeepNegativeFrequencies2d) {
  SpectralConv conv(1, 1, std::vector<std::int64_t>{3, 3});
  conv->to(torch::kDouble);
  {
    torch::NoGradGuard g;
    for (int b = 0; b < 2; ++b) conv->weight(b).zero_().select(-1, 0).fill_(1.0);
  }
  const int ny = 16, nx = 12;
  auto y = (torch::arange(ny, torch::kDouble) / ny).view({ny, 1});
  auto x = (torch::arange(nx, torch::kDouble) / nx).view({1, nx});
  auto low = torch::cos(2 * M_PI * (-2 * y + 1 * x)) + torch::sin(2 * M_PI * (2 * y + 2 * x));
  auto high = torch::cos(2 * M_PI * 5 * y) + torch::sin(2 * M_PI * (1 * y + 4 * x));
  auto out = conv->forward((low + high).view({1, 1, ny, nx}));
  EXPECT_TRUE(torch::allclose(out.view({ny, nx}), low, 1e-12, 1e-12));
}

TEST(FNO, SpectralConvFourCornerBlocks3d) {
  SpectralConv conv(1, 1, std::vector<std::int64_t>{3, 3, 3});
  conv->to(torch::kDouble);
  {
    torch::NoGradGuard g;
    for (int b = 0; b < 4; ++b) conv->weight(b).zero_().select(-1, 0).fill_(1.0);
  }
  const int nz = 12, ny = 10, nx = 8;
  auto z = (torch::arange(nz, torch::kDouble) / nz).view({nz, 1, 1});
  auto y = (torch::arange(ny, torch::kDouble) / ny).view({1, ny, 1});
  auto x = (torch::arange(nx, torch::kDouble) / nx).view({1, 1, nx});
  auto low = torch::cos(2 * M_PI * (-1 * z + 2 * y + 1 * x)) + torch::sin(2 * M_PI * (2 * z - 2 * y + 2 * x));
  auto high = torch::cos(2 * M_PI * 5 * z) + torch::sin(2 * M_PI * (1 * z + 4 * y));
  auto out = conv->forward((low + high).view({1, 1, nz, ny, nx}));
  EXPECT_TRUE(torch::allclose(out.view({nz, ny, nx}), low, 1e-12, 1e-12));
  FNO model(FNOOptions(2, 1).modes({3}).dim(3).width(4).projection_channels(8));
  torch::NoGradGuard g;
  EXPECT_EQ(model->forward(torch::randn({1, 2, 8, 7, 6})).sizes(), (std::vector<std::int64_t>{1, 1, 8, 7, 6}));
}

TEST(FNO, SpectralConvGradientMatchesFiniteDifferences) {
  torch::manual_seed(7);
  SpectralConv conv(2, 3, std::vector<std::int64_t>{3, 2});
  conv->to(torch::kDouble);
  auto x = torch::randn({2, 2, 8, 7}, torch::kDouble).requires_grad_(true);
  auto probe = torch::randn({2, 3, 8, 7}, torch::kDouble);
  auto loss = [&] { return (conv->forward(x) * probe).sum(); };
  loss().backward();
  auto gx = x.grad().clone();
  auto gw = conv->weight(1).grad().clone();
  const double h = 1e-6;
  torch::NoGradGuard guard;
  auto fd = [&](at::Tensor t, std::int64_t i) {
    auto flat = t.view({-1});
    const double v = flat[i].item<double>();
    flat[i] = v + h;
    const double lp = loss().item<double>();
    flat[i] = v - h;
    const double lm = loss().item<double>();
    flat[i] = v;
    return (lp - lm) / (2 * h);
  };
  for (std::int64_t i : {0L, 17L, 55L, 111L, 223L}) EXPECT_NEAR(fd(x.detach(), i), gx.view({-1})[i].item<double>(), 1e-7) << i;
  for (std::int64_t i : {0L, 5L, 36L, 71L}) EXPECT_NEAR(fd(conv->weight(1).detach(), i), gw.view({-1})[i].item<double>(), 1e-7) << i;
}

TEST(FNO, EvaluatesAtOtherResolutionsAndWithDomainPadding) {
  torch::manual_seed(8);
  FNO model(FNOOptions(1, 1).modes({4, 4}).width(8).projection_channels(16));
  FNO padded(FNOOptions(1, 1).modes({4, 4}).width(8).projection_channels(16).domain_padding(0.1));
  torch::NoGradGuard guard;
  for (int n : {16, 24, 33}) {
    auto x = torch::randn({2, 1, n, n + 1});
    EXPECT_EQ(model->forward(x).sizes(), (std::vector<std::int64_t>{2, 1, n, n + 1}));
    EXPECT_EQ(padded->forward(x).sizes(), (std::vector<std::int64_t>{2, 1, n, n + 1}));
  }
  FNO m1(FNOOptions(2, 3).modes({5}).width(6));
  EXPECT_EQ(m1->forward(torch::randn({4, 2, 40})).sizes(), (std::vector<std::int64_t>{4, 3, 40}));
}

TEST(FNO, BadInputIsRejectedClearly) {
  FNO model(FNOOptions(1, 1).modes({6, 6}).width(4));
  EXPECT_THROW_MSG(model->forward(torch::randn({1, 1, 8, 16})), "needs at least 12 points");
  EXPECT_THROW_MSG(model->forward(torch::randn({1, 2, 16, 16})), "built for 1 input channels");
  EXPECT_THROW_MSG(model->forward(torch::randn({1, 1, 16})), "expects input [batch, 1, spatial(2)]");
  EXPECT_THROW_MSG(FNOOptions::from_config({{"modes", "12,x"}}), "expected an integer");
  auto c = FNOOptions(1, 1).modes({12, 12}).domain_padding(0.125).to_config();
  EXPECT_EQ(FNOOptions::from_config(c).to_config(), c);
}
