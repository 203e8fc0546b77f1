// embed::OnlineTrainer: the loss of a small regression falls, a caller-computed loss is the
// same step as the built-in one, options come from a YAML file, resume is exact bit for bit
// (TorchScript and PhysML models), and a NaN step leaves the parameters unchanged.
#include "embed_fixtures.hpp"
#include "physml/core/options.hpp"
#include "physml/embed/model.hpp"
#include "physml/embed/online_trainer.hpp"
#include "physml/operators/fno.hpp"
#include "test_util.hpp"

#include <torch/torch.h>

#include <fstream>

using namespace physml;
using namespace physml::embed;
using physml::test::embed_fixture;

namespace {

/// x [n, 3] uniform in [-1, 1], y = [sin(2 x0) + 0.5 x1 x2, cos(x1) - x2] (a fixed generator).
std::pair<at::Tensor, at::Tensor> regression_batch(std::int64_t n, std::uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  auto x = torch::rand({n, 3}, gen) * 2 - 1;
  auto y = torch::stack({torch::sin(2 * x.select(1, 0)) + 0.5 * x.select(1, 1) * x.select(1, 2),
                         torch::cos(x.select(1, 1)) - x.select(1, 2)},
                        1);
  return {x, y};
}

bool same_parameters(const Model& a, const Model& b) {
  auto pa = a.named_tensors(), pb = b.named_tensors();
  if (pa.size() != pb.size()) return false;
  for (std::size_t i = 0; i < pa.size(); ++i)
    if (pa[i].first != pb[i].first || !torch::equal(pa[i].second, pb[i].second)) return false;
  return true;
}

}  // namespace

TEST(EmbedOnlineTrainer, LossOfASmallRegressionFalls) {
  auto model = Model::load(embed_fixture("mlp.pt"));
  OnlineTrainerOptions o;
  auto s = o.schedule();
  s.lr = 1e-2;
  o.schedule(s);
  OnlineTrainer trainer(model, o);
  double first = 0, last = 0;
  for (int k = 0; k < 150; ++k) {
    auto [x, y] = regression_batch(32, 100 + k);
    const double loss = trainer.step(x, y);
    if (k == 0) first = loss;
    last = loss;
  }
  EXPECT_EQ(trainer.steps(), 150);
  // Held-out error against the error of the untrained model.
  auto [xv, yv] = regression_batch(256, 7);
  auto untrained = Model::load(embed_fixture("mlp.pt"));
  const double before = torch::mse_loss(untrained.forward(xv), yv).item<double>();
  const double after = torch::mse_loss(model.forward(xv), yv).item<double>();
  EXPECT_LT(last, 0.2 * first) << "first " << first << " last " << last;
  EXPECT_LT(after, 0.2 * before) << "held-out mse before " << before << " after " << after;
}

TEST(EmbedOnlineTrainer, CallerComputedLossIsTheSameStep) {
  auto a = Model::load(embed_fixture("mlp.pt"));
  auto b = Model::load(embed_fixture("mlp.pt"));
  OnlineTrainer ta(a), tb(b);
  for (int k = 0; k < 5; ++k) {
    auto [x, y] = regression_batch(16, 300 + k);
    const double la = ta.step(x, y);
    const double lb = tb.step([&, x = x, y = y](Model& m) { return torch::mse_loss(m.forward_with_grad({x})[0], y); });
    EXPECT_EQ(la, lb);
  }
  EXPECT_TRUE(same_parameters(a, b));
}

TEST(EmbedOnlineTrainer, OptionsFromAYamlFile) {
  const auto dir = physml::test::scratch_dir();
  const auto path = (dir / "online.yaml").string();
  std::ofstream(path) << "online:\n  lr: 0.05\n  grad_clip: 0.5\n  optimizer: adamw\n  total_steps: 40\n"
                         "  schedule: cosine\n  checkpoint_every: 7\n";
  physml::test::OptionsDatabase db;
  Options root("", db.db);
  root.insert_file(path);
  auto o = OnlineTrainerOptions().set_from_options(Options("online_", db.db));
  EXPECT_DOUBLE_EQ(o.schedule().lr, 0.05);
  EXPECT_EQ(o.schedule().type, "cosine");
  EXPECT_DOUBLE_EQ(o.grad_clip(), 0.5);
  EXPECT_EQ(o.optimizer(), "adamw");
  EXPECT_EQ(o.total_steps(), 40);
  EXPECT_EQ(o.checkpoint_every(), 7);
  EXPECT_TRUE(unused_options(db.db).empty());
  auto model = Model::load(embed_fixture("mlp.pt"));
  OnlineTrainer t(model, o);
  EXPECT_DOUBLE_EQ(t.learning_rate(), 0.05);  // cosine at step 0
}

