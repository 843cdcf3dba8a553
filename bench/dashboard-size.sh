#!/usr/bin/env bash
# The dashboard's size after a long run (issue 29, done-means 3: under 200 KB after 10 minutes):
# 600 progress events of a test with ten request names, a threshold table and the generator's
# gauges, fed through the dashboard's own provisional report and renderer (a size, not a time,
# so the unit test asserts the bound); this prints the figures it measured.
#
#   bash bench/dashboard-size.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --quiet -p cargo-loadtest --lib -- --nocapture \
  live::dashboard::tests::ten_minutes_of_a_run_stay_under_200_kb_and_refer_to_nothing_outside 2>&1 \
  | grep -E '^dashboard after|test result'
