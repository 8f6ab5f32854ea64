//! [`Store`]: the public face of the crate.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

use backfill_domain::{Action, Bar, Interval, Symbol, SymbolMeta, TimeRange};
use bytes::Bytes;
use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::backend::{Backend, Blob, PutMode, Version, join};
use crate::basis::Basis;
use crate::counted::{Counted, IoStats};
use crate::encode::decode_symbol;
use crate::flagged::{self, Flagged};
use crate::intent::{self, Intent};
use crate::layout::{
    TOP_LEVEL, actions_key, bars_dir, closures_key, flagged_key, intent_key, is_part_name,
    ledger_key, meta_key, part_key, part_range, part_span,
};
use crate::ledger::{self, Ledger, LedgerEntry};
use crate::location::{Location, StoreOptions};
use crate::{StoreError, actions, bars, closures};

/// A file's bars, its version and its basis record.
pub(crate) type StampedBars = (Vec<Bar>, Option<Version>, Option<Basis>);

/// What an upsert (or replace) did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpsertStats {
    /// Bars whose `ts` was not stored before.
    pub inserted: u64,
    /// Bars whose `ts` was stored with different values (the new values won).
    pub updated: u64,
    /// Bars stored already with exactly these values.
    pub unchanged: u64,
    /// Bars stored for the whole series afterwards.
    pub rows_total: u64,
    /// Partition files (re)written or removed; 0 when nothing changed.
    pub files_written: u64,
    /// Bytes of the partition files written by an upsert (0 for a replace, which stages its
    /// files through a multi-file commit and does not count them).
    pub bytes_written: u64,
}

/// Rows and first/last bar of a stored series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesSummary {
    /// Bars stored.
    pub rows: u64,
    /// Start of the first bar.
    pub first_ts: Timestamp,
    /// Start of the last bar.
    pub last_ts: Timestamp,
    /// Session date of the first bar.
    pub first_date: Date,
    /// Session date of the last bar.
    pub last_date: Date,
}

/// A file or directory in the store that is not what the layout says it should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreProblem {
    /// Where it is (a path, or a URL for object storage).
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

/// A store: a directory or a prefix of a bucket. See the [crate docs](crate) for the layout, the
/// commit protocol and concurrency.
///
/// `Send + Sync`: share one behind an `Arc` and call it from several threads; writes to one series
/// are serialised within the process, writes to different series run in parallel, and writers in
/// other processes or on other machines are reconciled by conditional writes. All calls block.
#[derive(Debug)]
pub struct Store {
    pub(crate) backend: Counted,
    local_root: Option<PathBuf>,
    read_only: bool,
    /// Series (and symbols' actions or meta) being written by this process.
    held: Mutex<HashSet<String>>,
    released: Condvar,
}

/// Held while this process writes a series (or a symbol's actions or meta).
pub(crate) struct Guard<'a> {
    store: &'a Store,
    key: String,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        let mut held = self
            .store
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        held.remove(&self.key);
        drop(held);
        self.store.released.notify_all();
    }
}

/// Leftovers of killed writers older than this are removed when a store is opened for writing.
pub(crate) const STALE_AGE: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);

/// How many times a conditional write is tried before giving up with [`StoreError::Contended`].
pub(crate) const MAX_ATTEMPTS: u32 = 32;

/// Waits a little before retrying a lost race: grows with the attempt, jittered so that two
/// racing writers drift apart.
pub(crate) fn backoff(attempt: u32) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let base = u64::from(attempt.min(8)) * 4;
    std::thread::sleep(Duration::from_millis(base + u64::from(nanos % 8)));
}

impl Store {
    /// Opens (creating if needed) the store in directory `root`, for reading and writing.
    ///
    /// Errors: as [`open_location`](Store::open_location).
    pub fn open(root: impl Into<PathBuf>) -> Result<Store, StoreError> {
        let root = root.into();
        let backend = Location::Dir(root).backend(&StoreOptions::default())?;
        Store::with_backend(backend, false)
    }

