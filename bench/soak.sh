#!/usr/bin/env bash
# The soak: 10,000 requests a second for 10 minutes against nginx on loopback, with the
# harness's resident memory sampled every 10 s. Memory must not grow after the first minute
# (histograms and the connection pool warm up in it).
#
#   bash bench/soak.sh                 # 10 minutes (installs nginx from Debian if missing)
#   DURATION=2m bash bench/soak.sh     # shorter, for a quick look
#
# nginx is pinned to NGINX_CPUS (default 0) and the generator to GEN_CPUS (default 1), as in
# bench/peers.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10m}
source bench/nginx.sh
# Build the harness outside the measurement.
warm_up soak

taskset -c "$GEN_CPUS" "${clt[@]}" --exact soak --duration "$DURATION" --json "$work/soak.json" >/dev/null &
RUN=$!
sample_rss 10 "$work/rss.txt"
wait "$RUN"
cp "$work/rss.txt" "${SOAK_RSS_OUT:-target/soak-rss.txt}"
python3 - "$work/rss.txt" "$work/soak.json" <<'PY'
import json, sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
t = json.load(open(sys.argv[2]))["tests"][0]["result"]
g = t["generator"]
print("| t (s) | RSS (MiB) |")
print("|---:|---:|")
for s, kb in rows:
    print(f"| {s} | {kb / 1024:.1f} |")
after = [kb for s, kb in rows if s >= 60]
if after:
    first, top, last = after[0], max(after), after[-1]
    at = next(s for s, kb in rows if s >= 60)
    print(f"\nafter the first minute: RSS at {at} s {first / 1024:.1f} MiB, "
          f"highest {top / 1024:.1f} MiB, last {last / 1024:.1f} MiB, growth {(top - first) / 1024:.1f} MiB ({(top - first) / first * 100:.1f}%)")
print(f"requests {t['requests']['total']}, rate {t['requests']['rate_per_s']:.1f}/s, asked {t['config'].get('rate_per_s')}/s, "
      f"not ok {t['requests']['total'] - t['requests']['by_class'].get('ok', 0)}, "
      f"CPU {g['cpu_percent']:.0f}% of a core, peak RSS {g['peak_rss_bytes'] / 2**20:.1f} MiB, "
      f"lag p99 {g['scheduling_lag']['p99_us']} us, late {g['late']}, dropped {g['dropped']}")
PY
