#pragma once
/// \file blas.hpp
/// The CPU math libraries LibTorch runs on, as found at run time: the BLAS behind `sgemm_`
/// (Debian's LibTorch calls whatever `libblas.so.3` the alternatives system selects:
/// OpenBLAS, BLIS or the reference BLAS), the oneDNN ISA and ATen's vector ISA; and the one
/// place that sets the thread count of LibTorch and of the BLAS together.

#include <string>

namespace physml {

/// The BLAS library that serves LibTorch's GEMM calls in this process.
struct BlasInfo {
  /// "OpenBLAS", "BLIS", "reference BLAS" (netlib) or "unknown".
  std::string name;
  /// Resolved path of the shared object that defines `sgemm_` (symlinks followed).
  std::string library;
  /// Resolved path of the shared object that defines `sgetrf_` (LAPACK), "" if none.
  std::string lapack;
  /// Build description: OpenBLAS `openblas_get_config()`, BLIS version; "" if not exposed.
  std::string config;
  /// Kernel family in use: OpenBLAS `openblas_get_corename()` (e.g. "SkylakeX"); "" if not exposed.
  std::string core;
  /// Threads the BLAS uses for a call made outside a parallel region (-1: not exposed).
  int threads = -1;
  /// True when PhysML replaced OpenBLAS's "Prescott" fallback (a CPU model its detection does
  /// not know) by the kernels the CPU supports; see use_best_openblas_kernels().
  bool retargeted = false;
};

/// Which BLAS is loaded, found through the resolved `sgemm_` symbol (dladdr) and the
/// query functions that library exports (dlsym). Never throws.
BlasInfo blas_info();

/// oneDNN (MKL-DNN), which LibTorch uses for convolutions and some matmuls on CPU.
struct OneDnnInfo {
  /// e.g. "2.6.3"; "" when oneDNN is not loaded.
  std::string version;
  /// ISA oneDNN dispatches to (`dnnl_get_effective_cpu_isa`), e.g. "avx512_core_bf16";
  /// it honours ONEDNN_MAX_CPU_ISA / DNNL_MAX_CPU_ISA.
  std::string isa;
  /// Threading runtime oneDNN was built with: "OpenMP", "TBB", "sequential", ...
  std::string runtime;
};

/// The oneDNN library loaded with LibTorch, found through dlsym. Never throws.
OneDnnInfo onednn_info();

/// ATen's vectorised-kernel ISA ("AVX2", "AVX512", "DEFAULT"), from at::show_config();
/// ATEN_CPU_CAPABILITY in the environment lowers it.
std::string aten_cpu_capability();

/// Sets LibTorch's intra-op threads and the BLAS threads to `n` (>= 1). OpenBLAS's OpenMP
/// build (0.3.21, measured) follows omp_get_max_threads(), which at::set_num_threads sets, and
/// runs single-threaded inside LibTorch's OpenMP parallel regions (omp_in_parallel()), so the
/// two never multiply; both share libgomp's one pool. Before any set_num_threads the two
/// disagree (Debian's LibTorch reports 1 thread while OpenMP, hence OpenBLAS, uses all cores),
/// and some OpenBLAS versions stop following OpenMP once their own count is 1: setting
/// openblas_set_num_threads too keeps them equal whatever the version.
void set_num_threads(int n);

/// OpenBLAS 0.3.21 (Debian 12) falls back to its SSE3 "Prescott" kernels on CPU models newer
/// than its detection table (e.g. Xeon family 6 model 207), 3-8x slower than the AVX2 /
/// AVX-512 kernels the CPU runs. If OpenBLAS is loaded with that fallback, OPENBLAS_CORETYPE
/// is not set by the user, and the CPU supports AVX-512 (F, CD, BW, DQ, VL), AVX2 + FMA or
/// AVX, this re-initialises OpenBLAS's dispatch with "SkylakeX", "Haswell" or "SandyBridge"
/// (what OPENBLAS_CORETYPE would select at start-up). Call it before other threads use BLAS
/// (physml::Environment does). Returns the core name now in use ("" if nothing changed).
std::string use_best_openblas_kernels();

}  // namespace physml
