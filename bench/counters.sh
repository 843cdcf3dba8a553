#!/usr/bin/env bash
# What the generator costs per request, counted rather than timed (these machines are shared and
# noisy; counts repeat). On demand, not in CI: `bash bench/counters.sh`.
#
#   CLIENTS="native hyper" N=2000 bash bench/counters.sh     # the defaults
#   PEERS=1 bash bench/counters.sh     # also system calls and CPU per request beside oha
#   CLIENTS=native OPTIONS="trace=off" bash bench/counters.sh   # test options added to every run
#
# 1. Instructions per request of the harness alone: the bench harness (bench/peers-loadtest) runs
#    under `valgrind --tool=callgrind`, driven through `--loadtest-protocol` as cargo loadtest
#    drives it, against the nginx of bench/nginx.sh, once with a budget of N iterations and once
#    with 2N; (instructions(2N) - instructions(N)) / N is what one more request costs, start-up
#    and shutdown cancelling out. Two tests: `full_speed` (closed model, 50 users, no think time)
#    and `fixed_rate` at 1,000/s (open model, at most 50 in flight).
# 2. With PEERS=1 (needs oha on PATH: `cargo install oha`): for cargo loadtest and oha over the
#    same request budget, in one run, system calls per request (`strace -c -f`) and user and
#    system CPU seconds per request (`/usr/bin/time`), at full speed and at a fixed 20,000/s;
#    and the machine's own stall floor (bench/hiccup.sh) beside them.
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${CLIENTS:-native hyper}
N=${N:-2000}
PEERS=${PEERS:-0}
OPTIONS=${OPTIONS:-}
command -v valgrind >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq valgrind; }
command -v strace >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq strace; }
source bench/nginx.sh
warm_up full_speed
HARNESS=$(ls -t target/release/deps/peers-* | grep -v '\.d$' | head -1)
echo "harness: $HARNESS; nginx at $URL; N = $N"

# Runs the harness on one protocol request: drive TEST [OPTION=VALUE...] -- PREFIX...
drive() { python3 bench/drive.py "$@"; }
export URL HARNESS

collected() { grep -o 'Collected : [0-9]*' "$1" | awk '{ print $3 }'; }
requests() {
  python3 -c 'import json, sys; r = json.load(open(sys.argv[1]))["requests"]; print(r["total"], r["by_class"].get("ok", 0))' "$1"
}

printf '%-8s %-11s %12s %12s %10s %10s %12s\n' client test "instr(N)" "instr(2N)" "req(N)" "req(2N)" "instr/req"
for client in $CLIENTS; do
  for spec in "full_speed users=50" "fixed_rate rate=1000/s max_in_flight=50"; do
    set -- $spec
    test=$1
    shift
    counts=()
    reqs=()
    for budget in "$N" "$((2 * N))"; do
      log="$work/cg-$client-$test-$budget.log"
      EVENT_OUT="$work/ev-$client-$test-$budget.json" drive "$test" "iterations=$budget" "client=$client" "$@" $OPTIONS -- \
        valgrind --tool=callgrind --callgrind-out-file=/dev/null --log-file="$log" >/dev/null
      counts+=("$(collected "$log")")
      read -r total ok < <(requests "$work/ev-$client-$test-$budget.json")
      [ "$total" -gt 0 ] && [ "$total" = "$ok" ] || { echo "$client $test $budget: $ok of $total requests ok" >&2; exit 1; }
      reqs+=("$total")
    done
    per=$(( (counts[1] - counts[0]) / (reqs[1] - reqs[0]) ))
    printf '%-8s %-11s %12s %12s %10s %10s %12s\n' "$client" "$test" "${counts[0]}" "${counts[1]}" "${reqs[0]}" "${reqs[1]}" "$per"
  done
done

if [ "$PEERS" = 1 ]; then
  command -v oha >/dev/null 2>&1 || { echo "PEERS=1 needs oha on PATH (cargo install oha)" >&2; exit 1; }
  bash bench/hiccup.sh
  REQ=${REQ:-200000}
  # Each generator sends REQ requests over 50 connections, pinned to GEN_CPUS: once under
  # `strace -c -f` (system calls; strace slows it, so no time is read from that run) and once
  # under /usr/bin/time alone (user and system CPU seconds).
  printf '%-22s %10s %12s %12s %12s\n' generator requests "syscalls/req" "user us/req" "sys us/req"
  for mode in full 20000; do
    if [ "$mode" = full ]; then
      oha_args=(oha --no-tui -c 50 -n "$REQ" --output-format json "$URL/")
      clt_args=(full_speed "iterations=$REQ" client=native users=50)
    else
      oha_args=(oha --no-tui -c 50 -q "$mode" -n "$REQ" --output-format json "$URL/")
      clt_args=(fixed_rate "iterations=$REQ" client=native "rate=$mode/s" max_in_flight=50)
    fi
    strace -c -f -o "$work/oha-$mode.strace" taskset -c "$GEN_CPUS" "${oha_args[@]}" >/dev/null 2>&1 || true
    /usr/bin/time -f "%U %S" -o "$work/oha-$mode.time" taskset -c "$GEN_CPUS" "${oha_args[@]}" >/dev/null 2>&1 || true
    EVENT_OUT="$work/clt-$mode-s.json" drive "${clt_args[@]}" -- strace -c -f -o "$work/clt-$mode.strace" taskset -c "$GEN_CPUS"
    EVENT_OUT="$work/clt-$mode.json" drive "${clt_args[@]}" -- /usr/bin/time -f "%U %S" -o "$work/clt-$mode.time" taskset -c "$GEN_CPUS"
    for who in oha clt; do
      calls=$(awk '$NF == "total" { print $4 }' "$work/$who-$mode.strace" | tail -1) # % time, seconds, us/call, calls
      read -r user sys < <(tail -1 "$work/$who-$mode.time")
      python3 -c "r=$REQ; c=$calls; u=$user; s=$sys; print(f'{\"$who $mode\":<22} {r:>10} {c/r:>12.3f} {u*1e6/r:>12.2f} {s*1e6/r:>12.2f}')"
    done
  done
fi
