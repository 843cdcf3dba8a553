"""Prints bench/peers.sh's table from the run files it left in a folder (medians of the runs).

Usage: peers_table.py WORK_DIR RUNS [RATES]. CPU per request is the process's own user + system time
(from /usr/bin/time for wrk, oha and bare_reqwest; from the harness's report, i.e. getrusage of
the generator process, for cargo loadtest) divided by the requests it completed."""
import json
import os, re, statistics, sys

work, runs = sys.argv[1], int(sys.argv[2])
rates = [int(r) for r in (sys.argv[3] if len(sys.argv) > 3 else "20000 50000").split()]


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def conns(name):
    path = f"{work}/{name}.conns"
    return int(open(path).read()) if os.path.exists(path) else None


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
    return {"rps": rps, "cpu_us": cpu * 1e6 / reqs, "p50": lat(50), "p99": lat(99), "rss": rss,
            "conns": conns(f"wrk-{i}")}


def oha(name, i, asked=None):
    path = f"{work}/{name}-{i}.json"
    if not os.path.exists(path):
        return None
    o = json.load(open(path))
    reqs = sum(o["statusCodeDistribution"].values())
    _, cpu, rss = timefile(f"{work}/{name}-{i}.time")
    return {"rps": o["summary"]["requestsPerSec"], "cpu_us": cpu * 1e6 / max(reqs, 1),
            "p50": o["latencyPercentiles"]["p50"] * 1e6, "p99": o["latencyPercentiles"]["p99"] * 1e6,
            "rss": rss, "asked": asked, "conns": conns(f"{name}-{i}")}


def bare(i):
    path = f"{work}/bare-{i}.txt"
    if not os.path.exists(path):
        return None
    m = re.search(r"requests=(\d+) seconds=([\d.]+)", open(path).read())
    reqs, secs = int(m.group(1)), float(m.group(2))
    _, cpu, rss = timefile(f"{work}/bare-{i}.time")
    return {"rps": reqs / secs, "cpu_us": cpu * 1e6 / reqs, "rss": rss, "conns": conns(f"bare-{i}")}


def clt(name):
    path = f"{work}/{name}.json"
    if not os.path.exists(path):
        return None
    t = json.load(open(path))["tests"][0]["result"]
    g, l = t["generator"], t["iteration_latency"]["summary"]
    n = t["requests"]["total"]
    return {"rps": t["requests"]["rate_per_s"], "cpu_us": g["cpu_seconds"] * 1e6 / max(n, 1), "p50": l["p50_us"], "p99": l["p99_us"],
            "rss": g["peak_rss_bytes"], "asked": t["config"].get("rate_per_s"), "lag_p99": g["scheduling_lag"]["p99_us"],
            "conns": conns(name), "errors": n - t["requests"]["by_class"].get("ok", 0), "opened": t.get("connections", {}).get("opened")}


R = range(1, runs + 1)
rows = {"wrk (full speed)": [wrk(i) for i in R],
        "oha (full speed)": [oha("oha", i) for i in R],
        "bare reqwest loop (full speed)": [bare(i) for i in R]}
CLIENTS = os.environ.get("CLIENTS", "native hyper reqwest").split()
for c in CLIENTS:
    rows[f"cargo loadtest, {c} (full speed)"] = [clt(f"clt-{c}-full-{i}") for i in R]
rows["oha (20,000/s)"] = [oha("oha20k", i, 20000) for i in R]
for rate in rates:
    for c in CLIENTS:
        rows[f"cargo loadtest, {c} ({rate:,}/s)"] = [clt(f"clt-{c}-{rate}-{i}") for i in R]
close = clt("clt-close")
base = {k: med([r[k] for r in rows["wrk (full speed)"]]) for k in ("rps", "cpu_us")}


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


print("| generator | req/s | × wrk | × oha | CPU µs/req | × wrk | × oha | achieved/asked | p50 µs | p99 µs | lag p99 µs | peak MiB | conns |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
oha_rows = [r for r in rows["oha (full speed)"] if r]
oha_base = {k: med([r[k] for r in oha_rows]) for k in ("rps", "cpu_us")} if oha_rows else None
oha20_rows = [r for r in rows["oha (20,000/s)"] if r]
oha20_cpu = med([r["cpu_us"] for r in oha20_rows]) if oha20_rows else None
for name, rs in rows.items():
    rs = [r for r in rs if r]
    if not rs:
        continue
    m = {k: med([r.get(k) for r in rs]) for k in ("rps", "cpu_us", "p50", "p99", "rss", "asked", "lag_p99", "conns")}
    ach = m["rps"] / m["asked"] if m.get("asked") else None
    fixed = "/s)" in name
    x_oha_rps = None if (oha_base is None or fixed) else m["rps"] / oha_base["rps"]
    cpu_ref = oha20_cpu if "(20,000/s)" in name else (None if fixed or oha_base is None else oha_base["cpu_us"])
    x_oha_cpu = None if cpu_ref is None else m["cpu_us"] / cpu_ref
    print(f"| {name} | {m['rps']:.0f} | {m['rps'] / base['rps']:.2f} | {fmt(x_oha_rps, '.2f')} | {m['cpu_us']:.1f} | {m['cpu_us'] / base['cpu_us']:.2f} | "
          f"{fmt(x_oha_cpu, '.2f')} | {fmt(ach, '.4f')} | {fmt(m['p50'], '.0f')} | {fmt(m['p99'], '.0f')} | {fmt(m['lag_p99'], '.0f')} | {m['rss'] / 2**20:.1f} | {fmt(m['conns'], '.0f')} |")
if close:
    print(f"\ncargo loadtest, default transport, full speed against a server closing every connection (5 s): {close['rps']:.0f} req/s, "
          f"{close['errors']} failed requests, {close['opened']} connections opened (nginx accepted {close['conns']}).")
print("\n× oha: against oha at full speed, or for CPU at 20,000/s against oha at 20,000/s. conns: connections nginx accepted (stub_status).")
print(f"{runs} runs of 10 s each, medians; runs: "
      + ", ".join(f"{k.split(' (')[0]} {len([r for r in v if r])}" for k, v in rows.items()))
