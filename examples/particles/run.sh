#!/usr/bin/env bash
# GNS against GIOROM on PhysML's own MPM trajectories (issue 15's recipe at a budget this
# machine allows): an ensemble of 2-D water trajectories with random initial motions, GNS on
# the full graph, GIOROM's stepper on sparse samples plus its point evaluator, rollouts on a
# held-out trajectory, and a table of rollout MSE and time per frame. Every size is an
# environment variable (defaults: a smoke run of a few minutes on 2 cores):
#   TRAJ (12 trajectories: all but the last two train, one validates, the last is the test),
#   FRAMES (60), PPC (particles per cell and axis, 2), EPOCHS (2), GNS_LATENT (64), GNS_STEPS (4),
#   SPARSE (fraction of the particles GIOROM steps, 0.25), MATERIAL (water|sand|plasticine|jelly),
#   LR (Adam's learning rate of GNS and GIOROM, decayed x0.9 per epoch; 1e-4), THREADS (1),
#   OUT (particles-output).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
physml="${PHYSML:-$here/../../build/bin/physml}"
[ -x "$physml" ] || { echo "run.sh: no physml at '$physml' (build it: ./scripts/build.sh --target physml_cli, or set PHYSML)" >&2; exit 1; }
TRAJ=${TRAJ:-12} FRAMES=${FRAMES:-60} PPC=${PPC:-2} EPOCHS=${EPOCHS:-2} GNS_LATENT=${GNS_LATENT:-64}
GNS_STEPS=${GNS_STEPS:-4} SPARSE=${SPARSE:-0.25} THREADS=${THREADS:-1} OUT=${OUT:-particles-output}
MATERIAL=${MATERIAL:-water} LR=${LR:-1e-4}
[ "$TRAJ" -ge 3 ] || { echo "run.sh: TRAJ must be >= 3 (train, validation, test)" >&2; exit 1; }
mkdir -p "$OUT/data"
last=$((TRAJ - 1)) valid=$((TRAJ - 2))
digits=${#last}
file() { printf "%s/data/${MATERIAL}_%0${digits}d.h5" "$OUT" "$1"; }
test_file=$(file "$last") valid_file=$(file "$valid")

# 1. Data: one scene (a block of MATERIAL), TRAJ members with their own initial velocity (+-1 m/s) and spin (+-2 rad/s).
t0=$(date +%s.%N)
"$physml" simulate -mpm_dim 2 -mpm_cells 32 -body0_material "$MATERIAL" -body0_lower 0.2,0.15 -body0_upper 0.55,0.55 \
  -body0_particles_per_cell_axis "$PPC" -body0_velocity 0,0 -body0_angular_velocity 0 -mpm_substeps 10 \
  -store kinematics -trajectories "$TRAJ" -velocity_spread 1 -angular_velocity_spread 2 -frames "$FRAMES" \
  -output "$OUT/data/$MATERIAL.h5" -threads "$THREADS" -progress 0 2>&1 | tee "$OUT/simulate.log"
t1=$(date +%s.%N)
# The particle count from the first member's log line (written or already complete).
particles=$(sed -n "/frames of [0-9]* particles/{s/.*frames of \([0-9]*\) particles.*/\1/p;q}" "$OUT/simulate.log")
[ -n "$particles" ] || { echo "run.sh: no particle count in $OUT/simulate.log" >&2; exit 1; }
# Training files: every member but the validation and test ones.
train=()
for ((k = 0; k < TRAJ - 2; ++k)); do train+=("$(file "$k")"); done
train_list=$(IFS=,; echo "${train[*]}")

# 2. GNS on the full graph (radius 0.05: ~30 neighbours at 2 particles per 1/32 cell).
common=(-valid_data "$valid_file" -epochs "$EPOCHS" -threads "$THREADS" -valid_frames 20 -lr "$LR")
"$physml" train -model gns -data "$train_list" "${common[@]}" -output "$OUT/gns" \
  -gns_radius 0.05 -gns_latent "$GNS_LATENT" -gns_steps "$GNS_STEPS" -gns_materials 1
# 3. GIOROM's stepper on SPARSE of the particles (radius doubled: sparser graph), its evaluator.
"$physml" train -model giorom -data "$train_list" "${common[@]}" -output "$OUT/giorom" \
  -giorom_radius 0.1 -giorom_materials 1 -giorom_latent "$GNS_LATENT" -sample_fraction "$SPARSE" -position_weight 1e3
sparse_n=$(awk -v f="$SPARSE" -v n="$particles" 'BEGIN { k = int(f * n); print (k < 1 ? 1 : k) }')
"$physml" train -model giorom_evaluator -data "$train_list" -valid_data "$valid_file" -epochs "$EPOCHS" -threads "$THREADS" \
  -output "$OUT/evaluator" -evaluator_sparse "$sparse_n" -evaluator_queries 256 -giorom_evaluator_grid 16 -lr 1e-3

# 4. Rollouts of the test trajectory.
roll() {  # name, extra args
  local name=$1; shift
  local log="$OUT/$name.log"
  rm -f "$OUT/$name.h5" "$OUT/$name.h5.partial"  # always the models just trained, never an old rollout
  "$physml" simulate -initial "$test_file" -output "$OUT/$name.h5" -frames "$FRAMES" -threads "$THREADS" -progress 0 \
    -png "$OUT/${name}_png" -png_every 20 "$@" 2>&1 | tee "$log"
}
roll rollout_gns -model "$OUT/gns/best.h5"
roll rollout_giorom -model "$OUT/giorom/best.h5" -evaluator "$OUT/evaluator/best.h5" -evaluator_sparse "$sparse_n"

mse() { sed -n "s/.*predicted frames: mean \([^,]*\), last \([^ ]*\).*/\1 \2/p" "$OUT/$1.log"; }
baseline() { sed -n "s/.*with the mean training acceleration: mean \([^,]*\), last \([^)]*\)).*/\1 \2/p" "$OUT/$1.log"; }
fps() { sed -n "s/.*, \([0-9.e+-]*\) predicted frames\/s).*/\1/p" "$OUT/$1.log"; }
ms() { awk -v f="$1" 'BEGIN { if (f > 0) printf "%.2f", 1000 / f; else print "-" }'; }
for name in rollout_gns rollout_giorom; do
  [ -n "$(mse $name)" ] && [ -n "$(baseline $name)" ] && [ -n "$(fps $name)" ] ||
    { echo "run.sh: no MSE / baseline / rate in $OUT/$name.log" >&2; exit 1; }
done
mpm=$(awk -v a="$t0" -v b="$t1" -v n="$TRAJ" -v f="$FRAMES" 'BEGIN { printf "%.2f", (b - a) / (n * (f + 1)) * 1000 }')
{
  echo "| simulator | rollout position MSE on the test trajectory (mean, last frame) | ms per frame |"
  echo "|---|---|---|"
  echo "| MPM (ground truth, 10 substeps per frame, incl. output) | 0 | $mpm |"
  read -r m l <<<"$(baseline rollout_gns)"
  echo "| the window extrapolated with the mean training acceleration (a network returning 0) | $m, $l | - |"
  read -r m l <<<"$(mse rollout_gns)"
  echo "| GNS, full graph ($particles particles) | $m, $l | $(ms "$(fps rollout_gns)") |"
  read -r m l <<<"$(mse rollout_giorom)"
  echo "| GIOROM, $sparse_n sparse particles + evaluator | $m, $l | $(ms "$(fps rollout_giorom)") |"
} | tee "$OUT/table.md"
