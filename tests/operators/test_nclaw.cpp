// NCLaw networks (Ma et al., ICML 2023, the official networks): weight counts of the official models,
// the 13 features in their order, rotation equivariance, exact rest state, gradients against
// finite differences (also finite at repeated singular values, where LibTorch's SVD backward
// is not), registry and checkpoint round trips.
#include "physml/operators/nclaw.hpp"

#include "physml/operators/checkpoint.hpp"
#include "physml/operators/registry.hpp"
#include "test_util.hpp"

#include <torch/torch.h>

using namespace physml::operators;

namespace {

std::int64_t count_parameters(const torch::nn::Module& m) {
  std::int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

const auto kDouble = torch::TensorOptions().dtype(torch::kDouble);

/// Random rotations [N, 3, 3] (QR of Gaussian matrices, sign-fixed to det +1).
at::Tensor random_rotations(std::int64_t N) {
  auto [Q, R] = torch::linalg_qr(torch::randn({N, 3, 3}, kDouble));
  Q = Q * torch::sign(torch::diagonal(R, 0, 1, 2)).unsqueeze(1);
  auto det = torch::linalg_det(Q);
  auto flip = torch::ones({N, 3}, kDouble);
  flip.select(1, 2).copy_(det);
  return Q * flip.unsqueeze(1);
}

/// Deformation gradients near I [N, 3, 3], det > 0 (the first row flipped where it was < 0).
at::Tensor random_F(std::int64_t N, double scale = 0.2) {
  auto F = torch::eye(3, kDouble) + scale * torch::randn({N, 3, 3}, kDouble);
  F.select(1, 0).mul_(torch::sign(torch::linalg_det(F)).unsqueeze(1));
  return F;
}

double max_abs(const at::Tensor& t) { return t.abs().max().item<double>(); }

}  // namespace

TEST(NCLaw, WeightCountsOfTheOfficialModels) {
  // 13*64 + 64*64 + 64*9 = 5,504, no biases (NCLaw's InvariantFullMeta*, no_bias: True).
  NCLawElastic elastic;
  NCLawPlastic plastic;
  EXPECT_EQ(count_parameters(*elastic), 5504);
  EXPECT_EQ(count_parameters(*plastic), 5504);
  const auto params = elastic->named_parameters();
  ASSERT_EQ(params.size(), 3u);
  EXPECT_EQ(params["weight0"].sizes(), (std::vector<std::int64_t>{64, 13}));
  EXPECT_EQ(params["weight1"].sizes(), (std::vector<std::int64_t>{64, 64}));
  EXPECT_EQ(params["weight2"].sizes(), (std::vector<std::int64_t>{9, 64}));
  // Baseline on vec(F - I) with biases: 9*64+64 + 64*64+64 + 64*9+9 = 5,385.
  EXPECT_EQ(count_parameters(*NCLawUnconstrained()), 5385);
  EXPECT_EQ(count_parameters(*NCLawUnconstrained(NCLawUnconstrainedOptions().bias(false))), 5248);
  EXPECT_EQ(count_parameters(*NCLawElastic(NCLawElasticOptions().hidden({32}))), 13 * 32 + 32 * 9);
}

TEST(NCLaw, FeaturesInNCLawOrder) {
  torch::manual_seed(1);
  const auto F = random_F(4, 0.3);
  const auto in = nclaw_features(F);
  ASSERT_EQ(in.features.sizes(), (std::vector<std::int64_t>{4, 13}));
  for (std::int64_t n = 0; n < 4; ++n) {
    const auto Fn = F[n];
    // sigma - 1 (descending), vec(F^T F - I) row-major, det F - 1.
    const auto sigma = std::get<1>(torch::linalg_svd(Fn, false));
    const auto C = Fn.t().matmul(Fn) - torch::eye(3, kDouble);
    const auto expect = torch::cat({sigma - 1, C.reshape({9}), (torch::linalg_det(Fn) - 1).reshape({1})});
    EXPECT_TRUE(torch::allclose(in.features[n], expect, 1e-12, 1e-12)) << in.features[n] << expect;
    // R = U V^T is the polar rotation: R^T F symmetric positive definite, det R = 1.
    const auto S = in.rotation[n].t().matmul(Fn);
    EXPECT_LT(max_abs(S - S.t()), 1e-12);
    EXPECT_NEAR(torch::linalg_det(in.rotation[n]).item<double>(), 1.0, 1e-12);
  }
}

TEST(NCLaw, ElasticIsRotationEquivariantInFloat64) {
  torch::manual_seed(2);
  NCLawElastic net;
  net->to(torch::kDouble);
  const std::int64_t N = 64;
  const auto F = random_F(N, 0.3), Q = random_rotations(N);
  const auto P = net->first_piola(F), tau = net->forward(F);
  ASSERT_GT(max_abs(P), 1e-3);  // a nontrivial output
  EXPECT_LT(max_abs(net->first_piola(Q.matmul(F)) - Q.matmul(P)), 1e-12 * max_abs(P));
  EXPECT_LT(max_abs(net->forward(Q.matmul(F)) - Q.matmul(tau).matmul(Q.transpose(1, 2))), 1e-12 * max_abs(tau));
  EXPECT_LT(max_abs(tau - P.matmul(F.transpose(1, 2))), 1e-14);
  // The baseline has no such structure: the same check fails by far.
  NCLawUnconstrained plain;
  plain->to(torch::kDouble);
  const auto Pu = plain->forward(F);
  EXPECT_GT(max_abs(plain->forward(Q.matmul(F)) - Q.matmul(Pu).matmul(Q.transpose(1, 2))), 1e-3 * max_abs(Pu));
}

TEST(NCLaw, PlasticIsRotationEquivariantInFloat64) {
  torch::manual_seed(3);
  NCLawPlastic net;
  net->to(torch::kDouble);
  const std::int64_t N = 64;
  const auto F = random_F(N, 0.3), Q = random_rotations(N);
  const auto Fn = net->forward(F);
  const auto dF = Fn - F;
  ASSERT_GT(max_abs(dF), 1e-6);
  EXPECT_LT(max_abs(dF), 1e-2);  // alpha = 1e-3 times an O(1) network output
  EXPECT_LT(max_abs(net->forward(Q.matmul(F)) - Q.matmul(Fn)), 1e-14);
  // Scale alpha: twice alpha, twice the correction (same weights).
  NCLawPlastic net2(NCLawPlasticOptions().alpha(2e-3));
  net2->to(torch::kDouble);
  {
    torch::NoGradGuard g;
    for (const auto& p : net->named_parameters()) net2->named_parameters()[p.key()].copy_(p.value());
  }
  EXPECT_LT(max_abs(net2->forward(F) - F - 2 * dF), 1e-15);
}

TEST(NCLaw, RestStateIsExact) {
  torch::manual_seed(4);
  for (auto dtype : {torch::kFloat, torch::kDouble}) {
    NCLawElastic elastic;
    NCLawPlastic plastic;
    elastic->to(dtype);
    plastic->to(dtype);
    const auto I = torch::eye(3, torch::dtype(dtype)).expand({5, 3, 3});
    EXPECT_EQ(max_abs(elastic->first_piola(I)), 0.0);
    EXPECT_EQ(max_abs(elastic->forward(I)), 0.0);
    EXPECT_TRUE(torch::equal(plastic->forward(I), I));
  }
  // At a pure rotation the features vanish to rounding: stress ~ 0, F_new ~ F.
  NCLawElastic elastic;
  NCLawPlastic plastic;
  elastic->to(torch::kDouble);
  plastic->to(torch::kDouble);
  const auto Q = random_rotations(16);
  EXPECT_LT(max_abs(elastic->forward(Q)), 1e-14);
  EXPECT_LT(max_abs(plastic->forward(Q) - Q), 1e-16);
  // ... and not away from rest (so the checks above can fail).
  EXPECT_GT(max_abs(elastic->forward(random_F(16))), 1e-3);
}

TEST(NCLaw, SignedSvdGradientMatchesFiniteDifferences) {
  torch::manual_seed(5);
  const std::int64_t N = 6;
  const auto F0 = random_F(N, 0.3);
  const auto G = torch::randn({N, 3, 3}, kDouble), g = torch::randn({N, 3}, kDouble);
  auto loss = [&](const at::Tensor& F) {
    auto [U, S, V] = batch_signed_svd(F);
    return (G * U.matmul(V.transpose(1, 2))).sum() + (g * S).sum();
  };
  auto F = F0.clone().requires_grad_(true);
  loss(F).backward();
  const auto grad = F.grad();
  auto fd = torch::zeros_like(F0);
  const double h = 1e-6;
  for (std::int64_t k = 0; k < N * 9; ++k) {
    auto Fp = F0.clone(), Fm = F0.clone();
    Fp.view({-1})[k] += h;
    Fm.view({-1})[k] -= h;
    fd.view({-1})[k] = (loss(Fp) - loss(Fm)).item<double>() / (2 * h);
  }
  EXPECT_LT(max_abs(grad - fd), 1e-7 * max_abs(fd));
  // At exactly repeated singular values (F = I, diag(2, 2, 1), a rotation) a loss through R and
  // a symmetric function of sigma is smooth in F: the autograd node matches finite differences.
  const auto Fr = torch::stack({torch::eye(3, kDouble), torch::diag(torch::tensor({2.0, 2.0, 1.0}, kDouble)),
                                random_rotations(1)[0]});
  auto loss_r = [&](const at::Tensor& F) {
    auto [U, S, V] = batch_signed_svd(F);
    return (G.narrow(0, 0, 3) * U.matmul(V.transpose(1, 2))).sum() + S.pow(3).sum();
  };
  auto Fg = Fr.clone().requires_grad_(true);
  loss_r(Fg).backward();
  auto fd_r = torch::zeros_like(Fr);
  for (std::int64_t k = 0; k < 27; ++k) {
    auto Fp = Fr.clone(), Fm = Fr.clone();
    Fp.view({-1})[k] += h;
    Fm.view({-1})[k] -= h;
    fd_r.view({-1})[k] = (loss_r(Fp) - loss_r(Fm)).item<double>() / (2 * h);
  }
  ASSERT_TRUE(torch::isfinite(Fg.grad()).all().item<bool>());
  EXPECT_LT(max_abs(Fg.grad() - fd_r), 1e-8 * max_abs(fd_r)) << Fg.grad() << fd_r;
  // Reconstruction and the sign fix.
  auto [U, S, V] = batch_signed_svd(F0);
  EXPECT_LT(max_abs(U.matmul(torch::diag_embed(S)).matmul(V.transpose(1, 2)) - F0), 1e-14);
  EXPECT_LT(max_abs(torch::linalg_det(U) - 1), 1e-14);
  EXPECT_LT(max_abs(torch::linalg_det(V) - 1), 1e-14);
  const auto Finv = F0.clone();
  Finv.select(1, 0).mul_(-1);  // det < 0
  EXPECT_TRUE((std::get<1>(batch_signed_svd(Finv)).select(1, 2) < 0).all().item<bool>());
}

TEST(NCLaw, ElasticGradientsMatchFiniteDifferencesAndStayFiniteAtRest) {
  torch::manual_seed(6);
  NCLawElastic net;
  net->to(torch::kDouble);
  const std::int64_t N = 4;
  const auto F0 = random_F(N, 0.3);
  const auto W = torch::randn({N, 3, 3}, kDouble);
  auto loss = [&](const at::Tensor& F) { return (W * net->forward(F)).sum(); };
  auto F = F0.clone().requires_grad_(true);
  loss(F).backward();
  auto fd = torch::zeros_like(F0);
  const double h = 1e-6;
  {
    torch::NoGradGuard guard;
    for (std::int64_t k = 0; k < N * 9; ++k) {
      auto Fp = F0.clone(), Fm = F0.clone();
      Fp.view({-1})[k] += h;
      Fm.view({-1})[k] -= h;
      fd.view({-1})[k] = (loss(Fp) - loss(Fm)).item<double>() / (2 * h);
    }
  }
  EXPECT_LT(max_abs(F.grad() - fd), 1e-6 * max_abs(fd));
  // Exactly repeated singular values (F = I, diag(2, 2, 1)): the gradients of a training loss
  // with respect to F and to the weights are finite (LibTorch's SVD backward gives inf/NaN).
  net->zero_grad();
  auto Fr = torch::stack({torch::eye(3, kDouble), torch::diag(torch::tensor({2.0, 2.0, 1.0}, kDouble)),
                          torch::diag(torch::tensor({1.0, 1.1, 1.1}, kDouble))})
                .requires_grad_(true);
  NCLawPlastic net_p;
  net_p->to(torch::kDouble);
  auto l = (net->forward(Fr) * torch::randn({3, 3, 3}, kDouble)).sum() + net_p->forward(Fr).square().sum();
  l.backward();
  EXPECT_TRUE(torch::isfinite(Fr.grad()).all().item<bool>());
  for (const auto& p : net->parameters()) {
    EXPECT_TRUE(torch::isfinite(p.grad()).all().item<bool>());
  }
  for (const auto& p : net_p->parameters()) EXPECT_TRUE(torch::isfinite(p.grad()).all().item<bool>());
  EXPECT_GT(max_abs(net->parameters()[0].grad()), 0.0);
}

TEST(NCLaw, RegistryConfigAndCheckpointRoundTrip) {
  const auto dir = physml::test::scratch_dir();
  torch::manual_seed(7);
  const auto F = random_F(32, 0.3).to(torch::kFloat);
  std::vector<std::shared_ptr<Model>> models = {
      std::make_shared<NCLawElasticImpl>(), std::make_shared<NCLawPlasticImpl>(NCLawPlasticOptions().alpha(2.5e-3)),
      std::make_shared<NCLawUnconstrainedImpl>(NCLawUnconstrainedOptions().plastic(true).hidden({16, 8}))};
  for (const auto& m : models) {
    const auto path = (dir / (m->type() + ".h5")).string();
    save(path, *m);
    auto back = load(path);
    EXPECT_EQ(back->type(), m->type());
    EXPECT_EQ(back->config(), m->config());
    EXPECT_TRUE(torch::equal(back->forward(F), m->forward(F))) << m->type();
    // Through the registry too.
    auto fresh = create(m->type(), m->config());
    EXPECT_EQ(count_parameters(*fresh), count_parameters(*m));
  }
  EXPECT_EQ(NCLawPlasticOptions::from_config(models[1]->config()).alpha(), 2.5e-3);
  auto names = registered_models();
  for (const char* n : {"nclaw_elastic", "nclaw_plastic", "nclaw_unconstrained"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  EXPECT_THROW_MSG(create("nclaw_elastic", {{"alpha", "1e-3"}}), "nclaw_elastic: unknown option 'alpha'");
  EXPECT_THROW_MSG(create("nclaw_plastic", {{"alpha", "big"}}), "expected a real number, got 'big'");
}

TEST(NCLaw, BadInputsAreErrors) {
  NCLawElastic net;
  EXPECT_THROW_MSG(net->forward(torch::zeros({4, 9})),
                   "expects deformation gradients F of shape [N, 3, 3], got [4, 9]");
  EXPECT_THROW_MSG(net->forward(torch::eye(3, kDouble).expand({2, 3, 3})),
                   "F has dtype Double but the network's weights are Float");
  auto F = torch::eye(3).expand({3, 3, 3}).clone();
  F[1][0][0] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW_MSG(net->forward(F), "batch_signed_svd: F[1] has non-finite entries");
  EXPECT_THROW_MSG(NCLawElastic(NCLawElasticOptions().hidden({})), "hidden must list at least one layer width");
}

TEST(NCLaw, StressScaleMultipliesTheStressAndKeepsItsStructure) {
  torch::manual_seed(3);
  NCLawElastic unit;
  unit->to(torch::kDouble);
  NCLawElastic scaled(NCLawElasticOptions().stress_scale(1e4));
  scaled->to(torch::kDouble);
  {
    torch::NoGradGuard ng;
    for (std::size_t i = 0; i < unit->parameters().size(); ++i) scaled->parameters()[i].copy_(unit->parameters()[i]);
  }
  const auto F = random_F(16, 0.3);
  const auto tau1 = unit->forward(F), tau = scaled->forward(F);
  EXPECT_LT(max_abs(tau - 1e4 * tau1), 1e-10 * max_abs(tau));
  const auto Q = random_rotations(16);
  const auto rotated = scaled->forward(Q.matmul(F));
  EXPECT_LT(max_abs(rotated - Q.matmul(tau).matmul(Q.transpose(1, 2))), 1e-10 * max_abs(tau));
  EXPECT_EQ(max_abs(scaled->forward(torch::eye(3, kDouble).expand({2, 3, 3}).contiguous())), 0.0);
  // A checkpoint config written before the key existed reads as scale 1.
  EXPECT_EQ(NCLawElasticOptions::from_config({{"hidden", "64,64"}}).stress_scale(), 1.0);
  EXPECT_EQ(NCLawElasticOptions::from_config(scaled->config()).stress_scale(), 1e4);
  EXPECT_THROW_MSG(NCLawElastic(NCLawElasticOptions().stress_scale(0)), "stress_scale must be positive");
  NCLawUnconstrained u(NCLawUnconstrainedOptions().stress_scale(-1.0 + 3.0));
  EXPECT_EQ(NCLawUnconstrainedOptions::from_config(u->config()).stress_scale(), 2.0);
}

TEST(NCLaw, TheMaterialModelHoldsBothNetworksInTwoParameterGroups) {
  const auto dir = physml::test::scratch_dir();
  NCLaw law;  // NCLaw's: invariant networks, plastic, lr 0.1 for the plastic one
  EXPECT_EQ(count_parameters(*law), 2 * 5504);
  ASSERT_NE(law->plastic(), nullptr);
  const auto groups = law->parameter_groups();
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].name, "elastic");
  EXPECT_EQ(groups[0].lr_scale, 1.0);
  EXPECT_EQ(groups[1].name, "plastic");
  EXPECT_EQ(groups[1].lr_scale, 0.1);
  std::int64_t in_groups = 0;
  for (const auto& g : groups)
    for (const auto& p : g.parameters) in_groups += p.numel();
  EXPECT_EQ(in_groups, count_parameters(*law));
  // forward is the elastic law; the plastic one is the return mapping.
  torch::manual_seed(5);
  const auto F = random_F(8, 0.3).to(torch::kFloat);
  EXPECT_TRUE(torch::equal(law->forward(F), law->elastic()->forward(F)));
  EXPECT_EQ(law->plastic()->type(), "nclaw_plastic");
  // Baseline: unconstrained MLPs with biases, 5,385 each; elastic only: one group.
  NCLaw base(NCLawOptions().law("unconstrained"));
  EXPECT_EQ(count_parameters(*base), 2 * 5385);
  NCLaw jelly(NCLawOptions().plastic(false));
  EXPECT_EQ(jelly->plastic(), nullptr);
  EXPECT_EQ(jelly->parameter_groups().size(), 1u);
  // One checkpoint holds both networks.
  const auto path = (dir / "nclaw.h5").string();
  save(path, *law);
  auto back = load(path);
  ASSERT_EQ(back->type(), "nclaw");
  auto* m = dynamic_cast<NCLawImpl*>(back.get());
  ASSERT_NE(m, nullptr);
  EXPECT_TRUE(torch::equal(m->elastic()->forward(F), law->elastic()->forward(F)));
  EXPECT_TRUE(torch::equal(m->plastic()->forward(F), law->plastic()->forward(F)));
  EXPECT_THROW_MSG(NCLaw(NCLawOptions().law("spline")), "unknown law 'spline'; expected invariant or unconstrained");
  EXPECT_THROW_MSG(NCLaw(NCLawOptions().plastic_lr_scale(0)), "plastic_lr_scale must be positive");
  EXPECT_THROW_MSG(create("nclaw", {{"plastic", "maybe"}}), "plastic");
}

namespace {

/// The NCLaw laws written as a chain of LibTorch ops with LibTorch's autograd (the formulation
/// the fused per-particle kernels of nclaw.cpp replace): an independent reference for their
/// values and gradients. `elastic`: tau = R sym(X) F^T; else F + alpha R sym(X).
at::Tensor reference_law(const at::Tensor& F, const std::vector<at::Tensor>& w, bool elastic, double alpha) {
  const auto N = F.size(0);
  auto [U, S, V] = batch_signed_svd(F);
  const auto C = F.transpose(1, 2).matmul(F) - torch::eye(3, F.options());
  auto f = [&](int i, int j) { return F.select(1, i).select(1, j); };
  const auto det = f(0, 0) * (f(1, 1) * f(2, 2) - f(1, 2) * f(2, 1)) - f(0, 1) * (f(1, 0) * f(2, 2) - f(1, 2) * f(2, 0)) +
                   f(0, 2) * (f(1, 0) * f(2, 1) - f(1, 1) * f(2, 0));
  at::Tensor h = torch::cat({S - 1, C.reshape({N, 9}), (det - 1).unsqueeze(1)}, 1);
  for (std::size_t l = 0; l < w.size(); ++l) {
    h = at::linear(h, w[l]);
    if (l + 1 < w.size()) h = torch::gelu(h);
  }
  const auto X = h.reshape({N, 3, 3});
  const auto P = U.matmul(V.transpose(1, 2)).matmul(0.5 * (X + X.transpose(1, 2)));
  return elastic ? P.matmul(F.transpose(1, 2)) : F + alpha * P;
}

/// Values and gradients (F and every weight) of `net` against reference_law, for a random
/// linear loss, at F away from rest and at exactly repeated singular values.
void expect_matches_reference(const std::shared_ptr<Model>& net, bool elastic, double alpha, torch::Dtype dtype,
                              double tol) {
  torch::manual_seed(11);
  net->to(dtype);
  // Particles near rest, exactly at rest, at repeated singular values, and inverted (det < 0).
  auto inverted = random_F(4, 0.3);
  inverted.select(1, 0).mul_(-1);
  auto F0 = torch::cat({random_F(61, 0.3), torch::eye(3, kDouble).unsqueeze(0),
                        torch::diag(torch::tensor({2.0, 2.0, 1.0}, kDouble)).unsqueeze(0), inverted})
                .to(dtype);
  const auto W = torch::randn({F0.size(0), 3, 3}, kDouble).to(dtype);
  std::vector<at::Tensor> weights;
  for (const auto& p : net->parameters()) weights.push_back(p.detach().clone().requires_grad_(true));
  // The fused law gets a non-contiguous F (the same values, stored transposed).
  auto F = F0.transpose(1, 2).contiguous().transpose(1, 2).requires_grad_(true);
  ASSERT_FALSE(F.is_contiguous());
  auto Fr = F0.clone().requires_grad_(true);
  net->zero_grad();
  const auto out = net->forward(F), ref = reference_law(Fr, weights, elastic, alpha);
  const double scale = max_abs(ref - (elastic ? torch::zeros_like(ref) : Fr.detach()));
  ASSERT_GT(scale, 1e-6);  // a nontrivial output
  EXPECT_LT(max_abs(out - ref), tol * (elastic ? scale : 1.0));
  (W * out).sum().backward();
  (W * ref).sum().backward();
  ASSERT_TRUE(torch::isfinite(F.grad()).all().item<bool>());
  EXPECT_LT(max_abs(F.grad() - Fr.grad()), tol * max_abs(Fr.grad()));
  const auto params = net->parameters();
  for (std::size_t i = 0; i < params.size(); ++i) {
    ASSERT_GT(max_abs(weights[i].grad()), 0.0);
    EXPECT_LT(max_abs(params[i].grad() - weights[i].grad()), tol * max_abs(weights[i].grad())) << "weight " << i;
  }
}

}  // namespace

TEST(NCLaw, FusedLawsEqualTheLibTorchOpChainWithTheirGradients) {
  // float64 uses PhysML's GELU kernel (glibc's vector erfc/exp), float32 LibTorch's.
  for (auto dtype : {torch::kDouble, torch::kFloat}) {
    const double tol = dtype == torch::kDouble ? 1e-12 : 2e-5;
    SCOPED_TRACE(dtype == torch::kDouble ? "float64" : "float32");
    expect_matches_reference(std::make_shared<NCLawElasticImpl>(), true, 0, dtype, tol);
    expect_matches_reference(std::make_shared<NCLawPlasticImpl>(NCLawPlasticOptions().alpha(0.5)), false, 0.5, dtype,
                             tol);
  }
  // first_piola is tau's P: tau = P F^T.
  NCLawElastic net;
  net->to(torch::kDouble);
  const auto F = random_F(9, 0.3);
  EXPECT_LT(max_abs(net->first_piola(F).matmul(F.transpose(1, 2)) - net->forward(F)), 1e-13 * max_abs(net->forward(F)));
}

TEST(NCLaw, Float64GeluIsExactInTheTailsAndItsDerivativeIsAnalytic) {
  // A one-hidden-unit law whose first layer passes det F - 1 through and whose last layer puts
  // GELU of it into X_00: at F = diag(1 + x, 1, 1), det F - 1 = x and P = R diag(GELU(x), 0, 0)
  // with R a signed permutation (R = I for x > -1), so max |P| = |GELU(x)|. The kernel is
  // checked to a relative (1 + x^2) 1e-15 against glibc's scalar erfc form (x/2) erfc(-x/sqrt 2),
  // also in the far negative tail where LibTorch's 1 + erf form loses every digit; and
  // dP_00/dF_00 = GELU'(x) = Phi(x) + x phi(x) (dR/dF_00 = 0 for a diagonal stretch). The
  // relative condition number of erfc at z = -x/sqrt 2 is about 2 z^2 = x^2: the kernel's and
  // the test's roundings of z differ by an ulp, hence the tolerance. 8 values x 16 copies = 128
  // particles, so that the vector loop (not only its scalar remainder) computes them.
  NCLawElastic net(NCLawElasticOptions().hidden({1}));
  net->to(torch::kDouble);
  {
    torch::NoGradGuard g;
    net->parameters()[0].zero_();
    net->parameters()[0][0][12] = 1.0;  // h = det F - 1
    net->parameters()[1].zero_();
    net->parameters()[1][0][0] = 1.0;  // X_00 = GELU(h)
  }
  const std::vector<double> xs{-30.0, -8.0, -3.0, -0.5, 0.0, 0.7, 4.0, 40.0};
  const std::int64_t N = 16 * static_cast<std::int64_t>(xs.size());
  auto F0 = torch::eye(3, kDouble).repeat({N, 1, 1});
  for (std::int64_t i = 0; i < N; ++i) F0[i][0][0] = 1.0 + xs[static_cast<std::size_t>(i) % xs.size()];
  auto F = F0.clone().requires_grad_(true);
  const auto P = net->first_piola(F);
  P.select(1, 0).select(1, 0).sum().backward();
  const auto Pmax = std::get<0>(P.detach().abs().flatten(1).max(1));
  for (std::int64_t i = 0; i < N; ++i) {
    const double x = xs[static_cast<std::size_t>(i) % xs.size()];
    const double expect = std::abs(0.5 * x * std::erfc(-x / std::sqrt(2.0)));
    EXPECT_LE(std::abs(Pmax[i].item<double>() - expect), (1 + x * x) * 1e-15 * expect) << "x = " << x << ", particle " << i;
    if (x > -1) {
      const double dgelu = 0.5 * std::erfc(-x / std::sqrt(2.0)) + x * std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI);
      EXPECT_NEAR(F.grad()[i][0][0].item<double>(), dgelu, 1e-14 * std::max(1.0, std::abs(dgelu))) << "x = " << x;
    }
  }
  EXPECT_THROW(net->forward(torch::full({1, 3, 3}, std::nan(""), kDouble)), physml::NonFiniteError);
}
