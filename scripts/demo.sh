#!/usr/bin/env bash
# Install dependencies, build PhysML and run the main demo: PhysML's main job at a
# small budget. Outputs go to ./demo-output (or $PHYSML_DEMO_DIR).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${PHYSML_BUILD_DIR:-$root/build}"
out="${PHYSML_DEMO_DIR:-$root/demo-output}"
"$root/scripts/build.sh" --target physml_cli
physml="$build/bin/physml"
mkdir -p "$out"
echo "== physml info"
"$physml" info
