// The binomial checkpointing schedule (core/revolve.hpp) on a chain whose state is its step
// index: every step is reversed exactly once, last first, from the right state; at most the
// given number of states is stored; the recomputation count is that of the binomial bound.
#include "physml/core/revolve.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace {

struct Counted {
  std::int64_t step = 0;
};

struct Outcome {
  std::vector<std::int64_t> reversed;
  std::int64_t advanced = 0, stored = 0;
  bool right_states = true;
};

Outcome run(std::int64_t steps, std::int64_t checkpoints) {
  Outcome o;
  o.stored = physml::reverse_binomial<Counted>(
      steps, checkpoints, Counted{0},
      [&](const Counted& s, std::int64_t a, std::int64_t b) {
        o.right_states = o.right_states && s.step == a && a < b;
        o.advanced += b - a;
        return Counted{b};
      },
      [&](std::int64_t i, const Counted& s) {
        o.right_states = o.right_states && s.step == i;
        o.reversed.push_back(i);
      });
  return o;
}

}  // namespace

TEST(Revolve, ReversesEveryStepOnceLastFirstWithinTheStorageBound) {
  for (std::int64_t steps : {0, 1, 2, 7, 50, 333})
    for (std::int64_t K : {1, 2, 3, 5, 8, 400}) {
      const auto o = run(steps, K);
      const std::string where = std::to_string(steps) + " steps, " + std::to_string(K) + " checkpoints";
      ASSERT_EQ(static_cast<std::int64_t>(o.reversed.size()), steps) << where;
      for (std::int64_t j = 0; j < steps; ++j) EXPECT_EQ(o.reversed[static_cast<size_t>(j)], steps - 1 - j) << where;
      EXPECT_TRUE(o.right_states) << where;
      EXPECT_GE(o.stored, 1) << where;
      EXPECT_LE(o.stored, K) << where;
      if (K == 1) EXPECT_EQ(o.advanced, steps * (steps - 1) / 2) << where;  // every step from s_0
      // Binomial bound: with c = K - 1 slots and the smallest r with C(c + r, c) >= steps, no
      // step is recomputed more than r times.
      if (K >= 2 && steps > 0) {
        std::int64_t r = 0;
        while (physml::revolve_beta(K - 1, r) < static_cast<double>(steps)) ++r;
        EXPECT_LE(o.advanced, r * steps) << where;
      }
    }
  // With more slots than steps, each step is advanced at most once.
  EXPECT_LE(run(50, 400).advanced, 50);
}

TEST(Revolve, BinomialCoefficients) {
  EXPECT_EQ(physml::revolve_beta(0, 7), 1.0);
  EXPECT_EQ(physml::revolve_beta(3, 2), 10.0);   // C(5, 3)
  EXPECT_EQ(physml::revolve_beta(4, 4), 70.0);   // C(8, 4)
  EXPECT_EQ(physml::revolve_beta(200, 200), 1e18);  // saturates
}

TEST(Revolve, RefusesBadArguments) {
  auto adv = [](const Counted& s, std::int64_t, std::int64_t b) { return Counted{b + 0 * s.step}; };
  auto rev = [](std::int64_t, const Counted&) {};
  EXPECT_THROW_MSG(physml::reverse_binomial<Counted>(-1, 2, Counted{}, adv, rev), "-1 steps");
  EXPECT_THROW_MSG(physml::reverse_binomial<Counted>(5, 0, Counted{}, adv, rev), "0 checkpoints; expected >= 1");
}
