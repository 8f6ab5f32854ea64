#!/usr/bin/env python3
"""A faithful port of the predecessor's design, for side-by-side benchmarks only (not product).

The predecessor (`backfill_historical_data.py`, described in the seed's `dask-backfill.md`) made one
Dask delayed task per ticker and ran them all with `dask.compute(..., scheduler="threads",
num_workers=N)`. Each task:

  1. detected its gaps on its own: read the ticker's stored rows from a ParquetDB store and listed
     the weekdays of the window that had no row (it knew no exchange calendar: a holiday is a gap);
  2. fetched each gap yfinance-style: one `requests` call per gap to Yahoo's chart API
     (`/v8/finance/chart/{ticker}?period1=&period2=&interval=1d&events=div|split`), after a cookie
     and crumb fetched once per process, and parsed the JSON into a pandas DataFrame;
  3. upserted the rows: read the stored table, concatenated, dropped duplicates by (ticker, date)
     keeping the new row, and wrote the table back with pyarrow.

No rate limiting, no retries ("skip on rate limit errors"), no coverage ledger: a holiday or a
ticker with no data is asked for again on every run. This file keeps those properties on purpose;
it exists to measure the design, pointed at the simulator (`--base-url`).

Usage: python3 backfill_historical_data.py --base-url URL --db DIR --tickers A,B --days 252
           --end 2024-06-28 --workers 8
Prints one JSON line: {"tickers", "saved", "failed", "records", "requests", "elapsed_s"}.
"""

import argparse
import datetime as dt
import json
import os
import threading
import time

import dask
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import requests
from dask import delayed


class YahooFetcher:
    """yfinance-style access: one shared session, cookie and crumb fetched once, then one chart
    request per call."""

    def __init__(self, base_url):
        self.base = base_url.rstrip("/")
        self.session = requests.Session()
        self.crumb = None
        self.lock = threading.Lock()
        self.requests = 0

    def _count(self):
        with self.lock:
            self.requests += 1

    def _ensure_crumb(self):
        with self.lock:
            if self.crumb is not None:
                return
            self.session.get(self.base + "/", timeout=30)
            r = self.session.get(self.base + "/v1/test/getcrumb", timeout=30)
            self.crumb = r.text
            self.requests += 2

    def fetch_historical(self, ticker, start, end):
        """Daily bars of `ticker` from `start` to `end` (dates, end inclusive) as a DataFrame."""
        self._ensure_crumb()
        p1 = int(dt.datetime.combine(start, dt.time(), dt.timezone.utc).timestamp())
        p2 = int(dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.timezone.utc).timestamp())
        r = self.session.get(
            f"{self.base}/v8/finance/chart/{ticker}",
            params={"period1": p1, "period2": p2, "interval": "1d", "events": "div|split", "crumb": self.crumb},
            timeout=30,
        )
        self._count()
        if r.status_code != 200:
            # yfinance turned most errors into "possibly delisted" and an empty frame.
            raise RuntimeError(f"{ticker}: HTTP {r.status_code}: possibly delisted")
        result = r.json()["chart"]["result"][0]
        stamps = result.get("timestamp") or []
        if not stamps:
            return pd.DataFrame()
        quote = result["indicators"]["quote"][0]
        adj = (result["indicators"].get("adjclose") or [{}])[0].get("adjclose")
        tz = result["meta"].get("exchangeTimezoneName") or "UTC"
        df = pd.DataFrame(
            {
                "Open": quote["open"],
                "High": quote["high"],
                "Low": quote["low"],
                "Close": quote["close"],
                "Adj Close": adj if adj is not None else quote["close"],
                "Volume": quote["volume"],
            },
            index=pd.to_datetime(stamps, unit="s", utc=True).tz_convert(tz),
        )
        return df.dropna(subset=["Close"])


