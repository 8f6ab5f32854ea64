#!/usr/bin/env python3
"""The limiter against strict servers (issue 10, items 1 and 2), on the wall clock.

Runs the release binary against `backfill sim --rate R` (GCRA with no burst: requests closer than
1/R apart are refused with 429) on loopback, 60 tickers x 30 daily sessions each (one chart request
per ticker), and records for every scenario:

  - wall: the run's own elapsed time (`totals.elapsed_secs` of `--json`), and the floor, the least
    time the server allows (one chart request per ticker at R per second: tickers / R);
  - 429 share: throttled chart answers over all chart answers, from the server's log;
  - requests inside a `Retry-After`: answers that arrived after a 429 asked for a pause and
    before it ended (beyond 50 ms, the time a request already on its way may take to arrive);
  - store exact: every ticker saved once, the rows stored are the rows the server served in its
    successful answers, and `backfill check --strict` over the 30 sessions finds nothing missing.

Scenarios: `--rate 50` (ten times too high) against 5 and 20 req/s, with `Retry-After: 1` and with
no `Retry-After` (the cool-downs are then ours); `--rate auto` against 2, 5 and 20 req/s with
`Retry-After: 1`; `--rate 200` (ten times too high) and `--rate 20` (the right guess, which pays only
the ramp) against 20 req/s; and the issue's own 20 req/s case, 120 tickers with `--rate 200`, next to
`--rate 50` and `--rate auto` on the same 120 tickers (a 6 s floor).

Usage:  python3 bench/bench_limiter.py [--out bench/limiter.md] [--repeat 1]
Numbers from one run on one shared machine: compare ratios, not absolutes.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

from benchlib import ROOT, Sim, build, measured, write_report


def secs(d):
    return d["secs"] + d["nanos"] / 1e9 if isinstance(d, dict) else float(d)


def inside_retry_after(log, grace=0.05):
    """Answers that arrived inside a pause a 429 asked for (after `grace`)."""
    n = 0
    for i, e in enumerate(log):
        if e.get("status") != 429 or not e.get("retry_after"):
            continue
        at = secs(e["at"])
        until = at + e["retry_after"]
        for later in log[i + 1 :]:
            t = secs(later["at"])
            if t >= until:
                break
            if t > at + grace:
                n += 1
    return n


def scenario(binary, tmp, name, server_rate, retry_after, rate_flag, count=60):
    tickers = [f"RL{i:03d}" for i in range(count)]
    sim_args = ["--rate", str(server_rate), "--latency-ms", "0"]
    if retry_after is not None:
        sim_args += ["--retry-after", str(retry_after)]
    sim = Sim(binary, *sim_args)
    store = os.path.join(tmp, name.replace(" ", "_").replace("/", "_"))
    # Every repeat starts from an empty store: a complete one would send nothing.
    shutil.rmtree(store, ignore_errors=True)
    try:
        cmd = [
            binary, "--store", store, "--yahoo-url", sim.url, "--tickers", ",".join(tickers),
            "--days", "30", "--end", "2024-06-28", "--rate", rate_flag, "--workers", "64", "--json", "-q",
        ]
        p = subprocess.run(cmd, capture_output=True, text=True)
        rep = json.loads(p.stdout)
        log = sim.get("/_log")
        stats = sim.get("/_stats")
    finally:
        sim.stop()
    chart = [e for e in log if e["path"].startswith("/v8/finance/chart/")]
    throttled = sum(1 for e in chart if e.get("status") == 429)
    check = subprocess.run(
        [binary, "check", "--store", store, "--days", "30", "--end", "2024-06-28", "--strict", "--json", "-q"],
        capture_output=True, text=True,
    )
    tot = rep["totals"]
    exact = (
        p.returncode == 0
        and tot["saved"] == len(tickers)
        and tot["rows"] == stats["rows_served"]
        and check.returncode == 0
        and all(t["missing"] == 0 for t in json.loads(check.stdout)["tickers"])
    )
    floor = len(tickers) / server_rate
    row = {
        "scenario": name,
        "exit": p.returncode,
        "wall_s": tot["elapsed_secs"],
        "floor_s": floor,
        "ratio": tot["elapsed_secs"] / floor,
        "chart": len(chart),
        "throttled": throttled,
        "share": throttled / len(chart) if chart else 0.0,
        "inside": inside_retry_after(log),
        "retries": tot["retries"],
        "exact": exact,
    }
    print(row, file=sys.stderr)
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "limiter.md"))
    ap.add_argument("--repeat", type=int, default=1, help="runs per scenario; the median wall is kept")
    args = ap.parse_args()
    binary = build()
    tmp = tempfile.mkdtemp(prefix="backfill-bench-limiter-")
    plan = [
        ("--rate 50 vs 5/s, Retry-After: 1", 5, 1, "50"),
        ("--rate 50 vs 5/s, no Retry-After", 5, None, "50"),
        ("--rate 50 vs 20/s, Retry-After: 1", 20, 1, "50"),
        ("--rate 50 vs 20/s, no Retry-After", 20, None, "50"),
        ("--rate auto vs 2/s, Retry-After: 1", 2, 1, "auto"),
        ("--rate auto vs 5/s, Retry-After: 1", 5, 1, "auto"),
        ("--rate auto vs 20/s, Retry-After: 1", 20, 1, "auto"),
        ("--rate 200 vs 20/s, Retry-After: 1", 20, 1, "200"),
        ("--rate 20 vs 20/s (the right guess), Retry-After: 1", 20, 1, "20"),
        ("--rate 200 vs 20/s, Retry-After: 1, 120 tickers", 20, 1, "200", 120),
        ("--rate 50 vs 20/s, Retry-After: 1, 120 tickers", 20, 1, "50", 120),
        ("--rate auto vs 20/s, Retry-After: 1, 120 tickers", 20, 1, "auto", 120),
    ]
    rows = []
    try:
        for name, server, ra, flag, *count in plan:
            runs = [scenario(binary, tmp, name, server, ra, flag, *count) for _ in range(args.repeat)]
            runs.sort(key=lambda r: r["wall_s"])
            rows.append(runs[len(runs) // 2])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    lines = [
        "# The limiter against strict servers",
        "",
        measured(),
        f"(load average {os.getloadavg()[0]:.1f} at the end) with `python3 bench/bench_limiter.py` (release build,",
        "simulator on loopback with no latency and a GCRA limit with no burst, 60 tickers (120 where the",
        "scenario says so) x 30 daily sessions,",
        f"`--workers 64`; {'median of ' + str(args.repeat) + ' runs' if args.repeat > 1 else 'one run'} per scenario).",
        "Wall is the run's `elapsed_secs`; the floor is one request per ticker at the server's rate. \"Inside RA\" counts answers",
        "that arrived inside a `Retry-After` pause (more than 50 ms after the 429 that asked for it). \"Exact\": every",
        "ticker saved, rows stored = rows the server served, `check --strict` finds nothing missing.",
        "",
        "| scenario | exit | wall s | floor s | wall / floor | chart requests | 429s | 429 share | inside RA | exact |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['scenario']} | {r['exit']} | {r['wall_s']:.2f} | {r['floor_s']:.1f} | {r['ratio']:.2f} | "
            f"{r['chart']} | {r['throttled']} | {100 * r['share']:.1f} % | {r['inside']} | {'yes' if r['exact'] else 'NO'} |"
        )
    write_report(args.out, lines)


if __name__ == "__main__":
    main()
