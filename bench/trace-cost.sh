#!/usr/bin/env bash
# What W3C trace context costs per request, counted (callgrind), not timed. On demand, not in CI:
# `bash bench/trace-cost.sh`.
#
# The bench harness (bench/peers-loadtest) runs `full_speed` (closed model, 50 users, native
# transport) under `valgrind --tool=callgrind` against the nginx of bench/nginx.sh, once with
# `trace = "off"` and once with `"on"`, N iterations each. Whole-run instruction counts move by a
# few percent from run to run (how often a response is not there yet depends on timing), which
# hides a cost of a hundred instructions; so the script also reads, from callgrind's own profile,
# the inclusive instructions of the functions trace context adds or changes: the request encoder
# (`native::encode`, which writes the header), the iteration's trace (`TraceSettings::iteration`,
# a 128-bit id and the sampling draw), the attempt's span (`IterationTrace::attempt`) and the
# check for a test's own header (`TraceParent::set_by_test`), per request.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-2000}
command -v valgrind >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq valgrind; }
source bench/nginx.sh
warm_up full_speed
HARNESS=$(ls -t target/release/deps/peers-* | grep -v '\.d$' | head -1)
export URL HARNESS
echo "harness: $HARNESS; nginx at $URL; N = $N (full_speed, 50 users, client = native)"
printf '%-6s %10s %12s %14s %16s %14s %12s\n' trace requests "instr/req" "encode/req" "iteration/req" "attempt/req" "own/req"
for trace in off on; do
  out="$work/cg-$trace.out"
  EVENT_OUT="$work/ev-$trace.json" python3 bench/drive.py full_speed "iterations=$N" client=native users=50 "trace=$trace" -- \
    valgrind --tool=callgrind --callgrind-out-file="$out" --log-file="$work/cg-$trace.log" >/dev/null
  total=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["requests"]["total"])' "$work/ev-$trace.json")
  callgrind_annotate --inclusive=yes --threshold=100 "$out" > "$work/cg-$trace.txt" 2>/dev/null
  # The inclusive count of the first function whose name matches, 0 when it never ran.
  incl() { awk -v pat="$1" 'index($0, pat) { gsub(",", "", $1); print $1; found = 1; exit } END { if (!found) print 0 }' "$work/cg-$trace.txt"; }
  all=$(grep -o 'Collected : [0-9]*' "$work/cg-$trace.log" | awk '{ print $3 }')
  python3 - "$trace" "$total" "$all" "$(incl 'native::encode')" "$(incl 'TraceSettings::iteration')" \
    "$(incl 'IterationTrace::attempt')" "$(incl 'TraceParent::set_by_test')" <<'PY'
import sys
trace, n, *counts = sys.argv[1:]
n = int(n)
all_, encode, iteration, attempt, own = (int(c) / n for c in counts)
print(f"{trace:<6} {n:>10} {all_:>12.0f} {encode:>14.1f} {iteration:>16.1f} {attempt:>14.1f} {own:>12.1f}")
PY
done
