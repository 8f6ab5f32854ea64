"""`backfill.dask.run` on a `distributed.LocalCluster` of 3 worker processes, against the
simulator: exact stores, a worker killed mid-run, the cluster-wide rate, checks on the client."""

from __future__ import annotations

import os
import re
import signal
import threading
import time

import pytest
from distributed import Client, LocalCluster, get_task_stream

import backfill
import backfill.dask
from backfill_sim import END, NOW, Sim, assert_store_is_ground_truth, many, portfolio

DAYS = 30


@pytest.fixture(scope="module")
def client():
    cluster = LocalCluster(n_workers=3, threads_per_worker=2, processes=True, dashboard_address=None)
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


def options(sim: Sim, **extra) -> dict:
    return dict(days=DAYS, end=END, yahoo_url=sim.url, now=NOW) | extra


def test_120_tickers_equal_ground_truth_and_a_single_process_run_and_a_rerun_sends_nothing(client, tmp_path):
    sim = Sim("--latency-ms", "20")
    try:
        tickers = many(120)
        report = backfill.dask.run(client, tickers, store=tmp_path / "dask", **options(sim, rate=0))
        assert [t["symbol"] for t in report["tickers"]] == [t.upper() for t in tickers]
        assert report["totals"]["saved"] == 120 and report["totals"]["requests"] == 120
        assert report["cluster"]["tasks"] > 3

        backfill.run(tickers, store=tmp_path / "single", **options(sim, rate=0, workers=16))
        table = backfill.read(tmp_path / "dask")
        assert table.equals(backfill.read(tmp_path / "single"))
        assert_store_is_ground_truth(sim, table, tickers, DAYS)

        sim.reset()
        again = backfill.dask.run(client, tickers, store=tmp_path / "dask", **options(sim, rate=0))
        assert sim.stats()["chart_requests"] == 0
        assert again["totals"]["requests"] == 0 and again["totals"]["up_to_date"] == 120
    finally:
        sim.close()


def test_a_worker_killed_during_the_run_still_gives_an_exact_store_and_a_complete_report(client, tmp_path):
    sim = Sim("--latency-ms", "150")
    try:
        tickers = many(60)
        pids = client.run(os.getpid)
        killed = []

        def kill_one_worker_once_requests_flow():
            deadline = time.monotonic() + 60
            while sim.stats()["chart_requests"] < 10 and time.monotonic() < deadline:
                time.sleep(0.02)
            pid = next(iter(pids.values()))
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

        killer = threading.Thread(target=kill_one_worker_once_requests_flow)
        killer.start()
        report = backfill.dask.run(
            client, tickers, store=tmp_path, batches=6, **options(sim, rate=0, workers=2)
        )
        killer.join()
        assert killed, "a worker was killed"
        assert sim.stats()["chart_requests"] < 120, "the run did not end before the kill"
        assert [t["symbol"] for t in report["tickers"]] == tickers
        assert {t["status"] for t in report["tickers"]} <= {"saved", "up_to_date"}
        assert report["totals"]["failed"] == 0 and report["totals"]["tickers"] == 60
        assert_store_is_ground_truth(sim, backfill.read(tmp_path), tickers, DAYS)
        client.wait_for_workers(3, timeout=60)
    finally:
        sim.close()


def test_with_the_simulator_limit_equal_to_rate_the_cluster_stays_under_it(client, tmp_path):
    # 200 ms spacing: a margin of 10 ms (the 5 % pacing headroom) for the jitter between a turn's
    # report and its request reaching the server. A loaded 2-core machine can spend more than that
    # (CI saw it once in a few dozen runs), so one 429 is tolerated; without the shared pacing,
    # 30 tasks would draw dozens.
    rate = 5
    sim = Sim("--latency-ms", "50", "--rate", str(rate), "--retry-after", "1")
    try:
        tickers = portfolio()[:30]
        with get_task_stream(client) as stream:
            report = backfill.dask.run(client, tickers, store=tmp_path, **options(sim, rate=rate))
        stats = sim.stats()
        # Task keys name their tickers (the first three of a batch, then how many more).
        keys = {str(t["key"]) for t in stream.data}
        assert len(keys) == report["cluster"]["tasks"] > 3, keys
        for key in keys:
            shown = re.fullmatch(r"backfill-\[([^\]]+)\]-[0-9a-f]+-\d+", key)
            assert shown, key
            named = [n for n in shown.group(1).split(",") if not n.startswith("+")]
            assert set(named) <= set(tickers), key
        throttled = stats["per_status"].get("429", 0)
        assert throttled <= 1, stats["per_status"]
        assert report["totals"]["retries"] == report["cluster"]["throttled"] == throttled
        assert report["cluster"]["permits"] == stats["requests_total"] == 30 + throttled
        assert report["totals"]["saved"] == 30
        # The limit is shared, not one per task: 30 requests at 5/s take at least 29/5 s.
        assert report["totals"]["elapsed_secs"] >= 29 / rate
        assert_store_is_ground_truth(sim, backfill.read(tmp_path), tickers, DAYS)
    finally:
        sim.close()


def test_a_rate_twice_the_servers_is_cut_to_it_for_the_whole_cluster(client, tmp_path):
    sim = Sim("--latency-ms", "20", "--rate", "5", "--retry-after", "1")
    try:
        tickers = portfolio()[:30]
        report = backfill.dask.run(client, tickers, store=tmp_path, **options(sim, rate=10))
        throttled = sim.stats()["per_status"].get("429", 0)
        cluster = report["cluster"]
        assert report["totals"]["saved"] == 30, report["totals"]
        assert 1 <= cluster["cuts"] and cluster["throttled"] == throttled <= 6, (cluster, throttled)
        assert cluster["final_rate"] < 5, cluster
        assert_store_is_ground_truth(sim, backfill.read(tmp_path), tickers, DAYS)
    finally:
        sim.close()


class NoCluster:
    """A client that fails the test if anything reaches it."""

    def __getattr__(self, name):
        raise AssertionError(f"`client.{name}` was used before the input was checked")


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(days=-1), "`-1` is negative"),
        (dict(rate="auto"), "cannot be shared by a cluster"),
        (dict(interval="7m"), "7m"),
        (dict(tickers=["MSFT", "A/B"]), "path separator"),
        (dict(batches=0), "batches"),
    ],
)
def test_bad_input_raises_on_the_client_before_anything_is_submitted(tmp_path, options, message):
    tickers = options.pop("tickers", ["MSFT"])
    with pytest.raises(ValueError) as e:
        backfill.dask.run(NoCluster(), tickers, store=tmp_path, yahoo_url="http://127.0.0.1:9", now=NOW, **options)
    assert message in str(e.value), str(e.value)


def test_a_cluster_of_threads_in_this_process_shares_the_rate_too(tmp_path):
    sim = Sim("--rate", "20", "--retry-after", "1")
    try:
        with LocalCluster(n_workers=1, threads_per_worker=3, processes=False, dashboard_address=None) as cluster:
            with Client(cluster) as c:
                tickers = portfolio()[:6]
                report = backfill.dask.run(c, tickers, store=tmp_path, **options(sim, rate=10))
        assert report["totals"]["saved"] == 6 and report["cluster"]["permits"] == 6
        assert sim.stats()["per_status"].get("429", 0) == 0
        assert_store_is_ground_truth(sim, backfill.read(tmp_path), tickers, DAYS)
    finally:
        sim.close()
