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
# Prints one row per revision; the timestamped logs are OUT/REV.log.
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
PY
