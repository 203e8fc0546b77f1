#!/usr/bin/env bash
# kill -9 during `physml generate|simulate|train`, then resume (tests/cli/kill9.cmake):
#
#   kill9_resume.sh MODE PHYSML DIR [COMPARE]     MODE = generate | simulate | train
#
# Starts the command in the background, waits until it has made progress (polls the partial
# file or the training log), sends SIGKILL, checks that every file left behind is readable
# (`physml info` reads each tensor in full), that at most one sample / frame / epoch of work
# was lost, resumes with the same command, and compares the result with an uninterrupted run:
# the Dataset content checksum (generate), every stored frame (simulate, COMPARE =
# physml_trajectory_compare) or every parameter and buffer of the final checkpoint and the
# training log's metrics (train).
set -euo pipefail
mode=$1 exe=$2 dir=$3 compare=${4:-}
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
# start_and_kill CHECK DELAY ARGS...: run physml ARGS in the background (output in
# killed.log); once `CHECK` (a shell function polling the log or an output file) succeeds,
# wait DELAY seconds more and SIGKILL it. Fails if the command ends before it was killed.
start_and_kill() {
  local check=$1 delay=$2
  shift 2
  "$exe" "$@" >killed.log 2>&1 &
  local pid=$! t0=$SECONDS
  until $check; do
    kill -0 "$pid" 2>/dev/null || { cat killed.log; fail "the command ended before it could be killed"; }
    ((SECONDS - t0 < 60)) || { kill -9 "$pid"; fail "no progress after 60 s"; }
    sleep 0.05
  done
  sleep "$delay"
  kill -9 "$pid"
  local rc=0
  wait "$pid" || rc=$?
  [[ $rc == 137 ]] || fail "expected exit status 137 (SIGKILL), got $rc"
  echo "killed with SIGKILL: $(tail -c 300 killed.log | tr '\r' '\n' | tail -n 2 | tr '\n' ' ')"
}

case $mode in
generate)
  args=(generate darcy -ntrain 34 -ntest 3 -nvalid 3 -darcy_resolution 65 -seed 4 -threads 1)
  # The first progress line is printed once the first sample is written.
  progress() { grep -q "darcy  1/40" killed.log; }
  start_and_kill progress 0.2 "${args[@]}" -output run.h5
  [[ ! -e run.h5 ]] || fail "run.h5 exists after the kill"
  "$exe" info run.h5.partial >info.log || { cat info.log; fail "the partial data set is not readable after kill -9"; }
  have=$(awk '/^split/ {s += $3} END {print s + 0}' info.log)
  echo "partial file readable: $have of 40 samples"
  ((have >= 1 && have < 40)) || fail "$have samples in the partial file, expected some but not all"
  "$exe" "${args[@]}" -output run.h5 >resume.log 2>&1 || { cat resume.log; fail "resume failed"; }
  grep -q "generating $((40 - have)) of 40 darcy samples" resume.log || { cat resume.log; fail "the resume did not generate exactly the missing samples"; }
  "$exe" "${args[@]}" -output ref.h5 >ref.log 2>&1 || { cat ref.log; fail "uninterrupted run failed"; }
  a=$(grep -o 'content checksum [0-9a-f]*' resume.log) b=$(grep -o 'content checksum [0-9a-f]*' ref.log)
  [[ -n $a && $a == "$b" ]] || fail "resumed '$a' vs uninterrupted '$b'"
  echo "kill -9 and resume: data identical ($a)"
  ;;
