"""Baseline for crates/store/examples/bench_store.rs: a plain per-symbol pyarrow writer.

Phase 1 writes SYMBOLS files of DAYS daily bars each (same schema and zstd as the store; temp
file, fsync, rename, directory fsync). Phase 2 appends one day to every symbol (read the file,
concatenate, write the same way). Single process, single thread: what a simple script does.

    python3 bench/pyarrow_baseline.py --symbols 2000 --days 5000 <empty dir>
"""

import argparse
import os
import pathlib
import resource
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

EPOCH_1990_US = 631_152_000 * 1_000_000
DAY_US = 86_400 * 1_000_000
EPOCH_1990_DAYS = 7305


def table(sym: str, s: int, days: np.ndarray) -> pa.Table:
    n = len(days)
    rng = np.random.default_rng(s)
    base = 10.0 + (s % 500) + days * 0.01
    noise = rng.random(n)
    return pa.table(
        {
            "symbol": pa.array([sym] * n, pa.string()),
            "interval": pa.array(["1d"] * n, pa.string()),
            "ts": pa.array(EPOCH_1990_US + days * DAY_US, pa.timestamp("us", tz="UTC")),
            "date": pa.array((EPOCH_1990_DAYS + days).astype(np.int32), pa.date32()),
            "open": base + noise,
            "high": base + 1.0 + noise,
            "low": base - 1.0 + noise,
            "close": base + noise / 2,
            "adj_close": (base + noise / 2) * 0.97,
            "volume": rng.integers(0, 10_000_000, n, dtype=np.int64),
        }
    )


def commit(t: pa.Table, path: pathlib.Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        pq.write_table(t, f, compression="zstd")
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--symbols", type=int, default=2000)
    ap.add_argument("--days", type=int, default=5000)
    ap.add_argument("dir")
    a = ap.parse_args()
    root = pathlib.Path(a.dir)
    if root.exists() and any(root.iterdir()):
        raise SystemExit(f"{root} is not empty")
    path = lambda s: root / "bars" / "interval=1d" / f"symbol=SYM{s:05}.X" / "all.parquet"

    t0 = time.perf_counter()
    days = np.arange(a.days, dtype=np.int64)
    for s in range(a.symbols):
        commit(table(f"SYM{s:05}.X", s, days), path(s))
    dt1 = time.perf_counter() - t0
    peak1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows1 = a.symbols * a.days
    print(f"phase 1 (full history): {rows1} rows in {dt1:.2f} s = {rows1 / dt1:.0f} rows/s, "
          f"{a.symbols} files written, peak RSS {peak1:.1f} MiB")

    t0 = time.perf_counter()
    new = np.array([a.days], dtype=np.int64)
    for s in range(a.symbols):
        old = pq.read_table(path(s))
        commit(pa.concat_tables([old, table(f"SYM{s:05}.X", s, new)]), path(s))
    dt2 = time.perf_counter() - t0
    peak2 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"phase 2 (one new day): {a.symbols} rows in {dt2:.2f} s = {a.symbols / dt2:.0f} rows/s "
          f"({a.symbols / dt2:.0f} symbols/s), {a.symbols} files written, peak RSS {peak2:.1f} MiB (cumulative)")


if __name__ == "__main__":
    main()
