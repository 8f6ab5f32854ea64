"""The dashboard in a real browser (Debian's Chromium, headless, driven by Playwright) during a
simulator run: 40 tickers at 300 ms latency with `--workers 4`. The page shows every ticker, its
counters move during the run and reach the final state; it fits a phone's viewport. `/metrics`
passes `promtool check metrics` during and after the run, and its request counter ends equal to
what the simulator served. `backfill dashboard --store` then shows the run and the coverage map.

Needs `chromium` and `promtool` (Debian packages `chromium` and `prometheus`, installed by
`.ci/run`); Playwright never downloads a browser here.
"""

import json
import os
import pathlib
import queue
import re
import shutil
import signal
import subprocess
import threading
import urllib.request

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
END = "2024-06-28"


def portfolio():
    text = (REPO / "backfill.example.toml").read_text()
    block = text[text.index("tickers = [") : text.index("]", text.index("tickers = ["))]
    return re.findall(r'"([^"]+)"', block)


@pytest.fixture(scope="module")
def binary():
    subprocess.run(["cargo", "build", "-q", "-p", "backfill"], cwd=REPO, check=True)
    meta = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    )
    return pathlib.Path(json.loads(meta.stdout)["target_directory"]) / "debug" / "backfill"


class Proc:
    """A child process whose stderr lines are read in the background."""

    def __init__(self, args, cwd):
        env = {k: v for k, v in os.environ.items() if not k.startswith("BACKFILL_")}
        self.p = subprocess.Popen(
            args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.p.stderr:
            self.lines.put(line)

    def wait_for_url(self, marker="dashboard: "):
        seen = []
        while True:
            line = self.lines.get(timeout=120)
            seen.append(line)
            if marker in line:
                return re.search(r"http://\S+", line).group(0)
            assert self.p.poll() is None, "".join(seen)

    def interrupt(self):
        self.p.send_signal(signal.SIGINT)
        out, _ = self.p.communicate(timeout=60)
        return self.p.returncode, out

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


@pytest.fixture()
def sim(binary, tmp_path):
    p = subprocess.Popen(
        [str(binary), "sim", "--port", "0", "--latency-ms", "300"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
    )
    url = p.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), url
    yield url
    p.kill()
    p.wait()


def fetch(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read().decode()


def promtool_check(text):
    out = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr + "\n" + text


def requests_total(text):
    return sum(float(m) for m in re.findall(r"^backfill_requests_total\{[^}]*\} (\S+)$", text, re.M))


def test_live_page_follows_the_run_to_its_end(binary, sim, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    tickers = portfolio()
    assert len(tickers) == 40
    store = tmp_path / "store"
    run = Proc(
        [
            str(binary), "--store", str(store), "--yahoo-url", sim, "--tickers", ",".join(tickers),
            "--days", "60", "--end", END, "--workers", "4",
            "--dashboard", "127.0.0.1:0", "--dashboard-linger", "600", "--json",
        ],
        cwd=tmp_path,
    )
    try:
        url = run.wait_for_url()
        metrics = fetch(url + "metrics")
        promtool_check(metrics)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url)
            rows = page.locator("#tickers tbody tr")
            expect(rows).to_have_count(40, timeout=60_000)
            # During the run: not every ticker is final yet, and the request counter moves.
            assert page.locator("#run-status").get_attribute("data-status") == "running"
            first = int(page.locator("#t-requests").inner_text().replace(",", ""))
            page.wait_for_function(
                "n => Number(document.getElementById('t-requests').textContent.replace(/,/g, '')) > n",
                arg=first,
                timeout=60_000,
            )
            unfinished = page.locator(
                "#tickers tbody tr[data-state=queued], #tickers tbody tr[data-state=fetching], "
                "#tickers tbody tr[data-state=retrying]"
            )
            assert unfinished.count() > 0
            # During the run /metrics is valid and growing too.
            during = fetch(url + "metrics")
            promtool_check(during)
            # The end: every ticker saved, counters final, the page says so.
            expect(page.locator("#run-status")).to_have_attribute("data-status", "finished", timeout=120_000)
            expect(page.locator("#tickers tbody tr[data-state=saved]")).to_have_count(40)
            expect(page.locator("#t-done")).to_have_text("40")
            expect(page.locator("#t-requests")).to_have_text("40")
            expect(page.locator("#states [data-state=saved] b")).to_have_text("40")
            final = fetch(url + "metrics")
            promtool_check(final)
            stats = json.loads(fetch(sim + "/_stats"))
            assert requests_total(during) <= requests_total(final)
            assert requests_total(final) == stats["chart_requests"] == 40

            # A phone: the same page, nothing wider than the screen except the scrollable table.
            phone = browser.new_context(viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True)
            p2 = phone.new_page()
            p2.goto(url)
            expect(p2.locator("#tickers tbody tr")).to_have_count(40, timeout=60_000)
            expect(p2.locator("#run-status")).to_have_attribute("data-status", "finished")
            overflow = p2.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"the page is {overflow}px wider than the phone"
            assert p2.locator("#t-done").is_visible()
            browser.close()
        code, out = run.interrupt()
        assert code == 0
        assert json.loads(out)["totals"]["saved"] == 40
    finally:
        run.kill()

    # The store page: the run just made, and a coverage row per ticker.
    dash = Proc(
        [str(binary), "dashboard", "--store", str(store), "--addr", "127.0.0.1:0",
         "--tickers", ",".join(tickers), "--days", "60", "--end", END],
        cwd=tmp_path,
    )
    try:
        url = dash.wait_for_url("store dashboard: ")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 375, "height": 812})
            page.goto(url)
            expect(page.locator("#runs tbody tr[data-run]")).to_have_count(1, timeout=60_000)
            expect(page.locator("#coverage tbody tr")).to_have_count(40)
            expect(page.locator("#coverage tbody tr[data-missing='0']")).to_have_count(40)
            browser.close()
        code, _ = dash.interrupt()
        assert code == 0
    finally:
        dash.kill()
