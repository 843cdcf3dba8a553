#!/usr/bin/env bash
# The machine's own stall floor on the generator's CPU: a 250 us sleep loop for SECONDS (default
# 10) pinned to GEN_CPUS (default 1), and the percentiles of how late it woke. Printed beside
# every fixed-rate figure (bench/counters.sh, bench/rate-sweep.sh), so that a stall of the VM is
# neither blamed on the generator nor hidden by it. On demand, not in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
GEN_CPUS=${GEN_CPUS:-1}
SECONDS_=${SECONDS_:-10}
cargo build --quiet --release --manifest-path bench/peers-loadtest/Cargo.toml --target-dir target --bin hiccup
taskset -c "$GEN_CPUS" target/release/hiccup "$SECONDS_"
