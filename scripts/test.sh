#!/usr/bin/env bash
# Install dependencies, build PhysML and run the whole test suite (ctest).
# Usage: scripts/test.sh [extra ctest arguments, e.g. -L unit or -R Grid]
# Without arguments it then builds the libFuzzer targets with clang (ASan + UBSan, build-fuzz/)
# and runs their short runs (scripts/fuzz.sh, fuzz/README.md); PHYSML_FUZZ=0 skips that.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${PHYSML_BUILD_DIR:-$root/build}"
"$root/scripts/build.sh"
cd "$build"
export OMPI_MCA_rmaps_base_oversubscribe=1   # let `mpirun -n 2` run on a 2-core machine
ctest --output-on-failure -j "${PHYSML_JOBS:-$(nproc)}" --timeout 900 "$@"
if [ $# -eq 0 ] && [ "${PHYSML_FUZZ:-1}" != 0 ]; then
  "$root/scripts/fuzz.sh"
fi
