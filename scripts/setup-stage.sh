#!/usr/bin/env bash
# Runs one stage of `make setup` and prints one line for it: its name, then its duration.
# In a terminal the name shows while the stage runs. The stage's standard output goes to a log
# shown only if it fails; its standard error passes through (warnings, waiting for a lock).
# Usage: scripts/setup-stage.sh "pip install" COMMAND [ARGUMENTS...]
set -uo pipefail

name=$1
shift
log=$(mktemp "${TMPDIR:-/tmp}/setup-stage.XXXXXX")
label=$(printf 'setup: %-18s' "$name")
if [ -t 1 ]; then printf '%s …' "$label"; fi
start=$(date +%s%N)
"$@" >"$log"
status=$?
elapsed=$(awk -v ns="$(($(date +%s%N) - start))" 'BEGIN { printf "%.1f s", ns / 1e9 }')
if [ -t 1 ]; then printf '\r'; fi
if [ "$status" -eq 0 ]; then
  printf '%s %s\n' "$label" "$elapsed"
  rm -f "$log"
else
  printf '%s failed after %s (exit %d); its output:\n' "$label" "$elapsed" "$status"
  tail -n 60 "$log"
  rm -f "$log"
fi
exit "$status"
