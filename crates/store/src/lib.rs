//! The backfill store: hive-partitioned Parquet bars and actions on a local directory, with
//! atomic, durable, idempotent upserts, a coverage ledger and cross-process locking.
//!
//! The main type is [`Store`]. Bars go in with [`Store::upsert_bars`] (merge by `ts`, new values
//! win) or [`Store::replace_bars`] (whole history), and come out with [`Store::read_bars`] or, cheaply
//! from Parquet footers, [`Store::summary`]. What the provider has answered (including "no bars
//! here") is kept in a [`Ledger`] of [`LedgerEntry`]s per series ([`Store::record_coverage`]).
//! Corporate actions ([`Store::upsert_actions`]) and provider metadata ([`Store::write_meta`])
//! live beside them. [`Store::problems`] reports files that do not belong. Errors are
//! [`StoreError`]s naming the path and what to do.
//!
//! # On-disk layout
//!
//! ```text
//! <store>/                                   default ./data (`--store`, `BACKFILL_STORE`)
//! ├── bars/                                  everything under here is plain Parquet
//! │   ├── interval=1d/                       daily and coarser: one file per symbol
//! │   │   ├── symbol=AIR.PA/all.parquet
//! │   │   ├── symbol=EURUSD%3DX/all.parquet  symbol percent-encoded in paths (`=` → `%3D`)
//! │   │   └── symbol=^GSPC/all.parquet
//! │   └── interval=5m/                       intraday: one file per UTC month of the bar start
//! │       └── symbol=MSFT/
//! │           ├── 2024-09.parquet
//! │           └── 2024-10.parquet
//! ├── actions/
//! │   └── symbol=MSFT/actions.parquet        dividends, splits, capital gains
//! └── _meta/                                 not Parquet; outside the `bars/**/*.parquet` glob
//!     ├── ledger/interval=1d/MSFT.json       coverage ledger per (symbol, interval)
//!     ├── symbols/MSFT.json                  provider metadata (exchange, zone, currency, …)
//!     ├── locks/…                            advisory lock files (empty; never delete while running)
//!     └── quarantine/                        put broken files here by hand; nothing reads it
//! ```
//!
//! Symbols are percent-encoded in path segments: ASCII letters, digits and `.` `-` `^` `_` stay
//! as they are, everything else becomes `%XX` (`EURUSD=X` → `EURUSD%3DX`, `A%B` → `A%25B`), and a
//! leading `.` becomes `%2E`. Because [`Symbol`](backfill_domain::Symbol) already rejects `/`,
//! `\`, `..`, whitespace and control characters, no symbol can name a path outside the store.
//! Interval directory names are [`Interval::as_str`](backfill_domain::Interval::as_str)
//! (`1m 2m 5m 15m 30m 1h 90m 1d 1wk 1mo`).
//!
//! # Schemas
//!
//! Every bars file, sorted by `ts` and unique per (`symbol`, `interval`, `ts`), zstd-compressed
//! with row-group and page statistics:
//!
//! | column | type | |
//! |---|---|---|
//! | `symbol` | utf8 | the symbol, unencoded (`EURUSD=X`) — authoritative |
//! | `interval` | utf8 | `1d`, `5m`, … |
//! | `ts` | timestamp(µs, UTC) | bar start |
//! | `date` | date32 | session date in the exchange's zone |
//! | `open` `high` `low` `close` | float64 | |
//! | `adj_close` | float64, nullable | |
//! | `volume` | int64 | |
//!
//! Every actions file, sorted by `ts` then `action`, unique per (`symbol`, `action`, `ts`):
//! `symbol` utf8, `ts` timestamp(µs, UTC), `date` date32, `action` utf8 (`dividend`, `split`,
//! `capital_gain`), `amount` float64 (null for splits), `numerator` and `denominator` float64
//! (null unless split), `currency` utf8 nullable (dividends only).
//!
//! Files carry the key-value metadata `backfill.format` = `bars/1` or `actions/1`.
//!
//! # What other readers see
//!
//! The `symbol` and `interval` columns inside the files are authoritative and equal to the hive
//! values after URL-decoding. Tested (see `tests/python/test_store_readers.py`) with:
//!
//! - pyarrow: `pyarrow.dataset.dataset("<store>/bars", partitioning="hive")`
//! - Polars: `pl.scan_parquet("<store>/bars/**/*.parquet", hive_partitioning=True)`
//! - `DuckDB`: `read_parquet('<store>/bars/**/*.parquet', hive_partitioning = true)`
//! - pandas: `pd.read_parquet("<store>/bars", partitioning=None)` — pandas' default hive
//!   partitioning infers dictionary-typed partition columns that clash with the string columns in
//!   the files; `partitioning=None` reads the columns from the files, which already hold them.
//!
//! Readers never see partial files: temp files are named `.<file>.<pid>.<n>.tmp` (hidden, and not
//! `*.parquet`), and a file appears under its final name only complete.
//!
//! # Commit protocol
//!
//! Every file (Parquet or JSON) is replaced the same way: write the new content to a temp file in
//! the same directory, `fsync` it, `rename` it over the old name, `fsync` the directory (new
//! directories are fsynced into their parents too). A reader or a crash sees the old file or the
//! new one, never a mix. An upsert reads the partition, merges in memory (one partition at a time:
//! one symbol's daily file, or one month of intraday bars), and skips the write when nothing
//! changed. Temp files whose writer is gone (pid not alive, or older than 6 hours) are removed by
//! [`Store::open`].
//!
//! The ledger is written after the data it describes (the caller upserts, then records): after a
//! crash it may lag the data, never lead it.
//!
//! # Locking
//!
//! Writes to one (symbol, interval) — bars and its ledger — take a per-series lock: an in-process
//! mutex, then an exclusive advisory lock (`flock`, via [`std::fs::File::lock`]) on
//! `_meta/locks/bars/interval=<i>/<symbol>.lock`. The read-merge-write happens under it, so two
//! processes upserting the same series never lose each other's rows. Actions and meta have their
//! own per-symbol locks. Readers take no lock. Advisory locks do not work across machines on
//! most network filesystems: use one writer host per store.
//!
//! # Storage seam
//!
//! All file access goes through a small internal `Backend` trait (open/read/commit/remove/list/lock on
//! relative paths) implemented by a local-filesystem backend, so an object-store backend
//! (conditional PUT instead of rename) can be added without touching the format code.

mod actions;
mod backend;
mod bars;
mod encode;
mod error;
mod flagged;
mod ledger;
mod problems;
mod store;

pub use actions::actions_schema;
pub use bars::bars_schema;
pub use encode::{decode_symbol, encode_symbol};
pub use error::StoreError;
pub use flagged::Flagged;
pub use ledger::{Ledger, LedgerEntry};
pub use store::{SeriesSummary, Store, StoreProblem, UpsertStats};
