#!/usr/bin/env bash
# Run make targets one after another, timing each; print the times at the end,
# whether they passed or one failed (the run stops at the first failure).
#
# Usage: scripts/timed-parts.sh TARGET...     (make test runs it)
set -uo pipefail

started=$(date +%s)
rows=()
status=0
for part in "$@"; do
  echo "== make $part"
  part_started=$(date +%s)
  make --no-print-directory "$part"
  status=$?
  rows+=("$(printf '%-14s %6ss  %s' "$part" $(($(date +%s) - part_started)) \
    "$([ $status = 0 ] && echo passed || echo "FAILED (exit $status)")")")
  [ $status = 0 ] || break
done

total=$(($(date +%s) - started))
echo
echo "make test, each part:"
printf '  %s\n' "${rows[@]}"
printf '  %-14s %6ss  (%dm %02ds)\n' total "$total" $((total / 60)) $((total % 60))
exit $status
