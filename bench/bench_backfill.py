#!/usr/bin/env python3
"""Benchmarks of the `backfill` command against the simulator (issue: the backfill command).

Runs the release binary against `backfill sim` on loopback and records wall time, chart
requests and peak memory (max RSS of the backfill process, from /usr/bin/time) for:

  1. 40 tickers x 252 sessions, daily, 150 ms latency, --workers 8   (latency floor: 5 x 150 ms)
  2. the same command again on the complete store                     (must send 0 requests)
  3. the same 40 tickers under a strict 20 requests/s server limit     (floor: 39 / 20 = 1.95 s)
  4. peak memory of run 1 at --workers 1 and --workers 64
  5. 5,000 tickers at 1 ms latency

Usage:  python3 bench/bench_backfill.py [--out bench/backfill.md] [--quick]
Results are written as a Markdown table; numbers from one run on one machine, so compare ratios.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from benchlib import ROOT, Sim, build, example_portfolio, measured, write_report


def run(binary, sim, store, tickers, *extra):
    """Runs one backfill; returns (wall seconds, peak RSS MiB, exit code, chart requests, report)."""
    sim.reset()
    cmd = [
        "/usr/bin/time", "-f", "%e %M", binary, "--store", store, "--yahoo-url", sim.url,
        "--tickers", ",".join(tickers), "--json", "-q", "--end", "2024-06-28", *extra,
    ]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    last = p.stderr.strip().splitlines()[-1]
    _, rss_kb = last.split()
    report = json.loads(p.stdout) if p.stdout.strip() else {}
    return wall, int(rss_kb) / 1024, p.returncode, sim.stats()["chart_requests"], report


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "backfill.md"))
    ap.add_argument("--quick", action="store_true", help="500 tickers instead of 5,000 in the last scenario")
    args = ap.parse_args()
    binary = build()
    tickers = example_portfolio()
    assert len(tickers) == 40
    rows = []
    tmp = tempfile.mkdtemp(prefix="backfill-bench-")
    try:
        def scenario(name, sim_args, n_tickers, extra, store_name, floor=None, fresh=True):
            store = os.path.join(tmp, store_name)
            if fresh:
                shutil.rmtree(store, ignore_errors=True)
            sim = Sim(binary, *sim_args)
            try:
                t = tickers if n_tickers == 40 else [f"T{i:05d}" for i in range(n_tickers)]
                wall, rss, code, reqs, rep = run(binary, sim, store, t, *extra)
            finally:
                sim.stop()
            tot = rep.get("totals", {})
            rows.append({
                "scenario": name, "exit": code, "wall_s": round(wall, 3), "floor_s": floor,
                "chart_requests": reqs, "rows": tot.get("rows"), "retries": tot.get("retries"),
                "failed": (tot.get("failed", 0) or 0) + (tot.get("not_found", 0) or 0),
                "peak_rss_mib": round(rss, 1),
            })
            print(rows[-1], file=sys.stderr)

        lat = ["--latency-ms", "150"]
        scenario("40 tickers x 252 sessions, 150 ms, --workers 8", lat, 40,
                 ["--days", "252", "--workers", "8", "--rate", "0"], "a", floor=0.75)
        scenario("same command again (complete store)", lat, 40,
                 ["--days", "252", "--workers", "8", "--rate", "0"], "a", fresh=False)
        scenario("40 tickers, server limit 20 req/s (no burst), --rate 20", lat + ["--rate", "20"], 40,
                 ["--days", "252", "--workers", "8", "--rate", "20"], "b", floor=1.95)
        scenario("40 tickers, 150 ms, --workers 1", lat, 40,
                 ["--days", "252", "--workers", "1", "--rate", "0"], "c", floor=6.0)
        scenario("40 tickers, 150 ms, --workers 64", lat, 40,
                 ["--days", "252", "--workers", "64", "--rate", "0"], "d", floor=0.15)
        n = 500 if args.quick else 5000
        scenario(f"{n} tickers x 252 sessions, 1 ms, --workers 64", ["--latency-ms", "1"], n,
                 ["--days", "252", "--workers", "64", "--rate", "0"], "e")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    lines = [
        "# backfill command benchmarks",
        "",
        measured(),
        "with `python3 bench/bench_backfill.py` (release build, simulator on loopback, daily bars, window ending 2024-06-28).",
        "Peak RSS is the backfill process's max resident set size from `/usr/bin/time`. The floor is the least time the",
        "latency and limits allow (round trips x latency, or requests / rate).",
        "",
        "| scenario | exit | wall s | floor s | chart requests | rows | retries | failed | peak RSS MiB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['scenario']} | {r['exit']} | {r['wall_s']} | {r['floor_s'] if r['floor_s'] is not None else '-'} | "
            f"{r['chart_requests']} | {r['rows']} | {r['retries']} | {r['failed']} | {r['peak_rss_mib']} |"
        )
    write_report(args.out, lines)


if __name__ == "__main__":
    main()
