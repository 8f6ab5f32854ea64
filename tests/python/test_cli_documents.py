"""The CLI's `--json` documents validate against the schemas published in `docs/schema/`, and the
README's Python snippets run against a real store (two intervals, dividends and splits) and
return the rows they promise.

A store is filled by the `backfill` binary from the built-in simulator on loopback (`backfill sim`),
so the snippets read exactly what a user's first run writes.
"""

import json
import os
import pathlib
import re
import subprocess

import jsonschema
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "docs" / "schema"
END = "2024-06-28"
NOW = "2024-07-01T00:00:00Z"
DAYS = 30
TICKERS = "MSFT,AIR.PA"


def backfill_binary():
    subprocess.run(["cargo", "build", "-q", "-p", "backfill"], cwd=REPO, check=True)
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return str(target / "debug" / "backfill")


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    binary = backfill_binary()
    sim = subprocess.Popen(
        [binary, "sim", "--port", "0", "--clock", NOW],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    url = sim.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), url
    work = tmp_path_factory.mktemp("cli")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKFILL_")}
    env["NO_COLOR"] = "1"

    def run(*args, code=0):
        out = subprocess.run([binary, *args], cwd=work, env=env, capture_output=True, text=True)
        assert out.returncode == code, f"{args}: exit {out.returncode}\n{out.stdout}\n{out.stderr}"
        return out

    window = ["--end", END, "--days", str(DAYS), "--now", NOW]
    fetch = ["--yahoo-url", url, "--rate", "0"]
    run("--tickers", TICKERS, *window, *fetch, "-q")
    run("--tickers", TICKERS, "--interval", "1h", "--end", END, "--days", "5", "--now", NOW, *fetch, "-q")
    yield run, work, url, window, fetch
    sim.terminate()
    sim.wait()


def validate(name, document):
    schema = json.loads((SCHEMAS / f"{name}.json").read_text())
    jsonschema.validate(document, schema)


def test_run_json_validates_and_lists_every_ticker(cli):
    run, _, _, window, fetch = cli
    out = run("--tickers", TICKERS + ",ZZNOPE", *window, *fetch, "--json", code=1)
    doc = json.loads(out.stdout)
    validate("run", doc)
    assert {t["symbol"] for t in doc["tickers"]} == {"MSFT", "AIR.PA", "ZZNOPE"}
    nope = next(t for t in doc["tickers"] if t["symbol"] == "ZZNOPE")
    assert (nope["status"], nope["failure"]) == ("not_found", "not_found")
    assert doc["totals"]["throttled_secs"] <= doc["totals"]["elapsed_secs"]


def test_plan_json_validates(cli):
    run, _, _, _, fetch = cli
    out = run("plan", "--tickers", TICKERS, "--end", END, "--days", "60", "--now", NOW, *fetch, "--json")
    doc = json.loads(out.stdout)
    validate("plan", doc)
    assert doc["totals"]["requests"] == 2


def test_check_json_validates_with_complete_holes(cli):
    run, _, _, _, _ = cli
    out = run("check", "--tickers", TICKERS, "--end", END, "--days", "60", "--now", NOW, "--json", "--strict", code=1)
    doc = json.loads(out.stdout)
    validate("check", doc)
    for t in doc["tickers"]:
        assert t["missing"] == 30, t
        assert sum(h["sessions"] for h in t["holes"]) == t["missing"], t
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z", t["last_fetched"]), t


def test_sessions_json_validates(cli):
    run, _, _, _, _ = cli
    out = run("sessions", "--exchange", "XTKS", "--from", "2024-04-01", "--to", "2024-04-30", "--json")
    validate("sessions", json.loads(out.stdout))


def readme_snippets():
    """Every ```python block of README.md, in order."""
    text = (REPO / "README.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_the_readme_has_snippets_for_every_reader():
    joined = "\n".join(readme_snippets())
    for reader in ["pandas", "polars", "duckdb", "pyarrow"]:
        assert reader in joined, reader


@pytest.mark.parametrize("index", range(len(readme_snippets())))
def test_readme_snippet_returns_the_expected_rows(cli, index):
    """Each snippet runs in a directory whose `data/` is a store holding 1d and 1h bars of two
    tickers; a snippet that reads bars leaves them in `df`, one that reads actions in `actions`."""
    _, work, _, _, _ = cli
    code = readme_snippets()[index]
    cwd = os.getcwd()
    os.chdir(work)
    try:
        scope = {}
        exec(compile(code, f"README.md python snippet {index + 1}", "exec"), scope)
    finally:
        os.chdir(cwd)
    assert "df" in scope or "actions" in scope, "a snippet leaves its result in `df` or `actions`"
    if "df" in scope:
        df = scope["df"]
        if not hasattr(df, "columns"):  # DuckDB relation or Polars lazy frame, already collected by the snippet
            raise AssertionError(f"`df` is a {type(df)}")
        columns = list(df.columns)
        rows = len(df)
        assert rows > 0
        if "interval" in columns:
            assert set(map(str, df["interval"].to_list() if hasattr(df["interval"], "to_list") else df["interval"])) == {"1d"}
        if "symbol" in columns:
            symbols = set(map(str, df["symbol"].to_list() if hasattr(df["symbol"], "to_list") else df["symbol"]))
            assert symbols <= {"MSFT", "AIR.PA"}
            # Daily bars only: one row per session of each ticker read.
            assert rows == DAYS * len(symbols), (rows, symbols)
    if "actions" in scope:
        actions = scope["actions"]
        assert "kind" in list(actions.columns) or "type" in list(actions.columns) or len(actions.columns) > 0
