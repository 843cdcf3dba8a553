#!/usr/bin/env bash
# Wall time of `CI=true bash .ci/run` on fresh clones, one revision after the other, and what
# each part takes: fmt + clippy, the test build, the end-to-end binaries (one since issue 24,
# tests/tests/integration), trybuild, the rest.
# On demand, not in CI; run it on a machine doing nothing else (the suite measures rates).
#
#   bash bench/suite-time.sh a98ff59 HEAD       # the commit before issue 10 against now
#   OUT=/tmp/suite bash bench/suite-time.sh HEAD
#
# Each revision is cloned from this repository into OUT/REV (its own target directory, so
# nothing is reused between them); its dependencies are fetched before the clock starts and
# the tools .ci/run installs should already be installed, so neither download is timed.
# Prints one row per revision, then where the e2e binary's time went (each test's seconds held,
# from OUT/REV.times); the timestamped logs are OUT/REV.log.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
repo=$(pwd)
for rev in "$@"; do
  dir="$OUT/$rev"
  rm -rf "$dir"
  git clone -q "$repo" "$dir"
  git -C "$dir" checkout -q "$rev"
  (cd "$dir" && cargo fetch --locked -q)
  log="$OUT/$rev.log"
  # The e2e tests' own profile (revisions since issue 24's timing support; others ignore it).
  rm -f "$OUT/$rev.times"
  export LOADTEST_E2E_TIMES="$OUT/$rev.times"
  start=$(date +%s.%N)
  set +e
  (cd "$dir" && CI=true bash .ci/run) 2>&1 | while IFS= read -r l; do
    printf '%8.1f %s\n' "$(echo "$(date +%s.%N) - $start" | bc)" "$l"
  done > "$log"
  rc=${PIPESTATUS[0]}
  set -e
  echo "rc $rc" >> "$log"
done
python3 - "$OUT" "$@" <<'PY'
import re, sys
out, revs = sys.argv[1], sys.argv[2:]
print("| revision | rc | total s | fmt + clippy | test build | e2e binaries | trybuild | the rest |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for rev in revs:
    lines = open(f"{out}/{rev}.log").read().splitlines()
    rc = lines[-1].split()[1]
    t = lambda l: float(l.split()[0])
    finished = [t(l) for l in lines if "Finished `" in l]
    total = t(lines[-2])
    clippy, build = finished[0], finished[1] - finished[0]
    # Each test binary runs from its `Running` line to the next one (or the doc tests).
    runs, current = {}, None
    for l in lines:
        m = re.search(r"Running (\S+)", l)
        if m or "Doc-tests" in l:
            if current:
                runs[current[0]] = runs.get(current[0], 0) + t(l) - current[1]
            current = (m.group(1), t(l)) if m else None
    e2e = sum(v for k, v in runs.items() if re.search(r"tests/(e2e|scale_examples|integration/)", k))
    ui = sum(v for k, v in runs.items() if k.endswith("tests/ui.rs"))
    rest = total - clippy - build - e2e - ui
    print(f"| {rev} | {rc} | {total:.0f} | {clippy:.0f} | {build:.0f} | {e2e:.0f} | {ui:.0f} | {rest:.0f} |")
# Where the e2e binary's time goes: the serial tests run alone, so their held seconds add up to
# the least it can take; the concurrent ones share the machine's threads.
for rev in revs:
    try:
        rows = [l.rstrip("\n").split("\t") for l in open(f"{out}/{rev}.times")]
    except FileNotFoundError:
        continue
    held = lambda kind: sum(float(r[3]) for r in rows if r[1] == kind)
    print(f"\n{rev}: {len(rows)} e2e tests, serial held {held('serial'):.0f} s, concurrent held {held('concurrent'):.0f} s; the longest:")
    for r in sorted(rows, key=lambda r: -float(r[3]))[:12]:
        print(f"  {float(r[3]):6.1f} s  {r[1]:10s}  {r[0]}")
PY
