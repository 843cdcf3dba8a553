#!/usr/bin/env bash
# Scale-out figures on the demo (each shard's setup hook starts its own demo server, so the
# shards' loads do not add up on one server here; what is measured is the tool's own cost):
# the archive's size and the time to write it, the time to extract and check it (a run whose
# filter matches nothing: extraction, SHA-256 of every binary, then exit 4), three shards run at
# once from the archive with one --start-at, and the merge of their reports.
#
#   bash bench/scale.sh            # CLI=path/to/cargo-loadtest to use another binary
#
# `bash bench/scale.sh merge` measures the merge itself at scale instead: one real shard report
# of a 10-minute test with 11 request names (bench/merge-shard, against the demo server its setup
# hook starts; written once, about 11 minutes, or given as REPORT=path), copied into 100, 1,000
# and 10,000 synthetic shards (COUNTS="100 1000 10000"; only the shard fields rewritten), each
# set merged flat (time and peak memory by GNU time), and the largest also as a tree (groups of
# 100 merged, then the group reports merged), whose report must equal the flat one.
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

if [ "${1:-}" = merge ]; then
  REPORT=${REPORT:-$OUT/real-shard.json}
  if [ ! -f "$REPORT" ]; then
    echo "writing one real shard report of a 10-minute test (about 11 minutes) to $REPORT"
    "$CLI" loadtest --manifest-path bench/merge-shard/Cargo.toml --target-dir target \
      --shard 1/2 --quiet --json "$REPORT" >/dev/null 2>&1 || true
  fi
  echo "shard report: $(stat -c %s "$REPORT") bytes, $(python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['tests'][0]['result']; print(len(r['request_names']), 'request names,', len(r['series']), 'seconds,', r['iterations']['total'], 'iterations')" "$REPORT")"
  echo "| shards | merge time (s) | peak memory (MB) | time per shard (ms) |"
  echo "|---:|---:|---:|---:|"
  largest=""
  for n in ${COUNTS:-100 1000 10000}; do
    dir="$OUT/n$n"
    if [ ! -f "$dir/.complete" ]; then
      rm -rf "$dir"
      # Groups of 100 shards per folder, so the tree below merges folders.
      python3 - "$REPORT" "$dir" "$n" <<'PY'
import json, os, sys
src, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
report = json.load(open(src))
for k in range(1, n + 1):
    report["run"]["shard"]["shard"] = {"index": k, "count": n}
    for t in report["tests"]:
        part = (t.get("result") or {}).get("config", {}).get("shard")
        if part:
            part["shard"] = {"index": k, "count": n}
    group = f"{out}/g{(k - 1) // 100 + 1:03d}"
    os.makedirs(group, exist_ok=True)
    with open(f"{group}/shard-{k:05d}.json", "w") as f:
        json.dump(report, f)
open(f"{out}/.complete", "w").close()
PY
    fi
    (cd "$OUT" && /usr/bin/time -f "%e %M" -o "time-$n.txt" "$CLI" loadtest merge "n$n" --quiet \
       --json "merged-$n.json" --junit "merged-$n.xml" --markdown "merged-$n.md" >/dev/null 2>"merge-$n.err") || true
    # GNU time writes "Command exited with non-zero status N" first when the merge fails.
    read -r elapsed rss_kb < <(tail -1 "$OUT/time-$n.txt")
    python3 -c "print(f'| {$n:,} | {$elapsed:.1f} | {$rss_kb / 1024:.0f} | {1000 * $elapsed / $n:.2f} |')"
    largest=$n
  done
  # The largest set as a tree: each folder of 100 shards merged, then the folders' reports.
  n=$largest
  rm -rf "$OUT/tree-$n" && mkdir -p "$OUT/tree-$n"
  t0=$(now)
  peak=0
  for g in "$OUT/n$n"/g*; do
    name=$(basename "$g")
    (cd "$OUT" && /usr/bin/time -f "%M" -o "tree-$n/$name.time" "$CLI" loadtest merge "n$n/$name" --quiet \
       --json "tree-$n/$name.json" --junit "tree-$n/$name.xml" --markdown "tree-$n/$name.md" >/dev/null 2>&1) || true
    # A group is a partial merge (exit 100, GNU time says so on a line of its own).
    kb=$(tail -1 "$OUT/tree-$n/$name.time")
    peak=$(( kb > peak ? kb : peak ))
  done
  t1=$(now)
  (cd "$OUT" && /usr/bin/time -f "%M" -o "tree-$n/top.time" "$CLI" loadtest merge tree-$n/g*.json --quiet \
     --json "tree-merged-$n.json" --junit "tree-merged-$n.xml" --markdown "tree-merged-$n.md" >/dev/null 2>&1) || true
  t2=$(now)
  top=$(tail -1 "$OUT/tree-$n/top.time")
  echo "tree of $n shards: $(ls "$OUT/tree-$n"/g*.json | wc -l) group merges in $(secs "$t0" "$t1") s (peak $((peak / 1024)) MB each at most), then their reports merged in $(secs "$t1" "$t2") s (peak $((top / 1024)) MB)"
  python3 - "$OUT/merged-$n.json" "$OUT/tree-merged-$n.json" <<'PY'
import json, sys
flat, tree = (json.load(open(p)) for p in sys.argv[1:])
for r in (flat, tree):
    r["run"]["command_line"] = None
def diff(a, b, at=""):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{at}/{k} (in one only)"
            d = diff(a[k], b[k], f"{at}/{k}")
            if d:
                return d
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            d = diff(x, y, f"{at}/{i}")
            if d:
                return d
    elif a != b:
        return f"{at}: {str(a)[:80]} vs {str(b)[:80]}"
    return None
d = diff(flat, tree)
t = flat["tests"][0]
print(f"tree == flat: {'yes' if d is None else 'NO, first difference at ' + d}; merged: "
      f"{t['result']['iterations']['total']:,} iterations, {len(flat['run']['merge']['shards']):,} shards, {t['status']}")
PY
  echo "files in $OUT"
  exit 0
fi

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
