"""Spread a backfill over a Dask distributed cluster.

:func:`run` plans every ticker once on the client (gap detection for all of them, up front),
splits the tickers into batches balanced by planned requests, and submits one task per batch.
Each task runs the Rust engine on its batch against the shared store (a shared file system, or
object storage: ``s3://…``, ``gs://…``, ``az://…``). Task keys name their tickers, so Dask's
dashboard shows the progress.

The cluster as a whole sends at most ``rate`` requests per second: the client starts a small rate
service (in the native module, on a background thread) holding the engine's own rate limiter for
the whole cluster; every task takes a turn from it before each request and reports each answer,
so a 429 seen by any task pauses every task for the wait the provider asked for, and the shared
rate adapts to the provider's real limit as one process's does. A task that fails, or whose
worker dies, is run again: commits are idempotent, and the rerun plans only what its batch still
misses.
"""

from __future__ import annotations

import math
import os
import secrets
import socket
import time
from typing import Any

from . import _flags, _native, _tickers, _warn

__all__ = ["run"]

_TOTALS_SUMMED = (
    "tickers", "saved", "up_to_date", "not_found", "failed", "interrupted_tickers",
    "rows", "requests", "retries", "invalid_bars", "adjusted",
)


def _run_batch(flags: list[str], address: str | None, token: str | None) -> dict[str, Any]:
    """One task: the engine on one batch (runs on a worker)."""
    import json

    if address is None:
        document, _ = _native.run(flags)
    else:
        document, _ = _native.run_paced(flags, address, token)
    return json.loads(document)


def _balanced(weights: dict[str, float], n: int) -> list[list[str]]:
    """``n`` batches of tickers with planned work as even as possible (longest first, each to
    the lightest batch); each batch keeps the tickers' original order."""
    order = {t: i for i, t in enumerate(weights)}
    loads = [0.0] * n
    batches: list[list[str]] = [[] for _ in range(n)]
    for t in sorted(weights, key=lambda t: (-weights[t], order[t])):
        k = min(range(n), key=lambda i: (loads[i], len(batches[i]), i))
        batches[k].append(t)
        loads[k] += weights[t]
    return [sorted(b, key=order.__getitem__) for b in batches if b]


def _key(batch: list[str], run_id: str, index: int) -> str:
    shown = ",".join(batch[:3]) + (f",+{len(batch) - 3}" if len(batch) > 3 else "")
    return f"backfill-[{shown}]-{run_id}-{index}"


def _reachable_host(client: Any) -> str:
    """This machine's address as the scheduler's network sees it (loopback for a local cluster)."""
    address = client.scheduler.address  # e.g. tcp://10.0.0.5:8786
    if address.startswith("inproc://"):  # a cluster of threads in this process
        return "127.0.0.1"
    host = address.split("://", 1)[-1].rsplit(":", 1)[0].strip("[]")
    if host in ("127.0.0.1", "localhost", "::1"):
        return "127.0.0.1"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((host, 9))  # no packet is sent: this only picks the outgoing interface
        return s.getsockname()[0]


def _merge(reports: list[dict[str, Any]], order: list[str], elapsed: float) -> dict[str, Any]:
    tickers = [t for r in reports for t in r["tickers"]]
    position = {s: i for i, s in enumerate(order)}
    tickers.sort(key=lambda t: position.get(t["symbol"], len(position)))
    totals: dict[str, Any] = {k: sum(r["totals"][k] for r in reports) for k in _TOTALS_SUMMED}
    totals["tickers"] = len(tickers)
    # Tasks throttle at the same time (the pause is cluster-wide): the longest is the run's.
    totals["throttled_secs"] = min(max((r["totals"]["throttled_secs"] for r in reports), default=0.0), elapsed)
    totals["elapsed_secs"] = elapsed
    totals["interrupted"] = any(r["totals"]["interrupted"] for r in reports)
    return {"tickers": tickers, "totals": totals}


