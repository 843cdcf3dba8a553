#!/usr/bin/env bash
# Calibration of the saved-baseline gate (issue 30, docs/regression-gate.md): how often an
# unchanged test is called regressed against a baseline of one run and of five runs, and how
# often a slower server is caught, on a quiet machine and under a CPU hog.
#
#   bash bench/baseline-calibration.sh                      # 20 gates per scenario, both conditions
#   GATES=5 CONDITIONS=quiet SCENARIOS="aa1 aa5" bash bench/baseline-calibration.sh
#
# The tests/fixtures/ab workspace is copied to $OUT/repo; its setup hook starts its own loopback
# server taking FIXTURE_SERVICE_US per request (a precise timer; 0 answers at once, a
# sub-millisecond endpoint), and its one test is a closed model of 4 users. Every run lasts
# DURATION (default 5s). Scenarios, each GATES gates:
#   aa1     A/A, one-run baseline: save the run (--keep-runs 1), rerun unchanged with --baseline.
#   aa5     A/A, five-run baseline: five runs saved first, then each gate runs with --baseline and
#           --save-baseline (the baseline rolls over the newest five, as main's CI would keep it).
#   slow30  a 20 ms server against a five-run baseline of it, each gate one run at 26 ms (+30%)
#           with --baseline, then one more run at 20 ms saved (interleaved, so drift hits both).
#   slow10  the same at 22 ms (+10% server time).
# Conditions: quiet (nothing else should run), hog (HOGS busy loops, default 1, for the whole
# condition, on the same two cores). A gate "says regressed" when cargo loadtest exits 100.
# Results: one line per gate in $OUT/results.tsv, a summary on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
GATES=${GATES:-20}
DURATION=${DURATION:-5s}
HOGS=${HOGS:-1}
CONDITIONS=${CONDITIONS:-quiet hog}
SCENARIOS=${SCENARIOS:-aa1 aa5 slow30 slow10}
OUT=${OUT:-target/baseline-calibration}
. bench/ab-fixture.sh

hogs=()
cleanup() { for h in "${hogs[@]}"; do kill -9 "$h" 2>/dev/null || true; done; }
trap cleanup EXIT

code=0
run() { # run NAME SERVICE_US ARGS... -> exit code in $code, report in $OUT/NAME.json
  local name=$1 us=$2; shift 2
  set +e
  (cd "$repo" && FIXTURE_SERVICE_US=$us "$bin" loadtest --quiet --target-dir "$repo/target" \
    --duration "$DURATION" --json "$OUT/$name.json" --junit "$OUT/$name.xml" \
    --markdown "$OUT/$name.md" "$@" >"$OUT/$name.log" 2>&1)
  code=$?
  set -e
}

# The harness is built before anything is measured.
run warm-up 0 || true

results="$OUT/results.tsv"
printf 'condition\tscenario\tgate\texit\tverdicts\n' > "$results"
record() { # record CONDITION SCENARIO I NAME
  local verdicts
  verdicts=$(python3 - "$OUT/$4.json" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception:
    print("no-report"); sys.exit()
c = (r["tests"][0].get("comparison") or {})
runs = (c.get("baseline") or {}).get("runs")
cells = [f'{m["metric"]}={m["verdict"]}:{(m["change"] or 0)*100:+.1f}%' for m in c.get("metrics", [])]
print(f"runs={runs} " + " ".join(cells))
PY
)
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$code" "$verdicts" >> "$results"
  echo "$1 $2 $3: exit $code $verdicts" >&2
}

for condition in $CONDITIONS; do
  if [ "$condition" = hog ]; then
    for _ in $(seq "$HOGS"); do
      bash -c 'exec -a baseline-calibration-hog bash -c "while :; do :; done"' &
      hogs+=("$!")
    done
  fi
  for scenario in $SCENARIOS; do
    b="$condition-$scenario"
    rm -rf "$repo/target/loadtest/baselines/$b"
    case $scenario in
      aa1)
        for i in $(seq "$GATES"); do
          run "$b-$i-base" 0 --save-baseline "$b" --keep-runs 1
          run "$b-$i" 0 --baseline "$b"
          record "$condition" "$scenario" "$i" "$b-$i"
        done ;;
      aa5)
        for k in 1 2 3 4 5; do run "$b-seed-$k" 0 --save-baseline "$b"; done
        for i in $(seq "$GATES"); do
          run "$b-$i" 0 --baseline "$b" --save-baseline "$b"
          record "$condition" "$scenario" "$i" "$b-$i"
        done ;;
      slow30|slow10)
        slow=$([ "$scenario" = slow30 ] && echo 26000 || echo 22000)
        for k in 1 2 3 4 5; do run "$b-seed-$k" 20000 --save-baseline "$b"; done
        for i in $(seq "$GATES"); do
          run "$b-$i" "$slow" --baseline "$b"
          record "$condition" "$scenario" "$i" "$b-$i"
          run "$b-$i-base" 20000 --save-baseline "$b"
        done ;;
    esac
  done
  cleanup
  hogs=()
done

python3 - "$results" <<'PY'
import sys, collections
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])][1:]
by = collections.defaultdict(list)
for cond, s, i, code, verdicts in rows:
    by[(cond, s)].append((int(code), verdicts))
for (cond, s), gates in by.items():
    n = len(gates)
    regressed = sum(1 for c, _ in gates if c == 100)
    per = collections.Counter()
    for _, v in gates:
        for cell in v.split()[1:]:
            metric, rest = cell.split("=", 1)
            per[(metric, rest.split(":")[0])] += 1
    metrics = "; ".join(
        f"{m}: " + ", ".join(f"{per[(m, v)]} {v}" for v in ("regressed", "improved", "unchanged", "inconclusive", "insufficient_data") if per[(m, v)])
        for m in ("p50", "p95", "p99", "throughput", "error_rate"))
    other = sum(1 for c, _ in gates if c not in (0, 100))
    print(f"{cond} {s}: {regressed}/{n} gates said regressed, {other} other exits | {metrics}")
PY
