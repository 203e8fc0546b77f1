#!/usr/bin/env bash
# DCDM vs PETSc CG, CG+ICC(0), CG+GAMG, CG+BoomerAMG on pressure-Poisson obstacle scenes.
# Iterations and seconds (setup / solve) to relative residual 1e-6 (unpreconditioned norm,
# x0 = 0), one MPI rank. Usage: bench/dcdm/run.sh [build-dir] [out-dir]
# Environment: SIZES3D="32 64" SIZES2D="64 128 256" (empty = none) FRAMES=5 TRAIN_N3=32 TRAIN_N2=64
#   EPOCHS3=8 EPOCHS2=30 (training; ~35 and ~8 min on one core of this machine), MAXIT=2000 (iteration cap;
#   CG needs ~3,100 at 2D 1024²), FCG_MMAX=30 FCG_TRUNC=notay (directions kept and truncation of
#   the FCG + PC dcdm row; FCG_MMAX=2 FCG_TRUNC=standard is DCDM's recurrence without the
#   safeguard), INPUT_SCALE=none|grid
#   (-ksp_dcdm_input_scale / -pc_dcdm_input_scale of the network rows), DCDM3D_MAX=32 (largest 3D grid on which the network
#   solvers run: one 3D network application costs ~0.16 s at 32³, ~2 s at 64³ on this machine),
#   SCENES3D="sphere spheres" (single-frame 3D scenes; box and none are also available),
#   SOLVERS=regex (run only the solvers whose name matches), TABLE=results.md (output table
#   name in out-dir). An existing model in out-dir (dcdm3d_n$TRAIN_N3/last.h5,
#   dcdm2d_n$TRAIN_N2/last.h5, the training directories of dcdm_train -output) is used as is; a
#   missing one is trained first.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-$root/build}"
out="${2:-$build/bench/dcdm/results}"
mkdir -p "$out"
poisson="$build/examples/dcdm_poisson/dcdm_poisson"
trainer="$build/examples/dcdm_poisson/dcdm_train"
lib="$build/solvers/libphysml_solvers.so"
SIZES3D="${SIZES3D-32 64}"
SIZES2D="${SIZES2D-64 128 256}"
DCDM3D_MAX="${DCDM3D_MAX:-32}"
FRAMES="${FRAMES:-5}"
SCENES3D="${SCENES3D:-sphere spheres}"
TRAIN_N3="${TRAIN_N3:-32}"
TRAIN_N2="${TRAIN_N2:-64}"
EPOCHS3="${EPOCHS3:-8}"
EPOCHS2="${EPOCHS2:-30}"
MAXIT="${MAXIT:-2000}"
FCG_MMAX="${FCG_MMAX:-30}"
FCG_TRUNC="${FCG_TRUNC:-notay}"
INPUT_SCALE="${INPUT_SCALE:-none}"
tag=$([ "$INPUT_SCALE" = none ] && echo "" || echo " [scale $INPUT_SCALE]")
common="-ksp_rtol 1e-6 -ksp_atol 1e-50 -ksp_norm_type unpreconditioned -ksp_max_it $MAXIT"

m3="$out/dcdm3d_n${TRAIN_N3}/last.h5"
m2="$out/dcdm2d_n${TRAIN_N2}/last.h5"
if [ ! -f "$m3" ] && [ "$DCDM3D_MAX" -gt 0 ] && [ -n "$SIZES3D" ]; then
  "$trainer" -n "$TRAIN_N3" -dim 3 -obstacle sphere -lanczos_steps 300 -samples 600 -epochs "$EPOCHS3" \
    -lr 1e-3 -threads 1 -output "$(dirname "$m3")" 2>&1 | grep -v "^train " | tee "$out/train3d.log"
fi
if [ ! -f "$m2" ] && [ -n "$SIZES2D" ]; then
  "$trainer" -n "$TRAIN_N2" -dim 2 -obstacle sphere -lanczos_steps 400 -samples 1000 -epochs "$EPOCHS2" \
    -lr 1e-3 -threads 1 -output "$(dirname "$m2")" 2>&1 | grep -v "^train " | tee "$out/train2d.log"
fi

solvers=(
  "CG|-ksp_type cg -pc_type none"
  "CG+ICC(0)|-ksp_type cg -pc_type icc"
  "CG+GAMG|-ksp_type cg -pc_type gamg -pc_gamg_reuse_interpolation false"
  "CG+BoomerAMG|-ksp_type cg -pc_type hypre -pc_hypre_type boomeramg"
  "DCDM$tag|-dll_append $lib -ksp_type dcdm -ksp_dcdm_model MODEL -ksp_dcdm_input_scale $INPUT_SCALE -pc_type jacobi"
  "FCG($FCG_MMAX$([ "$FCG_TRUNC" = notay ] || echo ", $FCG_TRUNC"))+PC dcdm$tag|-dll_append $lib -ksp_type fcg -ksp_fcg_mmax $FCG_MMAX -ksp_fcg_truncation_type $FCG_TRUNC -pc_type dcdm -pc_dcdm_model MODEL -pc_dcdm_input_scale $INPUT_SCALE"
)

table="$out/${TABLE:-results.md}"
echo "| dim | N | scene | frames | solver | mean its | mean setup s | mean solve s | reason (last) |" > "$table"
echo "|---|---|---|---|---|---|---|---|---|" >> "$table"
run() {  # dim n scene frames
  local dim=$1 n=$2 scene=$3 frames=$4 model
  model=$([ "$dim" = 3 ] && echo "$m3" || echo "$m2")
  for s in "${solvers[@]}"; do
    local name="${s%%|*}" opts="${s#*|}"
    if [ "$dim" = 3 ] && [ "$n" -gt "$DCDM3D_MAX" ] && [[ "$opts" == *dcdm* ]]; then continue; fi
    if [ -n "${SOLVERS:-}" ] && ! [[ "$name" =~ $SOLVERS ]]; then continue; fi
    opts="${opts//MODEL/$model}"
    local log="$out/${dim}d_n${n}_${scene}_f${frames}_${name//[^A-Za-z0-9]/_}.log"
    # shellcheck disable=SC2086
    "$poisson" -threads 1 -dim "$dim" -n "$n" -obstacle "$scene" -frames "$frames" -speed 0.05 $common $opts > "$log" 2>&1 || true
    local summary reason
    summary=$(grep '^summary' "$log" || echo "summary frames $frames mean_its - mean_setup - mean_solve -")
    reason=$(grep '^frame' "$log" | tail -1 | sed -n 's/.*reason \([A-Z_]*\).*/\1/p')
    read -r _ _ _ _ its _ setup _ solve <<< "$summary"
    echo "| $dim | $n | $scene | $frames | $name | $its | $setup | $solve | ${reason:-error} |" | tee -a "$table"
  done
}
for n in $SIZES3D; do
  for scene in $SCENES3D; do run 3 "$n" "$scene" 1; done
  if [ "$FRAMES" -gt 1 ]; then run 3 "$n" sphere "$FRAMES"; fi
done
for n in $SIZES2D; do
  run 2 "$n" sphere 1
  if [ "$FRAMES" -gt 1 ]; then run 2 "$n" sphere "$FRAMES"; fi
done
echo "results in $table"
