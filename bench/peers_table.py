"""Prints bench/peers.sh's table from the run files it left in a folder (medians of the runs).

Usage: peers_table.py WORK_DIR RUNS. CPU per request is the process's own user + system time
(from /usr/bin/time for wrk, oha and bare_reqwest; from the harness's report, i.e. getrusage of
the generator process, for cargo loadtest) divided by the requests it completed."""
import json, os, re, statistics, sys

work, runs = sys.argv[1], int(sys.argv[2])


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def timefile(path):
    el, us, sy, rss = open(path).read().split()[-4:]
    return float(el), float(us) + float(sy), int(rss) * 1024


def wrk(i):
    text = open(f"{work}/wrk-{i}.txt").read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    reqs = int(re.search(r"(\d+) requests in", text).group(1))

    def lat(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", text)
        v, u = float(m.group(1)), m.group(2)
        return v * {"us": 1, "ms": 1e3, "s": 1e6}[u]

    _, cpu, rss = timefile(f"{work}/wrk-{i}.time")
    return {"rps": rps, "cpu_us": cpu * 1e6 / reqs, "p50": lat(50), "p99": lat(99), "rss": rss}


def oha(name, i, asked=None):
    path = f"{work}/{name}-{i}.json"
    if not os.path.exists(path):
        return None
    o = json.load(open(path))
    reqs = sum(o["statusCodeDistribution"].values())
    _, cpu, rss = timefile(f"{work}/{name}-{i}.time")
    return {"rps": o["summary"]["requestsPerSec"], "cpu_us": cpu * 1e6 / max(reqs, 1),
            "p50": o["latencyPercentiles"]["p50"] * 1e6, "p99": o["latencyPercentiles"]["p99"] * 1e6,
            "rss": rss, "asked": asked}


def bare(i):
    path = f"{work}/bare-{i}.txt"
    if not os.path.exists(path):
        return None
    m = re.search(r"requests=(\d+) seconds=([\d.]+)", open(path).read())
    reqs, secs = int(m.group(1)), float(m.group(2))
    _, cpu, rss = timefile(f"{work}/bare-{i}.time")
    return {"rps": reqs / secs, "cpu_us": cpu * 1e6 / reqs, "rss": rss}


def clt(path):
    if not os.path.exists(path):
        return None
    t = json.load(open(path))["tests"][0]["result"]
    g, l = t["generator"], t["iteration_latency"]["summary"]
    n = t["requests"]["total"]
    return {"rps": t["requests"]["rate_per_s"], "cpu_us": g["cpu_seconds"] * 1e6 / max(n, 1), "p50": l["p50_us"], "p99": l["p99_us"],
            "rss": g["peak_rss_bytes"], "asked": t["config"].get("rate_per_s"), "lag_p99": g["scheduling_lag"]["p99_us"]}


R = range(1, runs + 1)
rows = {"wrk (full speed)": [wrk(i) for i in R],
        "oha (full speed)": [oha("oha", i) for i in R],
        "bare reqwest loop (full speed)": [bare(i) for i in R],
        "cargo loadtest (full speed)": [clt(f"{work}/clt-full-{i}.json") for i in R],
        "oha (20,000/s)": [oha("oha20k", i, 20000) for i in R],
        "cargo loadtest (20,000/s)": [clt(f"{work}/clt-20000-{i}.json") for i in R],
        "cargo loadtest (50,000/s)": [clt(f"{work}/clt-50000-{i}.json") for i in R]}
base = {k: med([r[k] for r in rows["wrk (full speed)"]]) for k in ("rps", "cpu_us")}


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


print("| generator | req/s | × wrk | CPU µs/req | × wrk | achieved/asked | p50 µs | p99 µs | lag p99 µs | peak MiB |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for name, rs in rows.items():
    rs = [r for r in rs if r]
    if not rs:
        continue
    m = {k: med([r.get(k) for r in rs]) for k in ("rps", "cpu_us", "p50", "p99", "rss", "asked", "lag_p99")}
    ach = m["rps"] / m["asked"] if m.get("asked") else None
    print(f"| {name} | {m['rps']:.0f} | {m['rps'] / base['rps']:.2f} | {m['cpu_us']:.1f} | {m['cpu_us'] / base['cpu_us']:.2f} | "
          f"{fmt(ach, '.4f')} | {fmt(m['p50'], '.0f')} | {fmt(m['p99'], '.0f')} | {fmt(m['lag_p99'], '.0f')} | {m['rss'] / 2**20:.1f} |")
print(f"\n{runs} runs of 10 s each, medians; runs: "
      + ", ".join(f"{k.split(' (')[0]} {len([r for r in v if r])}" for k, v in rows.items()))
