#!/usr/bin/env bash
# Where the harness's CPU goes: `perf record` (CPU clock sampling, which works where hardware
# counters are not offered) of `cargo loadtest --exact full_speed` (or TEST) against the
# nginx of bench/nginx.sh, then the functions with the most samples of their own. On demand,
# not in CI; needs perf (Debian: linux-perf).
#
#   bash bench/profile.sh                    # hyper transport, full speed, 5 s
#   TEST=fixed_rate RATE=20000/s bash bench/profile.sh   # the open model at a fixed rate
#   CLIENT=reqwest SECONDS_=10 TOP=60 bash bench/profile.sh
#
# nginx is pinned to NGINX_CPUS, the harness to GEN_CPUS (the defaults of bench/nginx.sh), so
# the harness has one core to itself, as in bench/peers.sh. Also prints the share of samples by
# module (the harness's own crates, hyper, tokio, the kernel, libc).
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENT=${CLIENT:-hyper}
TEST=${TEST:-full_speed}
RATE=${RATE:-}
SECONDS_=${SECONDS_:-5}
TOP=${TOP:-40}
source bench/nginx.sh
command -v perf >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq linux-perf; }
# Build the harness outside the measurement.
warm_up full_speed
perf record -q -e cpu-clock -F 1999 -o "$work/perf.data" -- \
  taskset -c "$GEN_CPUS" "${clt[@]}" --client "$CLIENT" --exact "$TEST" ${RATE:+--rate "$RATE"} \
  --duration "${SECONDS_}s" --json "$work/run.json" >/dev/null
python3 - "$work/run.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["tests"][0]["result"]
n = t["requests"]["total"]
g = t["generator"]
print(f"{n} requests in {t['elapsed_s']:.1f} s: {n / t['elapsed_s']:.0f}/s, "
      f"{g['cpu_seconds'] * 1e6 / max(n, 1):.1f} us of CPU per request")
PY
echo "--- by command and shared object (share of samples)"
perf report -i "$work/perf.data" --no-children --sort comm,dso --stdio 2>/dev/null |
  grep -v '^#' | grep -v '^$' | head -12
echo "--- the $TOP functions with the most samples of their own"
perf report -i "$work/perf.data" --no-children --sort symbol --stdio 2>/dev/null |
  grep -v '^#' | grep -v '^$' | head -"$TOP"
