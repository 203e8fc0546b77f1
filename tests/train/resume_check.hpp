#pragma once
// Bit-for-bit comparisons of two training runs (exact resume, determinism): parameters,
// Adam state, and the lines of the CSV log without the wall-time column.
#include "physml/operators/registry.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace physml::test {

/// Every named parameter and buffer of `a` equals (torch::equal) that of `b`.
inline void expect_same_parameters(const operators::Model& a, const operators::Model& b) {
  auto pa = a.named_parameters(), pb = b.named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& item : pa) EXPECT_TRUE(torch::equal(item.value(), pb[item.key()])) << item.key();
  auto ba = a.named_buffers(), bb = b.named_buffers();
  ASSERT_EQ(ba.size(), bb.size());
  for (const auto& item : ba) EXPECT_TRUE(torch::equal(item.value(), bb[item.key()])) << item.key();
}

/// The Adam/AdamW state (step, exp_avg, exp_avg_sq) of every parameter of `a` equals that of
/// the parameter in the same position of `b`; every parameter has state (it was stepped).
inline void expect_same_adam_state(torch::optim::Optimizer& a, torch::optim::Optimizer& b) {
  ASSERT_EQ(a.param_groups().size(), b.param_groups().size());
  for (std::size_t g = 0; g < a.param_groups().size(); ++g) {
    const auto& qa = a.param_groups()[g].params();
    const auto& qb = b.param_groups()[g].params();
    ASSERT_EQ(qa.size(), qb.size());
    for (std::size_t i = 0; i < qa.size(); ++i) {
      auto ia = a.state().find(c10::guts::to_string(qa[i].unsafeGetTensorImpl()));
      auto ib = b.state().find(c10::guts::to_string(qb[i].unsafeGetTensorImpl()));
      ASSERT_TRUE(ia != a.state().end() && ib != b.state().end()) << "parameter " << i << " has no optimizer state";
      auto* sa = dynamic_cast<torch::optim::AdamParamState*>(ia->second.get());
      auto* sb = dynamic_cast<torch::optim::AdamParamState*>(ib->second.get());
      ASSERT_TRUE(sa && sb) << "parameter " << i << ": not Adam state";
      EXPECT_EQ(sa->step(), sb->step()) << "parameter " << i;
      EXPECT_TRUE(torch::equal(sa->exp_avg(), sb->exp_avg())) << "exp_avg of parameter " << i;
      EXPECT_TRUE(torch::equal(sa->exp_avg_sq(), sb->exp_avg_sq())) << "exp_avg_sq of parameter " << i;
    }
  }
}

/// The lines of a Trainer's log.csv with the last column (seconds, wall time) cut off.
inline std::vector<std::string> log_lines_without_seconds(const std::filesystem::path& csv) {
  std::ifstream in(csv);
  EXPECT_TRUE(in.good()) << "cannot read " << csv;
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) out.push_back(line.substr(0, line.rfind(',')));
  return out;
}

}  // namespace physml::test