def run(
    client: Any,
    tickers: Any,
    *,
    store: str | os.PathLike[str],
    days: int | None = None,
    start: Any = None,
    end: Any = None,
    interval: str = "1d",
    rate: float | str | None = None,
    workers: int | None = None,
    retries: int | None = None,
    no_gaps: bool = False,
    yahoo_url: str | None = None,
    config: str | os.PathLike[str] | None = None,
    shard: str | None = None,
    now: str | None = None,
    batches: int | None = None,
    task_retries: int = 3,
) -> dict[str, Any]:
    """Backfill ``tickers`` on the cluster of ``client`` (a ``distributed.Client``) and return
    the merged report, in the form of :func:`backfill.run`'s, with a ``cluster`` entry: ``tasks``,
    the shared ``rate``, and with a rate, ``permits`` (turns handed out), ``throttled`` (429s
    reported), ``cuts`` (congestion events) and ``final_rate`` (the shared pacing rate at the end).

    Takes :func:`backfill.run`'s options; ``rate`` (default 2, or the config file's) is shared by
    the whole cluster and must be a number (``"auto"`` is refused). ``workers`` is the requests in
    flight per task. ``batches`` is the number of tasks (default: two per worker thread, at most
    one per ticker); ``task_retries`` how often Dask reruns a failed task. Every option is checked
    on the client, before anything is submitted: bad input raises ``ValueError``. The store must
    be reachable from the client and every worker at the same location.
    """
    started = time.monotonic()
    common = dict(
        store=store, days=days, start=start, end=end, interval=interval, rate=rate,
        workers=workers, retries=retries, no_gaps=no_gaps, yahoo_url=yahoo_url, config=config,
        now=now,
    )
    flags = _flags(tickers, shard=shard, **common)
    if batches is not None and (isinstance(batches, bool) or not isinstance(batches, int) or batches < 1):
        raise ValueError(f"`batches={batches!r}` is not a number of tasks; give a whole number of at least 1")
    if isinstance(task_retries, bool) or not isinstance(task_retries, int) or task_retries < 0:
        raise ValueError(f"`task_retries={task_retries!r}` is not a number of retries; give 0 or more")
    document, warnings, shared_rate = _native.plan(flags)
    _warn(warnings)
    if shared_rate is None:
        raise ValueError(
            "`rate=\"auto\"` cannot be shared by a cluster: each task would probe the provider on its own\n\n"
            "hint: give the provider's rate as a number, e.g. `rate=2`; the whole cluster stays under it"
        )
    import json

    planned = json.loads(document)
    weights = {t["symbol"]: float(len(t["requests"])) for t in planned["tickers"]}
    # Tickers that could not be planned are not in the plan: their task reports why.
    wanted = [t.strip().upper() for t in _tickers(tickers) if t.strip()]
    if shard is not None:
        count = int(str(shard).split("/")[1])
        index = int(str(shard).split("/")[0])
        wanted = [t for t in wanted if _native.shard_of(t, count) == index]
    order = list(dict.fromkeys(wanted))
    for t in order:
        weights.setdefault(t, 1.0)
    if not weights:
        return _merge([], order, time.monotonic() - started) | {"cluster": {"tasks": 0, "rate": shared_rate}}
    # An up-to-date ticker costs a plan, not a request: a small weight spreads them too.
    weights = {t: (w if w > 0 else 0.05) for t, w in weights.items()}
    if batches is None:
        threads = sum(client.nthreads().values()) or 1
        batches = 2 * threads
    parts = _balanced(weights, max(1, min(batches, len(weights))))

    service = None
    address = token = None
    if shared_rate > 0:
        token = secrets.token_hex(16)
        host = _reachable_host(client)
        bind = "127.0.0.1" if host == "127.0.0.1" else "0.0.0.0"
        service = _native.PermitService(shared_rate, token, host=bind, advertise=host)
        address = service.address
    run_id = secrets.token_hex(4)
    futures = []
    try:
        for i, batch in enumerate(parts):
            task_flags = _flags(batch, **common)
            futures.append(
                client.submit(
                    _run_batch, task_flags, address, token,
                    key=_key(batch, run_id, i), retries=task_retries, pure=False,
                )
            )
        try:
            reports = client.gather(futures)
        except BaseException:
            client.cancel(futures)
            raise
    finally:
        stats = service.stats() if service is not None else {}
        if service is not None:
            service.close()
    merged = _merge(reports, order, time.monotonic() - started)
    merged["cluster"] = {"tasks": len(parts), "rate": shared_rate, **stats}
    return merged
