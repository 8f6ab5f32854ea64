//! The backfill store: hive-partitioned Parquet bars and actions in a local directory or on object
//! storage (S3 and S3-compatible servers, GCS, Azure), with atomic, idempotent upserts,
//! all-or-nothing multi-file commits, a coverage ledger and optimistic concurrency between
//! writers on any number of machines.
//!
//! The main type is [`Store`], opened with [`Store::open`] (a directory) or
//! [`Store::open_location`] (a directory or a URL, with [`StoreOptions`]). Bars go in with
//! [`Store::upsert_bars`] (merge by `ts`, new values win), [`Store::replace_range`] or
//! [`Store::replace_bars`] (all-or-nothing over files), and come out with [`Store::read_bars`] or,
//! cheaply from Parquet footers, [`Store::summary`]. What the provider has answered (including "no
//! bars here") is kept in a [`Ledger`] of [`LedgerEntry`]s per series ([`Store::record_coverage`]).
//! Corporate actions ([`Store::upsert_actions`]), provider metadata ([`Store::write_meta`]) and
//! other JSON documents under `_meta/` ([`Store::update_json`]) live beside them; every run's
//! report is appended with [`Store::append_run`] and listed by [`Store::runs`].
//! [`Store::problems`] and [`Store::damaged`] report files that do not belong. Errors are
//! [`StoreError`]s naming the file or object and what to do. [`Store::io_stats`] counts requests.
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
//!     ├── flagged/interval=1d/MSFT.json      bars that failed validation
//!     ├── symbols/MSFT.json                  provider metadata (exchange, zone, currency, …)
//!     ├── providers/interval=1d/MSFT.json    the provider a series came from (`yahoo`, `tiingo`,
//!     │                                      `alpaca`); absent before providers were recorded
//!     ├── closures/NZE.json                  days a venue without a built-in calendar was closed,
//!     │                                      learned from empty answers
//!     ├── runs/20241227T210501.5Z-4242.json  one report per run, named by start time (UTC) and pid
//!     ├── intents/interval=5m/MSFT.json      a multi-file commit in progress (normally absent)
//!     ├── staged/interval=5m/MSFT/<id>/…     its staged partitions (normally absent)
//!     ├── tmp/                               local stores only: writes in flight
//!     ├── locks/…                            local stores only: lock files of conditional writes
//!     └── quarantine/                        put broken files here by hand; nothing reads it
//! ```
//!
//! On object storage `<store>` is `s3://bucket/prefix` (or `gs://…`, `az://…`) and every path
//! above is an object key under the prefix, byte for byte the same. A store location that holds
//! anything other than `bars/`, `actions/` and `_meta/` (and hidden names) is refused
//! ([`StoreError::Foreign`]) before anything is written.
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
//! Files carry the key-value metadata `backfill.format` = `bars/1` or `actions/1`. Bars files also
//! carry `backfill.basis`: the splits and dividends their prices reflect, as JSON (see [`Basis`]).
//! It is written in the same write as the prices, so re-basing a series after a new split
//! ([`Store::rebase_bars`], one multi-file commit) never divides a file twice and survives a crash
//! at any point; bars from a provider go in with [`Store::upsert_bars_on`], which refuses to merge
//! two bases.
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
//! Readers never see partial files: a local write is staged in `_meta/tmp/` and renamed into
//! place complete; an object-storage PUT is atomic.
//!
//! # Commit protocol
//!
//! Every file (Parquet or JSON) is changed by read-merge-write with a **conditional write**: a
//! file that did not exist is created only if it still does not (`If-None-Match: *`), a file
//! that did is replaced only if it is still the version that was read (`If-Match: <etag>`). A
//! writer that loses the race reads again, merges again and retries (at most 32 times, then
//! [`StoreError::Contended`]); [`IoStats::conflicts`] counts the lost races. So writers in
//! several processes, or on several machines sharing a bucket, never lose each other's rows, and
//! there is no lock service. On a local filesystem the same contract is kept with temp file +
//! `fsync` + `rename` + directory `fsync`, and the version check and rename happen under a short
//! `flock` on `_meta/locks/<key>.lock` (use one host per local store: `flock` does not span
//! hosts on most network filesystems). Within one process, writes to one series are serialised.
//! An upsert skips the write when nothing changed, so a normal run writes at most two files per
//! series: the partition it adds to, then its ledger.
//!
//! The ledger is written after the data it describes (the caller upserts, then records): after a
//! crash it may lag the data, never lead it. It also names the partition files the series had;
//! when one of them is gone (deleted, or moved into `_meta/quarantine/`), [`Store::ledger`] stops
//! claiming coverage for its span, so the next run fetches it again.
//!
//! # Multi-file commits
//!
//! A change spanning several partition files of one series ([`Store::replace_range`]; a split
//! re-basing months of intraday bars) is staged, made durable by creating one **intent** record
//! (the commit point), then applied file by file; see `intent.rs` for the exact steps. Readers
//! through this crate apply a pending intent in memory, so they see the change whole or not at
//! all; any writer of the series, and [`Store::open`], completes a pending intent first, so
//! plain readers (pyarrow, Polars, `DuckDB`) see a mixed state only until the next run starts.
//!
//! # Crash matrix
//!
//! | the process dies… | a reader through this crate sees | a plain reader sees | the next run |
//! |---|---|---|---|
//! | while writing a local temp file | the old file | the old file | removes temps older than 1 h from `_meta/tmp/` at open |
//! | during a PUT / rename of a partition | the old file or the new one | the same | re-fetches what the ledger lacks; the upsert is idempotent |
//! | after the data, before the ledger | the new data | the new data | asks again for that range (the ledger lags), merges the same rows: no duplicates |
//! | while staging a multi-file commit | the old state | the old state | removes staged files older than 1 h at the next multi-file commit of the series |
//! | after creating the intent, before or while applying it | the whole new state | some files old, some new | completes the intent at open (or at its first write of the series) |
//! | after applying, before deleting the intent and staged files | the new state | the new state | deletes them |
//!
//! A file is never half-written in any row: the unit of change is a whole file or object.
//!
//! On a local disk every write is durable when it returns: its temp file, the directory it is
//! renamed into and the parent of every directory it created are fsynced (see
//! `backend/local.rs`), so a power loss loses no write that returned. `_meta/tmp/` and
//! `_meta/locks/` are not fsynced: a power loss may take them, with temp files and lock files
//! that hold no data.
//!
//! # Concurrency caveats
//!
//! Deleting a file that a replace leaves empty is unconditional (object stores have no
//! conditional delete): a row another writer adds to that same partition in the instant between
//! the read and the delete is lost. Rows another writer changes while a
//! multi-file commit is pending take the committed values where both have the row.

mod actions;
mod backend;
mod bars;
mod basis;
mod closures;
mod counted;
mod encode;
mod error;
mod flagged;
mod intent;
mod layout;
mod ledger;
mod location;
mod problems;
mod provenance;
mod rebase;
mod runs;
mod store;
#[cfg(test)]
mod test_s3;
mod write;

pub use actions::actions_schema;
pub use bars::bars_schema;
pub use basis::{Basis, BasisSplit};
pub use counted::IoStats;
pub use encode::{decode_symbol, encode_symbol};
pub use error::StoreError;
pub use flagged::Flagged;
pub use ledger::{Ledger, LedgerEntry};
pub use location::StoreOptions;
pub use provenance::LEGACY_PROVIDER;
pub use rebase::RebaseStats;
pub use runs::RunRecord;
pub use store::{SeriesSummary, Store, StoreProblem, UpsertStats};
