#!/usr/bin/env python3
"""Synthetic histories for `cargo loadtest history` (issue 28): writes history records
(history_version 1, one JSON file per run) whose tests' p50 follows a known shape, so that the
change points are known. Used by bench/history.sh (speed) and bench/otava-crosscheck.sh
(agreement with Apache Otava). Standard library only; deterministic per seed.

  history_synth.py OUT_DIR --runs N --scenario SCENARIO --seeds K [--first-seed S]
                   [--noise 0.03] [--extra-metrics]

Each seed is one test named `synthetic::SCENARIO::sNNN` in the same runs, so one history holds
K independent series of the scenario. Scenarios (p50 in microseconds around 10,000):
  flat        noise only: no change point
  step        one step at a run drawn per seed in [N/4, 3N/4), of +/-8..25%
  steps       two steps (up then down, or down then up), at least 15 runs apart
  drift       a slow drift of +0.5% per run over the whole history (no step)
  mixed       used by bench/history.sh: every test has a step at 1/3 of the history, 50 metrics

p95, p99, throughput and error rate are constant unless --extra-metrics gives them their own
noise (and the same shape): then each test has 5 varying series.
The shapes and change points are printed as JSON on stdout (truth.json for the cross-check).
"""
import argparse
import json
import os
import random
import time


def shape(scenario, n, rng):
    """(factors per run, true change points [(index, relative change)])."""
    if scenario == "flat":
        return [1.0] * n, []
    if scenario == "step":
        at = rng.randrange(n // 4, 3 * n // 4)
        size = rng.choice([-1, 1]) * rng.uniform(0.08, 0.25)
        return [1.0 if i < at else 1.0 + size for i in range(n)], [(at, size)]
    if scenario == "steps":
        a = rng.randrange(n // 5, n // 2)
        b = rng.randrange(a + 15, min(n - 5, a + 15 + n // 2))
        s1 = rng.choice([-1, 1]) * rng.uniform(0.10, 0.25)
        s2 = -s1 * rng.uniform(0.6, 1.2)
        f = [1.0 if i < a else (1.0 + s1 if i < b else (1.0 + s1) * (1.0 + s2)) for i in range(n)]
        return f, [(a, s1), (b, s2)]
    if scenario == "drift":
        return [1.005 ** i for i in range(n)], []
    if scenario == "mixed":
        at = n // 3
        return [1.0 if i < at else 1.15 for i in range(n)], [(at, 0.15)]
    raise SystemExit(f"unknown scenario {scenario!r}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--runs", type=int, default=60)
    p.add_argument("--scenario", default="flat")
    p.add_argument("--seeds", type=int, default=100)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--noise", type=float, default=0.03)
    p.add_argument("--extra-metrics", action="store_true")
    p.add_argument("--start", type=float, default=None,
                   help="Unix time of the first run (default: RUNS hours before now, so that "
                        "Otava's default one-year selection holds every run)")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    start = a.start if a.start is not None else time.time() - (a.runs + 1) * 3600.0
    tests = []
    truth = {}
    for k in range(a.first_seed, a.first_seed + a.seeds):
        rng = random.Random(f"{a.scenario}-{k}")
        factors, points = shape(a.scenario, a.runs, rng)
        name = f"synthetic::{a.scenario}::s{k:03d}"
        noise = lambda: 1.0 + rng.gauss(0.0, a.noise)
        series = {"p50_us": [10_000.0 * f * noise() for f in factors]}
        if a.extra_metrics:
            series["p95_us"] = [18_000.0 * f * noise() for f in factors]
            series["p99_us"] = [25_000.0 * f * noise() for f in factors]
            series["throughput_per_s"] = [400.0 / f * noise() for f in factors]
            series["error_rate"] = [abs(rng.gauss(0.001, 0.0002)) for _ in factors]
        tests.append((name, series))
        truth[name] = [{"index": i, "change": c} for i, c in points]
    for i in range(a.runs):
        commit = f"{(i * 2654435761) % (1 << 40):010x}{i:030x}"
        record = {
            "history_version": 1,
            "commit": commit,
            "started_at_unix": start + i * 3600.0,
            "host": "synthetic",
            "tool_version": "synthetic",
            "recorded_at_unix": start + i * 3600.0 + 60.0,
            "tests": [],
        }
        for name, series in tests:
            m = {
                "p50_us": series["p50_us"][i],
                "p95_us": series.get("p95_us", [20_000.0] * a.runs)[i],
                "p99_us": series.get("p99_us", [30_000.0] * a.runs)[i],
                "throughput_per_s": series.get("throughput_per_s", [400.0] * a.runs)[i],
                "error_rate": series.get("error_rate", [0.0] * a.runs)[i],
            }
            record["tests"].append({
                "test": name, "status": "passed", "model": "closed, 4 users",
                "saturated": False, "disturbed": False, "metrics": m, "requests": {},
            })
        with open(os.path.join(a.out, f"run-{i:05d}.json"), "w") as f:
            json.dump(record, f)
    print(json.dumps(truth))


if __name__ == "__main__":
    main()
