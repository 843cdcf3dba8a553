#!/usr/bin/env bash
# Many connections held open at once from one harness to one loopback nginx port, spread over
# source addresses: `local_addresses` round-robin. On demand, not in CI.
#
#   CONNECTIONS=70000 SOURCES="127.0.0.2 127.0.0.3" bash bench/connections.sh
#
# Users ramp up to CONNECTIONS over 20 s (each opens its connection with one GET, then thinks for
# an hour, holding it) and stay for 20 s more; at the plateau the script counts the established
# connections to the port (`ss`), nginx's active connections, and reads the harness's resident
# memory and the system's available memory, for the memory one open connection costs.
# It first prints `cargo loadtest doctor --connections CONNECTIONS` and applies the tuning the
# doctor asks for that this script can make (open-file limit up to the hard limit, ephemeral port
# range), restoring the port range on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
CONNECTIONS=${CONNECTIONS:-70000}
SOURCES=${SOURCES:-127.0.0.2 127.0.0.3}
source bench/nginx.sh
need ss iproute2
"$CLT" loadtest doctor --connections "$CONNECTIONS" || true
old_range=$(cat /proc/sys/net/ipv4/ip_local_port_range)
restore() { echo "$old_range" > /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true; kill $NGINX 2>/dev/null || true; rm -rf "$work"; }
trap restore EXIT
echo "1024 65535" > /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo "cannot widen the ephemeral port range (not root?)"
hard=$(ulimit -Hn)
want=$((CONNECTIONS + 4096))
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then
  echo "the hard open-file limit is $hard, under the $want this run needs: it holds at most about $((hard - 4096)) connections (see the doctor's advice above)"
  want=$hard
fi
ulimit -n "$want"
held=$(( want - 4096 < CONNECTIONS ? want - 4096 : CONNECTIONS ))
# Build outside the measurement.
LOADTEST_STAGES=1s:1 "${clt[@]}" --exact hold --json "$work/warm.json" >/dev/null
avail() { awk '/^MemAvailable:/ { print $2 }' /proc/meminfo; }
mem_before=$(avail)
LOADTEST_STAGES="20s:$held,20s:$held" LOADTEST_LOCAL_ADDRESSES=$(echo "$SOURCES" | tr ' ' ',') \
  taskset -c "$GEN_CPUS" "${clt[@]}" --exact hold --json "$work/hold.json" >/dev/null &
RUN=$!
sleep 32
pid=$(pgrep -n -f 'deps/peers-[0-9a-f]+ ' || true)
established=$(ss -Htn state established "( dport = :$PORT )" | wc -l)
per_source=$(for s in $SOURCES; do printf '%s=%s ' "$s" "$(ss -Htn state established "( dport = :$PORT )" src "$s" | wc -l)"; done)
active=$(curl -s "http://127.0.0.1:$((PORT + 2))/" | awk 'NR == 1 { print $3 }')
rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
mem_during=$(avail)
wait $RUN || true
python3 - "$work/hold.json" "$held" "$established" "$active" "$rss" "$mem_before" "$mem_during" "$per_source" <<'PY'
import json, sys
path, held, est, active, rss_kib, before, during, per_source = sys.argv[1:]
held, est, active, rss_kib, before, during = map(int, (held, est, active, rss_kib, before, during))
t = json.load(open(path))["tests"][0]["result"]
print(f"asked for {held} connections; established to the port at the plateau: {est} ({per_source.strip()}); nginx active: {active}")
print(f"harness: {t['connections']['opened']} connections opened, {t['requests']['total']} requests, classes {t['requests']['by_class']}")
if est:
    print(f"harness resident memory {rss_kib / 1024:.1f} MiB: {rss_kib * 1024 / est:.0f} bytes per open connection (user space, generator side)")
    print(f"system memory in use grew by {(before - during) / 1024:.1f} MiB: {(before - during) * 1024 / est:.0f} bytes per open connection (generator, nginx and both kernels' socket state)")
PY
