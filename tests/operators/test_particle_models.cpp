// GNS and GIOROM on particle graphs: message passing is permutation-equivariant, the inputs are
// translation invariant away from the walls, a batch of systems gives the accelerations of the
// systems one by one, parameter counts follow the architecture, the point evaluator reproduces
// a smooth displacement field to within its grid resolution, and bad input is refused.
#include "physml/io/checkpoint.hpp"
#include "physml/mesh/graph.hpp"
#include "physml/operators/checkpoint.hpp"
#include "physml/operators/giorom.hpp"
#include "physml/operators/gns.hpp"
#include "physml/operators/registry.hpp"
#include "test_util.hpp"

#include <torch/torch.h>

namespace ops = physml::operators;

namespace {

/// A window of 6 frames of `n` particles drifting in the box middle [0.3, 0.7]^d.
ops::ParticleWindow window(std::int64_t n, std::int64_t d, std::uint64_t seed, std::int64_t materials = 2) {
  auto g = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto x0 = 0.3 + 0.4 * torch::rand({n, d}, g, torch::kDouble);
  const auto v = 0.002 * torch::randn({n, d}, g, torch::kDouble);
  std::vector<at::Tensor> frames;
  for (int k = 0; k < 6; ++k) frames.push_back(x0 + static_cast<double>(k) * v + 1e-4 * k * k * torch::randn({n, d}, g, torch::kDouble));
  ops::ParticleWindow w;
  w.positions = torch::stack(frames);
  w.material = torch::randint(0, materials, {n}, g, torch::kLong);
  return w;
}

ops::ParticleInputOptions inputs(std::int64_t d) {
  return ops::ParticleInputOptions().dim(d).radius(0.12).materials(2).embedding(4).noise(1e-4);
}

ops::GNS small_gns(std::int64_t d) {
  torch::manual_seed(1);
  ops::GNS m(ops::GNSOptions().inputs(inputs(d)).latent(16).steps(3).mlp_hidden(1));
  m->to(torch::kDouble);
  return m;
}

ops::GIOROM small_giorom(std::int64_t d) {
  torch::manual_seed(2);
  ops::GIOROM m(ops::GIOROMOptions()
                    .inputs(inputs(d))
                    .latent(16)
                    .mp_steps(1)
                    .mlp_hidden(1)
                    .latent_grid(8)
                    .gno_radius(0.15)
                    .gno_width(8)
                    .fno_modes(3)
                    .fno_width(8)
                    .fno_layers(1));
  m->to(torch::kDouble);
  return m;
}

ops::ParticleWindow permuted(const ops::ParticleWindow& w, const at::Tensor& p) {
  ops::ParticleWindow out;
  out.positions = w.positions.index_select(1, p);
  out.material = w.material.index_select(0, p);
  return out;
}

std::int64_t mlp_params(std::int64_t in, std::int64_t width, std::int64_t hidden, std::int64_t out, bool ln) {
  std::int64_t n = 0, from = in;
  for (std::int64_t l = 0; l <= hidden; ++l) {
    const auto to = l == hidden ? out : width;
    n += from * to + to;
    from = to;
  }
  return n + (ln ? 2 * out : 0);
}

std::int64_t count(torch::nn::Module& m) {
  std::int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

}  // namespace

TEST(GraphNet, InteractionNetworkIsPermutationEquivariant) {
  torch::manual_seed(3);
  ops::InteractionNetwork layer(8, 1);
  layer->to(torch::kDouble);
  const std::int64_t n = 30;
  auto g = at::make_generator<at::CPUGeneratorImpl>(4);
  const auto x = torch::rand({n, 2}, g, torch::kDouble);
  const auto ei = physml::mesh::radius_graph(x, 0.3);
  const auto h = torch::randn({n, 8}, g, torch::kDouble), e = torch::randn({ei.size(1), 8}, g, torch::kDouble);
  const auto [h1, e1] = layer->forward(h, e, ei);
  // Relabel the nodes by p (node k of the new graph is node p[k]) and shuffle the edge order.
  const auto p = torch::randperm(n, g, torch::kLong), inv = torch::argsort(p);
  const auto q = torch::randperm(ei.size(1), g, torch::kLong);
  const auto ei2 = inv.index_select(0, ei.flatten()).view({2, -1}).index_select(1, q);
  const auto [h2, e2] = layer->forward(h.index_select(0, p), e.index_select(0, q), ei2);
  EXPECT_TRUE(torch::allclose(h2, h1.index_select(0, p), 1e-12, 1e-12));
  EXPECT_TRUE(torch::allclose(e2, e1.index_select(0, q), 1e-12, 1e-12));
}

TEST(GraphNet, BatchedGraphsAgreeWithSingleGraphs) {
  torch::manual_seed(5);
  ops::InteractionNetwork layer(6, 1);
  layer->to(torch::kDouble);
  auto g = at::make_generator<at::CPUGeneratorImpl>(6);
  std::vector<ops::GraphBatch> parts;
  for (std::int64_t n : {12, 20}) {
    const auto x = torch::rand({n, 3}, g, torch::kDouble);
    ops::GraphBatch b;
    b.edge_index = physml::mesh::radius_graph(x, 0.5, physml::mesh::GraphOptions().loop(true));
    b.nodes = torch::randn({n, 6}, g, torch::kDouble);
    b.edges = torch::randn({b.edge_index.size(1), 6}, g, torch::kDouble);
    parts.push_back(b);
  }
  const auto all = ops::batch_graphs(parts);
  EXPECT_EQ(all.graphs, 2);
  const auto [h, e] = layer->forward(all.nodes, all.edges, all.edge_index);
  const auto [h0, e0] = layer->forward(parts[0].nodes, parts[0].edges, parts[0].edge_index);
  const auto [h1, e1] = layer->forward(parts[1].nodes, parts[1].edges, parts[1].edge_index);
  EXPECT_TRUE(torch::allclose(h, torch::cat({h0, h1}), 1e-12, 1e-12));
  EXPECT_TRUE(torch::allclose(e, torch::cat({e0, e1}), 1e-12, 1e-12));
}

TEST(ParticleModels, ParameterCountsFollowTheArchitecture) {
  // GNS as published: latent 128, 10 steps, MLPs of 2 hidden layers of 128, 9 materials -> 16, 2-D.
  ops::GNS gns{ops::GNSOptions()};
  const std::int64_t L = 128, d = 2, node_in = 16 + 5 * d + 2 * d, edge_in = d + 1;
  const std::int64_t expected = 9 * 16 + mlp_params(node_in, L, 2, L, true) + mlp_params(edge_in, L, 2, L, true) +
                                10 * (mlp_params(3 * L, L, 2, L, true) + mlp_params(2 * L, L, 2, L, true)) +
                                mlp_params(L, L, 2, d, false);
  EXPECT_EQ(count(*gns), expected);
  EXPECT_EQ(gns->input_options().node_features(), 30);  // 16 + 10 + 4
  const auto one = ops::GNSOptions().inputs(ops::ParticleInputOptions().dim(3));
  EXPECT_EQ(one.inputs().node_features(), 16 + 15 + 6);  // GIOROM's 37 in 3-D
}

TEST(ParticleModels, StepsArePermutationEquivariant) {
  for (std::int64_t d : {2, 3}) {
    const auto w = window(40, d, 7);
    auto g = at::make_generator<at::CPUGeneratorImpl>(8);
    const auto p = torch::randperm(40, g, torch::kLong);
    auto gns = small_gns(d);
    EXPECT_TRUE(torch::allclose(gns->step(permuted(w, p)), gns->step(w).index_select(0, p), 1e-10, 1e-12)) << d;
    auto gio = small_giorom(d);
    EXPECT_TRUE(torch::allclose(gio->step(permuted(w, p)), gio->step(w).index_select(0, p), 1e-10, 1e-12)) << d;
  }
}

TEST(ParticleModels, InputsAreTranslationInvariantAwayFromTheWalls) {
  auto gns = small_gns(2);
  const auto w = window(50, 2, 9);
  auto shifted = w;
  shifted.positions = w.positions + torch::tensor({0.07, -0.05}, torch::kDouble);  // stays > R from the walls
  const auto a = gns->inputs(w), b = gns->inputs(shifted);
  EXPECT_TRUE(torch::equal(a.edge_index, b.edge_index));
  EXPECT_TRUE(torch::allclose(a.nodes, b.nodes, 1e-12, 1e-12));
  EXPECT_TRUE(torch::allclose(a.edges, b.edges, 1e-10, 1e-12));
  EXPECT_TRUE(torch::allclose(gns->step(shifted) - shifted.positions[5], gns->step(w) - w.positions[5], 1e-10, 1e-12));
  // Near a wall the distance features see it (they are what tells the network about walls).
  auto wall = w;
  wall.positions = w.positions - torch::tensor({0.25, 0.0}, torch::kDouble);
  EXPECT_FALSE(torch::allclose(gns->inputs(wall).nodes, a.nodes, 1e-6, 1e-6));
}

TEST(ParticleModels, BatchedSystemsGiveTheAccelerationsOfEachSystem) {
  for (std::int64_t d : {2, 3}) {
    const auto w0 = window(30, d, 10), w1 = window(25, d, 11);
    ops::ParticleWindow both;
    both.positions = torch::cat({w0.positions, w1.positions}, 1);  // the systems overlap in space
    both.material = torch::cat({w0.material, w1.material});
    both.system = torch::cat({torch::zeros({30}, torch::kLong), torch::ones({25}, torch::kLong)});
    auto gns = small_gns(d);
    EXPECT_TRUE(torch::allclose(gns->acceleration(both), torch::cat({gns->acceleration(w0), gns->acceleration(w1)}), 1e-10,
                                1e-12))
        << d;
    auto gio = small_giorom(d);
    EXPECT_TRUE(torch::allclose(gio->acceleration(both), torch::cat({gio->acceleration(w0), gio->acceleration(w1)}), 1e-10,
                                1e-12))
        << d;
  }
}

TEST(ParticleModels, NormalisationAndIntegrationAreInverse) {
  auto gns = small_gns(2);
  ops::ParticleStatistics st{torch::tensor({1e-3, -2e-3}, torch::kDouble), torch::tensor({0.01, 0.02}, torch::kDouble),
                             torch::tensor({0.0, -1e-4}, torch::kDouble), torch::tensor({1e-3, 2e-3}, torch::kDouble)};
  gns->set_statistics(st);
  const auto w = window(10, 2, 12);
  const auto next = w.positions[5] + 0.001;
  EXPECT_TRUE(torch::allclose(gns->integrate(w, gns->normalised_acceleration(w, next)), next, 1e-12, 1e-14));
  // Statistics of a trajectory with constant acceleration a: acc_mean = a, acc_std = 0.
  const auto t = torch::arange(6, torch::kDouble).view({6, 1, 1});
  const auto traj = 0.5 * 0.01 * t * t * torch::ones({6, 3, 2}, torch::kDouble);
  const auto s = ops::ParticleStatistics::of({traj});
  EXPECT_TRUE(torch::allclose(s.acc_mean, torch::full({2}, 0.01, torch::kDouble)));
  EXPECT_LT(s.acc_std.abs().max().item<double>(), 1e-15);
}

TEST(ParticleModels, SaveAndLoadThroughTheRegistry) {
  const auto dir = physml::test::scratch_dir();
  const auto w = window(20, 2, 13);
  auto gio = small_giorom(2);
  gio->set_statistics({torch::full({2}, 1e-3, torch::kDouble), torch::full({2}, 0.01, torch::kDouble),
                       torch::zeros({2}, torch::kDouble), torch::full({2}, 1e-3, torch::kDouble)});
  ops::save((dir / "giorom.h5").string(), *gio);
  // load() rebuilds the type from the file's config (float32 parameters, as created);
  // load_into() a float64 model of that config keeps every bit.
  const auto loaded = ops::load((dir / "giorom.h5").string());
  ASSERT_TRUE(std::dynamic_pointer_cast<ops::ParticleModel>(loaded));
  EXPECT_EQ(loaded->type(), "giorom");
  auto back = std::dynamic_pointer_cast<ops::ParticleModel>(ops::create("giorom", loaded->config()));
  back->to(torch::kDouble);
  ops::load_into((dir / "giorom.h5").string(), *back);
  EXPECT_TRUE(torch::equal(back->step(w), gio->step(w)));
  EXPECT_TRUE(torch::equal(back->statistics().vel_std, gio->statistics().vel_std));
  auto gns = small_gns(3);
  ops::save((dir / "gns.h5").string(), *gns);
  EXPECT_EQ(ops::load((dir / "gns.h5").string())->config(), gns->config());
  auto c = gns->config();
  c["heads"] = "4";
  EXPECT_THROW_MSG(ops::create("gns", c), "gns: unknown option 'heads'");
}

TEST(ParticleModels, BadInputIsRefusedClearly) {
  auto gns = small_gns(2);
  auto w = window(10, 2, 14);
  EXPECT_THROW_MSG(gns->forward(torch::zeros({1, 1, 4, 4})), "takes a window of positions");
  auto three = window(10, 3, 14);
  EXPECT_THROW_MSG(gns->step(three), "expected positions [6, N, 2]");
  auto bad = w;
  bad.material = torch::full({10}, 5, torch::kLong);
  EXPECT_THROW_MSG(gns->step(bad), "outside the model's material set [0, 2)");
  bad = w;
  bad.positions = w.positions.clone();
  bad.positions[5][3][0] = std::nan("");
  EXPECT_THROW_MSG(gns->step(bad), "NaN or Inf");
  EXPECT_THROW_MSG(ops::GIOROM(ops::GIOROMOptions().latent_grid(8).fno_modes(9)), "fno_modes 9 must be in 1 .. latent_grid/2 + 1 = 5");
  EXPECT_THROW_MSG(ops::GIOROM(ops::GIOROMOptions().latent_grid(8).fno_modes(3).gno_radius(0.01)),
                   "below half a latent cell diagonal");
}

TEST(PointEvaluator, ReproducesASmoothDisplacementFieldWithinItsResolution) {
  auto g = at::make_generator<at::CPUGeneratorImpl>(15);
  const auto Xs = torch::rand({4000, 2}, g, torch::kDouble);
  auto field = [](const at::Tensor& X) {
    const auto x = X.select(1, 0), y = X.select(1, 1);
    return torch::stack({0.01 * torch::sin(2 * M_PI * x) * torch::cos(2 * M_PI * y), 0.02 * x * y}, 1);
  };
  const auto Xq = 0.1 + 0.8 * torch::rand({500, 2}, g, torch::kDouble);
  const auto truth = Xq + field(Xq);
  double previous = 1e9;
  for (std::int64_t G : {8, 16, 32}) {
    torch::manual_seed(16);
    ops::PointEvaluator ev(ops::PointEvaluatorOptions().dim(2).grid(G));
    ev->to(torch::kDouble);
    const auto err = (ev->evaluate(Xs, Xs + field(Xs), Xq) - truth).norm(2, 1).max().item<double>();
    // Within the resolution: at most one grid spacing times the largest displacement gradient (~0.063).
    EXPECT_LT(err, 0.063 / static_cast<double>(G - 1)) << G;
    EXPECT_LT(err, previous) << G;
    previous = err;
  }
  ops::PointEvaluator ev(ops::PointEvaluatorOptions().dim(2));
  EXPECT_THROW_MSG(ev->evaluate(Xs.to(torch::kFloat), Xs.to(torch::kFloat), torch::full({1, 2}, 1.5)),
                   "query reference positions on axis 0 span 1.5 .. 1.5, outside the evaluator's box 0 .. 1");
  EXPECT_THROW_MSG(ev->evaluate(Xs, Xs.slice(0, 0, 10), Xq), "4000 reference and 10 current sparse positions");
}
