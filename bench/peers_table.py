"""Prints bench/peers.sh's table from the run files it left in a folder (medians of the runs)."""
import json, os, re, statistics, sys

work, runs = sys.argv[1], int(sys.argv[2])

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None

def wrk(i):
    text = open(f"{work}/wrk-{i}.txt").read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    def lat(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", text)
        v, u = float(m.group(1)), m.group(2)
        return v * {"us": 1, "ms": 1e3, "s": 1e6}[u]
    el, us, sy, rss = open(f"{work}/wrk-{i}.time").read().split()
    reqs = rps * float(el)
    return {"rps": rps, "cpu_us": (float(us) + float(sy)) * 1e6 / reqs, "p50": lat(50), "p99": lat(99), "rss": int(rss) * 1024}

def clt(path):
    if not os.path.exists(path):
        return None
    t = json.load(open(path))["tests"][0]["result"]
    g, l = t["generator"], t["iteration_latency"]["summary"]
    n = t["requests"]["total"]
    return {"rps": t["requests"]["rate_per_s"], "cpu_us": g["cpu_seconds"] * 1e6 / max(n, 1), "p50": l["p50_us"], "p99": l["p99_us"],
            "rss": g["peak_rss_bytes"], "asked": t["config"].get("rate_per_s"), "lag_p99": g["scheduling_lag"]["p99_us"]}

rows = {"wrk (full speed)": [wrk(i) for i in range(1, runs + 1)],
        "cargo loadtest (full speed)": [clt(f"{work}/clt-full-{i}.json") for i in range(1, runs + 1)],
        "cargo loadtest (20,000/s)": [clt(f"{work}/clt-20000-{i}.json") for i in range(1, runs + 1)],
        "cargo loadtest (50,000/s)": [clt(f"{work}/clt-50000-{i}.json") for i in range(1, runs + 1)]}
base = {k: med([r[k] for r in rows["wrk (full speed)"]]) for k in ("rps", "cpu_us")}
print(f"{'generator':32} {'req/s':>10} {'x wrk':>6} {'CPU us/req':>10} {'x wrk':>6} {'achieved/asked':>14} {'p50 us':>8} {'p99 us':>8} {'lag p99 us':>10} {'peak MB':>8}")
for name, rs in rows.items():
    rs = [r for r in rs if r]
    if not rs:
        continue
    m = {k: med([r.get(k) for r in rs]) for k in ("rps", "cpu_us", "p50", "p99", "rss", "asked", "lag_p99")}
    ach = f"{m['rps'] / m['asked']:.4f}" if m.get("asked") else "-"
    lag = f"{m['lag_p99']:.0f}" if m.get("lag_p99") is not None else "-"
    print(f"{name:32} {m['rps']:>10.0f} {m['rps'] / base['rps']:>6.2f} {m['cpu_us']:>10.1f} {m['cpu_us'] / base['cpu_us']:>6.2f} {ach:>14} {m['p50']:>8.0f} {m['p99']:>8.0f} {lag:>10} {m['rss'] / 2**20:>8.1f}")
