// Run-time identification of the BLAS / oneDNN LibTorch uses, OpenBLAS kernel selection and
// one thread count for LibTorch and the BLAS.
#include "physml/core/blas.hpp"

#include "physml/core/error.hpp"

#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <dlfcn.h>

#include <atomic>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <mutex>
#include <sstream>

namespace physml {

namespace {

std::atomic<bool> g_retargeted{false};

std::string real_path(const char* path) {
  if (!path) return "";
  char buf[PATH_MAX];
  return realpath(path, buf) ? std::string(buf) : std::string(path);
}

/// The shared object that defines `symbol` in the global scope (what LibTorch binds to).
struct Provider {
  std::string path;     // as the loader names it
  void* handle = nullptr;  // dlopen(RTLD_NOLOAD) handle: dlsym on it searches the object and its dependencies
  Provider(const Provider&) = delete;
  Provider& operator=(const Provider&) = delete;
  explicit Provider(const char* symbol) {
    void* sym = dlsym(RTLD_DEFAULT, symbol);
    Dl_info info{};
    if (!sym || !dladdr(sym, &info) || !info.dli_fname) return;
    path = info.dli_fname;
    handle = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
  }
  ~Provider() {
    if (handle) dlclose(handle);
  }
  template <typename Fn>
  Fn find(const char* name) const {
    return handle ? reinterpret_cast<Fn>(dlsym(handle, name)) : nullptr;
  }
};

bool is_prescott(const char* core) {
  if (!core) return false;
  std::string c(core);
  for (auto& ch : c) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return c == "prescott";
}

/// The OpenBLAS core type matching this CPU's vector ISA (nullptr if nothing beats SSE3).
const char* best_openblas_core() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  if (__builtin_cpu_supports("avx")) return "SandyBridge";
#endif
  return nullptr;
}

std::string onednn_isa_name(int isa) {
  // dnnl_cpu_isa_t of oneDNN 2.6 (dnnl_types.h).
  switch (isa) {
    case 0x0: return "all";
    case 0x1: return "sse41";
    case 0x3: return "avx";
    case 0x7: return "avx2";
    case 0xf: return "avx512_mic";
    case 0x1f: return "avx512_mic_4ops";
    case 0x27: return "avx512_core";
    case 0x67: return "avx512_core_vnni";
    case 0xe7: return "avx512_core_bf16";
    case 0x3e7: return "avx512_core_amx";
    case 0x407: return "avx2_vnni";
    default: {
      std::ostringstream s;
      s << "isa 0x" << std::hex << isa;
      return s.str();
    }
  }
}

}  // namespace

BlasInfo blas_info() {
  BlasInfo b;
  b.retargeted = g_retargeted.load();
  Provider gemm("sgemm_");
  if (gemm.path.empty()) {
    b.name = "unknown";
    return b;
  }
  b.library = real_path(gemm.path.c_str());
  {
    Provider lapack("sgetrf_");
    b.lapack = real_path(lapack.path.empty() ? nullptr : lapack.path.c_str());
  }
  if (auto config = gemm.find<char* (*)()>("openblas_get_config")) {
    b.name = "OpenBLAS";
    b.config = config();
    if (auto core = gemm.find<char* (*)()>("openblas_get_corename")) b.core = core();
    if (auto threads = gemm.find<int (*)()>("openblas_get_num_threads")) b.threads = threads();
  } else if (auto version = gemm.find<const char* (*)()>("bli_info_get_version_str")) {
    b.name = "BLIS";
    b.config = std::string("BLIS ") + version();
    if (auto arch_id = gemm.find<int (*)()>("bli_arch_query_id"))
      if (auto arch = gemm.find<const char* (*)(int)>("bli_arch_string")) b.core = arch(arch_id());
    if (auto threads = gemm.find<long (*)()>("bli_thread_get_num_threads")) b.threads = static_cast<int>(threads());
  } else if (b.library.find("blis") != std::string::npos) {
    // Debian's BLIS libblas.so.3 exports the BLAS/CBLAS interface only (no bli_* queries);
    // its threads come from BLIS_NUM_THREADS / OMP_NUM_THREADS at start-up.
    b.name = "BLIS";
  } else if (b.library.find("/blas/") != std::string::npos || b.library.find("refblas") != std::string::npos) {
    b.name = "reference BLAS";
    b.threads = 1;
  } else {
    b.name = "unknown";
  }
  return b;
}

OneDnnInfo onednn_info() {
  OneDnnInfo o;
  struct Version {
    int major, minor, patch;
    const char* hash;
    unsigned cpu_runtime, gpu_runtime;
  };
  auto version = reinterpret_cast<const Version* (*)()>(dlsym(RTLD_DEFAULT, "dnnl_version"));
  if (!version) return o;
  const Version* v = version();
  o.version = std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
  switch (v->cpu_runtime) {  // DNNL_RUNTIME_*
    case 0: o.runtime = "none"; break;
    case 1: o.runtime = "sequential"; break;
    case 2: o.runtime = "OpenMP"; break;
    case 4: o.runtime = "TBB"; break;
    case 8: o.runtime = "threadpool"; break;
    default: o.runtime = "runtime " + std::to_string(v->cpu_runtime);
  }
  if (auto isa = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "dnnl_get_effective_cpu_isa")))
    o.isa = onednn_isa_name(isa());
  return o;
}

std::string aten_cpu_capability() {
  const std::string config = at::show_config();
  const std::string key = "CPU capability usage: ";
  auto at = config.find(key);
  if (at == std::string::npos) return "unknown";
  at += key.size();
  return config.substr(at, config.find('\n', at) - at);
}

void set_num_threads(int n) {
  PHYSML_CHECK(n >= 1, "set_num_threads: need at least 1 thread, got ", n);
  at::set_num_threads(n);
  Provider gemm("sgemm_");
  if (auto set = gemm.find<void (*)(int)>("openblas_set_num_threads")) set(n);
}

std::string use_best_openblas_kernels() {
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  Provider gemm("sgemm_");
  auto corename = gemm.find<char* (*)()>("openblas_get_corename");
  auto quit = gemm.find<void (*)()>("gotoblas_dynamic_quit");
  auto init = gemm.find<void (*)()>("gotoblas_dynamic_init");
  if (!corename || !quit || !init) return "";  // not OpenBLAS, or not a DYNAMIC_ARCH build
  if (std::getenv("OPENBLAS_CORETYPE")) return "";  // the user chose
  if (!is_prescott(corename())) return "";       // detection worked
  const char* want = best_openblas_core();
  if (!want) return "";
  // gotoblas_dynamic_init() is OpenBLAS's start-up dispatch: with OPENBLAS_CORETYPE set it
  // installs that core's kernel table and block sizes, exactly as at load time.
  setenv("OPENBLAS_CORETYPE", want, 1);
  quit();
  init();
  unsetenv("OPENBLAS_CORETYPE");
  const std::string now = corename();
  if (is_prescott(now.c_str())) return "";
  g_retargeted = true;
  return now;
}

}  // namespace physml
