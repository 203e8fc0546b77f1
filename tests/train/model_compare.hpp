#pragma once
// Comparing trained models in the train tests.
#include "physml/operators/registry.hpp"

#include <torch/torch.h>

#include <gtest/gtest.h>

#include <algorithm>

namespace physml::test {

/// max over parameter tensors of ||a - b|| / ||b|| (the models must have the same parameters).
inline double max_relative_difference(const operators::Model& a, const operators::Model& b) {
  const auto pa = a.parameters(), pb = b.parameters();
  EXPECT_EQ(pa.size(), pb.size());
  double worst = 0;
  for (std::size_t i = 0; i < pa.size() && i < pb.size(); ++i) {
    const auto x = pa[i].detach().to(torch::kDouble), y = pb[i].detach().to(torch::kDouble);
    worst = std::max(worst, (x - y).norm().item<double>() / std::max(y.norm().item<double>(), 1e-30));
  }
  return worst;
}

}  // namespace physml::test
