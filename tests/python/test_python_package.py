"""The `backfill` Python package (built with maturin and installed by `.ci/run`): `run`, `plan`
and `read` against the simulator, compared with the command line's `--json` and ground truth."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time

import pyarrow as pa
import pytest

import backfill
from backfill_sim import END, NOW, Sim, assert_store_is_ground_truth, portfolio

DAYS = 60


@pytest.fixture(scope="module")
def sim():
    s = Sim("--latency-ms", "5")
    yield s
    s.close()


def cli(*args: str, code: int = 0) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKFILL_")}
    out = subprocess.run([sys.executable, "-m", "backfill", *args], capture_output=True, text=True, env=env)
    assert out.returncode == code, f"{args}: exit {out.returncode}\n{out.stdout}\n{out.stderr}"
    return out


def comparable(report: dict) -> dict:
    """A run report without what differs between two runs of the same work (timing, order)."""
    totals = {k: v for k, v in report["totals"].items() if k not in ("elapsed_secs", "throttled_secs")}
    return {"tickers": sorted(report["tickers"], key=lambda t: t["symbol"]), "totals": totals}


def test_run_on_40_tickers_equals_the_cli_json_and_ground_truth(sim, tmp_path):
    tickers = portfolio()
    assert len(tickers) == 40
    options = dict(days=DAYS, end=dt.date(2024, 6, 28), rate=0, workers=8, yahoo_url=sim.url, now=NOW)
    report = backfill.run(tickers, store=tmp_path / "py", **options)
    out = cli(
        "--tickers", ",".join(tickers), "--days", str(DAYS), "--end", END, "--rate", "0", "--workers", "8",
        "--yahoo-url", sim.url, "--now", NOW, "--store", str(tmp_path / "cli"), "--json",
    )
    assert comparable(report) == comparable(json.loads(out.stdout))
    assert report["totals"]["saved"] == 40 and report["totals"]["requests"] == 40

    table = backfill.read(tmp_path / "py")
    assert table.num_rows == 40 * DAYS
    assert table.equals(backfill.read(tmp_path / "cli"))
    assert_store_is_ground_truth(sim, table, tickers, DAYS)

    again = backfill.run(tickers, store=tmp_path / "py", **options)
    assert again["totals"]["requests"] == 0
    assert {t["status"] for t in again["tickers"]} == {"up_to_date"}


def test_plan_equals_the_cli_plan_json(sim, tmp_path):
    options = ["--days", "30", "--end", END, "--now", NOW, "--yahoo-url", sim.url]
    doc = backfill.plan("MSFT,AIR.PA", store=tmp_path / "none", days=30, end=END, now=NOW, yahoo_url=sim.url)
    out = cli("plan", "--tickers", "MSFT,AIR.PA", "--store", str(tmp_path / "none"), *options, "--json")
    assert doc == json.loads(out.stdout)
    assert doc["totals"]["requests"] == 2
    assert not (tmp_path / "none").exists(), "planning creates nothing"


def test_read_selects_tickers_and_session_dates_with_the_store_schema(sim, tmp_path):
    backfill.run(["MSFT", "AIR.PA", "7203.T"], store=tmp_path, days=20, end=END, rate=0, yahoo_url=sim.url, now=NOW)
    t = backfill.read(tmp_path, tickers=["air.pa", "MSFT"], start="2024-06-10", end=dt.date(2024, 6, 14))
    assert t.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert t.schema.field("date").type == pa.date32()
    assert t.column_names == ["symbol", "interval", "ts", "date", "open", "high", "low", "close", "adj_close", "volume"]
    assert sorted(set(t.column("symbol").to_pylist())) == ["AIR.PA", "MSFT"]
    dates = t.column("date").to_pylist()
    assert min(dates) == dt.date(2024, 6, 10) and max(dates) == dt.date(2024, 6, 14)
    assert t.num_rows == 10  # five sessions each (no holiday that week in New York or Paris)
    assert backfill.read(tmp_path, interval="1h").num_rows == 0


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(days=-1), "`-1` is negative"),
        (dict(interval="2h"), "2h"),
        (dict(start="2024-06-30", end="2024-06-01"), "is after `--end"),
        (dict(start="June 1st"), "June 1st"),
        (dict(rate="fast"), "fast"),
        (dict(shard="3/3"), "numbered 0 to 2"),
        (dict(start=dt.datetime(2024, 1, 1)), "datetime"),
    ],
)
def test_bad_input_raises_value_error_with_the_cli_message(tmp_path, options, message):
    with pytest.raises(ValueError, match=None) as e:
        backfill.run(["MSFT"], store=tmp_path, yahoo_url="http://127.0.0.1:9", now=NOW, **options)
    assert message in str(e.value), str(e.value)
    assert not any(tmp_path.iterdir()), "nothing was written"


def test_a_bad_ticker_raises_value_error_naming_it(tmp_path):
    with pytest.raises(ValueError, match="path separator"):
        backfill.run(["MSFT", "../etc"], store=tmp_path)
    with pytest.raises(ValueError, match="no tickers"):
        backfill.run([], store=tmp_path)


def test_a_path_that_is_not_a_store_raises_value_error_naming_it(tmp_path):
    (tmp_path / "not-a-store").write_text("x")
    with pytest.raises(ValueError, match="not-a-store` is not a directory"):
        backfill.read(tmp_path / "not-a-store")
    with pytest.raises(ValueError, match="does not exist"):
        backfill.read(tmp_path / "nothing")
    assert issubclass(backfill.BackfillError, RuntimeError)


def test_ctrl_c_raises_keyboard_interrupt_after_in_flight_commits_and_a_rerun_completes(tmp_path):
    slow = Sim("--latency-ms", "400")
    try:
        tickers = portfolio()
        script = (
            "import backfill, sys\n"
            "try:\n"
            f"    backfill.run({tickers!r}, store={str(tmp_path)!r}, days=30, end={END!r}, rate=0, workers=2,"
            f" yahoo_url={slow.url!r}, now={NOW!r})\n"
            "except KeyboardInterrupt:\n"
            "    print('KeyboardInterrupt'); sys.exit(130)\n"
            "print('finished')\n"
        )
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while slow.stats()["chart_requests"] < 4:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        assert (proc.returncode, out.strip()) == (130, "KeyboardInterrupt")
        sent = slow.stats()["chart_requests"]
        assert sent < 40, "the run stopped sending"
        # Whatever was committed is whole: the rerun fetches the rest and ends with ground truth.
        report = backfill.run(tickers, store=tmp_path, days=30, end=END, rate=0, workers=8, yahoo_url=slow.url, now=NOW)
        assert report["totals"]["failed"] == 0 and report["totals"]["saved"] + report["totals"]["up_to_date"] == 40
        assert_store_is_ground_truth(slow, backfill.read(tmp_path), tickers, 30)
    finally:
        slow.close()


def test_the_console_command_is_the_cli():
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "backfill"]
    assert script.value == "backfill.__main__:main"
    out = cli("sessions", "--exchange", "XNYS", "--from", "2024-07-01", "--to", "2024-07-05", "--json")
    assert [d["date"] for d in json.loads(out.stdout)] == ["2024-07-01", "2024-07-02", "2024-07-03", "2024-07-05"]
    bad = cli("--tickers", "MSFT", "--shard", "9/3", code=2)
    assert "numbered 0 to 2" in bad.stderr


def test_shards_of_a_plan_are_disjoint_and_complete(sim, tmp_path):
    tickers = portfolio()
    parts = [
        [t["symbol"] for t in backfill.plan(tickers, store=tmp_path, days=5, end=END, now=NOW, yahoo_url=sim.url, shard=f"{i}/3")["tickers"]]
        for i in range(3)
    ]
    assert sorted(s for p in parts for s in p) == sorted(tickers)
    for i, p in enumerate(parts):
        assert p and all(backfill.shard_of(s, 3) == i for s in p), (i, p)


def test_shard_of_is_the_cli_hash():
    assert [backfill.shard_of(t, 3) for t in ["MSFT", "AAPL", "AIR.PA", "^GSPC", "EURUSD=X", "7203.T"]] == [2, 1, 0, 0, 2, 2]
