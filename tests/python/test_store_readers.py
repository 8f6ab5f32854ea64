"""The store is plain hive-partitioned Parquet: pyarrow, Polars, DuckDB and pandas read it
without our code, see the right symbols (from the `symbol` column, not the percent-encoded
directory name), the right types, and no duplicate bars.

The store is written by `crates/store/examples/write_sample_store.rs`, which prints a manifest.
"""

import collections
import json
import pathlib
import subprocess

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]

BAR_TYPES = {
    "symbol": pa.string(),
    "interval": pa.string(),
    "ts": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
    "open": pa.float64(),
    "high": pa.float64(),
    "low": pa.float64(),
    "close": pa.float64(),
    "adj_close": pa.float64(),
    "volume": pa.int64(),
}
SYMBOLS = {"AIR.PA", "^GSPC", "EURUSD=X", "BRK-B", "MSFT"}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    out = subprocess.run(
        ["cargo", "run", "-q", "-p", "backfill-store", "--example", "write_sample_store", "--", str(root)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    manifest = json.loads(out.stdout)
    expected = {(s["symbol"], s["interval"]): s["rows"] for s in manifest["series"]}
    return root, manifest, expected


def test_layout_is_hive_and_percent_encoded(store):
    root, manifest, expected = store
    files = sorted(p.relative_to(root).as_posix() for p in (root / "bars").rglob("*.parquet"))
    assert "bars/interval=1d/symbol=EURUSD%3DX/all.parquet" in files
    assert "bars/interval=1d/symbol=^GSPC/all.parquet" in files
    assert "bars/interval=1d/symbol=AIR.PA/all.parquet" in files
    hourly = [f for f in files if f.startswith("bars/interval=1h/symbol=MSFT/")]
    assert len(hourly) == manifest["hourly_files_per_symbol"]
    assert not [p for p in root.rglob("*") if p.name.endswith(".tmp")]
    for f in files:
        meta = pq.ParquetFile(root / f).metadata
        col = meta.row_group(0).column(2)
        assert col.path_in_schema == "ts"
        assert col.compression == "ZSTD"
        assert col.statistics is not None and col.statistics.has_min_max
        ts = pq.read_table(root / f, columns=["ts"])["ts"].to_pylist()
        assert ts == sorted(set(ts)), f"{f} is not sorted and unique by ts"


def test_pyarrow_dataset(store):
    root, manifest, expected = store
    table = ds.dataset(root / "bars", partitioning="hive").to_table()
    assert table.num_rows == manifest["total_rows"]
    for name, typ in BAR_TYPES.items():
        assert table.schema.field(name).type == typ, name
    counts = collections.Counter(zip(table["symbol"].to_pylist(), table["interval"].to_pylist()))
    assert dict(counts) == expected
    keys = set(zip(table["symbol"].to_pylist(), table["interval"].to_pylist(), table["ts"].to_pylist()))
    assert len(keys) == table.num_rows
    assert set(table["symbol"].to_pylist()) == SYMBOLS


def test_polars_scan(store):
    root, manifest, expected = store
    df = pl.scan_parquet(str(root / "bars" / "**" / "*.parquet"), hive_partitioning=True).collect()
    assert df.height == manifest["total_rows"]
    assert df.schema["symbol"] == pl.String
    assert df.schema["interval"] == pl.String
    assert df.schema["ts"] == pl.Datetime("us", "UTC")
    assert df.schema["date"] == pl.Date
    assert df.schema["volume"] == pl.Int64
    assert all(df.schema[c] == pl.Float64 for c in ["open", "high", "low", "close", "adj_close"])
    got = {(r["symbol"], r["interval"]): r["len"] for r in df.group_by(["symbol", "interval"]).len().to_dicts()}
    assert got == expected
    assert df.select(["symbol", "interval", "ts"]).n_unique() == df.height
    assert set(df["symbol"].unique()) == SYMBOLS


def test_duckdb_read_parquet(store):
    root, manifest, expected = store
    src = f"read_parquet('{root}/bars/**/*.parquet', hive_partitioning = true)"
    con = duckdb.connect()
    types = {r[0]: r[1] for r in con.sql(f"DESCRIBE SELECT * FROM {src}").fetchall()}
    assert types["symbol"] == "VARCHAR"
    assert types["interval"] == "VARCHAR"
    assert types["ts"] == "TIMESTAMP WITH TIME ZONE"
    assert types["date"] == "DATE"
    assert types["close"] == "DOUBLE"
    assert types["volume"] == "BIGINT"
    rows = con.sql(f"SELECT symbol, interval, count(*) FROM {src} GROUP BY ALL").fetchall()
    assert {(s, i): n for s, i, n in rows} == expected
    [(total, distinct)] = con.sql(
        f"SELECT count(*), count(DISTINCT (symbol, interval, ts)) FROM {src}"
    ).fetchall()
    assert total == distinct == manifest["total_rows"]


def test_pandas_read_parquet(store):
    root, manifest, expected = store
    # Hive values are in the files already; pandas' default dictionary partition columns would
    # clash with them, so read the columns from the files.
    df = pd.read_parquet(root / "bars", partitioning=None)
    assert len(df) == manifest["total_rows"]
    assert str(df["ts"].dtype) == "datetime64[us, UTC]"
    assert df["close"].dtype == "float64" and df["volume"].dtype == "int64"
    got = df.groupby(["symbol", "interval"]).size().to_dict()
    assert got == expected
    assert not df.duplicated(["symbol", "interval", "ts"]).any()
    one = pd.read_parquet(root / "bars" / "interval=1d" / "symbol=EURUSD%3DX" / "all.parquet")
    assert set(one["symbol"]) == {"EURUSD=X"}
    assert one["adj_close"].isna().all()


def test_actions(store):
    root, manifest, _ = store
    table = ds.dataset(root / "actions", partitioning="hive").to_table()
    assert table.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("date").type == pa.date32()
    assert table.schema.field("amount").type == pa.float64()
    assert table.schema.field("currency").type == pa.string()
    assert dict(collections.Counter(table["symbol"].to_pylist())) == manifest["actions"]
    rows = {(r["symbol"], r["action"]): r for r in table.to_pylist()}
    split = rows[("MSFT", "split")]
    assert (split["numerator"], split["denominator"], split["amount"]) == (2.0, 1.0, None)
    div = rows[("AIR.PA", "dividend")]
    assert (div["amount"], div["currency"], div["numerator"]) == (1.8, "EUR", None)
    assert rows[("BRK-B", "capital_gain")]["amount"] == 0.1
