#!/usr/bin/env bash
# Calibration of the regression gate under deliberate noise (docs/regression-gate.md).
#
#   bash bench/ab-calibration.sh                 # 40 gates per scenario
#   GATES=10 ROUNDS=6 bash bench/ab-calibration.sh
#
# A git repository is made from tests/fixtures/ab (its setup hook starts the revision's own
# loopback server, taking SERVICE_US per request): a base commit at 5000 us, an unchanged head
# (a comment differs) and a slower head at 5500 us (+10%). Every gate runs pinned to CPU
# NOISE_CPU (default 0) while a busy loop on the same CPU is switched on or off at random every
# second (on half of the time). Scenarios:
#   aa     A/A through --baseline-rev on the unchanged head: how often it says regressed.
#   slow   +10% through --baseline-rev: how often it says regressed (detected).
#   saved  A/A through saved baselines (--save-baseline on the base, --baseline on the head,
#          SAVED_DURATION each, default 6s): how often it says regressed.
# Results: one line per gate in $OUT/results.tsv and a summary on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
GATES=${GATES:-40}
ROUNDS=${ROUNDS:-6}
ROUND_DURATION=${ROUND_DURATION:-1s}
SAVED_DURATION=${SAVED_DURATION:-6s}
NOISE_CPU=${NOISE_CPU:-0}
SCENARIOS=${SCENARIOS:-aa slow saved}
OUT=${OUT:-target/ab-calibration}
. bench/ab-fixture.sh
noise_pid=""
hog=""
cleanup() { # this calibration's own noise only: another may be running on the other CPU
  [ -n "$noise_pid" ] && kill "$noise_pid" 2>/dev/null || true
  [ -n "$hog" ] && kill -9 "$hog" 2>/dev/null || true
}
trap cleanup EXIT

printf 'target/\n' > "$repo/.gitignore"
g() { git -C "$repo" -c user.name=calibration -c user.email=calibration@example.invalid "$@"; }
sed -i 's/const SERVICE_US: u64 = 2000;/const SERVICE_US: u64 = 5000;/' "$repo/loadtests/api.rs"
g init --quiet
g add -A
g commit --quiet -m base
g branch --quiet base
g checkout --quiet -b same
sed -i 's|^const SERVICE_US: u64 = 5000;|const SERVICE_US: u64 = 5000; // unchanged|' "$repo/loadtests/api.rs"
g commit --quiet -am same
g checkout --quiet -b slow base
sed -i 's/const SERVICE_US: u64 = 5000;/const SERVICE_US: u64 = 5500;/' "$repo/loadtests/api.rs"
g commit --quiet -am slower

# Both revisions' harnesses are built before any gate is timed (and without the noise).
g checkout --quiet same
(cd "$repo" && "$bin" loadtest --quiet --target-dir "$repo/target" --baseline-rev base --rounds 3 \
  --round-duration 1s --json "$OUT/warm-up.json" --junit "$OUT/warm-up.xml" \
  --markdown "$OUT/warm-up.md" >"$OUT/warm-up.log" 2>&1) || true

# The noise: a busy loop on NOISE_CPU, running or stopped at random each second.
taskset -c "$NOISE_CPU" bash -c 'exec -a ab-calibration-hog bash -c "while :; do :; done"' &
hog=$!
(
  while kill -0 "$hog" 2>/dev/null; do
    if [ $((RANDOM % 2)) -eq 0 ]; then kill -STOP "$hog"; else kill -CONT "$hog"; fi
    sleep 1
  done
) &
noise_pid=$!

gate() { # gate NAME ARGS... -> exit code in $code, report in $OUT/NAME.json
  local name=$1; shift
  set +e
  (cd "$repo" && taskset -c "$NOISE_CPU" "$bin" loadtest --quiet --target-dir "$repo/target" \
    --json "$OUT/$name.json" --junit "$OUT/$name.xml" --markdown "$OUT/$name.md" "$@" \
    >"$OUT/$name.log" 2>&1)
  code=$?
  set -e
}

results="$OUT/results.tsv"
printf 'scenario\tgate\texit\tseconds\tverdicts\n' > "$results"
record() { # record SCENARIO I SECONDS
  local verdicts
  verdicts=$(python3 - "$OUT/$1-$2.json" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception:
    print("no-report"); sys.exit()
c = (r["tests"][0].get("comparison") or {})
print(" ".join(f'{m["metric"]}={m["verdict"]}:{(m["change"] or 0)*100:+.1f}%' for m in c.get("metrics", [])))
PY
)
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$code" "$3" "$verdicts" >> "$results"
}

for scenario in $SCENARIOS; do
  for i in $(seq "$GATES"); do
    start=$(date +%s)
    case $scenario in
      aa)   g checkout --quiet same; gate "aa-$i" --baseline-rev base --rounds "$ROUNDS" --round-duration "$ROUND_DURATION" ;;
      slow) g checkout --quiet slow; gate "slow-$i" --baseline-rev base --rounds "$ROUNDS" --round-duration "$ROUND_DURATION" ;;
      saved)
        g checkout --quiet base
        gate "saved-$i-base" --duration "$SAVED_DURATION" --save-baseline calibration
        g checkout --quiet same
        gate "saved-$i" --duration "$SAVED_DURATION" --baseline calibration ;;
    esac
    record "$scenario" "$i" $(( $(date +%s) - start ))
    echo "$scenario $i: exit $code" >&2
  done
done

python3 - "$results" <<'PY'
import sys, collections
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])][1:]
by = collections.defaultdict(list)
for s, i, code, secs, verdicts in rows:
    by[s].append((int(code), int(secs), verdicts))
for s, gates in by.items():
    n = len(gates)
    regressed = sum(1 for c, _, _ in gates if c == 100)
    inconclusive = sum(1 for _, _, v in gates if "inconclusive" in v)
    other = sum(1 for c, _, _ in gates if c not in (0, 100))
    secs = sorted(t for _, t, _ in gates)
    print(f"{s}: {regressed}/{n} regressed ({100*regressed/n:.1f}%), {inconclusive} with an inconclusive metric, {other} other exits; median gate {secs[n//2]} s")
PY
