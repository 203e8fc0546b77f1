#include "physml/operators/normalized_model.hpp"

#include "physml/core/error.hpp"

#include <torch/torch.h>

#include <sstream>

namespace physml::operators {
namespace {

std::string shape_text(const at::Tensor& t) {
  if (!t.defined() || t.numel() == 0) return "";
  std::string s;
  for (auto v : t.sizes()) s += (s.empty() ? "" : ",") + std::to_string(v);
  return s;
}

std::vector<std::int64_t> parse_shape(const std::string& key, const std::string& text) {
  std::vector<std::int64_t> v;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      v.push_back(std::stoll(item));
    } catch (const std::exception&) {
      PHYSML_THROW("normalized model option '", key, "': expected a comma-separated shape, got '", text, "'");
    }
  }
  return v;
}

const std::string& need(const ModelConfig& c, const std::string& key) {
  auto it = c.find(key);
  PHYSML_CHECK(it != c.end(), "normalized model config lacks '", key, "'");
  return it->second;
}

Normalizer make_normalizer(const ModelConfig& c, const std::string& which) {
  Normalizer n(need(c, which + "_normalizer"));
  auto it = c.find(which + "_stats_shape");
  if (it != c.end() && !it->second.empty()) {
    n->allocate(parse_shape(which + "_stats_shape", it->second));
  }
  return n;
}

}  // namespace

NormalizedModel::NormalizedModel(std::shared_ptr<Model> inner, Normalizer x_normalizer,
                                 Normalizer y_normalizer)
    : Model("NormalizedModel"), inner_(std::move(inner)), x_norm_(std::move(x_normalizer)),
      y_norm_(std::move(y_normalizer)) {
  PHYSML_CHECK(inner_ != nullptr, "NormalizedModel needs a model");
  register_module("model", inner_);
  register_module("x_normalizer", x_norm_.ptr());
  register_module("y_normalizer", y_norm_.ptr());
}

at::Tensor NormalizedModel::forward(const at::Tensor& x) {
  return y_norm_->decode(inner_->forward(x_norm_->encode(x)));
}

ModelConfig NormalizedModel::config() const {
  ModelConfig c;
  c["model"] = inner_->type();
  for (const auto& [k, v] : inner_->config()) c["model." + k] = v;
  c["x_normalizer"] = x_norm_->kind();
  c["y_normalizer"] = y_norm_->kind();
  c["x_stats_shape"] = shape_text(x_norm_->mean());
  c["y_stats_shape"] = shape_text(y_norm_->mean());
  return c;
}

std::shared_ptr<Model> NormalizedModel::from_config(const ModelConfig& c) {
  ModelConfig inner;
  for (const auto& [k, v] : c) {
    if (k.rfind("model.", 0) == 0)
      inner[k.substr(6)] = v;
    else
      PHYSML_CHECK(k == "model" || k == "x_normalizer" || k == "y_normalizer" || k == "x_stats_shape" ||
                       k == "y_stats_shape",
                   "normalized model: unknown option '", k,
                   "'; known options: model, model.*, x_normalizer, y_normalizer, x_stats_shape, y_stats_shape");
  }
  auto model = create(need(c, "model"), inner);
  return std::make_shared<NormalizedModel>(model, make_normalizer(c, "x"), make_normalizer(c, "y"));
}

}  // namespace physml::operators
