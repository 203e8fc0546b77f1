#include "test_util.hpp"

#include "physml/core/error.hpp"

#include "physml/mesh/graph.hpp"

#include <torch/torch.h>

#include <limits>

using physml::mesh::GraphOptions;
using physml::mesh::knn_graph;
using physml::mesh::radius_graph;

namespace {

/// Pairwise squared distances [N, N] (row = target i, column = source j), all pairs, with the
/// minimum image in a periodic box of lengths `box` (empty = none). Independent of the code under test.
torch::Tensor brute_dist2(const torch::Tensor& points, const std::vector<double>& box) {
  auto x = points.to(torch::kDouble);
  auto diff = x.unsqueeze(1) - x.unsqueeze(0);  // [i, j, d] = x_i - x_j
  if (!box.empty()) {
    auto len = torch::tensor(box, torch::kDouble);
    diff = diff - len * torch::round(diff / len);
  }
  return diff.pow(2).sum(-1);
}

/// Edges j -> i with |x_i - x_j| <= r, sorted by (i, j), as [2, E] = (source, target).
torch::Tensor brute_radius(const torch::Tensor& points, double r, bool loop, const std::vector<double>& box = {}) {
  auto d2 = brute_dist2(points, box);
  auto mask = d2 <= r * r;
  if (!loop) mask.fill_diagonal_(false);
  auto nz = mask.nonzero();  // rows (i, j) in lexicographic order
  return torch::stack({nz.select(1, 1), nz.select(1, 0)});
}

/// The k nearest sources j of every target i, sorted by (i, j).
torch::Tensor brute_knn(const torch::Tensor& points, int64_t k, bool loop, const std::vector<double>& box = {}) {
  auto d2 = brute_dist2(points, box);
  if (!loop) d2.fill_diagonal_(std::numeric_limits<double>::infinity());
  auto nearest = std::get<1>(d2.sort(/*stable=*/true, /*dim=*/1, /*descending=*/false)).slice(1, 0, k);
  nearest = std::get<0>(nearest.sort(1));
  const int64_t n = points.size(0);
  auto target = torch::arange(n, torch::kLong).unsqueeze(1).expand({n, k});
  return torch::stack({nearest.reshape({-1}), target.reshape({-1})});
}

void expect_same_edges(const torch::Tensor& got, const torch::Tensor& want) {
  ASSERT_EQ(got.scalar_type(), torch::kLong);
  ASSERT_EQ(got.dim(), 2);
  ASSERT_EQ(got.size(0), 2);
  ASSERT_EQ(got.size(1), want.size(1)) << "edge count differs";
  EXPECT_TRUE(torch::equal(got, want));
}

std::vector<double> lengths(const std::vector<double>& lo, const std::vector<double>& hi) {
  std::vector<double> l;
  for (size_t a = 0; a < lo.size(); ++a) l.push_back(hi[a] - lo[a]);
  return l;
}

}  // namespace

TEST(RadiusGraph, MatchesBruteForce2DAnd3D) {
  torch::manual_seed(7);
  for (int d : {1, 2, 3}) {
    auto x = torch::rand({600, d}, torch::kDouble);
    for (double r : {0.02, 0.1, 0.35}) {
      for (bool loop : {false, true}) {
        SCOPED_TRACE("d=" + std::to_string(d) + " r=" + std::to_string(r) + " loop=" + std::to_string(loop));
        auto e = radius_graph(x, r, GraphOptions().loop(loop));
        expect_same_edges(e, brute_radius(x, r, loop));
      }
    }
  }
}

