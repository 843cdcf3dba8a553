#!/usr/bin/env bash
# Real histories for the change-point detection (issue 28, done-means 2): how often
# `cargo loadtest history --fail-on-regression` raises a false alarm on real runs of a loopback
# server whose service time is exact, and whether it finds a known slowdown at the run it starts.
#
#   bash bench/history-real.sh                          # 3 histories of 30 runs, +15% from run 20
#   HISTORIES=4 STEP_AT=0 bash bench/history-real.sh    # flat histories: every alarm is false
#   COLLECT=0 HISTORY_ARGS="--confirm-runs 3" bash bench/history-real.sh   # judge the same runs again
#
# Each history runs the tests/fixtures/ab test (4 users, closed model) RUNS times for DURATION
# against its own loopback server answering after BASE_US, and after STEP_US from run STEP_AT on
# (STEP_AT=0: never), with HOGS busy loops (default 0) on the same two cores, recording every
# run into $OUT/histories/hN. Then every history is judged as CI would see it grow: after each
# run k, `history --fail-on-regression $HISTORY_ARGS` over the first k records (exit 100 = an
# alarm, listed as RUN:SERIES that opened a regression). An alarm before STEP_AT, or more than
# one, is false. Results: $OUT/judged.tsv (one
# line per history: alarms, change points) and a summary on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
HISTORIES=${HISTORIES:-3}
RUNS=${RUNS:-30}
STEP_AT=${STEP_AT:-20}
BASE_US=${BASE_US:-5000}
STEP_US=${STEP_US:-5750}
DURATION=${DURATION:-2s}
HOGS=${HOGS:-0}
COLLECT=${COLLECT:-1}
HISTORY_ARGS=${HISTORY_ARGS:-}
OUT=${OUT:-target/history-real}
. bench/ab-fixture.sh

hogs=()
cleanup() { for h in "${hogs[@]}"; do kill -9 "$h" 2>/dev/null || true; done; }
trap cleanup EXIT

if [ "$COLLECT" = 1 ]; then
  # The harness is built before anything is measured.
  (cd "$repo" && "$bin" loadtest --quiet --target-dir "$repo/target" --duration 1s \
    --json "$OUT/warm-up.json" >/dev/null 2>&1) || true
  for _ in $(seq "$HOGS"); do
    bash -c 'exec -a history-real-hog bash -c "while :; do :; done"' &
    hogs+=("$!")
  done
  rm -rf "$OUT/histories"
  for h in $(seq "$HISTORIES"); do
    dir="$OUT/histories/h$h"
    mkdir -p "$dir"
    for k in $(seq "$RUNS"); do
      us=$BASE_US
      if [ "$STEP_AT" -gt 0 ] && [ "$k" -ge "$STEP_AT" ]; then us=$STEP_US; fi
      (cd "$repo" && FIXTURE_SERVICE_US=$us "$bin" loadtest --quiet --target-dir "$repo/target" \
        --duration "$DURATION" --json "$OUT/run.json" >"$OUT/run.log" 2>&1) \
        || { echo "history $h run $k failed:" >&2; cat "$OUT/run.log" >&2; exit 1; }
      "$bin" loadtest history record "$OUT/run.json" --history "$dir" >/dev/null
      echo "history $h: run $k at $us us recorded" >&2
    done
  done
  cleanup
  hogs=()
fi

judged="$OUT/judged.tsv"
printf 'history\talarms\tchange_points\n' > "$judged"
for dir in "$OUT"/histories/h*; do
  h=$(basename "$dir")
  prefix="$OUT/prefix"
  alarms=()
  mapfile -t files < <(ls "$dir" | sort)
  rm -rf "$prefix"; mkdir -p "$prefix"
  for k in $(seq "${#files[@]}"); do
    cp "$dir/${files[$((k - 1))]}" "$prefix/"
    set +e
    # shellcheck disable=SC2086
    "$bin" loadtest history --history "$prefix" --fail-on-regression --json "$OUT/prefix.json" \
      $HISTORY_ARGS >/dev/null 2>&1
    code=$?
    set -e
    case $code in
      0) ;;
      100) alarms+=("$k:$(python3 - "$OUT/prefix.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
print(",".join(s["metric"].replace(" ", "") for s in a["series"]
               if any(c["opened_by_newest_run"] and c["regression"] for c in s["change_points"])))
PY
)") ;;
      *) echo "history $h: analysis after run $k exited $code" >&2; exit 1 ;;
    esac
  done
  # shellcheck disable=SC2086
  "$bin" loadtest history --history "$dir" --json "$OUT/$h.json" $HISTORY_ARGS >/dev/null
  points=$(python3 - "$OUT/$h.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
print(" ".join(f'{s["metric"].replace(" ", "")}@{c["run"]}:{c["change"] * 100:+.1f}%'
               for s in a["series"] for c in s["change_points"]) or "-")
PY
)
  printf '%s\t%s\t%s\n' "$h" "${alarms[*]:--}" "$points" >> "$judged"
  echo "$h: alarms after runs ${alarms[*]:-none}; change points: $points"
done

python3 - "$judged" "$STEP_AT" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])][1:]
step = int(sys.argv[2])
false_alarms, found, stray = 0, 0, 0
for h, alarms, points in rows:
    runs = [] if alarms == "-" else [int(a.split(":")[0]) for a in alarms.split()]
    early = [a for a in runs if step == 0 or a < step]
    false_alarms += len(early) + max(0, len(runs) - len(early) - 1)
    if step and any(step <= a <= step + 3 for a in runs):
        found += 1
    for p in ([] if points == "-" else points.split()):
        run = int(p.split("@")[1].split(":")[0])
        if step == 0 or abs(run - step) > 1:
            stray += 1
n = len(rows)
print(f"{n} histories: {false_alarms} false alarms; "
      + (f"the step at run {step} alarmed within 3 runs in {found}/{n}; " if step else "")
      + f"{stray} change points away from the step")
PY
