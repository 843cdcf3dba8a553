#!/usr/bin/env bash
# The speed of `cargo loadtest history` (issue 28, done-means 3): 1,000 runs of 50 metrics
# analysed in at most 2 s; one more run appended and the history analysed again in at most
# 0.2 s.
#
#   bash bench/history.sh                 # RUNS=1000 TESTS=10 (5 metrics each: 50 series)
#
# Two measurements:
#   1. in memory (cargo bench -p cargo-loadtest --bench history): the analysis of the whole
#      history, the analysis with one run appended as --fail-on-regression does it, and the
#      incremental detection step alone;
#   2. the release binary end to end on a folder of RUNS record files written by
#      bench/history_synth.py (reading and parsing every file included): `history` on RUNS runs,
#      then one more record added and `history --fail-on-regression` again. Wall-clock medians of
#      REPS (default 5) runs, and the analysis time the binary reports on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-1000}
TESTS=${TESTS:-10}
REPS=${REPS:-5}
OUT=${OUT:-target/history-bench}
root=$(pwd)
target=${CARGO_TARGET_DIR:-$root/target}

echo "== in memory"
RUNS=$RUNS TESTS=$TESTS cargo bench --quiet -p cargo-loadtest --bench history

echo "== the binary, end to end"
cargo build --quiet --release -p cargo-loadtest --bin cargo-loadtest
bin="$target/release/cargo-loadtest"
rm -rf "$OUT"
mkdir -p "$OUT"
python3 bench/history_synth.py "$OUT/all" --runs $((RUNS + 1)) --scenario mixed --seeds "$TESTS" \
  --extra-metrics >/dev/null
mkdir -p "$OUT/history"
newest=$(printf 'run-%05d.json' "$RUNS")
find "$OUT/all" -name 'run-*.json' ! -name "$newest" -exec mv {} "$OUT/history/" \;

measure() { # measure LABEL ARGS... : median wall time of REPS runs, and the analysis time reported
  local label=$1; shift
  python3 - "$REPS" "$bin" "$@" <<'PY' | sed "s/^/$label: /"
import re, subprocess, sys, time
reps, cmd = int(sys.argv[1]), sys.argv[2:]
walls, analysed = [], []
for _ in range(reps):
    t = time.perf_counter()
    p = subprocess.run([cmd[0], "loadtest", "history", *cmd[1:]], capture_output=True, text=True)
    walls.append(time.perf_counter() - t)
    if p.returncode not in (0, 100):
        sys.exit(f"exit {p.returncode}: {p.stderr}")
    m = re.search(r"Analysed (\d+) series of (\d+) runs in ([\d.]+) ms \(read in ([\d.]+) ms\)", p.stderr)
    analysed.append((float(m.group(3)), float(m.group(4)), m.group(1), m.group(2)))
walls.sort(); analysed.sort()
a = analysed[len(analysed) // 2]
print(f"{a[2]} series of {a[3]} runs: wall {walls[len(walls) // 2] * 1e3:.0f} ms "
      f"(analysis {a[0]:.1f} ms, reading {a[1]:.1f} ms; median of {reps})")
PY
}

measure "history" --history "$OUT/history"
cp "$OUT/all/$newest" "$OUT/history/"
measure "one run appended, --fail-on-regression" --history "$OUT/history" --fail-on-regression
