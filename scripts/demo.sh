#!/usr/bin/env bash
# Install dependencies, build PhysML and run the main demo: PhysML's main job at a small
# budget (a few minutes on 2 cores):
#   physml generate darcy  -> Dataset .h5 + PNG snapshots
#   physml train (MgNO, FNO, same data, same epochs) -> checkpoints, loss CSV/PNG
#   physml eval            -> relative L2/H1 table, truth | prediction | error PNGs, VTK
# Outputs go to ./demo-output (or $PHYSML_DEMO_DIR). PHYSML_DEMO_EPOCHS, _NTRAIN and
# _RESOLUTION scale the budget.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${PHYSML_BUILD_DIR:-$root/build}"
out="${PHYSML_DEMO_DIR:-$root/demo-output}"
epochs="${PHYSML_DEMO_EPOCHS:-8}"
ntrain="${PHYSML_DEMO_NTRAIN:-96}"
res="${PHYSML_DEMO_RESOLUTION:-33}"
"$root/scripts/build.sh" --target physml_cli
physml="$build/bin/physml"
mkdir -p "$out"
cd "$out"

echo "== physml info"
"$physml" info

echo "== physml generate darcy (${res}x${res}, ${ntrain} train + 24 validation + 24 test samples, smooth coefficients)"
"$physml" generate darcy -output darcy.h5 -ntrain "$ntrain" -nvalid 24 -ntest 24 -seed 0 \
  -darcy_resolution "$res" -snapshots snapshots

# Same data, same epochs, same batch size; each model keeps its published optimizer recipe.
common=(-data darcy.h5 -epochs "$epochs" -batch_size 8 -seed 0)
echo "== physml train MgNO"
"$physml" train "$root/examples/darcy/mgno_smooth.yaml" "${common[@]}" \
  -mgno_levels 4 -mgno_layers 4 -output runs/mgno
echo "== physml train FNO"
"$physml" train "$root/examples/darcy/fno_smooth.yaml" "${common[@]}" -output runs/fno

echo "== physml eval on the test split"
"$physml" eval runs/mgno/best.h5 darcy.h5 -split test -figures runs/mgno/test | tee mgno_eval.txt
"$physml" eval runs/fno/best.h5 darcy.h5 -split test -figures runs/fno/test | tee fno_eval.txt

echo
echo "== MgNO vs FNO, Darcy smooth ${res}x${res}, ${ntrain} training samples, ${epochs} epochs"
printf '%-6s %s\n' MgNO "$(grep -iE 'relative L2' mgno_eval.txt | head -1)"
printf '%-6s %s\n' FNO "$(grep -iE 'relative L2' fno_eval.txt | head -1)"
echo "pictures: $out/snapshots, $out/runs/*/loss.png, $out/runs/*/test/*.png; fields for ParaView: $out/runs/*/test/*.vti"