    /// Opens the store at `location`: a directory (`./data`, `file:///srv/bars`) or an
    /// object-storage URL (`s3://bucket/prefix`, `gs://bucket/prefix`, `az://container/prefix`,
    /// `memory://` for a fresh in-memory store), reached with the standard environment variables
    /// of its cloud and `options`.
    ///
    /// Opening is cheap: one listing of the root, and, unless read-only, one listing of
    /// `_meta/intents/` (finishing any multi-file commit a killed writer left pending) and of
    /// `_meta/tmp/` (removing local temp files older than an hour). Nothing walks the tree.
    ///
    /// Errors: [`StoreError::Location`] for a URL that cannot be used; [`StoreError::Remote`] when
    /// the bucket does not exist, the credentials are refused or nothing answers (nothing is
    /// written); [`StoreError::Foreign`] when the location holds things that are not a store;
    /// [`StoreError::Io`].
    pub fn open_location(location: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        let backend = Location::parse(location)?.backend(options)?;
        Store::with_backend(backend, options.read_only)
    }

    fn with_backend(backend: Box<dyn Backend>, read_only: bool) -> Result<Store, StoreError> {
        let local_root = backend_root(&*backend);
        backend.prepare(!read_only)?;
        let store = Store {
            backend: Counted::new(backend),
            local_root,
            read_only,
            held: Mutex::new(HashSet::new()),
            released: Condvar::new(),
        };
        store.check_not_foreign()?;
        if !read_only {
            for key in store.backend.clean(
                crate::backend::local::TEMP_DIR,
                Timestamp::now() - STALE_AGE,
            )? {
                tracing::info!(file = %store.backend.describe(&key), "removed a temp file left by an interrupted write");
            }
            store.finish_pending()?;
        }
        Ok(store)
    }

    fn check_not_foreign(&self) -> Result<(), StoreError> {
        let foreign: Vec<String> = self
            .backend
            .list("")?
            .into_iter()
            .filter(|e| {
                !(e.name.starts_with('.') || e.is_dir && TOP_LEVEL.contains(&e.name.as_str()))
            })
            .map(|e| format!("`{}{}`", e.name, if e.is_dir { "/" } else { "" }))
            .collect();
        if foreign.is_empty() {
            return Ok(());
        }
        let more = foreign.len().saturating_sub(3);
        let mut names = foreign.into_iter().take(3).collect::<Vec<_>>().join(", ");
        if more > 0 {
            let _ = write!(names, " and {more} more");
        }
        Err(StoreError::Foreign {
            location: self.backend.location().to_owned(),
            names,
        })
    }

    /// Finishes every pending multi-file commit (see `crate::intent`).
    fn finish_pending(&self) -> Result<(), StoreError> {
        for idir in self.backend.list("_meta/intents")? {
            let Some(interval) = idir
                .name
                .strip_prefix("interval=")
                .and_then(|i| Interval::parse(i).ok())
                .filter(|_| idir.is_dir)
            else {
                continue;
            };
            for f in self.backend.list(&join("_meta/intents", &idir.name))? {
                let Some(symbol) = f.name.strip_suffix(".json").and_then(decode_symbol) else {
                    continue;
                };
                let _guard = self.lock_series(&symbol, interval);
                self.settle(&symbol, interval)?;
            }
        }
        Ok(())
    }

    /// The store's directory, when it is a local one.
    pub fn root(&self) -> Option<&Path> {
        self.local_root.as_deref()
    }

    /// Where the store is, for messages: its directory or its URL (never credentials).
    pub fn location(&self) -> &str {
        self.backend.location()
    }

    /// Whether the store was opened read-only.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Requests sent to the backend since the store was opened, and races lost and retried.
    pub fn io_stats(&self) -> IoStats {
        self.backend.stats()
    }

    pub(crate) fn describe(&self, key: &str) -> PathBuf {
        PathBuf::from(self.backend.describe(key))
    }

    pub(crate) fn ensure_writable(&self, what: &str) -> Result<(), StoreError> {
        if self.read_only {
            return Err(StoreError::InvalidInput {
                what: what.to_owned(),
                reason: format!("the store `{}` was opened read-only", self.location()),
            });
        }
        Ok(())
    }

