#include "test_util.hpp"

#include "physml/core/error.hpp"

#include "physml/mesh/particles.hpp"

#include <torch/torch.h>

using physml::mesh::ParticleSet;

TEST(ParticleSet, HoldsPositionsVelocitiesAndAttributes) {
  auto x = torch::rand({10, 3}, torch::kDouble);
  ParticleSet p(x);
  EXPECT_EQ(p.size(), 10);
  EXPECT_EQ(p.dim(), 3);
  EXPECT_TRUE(torch::equal(p.velocities(), torch::zeros({10, 3}, torch::kDouble)));
  EXPECT_EQ(p.positions().data_ptr(), x.data_ptr());  // no copy
  p.set("mass", torch::full({10}, 2.0, torch::kDouble))
      .set("F", torch::eye(3, torch::kDouble).expand({10, 3, 3}).clone());
  EXPECT_TRUE(p.has("mass"));
  EXPECT_FALSE(p.has("volume"));
  EXPECT_EQ(p.names(), (std::vector<std::string>{"F", "mass"}));
  EXPECT_DOUBLE_EQ(p.get("mass").sum().item<double>(), 20.0);
  p.erase("mass");
  EXPECT_FALSE(p.has("mass"));
}

TEST(ParticleSet, SelectGathersEveryTensor) {
  auto x = torch::arange(12, torch::kFloat).reshape({6, 2});
  ParticleSet p(x, -x);
  p.set("id", torch::arange(6, torch::kLong));
  auto idx = torch::tensor({4, 1}, torch::kLong);
  auto q = p.select(idx);
  EXPECT_EQ(q.size(), 2);
  EXPECT_TRUE(torch::equal(q.positions(), torch::tensor({8.f, 9.f, 2.f, 3.f}).reshape({2, 2})));
  EXPECT_TRUE(torch::equal(q.velocities(), -q.positions()));
  EXPECT_TRUE(torch::equal(q.get("id"), idx));
  auto c = p.to(torch::kCPU);
  EXPECT_EQ(c.device(), torch::Device(torch::kCPU));
  EXPECT_EQ(c.names(), p.names());
}

TEST(ParticleSet, BadInputGivesClearErrors) {
  EXPECT_THROW_MSG(ParticleSet(torch::rand({5})), "positions must have shape [N, d] with d in 1..3, got [5]");
  EXPECT_THROW_MSG(ParticleSet(torch::rand({5, 4})), "d in 1..3");
  EXPECT_THROW_MSG(ParticleSet(torch::ones({5, 2}, torch::kLong)), "positions must be a floating-point tensor");
  EXPECT_THROW_MSG(ParticleSet(torch::rand({5, 2}), torch::rand({5, 3})), "velocities must have shape [5, 2]");
  ParticleSet p(torch::rand({5, 2}));
  EXPECT_THROW_MSG(p.set("mass", torch::ones({4})), "attribute 'mass' must have N = 5 rows");
  EXPECT_THROW_MSG(p.set("mass", torch::tensor(1.0)), "must have N = 5 rows");
  EXPECT_THROW_MSG(p.set("positions", torch::ones({5, 2})), "reserved");
  EXPECT_THROW_MSG(p.set_positions(torch::rand({6, 2})), "new positions must have shape [5, 2]");
  p.set("volume", torch::ones({5}));
  EXPECT_THROW_MSG(p.get("mass"), "no attribute 'mass' (attributes: volume)");
  EXPECT_THROW_MSG(p.select(torch::tensor({0, 5}, torch::kLong)), "indices must lie in [0, 5)");
}
