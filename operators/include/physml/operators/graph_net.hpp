#pragma once
/// \file graph_net.hpp
/// Message passing on particle graphs (GNS, Sanchez-Gonzalez et al., ICML 2020; the
/// interaction layers of GIOROM, Viswanath et al.): MLPs with an optional
/// LayerNorm, the Interaction Network layer with scatter (index_add) aggregation over the
/// edges of a mesh::radius_graph, batched graphs, and the encode-process-decode network.
///
/// Edges follow mesh/graph.hpp: edge_index int64 [2, E], row 0 the source (neighbour) j,
/// row 1 the target (centre) i; messages flow j -> i and are summed (or averaged) at i.
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <string>
#include <vector>

namespace physml::operators {

/// Sum (mean = false) or mean of `values` [E, C] over the edges ending at each of `n` nodes
/// (`target` [E] int64): [n, C]; nodes without edges get 0.
at::Tensor scatter_edges(const at::Tensor& values, const at::Tensor& target, std::int64_t n, bool mean);

/// Several graphs as one: node rows concatenated, edge indices offset by the nodes before them.
struct GraphBatch {
  at::Tensor nodes;       ///< [N, F]
  at::Tensor edges;       ///< [E, Fe]
  at::Tensor edge_index;  ///< int64 [2, E]
  at::Tensor graph;       ///< int64 [N]: the graph each node belongs to
  std::int64_t graphs = 0;
};
/// Concatenate graphs given as (nodes, edges, edge_index) with the same feature widths.
GraphBatch batch_graphs(const std::vector<GraphBatch>& parts);

/// y = MLP(x): `hidden` layers of width `width` with ReLU, a linear output of width `out`,
/// then LayerNorm over the output if `layer_norm` (GNS: 2 hidden layers of 128, LayerNorm in
/// the encoder and processor, none in the decoder). Weights: LibTorch's Linear initialisation.
class GraphMLPImpl : public torch::nn::Module {
public:
  GraphMLPImpl(std::int64_t in, std::int64_t width, std::int64_t hidden, std::int64_t out, bool layer_norm);
  at::Tensor forward(const at::Tensor& x);
  std::int64_t in_features() const { return in_; }
  std::int64_t out_features() const { return out_; }

private:
  std::int64_t in_, out_;
  std::vector<at::Tensor> w_, b_;
  at::Tensor ln_w_, ln_b_;
};
TORCH_MODULE(GraphMLP);

/// One Interaction Network layer with residuals (GNS's processor step):
///   e'_ij = e_ij + MLP_e([e_ij, h_i, h_j]),  h'_i = h_i + MLP_n([h_i, sum_j e'_ij])
/// (mean instead of sum if `mean_aggregation`). Permutation-equivariant in the nodes.
class InteractionNetworkImpl : public torch::nn::Module {
public:
  InteractionNetworkImpl(std::int64_t latent, std::int64_t mlp_hidden, bool mean_aggregation = false);
  /// h [N, latent], e [E, latent], edge_index [2, E] -> (h', e').
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& h, const at::Tensor& e, const at::Tensor& edge_index);

private:
  GraphMLP edge_mlp_{nullptr}, node_mlp_{nullptr};
  bool mean_;
};
TORCH_MODULE(InteractionNetwork);

/// Check a graph's tensors (shapes, index range, finiteness); physml::Error naming `who` and
/// what was expected.
void check_graph(const std::string& who, const at::Tensor& nodes, std::int64_t node_features, const at::Tensor& edges,
                 std::int64_t edge_features, const at::Tensor& edge_index);

}  // namespace physml::operators
