#include "physml/operators/graph_net.hpp"

#include "config_text.hpp"
#include "physml/core/error.hpp"

#include <torch/torch.h>

#include <cmath>

namespace physml::operators {

at::Tensor scatter_edges(const at::Tensor& values, const at::Tensor& target, std::int64_t n, bool mean) {
  auto out = torch::zeros({n, values.size(1)}, values.options());
  out = out.index_add(0, target, values);
  if (!mean) return out;
  auto count = torch::zeros({n}, values.options()).index_add(0, target, torch::ones({target.size(0)}, values.options()));
  return out / count.clamp_min(1).unsqueeze(1);
}

GraphBatch batch_graphs(const std::vector<GraphBatch>& parts) {
  PHYSML_CHECK(!parts.empty(), "batch_graphs: no graphs");
  std::vector<at::Tensor> nodes, edges, index, graph;
  std::int64_t offset = 0;
  for (std::size_t g = 0; g < parts.size(); ++g) {
    const auto& p = parts[g];
    PHYSML_CHECK(p.nodes.dim() == 2 && p.edges.dim() == 2 && p.edge_index.dim() == 2 && p.edge_index.size(0) == 2,
                 "batch_graphs: graph ", g, " needs nodes [N, F], edges [E, Fe], edge_index [2, E]");
    PHYSML_CHECK(p.nodes.size(1) == parts[0].nodes.size(1) && p.edges.size(1) == parts[0].edges.size(1),
                 "batch_graphs: graph ", g, " has ", p.nodes.size(1), " node and ", p.edges.size(1),
                 " edge features, graph 0 has ", parts[0].nodes.size(1), " and ", parts[0].edges.size(1));
    nodes.push_back(p.nodes);
    edges.push_back(p.edges);
    index.push_back(p.edge_index + offset);
    graph.push_back(torch::full({p.nodes.size(0)}, static_cast<std::int64_t>(g),
                                torch::TensorOptions().dtype(torch::kLong).device(p.nodes.device())));
    offset += p.nodes.size(0);
  }
  return {torch::cat(nodes), torch::cat(edges), torch::cat(index, 1), torch::cat(graph),
          static_cast<std::int64_t>(parts.size())};
}

GraphMLPImpl::GraphMLPImpl(std::int64_t in, std::int64_t width, std::int64_t hidden, std::int64_t out, bool layer_norm)
    : in_(in), out_(out) {
  PHYSML_CHECK(in >= 1 && width >= 1 && hidden >= 0 && out >= 1, "GraphMLP: widths must be positive (in ", in, ", width ",
               width, ", hidden layers ", hidden, ", out ", out, ")");
  std::int64_t from = in;
  for (std::int64_t l = 0; l <= hidden; ++l) {
    const std::int64_t to = l == hidden ? out : width;
    // LibTorch's Linear initialisation: uniform(+-1/sqrt(fan_in)) for weights and biases.
    const double bound = 1.0 / std::sqrt(static_cast<double>(from));
    w_.push_back(register_parameter("weight" + std::to_string(l), torch::empty({to, from}).uniform_(-bound, bound)));
    b_.push_back(register_parameter("bias" + std::to_string(l), torch::empty({to}).uniform_(-bound, bound)));
    from = to;
  }
  if (layer_norm) {
    ln_w_ = register_parameter("ln_weight", torch::ones({out}));
    ln_b_ = register_parameter("ln_bias", torch::zeros({out}));
  }
}

at::Tensor GraphMLPImpl::forward(const at::Tensor& x) {
  PHYSML_CHECK(x.dim() == 2 && x.size(1) == in_, "GraphMLP: expected input [rows, ", in_, "], got ",
               detail::shape_text(x.sizes()));
  at::Tensor h = x;
  for (std::size_t l = 0; l < w_.size(); ++l) {
    h = at::linear(h, w_[l], b_[l]);
    if (l + 1 < w_.size()) h = torch::relu(h);
  }
  if (ln_w_.defined()) h = at::layer_norm(h, {out_}, ln_w_, ln_b_);
  return h;
}

InteractionNetworkImpl::InteractionNetworkImpl(std::int64_t latent, std::int64_t mlp_hidden, bool mean_aggregation)
    : mean_(mean_aggregation) {
  edge_mlp_ = register_module("edge", GraphMLP(3 * latent, latent, mlp_hidden, latent, true));
  node_mlp_ = register_module("node", GraphMLP(2 * latent, latent, mlp_hidden, latent, true));
}

std::pair<at::Tensor, at::Tensor> InteractionNetworkImpl::forward(const at::Tensor& h, const at::Tensor& e,
                                                                  const at::Tensor& edge_index) {
  const auto src = edge_index[0], dst = edge_index[1];
  const auto m = edge_mlp_->forward(torch::cat({e, h.index_select(0, dst), h.index_select(0, src)}, 1));
  const auto e_new = e + m;
  const auto agg = scatter_edges(e_new, dst, h.size(0), mean_);
  return {h + node_mlp_->forward(torch::cat({h, agg}, 1)), e_new};
}

void check_graph(const std::string& who, const at::Tensor& nodes, std::int64_t node_features, const at::Tensor& edges,
                 std::int64_t edge_features, const at::Tensor& edge_index) {
  PHYSML_CHECK(nodes.defined() && nodes.dim() == 2 && nodes.size(1) == node_features, who, ": expected node features [N, ",
               node_features, "], got ", nodes.defined() ? detail::shape_text(nodes.sizes()) : std::string("undefined"));
  PHYSML_CHECK(edge_index.defined() && edge_index.dim() == 2 && edge_index.size(0) == 2 &&
                   edge_index.scalar_type() == torch::kLong,
               who, ": expected edge_index int64 [2, E], got ",
               edge_index.defined() ? detail::shape_text(edge_index.sizes()) : std::string("undefined"));
  PHYSML_CHECK(edges.defined() && edges.dim() == 2 && edges.size(0) == edge_index.size(1) && edges.size(1) == edge_features,
               who, ": expected edge features [", edge_index.size(1), ", ", edge_features, "], got ",
               edges.defined() ? detail::shape_text(edges.sizes()) : std::string("undefined"));
  if (edge_index.numel() > 0) {
    PHYSML_CHECK(edge_index.min().item<std::int64_t>() >= 0 && edge_index.max().item<std::int64_t>() < nodes.size(0), who,
                 ": edge_index names nodes outside [0, ", nodes.size(0), ")");
  }
  PHYSML_CHECK(torch::isfinite(nodes).all().item<bool>() && torch::isfinite(edges).all().item<bool>(), who,
               ": the node or edge features contain NaN or Inf");
}

}  // namespace physml::operators
