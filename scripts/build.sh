#!/usr/bin/env bash
# Configure and build PhysML in ./build (or $PHYSML_BUILD_DIR). Extra arguments go to
# `cmake --build` (e.g. --target physml_cli). Set PHYSML_SANITIZE=1 for an
# address + undefined-behaviour build.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/install-deps.sh"
build="${PHYSML_BUILD_DIR:-$root/build}"
jobs="${PHYSML_JOBS:-$(nproc)}"
# ccache shares objects between checkouts when paths are relative to the checkout.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$root}"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DPHYSML_SANITIZE="${PHYSML_SANITIZE:-OFF}" -DCMAKE_INSTALL_PREFIX="$build/install"
fi
cmake --build "$build" -j "$jobs" "$@"