TEST(RadiusGraph, MatchesBruteForcePeriodic) {
  torch::manual_seed(8);
  const std::vector<double> lo2{-1.0, 0.0}, hi2{1.0, 0.5};
  auto x2 = torch::rand({500, 2}, torch::kDouble) * torch::tensor({2.0, 0.5}, torch::kDouble) +
            torch::tensor({-1.0, 0.0}, torch::kDouble);
  for (double r : {0.05, 0.2}) {  // 0.2 = fewer than 3 bins along y: wrapped neighbours coincide
    SCOPED_TRACE("2D r=" + std::to_string(r));
    expect_same_edges(radius_graph(x2, r, GraphOptions().periodic_box(lo2, hi2)),
                      brute_radius(x2, r, false, lengths(lo2, hi2)));
  }
  const std::vector<double> lo3{0, 0, 0}, hi3{1, 1, 1};
  auto x3 = torch::rand({800, 3}, torch::kDouble);
  expect_same_edges(radius_graph(x3, 0.15, GraphOptions().periodic_box(lo3, hi3).loop(true)),
                    brute_radius(x3, 0.15, true, lengths(lo3, hi3)));
  // Points outside the box are wrapped: shifting by whole box lengths changes nothing.
  auto shifted = x3 + torch::tensor({1.0, -2.0, 3.0}, torch::kDouble);
  expect_same_edges(radius_graph(shifted, 0.15, GraphOptions().periodic_box(lo3, hi3)),
                    radius_graph(x3, 0.15, GraphOptions().periodic_box(lo3, hi3)));
}

TEST(RadiusGraph, ClusteredDegenerateAndFloat32Inputs) {
  torch::manual_seed(9);
  // Half the points packed in a tiny corner, half spread out; tiny r caps the bin count.
  auto x = torch::cat({torch::rand({300, 3}, torch::kDouble) * 1e-3, torch::rand({300, 3}, torch::kDouble) * 100});
  for (double r : {1e-4, 1.0, 30.0}) expect_same_edges(radius_graph(x, r), brute_radius(x, r, false));
  // All points on a line in 3D (zero extent along y and z).
  auto line = torch::zeros({200, 3}, torch::kDouble);
  line.select(1, 0).copy_(torch::rand({200}, torch::kDouble));
  expect_same_edges(radius_graph(line, 0.01), brute_radius(line, 0.01, false));
  // float32 input: distances in float64 of the float32 values; result on the same device.
  auto xf = torch::rand({300, 2}, torch::kFloat);
  auto e = radius_graph(xf, 0.1);
  expect_same_edges(e, brute_radius(xf, 0.1, false));
  EXPECT_EQ(e.device(), xf.device());
  // Empty input, single point.
  EXPECT_EQ(radius_graph(torch::zeros({0, 2}), 0.1).sizes(), (std::vector<int64_t>{2, 0}));
  expect_same_edges(radius_graph(torch::zeros({1, 2}), 0.1, GraphOptions().loop(true)),
                    torch::zeros({2, 1}, torch::kLong));
}

TEST(RadiusGraph, EdgeIndexDrivesScatter) {
  // Neighbour counts through index_add over the target row equal the brute-force degrees.
  torch::manual_seed(10);
  auto x = torch::rand({400, 2}, torch::kDouble);
  auto e = radius_graph(x, 0.1);
  auto deg = torch::zeros({400}, torch::kDouble).index_add_(0, e[1], torch::ones({e.size(1)}, torch::kDouble));
  auto want = ((brute_dist2(x, {}) <= 0.01).sum(1) - 1).to(torch::kDouble);
  EXPECT_TRUE(torch::equal(deg, want));
}

TEST(KnnGraph, MatchesBruteForce) {
  torch::manual_seed(11);
  for (int d : {1, 2, 3}) {
    auto x = torch::rand({500, d}, torch::kDouble);
    for (int64_t k : {1, 6, 40}) {
      for (bool loop : {false, true}) {
        SCOPED_TRACE("d=" + std::to_string(d) + " k=" + std::to_string(k) + " loop=" + std::to_string(loop));
        auto e = knn_graph(x, k, GraphOptions().loop(loop));
        ASSERT_EQ(e.size(1), 500 * k);
        expect_same_edges(e, brute_knn(x, k, loop));
      }
    }
  }
}

