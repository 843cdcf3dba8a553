#!/usr/bin/env bash
# The highest fixed rate one core holds: `cargo loadtest --exact fixed_rate --rate R` against the
# nginx of bench/nginx.sh for each R of RATES, RUNS times each (default 3), harness pinned to
# GEN_CPUS (one core by default), printing the achieved share of the asked rate, the p99
# scheduling lag, and the run's steal and CPU wait (the generator's wait for its CPU), with the
# machine's own stall floor (bench/hiccup.sh) measured before the sweep and after it. A rate is
# held when every run delivers it within 0.5% with a p99 lag under 1 ms. On demand, not in CI.
#
#   bash bench/rate-sweep.sh
#   RATES="5000 10000 15000" CLIENT=hyper RUNS=1 SECONDS_=10 bash bench/rate-sweep.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RATES=${RATES:-5000 10000 20000 30000 40000 50000}
CLIENT=${CLIENT:-native}
RUNS=${RUNS:-3}
SECONDS_=${SECONDS_:-10}
source bench/nginx.sh
# Build the harness outside the measurement.
warm_up full_speed
bash bench/hiccup.sh
printf 'rate/s\trun\tachieved/asked\tlag p99 us\tlate\tp99 us\tCPU us/req\tsteal %%\tCPU wait %%\theld (<=0.5%% short, lag p99 < 1 ms)\n'
for rate in $RATES; do
  for run in $(seq "$RUNS"); do
    taskset -c "$GEN_CPUS" "${clt[@]}" --client "$CLIENT" --exact fixed_rate --rate "$rate/s" \
      --duration "${SECONDS_}s" --json "$work/r$rate-$run.json" >/dev/null || true
    python3 - "$work/r$rate-$run.json" "$rate" "$run" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["tests"][0]["result"]
rate = float(sys.argv[2])
g = t["generator"]
n = t["iterations"]["ok"] + t["iterations"]["failed"]
share = n / t["elapsed_s"] / rate
lag = g["scheduling_lag"]["p99_us"]
held = share >= 0.995 and lag < 1000
print(f"{rate:.0f}\t{sys.argv[3]}\t{share:.4f}\t{lag}\t{g['late']}\t{t['iteration_latency']['summary']['p99_us']}\t"
      f"{g['cpu_seconds'] * 1e6 / max(t['requests']['total'], 1):.1f}\t{g.get('steal_percent', 0):.1f}\t"
      f"{g.get('cpu_wait_percent', 0):.1f}\t{'yes' if held else 'no'}")
PY
  done
done
bash bench/hiccup.sh
