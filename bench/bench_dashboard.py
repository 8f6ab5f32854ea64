#!/usr/bin/env python3
"""What the dashboard costs (issue 13): the 40-ticker run at 300 ms latency with --workers 4, with
and without `--dashboard`, the dashboard watched the whole time (one server-sent-events reader,
like an open page, and a /metrics scrape every 500 ms).

Runs alternate (plain, dashboard, plain, dashboard, ...) so that machine noise hits both alike;
each run uses a fresh store. Reported: median and min of the process's wall time and of the
engine's own elapsed time (`totals.elapsed_secs`), and the ratio of medians.

Usage:  python3 bench/bench_dashboard.py [--rounds 7] [--out bench/dashboard.md]
"""

import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_backfill import ROOT, Sim, build, example_portfolio  # noqa: E402


def watch(url, stop):
    """Reads the event stream and scrapes /metrics until the server goes away or `stop` is set."""

    def sse():
        try:
            with urllib.request.urlopen(url + "events", timeout=60) as r:
                for _ in r:
                    if stop.is_set():
                        return
        except Exception:
            return

    def scrape():
        while not stop.is_set():
            try:
                urllib.request.urlopen(url + "metrics", timeout=10).read()
            except Exception:
                return
            time.sleep(0.5)

    threads = [threading.Thread(target=f, daemon=True) for f in (sse, scrape)]
    for t in threads:
        t.start()
    return threads


def one(binary, sim, tickers, dashboard):
    sim.reset()
    store = tempfile.mkdtemp(prefix="bench-dash-")
    cmd = [
        binary, "--store", store, "--yahoo-url", sim.url, "--tickers", ",".join(tickers),
        "--days", "252", "--end", "2024-06-28", "--workers", "4", "--rate", "0", "--json",
    ]
    if dashboard:
        cmd += ["--dashboard", "127.0.0.1:0"]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stop = threading.Event()
    if dashboard:
        for line in p.stderr:
            m = re.search(r"dashboard: (http://\S+)", line)
            if m:
                watch(m.group(1), stop)
                break
    out, _ = p.communicate()
    wall = time.perf_counter() - t0
    stop.set()
    report = json.loads(out)
    assert p.returncode == 0 and report["totals"]["saved"] == 40, out
    assert sim.stats()["chart_requests"] == 40
    subprocess.run(["rm", "-rf", store], check=True)
    return wall, report["totals"]["elapsed_secs"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "dashboard.md"))
    args = ap.parse_args()
    binary = build()
    tickers = example_portfolio()
    sim = Sim(binary, "--latency-ms", "300")
    plain, dash = [], []
    try:
        one(binary, sim, tickers, False)  # warm-up: page cache, binary
        for _ in range(args.rounds):
            plain.append(one(binary, sim, tickers, False))
            dash.append(one(binary, sim, tickers, True))
    finally:
        sim.stop()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    load = os.getloadavg()[0]
    med = lambda xs, i: statistics.median(x[i] for x in xs)  # noqa: E731
    low = lambda xs, i: min(x[i] for x in xs)  # noqa: E731
    rows = [
        ("without `--dashboard`", plain),
        ("with `--dashboard`, watched (SSE + /metrics every 0.5 s)", dash),
    ]
    lines = [
        "# Dashboard overhead",
        "",
        f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC at commit `{commit}` with",
        f"`python3 bench/bench_dashboard.py --rounds {args.rounds}` (release build; load average {load:.1f} on 2 cores).",
        "40 tickers x 252 daily sessions, simulator latency 300 ms, `--workers 4 --rate 0`, fresh store per run;",
        "runs alternate with and without the dashboard. The floor is 10 round trips x 300 ms = 3.0 s.",
        "",
        "| run | rounds | wall s median | wall s min | engine s median | engine s min |",
        "|---|---|---|---|---|---|",
    ]
    for name, xs in rows:
        lines.append(
            f"| {name} | {len(xs)} | {med(xs, 0):.3f} | {low(xs, 0):.3f} | {med(xs, 1):.3f} | {low(xs, 1):.3f} |"
        )
    ratio_wall = med(dash, 0) / med(plain, 0)
    ratio_engine = med(dash, 1) / med(plain, 1)
    lines += [
        "",
        f"Ratio of medians, dashboard / plain: wall **{ratio_wall:.3f}**, engine **{ratio_engine:.3f}** "
        f"(the budget is 1.05).",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    with open(args.out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
