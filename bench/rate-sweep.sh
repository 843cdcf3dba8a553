#!/usr/bin/env bash
# The highest fixed rate one core holds: `cargo loadtest --exact fixed_rate --rate R` against the
# nginx of bench/nginx.sh for each R of RATES, harness pinned to GEN_CPUS (one core by default),
# printing the achieved share of the asked rate and the p99 scheduling lag. Issue 11 asks for
# the highest rate held within 0.5% with a p99 lag under 1 ms. On demand, not in CI.
#
#   bash bench/rate-sweep.sh
#   RATES="5000 10000 15000" CLIENT=reqwest SECONDS_=10 bash bench/rate-sweep.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RATES=${RATES:-2000 5000 10000 15000 20000}
CLIENT=${CLIENT:-hyper}
SECONDS_=${SECONDS_:-10}
source bench/nginx.sh
# Build the harness outside the measurement.
warm_up full_speed
printf 'rate/s\tachieved/asked\tlag p99 us\tlate\tp99 us\tCPU us/req\theld (<=0.5%% short, lag p99 < 1 ms)\n'
for rate in $RATES; do
  taskset -c "$GEN_CPUS" "${clt[@]}" --client "$CLIENT" --exact fixed_rate --rate "$rate/s" \
    --duration "${SECONDS_}s" --json "$work/r$rate.json" >/dev/null || true
  python3 - "$work/r$rate.json" "$rate" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["tests"][0]["result"]
rate = float(sys.argv[2])
g = t["generator"]
n = t["iterations"]["ok"] + t["iterations"]["failed"]
share = n / t["elapsed_s"] / rate
lag = g["scheduling_lag"]["p99_us"]
held = share >= 0.995 and lag < 1000
print(f"{rate:.0f}\t{share:.4f}\t{lag}\t{g['late']}\t{t['iteration_latency']['summary']['p99_us']}\t"
      f"{g['cpu_seconds'] * 1e6 / max(t['requests']['total'], 1):.1f}\t{'yes' if held else 'no'}")
PY
done
