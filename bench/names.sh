#!/usr/bin/env bash
# Bounded request names (issue 12): ids in URLs against nginx on loopback, 10,000 iterations a
# second, the generator pinned to GEN_CPUS (default CPU 1) and nginx to NGINX_CPUS (default CPU
# 0), as bench/peers.sh.
#
#   bash bench/names.sh                    # every measurement (about 3 minutes of load)
#   MILLION=0 bash bench/names.sh          # without the 100 s run of 1,000,000 URLs
#   CLIENT=reqwest bash bench/names.sh     # through the reqwest transport (default: hyper)
#   BENCH_TARGET_DIR=target/e2e-fixtures bash bench/names.sh   # reuse another build's deps
#
# Prints, per test: distinct request names in the report, harness peak RSS, report.json size;
# then the memory one request name costs ((many_names - fixed_url) / 5000), and the RSS of the
# 1,000,000-URL run sampled every 5 s with its growth after the first 20 s.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/nginx.sh
clt=("$CLT" loadtest --quiet --manifest-path "$MANIFEST" --target-dir "${BENCH_TARGET_DIR:-target}" --target "$URL")
if [ -n "${CLIENT:-}" ]; then
  clt+=(--client "$CLIENT")
fi
# Build the harness outside the measurement.
warm_up fixed_url

for t in fixed_url distinct_ids distinct_words many_names; do
  taskset -c "$GEN_CPUS" "${clt[@]}" --exact "$t" --json "$work/$t.json" >/dev/null
done

if [ "${MILLION:-1}" != 0 ]; then
  taskset -c "$GEN_CPUS" "${clt[@]}" --exact million_urls --json "$work/million_urls.json" >/dev/null &
  RUN=$!
  sample_rss 5 "$work/rss.txt"
  wait "$RUN"
fi

python3 - "$work" <<'PY'
import json, os, sys
work = sys.argv[1]
rows = {}
print("| test | iterations | ok | request names | overflow requests | peak RSS (MiB) | report.json (KiB) |")
print("|---|---:|---:|---:|---:|---:|---:|")
for t in ["fixed_url", "distinct_ids", "distinct_words", "many_names", "million_urls"]:
    path = os.path.join(work, f"{t}.json")
    if not os.path.exists(path):
        continue
    r = json.load(open(path))["tests"][0]["result"]
    names = r["request_names"]
    rows[t] = r
    print(f"| {t} | {r['iterations']['total']} | {r['iterations']['ok']} | {len(names)} | "
          f"{names.get('(overflow)', {}).get('count', 0)} | {r['generator']['peak_rss_bytes'] / 2**20:.1f} | "
          f"{os.path.getsize(path) / 1024:.0f} |")
    for w in r.get("warnings", []):
        print(f"|   warning: {w[:100]}... | | | | | | |")
fixed = rows["fixed_url"]["generator"]["peak_rss_bytes"]
for t in ["distinct_ids", "distinct_words", "million_urls"]:
    if t in rows:
        print(f"\n{t}: peak RSS {rows[t]['generator']['peak_rss_bytes'] / fixed:.2f}x the fixed URL's")
many = rows["many_names"]
kept = len(many["request_names"])
per = (many["generator"]["peak_rss_bytes"] - fixed) / kept
print(f"\nmemory per request name: ({many['generator']['peak_rss_bytes']} - {fixed}) B / {kept} names = {per / 1024:.1f} KiB")
rss = os.path.join(work, "rss.txt")
if os.path.exists(rss):
    samples = [tuple(map(int, l.split())) for l in open(rss) if l.strip()]
    print("\n| t (s) | RSS (MiB) |\n|---:|---:|")
    for s, kb in samples:
        print(f"| {s} | {kb / 1024:.1f} |")
    after = [kb for s, kb in samples if s >= 20]
    if after:
        print(f"\nafter 20 s: first {after[0] / 1024:.1f} MiB, highest {max(after) / 1024:.1f} MiB, "
              f"last {after[-1] / 1024:.1f} MiB, growth {(max(after) - after[0]) / 1024:.1f} MiB "
              f"({(max(after) - after[0]) / after[0] * 100:.1f}%)")
PY