TEST(EmbedOnlineTrainer, ResumeIsExactBitForBitTorchScript) {
  const auto dir = physml::test::scratch_dir();
  OnlineTrainerOptions o;
  o.grad_clip(0.1).total_steps(12);
  auto s = o.schedule();
  s.type = "cosine";
  s.lr = 5e-3;
  o.schedule(s);
  auto whole = Model::load(embed_fixture("mlp.pt"));
  {
    OnlineTrainer t(whole, o);
    for (int k = 0; k < 12; ++k) {
      auto [x, y] = regression_batch(16, 500 + k);
      t.step(x, y);
    }
  }
  const auto ckpt = (dir / "online.h5").string();
  {
    auto first = Model::load(embed_fixture("mlp.pt"));
    OnlineTrainer t(first, o.checkpoint(ckpt).checkpoint_every(6));
    for (int k = 0; k < 6; ++k) {
      auto [x, y] = regression_batch(16, 500 + k);
      t.step(x, y);
    }
  }  // "interrupted" after the checkpoint of step 6
  auto resumed = Model::load(embed_fixture("mlp.pt"));
  OnlineTrainer t(resumed, o.checkpoint("").checkpoint_every(0));
  t.resume(ckpt);
  EXPECT_EQ(t.steps(), 6);
  for (int k = 6; k < 12; ++k) {
    auto [x, y] = regression_batch(16, 500 + k);
    t.step(x, y);
  }
  EXPECT_TRUE(same_parameters(whole, resumed));
  // The checkpoint also loads as a model: the TorchScript source with the trained weights.
  auto from_checkpoint = Model::load(ckpt);
  EXPECT_EQ(from_checkpoint.format(), ModelFormat::TorchScript);
  auto x = test::python_reference("mlp_x");
  EXPECT_FALSE(torch::equal(from_checkpoint.forward(x), Model::load(embed_fixture("mlp.pt")).forward(x)));
}

TEST(EmbedOnlineTrainer, ResumeIsExactBitForBitPhysMLModel) {
  const auto dir = physml::test::scratch_dir();
  auto make = [] {
    torch::manual_seed(3);
    operators::FNO fno(operators::FNOOptions(1, 1).modes({4}).width(6).layers(2).projection_channels(8));
    return Model(fno.ptr());
  };
  auto batch = [](int k) {
    auto gen = at::detail::createCPUGenerator(900 + k);
    auto x = torch::rand({4, 1, 16}, gen);
    return std::make_pair(x, torch::roll(x, 1, 2) * 0.5);
  };
  OnlineTrainerOptions o;
  o.loss("l2").grad_clip(1.0);
  auto whole = make();
  {
    OnlineTrainer t(whole, o);
    for (int k = 0; k < 6; ++k) t.step(batch(k).first, batch(k).second);
  }
  const auto ckpt = (dir / "fno_online.h5").string();
  {
    auto first = make();
    OnlineTrainer t(first, o);
    for (int k = 0; k < 3; ++k) t.step(batch(k).first, batch(k).second);
    t.save(ckpt);
  }
  auto resumed = make();
  OnlineTrainer t(resumed, o);
  t.resume(ckpt);
  for (int k = 3; k < 6; ++k) t.step(batch(k).first, batch(k).second);
  EXPECT_TRUE(same_parameters(whole, resumed));
}

TEST(EmbedOnlineTrainer, NonFiniteStepLeavesParametersUnchangedAndErrorsNameTheProblem) {
  auto model = Model::load(embed_fixture("mlp.pt"));
  auto reference = Model::load(embed_fixture("mlp.pt"));
  OnlineTrainer t(model);
  auto [x, y] = regression_batch(8, 1);
  auto bad = y.clone();
  bad[3][1] = std::numeric_limits<float>::infinity();
  EXPECT_THROW(t.step(x, bad), NonFiniteError);
  EXPECT_THROW(t.step([&, x = x](Model& m) { return m.forward_with_grad({x})[0].sum() * std::nan(""); }),
               NonFiniteError);
  EXPECT_EQ(t.steps(), 0);
  EXPECT_TRUE(same_parameters(model, reference));
  EXPECT_THROW_MSG(t.step(x, y.narrow(1, 0, 1)), "target 0 has shape [8, 1], the model's output 0 has shape [8, 2]");
  EXPECT_THROW_MSG(t.step(x, y.to(torch::kFloat64)), "target 0 has dtype Double");
  EXPECT_THROW_MSG(t.resume((physml::test::scratch_dir() / "none.h5").string()), "does not exist");
}
