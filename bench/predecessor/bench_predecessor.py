#!/usr/bin/env python3
"""Side by side with the predecessor's design (issue 10, item 8), in one run.

Starts one `backfill sim` with 150 ms latency and runs, against it, the same 40 tickers
(the example portfolio, 252 daily sessions ending 2024-06-28) with:

  - `backfill` (release build), `--workers 8` and `--workers 64`, no rate limit;
  - the predecessor's design (`backfill_historical_data.py` beside this file: Dask delayed tasks on
    the threads scheduler, one `requests` call per gap, a pandas/pyarrow upsert), 8 and 64 threads;

each into a fresh store, then once more on the store it filled (the nightly rerun). For every run
it records the process's wall time and peak RSS (`/usr/bin/time`), the requests the simulator
received, and the rows stored. The 40-ticker run with `--workers 64` is one round trip: its floor
is 0.15 s, and the run's own `elapsed_secs` is checked against it (target: within 0.1 s).

Usage:  python3 bench/predecessor/bench_predecessor.py [--out bench/predecessor.md]
Needs `pip install -r bench/predecessor/requirements.txt`.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from benchlib import ROOT, Sim, build, example_portfolio, measured, write_report  # noqa: E402

END = "2024-06-28"


def timed(cmd):
    p = subprocess.run(["/usr/bin/time", "-f", "%e %M", *cmd], capture_output=True, text=True)
    wall, rss_kb = p.stderr.strip().splitlines()[-1].split()
    return float(wall), int(rss_kb) / 1024, p.returncode, p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "predecessor.md"))
    args = ap.parse_args()
    binary = build()
    tickers = example_portfolio()
    assert len(tickers) == 40
    tmp = tempfile.mkdtemp(prefix="backfill-bench-predecessor-")
    sim = Sim(binary, "--latency-ms", "150")
    url = sim.url
    rows = []
    floor_check = None
    try:
        def one(tool, workers, store, again):
            before = sim.stats()
            if tool == "backfill":
                cmd = [binary, "--store", store, "--yahoo-url", url, "--tickers", ",".join(tickers), "--days", "252",
                       "--end", END, "--workers", str(workers), "--rate", "0", "--json", "-q"]
            else:
                cmd = [sys.executable, os.path.join(HERE, "backfill_historical_data.py"), "--base-url", url,
                       "--db", store, "--tickers", ",".join(tickers), "--days", "252", "--end", END,
                       "--workers", str(workers)]
            wall, rss, code, out = timed(cmd)
            after = sim.stats()
            doc = json.loads(out)
            if tool == "backfill":
                own, stored, failed = doc["totals"]["elapsed_secs"], doc["totals"]["rows"], doc["totals"]["failed"]
            else:
                own, stored, failed = doc["elapsed_s"], doc["records"], doc["failed"]
            row = {
                "tool": tool, "workers": workers, "run": "rerun" if again else "first", "exit": code,
                "wall": wall, "own": own, "chart": after["chart_requests"] - before["chart_requests"],
                "all": after["requests_total"] - before["requests_total"], "rows": stored, "failed": failed,
                "rss": rss,
            }
            print(row, file=sys.stderr)
            rows.append(row)
            return row

        for tool in ["backfill", "predecessor"]:
            for workers in [8, 64]:
                store = os.path.join(tmp, f"{tool}-{workers}")
                first = one(tool, workers, store, False)
                if tool == "backfill" and workers == 64:
                    floor_check = first["own"]
                one(tool, workers, store, True)
    finally:
        sim.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    lines = [
        "# backfill and the predecessor's design, side by side",
        "",
        measured(),
        f"(load average {os.getloadavg()[0]:.1f} at the end) with `python3 bench/predecessor/bench_predecessor.py`: one",
        "simulator with 150 ms latency, the 40 tickers of the example portfolio, 252 daily sessions ending",
        f"{END}, a fresh store per tool and worker count, then the same command again on the store it filled.",
        "The predecessor is `bench/predecessor/backfill_historical_data.py`, a port of its design (Dask delayed",
        "tasks on the threads scheduler, one `requests` call per gap, pandas/pyarrow upsert); it is a bench tool.",
        "Wall and peak RSS are the whole process's (`/usr/bin/time`: Python's interpreter and imports count, as",
        "they did for its users); \"own\" is the time each tool reports for its work.",
        "",
        "| tool | workers | run | exit | wall s | own s | chart requests | all requests | rows stored | failed | peak RSS MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['tool']} | {r['workers']} | {r['run']} | {r['exit']} | {r['wall']:.2f} | {r['own']:.2f} | "
            f"{r['chart']} | {r['all']} | {r['rows']} | {r['failed']} | {r['rss']:.1f} |"
        )
    lines += [
        "",
        f"40 tickers, 150 ms, `--workers 64`: `backfill` reports {floor_check:.3f} s against a 0.15 s floor "
        f"(one round trip); {'within' if floor_check - 0.15 <= 0.1 else 'NOT within'} 0.1 s of it.",
    ]
    write_report(args.out, lines)


if __name__ == "__main__":
    main()
