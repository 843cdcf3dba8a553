#!/usr/bin/env python3
"""Reads cargo-loadtest's reports with independent tools and checks them against report.json.

Used by tests/tests/e2e_interchange.rs; needs the PyPI package `hdrhistogram` (import `hdrh`).

    interchange_check.py report REPORT.json
    interchange_check.py hlog REPORT.json DIR
    interchange_check.py csv REPORT.json SUMMARY.csv SERIES.csv

Each command decodes with HdrHistogram's Python library (or parses with Python's csv module),
compares with the report, prints one JSON object saying what it checked, and exits 1 listing
every mismatch. Percentiles: the report's p-th percentile is the value at rank ceil(p * N), as in
HdrHistogram's Java and Rust libraries; the Python library rounds the rank to the nearest
(int(p * N + 0.5)), so its own get_value_at_percentile is compared wherever the two ranks agree.
"""

import csv
import glob
import json
import math
import os
import sys

from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader

QUANTILES = {"p50_us": 0.50, "p90_us": 0.90, "p95_us": 0.95, "p99_us": 0.99, "p999_us": 0.999}
PROBLEMS = []


def problem(msg):
    PROBLEMS.append(msg)


def value_at_rank(h, rank):
    """The highest equivalent value of the bucket holding the rank-th value (1-based)."""
    for item in h.get_recorded_iterator():
        if item.total_count_to_this_value >= rank:
            return item.value_iterated_to
    return 0


def value_at_quantile(h, q):
    n = h.get_total_count()
    return value_at_rank(h, max(1, math.ceil(q * n)))


def pairs(h):
    return [(i.value_iterated_to, i.count_at_value_iterated_to) for i in h.get_recorded_iterator()]


def check_summary(where, h, summary):
    """The decoded histogram against the report's summary: counts and percentiles exactly."""
    n = h.get_total_count()
    if n != summary["count"]:
        problem(f"{where}: count {n}, the report says {summary['count']}")
    if n == 0:
        return 0
    for key, got in (("min_us", h.get_min_value()), ("max_us", h.get_max_value())):
        if got != summary[key]:
            problem(f"{where}: {key} {got}, the report says {summary[key]}")
    mean = h.get_mean_value()
    if abs(mean - summary["mean_us"]) > 1e-6 * max(1.0, abs(mean)):
        problem(f"{where}: mean {mean}, the report says {summary['mean_us']}")
    compared = 0
    for key, q in QUANTILES.items():
        ours = value_at_quantile(h, q)
        if ours != summary[key]:
            problem(f"{where}: {key} {ours} (rank ceil({q} * {n})), the report says {summary[key]}")
        if max(1, int(q * 100 * n / 100 + 0.5)) == max(1, math.ceil(q * n)):
            lib = h.get_value_at_percentile(q * 100)
            compared += 1
            if lib != summary[key]:
                problem(f"{where}: get_value_at_percentile({q * 100}) = {lib}, the report says {summary[key]}")
    return compared


def decode(where, text):
    if not text.startswith("HISTF"):
        problem(f"{where}: not the compressed V2 form (starts {text[:6]!r})")
    try:
        return HdrHistogram.decode(text)
    except Exception as e:  # noqa: BLE001 - any failure to decode is the finding
        problem(f"{where}: HdrHistogram.decode failed: {e!r}")
        return None


def results(report):
    for t in report["tests"]:
        if t["result"] is not None:
            yield f"{t['target']}::{t['name']}", t["result"]


