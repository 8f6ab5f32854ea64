"""Helpers for the Python package's tests: the simulator (started with the wheel's own `backfill`
command, the same Rust code as the binary) and ground truth read back from it."""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

REPO = pathlib.Path(__file__).resolve().parents[2]
NOW = "2024-07-01T00:00:00Z"
END = "2024-06-28"


def portfolio() -> list[str]:
    """The 40-ticker example portfolio of `backfill.example.toml`."""
    text = (REPO / "backfill.example.toml").read_text()
    block = text[text.index("tickers = [") : ]
    block = block[: block.index("]")]
    return re.findall(r'"([^"]+)"', block)


def many(n: int) -> list[str]:
    """`n` tickers: the portfolio, then made-up US symbols (the simulator serves any symbol)."""
    base = portfolio()
    return (base + [f"Q{i:03d}" for i in range(n)])[:n]


class Sim:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "backfill", "sim", "--port", "0", "--clock", NOW, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.url = self.proc.stdout.readline().strip()
        assert self.url.startswith("http://127.0.0.1:"), self.url

    def get(self, path: str) -> object:
        with urllib.request.urlopen(self.url + path, timeout=30) as r:
            return json.loads(r.read())

    def stats(self) -> dict:
        return self.get("/_stats")

    def reset(self) -> None:
        req = urllib.request.Request(self.url + "/_reset", method="POST", data=b"")
        urllib.request.urlopen(req, timeout=30).read()

    def truth(self, symbol: str, first_us: int, last_us: int) -> list[tuple]:
        """The simulator's daily bars of `symbol` from `first_us` to `last_us` (bar starts, µs):
        (ts µs, open, high, low, close, volume) per bar."""
        p1, p2 = first_us // 1_000_000, last_us // 1_000_000 + 1
        q = f"/v8/finance/chart/{urllib.request.quote(symbol)}?period1={p1}&period2={p2}&interval=1d"
        for _ in range(100):  # a simulator started with `--rate` throttles these reads too
            try:
                doc = self.get(q)["chart"]["result"][0]
                break
            except urllib.error.HTTPError as e:
                if e.code != 429:
                    raise
                time.sleep(0.2)
        quote = doc["indicators"]["quote"][0]
        return [
            (t * 1_000_000, o, h, lo, c, v)
            for t, o, h, lo, c, v in zip(
                doc["timestamp"], quote["open"], quote["high"], quote["low"], quote["close"], quote["volume"]
            )
        ]

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def assert_store_is_ground_truth(sim: Sim, table, tickers: list[str], sessions: int) -> None:
    """Every ticker holds exactly `sessions` daily bars, no duplicates, and each equals the bar the
    simulator serves for the same span."""
    rows = table.to_pylist()
    by_symbol: dict[str, list[dict]] = {}
    for r in rows:
        by_symbol.setdefault(r["symbol"], []).append(r)
    assert sorted(by_symbol) == sorted(t.upper() for t in tickers)
    for symbol, bars in by_symbol.items():
        ts = [int(b["ts"].timestamp() * 1_000_000) for b in bars]
        assert len(ts) == len(set(ts)) == sessions, (symbol, len(ts))
        truth = sim.truth(symbol, min(ts), max(ts))
        stored = [(t, b["open"], b["high"], b["low"], b["close"], b["volume"]) for t, b in zip(ts, bars)]
        assert stored == truth, symbol
