#!/usr/bin/env bash
# Resident memory per idle virtual user, and the time until all users started, at 10k, 100k and
# 1M users: each measurement in its own process (a fresh RSS), in release mode.
#
#   bench/memory.sh            # 10k, 100k, 1M
#   bench/memory.sh 10k 100k   # a subset
#
# The measurement itself is loadtest-runtime/tests/memory.rs (#[ignore]d tests).
set -euo pipefail
cd "$(dirname "$0")/.."

sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10k 100k 1m)

cargo test --release -p loadtest-runtime --test memory --no-run >/dev/null 2>&1 ||
    cargo test --release -p loadtest-runtime --test memory --no-run

rows=()
for n in "${sizes[@]}"; do
    echo "measuring ${n} idle users..." >&2
    log=$(timeout 300 cargo test --release -p loadtest-runtime --test memory -- \
        --ignored --exact --nocapture --test-threads=1 "idle_users_${n}" 2>&1) || {
        echo "$log" >&2
        echo "idle_users_${n} failed or timed out" >&2
        exit 1
    }
    line=$(grep '^MEMORY ' <<<"$log") || { echo "$log" >&2; exit 1; }
    rows+=("$line")
done

printf '%s\n' "${rows[@]}" | awk '
    BEGIN {
        print ""
        print "| users | RSS before | RSS idle | bytes / idle user | all started after |"
        print "|------:|-----------:|---------:|------------------:|------------------:|"
    }
    {
        # MEMORY users=N rss_before=B rss_idle=B bytes_per_user=B all_started_s=S
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        printf "| %d | %.1f MiB | %.1f MiB | %s | %s s |\n", v["users"], v["rss_before"] / 1048576,
            v["rss_idle"] / 1048576, v["bytes_per_user"], v["all_started_s"]
    }'
