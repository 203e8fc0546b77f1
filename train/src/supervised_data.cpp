#include "physml/train/supervised_data.hpp"

#include "physml/core/error.hpp"
#include "physml/core/options_reader.hpp"

#include <torch/torch.h>

#include <filesystem>

namespace physml::train {

SupervisedDataOptions& SupervisedDataOptions::set_from_options(const Options& options) {
  OptionsReader r(options, "Supervised training data: splits, samples, normalizers");
  train_split = r.string("train_split", train_split, "split to train on");
  valid_split = r.string("valid_split", valid_split, "split to validate on (none = no validation)");
  train_count = r.integer("train_count", train_count, "training samples used (-1 = all)", -1);
  valid_count = r.integer("valid_count", valid_count, "validation samples used (-1 = all)", -1);
  valid_begin = r.integer("valid_begin", valid_begin, "first validation sample", 0);
  stride = r.integer("stride", stride, "subsample the grid by this stride", 1);
  snapshot_pairs = r.integer("snapshot_pairs", snapshot_pairs,
                             "train on the first K one-step pairs of trajectory data (0 = input/output pairs)", 0);
  x_normalizer = r.choice("x_normalizer", {"none", "pointwise", "scalar"}, x_normalizer, "input normalizer");
  y_normalizer = r.choice("y_normalizer", {"none", "pointwise", "scalar"}, y_normalizer, "output normalizer");
  r.end();
  return *this;
}

SupervisedData::SupervisedData(const std::string& path, SupervisedDataOptions options) : options_(std::move(options)) {
  PHYSML_CHECK(std::filesystem::exists(path), "data file '", path, "' does not exist");
  GridDatasetOptions d;
  d.stride = options_.stride;
  d.snapshot_pairs = options_.snapshot_pairs;
  d.count = options_.train_count;
  train_ = std::make_unique<GridDataset>(path, options_.train_split, d);
  if (options_.valid_split != "none") {
    d.count = options_.valid_count;
    d.begin = options_.valid_begin;
    valid_ = std::make_unique<GridDataset>(path, options_.valid_split, d);
  }
}

operators::ModelShape SupervisedData::model_shape() const {
  const auto& in = train_->input_shape();
  return {in[0], train_->output_shape()[0], std::vector<std::int64_t>(in.begin() + 1, in.end())};
}

std::shared_ptr<operators::NormalizedModel> SupervisedData::normalized(std::shared_ptr<operators::Model> inner) const {
  operators::Normalizer xn(options_.x_normalizer), yn(options_.y_normalizer);
  auto [x, y] = train_->all();
  xn->fit(x.to(torch::kFloat));
  yn->fit(y.to(torch::kFloat));
  return std::make_shared<operators::NormalizedModel>(std::move(inner), xn, yn);
}

}  // namespace physml::train