class ParquetDB:
    """A ParquetDB-like store: one Parquet dataset directory, one file per ticker, read through a
    dataset filter and upserted by rewriting the file."""

    SCHEMA = pa.schema(
        [
            ("ticker", pa.string()),
            ("date", pa.date32()),
            ("open", pa.float64()),
            ("high", pa.float64()),
            ("low", pa.float64()),
            ("close", pa.float64()),
            ("adj_close", pa.float64()),
            ("volume", pa.int64()),
        ]
    )

    def __init__(self, root):
        self.root = os.path.join(root, "prices")
        os.makedirs(self.root, exist_ok=True)

    def _path(self, ticker):
        return os.path.join(self.root, f"{ticker}.parquet")

    def read(self, ticker):
        if not os.path.exists(self._path(ticker)):
            return pd.DataFrame(columns=self.SCHEMA.names)
        dataset = ds.dataset(self.root, format="parquet", schema=self.SCHEMA)
        return dataset.to_table(filter=ds.field("ticker") == ticker).to_pandas()

    def upsert_prices(self, ticker, frame):
        new = pd.DataFrame(
            {
                "ticker": ticker,
                "date": frame.index.date,
                "open": frame["Open"].to_numpy(),
                "high": frame["High"].to_numpy(),
                "low": frame["Low"].to_numpy(),
                "close": frame["Close"].to_numpy(),
                "adj_close": frame["Adj Close"].to_numpy(),
                "volume": frame["Volume"].fillna(0).astype("int64").to_numpy(),
            }
        )
        old = self.read(ticker)
        merged = pd.concat([old, new], ignore_index=True) if len(old) else new
        merged = merged.drop_duplicates(subset=["ticker", "date"], keep="last").sort_values("date")
        table = pa.Table.from_pandas(merged, schema=self.SCHEMA, preserve_index=False)
        tmp = self._path(ticker) + ".tmp"
        pq.write_table(table, tmp)
        os.replace(tmp, self._path(ticker))
        return len(new)


def get_data_gaps(db, ticker, start, end):
    """Runs of weekdays from `start` to `end` with no stored row, as (first, last) date pairs."""
    have = set(db.read(ticker)["date"])
    gaps, run = [], None
    for day in pd.bdate_range(start, end).date:
        if day in have:
            if run:
                gaps.append(run)
                run = None
        elif run:
            run = (run[0], day)
        else:
            run = (day, day)
    if run:
        gaps.append(run)
    return gaps


@delayed
def fetch_and_save_ticker(db, fetcher, ticker, start, end, auto_gaps):
    """One delayed task: detect this ticker's gaps, fetch each, upsert."""
    try:
        gaps = get_data_gaps(db, ticker, start, end) if auto_gaps else [(start, end)]
        records = 0
        for gap_start, gap_end in gaps:
            frame = fetcher.fetch_historical(ticker, gap_start, gap_end)
            if len(frame):
                records += db.upsert_prices(ticker, frame)
        return {"ticker": ticker, "status": "saved" if records else "complete", "records": records}
    except Exception as e:  # the predecessor reported and went on
        return {"ticker": ticker, "status": "failed", "error": str(e), "records": 0}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--tickers", required=True)
    ap.add_argument("--days", type=int, default=252)
    ap.add_argument("--end", default=None, help="last date (default: today)")
    ap.add_argument("--workers", type=int, default=None, help="Dask threads (default: CPU count)")
    ap.add_argument("--no-gaps", action="store_true")
    args = ap.parse_args()
    end = dt.date.fromisoformat(args.end) if args.end else dt.date.today()
    start = (pd.Timestamp(end) - pd.offsets.BDay(args.days - 1)).date()
    tickers = [t for t in args.tickers.split(",") if t]
    db = ParquetDB(args.db)
    fetcher = YahooFetcher(args.base_url)
    t0 = time.perf_counter()
    tasks = [fetch_and_save_ticker(db, fetcher, t, start, end, not args.no_gaps) for t in tickers]
    results = dask.compute(*tasks, scheduler="threads", num_workers=args.workers)
    elapsed = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "tickers": len(tickers),
                "saved": sum(r["status"] == "saved" for r in results),
                "failed": sum(r["status"] == "failed" for r in results),
                "records": sum(r["records"] for r in results),
                "requests": fetcher.requests,
                "elapsed_s": elapsed,
                "errors": [r["error"] for r in results if r["status"] == "failed"][:5],
            }
        )
    )


if __name__ == "__main__":
    main()