def cmd_report(report):
    checked = {"histograms": 0, "series_histograms": 0, "library_percentiles": 0}
    for name, r in results(report):
        whole = [("iteration_latency", r["iteration_latency"])]
        if r["iteration_latency_uncorrected"] is not None:
            whole.append(("iteration_latency_uncorrected", r["iteration_latency_uncorrected"]))
        whole += [(f"request_names[{k}].latency", v["latency"]) for k, v in r["request_names"].items()]
        whole += [(f"custom_latencies[{k}]", v) for k, v in r["custom_latencies"].items()]
        for field, hist in whole:
            h = decode(f"{name} {field}", hist["hdr_v2_base64"])
            if h is not None:
                checked["library_percentiles"] += check_summary(f"{name} {field}", h, hist["summary"])
                checked["histograms"] += 1
        for i, p in enumerate(r["series"]):
            where = f"{name} series[{i}]"
            h = decode(f"{where}.iteration_latency", p["iteration_latency"])
            if h is None:
                continue
            checked["series_histograms"] += 1
            if h.get_total_count() != p["iterations"]:
                problem(f"{where}: {h.get_total_count()} values, the point says {p['iterations']} iterations")
            for key in ("p50_us", "p95_us", "p99_us"):
                if p["iterations"] and value_at_quantile(h, QUANTILES[key]) != p[key]:
                    problem(f"{where}: {key} {value_at_quantile(h, QUANTILES[key])}, the point says {p[key]}")
            extra = [(k, v) for k, v in p["request_latency"].items()]
            if p.get("iteration_latency_uncorrected") is not None:
                extra.append(("uncorrected", p["iteration_latency_uncorrected"]))
            for k, v in extra:
                if decode(f"{where} {k}", v) is not None:
                    checked["series_histograms"] += 1
    return checked


def cmd_hlog(report, folder):
    """Each test's .hlog read with the library's log reader: one interval per second and tag,
    and the intervals of each tag add up to the whole-run histogram."""
    files = sorted(glob.glob(os.path.join(folder, "*.hlog")))
    out = {"files": len(files), "tests": {}}
    by_test = {}
    for name, r in results(report):
        by_test[name] = r
    for path in files:
        reader = HistogramLogReader(path, HdrHistogram(1, 3_600_000_000, 3))
        intervals = {}
        sums = {}
        starts = {}
        while True:
            h = reader.get_next_interval_histogram()
            if h is None:
                break
            tag = h.get_tag()
            intervals[tag] = intervals.get(tag, 0) + 1
            starts.setdefault(tag, []).append(h.get_start_time_stamp())
            # Intervals are auto-sized histograms of different ranges: add them up in one that
            # covers the recorded range (same lowest value and precision as the report's).
            if tag not in sums:
                sums[tag] = HdrHistogram(1, 3_600_000_000, 3)
            sums[tag].add(h)
        reader.close()
        comments = open(path, encoding="utf-8").read()
        match = [n for n in by_test if f": {n} of package" in comments]
        if len(match) != 1:
            problem(f"{path}: names no test of the report ({match})")
            continue
        name = match[0]
        r = by_test[name]
        expected = {"iteration": r["iteration_latency"]["hdr_v2_base64"]}
        if r["iteration_latency_uncorrected"] is not None:
            expected["iteration_uncorrected"] = r["iteration_latency_uncorrected"]["hdr_v2_base64"]
        for k, v in r["request_names"].items():
            tag = "request:" + "".join("_" if c in " ,\r\n" else c for c in k)
            expected[tag] = v["latency"]["hdr_v2_base64"]
        if set(intervals) != set(expected):
            problem(f"{path}: tags {sorted(intervals)}, expected {sorted(expected)}")
        for tag, text in expected.items():
            whole = HdrHistogram.decode(text)
            if tag not in sums:
                continue
            if pairs(sums[tag]) != pairs(whole):
                problem(f"{path}: the {intervals[tag]} intervals tagged {tag} add up to "
                        f"{sums[tag].get_total_count()} values, not the whole-run histogram "
                        f"({whole.get_total_count()} values) value for value")
            if intervals[tag] != len(r["series"]):
                problem(f"{path}: {intervals[tag]} intervals tagged {tag}, the series has {len(r['series'])} seconds")
            ts = starts[tag]
            if any(b <= a for a, b in zip(ts, ts[1:])):
                problem(f"{path}: interval start times of {tag} do not increase: {ts}")
        out["tests"][name] = {"intervals": intervals, "whole_counts": {t: sums[t].get_total_count() for t in sums}}
    return out