    fn lock(&self, key: String) -> Guard<'_> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        while held.contains(&key) {
            held = self
                .released
                .wait(held)
                .unwrap_or_else(PoisonError::into_inner);
        }
        held.insert(key.clone());
        Guard { store: self, key }
    }

    pub(crate) fn lock_series(&self, symbol: &Symbol, interval: Interval) -> Guard<'_> {
        self.lock(bars_dir(symbol, interval))
    }

    fn lock_symbol(&self, what: &str, symbol: &Symbol) -> Guard<'_> {
        self.lock(format!("{what}/{symbol}"))
    }

    /// The partition names (`all`, `2024-10`, …) stored for a series, sorted (chronologically).
    pub(crate) fn parts(
        &self,
        symbol: &Symbol,
        interval: Interval,
    ) -> Result<Vec<String>, StoreError> {
        Ok(self
            .backend
            .list(&bars_dir(symbol, interval))?
            .into_iter()
            .filter(|e| !e.is_dir && is_part_name(interval, &e.name))
            .map(|e| e.name.trim_end_matches(".parquet").to_owned())
            .collect())
    }

    /// The bars stored in one file and its version; empty and `None` if it does not exist.
    pub(crate) fn read_file_bars(
        &self,
        key: &str,
        symbol: &Symbol,
        interval: Interval,
    ) -> Result<(Vec<Bar>, Option<Version>), StoreError> {
        self.read_file_basis(key, symbol, interval)
            .map(|(bars, version, _)| (bars, version))
    }

    /// [`read_file_bars`](Store::read_file_bars), and the file's basis record (`None` for a file
    /// without one, or no file).
    pub(crate) fn read_file_basis(
        &self,
        key: &str,
        symbol: &Symbol,
        interval: Interval,
    ) -> Result<StampedBars, StoreError> {
        match self.backend.get(key)? {
            None => Ok((Vec::new(), None, None)),
            Some((blob, v)) => {
                let (bars, basis) = bars::decode_with_basis(blob, symbol, interval)
                    .map_err(|reason| StoreError::corrupt("bars", self.describe(key), reason))?;
                Ok((bars, Some(v), basis))
            }
        }
    }

    /// The pending multi-file commit of a series, if any.
    pub(crate) fn pending(
        &self,
        symbol: &Symbol,
        interval: Interval,
    ) -> Result<Option<Intent>, StoreError> {
        let key = intent_key(symbol, interval);
        let Some(bytes) = self.read_doc(&key)? else {
            return Ok(None);
        };
        intent::from_json(symbol, interval, &bytes)
            .map(Some)
            .map_err(|r| StoreError::corrupt("intent", self.describe(&key), r))
    }

    /// What a partition holds as readers through this crate see it: the stored file, with a
    /// pending multi-file commit applied.
    fn read_part(
        &self,
        symbol: &Symbol,
        interval: Interval,
        part: &str,
        pending: Option<&Intent>,
    ) -> Result<Vec<Bar>, StoreError> {
        let (stored, _) =
            self.read_file_bars(&part_key(symbol, interval, part), symbol, interval)?;
        let Some(p) = pending.and_then(|i| i.parts.iter().find(|p| p.part == part)) else {
            return Ok(stored);
        };
        let staged = match &p.staged {
            Some(key) => match self.backend.get(key)? {
                Some((blob, _)) => bars::decode(blob, symbol, interval)
                    .map_err(|r| StoreError::corrupt("bars", self.describe(key), r))?,
                // Finished by another writer in the meantime: the stored file is the result.
                None => return Ok(stored),
            },
            None => Vec::new(),
        };
        Ok(intent::overlay(&stored, &p.removed, &staged))
    }

    /// The partitions of a series as readers see them, and the pending commit they must apply.
    fn view(
        &self,
        symbol: &Symbol,
        interval: Interval,
    ) -> Result<(Vec<String>, Option<Intent>), StoreError> {
        let pending = self.pending(symbol, interval)?;
        let mut parts: BTreeSet<String> = self.parts(symbol, interval)?.into_iter().collect();
        if let Some(i) = &pending {
            parts.extend(i.parts.iter().map(|p| p.part.clone()));
        }
        Ok((parts.into_iter().collect(), pending))
    }

    /// The stored bars of a series, sorted by `ts`, optionally only those starting in `range`.
    /// Empty if nothing is stored. Reads only the partitions that overlap `range`. A multi-file
    /// commit in progress is seen whole or not at all.
    ///
    /// Errors: [`StoreError::Corrupt`] naming the file if a partition is not valid.
    pub fn read_bars(
        &self,
        symbol: &Symbol,
        interval: Interval,
        range: Option<TimeRange>,
    ) -> Result<Vec<Bar>, StoreError> {
        let (parts, pending) = self.view(symbol, interval)?;
        let mut out = Vec::new();
        for part in parts {
            if let (Some(want), Some(have)) = (range, part_range(&part))
                && want.intersect(&have).is_none()
            {
                continue;
            }
            let mut bars = self.read_part(symbol, interval, &part, pending.as_ref())?;
            if let Some(want) = range {
                bars.retain(|b| want.contains(b.ts));
            }
            out.append(&mut bars);
        }
        out.sort_by_key(|b| b.ts);
        Ok(out)
    }

    /// Rows and first/last bar of a series from the Parquet footers (no data pages are read
    /// unless a file lacks statistics or a multi-file commit is pending). `None` if nothing is
    /// stored.
    ///
    /// Errors: [`StoreError::Corrupt`] naming the file if a partition is not valid.
    pub fn summary(
        &self,
        symbol: &Symbol,
        interval: Interval,
    ) -> Result<Option<SeriesSummary>, StoreError> {
        let (parts, pending) = self.view(symbol, interval)?;
        let mut acc: Option<bars::Extent> = None;
        for part in parts {
            let key = part_key(symbol, interval, &part);
            let extent = if pending.is_some() {
                bars::Extent::of(&self.read_part(symbol, interval, &part, pending.as_ref())?)
            } else {
                let Some((blob, _)) = self.backend.get(&key)? else {
                    continue;
                };
                let corrupt = |r: String| StoreError::corrupt("bars", self.describe(&key), r);
                let meta = bars::read_footer(&blob).map_err(corrupt)?;
                if let Some(e) = bars::footer_extent(&meta).map_err(corrupt)? {
                    Some(e)
                } else {
                    bars::Extent::of(&bars::decode(blob, symbol, interval).map_err(corrupt)?)
                }
            };
            if let Some(e) = extent {
                acc = Some(acc.map_or(e, |a| a.join(e)));
            }
        }
        let Some(ext) = acc else {
            return Ok(None);
        };
        let dir = self.describe(&bars_dir(symbol, interval));
        let corrupt = |r: String| StoreError::corrupt("bars", dir.clone(), r);
        Ok(Some(SeriesSummary {
            rows: ext.rows,
            first_ts: bars::micros_ts(ext.ts_min).map_err(corrupt)?,
            last_ts: bars::micros_ts(ext.ts_max).map_err(corrupt)?,
            first_date: bars::days_date(ext.date_min).map_err(corrupt)?,
            last_date: bars::days_date(ext.date_max).map_err(corrupt)?,
        }))
    }

    /// The partition files of a series that cannot be read as what their path says, each with
    /// the reason. Reads every partition of the series; changes nothing.
    pub fn damaged(
        &self,
        symbol: &Symbol,
        interval: Interval,
    ) -> Result<Vec<StoreProblem>, StoreError> {
        let mut out = Vec::new();
        for part in self.parts(symbol, interval)? {
            let key = part_key(symbol, interval, &part);
            match self.read_file_bars(&key, symbol, interval) {
                Ok(_) => {}
                Err(StoreError::Corrupt { path, reason, .. }) => {
                    out.push(StoreProblem { path, reason });
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Every (symbol, interval) with at least one partition file, sorted. Directories that do not
    /// follow the layout are skipped here and reported by [`problems`](Store::problems).
    pub fn list_series(&self) -> Result<Vec<(Symbol, Interval)>, StoreError> {
        let mut out = Vec::new();
        for idir in self.backend.list("bars")? {
            let Some(interval) = idir
                .name
                .strip_prefix("interval=")
                .and_then(|i| Interval::parse(i).ok())
                .filter(|i| idir.is_dir && i.as_str() == &idir.name["interval=".len()..])
            else {
                continue;
            };
            for sdir in self.backend.list(&join("bars", &idir.name))? {
                let Some(symbol) = sdir.name.strip_prefix("symbol=").and_then(decode_symbol) else {
                    continue;
                };
                if sdir.is_dir && !self.parts(&symbol, interval)?.is_empty() {
                    out.push((symbol, interval));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// The coverage ledger of a series; empty if nothing was recorded.
    ///
    /// Coverage is only claimed for data that is there: when a partition file the ledger saw
    /// when it was last recorded is gone (deleted, or moved into `_meta/quarantine/`), its time
    /// span is left out, so the next run fetches it again. A store opened for writing also
    /// records that in the ledger file.
    ///
    /// Errors: [`StoreError::Corrupt`] naming the JSON file if it cannot be parsed.
    pub fn ledger(&self, symbol: &Symbol, interval: Interval) -> Result<Ledger, StoreError> {
        let key = ledger_key(symbol, interval);
        let Some(bytes) = self.read_doc(&key)? else {
            return Ok(Ledger::default());
        };
        let file = ledger::from_json(symbol, interval, &bytes)
            .map_err(|r| StoreError::corrupt("ledger", self.describe(&key), r))?;
        let listed = self.parts(symbol, interval)?;
        let mut ledger = file.ledger.clone();
        if !forget_missing(&mut ledger, file.parts.as_deref(), &listed) {
            return Ok(ledger);
        }
        tracing::warn!(%symbol, %interval, "bars files recorded in the ledger are gone; their sessions count as missing again");
        if !self.read_only {
            let _guard = self.lock_series(symbol, interval);
            self.update_doc(&key, |old| {
                let Some(old) = old else { return Ok(None) };
                let mut f = ledger::from_json(symbol, interval, &old)
                    .map_err(|r| StoreError::corrupt("ledger", self.describe(&key), r))?;
                forget_missing(&mut f.ledger, f.parts.as_deref(), &listed);
                Ok(Some(ledger::to_json(symbol, interval, &f.ledger, &listed)))
            })?;
        }
        Ok(ledger)
    }

    /// Merges `entry` into the ledger of a series (see [`Ledger::record`]) and commits it with a
    /// conditional write (re-read and retried when another writer got there first). Call it after
    /// the bars it describes were upserted: the ledger may lag the data, never lead it.
    ///
    /// Errors: [`StoreError::Corrupt`] if the existing ledger cannot be parsed (it is not
    /// overwritten); [`StoreError::Contended`]; [`StoreError::Io`] / [`StoreError::Remote`].
    pub fn record_coverage(
        &self,
        symbol: &Symbol,
        interval: Interval,
        entry: LedgerEntry,
    ) -> Result<(), StoreError> {
        self.ensure_writable("coverage")?;
        let _guard = self.lock_series(symbol, interval);
        let key = ledger_key(symbol, interval);
        let listed = self.parts(symbol, interval)?;
        self.update_doc(&key, |old| {
            let mut ledger = match old {
                None => Ledger::default(),
                Some(b) => {
                    let f = ledger::from_json(symbol, interval, &b)
                        .map_err(|r| StoreError::corrupt("ledger", self.describe(&key), r))?;
                    let mut l = f.ledger;
                    forget_missing(&mut l, f.parts.as_deref(), &listed);
                    l
                }
            };
            ledger.record(entry);
            Ok(Some(ledger::to_json(symbol, interval, &ledger, &listed)))
        })?;
        Ok(())
    }

    /// The bars of a series that failed validation, sorted by `ts`; empty if none were recorded.
    ///
    /// Errors: [`StoreError::Corrupt`] naming the JSON file if it cannot be parsed.
    pub fn flagged(&self, symbol: &Symbol, interval: Interval) -> Result<Vec<Flagged>, StoreError> {
        let key = flagged_key(symbol, interval);
        match self.read_doc(&key)? {
            None => Ok(Vec::new()),
            Some(b) => flagged::from_json(&b)
                .map_err(|r| StoreError::corrupt("flagged bars", self.describe(&key), r)),
        }
    }

    /// Records the validation result of a fetch of `range`: flags inside `range` are replaced by
    /// `new` (a bar that is fine now loses its flag), flags elsewhere stay. Committed with a
    /// conditional write; writes nothing when there is nothing to change.
    ///
    /// Errors: [`StoreError::Corrupt`] if the existing file cannot be parsed (it is not
    /// overwritten); [`StoreError::Io`] / [`StoreError::Remote`].
    pub fn record_flagged(
        &self,
        symbol: &Symbol,
        interval: Interval,
        range: TimeRange,
        new: &[Flagged],
    ) -> Result<(), StoreError> {
        self.ensure_writable("flagged bars")?;
        let _guard = self.lock_series(symbol, interval);
        let key = flagged_key(symbol, interval);
        self.update_doc(&key, |old| {
            let old = match old {
                None => Vec::new(),
                Some(b) => flagged::from_json(&b)
                    .map_err(|r| StoreError::corrupt("flagged bars", self.describe(&key), r))?,
            };
            let merged = flagged::merge(old.clone(), range, new);
            Ok((merged != old).then(|| flagged::to_json(symbol, interval, &merged)))
        })?;
        Ok(())
    }

    /// Merges actions by (`ts`, kind): new values win. Returns how many were new or changed;
    /// writes nothing when that is 0. Committed with a conditional write, re-merged on a lost race.
    ///
    /// Errors: [`StoreError::Corrupt`] if the stored actions file is not valid (left untouched).
    pub fn upsert_actions(&self, symbol: &Symbol, new: &[Action]) -> Result<usize, StoreError> {
        self.ensure_writable("actions")?;
        let _guard = self.lock_symbol("actions", symbol);
        let mut normalised = Vec::with_capacity(new.len());
        for a in new {
            let mut a = a.clone();
            a.ts = bars::micros_ts(bars::ts_micros(a.ts)).map_err(|reason| {
                StoreError::InvalidInput {
                    what: format!("actions of `{symbol}`"),
                    reason,
                }
            })?;
            normalised.push(a);
        }
        let key = actions_key(symbol);
        for attempt in 0..MAX_ATTEMPTS {
            let (stored, version) = match self.backend.get(&key)? {
                None => (Vec::new(), None),
                Some((blob, v)) => (
                    actions::decode(blob, symbol)
                        .map_err(|r| StoreError::corrupt("actions", self.describe(&key), r))?,
                    Some(v),
                ),
            };
            let mut all: BTreeMap<(i64, &'static str), Action> =
                stored.into_iter().map(|a| (actions::key(&a), a)).collect();
            let mut changed = 0;
            for a in &normalised {
                if all.get(&actions::key(a)) != Some(a) {
                    changed += 1;
                }
                all.insert(actions::key(a), a.clone());
            }
            if changed == 0 {
                return Ok(0);
            }
            let list: Vec<Action> = all.into_values().collect();
            let bytes = actions::encode(symbol, &list).map_err(|reason| StoreError::Encode {
                what: format!("actions of `{symbol}`"),
                path: self.describe(&key),
                reason,
            })?;
            match self
                .backend
                .put(&key, Bytes::from(bytes), &PutMode::after(version.as_ref()))?
            {
                Ok(_) => return Ok(changed),
                Err(_) => backoff(attempt),
            }
        }
        Err(StoreError::Contended {
            path: self.describe(&key),
            attempts: MAX_ATTEMPTS,
        })
    }

    /// The stored actions of a symbol, sorted by `ts` then kind. Empty if none.
    ///
    /// Errors: [`StoreError::Corrupt`] naming the file if it is not valid.
    pub fn read_actions(&self, symbol: &Symbol) -> Result<Vec<Action>, StoreError> {
        let key = actions_key(symbol);
        match self.backend.get(&key)? {
            None => Ok(Vec::new()),
            Some((blob, _)) => actions::decode(blob, symbol)
                .map_err(|r| StoreError::corrupt("actions", self.describe(&key), r)),
        }
    }

    /// Stores what the provider said about a symbol, replacing what was stored. Writes nothing
    /// when it is unchanged.
    ///
    /// Errors: [`StoreError::InvalidInput`] if `meta.symbol` is `None`; [`StoreError::Io`].
    pub fn write_meta(&self, meta: &SymbolMeta) -> Result<(), StoreError> {
        let Some(symbol) = &meta.symbol else {
            return Err(StoreError::InvalidInput {
                what: "symbol meta".to_owned(),
                reason: "it has no `symbol`".to_owned(),
            });
        };
        self.ensure_writable("symbol meta")?;
        let _guard = self.lock_symbol("meta", symbol);
        let mut bytes = serde_json::to_vec_pretty(meta).expect("meta serialises");
        bytes.push(b'\n');
        self.update_doc(&meta_key(symbol), |old| {
            Ok((old.as_deref() != Some(&bytes[..])).then(|| bytes.clone()))
        })?;
        Ok(())
    }

    /// The closures learned for a venue without a built-in calendar (days its sessions were
    /// answered without a bar); empty if none were recorded.
    ///
    /// Errors: [`StoreError::Corrupt`] naming the JSON file if it cannot be parsed.
    pub fn learned_closures(&self, venue: &str) -> Result<BTreeSet<Date>, StoreError> {
        let key = closures_key(venue);
        match self.read_doc(&key)? {
            None => Ok(BTreeSet::new()),
            Some(b) => closures::from_json(venue, &b)
                .map_err(|r| StoreError::corrupt("learned closures", self.describe(&key), r)),
        }
    }

    /// Adds `dates` to a venue's learned closures with a conditional write (a concurrent writer's
    /// dates are kept); writes nothing when they were all known.
    ///
    /// Errors: [`StoreError::Corrupt`] if the existing file cannot be parsed (it is not
    /// overwritten); [`StoreError::Io`].
    pub fn record_closures(&self, venue: &str, dates: &[Date]) -> Result<(), StoreError> {
        self.ensure_writable("learned closures")?;
        let key = closures_key(venue);
        let _guard = self.lock(format!("closures/{venue}"));
        self.update_doc(&key, |old| {
            let mut known = match old {
                None => BTreeSet::new(),
                Some(b) => closures::from_json(venue, &b)
                    .map_err(|r| StoreError::corrupt("learned closures", self.describe(&key), r))?,
            };
            let before = known.len();
            known.extend(dates.iter().copied());
            Ok((known.len() > before).then(|| closures::to_json(venue, &known)))
        })?;
        Ok(())
    }

    /// What was stored by [`write_meta`](Store::write_meta), if anything.
    ///
    /// Errors: [`StoreError::Corrupt`] naming the JSON file if it cannot be parsed or names
    /// another symbol.
    pub fn read_meta(&self, symbol: &Symbol) -> Result<Option<SymbolMeta>, StoreError> {
        let key = meta_key(symbol);
        let Some(bytes) = self.read_doc(&key)? else {
            return Ok(None);
        };
        let corrupt = |r: String| StoreError::corrupt("meta", self.describe(&key), r);
        let meta: SymbolMeta =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        if meta.symbol.as_ref() != Some(symbol) {
            return Err(corrupt(format!(
                "it describes `{}`",
                meta.symbol.as_ref().map_or("no symbol", Symbol::as_str)
            )));
        }
        Ok(Some(meta))
    }

    /// Reads a JSON document under `_meta/` (for example `_meta/runs/latest.json`); `None` if
    /// it does not exist.
    ///
    /// Errors: [`StoreError::InvalidInput`] for a key outside `_meta/`; [`StoreError::Corrupt`]
    /// if it does not parse as `T`.
    pub fn read_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        check_meta_key(key)?;
        let Some(bytes) = self.read_doc(key)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StoreError::corrupt("meta", self.describe(key), e.to_string()))
    }

    /// Read-modify-write of a JSON document under `_meta/`: `f` gets what is stored (`None` if
    /// nothing) and returns what to store, or `None` to leave it as it is. Committed with a
    /// conditional write; when another writer changed the document first, it is read again and
    /// `f` runs again (so `f` must be a pure function of its input).
    ///
    /// Errors: as [`read_json`](Store::read_json); [`StoreError::Contended`].
    pub fn update_json<T: Serialize + DeserializeOwned>(
        &self,
        key: &str,
        mut f: impl FnMut(Option<T>) -> Option<T>,
    ) -> Result<(), StoreError> {
        check_meta_key(key)?;
        self.ensure_writable(key)?;
        let _guard = self.lock(key.to_owned());
        self.update_doc(key, |old| {
            let old: Option<T> =
                match old {
                    None => None,
                    Some(b) => Some(serde_json::from_slice(&b).map_err(|e| {
                        StoreError::corrupt("meta", self.describe(key), e.to_string())
                    })?),
                };
            Ok(f(old).map(|new| {
                let mut v = serde_json::to_vec_pretty(&new).expect("documents serialise");
                v.push(b'\n');
                v
            }))
        })?;
        Ok(())
    }

    /// The whole content of a small file; `None` if it does not exist.
    pub(crate) fn read_doc(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        Ok(self.backend.get(key)?.map(|(blob, _)| blob.into_bytes()))
    }

    /// Read-modify-write of one small file with a conditional write, retried on a lost race.
    /// `f` returns the new content, or `None` to write nothing. Returns whether it wrote.
    pub(crate) fn update_doc(
        &self,
        key: &str,
        mut f: impl FnMut(Option<Bytes>) -> Result<Option<Vec<u8>>, StoreError>,
    ) -> Result<bool, StoreError> {
        for attempt in 0..MAX_ATTEMPTS {
            let (old, version) = match self.backend.get(key)? {
                None => (None, None),
                Some((blob, v)) => (Some(blob.into_bytes()), Some(v)),
            };
            let Some(new) = f(old)? else {
                return Ok(false);
            };
            match self
                .backend
                .put(key, Bytes::from(new), &PutMode::after(version.as_ref()))?
            {
                Ok(_) => return Ok(true),
                Err(_) => backoff(attempt),
            }
        }
        Err(StoreError::Contended {
            path: self.describe(key),
            attempts: MAX_ATTEMPTS,
        })
    }

    /// Scans the whole store (footers and JSON only, no data pages) for files and directories
    /// that do not belong: unreadable or foreign Parquet files, stray files under `bars/` that
    /// readers' `bars/**/*.parquet` globs would pick up, unparsable ledger or meta files.
    /// Nothing is changed.
    pub fn problems(&self) -> Result<Vec<StoreProblem>, StoreError> {
        crate::problems::scan(self)
    }

    pub(crate) fn backend(&self) -> &Counted {
        &self.backend
    }

    pub(crate) fn blob(&self, key: &str) -> Result<Option<Blob>, StoreError> {
        Ok(self.backend.get(key)?.map(|(b, _)| b))
    }
}

fn backend_root(b: &dyn Backend) -> Option<PathBuf> {
    let loc = b.location();
    Path::new(loc).is_absolute().then(|| PathBuf::from(loc))
}

fn check_meta_key(key: &str) -> Result<(), StoreError> {
    let ok = key.strip_prefix("_meta/").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .split('/')
                .all(|s| !s.is_empty() && s != "." && s != ".." && !s.contains('\\'))
            && ![
                "ledger/", "flagged/", "symbols/", "intents/", "staged/", "tmp/", "locks/",
            ]
            .iter()
            .any(|p| rest.starts_with(p))
    });
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidInput {
            what: format!("document `{key}`"),
            reason: "documents live under `_meta/`, outside the store's own directories".to_owned(),
        })
    }
}

/// Leaves out of `ledger` the spans of partitions it recorded that are no longer listed.
/// A ledger from before partitions were recorded (`recorded` is `None`) loses everything when
/// no partition is left although it counted rows. Returns whether anything was left out.
fn forget_missing(ledger: &mut Ledger, recorded: Option<&[String]>, listed: &[String]) -> bool {
    let before = ledger.clone();
    match recorded {
        Some(recorded) => {
            for p in recorded.iter().filter(|p| !listed.contains(p)) {
                ledger.forget(part_span(p));
            }
        }
        None => {
            if listed.is_empty() && ledger.entries.iter().any(|e| e.rows > 0) {
                ledger.entries.clear();
            }
        }
    }
    *ledger != before
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Store>();
        check::<StoreError>();
    }

    #[test]
    fn documents_stay_under_meta() {
        assert!(check_meta_key("_meta/runs/latest.json").is_ok());
        for bad in [
            "bars/x.json",
            "_meta/",
            "_meta/../x",
            "_meta/ledger/x.json",
            "_meta//x",
        ] {
            assert!(check_meta_key(bad).is_err(), "{bad}");
        }
    }
}
