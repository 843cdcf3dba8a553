#!/usr/bin/env bash
# Memory per connected user: closed-model users at full speed, each with its open keep-alive
# connection to the nginx of bench/nginx.sh, at USERS_LOW and USERS_HIGH users (default 1,000 and
# 5,000), each run in a fresh harness process for SECONDS_ (default 5) seconds; the harness's
# peak resident memory (`/usr/bin/time %M`) of the two runs, and their difference divided by the
# difference in users: what one more connected user costs (its task, Ctx, connection, buffers
# and socket-side user memory; the kernel's socket buffers are not in the harness's RSS). On
# demand, not in CI: `bash bench/connected.sh`; CLIENTS="native hyper" (the default) compares
# the transports.
set -euo pipefail
cd "$(dirname "$0")/.."
USERS_LOW=${USERS_LOW:-1000}
USERS_HIGH=${USERS_HIGH:-5000}
SECONDS_=${SECONDS_:-5}
CLIENTS=${CLIENTS:-native hyper}
source bench/nginx.sh
warm_up full_speed
HARNESS=$(ls -t target/release/deps/peers-* | grep -v '\.d$' | head -1)
export URL HARNESS
ulimit -n "$(ulimit -Hn)"
printf '%-8s %8s %12s %12s %14s\n' client users "peak RSS KiB" requests "KiB/user (diff)"
for client in $CLIENTS; do
  rss=()
  for users in "$USERS_LOW" "$USERS_HIGH"; do
    EVENT_OUT="$work/$client-$users.json" python3 bench/drive.py full_speed "users=$users" "client=$client" "duration=${SECONDS_}s" -- \
      /usr/bin/time -f "%M" -o "$work/$client-$users.rss" taskset -c "$GEN_CPUS"
    peak=$(tail -1 "$work/$client-$users.rss")
    requests=$(python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(r["requests"]["total"], r["connections"]["opened"])' "$work/$client-$users.json")
    rss+=("$peak")
    printf '%-8s %8s %12s %12s\n' "$client" "$users" "$peak" "$requests"
  done
  python3 -c "print(f'{\"$client\":<8} per connected user: {(${rss[1]} - ${rss[0]}) / ($USERS_HIGH - $USERS_LOW):.2f} KiB')"
done
