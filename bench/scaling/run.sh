#!/usr/bin/env bash
# Strong and weak scaling on 1 and 2 MPI ranks (docs/parallel.md, "Scaling table"): training
# (the Darcy MgNO of examples/darcy/mgno_smooth.yaml, full size) and a classical solve (CG +
# Jacobi, the 5-point Poisson matrix). Runs alternate 1 rank / 2 ranks REPEATS times; prints a
# markdown table of medians. Every rank gets -threads 1.
# usage: bench/scaling/run.sh [BUILD_DIR] [WORK_DIR]   (REPEATS=2 EPOCHS=3 by default)
set -euo pipefail
build="$(cd "${1:-$(dirname "$0")/../../build}" && pwd)"
work="${2:-$build/bench/scaling/work}"
repeats="${REPEATS:-2}"
epochs="${EPOCHS:-3}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
physml="$build/bin/physml"
fixtures="$build/tests/cli/physml_bad_input_fixtures"
mpi=(mpirun --allow-run-as-root --oversubscribe -n 2)
export OMPI_MCA_rmaps_base_oversubscribe=1
mkdir -p "$work"
cd "$work"
for n in 64 128; do
  [ -f "darcy$n.h5" ] || "$physml" generate darcy -output "darcy$n.h5" -ntrain "$n" -ntest 0 -nvalid 8 \
    -darcy_resolution 65 -seed 1 -progress false >/dev/null
done
for n in 256 362; do
  [ -f "p$n.h5" ] || "$fixtures" poisson2d "p$n.h5" "$n"
done

# median of the numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
# mean seconds per epoch after the first (log.csv's last column) of run directory $1
epoch_s() { tail -n +3 "$1/log.csv" | awk -F, '{s+=$NF; n++} END {printf "%.3f\n", s/n}'; }
train() {  # train NAME DATA BATCH [mpi]
  local name=$1 data=$2 batch=$3
  shift 3
  rm -rf "$name"
  "$@" "$physml" train "$root/examples/darcy/mgno_smooth.yaml" -data "$data" -epochs "$epochs" -threads 1 \
    -batch_size "$batch" -output "$name" >/dev/null
  epoch_s "$name"
}
solve() {  # solve SYSTEM [mpi]: seconds per CG iteration
  local sys=$1
  shift
  "$@" "$physml" solve "$sys" -quiet -threads 1 -solvers cg -cg_ksp_type cg -cg_pc_type jacobi -cg_ksp_rtol 1e-8 \
    -cg_ksp_max_it 20000 | awk '/^iterations/ {it=$2} /^solve/ {s=$2} END {printf "%.3e %d\n", s/it, it}'
}

declare -A t
for ((r = 0; r < repeats; ++r)); do
  t[strong1]+="$(train s1 darcy64.h5 8) "
  t[strong2]+="$(train s2 darcy64.h5 4 "${mpi[@]}") "
  t[weak1]+="$(train w1 darcy64.h5 4) "
  t[weak2]+="$(train w2 darcy128.h5 4 "${mpi[@]}") "
  read -r s it1 < <(solve p256.h5); t[solve1]+="$s "
  read -r s its < <(solve p256.h5 "${mpi[@]}"); t[solve2]+="$s "
  read -r s it2 < <(solve p362.h5 "${mpi[@]}"); t[solvew]+="$s "
done
m() { tr ' ' '\n' <<<"${t[$1]}" | grep . | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
echo "| what | 1 rank | 2 ranks | 1-rank time / 2-rank time (ideal: strong 2, weak 1) | runs (1 rank; 2 ranks) |"
echo "|---|---|---|---|---|"
echo "| training, strong: 64 samples, global batch 8; s/epoch | $(m strong1) | $(m strong2) | $(ratio "$(m strong1)" "$(m strong2)") | ${t[strong1]}; ${t[strong2]} |"
echo "| training, weak: 64 samples per rank, batch 4 per rank; s/epoch | $(m weak1) | $(m weak2) | $(ratio "$(m weak1)" "$(m weak2)") | ${t[weak1]}; ${t[weak2]} |"
echo "| CG + Jacobi, strong: 256², s/iteration ($it1 its) | $(m solve1) | $(m solve2) | $(ratio "$(m solve1)" "$(m solve2)") | ${t[solve1]}; ${t[solve2]} |"
echo "| CG + Jacobi, weak: 256² per rank (362² on 2), s/iteration ($it1 / $it2 its) | $(m solve1) | $(m solvew) | $(ratio "$(m solve1)" "$(m solvew)") | ${t[solve1]}; ${t[solvew]} |"
