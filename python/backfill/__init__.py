"""backfill: historical market data (OHLCV bars, dividends, splits) from rate-limited web APIs
into a Parquet store, fetching only what is missing.

- :func:`run` backfills tickers and returns the report ``backfill run --json`` prints.
- :func:`plan` returns what a run would fetch (``backfill plan --json``), sending nothing.
- :func:`read` returns a store's bars as a ``pyarrow.Table``.
- :mod:`backfill.dask` spreads a run over a Dask distributed cluster.

Every option means what the command-line flag of the same name means (``backfill run --help``),
including the config file (``config``, default ``backfill.toml`` in the current directory) and the
``BACKFILL_*`` environment variables. Bad input raises ``ValueError`` with the command line's
message; other failures raise :class:`BackfillError`, whose message names the file, ticker or
location. Tickers that fail during a run do not raise: they are in the report with their status
and error, as in the command's ``--json`` (check ``report["totals"]["failed"]``).
"""

from __future__ import annotations

import datetime as _dt
import json as _json
import os as _os
import warnings as _warnings
from collections.abc import Iterable
from typing import Any, Union

from . import _native
from ._native import BackfillError

__all__ = ["BackfillError", "plan", "read", "run", "shard_of"]

DateLike = Union[_dt.date, str, None]
Tickers = Union[str, Iterable[str]]


def _date(name: str, value: DateLike) -> str | None:
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        raise ValueError(f"`{name}={value!r}` is a datetime\n\nhint: give a `datetime.date` or `YYYY-MM-DD`")
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    raise ValueError(f"`{name}={value!r}` is not a date\n\nhint: give a `datetime.date` or `YYYY-MM-DD`")


def _tickers(tickers: Tickers) -> list[str]:
    if isinstance(tickers, str):
        return [t for t in tickers.split(",")]
    try:
        out = list(tickers)
    except TypeError:
        raise ValueError(
            f"`tickers={tickers!r}` is not a list of tickers\n\nhint: give a list such as `[\"MSFT\", \"AIR.PA\"]`"
        ) from None
    for t in out:
        if not isinstance(t, str):
            raise ValueError(f"`{t!r}` in `tickers` is not a ticker\n\nhint: give symbols as strings, e.g. `\"MSFT\"`")
    return out


def _number(name: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"`{name}={value!r}` is not a number")
    return str(value)


def _flags(
    tickers: Tickers,
    *,
    store: str | _os.PathLike[str],
    days: int | None = None,
    start: DateLike = None,
    end: DateLike = None,
    interval: str = "1d",
    rate: float | str | None = None,
    workers: int | None = None,
    retries: int | None = None,
    no_gaps: bool = False,
    yahoo_url: str | None = None,
    config: str | _os.PathLike[str] | None = None,
    shard: str | None = None,
    now: str | None = None,
) -> list[str]:
    """The command-line flags for these options (values are checked by the Rust code)."""
    if store is None:
        raise ValueError("`store` is required: a directory or an `s3://…`, `gs://…` or `az://…` URL")
    flags = ["--tickers", ",".join(t.strip() for t in _tickers(tickers)), "--store", _os.fspath(store)]
    if not isinstance(interval, str):
        raise ValueError(f"`interval={interval!r}` is not an interval\n\nhint: give one of 1m 2m 5m 15m 30m 60m/1h 90m 1d 1wk 1mo")
    flags += ["--interval", interval]
    for name, value in (("days", days), ("workers", workers), ("retries", retries)):
        if value is not None:
            flags += [f"--{name}", _number(name, value)]
    if rate is not None:
        flags += ["--rate", _number("rate", value=rate)]
    for name, value in (("start", start), ("end", end)):
        text = _date(name, value)
        if text is not None:
            flags += [f"--{name}", text]
    if no_gaps:
        flags.append("--no-gaps")
    if yahoo_url is not None:
        flags += ["--yahoo-url", str(yahoo_url)]
    if config is not None:
        flags += ["--config", _os.fspath(config)]
    if shard is not None:
        flags += ["--shard", str(shard)]
    if now is not None:
        flags += ["--now", now if isinstance(now, str) else now.isoformat()]
    return flags


def _warn(messages: list[str]) -> None:
    for m in messages:
        _warnings.warn(m, stacklevel=3)


