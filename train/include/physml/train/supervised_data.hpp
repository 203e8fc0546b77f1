#pragma once
/// \file supervised_data.hpp
/// The data side of supervised operator training, as `physml train` and a driver share it:
/// which splits and samples of a Dataset file are trained and validated on, and the input and
/// output normalizers fitted on the training split that wrap a model into a NormalizedModel.
///
///   auto o = physml::train::SupervisedDataOptions().set_from_options(opt);   // -train_split, ...
///   physml::train::SupervisedData data("darcy.h5", o);
///   auto inner = physml::operators::create_from_options("mgno", opt, data.model_shape());
///   auto model = data.normalized(inner);
///   trainer.fit(data.train(), data.valid());

#include "physml/operators/normalized_model.hpp"
#include "physml/train/dataset.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace physml {
class Options;
}

namespace physml::train {

struct SupervisedDataOptions {
  std::string train_split = "train";
  /// "none" = no validation (best.h5 by training loss).
  std::string valid_split = "valid";
  std::int64_t train_count = -1;  ///< training samples used (-1 = all)
  std::int64_t valid_count = -1;  ///< validation samples used (-1 = all)
  std::int64_t valid_begin = 0;   ///< first validation sample
  std::int64_t stride = 1;        ///< spatial subsampling of both splits
  std::int64_t snapshot_pairs = 0;  ///< one-step pairs of trajectory data (GridDatasetOptions)
  /// Normalizers fitted on the training split: "none", "pointwise", "scalar".
  std::string x_normalizer = "none";
  std::string y_normalizer = "none";

  /// Read the keys above (-train_split, -valid_split, -train_count, -valid_count,
  /// -valid_begin, -stride, -snapshot_pairs, -x_normalizer, -y_normalizer) under the prefix of
  /// `options`.
  SupervisedDataOptions& set_from_options(const Options& options);
};

/// The opened splits of one Dataset file and the fitted normalizers.
class SupervisedData {
public:
  /// Throws physml::Error for a missing file or split or a sample range outside a split.
  SupervisedData(const std::string& path, SupervisedDataOptions options = {});
  const GridDataset& train() const { return *train_; }
  /// Null when valid_split is "none".
  const GridDataset* valid() const { return valid_.get(); }
  /// {input channels, output channels, grid (tensor order)} of the training samples.
  operators::ModelShape model_shape() const;
  /// `inner` between the normalizers fitted on the training split (what `physml train` saves).
  std::shared_ptr<operators::NormalizedModel> normalized(std::shared_ptr<operators::Model> inner) const;
  const SupervisedDataOptions& options() const { return options_; }

private:
  SupervisedDataOptions options_;
  std::unique_ptr<GridDataset> train_, valid_;
};

}  // namespace physml::train
