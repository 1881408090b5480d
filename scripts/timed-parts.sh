#!/usr/bin/env bash
# Run make targets in stages of parallel lanes, timing each; print the times at
# the end, whether they passed or one failed.
#
# Usage: scripts/timed-parts.sh STAGE [-- STAGE ...]     (make test runs it)
#
# A stage is one or more lanes, each one argument: the make targets it runs,
# one after another ("lint test-python"). The lanes of a stage run at the same
# time; the next stage starts when every lane of this one has ended, and only
# if all passed. A lane stops at its first failing target; the other lanes go
# on, so one run reports every failure it can. Each target's output is
# streamed with its name in front of every line ("[lint] ...") and kept whole
# in .state/test-parts/TARGET.log.
#
# Example: scripts/timed-parts.sh setup -- "lint test-python" "test-setup test-e2e"
set -uo pipefail

logs=.state/test-parts
mkdir -p "$logs"
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

# One lane: its targets one after another, each timed; a line per target in
# $results/<lane>, "<target> <seconds> <exit status>".
run_lane() {
  local lane=$1 part started status
  shift
  for part in "$@"; do
    echo "== make $part"
    started=$(date +%s)
    make --no-print-directory "$part" 2>&1 | tee "$logs/$part.log" | sed -u "s/^/[$part] /"
    status=${PIPESTATUS[0]}
    echo "$part $(($(date +%s) - started)) $status" >>"$results/$lane"
    echo "== make $part: $([ "$status" = 0 ] && echo passed || echo "FAILED (exit $status)")"
    [ "$status" = 0 ] || return "$status"
  done
}

started=$(date +%s)
status=0
lane_no=0
stage=()
run_stage() {
  local pids=() lane
  for lane in "${stage[@]}"; do
    lane_no=$((lane_no + 1))
    # shellcheck disable=SC2086 # a lane is a list of targets
    run_lane "$lane_no" $lane &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do
    wait "$pid" || status=1
  done
  stage=()
}
for arg in "$@"; do
  if [ "$arg" = -- ]; then
    run_stage
    [ $status = 0 ] || break
  else
    stage+=("$arg")
  fi
done
[ $status != 0 ] || [ ${#stage[@]} = 0 ] || run_stage

total=$(($(date +%s) - started))
echo
echo "make test, each part (lanes side by side; logs in $logs/):"
for ((lane = 1; lane <= lane_no; lane++)); do
  [ -f "$results/$lane" ] || continue
  while read -r part seconds part_status; do
    printf '  lane %s  %-14s %6ss  %s\n' "$lane" "$part" "$seconds" \
      "$([ "$part_status" = 0 ] && echo passed || echo "FAILED (exit $part_status)")"
  done <"$results/$lane"
done
for arg in "$@"; do
  for part in $arg; do
    [ "$part" = -- ] || grep -q "^$part " "$results"/* 2>/dev/null ||
      printf '  %-22s %7s  not run (an earlier stage failed)\n' "$part" -
  done
done
printf '  %-22s %6ss  (%dm %02ds)\n' total "$total" $((total / 60)) $((total % 60))
exit $status