def run(
    tickers: Tickers,
    *,
    store: str | _os.PathLike[str],
    days: int | None = None,
    start: DateLike = None,
    end: DateLike = None,
    interval: str = "1d",
    rate: float | str | None = None,
    workers: int | None = None,
    retries: int | None = None,
    no_gaps: bool = False,
    yahoo_url: str | None = None,
    config: str | _os.PathLike[str] | None = None,
    shard: str | None = None,
    now: str | None = None,
) -> dict[str, Any]:
    """Backfill ``tickers`` into ``store`` and return the report ``backfill run --json`` prints.

    Runs the same code as the command with the same flags (``shard="i/n"`` is ``--shard``;
    ``now`` is the hidden ``--now``, for reproducible runs against a simulator). The GIL is
    released while it runs. Ctrl-C stops it like the command's: no new request is sent,
    in-flight commits finish, then ``KeyboardInterrupt`` is raised; a rerun fetches only what is
    missing.
    """
    flags = _flags(
        tickers, store=store, days=days, start=start, end=end, interval=interval, rate=rate,
        workers=workers, retries=retries, no_gaps=no_gaps, yahoo_url=yahoo_url, config=config,
        shard=shard, now=now,
    )
    document, warnings = _native.run(flags)
    _warn(warnings)
    return _json.loads(document)


def plan(
    tickers: Tickers,
    *,
    store: str | _os.PathLike[str],
    days: int | None = None,
    start: DateLike = None,
    end: DateLike = None,
    interval: str = "1d",
    rate: float | str | None = None,
    workers: int | None = None,
    retries: int | None = None,
    no_gaps: bool = False,
    yahoo_url: str | None = None,
    config: str | _os.PathLike[str] | None = None,
    shard: str | None = None,
    now: str | None = None,
) -> dict[str, Any]:
    """What :func:`run` with the same options would fetch: the document ``backfill plan --json``
    prints. Sends no request and writes nothing (a store that does not exist yet is empty)."""
    flags = _flags(
        tickers, store=store, days=days, start=start, end=end, interval=interval, rate=rate,
        workers=workers, retries=retries, no_gaps=no_gaps, yahoo_url=yahoo_url, config=config,
        shard=shard, now=now,
    )
    document, warnings, _rate = _native.plan(flags)
    _warn(warnings)
    return _json.loads(document)


def read(
    store: str | _os.PathLike[str],
    tickers: Tickers | None = None,
    interval: str = "1d",
    start: DateLike = None,
    end: DateLike = None,
) -> "pyarrow.Table":  # noqa: F821
    """The bars of ``tickers`` (default: every ticker stored at ``interval``) whose session date
    is between ``start`` and ``end`` (inclusive, each optional), as a ``pyarrow.Table`` sorted by
    symbol then ``ts``, with the store's columns: ``symbol``, ``interval``, ``ts`` (bar start,
    UTC), ``date`` (session date in the exchange's zone), ``open``, ``high``, ``low``,
    ``close``, ``adj_close``, ``volume``.

    Reads through the store's own reader, so a commit in progress is seen whole or not at all;
    ``s3://``, ``gs://`` and ``az://`` stores take their credentials from the cloud's environment
    variables.
    """
    import pyarrow as pa

    if not isinstance(interval, str):
        raise ValueError(f"`interval={interval!r}` is not an interval")
    columns = _native.read_bars(
        _os.fspath(store),
        None if tickers is None else [t.strip() for t in _tickers(tickers)],
        interval,
        _date("start", start),
        _date("end", end),
    )
    schema = pa.schema(
        [
            ("symbol", pa.string()),
            ("interval", pa.string()),
            ("ts", pa.timestamp("us", tz="UTC")),
            ("date", pa.date32()),
            ("open", pa.float64()),
            ("high", pa.float64()),
            ("low", pa.float64()),
            ("close", pa.float64()),
            ("adj_close", pa.float64()),
            ("volume", pa.int64()),
        ]
    )
    return pa.table({name: pa.array(columns[name], type=schema.field(name).type) for name in schema.names}, schema=schema)


def shard_of(ticker: str, count: int) -> int:
    """The shard of ``count`` that ``ticker`` belongs to: ``--shard``'s stable hash (FNV-1a 64
    of the upper-cased symbol, modulo ``count``)."""
    return _native.shard_of(ticker, count)