TEST(KnnGraph, MatchesBruteForcePeriodicAndClustered) {
  torch::manual_seed(12);
  const std::vector<double> lo{0, 0, 0}, hi{1, 2, 1};
  auto x = torch::rand({600, 3}, torch::kDouble) * torch::tensor({1.0, 2.0, 1.0}, torch::kDouble);
  for (int64_t k : {4, 30}) {
    SCOPED_TRACE("k=" + std::to_string(k));
    expect_same_edges(knn_graph(x, k, GraphOptions().periodic_box(lo, hi)), brute_knn(x, k, false, lengths(lo, hi)));
  }
  const std::vector<double> lo2{0, 0}, hi2{1, 1};
  auto x2 = torch::rand({50, 2}, torch::kDouble);
  // k = N - 1: every other point, reached through all rings of a small periodic box.
  expect_same_edges(knn_graph(x2, 49, GraphOptions().periodic_box(lo2, hi2)), brute_knn(x2, 49, false, {1.0, 1.0}));
  auto clustered = torch::cat({torch::rand({200, 2}, torch::kDouble) * 1e-3, torch::rand({20, 2}, torch::kDouble) * 10});
  expect_same_edges(knn_graph(clustered, 8), brute_knn(clustered, 8, false));
}

TEST(Graph, BadInputGivesClearErrors) {
  auto x = torch::rand({10, 2});
  EXPECT_THROW_MSG(radius_graph(x, 0.0), "radius r must be positive and finite, got 0");
  EXPECT_THROW_MSG(radius_graph(torch::rand({10}), 0.1), "points must have shape [N, d] with d in 1..3, got [10]");
  EXPECT_THROW_MSG(radius_graph(torch::ones({4, 2}, torch::kLong), 0.1), "points must be float32 or float64");
  auto bad = x.clone();
  bad[3][1] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW_MSG(radius_graph(bad, 0.1), "points contain NaN or Inf");
  EXPECT_THROW_MSG(radius_graph(x, 0.1, GraphOptions().periodic_box({0.0}, {1.0})),
                   "periodic box needs 2 lower and upper values");
  EXPECT_THROW_MSG(radius_graph(x, 0.6, GraphOptions().periodic_box({0.0, 0.0}, {1.0, 2.0})),
                   "r must be below half the box length (r = 0.6, box length 1 on axis 0)");
  EXPECT_THROW_MSG(radius_graph(x, 0.1, GraphOptions().periodic_box({0.0, 1.0}, {1.0, 1.0})),
                   "periodic box upper (1) must be greater than lower (1) on axis 1");
  EXPECT_THROW_MSG(knn_graph(x, 10), "k = 10 but each point has only 9 other points");
  EXPECT_THROW_MSG(knn_graph(x, -1), "k must be >= 0");
  EXPECT_EQ(knn_graph(x, 10, GraphOptions().loop(true)).size(1), 100);
}

TEST(KnnGraph, DuplicatePointsBreakTiesBySmallerIndex) {
  // Every distance is zero: the k neighbours are the k smallest other indices.
  auto same = torch::ones({7, 3}, torch::kDouble);
  auto e = knn_graph(same, 3);
  for (int64_t i = 0; i < 7; ++i) {
    std::vector<int64_t> want;
    for (int64_t j = 0; j < 7 && want.size() < 3; ++j)
      if (j != i) want.push_back(j);
    for (int64_t q = 0; q < 3; ++q) {
      EXPECT_EQ(e[0][3 * i + q].item<int64_t>(), want[q]) << "target " << i;
      EXPECT_EQ(e[1][3 * i + q].item<int64_t>(), i);
    }
  }
  expect_same_edges(e, brute_knn(same, 3, false));
  // Radius graph of duplicates: the complete graph without self-loops.
  EXPECT_EQ(radius_graph(same, 1e-9).size(1), 7 * 6);
}