simulate)
  [[ -n $compare ]] || fail "simulate needs the trajectory comparison program"
  args=(simulate -frames 2000 -mpm_dim 2 -mpm_cells 16 -body0_velocity 1,-1 -dtype float64 -threads 1)
  progress() { grep -q "simulate  1/2001" killed.log; }
  start_and_kill progress 0.2 "${args[@]}" -output run.h5
  [[ ! -e run.h5 ]] || fail "run.h5 exists after the kill"
  "$exe" info run.h5.partial >info.log || { cat info.log; fail "the partial trajectory is not readable after kill -9"; }
  have=$(awk '/^frames/ {print $2}' info.log)
  echo "partial file readable: $have of 2001 frames"
  "$exe" "${args[@]}" -output run.h5 >resume.log 2>&1 || { cat resume.log; fail "resume failed"; }
  grep -q "resuming '.*run.h5' after frame $((have - 1)) of 2000" resume.log || { cat resume.log; fail "the resume did not continue after frame $((have - 1))"; }
  "$exe" "${args[@]}" -output ref.h5 >ref.log 2>&1 || { cat ref.log; fail "uninterrupted run failed"; }
  "$compare" run.h5 ref.h5 >cmp.log 2>&1 || { cat cmp.log; fail "resumed trajectory differs"; }
  echo "kill -9 and resume: trajectory identical ($(cat cmp.log))"
  ;;
train)
  "$exe" generate darcy -output data.h5 -ntrain 8 -ntest 1 -nvalid 4 -darcy_resolution 17 -seed 2 -threads 1 >gen.log 2>&1 ||
    { cat gen.log; fail "data generation failed"; }
  args=(train -model mgno -mgno_channels 4 -mgno_levels 3 -mgno_layers 1 -data data.h5 -epochs 40 -batch_size 2
    -seed 3 -threads 1)
  epochs_logged() { [[ -f run/log.csv ]] && echo $(($(wc -l <run/log.csv) - 1)) || echo 0; }
  progress() { (($(epochs_logged) >= 3)); }
  start_and_kill progress 0 "${args[@]}" -output run
  "$exe" info run/last.h5 >info.log || { cat info.log; fail "last.h5 is not readable after kill -9"; }
  "$exe" info run/best.h5 >/dev/null || fail "best.h5 is not readable after kill -9"
  at=$(grep -o 'epoch [0-9]*' info.log | awk '{print $2}')
  logged=$(epochs_logged)
  echo "checkpoint readable at epoch $at, log has $logged epochs"
  ((logged == at || logged == at + 1)) || fail "log ($logged epochs) and checkpoint (epoch $at) disagree by more than one epoch"
  "$exe" "${args[@]}" -output run -resume run/last.h5 >resume.log 2>&1 || { cat resume.log; fail "resume failed"; }
  grep -q "resumed from run/last.h5 at epoch $at" resume.log || { cat resume.log; fail "no resume message"; }
  "$exe" "${args[@]}" -output ref >ref.log 2>&1 || { cat ref.log; fail "uninterrupted run failed"; }
  # Every tensor of the final checkpoints (parameters, normalizers) bit for bit. The optimizer
  # blob is left out: torch::save's archive bytes are not canonical (its size differs between
  # equal states); the Adam state itself is compared bit for bit by the Trainer unit tests, and a
  # wrong state after the resume would have changed the parameters of the epochs that followed.
  "$exe" info run/last.h5 | grep '^  ' | grep -v '^  optimizer ' >run.tensors
  "$exe" info ref/last.h5 | grep '^  ' | grep -v '^  optimizer ' >ref.tensors
  diff run.tensors ref.tensors >/dev/null || { diff run.tensors ref.tensors || true; fail "final checkpoints differ"; }
  # The log: one line per epoch, the same metrics (all columns but the wall time).
  cut -d, -f1-5 run/log.csv >run.metrics
  cut -d, -f1-5 ref/log.csv >ref.metrics
  diff run.metrics ref.metrics >/dev/null || { diff run.metrics ref.metrics || true; fail "training logs differ"; }
  echo "kill -9 and resume: final checkpoint identical ($(wc -l <run.tensors) tensors), log identical ($(($(wc -l <run.metrics) - 1)) epochs)"
  ;;
*) fail "unknown mode $mode" ;;
esac
