#!/usr/bin/env bash
# Build PhysML's libFuzzer targets with clang (ASan + UBSan + fuzzer coverage, in their own
# build directory) and run them (fuzz/README.md).
#   scripts/fuzz.sh                 the short runs of the test suite (ctest -L fuzz)
#   scripts/fuzz.sh TARGET SECONDS [SEED_DIR]  a long run of one target, corpus in $build/fuzz/corpus/TARGET
#                                   (seed inputs: fuzz/seeds/TARGET and SEED_DIR, e.g. small .h5 files
#                                   for fuzz_hdf5_bytes, whose inputs may be up to 64 KiB)
# Environment: PHYSML_FUZZ_BUILD_DIR (default ./build-fuzz), PHYSML_JOBS (default: all cores).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${PHYSML_FUZZ_BUILD_DIR:-$root/build-fuzz}"
"$root/scripts/install-deps.sh"
if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPHYSML_FUZZ=ON -DPHYSML_BUILD_TESTS=OFF -DPHYSML_BUILD_BENCH=OFF -DPHYSML_BUILD_EXAMPLES=OFF \
    -DPHYSML_CHECK_HEADERS=OFF -DPHYSML_FORTRAN=OFF >/dev/null
fi
cmake --build "$build" --target physml_fuzzers -j "${PHYSML_JOBS:-$(nproc)}"
if [ $# -eq 0 ]; then
  cd "$build"
  exec ctest --output-on-failure -L "fuzz|sanitize" -j "${PHYSML_JOBS:-$(nproc)}"
fi
target="$1"; seconds="${2:-600}"
max_len=4096
[ "$target" = fuzz_hdf5_bytes ] && max_len=65536   # whole HDF5 files
corpus="$build/fuzz/corpus/$target"
mkdir -p "$corpus" "$build/fuzz/findings"
seeds=()
[ -d "$root/fuzz/seeds/$target" ] && seeds=("$root/fuzz/seeds/$target")
[ -n "${3:-}" ] && seeds+=("$(cd "$3" && pwd)")
cd "$build/fuzz/findings"
. "$root/cmake/sanitizer-options.env"   # PHYSML_ASAN_OPTIONS, PHYSML_UBSAN_OPTIONS: written once
ASAN_OPTIONS="$PHYSML_ASAN_OPTIONS:allocator_may_return_null=1" \
UBSAN_OPTIONS="$PHYSML_UBSAN_OPTIONS:suppressions=$root/fuzz/ubsan.supp" OMP_NUM_THREADS=1 \
  exec "$build/fuzz/$target" -max_total_time="$seconds" -max_len="$max_len" -timeout=60 -rss_limit_mb=4096 \
    -print_final_stats=1 "$corpus" "${seeds[@]}"
