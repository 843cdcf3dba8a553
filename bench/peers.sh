#!/usr/bin/env bash
# cargo loadtest side by side with wrk (and oha when installed) against nginx on loopback.
# On demand, not in CI: `bash bench/peers.sh` (installs wrk and nginx from Debian if missing).
#
#   NGINX_CPUS=0 GEN_CPUS=1 bash bench/peers.sh   # the defaults: nginx on CPU 0, generators on 1
#   NGINX_CPUS=0-7 GEN_CPUS=8-15 bash bench/peers.sh   # a bigger machine
#   RUNS=3 RATES="20000 50000" bash bench/peers.sh
#
# nginx (as many workers as NGINX_CPUS has CPUs, `return 200`) is pinned to NGINX_CPUS, every
# generator to GEN_CPUS; 50 keep-alive connections (wrk: one thread per generator CPU), 10 s per
# run, median of RUNS (default 3) runs. cargo loadtest runs on each transport of CLIENTS (default
# `native`, the default transport, `hyper` and `reqwest`). Also runs bench/peers-loadtest's bare_reqwest (50 tasks,
# one shared reqwest client, no metrics): the floor under the reqwest transport. oha is used when
# it is on PATH (`cargo install oha`). "conns" is the connections nginx accepted during the run
# (its stub_status `accepts`); the last row is cargo loadtest against a server that closes every
# connection after its response (no keep-alive).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
CLIENTS=${CLIENTS:-native hyper reqwest}
export CLIENTS
RATES=${RATES:-20000 50000}
source bench/nginx.sh
threads=$(taskset -c "$GEN_CPUS" nproc)
gen() { taskset -c "$GEN_CPUS" "$@"; }
# Runs a command and records the connections nginx accepted meanwhile in $work/$1.conns.
counted() {
  local name=$1
  shift
  local before
  before=$(accepts)
  "$@"
  echo $(( $(accepts) - before - 1 )) > "$work/$name.conns" # the stub_status request itself
}
# Build the harness once, outside the measurements.
warm_up full_speed
cargo build --quiet --release --manifest-path "$MANIFEST" --target-dir target --bin bare_reqwest

for i in $(seq "$RUNS"); do
  counted "wrk-$i" /usr/bin/time -f "%e %U %S %M" -o "$work/wrk-$i.time" taskset -c "$GEN_CPUS" wrk -t"$threads" -c50 -d10s --latency "$URL/" > "$work/wrk-$i.txt"
  for client in $CLIENTS; do
    counted "clt-$client-full-$i" gen "${clt[@]}" --client "$client" --exact full_speed --json "$work/clt-$client-full-$i.json" >/dev/null
  done
  counted "bare-$i" /usr/bin/time -f "%e %U %S %M" -o "$work/bare-$i.time" taskset -c "$GEN_CPUS" target/release/bare_reqwest "$URL/" 10 > "$work/bare-$i.txt"
  if command -v oha >/dev/null 2>&1; then
    counted "oha-$i" /usr/bin/time -f "%e %U %S %M" -o "$work/oha-$i.time" taskset -c "$GEN_CPUS" oha --no-tui -c 50 -z 10s --output-format json "$URL/" > "$work/oha-$i.json"
    counted "oha20k-$i" /usr/bin/time -f "%e %U %S %M" -o "$work/oha20k-$i.time" taskset -c "$GEN_CPUS" oha --no-tui -c 50 -q 20000 -z 10s --output-format json "$URL/" > "$work/oha20k-$i.json"
  fi
  for rate in $RATES; do
    for client in $CLIENTS; do
      counted "clt-$client-$rate-$i" gen "${clt[@]}" --client "$client" --exact fixed_rate --rate "$rate" --json "$work/clt-$client-$rate-$i.json" >/dev/null || true
    done
  done
done
# A server that closes every connection after its response: no request may fail.
counted "clt-close" gen "$CLT" loadtest --quiet --manifest-path "$MANIFEST" --target-dir target --target "$CLOSE_URL" --exact full_speed --duration 5s --json "$work/clt-close.json" >/dev/null || true
python3 bench/peers_table.py "$work" "$RUNS" "$RATES"