def number(row, key):
    return float(row[key]) if row[key] != "" else None


def cmd_csv(report, summary_path, series_path):
    with open(summary_path, newline="", encoding="utf-8") as f:
        summary = list(csv.DictReader(f))
    with open(series_path, newline="", encoding="utf-8") as f:
        series = list(csv.DictReader(f))
    out = {"summary_rows": len(summary), "series_rows": len(series)}
    for t in report["tests"]:
        name = t["name"]
        rows = [x for x in summary if x["target"] == t["target"] and x["test"] == name]
        it = [x for x in rows if x["kind"] == "iteration"]
        if len(it) != 1:
            problem(f"{name}: {len(it)} iteration rows in the summary")
            continue
        if it[0]["status"] != t["status"]:
            problem(f"{name}: status {it[0]['status']!r}, the report says {t['status']!r}")
        r = t["result"]
        if r is None:
            continue
        checks = [
            ("iteration count", number(it[0], "count"), r["iterations"]["total"]),
            ("iteration failed", number(it[0], "failed"), r["iterations"]["failed"]),
            ("iteration p99_us", number(it[0], "p99_us"), r["iteration_latency"]["summary"]["p99_us"]),
            ("iteration max_us", number(it[0], "max_us"), r["iteration_latency"]["summary"]["max_us"]),
            ("bytes received", number(it[0], "bytes_received"), r["requests"]["bytes_received"]),
        ]
        req = {x["name"]: x for x in rows if x["kind"] == "request"}
        if set(req) != set(r["request_names"]):
            problem(f"{name}: request rows {sorted(req)}, the report has {sorted(r['request_names'])}")
        checks.append(("sum of request counts", sum(number(x, "count") for x in req.values()), r["requests"]["total"]))
        for k, m in r["request_names"].items():
            if k in req:
                checks.append((f"{k} count", number(req[k], "count"), m["count"]))
                checks.append((f"{k} p50_us", number(req[k], "p50_us"), m["latency"]["summary"]["p50_us"]))
        pts = [x for x in series if x["target"] == t["target"] and x["test"] == name]
        checks += [
            ("series rows", len(pts), len(r["series"])),
            ("sum of series iterations", sum(number(x, "iterations") for x in pts), r["iterations"]["total"]),
            ("sum of series failed", sum(number(x, "failed") for x in pts), r["iterations"]["failed"]),
            ("sum of series requests", sum(number(x, "requests") for x in pts), r["requests"]["total"]),
            ("sum of series requests (JSON)", sum(p["requests"] for p in r["series"]), r["requests"]["total"]),
        ]
        for x, p in zip(pts, r["series"]):
            checks.append(("series p99_us", number(x, "p99_us"), p["p99_us"]))
            span = number(x, "interval_s")
            if span and abs(number(x, "iterations_per_s") * span - p["iterations"]) > 1e-6 * max(1, p["iterations"]):
                problem(f"{name}: iterations_per_s {x['iterations_per_s']} x {span} s is not {p['iterations']}")
        for what, got, want in checks:
            if got != want:
                problem(f"{name}: {what} is {got} in the CSV, {want} in the JSON")
    return out


def main(argv):
    report = json.load(open(argv[2], encoding="utf-8"))
    if argv[1] == "report":
        out = cmd_report(report)
    elif argv[1] == "hlog":
        out = cmd_hlog(report, argv[3])
    elif argv[1] == "csv":
        out = cmd_csv(report, argv[3], argv[4])
    else:
        sys.exit(f"unknown command {argv[1]!r}")
    print(json.dumps(out, sort_keys=True))
    for p in PROBLEMS:
        print("MISMATCH: " + p, file=sys.stderr)
    return 1 if PROBLEMS else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
