// Sparse sampling and connected radius graphs (GIOROM's sparse graphs): random subsets are
// distinct, uniform-looking and seed-determined; farthest-point sampling is greedy max-min;
// components agree with a flood fill; the radius enlargement yields one component.
#include "physml/mesh/sampling.hpp"
#include "test_util.hpp"

#include <torch/torch.h>

#include <set>

namespace mesh = physml::mesh;

TEST(Sampling, RandomSampleIsDistinctSortedAndDependsOnTheSeedOnly) {
  const auto a = mesh::random_sample(1000, 100, 7), b = mesh::random_sample(1000, 100, 7);
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_FALSE(torch::equal(a, mesh::random_sample(1000, 100, 8)));
  const auto v = std::vector<int64_t>(a.data_ptr<int64_t>(), a.data_ptr<int64_t>() + a.numel());
  EXPECT_EQ(std::set<int64_t>(v.begin(), v.end()).size(), 100u);
  EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));
  EXPECT_GE(v.front(), 0);
  EXPECT_LT(v.back(), 1000);
  // Every index equally likely: over 2000 draws of 5 of 10, each index is chosen ~1000 times
  // (binomial sd ~22); 6 sd bounds.
  std::vector<int> count(10, 0);
  for (std::uint64_t s = 0; s < 2000; ++s) {
    const auto d = mesh::random_sample(10, 5, s);
    for (int64_t i = 0; i < 5; ++i) ++count[static_cast<size_t>(d[i].item<int64_t>())];
  }
  for (int c : count) EXPECT_NEAR(c, 1000, 135);
  EXPECT_EQ(mesh::random_sample(5, 5, 1).numel(), 5);
  EXPECT_THROW_MSG(mesh::random_sample(5, 6, 1), "cannot draw 6 distinct indices from 5");
}

TEST(Sampling, FarthestPointSampleIsGreedyMaxMin) {
  auto g = at::make_generator<at::CPUGeneratorImpl>(3);
  const auto x = torch::rand({300, 3}, g, torch::kDouble);
  const auto idx = mesh::farthest_point_sample(x, 20, 5);
  ASSERT_EQ(idx.numel(), 20);
  EXPECT_EQ(idx[0].item<int64_t>(), 5);
  // Independent check: each choice maximises the distance to the points chosen before it.
  for (int64_t s = 1; s < 20; ++s) {
    const auto chosen = x.index_select(0, idx.slice(0, 0, s));
    const auto dmin = torch::cdist(x, chosen).amin(1);
    EXPECT_NEAR(dmin[idx[s].item<int64_t>()].item<double>(), dmin.max().item<double>(), 1e-12) << s;
  }
  // On a line, the first three choices from the left end are the right end and the middle.
  const auto line = torch::linspace(0, 1, 11, torch::kDouble).unsqueeze(1);
  const auto l = mesh::farthest_point_sample(line, 3, 0);
  EXPECT_EQ(l[1].item<int64_t>(), 10);
  EXPECT_EQ(l[2].item<int64_t>(), 5);
  EXPECT_THROW_MSG(mesh::farthest_point_sample(x, 301), "cannot choose 301 of 300");
  EXPECT_THROW_MSG(mesh::farthest_point_sample(x, 2, 300), "first index 300");
}

TEST(Sampling, ComponentsOfTwoClustersAndIsolatedPoints) {
  // 0-1-2 chained, 3-4 joined, 5 alone.
  const auto e = torch::tensor({0, 1, 3, 1, 2, 4}, torch::kLong).view({2, 3});  // sources; targets
  const auto c = mesh::connected_components(e, 6);
  EXPECT_EQ(c.count, 3);
  EXPECT_TRUE(torch::equal(c.labels, torch::tensor({0, 0, 0, 1, 1, 2}, torch::kLong)));
  EXPECT_THROW_MSG(mesh::connected_components(e, 4), "outside [0, 4)");
}

TEST(Sampling, RadiusEnlargementYieldsOneComponent) {
  // Two clusters 0.5 apart: radius 0.05 gives 2+ components; the enlarged radius joins them.
  auto g = at::make_generator<at::CPUGeneratorImpl>(5);
  auto a = torch::rand({40, 2}, g, torch::kDouble) * 0.1;
  auto b = torch::rand({40, 2}, g, torch::kDouble) * 0.1 + 0.5;
  const auto x = torch::cat({a, b});
  ASSERT_GT(mesh::connected_components(mesh::radius_graph(x, 0.05), 80).count, 1);
  const auto cg = mesh::connected_radius_graph(x, 0.05, mesh::GraphOptions().loop(true), 1.25);
  EXPECT_EQ(mesh::connected_components(cg.edge_index, 80).count, 1);
  EXPECT_GT(cg.enlargements, 0);
  EXPECT_NEAR(cg.radius, 0.05 * std::pow(1.25, static_cast<double>(cg.enlargements)), 1e-12);
  // The radius before the last enlargement was not enough (the enlargement stops at the first connected radius).
  EXPECT_GT(mesh::connected_components(mesh::radius_graph(x, cg.radius / 1.25), 80).count, 1);
  EXPECT_THROW_MSG(mesh::connected_radius_graph(x, 0.05, {}, 1.25, 0.2), "components");
  EXPECT_THROW_MSG(mesh::connected_radius_graph(x, 0.05, {}, 1.0), "growth 1 must be > 1");
}
