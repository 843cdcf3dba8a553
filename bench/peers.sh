#!/usr/bin/env bash
# cargo loadtest side by side with wrk (and oha when installed) against nginx on loopback.
# On demand, not in CI: `bash bench/peers.sh` (installs wrk and nginx from Debian if missing).
# nginx (one worker, `return 200`) is pinned to CPU 0, every generator to CPU 1, 50 keep-alive
# connections, 10 s per run, median of RUNS (default 3) runs. Also runs bench/peers-loadtest's
# bare_reqwest (50 tasks, one shared reqwest client, no metrics): the floor under ctx.http().
# oha is used when it is on PATH (`cargo install oha`).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
source bench/nginx.sh
# Build the harness once, outside the measurements.
"${clt[@]}" --exact full_speed --duration 1s --json "$work/warm.json" >/dev/null
cargo build --quiet --release --manifest-path "$MANIFEST" --target-dir target --bin bare_reqwest

for i in $(seq "$RUNS"); do
  /usr/bin/time -f "%e %U %S %M" -o "$work/wrk-$i.time" taskset -c 1 wrk -t1 -c50 -d10s --latency "$URL/" > "$work/wrk-$i.txt"
  taskset -c 1 "${clt[@]}" --exact full_speed --json "$work/clt-full-$i.json" >/dev/null
  /usr/bin/time -f "%e %U %S %M" -o "$work/bare-$i.time" taskset -c 1 target/release/bare_reqwest "$URL/" 10 > "$work/bare-$i.txt"
  if command -v oha >/dev/null 2>&1; then
    /usr/bin/time -f "%e %U %S %M" -o "$work/oha-$i.time" taskset -c 1 oha --no-tui -c 50 -z 10s --output-format json "$URL/" > "$work/oha-$i.json"
    /usr/bin/time -f "%e %U %S %M" -o "$work/oha20k-$i.time" taskset -c 1 oha --no-tui -c 50 -q 20000 -z 10s --output-format json "$URL/" > "$work/oha20k-$i.json"
  fi
  for rate in 20000 50000; do
    taskset -c 1 "${clt[@]}" --exact fixed_rate --rate "$rate" --json "$work/clt-$rate-$i.json" >/dev/null || true
  done
done
python3 bench/peers_table.py "$work" "$RUNS"
