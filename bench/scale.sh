#!/usr/bin/env bash
# Scale-out figures on the demo (each shard's setup hook starts its own demo server, so the
# shards' loads do not add up on one server here; what is measured is the tool's own cost):
# the archive's size and the time to write it, the time to extract and check it (a run whose
# filter matches nothing: extraction, SHA-256 of every binary, then exit 4), three shards run at
# once from the archive with one --start-at, and the merge of their reports.
#
#   bash bench/scale.sh            # CLI=path/to/cargo-loadtest to use another binary
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$(mktemp -d /tmp/loadtest-scale-XXXXXX)}
if [ -z "${CLI:-}" ]; then
  cargo build --release --quiet --package cargo-loadtest --bin cargo-loadtest
  CLI=target/release/cargo-loadtest
fi
CLI=$(realpath "$CLI")
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }

t0=$(now)
"$CLI" loadtest archive -p loadtest-demo --archive-file "$OUT/demo.tar.zst" --quiet
t1=$(now)
echo "archive: $(stat -c %s "$OUT/demo.tar.zst") bytes, written in $(secs "$t0" "$t1") s (build included when not fresh)"
ls -l target/release/deps/demo-* 2>/dev/null | awk '!/\.d$/ {print "  harness binary: " $5 " bytes"}' | head -1

t0=$(now)
set +e; (cd "$OUT" && "$CLI" loadtest --archive-file demo.tar.zst no-such-test >/dev/null 2>&1); code=$?; set -e
t1=$(now)
echo "extract and check: $(secs "$t0" "$t1") s (exit $code, 4 expected)"

start=$(( $(date +%s) + 5 ))
for k in 1 2 3; do
  (cd "$OUT" && "$CLI" loadtest --archive-file demo.tar.zst --shard "$k/3" --start-at "$start" \
     --quiet --json "shard-$k.json" --junit "shard-$k.xml" --markdown "shard-$k.md" >/dev/null) &
done
wait
t0=$(now)
(cd "$OUT" && "$CLI" loadtest merge shard-1.json shard-2.json shard-3.json --quiet \
   --json merged.json --junit merged.xml --markdown merged.md >/dev/null) || true
t1=$(now)
echo "merge of 3 shard reports ($(stat -c %s "$OUT/shard-1.json") bytes each): $(secs "$t0" "$t1") s"
python3 - "$OUT" <<'PY'
import json, sys
d = sys.argv[1]
m = json.load(open(f"{d}/merged.json"))
for t in m["tests"]:
    r = t["result"]
    parts = [json.load(open(f"{d}/shard-{k}.json")) for k in (1, 2, 3)]
    per = [next(x for x in p["tests"] if x["name"] == t["name"])["result"]["iterations"]["total"] for p in parts]
    print(f"  {t['name']}: merged {r['iterations']['total']} iterations = shards {per}, p99 {r['iteration_latency']['summary']['p99_us']} us, {t['status']}")
PY
echo "files in $OUT"
