// The BLAS / oneDNN found at run time, one thread count for LibTorch and the BLAS, and GEMM
// results of the kernels in use (after PhysML's OpenBLAS kernel choice) against float64.
#include "test_util.hpp"

#include "physml/core/blas.hpp"

#include <ATen/Version.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>

TEST(Blas, ReportsTheLibraryThatDefinesSgemm) {
  const auto b = physml::blas_info();
  const std::set<std::string> known{"OpenBLAS", "BLIS", "reference BLAS", "unknown"};
  EXPECT_TRUE(known.count(b.name)) << b.name;
  ASSERT_FALSE(b.library.empty());
  EXPECT_TRUE(std::filesystem::is_regular_file(b.library)) << b.library;
  EXPECT_FALSE(std::filesystem::is_symlink(b.library)) << b.library;  // symlinks resolved
  if (b.name == "OpenBLAS") {
    EXPECT_NE(b.config.find("OpenBLAS"), std::string::npos) << b.config;
    EXPECT_FALSE(b.core.empty());
    EXPECT_GE(b.threads, 1);
  }
  if (b.name == "reference BLAS") {
    EXPECT_EQ(b.threads, 1);
  }
}

TEST(Blas, OpenBlasDoesNotKeepItsGenericKernelsOnAVectorCpu) {
  const auto b = physml::blas_info();
  if (b.name != "OpenBLAS") GTEST_SKIP() << "BLAS is " << b.name;
  if (std::getenv("OPENBLAS_CORETYPE")) GTEST_SKIP() << "OPENBLAS_CORETYPE set by the user";
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx")) GTEST_SKIP() << "no AVX: Prescott is the right kernel";
  // The test main's physml::Environment ran use_best_openblas_kernels().
  EXPECT_NE(b.core, "Prescott");
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    EXPECT_NE(b.core, "SandyBridge");
  }
  EXPECT_EQ(physml::use_best_openblas_kernels(), "");  // nothing left to change
#endif
}

TEST(Blas, GemmOfTheKernelsInUseMatchesFloat64) {
  // Odd sizes exercise the kernels' edge handling; transposed operands the other GEMM paths.
  torch::manual_seed(3);
  for (auto [m, k, n] : {std::tuple<int, int, int>{257, 129, 300}, {64, 1000, 33}, {1, 77, 513}}) {
    auto a = torch::randn({m, k}), b = torch::randn({k, n});
    auto ref = torch::mm(a.to(torch::kDouble), b.to(torch::kDouble));
    // float32 rounding: |error| <= k eps sum |a||b| (a loose bound; typical errors are ~sqrt(k) eps).
    auto bound = 1.2e-7 * k * torch::mm(a.abs().to(torch::kDouble), b.abs().to(torch::kDouble));
    EXPECT_TRUE((torch::mm(a, b).to(torch::kDouble) - ref).abs().le(bound).all().item<bool>()) << m << "x" << k << "x" << n;
    auto at = a.t().contiguous(), bt = b.t().contiguous();
    EXPECT_TRUE((torch::mm(at.t(), bt.t()).to(torch::kDouble) - ref).abs().le(bound).all().item<bool>());
    auto d = torch::mm(a.to(torch::kDouble), b.to(torch::kDouble).t().contiguous().t());
    EXPECT_LT((d - ref).abs().max().item<double>(), 1e-12 * k);
  }
}

TEST(Blas, SetNumThreadsMovesTorchAndTheBlasTogether) {
  const int before = torch::get_num_threads();
  const bool openblas = physml::blas_info().name == "OpenBLAS";
  for (int n : {1, 2, 1}) {
    physml::set_num_threads(n);  // no GEMM in between: the BLAS count itself must follow
    EXPECT_EQ(torch::get_num_threads(), n);
    if (openblas) {
      EXPECT_EQ(physml::blas_info().threads, n);
    }
    auto a = torch::randn({256, 256});
    EXPECT_LT((torch::mm(a, torch::eye(256)) - a).abs().max().item<float>(), 1e-6);
  }
  EXPECT_THROW_MSG(physml::set_num_threads(0), "at least 1 thread");
  physml::set_num_threads(before);
}

TEST(Blas, OneDnnAndAtenIsaAreReported) {
  const auto o = physml::onednn_info();
  const std::string built = at::get_mkldnn_version();  // "Intel(R) MKL-DNN v2.6.3 (Git Hash ...)"
  if (built.find("MKL-DNN") == std::string::npos && built.find("oneDNN") == std::string::npos) GTEST_SKIP();
  ASSERT_FALSE(o.version.empty());
  EXPECT_NE(built.find("v" + o.version), std::string::npos) << built << " vs " << o.version;
  EXPECT_FALSE(o.isa.empty());
  EXPECT_EQ(o.isa.rfind("isa 0x", 0), std::string::npos) << o.isa;  // a known dnnl_cpu_isa_t value
  EXPECT_FALSE(o.runtime.empty());
  const std::set<std::string> aten{"DEFAULT", "AVX2", "AVX512"};
  EXPECT_TRUE(aten.count(physml::aten_cpu_capability())) << physml::aten_cpu_capability();
}
