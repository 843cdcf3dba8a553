#!/usr/bin/env bash
# cargo loadtest side by side with wrk (and oha when installed) against nginx on loopback.
# On demand, not in CI: `bash bench/peers.sh` (installs wrk and nginx from Debian if missing).
# nginx (one worker, `return 200`) is pinned to CPU 0, every generator to CPU 1, 50 keep-alive
# connections, 10 s per run, median of RUNS (default 3) runs.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
PORT=${PORT:-18080}
need() { command -v "$1" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$2"; }; }
need wrk wrk
need nginx nginx
need /usr/bin/time time
work=$(mktemp -d)
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 10000000;
  server { listen 127.0.0.1:$PORT; location / { return 200 "ok"; } }
}
CONF
taskset -c 0 nginx -c "$work/nginx.conf" &
NGINX=$!
trap 'kill $NGINX 2>/dev/null || true; rm -rf "$work"' EXIT
sleep 1
URL="http://127.0.0.1:$PORT"
cargo build --quiet --release -p cargo-loadtest
CLT=target/release/cargo-loadtest
MANIFEST=bench/peers-loadtest/Cargo.toml
# Build the harness once, outside the measurements.
$CLT loadtest --quiet --manifest-path $MANIFEST --target "$URL" --exact full_speed --duration 1s --json "$work/warm.json" >/dev/null

for i in $(seq "$RUNS"); do
  /usr/bin/time -f "%e %U %S %M" -o "$work/wrk-$i.time" taskset -c 1 wrk -t1 -c50 -d10s --latency "$URL/" > "$work/wrk-$i.txt"
  taskset -c 1 $CLT loadtest --quiet --manifest-path $MANIFEST --target "$URL" --exact full_speed --json "$work/clt-full-$i.json" >/dev/null
  if command -v oha >/dev/null 2>&1; then
    /usr/bin/time -f "%e %U %S %M" -o "$work/oha-$i.time" taskset -c 1 oha --no-tui -c 50 -z 10s --output-format json "$URL/" > "$work/oha-$i.json"
    /usr/bin/time -f "%e %U %S %M" -o "$work/oha20k-$i.time" taskset -c 1 oha --no-tui -c 50 -q 20000 -z 10s --output-format json "$URL/" > "$work/oha20k-$i.json"
  fi
  for rate in 20000 50000; do
    taskset -c 1 $CLT loadtest --quiet --manifest-path $MANIFEST --target "$URL" --exact fixed_rate --rate "$rate" --json "$work/clt-$rate-$i.json" >/dev/null || true
  done
done
python3 bench/peers_table.py "$work" "$RUNS"
