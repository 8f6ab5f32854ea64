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
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
END = "2024-06-28"


def example_portfolio():
    text = open(os.path.join(ROOT, "backfill.example.toml")).read()
    start = text.index("tickers = [")
    body = text[start : text.index("]", start)]
    return [t for i, t in enumerate(body.split('"')) if i % 2 == 1]


def build():
    subprocess.run(["cargo", "build", "--release", "-p", "backfill", "--quiet"], cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    return os.path.join(target, "release", "backfill")


def stats(url):
    with urllib.request.urlopen(url + "/_stats") as r:
        return json.load(r)


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
    sim = subprocess.Popen([binary, "sim", "--port", "0", "--latency-ms", "150"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
    url = sim.stdout.readline().strip()
    rows = []
    floor_check = None
    try:
        def one(tool, workers, store, again):
            before = stats(url)
            if tool == "backfill":
                cmd = [binary, "--store", store, "--yahoo-url", url, "--tickers", ",".join(tickers), "--days", "252",
                       "--end", END, "--workers", str(workers), "--rate", "0", "--json", "-q"]
            else:
                cmd = [sys.executable, os.path.join(HERE, "backfill_historical_data.py"), "--base-url", url,
                       "--db", store, "--tickers", ",".join(tickers), "--days", "252", "--end", END,
                       "--workers", str(workers)]
            wall, rss, code, out = timed(cmd)
            after = stats(url)
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
        sim.terminate()
        sim.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    lines = [
        "# backfill and the predecessor's design, side by side",
        "",
        f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC} at commit `{commit}` on this 2-core machine",
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
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(open(args.out).read())


if __name__ == "__main__":
    main()
