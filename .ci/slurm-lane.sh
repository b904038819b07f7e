#!/usr/bin/env bash
# CI lane: the tiny config through `snakemake --profile slurm` on a real single-node SLURM.
#
#  1. bring up SLURM (.ci/slurm-ci.sh; installs the Debian packages if missing), always torn down;
#  2. `make install-profile` into a scratch config dir, so `--profile slurm` works verbatim;
#  3. a failing job must make Snakemake exit non-zero promptly, with the job's SLURM log kept;
#     a GPU job must see its GPU on the GPU partition; an unsatisfiable GPU request must fail fast
#     (tests/workflows/slurm_checks/Snakefile);
#  4. run the tiny config locally and through SLURM in two scratch dirs, compare the artifacts.
# Every wait is bounded (`timeout`). The cluster has no accounting database, so Snakemake queries
# job status with squeue, and checks early: both flags belong to this cluster, not to the profile.
# usage: bash .ci/slurm-lane.sh      (as root; keep the scratch dir with SLURM_LANE_KEEP=1; time
#        limits of the two tiny runs: SLURM_LANE_LOCAL_S=1200 SLURM_LANE_SLURM_S=1800 seconds)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
export PATH="$REPO/.venv/bin:$PATH"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1
W=$(mktemp -d /tmp/slurm-lane.XXXXXX)
export XDG_CONFIG_HOME="$W/xdg" # where `make install-profile` links the profiles
START=$SECONDS

log() { printf '[slurm-lane %4ds] %s\n' "$((SECONDS - START))" "$*"; }
fail() {
  log "FAIL: $*"
  exit 1
}

finish() {
  local rc=$?
  trap - EXIT INT TERM
  bash .ci/slurm-ci.sh down || rc=1
  local pid left=""
  for pid in $(pgrep slurm || true); do # exited but unreaped (state Z) does not count
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo Z)" = Z ] || left="$left $pid"
  done
  if [ -n "$left" ]; then
    log "slurm processes still running after teardown:$left"
    rc=1
  fi
  if [ "$rc" -eq 0 ] && [ -z "${SLURM_LANE_KEEP:-}" ]; then
    rm -rf "$W"
  else
    log "scratch kept: $W"
  fi
  log "$([ "$rc" -eq 0 ] && echo passed || echo "FAILED (rc=$rc)")"
  exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

SLURM_FLAGS=(--slurm-status-command squeue --slurm-init-seconds-before-status-checks 2)

# Run a command in a scratch dir with a time bound; its output goes to $W/<name>.out.
# Sets RC and ELAPSED; prints the tail of the output when the exit status is not the expected one.
run_bounded() {
  local name=$1 limit=$2 expect=$3
  shift 3
  local t0=$SECONDS
  set +e
  timeout -k 20 "$limit" "$@" >"$W/$name.out" 2>&1
  RC=$?
  set -e
  ELAPSED=$((SECONDS - t0))
  log "$name: rc=$RC in ${ELAPSED}s"
  if [ "$RC" -eq 124 ] || [ "$RC" -eq 137 ]; then
    tail -n 40 "$W/$name.out"
    fail "$name did not finish within ${limit}s"
  fi
  if { [ "$expect" = ok ] && [ "$RC" -ne 0 ]; } ||
    { [ "$expect" = error ] && [ "$RC" -eq 0 ]; }; then
    tail -n 60 "$W/$name.out"
    fail "$name: expected $expect, got rc=$RC"
  fi
}

log "scratch: $W"
timeout 900 bash .ci/slurm-ci.sh up
make -s install-profile

for run in local slurm checks; do
  mkdir -p "$W/$run"
  ln -s "$REPO/data" "$W/$run/data"
done
TINY=(--snakefile "$REPO/Snakefile" --configfile "$REPO/config/tiny.yaml")

# --- a failing job, and a GPU job beside it ----------------------------------------------------
CHECKS=(--snakefile "$REPO/tests/workflows/slurm_checks/Snakefile" --directory "$W/checks"
  --profile slurm "${SLURM_FLAGS[@]}")
# The profile maps GPU rules by name; the probe rule is not one of them, so map it here.
run_bounded fails 240 error snakemake gpu_probe.txt fails.txt "${CHECKS[@]}" \
  --set-resources gpu_probe:slurm_partition=gpu
[ "$ELAPSED" -le 120 ] || fail "the failing job took ${ELAPSED}s to be noticed"
grep -q "Error in rule fails" "$W/fails.out" || fail "the failing rule was not reported"
grep -q "status is: 'FAILED'" "$W/fails.out" || fail "SLURM did not report the job as FAILED"
ls "$W"/checks/.snakemake/slurm_logs/rule_fails/*.log >/dev/null 2>&1 ||
  fail "the failed job's SLURM log was not kept"
grep -qx "partition=gpu gpus=0" "$W/checks/gpu_probe.txt" ||
  fail "GPU probe: $(cat "$W/checks/gpu_probe.txt" 2>/dev/null || echo 'no output')"
[ -z "$(timeout 10 squeue -h)" ] || fail "jobs left in the queue after the failing run"

# --- an unsatisfiable GPU request fails at submission -----------------------------------------
run_bounded too_many_gpus 60 error snakemake too_many_gpus.txt "${CHECKS[@]}"
grep -q "Requested node configuration is not available" "$W/too_many_gpus.out" ||
  fail "gpu=2 was not rejected by sbatch"
[ "$ELAPSED" -le 30 ] || fail "gpu=2 took ${ELAPSED}s to fail (expected at once)"

# --- the tiny config, locally and through SLURM ------------------------------------------------
run_bounded local "${SLURM_LANE_LOCAL_S:-1200}" ok \
  snakemake "${TINY[@]}" --directory "$W/local" --cores 2
run_bounded slurm "${SLURM_LANE_SLURM_S:-1800}" ok \
  snakemake "${TINY[@]}" --directory "$W/slurm" --profile slurm "${SLURM_FLAGS[@]}" --jobs 4
grep -q "submitted with SLURM jobid" "$W/slurm.out" || fail "no job went through sbatch"
[ -z "$(timeout 10 squeue -h)" ] || fail "jobs left in the queue after the SLURM run"
python .ci/compare_artifacts.py "$W/local" "$W/slurm" ||
  fail "SLURM artifacts differ from local"
