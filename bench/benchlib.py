"""What the benchmark scripts share: the release build, the simulator, the example portfolio, and
the header and writing of their reports. Standard library only."""

import datetime
import json
import os
import subprocess
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build():
    """Builds the release binary (into `CARGO_TARGET_DIR` when set); returns its path."""
    subprocess.run(["cargo", "build", "--release", "-p", "backfill", "--quiet"], cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    return os.path.join(target, "release", "backfill")


def example_portfolio():
    """The 40 tickers of `backfill.example.toml`, in order."""
    text = open(os.path.join(ROOT, "backfill.example.toml")).read()
    start = text.index("tickers = [")
    body = text[start : text.index("]", start)]
    return [t for i, t in enumerate(body.split('"')) if i % 2 == 1]


class Sim:
    """`backfill sim --port 0 ARGS` of `binary`, on loopback until `stop`."""

    def __init__(self, binary, *args):
        self.proc = subprocess.Popen(
            [binary, "sim", "--port", "0", *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        self.url = self.proc.stdout.readline().strip()
        assert self.url.startswith("http://127.0.0.1:"), self.url

    def get(self, path):
        with urllib.request.urlopen(self.url + path) as r:
            return json.load(r)

    def stats(self):
        return self.get("/_stats")

    def chart_requests(self):
        return self.stats()["chart_requests"]

    def reset(self):
        urllib.request.urlopen(urllib.request.Request(self.url + "/_reset", method="POST")).read()

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def measured():
    """The first line of a report: when, and at which commit."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    now = datetime.datetime.now(datetime.timezone.utc)
    return f"Measured {now:%Y-%m-%d %H:%M UTC} at commit `{commit}` on this 2-core machine"


def write_report(path, lines):
    """Writes the report's lines to `path` and prints it."""
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(open(path).read())
