#!/usr/bin/env python3
"""Planning at scale (issue 10, item 6): `plan`, a rerun and `check` on 20-year stores.

Runs the release binary against `backfill sim` on loopback (no latency) and records wall time and
peak memory (max RSS, from /usr/bin/time) of:

  1. `plan` for 5,000 tickers x 5,040 sessions (20 years) on an empty store      (target <= 1 s)
  2. the same `plan` on the full store (after a run filled it)                    (target <= 2 s)
  3. a rerun (`backfill` itself) on a complete store of 2,000 tickers x 20 years  (target <= 2 s, 0 requests)
  4. `check` on that store                                                       (target <= 3 s)

The fills themselves are timed too, but are not targets. Every command is run `--repeat` times and
the median wall is reported (with the peak RSS of that run); each command's answer is checked
(the plan asks for every session on the empty store and for nothing on the full one, the rerun
sends no chart request, `check` finds every session stored and nothing missing).

Usage:  python3 bench/bench_plan.py [--out bench/plan.md] [--tickers 5000] [--rerun-tickers 2000]
Numbers from one run on one machine: compare ratios, not absolutes.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

from benchlib import ROOT, Sim, build, measured, write_report

DAYS = 5040


def timed(cmd):
    """Runs `cmd` under /usr/bin/time; returns (wall s, CPU s, peak RSS MiB, exit code, stdout)."""
    p = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", *cmd], capture_output=True, text=True)
    wall, user, system, rss_kb = p.stderr.strip().splitlines()[-1].split()
    return float(wall), float(user) + float(system), int(rss_kb) / 1024, p.returncode, p.stdout


def median_run(cmd, repeat, check):
    runs = []
    for _ in range(repeat):
        wall, cpu, rss, code, out = timed(cmd)
        check(code, out)
        runs.append((wall, cpu, rss))
    runs.sort()
    return runs[len(runs) // 2], [w for w, _, _ in runs]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "plan.md"))
    ap.add_argument("--tickers", type=int, default=5000)
    ap.add_argument("--rerun-tickers", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    binary = build()
    big = [f"T{i:05d}" for i in range(args.tickers)]
    small = big[: args.rerun_tickers]
    tmp = tempfile.mkdtemp(prefix="backfill-bench-plan-")
    sim = Sim(binary, "--latency-ms", "0")
    rows = []

    def row(name, target, run, walls, note=""):
        rows.append((name, target, run, walls, note))
        print(rows[-1], file=sys.stderr)

    try:
        common = ["--days", str(DAYS), "--yahoo-url", sim.url, "-q"]
        store_big = os.path.join(tmp, "big")
        os.makedirs(store_big)

        def plan_cmd(store, tickers):
            return [binary, "plan", "--store", store, "--tickers", ",".join(tickers), "--json", *common]

        def plan_check(want_requests):
            def check(code, out):
                doc = json.loads(out)
                assert code == 0, code
                assert doc["totals"]["tickers"] == len(big), doc["totals"]
                assert doc["totals"]["requests"] == want_requests, doc["totals"]
                if want_requests:
                    assert all(t["missing"] == t["sessions"] == DAYS for t in doc["tickers"])
            return check

        run, walls = median_run(plan_cmd(store_big, big), args.repeat, plan_check(len(big)))
        row(f"`plan`, {len(big)} tickers x {DAYS} sessions, empty store", "1 s", run, walls,
            "every session missing, one request per ticker")

        fill = [binary, "--store", store_big, "--tickers", ",".join(big), "--workers", "64", "--rate", "0", "--json", *common]
        wall, cpu, rss, code, out = timed(fill)
        rep = json.loads(out)
        assert code == 0 and rep["totals"]["saved"] == len(big), (code, rep["totals"])
        row(f"fill: run, {len(big)} tickers x {DAYS} sessions", "-", (wall, cpu, rss), [wall],
            f"{rep['totals']['rows']:,} bars (the simulator lists some tickers later than 20 years ago)")

        run, walls = median_run(plan_cmd(store_big, big), args.repeat, plan_check(0))
        row(f"`plan`, {len(big)} tickers x {DAYS} sessions, full store", "2 s", run, walls, "0 requests")

        # A complete store of the smaller portfolio: a copy of the big one holds more series than
        # asked for, so fill its own.
        store_small = os.path.join(tmp, "small")
        fill_small = [binary, "--store", store_small, "--tickers", ",".join(small), "--workers", "64", "--rate", "0", "--json", *common]
        wall, cpu, rss, code, out = timed(fill_small)
        rep = json.loads(out)
        assert code == 0 and rep["totals"]["saved"] == len(small), (code, rep["totals"])
        row(f"fill: run, {len(small)} tickers x {DAYS} sessions", "-", (wall, cpu, rss), [wall],
            f"{rep['totals']['rows']:,} bars")

        before = sim.chart_requests()

        def rerun_check(code, out):
            rep = json.loads(out)
            assert code == 0 and rep["totals"]["requests"] == 0, (code, rep["totals"])

        rerun = [binary, "--store", store_small, "--tickers", ",".join(small), "--json", *common]
        run, walls = median_run(rerun, args.repeat, rerun_check)
        sent = sim.chart_requests() - before
        assert sent == 0, sent
        row(f"rerun, complete store of {len(small)} tickers x {DAYS} sessions", "2 s", run, walls,
            "0 chart requests at the simulator")

        def check_check(code, out):
            doc = json.loads(out)
            assert code == 0, code
            assert len(doc["tickers"]) == len(small), len(doc["tickers"])
            for t in doc["tickers"]:
                assert t["missing"] == 0 and t["stored"] + t["no_data"] == t["sessions"] > 0, t

        check = [binary, "check", "--store", store_small, "--json", "-q"]
        run, walls = median_run(check, args.repeat, check_check)
        row(f"`check`, complete store of {len(small)} tickers x {DAYS} sessions", "3 s", run, walls,
            "no session missing")
    finally:
        sim.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    load = os.getloadavg()[0]
    lines = [
        "# Planning at scale",
        "",
        measured(),
        f"(load average {load:.1f} at the end) with `python3 bench/bench_plan.py` (release build, simulator on loopback",
        f"with no latency, daily bars, the {DAYS} sessions up to the latest closed one). Wall is the median of {args.repeat} runs of the",
        "whole command (process start to exit, JSON output included); CPU is that run's user + system time and peak",
        "RSS its max resident set size, both from `/usr/bin/time`. Other work shares this machine: when the load",
        "average is above 2, wall time includes waiting for a core, and CPU time is the steadier figure.",
        "",
        "| command | target | wall s (median) | all runs s | CPU s | peak RSS MiB | checked |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, target, (wall, cpu, rss), walls, note in rows:
        lines.append(
            f"| {name} | {target} | {wall:.2f} | {' / '.join(f'{w:.2f}' for w in walls)} | {cpu:.2f} | {rss:.1f} | {note} |"
        )
    write_report(args.out, lines)


if __name__ == "__main__":
    main()
