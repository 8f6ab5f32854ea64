"""Compare `backfill-calendar` with the `exchange_calendars` reference, session by session.

For every exchange the crate models, this runs the crate's `dump_sessions` example over
1990-01-01 .. 2035-12-31, cut to the years the reference accepts (XTKS starts in 1997, XBOM in
1997, XSHG in December 1990; XSHG, XBOM and XSES record holidays only to 2026), and compares,
with the reference:

* the set of session dates (both ways: a session we lack, a session we invent);
* for equity exchanges, the open, close and lunch break of every common session, as UTC instants,
  and whether it is an early close.

The 24/7 (crypto) and 24/5 (FX) calendars are compared by session dates only: ours run
midnight-to-midnight in UTC (24/7) and in Europe/London (24/5, because Yahoo stamps FX daily
bars at 00:00 London), while the reference's 24/5 runs on UTC days.

Every difference must be listed in `crates/calendar/reference-allowlist.txt` with its reason;
any other difference fails the test with a readable summary. An allow-list entry that no longer
matches a difference also fails the test, so the list cannot go stale.

Run: `python -m pytest tests/python/test_calendar_reference.py -q` from the repository root
(needs `pip install -r tests/python/requirements-calendar.txt`; uses `$CARGO` or `cargo`).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest

xc = pytest.importorskip("exchange_calendars")

# The reference trips a pandas deprecation inside its own schedule code; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Series.values returning")

REPO = Path(__file__).resolve().parents[2]
ALLOWLIST = REPO / "crates" / "calendar" / "reference-allowlist.txt"
START = "1990-01-01"
END = "2035-12-31"

# (our code, reference name, compare times?)
EXCHANGES = [
    ("XNYS", "XNYS", True),
    ("XLON", "XLON", True),
    ("XPAR", "XPAR", True),
    ("XETR", "XETR", True),
    ("XTSE", "XTSE", True),
    ("XASX", "XASX", True),
    ("XTKS", "XTKS", True),
    ("XAMS", "XAMS", True),
    ("XSWX", "XSWX", True),
    ("XMIL", "XMIL", True),
    ("XMAD", "XMAD", True),
    ("XSTO", "XSTO", True),
    ("XJSE", "XJSE", True),
    ("BVMF", "BVMF", True),
    ("XHKG", "XHKG", True),
    ("XSHG", "XSHG", True),
    # Shenzhen keeps Shanghai's days and hours; the reference has no XSHE of its own.
    ("XSHE", "XSHG", True),
    ("XBOM", "XBOM", True),
    ("XKRX", "XKRX", True),
    ("XTAI", "XTAI", True),
    ("XSES", "XSES", True),
    ("24/7", "24/7", False),
    ("24/5", "24/5", False),
]

FIELDS = ("session", "open", "close", "break", "early_close")


def load_allowlist() -> dict[tuple[str, str, str], str]:
    """`EXCHANGE | YYYY-MM-DD | FIELD | reason` lines; `#` starts a comment."""
    allowed: dict[tuple[str, str, str], str] = {}
    for n, raw in enumerate(ALLOWLIST.read_text(encoding="utf-8").splitlines(), 1):
        line = "" if raw.lstrip().startswith("#") else raw.strip()
        if not line:
            continue
        parts = [p.strip() for p in line.split("|")]
        assert len(parts) == 4, f"{ALLOWLIST.name}:{n}: expected 4 `|`-separated columns: {raw!r}"
        exchange, date, field, reason = parts
        assert field in FIELDS, f"{ALLOWLIST.name}:{n}: field must be one of {FIELDS}: {raw!r}"
        assert reason, f"{ALLOWLIST.name}:{n}: every entry needs a reason: {raw!r}"
        pd.Timestamp(date)  # validates the date
        key = (exchange, date, field)
        assert key not in allowed, f"{ALLOWLIST.name}:{n}: duplicate entry {key}"
        allowed[key] = reason
    return allowed


def ours(code: str, start: str, end: str) -> dict[str, dict]:
    cargo = os.environ.get("CARGO", "cargo")
    cmd = [cargo, "run", "-q", "-p", "backfill-calendar", "--example", "dump_sessions", "--"]
    out = subprocess.run(
        [*cmd, code, start, end], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    return {r["date"]: r for r in rows}


def iso(ts) -> str | None:
    if ts is None or pd.isna(ts):
        return None
    return pd.Timestamp(ts).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def reference(name: str) -> tuple[str, str, dict[str, dict]]:
    # Some calendars refuse early starts (XTKS: 1997) or late ends (XSHG: 2026, where its
    # recorded holidays stop); use the widest range each one accepts.
    cls = xc.calendar_utils.global_calendar_dispatcher._calendar_factories[name]
    low, high = cls.bound_min(), cls.bound_max()
    start = pd.Timestamp(START) if low is None else max(pd.Timestamp(START), low)
    end = pd.Timestamp(END) if high is None else min(pd.Timestamp(END), high)
    cal = xc.get_calendar(name, start=start.strftime("%Y-%m-%d"), end=end.strftime("%Y-%m-%d"))
    sched = cal.schedule
    has_breaks = "break_start" in sched.columns
    early = {d.strftime("%Y-%m-%d") for d in cal.early_closes}
    rows = {}
    for date, r in sched.iterrows():
        d = date.strftime("%Y-%m-%d")
        rows[d] = {
            "date": d,
            "open": iso(r["open"]),
            "close": iso(r["close"]),
            "break_start": iso(r["break_start"]) if has_breaks else None,
            "break_end": iso(r["break_end"]) if has_breaks else None,
            "early_close": d in early,
        }
    return start.strftime("%Y-%m-%d"), end.strftime("%Y-%m-%d"), rows


def compare(code: str, ref: dict[str, dict], mine: dict[str, dict], times: bool):
    """Yields `(exchange, date, field, detail)` for every difference."""
    for d in sorted(set(ref) | set(mine)):
        r, m = ref.get(d), mine.get(d)
        if r is None:
            yield code, d, "session", "we hold a session, the reference does not"
            continue
        if m is None:
            yield code, d, "session", "the reference holds a session, we do not"
            continue
        if not times:
            continue
        for field in ("open", "close"):
            if r[field] != m[field]:
                yield code, d, field, f"reference {r[field]}, ours {m[field]}"
        rb, mb = (r["break_start"], r["break_end"]), (m["break_start"], m["break_end"])
        if rb != mb:
            yield code, d, "break", f"reference {rb}, ours {mb}"
        if r["early_close"] != m["early_close"]:
            yield code, d, "early_close", f"reference {r['early_close']}, ours {m['early_close']}"


def test_every_exchange_matches_reference_or_allowlist():
    allowed = load_allowlist()
    unexplained, used = [], set()
    counts: dict[str, int] = defaultdict(int)
    for code, name, times in EXCHANGES:
        start, end, ref = reference(name)
        mine = ours(code, start, end)
        assert mine, f"{code}: dump_sessions printed nothing for {start}..{end}"
        for exchange, d, field, detail in compare(code, ref, mine, times):
            counts[exchange] += 1
            key = (exchange, d, field)
            if key in allowed:
                used.add(key)
            else:
                unexplained.append(f"{exchange} {d} {field:<7} {detail}")
    stale = sorted(set(allowed) - used)
    summary = ", ".join(f"{c}={counts[c]}" for c, _, _ in EXCHANGES)
    msg = []
    if unexplained:
        msg.append(f"{len(unexplained)} unexplained difference(s) from exchange_calendars:")
        msg.extend(f"  {line}" for line in unexplained[:200])
        if len(unexplained) > 200:
            msg.append(f"  ... and {len(unexplained) - 200} more")
    if stale:
        msg.append(f"{len(stale)} allow-list entr(y/ies) match no difference (remove them):")
        msg.extend(f"  {' | '.join(k)}" for k in stale)
    msg.append(f"differences per exchange (allowed + unexplained): {summary}")
    assert not unexplained and not stale, "\n".join(msg)
