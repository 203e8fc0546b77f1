#include "test_util.hpp"

#include "physml/core/error.hpp"

#include "physml/core/environment.hpp"
#include "physml/core/progress.hpp"
#include "physml/core/random.hpp"

#include <petscvec.h>
#include <torch/torch.h>

#include <cstdio>
#include <set>
#include <string>

TEST(Environment, SecondEnvironmentReusesRunningPetsc) {
  ASSERT_TRUE(physml::Environment::active());  // the test main started one
  const int threads_before = torch::get_num_threads();
  {
    physml::EnvironmentOptions opts;
    opts.threads = 1;
    physml::Environment env(opts);
    EXPECT_FALSE(env.owns_petsc());
    EXPECT_FALSE(env.owns_mpi());
    EXPECT_EQ(env.comm(), PETSC_COMM_WORLD);
    EXPECT_EQ(env.rank(), 0);
    EXPECT_GE(env.size(), 1);
  }
  // Its destruction leaves PETSc running: PETSc objects can still be made and used.
  EXPECT_TRUE(physml::Environment::active());
  PetscBool finalized = PETSC_TRUE;
  PetscFinalized(&finalized);
  EXPECT_FALSE(finalized);
  Vec v = nullptr;
  ASSERT_EQ(VecCreateSeq(PETSC_COMM_SELF, 3, &v), 0);
  ASSERT_EQ(VecSet(v, 2.0), 0);
  PetscReal n = 0;
  ASSERT_EQ(VecNorm(v, NORM_1, &n), 0);
  EXPECT_DOUBLE_EQ(n, 6.0);
  VecDestroy(&v);
  torch::set_num_threads(threads_before);
}

TEST(Environment, ThreadsOptionSetsTorchThreads) {
  const int threads_before = torch::get_num_threads();
  {
    physml::EnvironmentOptions opts;
    opts.threads = 1;
    PetscOptionsSetValue(nullptr, "-threads", "2");  // the command line wins over the options struct
    physml::Environment env(opts);
    EXPECT_EQ(torch::get_num_threads(), 2);
    PetscOptionsClearValue(nullptr, "-threads");
  }
  {
    physml::EnvironmentOptions opts;
    opts.threads = 3;
    physml::Environment env(opts);
    EXPECT_EQ(torch::get_num_threads(), 3);
  }
  {
    PetscOptionsSetValue(nullptr, "-threads", "-4");
    EXPECT_THROW_MSG(physml::Environment env, "-threads must be >= 0");
    PetscOptionsClearValue(nullptr, "-threads");
  }
  torch::set_num_threads(threads_before);
  EXPECT_GE(physml::hardware_threads(), 1);
}

namespace {
std::string read_all(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  char buf[512];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  return s;
}
}  // namespace

TEST(Progress, PlainLinesCarryCountRateAndEta) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    physml::Progress p("sampling", 10, 0, /*interval=*/0.0, f);
    p.set_interactive(false);
    for (int i = 0; i < 3; ++i) p.advance(1, "loss 1.5e-3");
    EXPECT_EQ(p.done(), 3);
    EXPECT_GT(p.rate(), 0.0);
    EXPECT_TRUE(std::isfinite(p.eta()));
    p.finish();
  }
  std::string out = read_all(f);
  std::fclose(f);
  // One plain line per advance (interval 0), no carriage returns.
  EXPECT_EQ(out.find('\r'), std::string::npos) << out;
  auto third = out.find("sampling  3/10");
  ASSERT_NE(third, std::string::npos) << out;
  std::string line = out.substr(third, out.find('\n', third) - third);
  EXPECT_NE(line.find("30%"), std::string::npos) << line;
  EXPECT_TRUE(line.find("it/s") != std::string::npos || line.find("s/it") != std::string::npos) << line;
  EXPECT_NE(line.find("ETA "), std::string::npos) << line;
  EXPECT_EQ(line.find("ETA ?"), std::string::npos) << line;  // a finite estimate after 3 steps
  EXPECT_NE(line.find("loss 1.5e-3"), std::string::npos) << line;
  EXPECT_NE(out.find("1/10"), std::string::npos);
  EXPECT_NE(out.find("2/10"), std::string::npos);
}

TEST(Progress, ResumedRunCountsOnlyNewWork) {
  std::FILE* f = std::tmpfile();
  physml::Progress p("train", 100, /*start=*/40, 1e9, f);
  p.set_interactive(false);
  EXPECT_EQ(p.done(), 40);
  EXPECT_EQ(p.rate(), 0.0);  // nothing done in this run yet
  EXPECT_TRUE(std::isinf(p.eta()));
  p.advance(10);
  EXPECT_NE(p.line().find("50/100"), std::string::npos) << p.line();
  p.finish();
  std::fclose(f);
}

TEST(Random, SeedEverythingIsBitReproducible) {
  physml::seed_everything(42);
  auto a = torch::randn({64}, torch::kDouble);
  auto ua = physml::global_engine()();
  physml::seed_everything(42);
  auto b = torch::randn({64}, torch::kDouble);
  auto ub = physml::global_engine()();
  EXPECT_TRUE(torch::equal(a, b));  // bit-identical, not just close
  EXPECT_EQ(ua, ub);
  EXPECT_EQ(physml::global_seed(), 42u);
  physml::seed_everything(43);
  EXPECT_FALSE(torch::equal(a, torch::randn({64}, torch::kDouble)));
  physml::seed_everything(1234);  // back to the test main's seed
}

TEST(Random, DeriveSeedDiffersPerIndexAndIsStable) {
  std::set<std::uint64_t> seen;
  for (std::uint64_t i = 0; i < 10000; ++i) seen.insert(physml::derive_seed(7, i));
  EXPECT_EQ(seen.size(), 10000u);
  EXPECT_EQ(physml::derive_seed(7, 5), physml::derive_seed(7, 5));
  EXPECT_NE(physml::derive_seed(7, 5), physml::derive_seed(8, 5));
  EXPECT_NE(physml::derive_seed(7, 0), 7u);
  // Neighbouring indices differ in about half of the 64 bits (decorrelated streams).
  int bits = __builtin_popcountll(physml::derive_seed(7, 1) ^ physml::derive_seed(7, 2));
  EXPECT_GT(bits, 16);
  EXPECT_LT(bits, 48);
}
