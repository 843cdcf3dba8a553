#!/usr/bin/env bash
# The cross-check of `cargo loadtest history` with Apache Otava (issue 28, done-means 1).
#
#   bash bench/otava-crosscheck.sh                 # RUNS=60, 100 seeds per scenario
#   SEEDS=20 SCENARIOS="flat step" bash bench/otava-crosscheck.sh
#
# Synthetic histories (bench/history_synth.py: p50 with NOISE relative noise, default 3%) for each
# scenario, SEEDS independent tests each:
#   flat    no change                 step    one step of 8-25% at a random run
#   steps   two steps, 15+ runs apart drift   +0.5% per run, no step
# For each: `cargo loadtest history --json --csv DIR` (our change points, and the CSV in Otava's
# layout with its otava.yaml), then `otava analyze --output json` on that CSV with the same
# p-value (0.001, both defaults), window (50) and minimum magnitude (MAGNITUDE, default 0.05),
# and no latency floor on our side (Otava has none).
# Compared per test: the same change points within one run and in the same direction; and each
# side against the truth. Otava runs from PyPI `apache-otava` (OTAVA_VERSION, default 0.8.0) in
# a virtualenv of its own, VENV (default target/otava-venv), which pins its numpy.
# The summary is printed and kept in $OUT/summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-60}
SEEDS=${SEEDS:-100}
NOISE=${NOISE:-0.03}
MAGNITUDE=${MAGNITUDE:-0.05}
SCENARIOS=${SCENARIOS:-flat step steps drift}
OTAVA_VERSION=${OTAVA_VERSION:-0.8.0}
OUT=${OUT:-target/otava-crosscheck}
VENV=${VENV:-target/otava-venv}
root=$(pwd)
target=${CARGO_TARGET_DIR:-$root/target}

if [ ! -x "$VENV/bin/otava" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "apache-otava==$OTAVA_VERSION"
fi
cargo build --quiet --release -p cargo-loadtest --bin cargo-loadtest
bin="$target/release/cargo-loadtest"
rm -rf "$OUT"
mkdir -p "$OUT"

for scenario in $SCENARIOS; do
  dir="$OUT/$scenario"
  mkdir -p "$dir"
  python3 bench/history_synth.py "$dir/history" --runs "$RUNS" --scenario "$scenario" \
    --seeds "$SEEDS" --noise "$NOISE" > "$dir/truth.json"
  "$bin" loadtest history --history "$dir/history" --min-magnitude "$MAGNITUDE" \
    --floor p50=0us --floor p95=0us --floor p99=0us \
    --json "$dir/ours.json" --csv "$dir/csv" > "$dir/ours.txt"
  tests=$(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["tests"]))' "$dir/csv/otava.yaml")
  # shellcheck disable=SC2086
  OTAVA_CONFIG="$dir/csv/otava.yaml" "$VENV/bin/otava" analyze --config-file "$dir/csv/otava.yaml" \
    --output json --metrics p50 -M "$MAGNITUDE" $tests > "$dir/otava.out" 2> "$dir/otava.err"
done

python3 - "$OUT" "$SCENARIOS" "$SEEDS" <<'PY' | tee "$OUT/summary.txt"
import json, sys
out, scenarios, seeds = sys.argv[1], sys.argv[2].split(), int(sys.argv[3])

def stem(t):
    return "".join(c if c.isalnum() or c in ".-_" else "_" for c in t)

for sc in scenarios:
    d = f"{out}/{sc}"
    truth = {stem(k): v for k, v in json.load(open(f"{d}/truth.json")).items()}
    ours = {}
    for s in json.load(open(f"{d}/ours.json"))["series"]:
        if s["metric"] == "p50":
            ours[stem(s["test"])] = [(c["run"] - 1, 1 if c["change"] > 0 else -1) for c in s["change_points"]]
    otava = {t: [] for t in truth}
    for line in open(f"{d}/otava.out"):
        line = line.strip()
        if not line.startswith("{"):
            continue
        for test, groups in json.loads(line).items():
            for g in groups:
                for c in g["changes"]:
                    if c["metric"] == "p50":
                        otava[test].append((int(c["index"]), 1 if float(c["forward_change_percent"]) > 0 else -1))
    def same(a, b):
        return len(a) == len(b) and all(any(abs(i - j) <= 1 and s == t for j, t in b) for i, s in a)
    agree = sum(same(ours.get(t, []), otava.get(t, [])) for t in truth)
    exact = sum(ours.get(t, []) == otava.get(t, []) for t in truth)
    pts_ours = sum(len(v) for v in ours.values())
    pts_otava = sum(len(v) for v in otava.values())
    matched = sum(1 for t in truth for i, s in ours.get(t, []) if any(abs(i - j) <= 1 and s == u for j, u in otava.get(t, [])))
    none_ours = sum(1 for t in truth if not ours.get(t))
    none_otava = sum(1 for t in truth if not otava.get(t))
    true_pts = sum(len(v) for v in truth.values())
    def found(side):
        return sum(1 for t, v in truth.items() for p in v
                   if any(abs(p["index"] - j) <= 1 and (1 if p["change"] > 0 else -1) == s for j, s in side.get(t, [])))
    print(f"{sc}: {len(truth)} histories; same change points (within one run, same direction) in {agree}/{len(truth)}, "
          f"at exactly the same runs in {exact}/{len(truth)}; "
          f"points: ours {pts_ours}, Otava {pts_otava}, ours matched by Otava {matched}; "
          f"no change point: ours {none_ours}/{len(truth)}, Otava {none_otava}/{len(truth)}"
          + (f"; true steps found: ours {found(ours)}/{true_pts}, Otava {found(otava)}/{true_pts}" if true_pts else ""))
    for t in sorted(truth):
        if not same(ours.get(t, []), otava.get(t, [])):
            print(f"  differ {t}: ours {ours.get(t, [])} Otava {otava.get(t, [])} truth {[(p['index'], round(p['change'], 3)) for p in truth[t]]}")
PY
