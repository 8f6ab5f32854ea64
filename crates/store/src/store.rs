//! [`Store`]: the public face of the crate.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, PoisonError};

use backfill_domain::{Action, Bar, Interval, Symbol, SymbolMeta, TimeRange};
use jiff::Timestamp;
use jiff::civil::Date;

use crate::backend::{Backend, Local, LocalLock, temp_pid};
use crate::encode::{decode_symbol, encode_symbol};
use crate::flagged::{self, Flagged};
use crate::ledger::{self, Ledger, LedgerEntry};
use crate::{StoreError, actions, bars};

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
    /// Partition files (re)written; 0 when nothing changed.
    pub files_written: u64,
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
    /// Where it is.
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

/// A store directory. See the [crate docs](crate) for layout, commit protocol and locking.
///
/// `Send + Sync`: share one behind an `Arc` and call it from several threads; writes to one series
/// are serialised, writes to different series run in parallel. All calls block on disk I/O.
#[derive(Debug)]
pub struct Store {
    backend: Local,
    /// Lock files held by this process (the in-process half of the per-series lock).
    held: Mutex<HashSet<PathBuf>>,
    released: Condvar,
}

/// Held while a series (or a symbol's actions or meta) is being written: the in-process mutex
/// and the cross-process advisory lock.
struct Guard<'a> {
    store: &'a Store,
    key: PathBuf,
    file: Option<LocalLock>,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        drop(self.file.take());
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

const DAILY_PART: &str = "all";

fn bars_dir(symbol: &Symbol, interval: Interval) -> PathBuf {
    PathBuf::from(format!(
        "bars/interval={interval}/symbol={}",
        encode_symbol(symbol)
    ))
}

fn part_rel(symbol: &Symbol, interval: Interval, part: &str) -> PathBuf {
    bars_dir(symbol, interval).join(format!("{part}.parquet"))
}

pub(crate) fn ledger_rel(symbol: &Symbol, interval: Interval) -> PathBuf {
    PathBuf::from(format!(
        "_meta/ledger/interval={interval}/{}.json",
        encode_symbol(symbol)
    ))
}

fn flagged_rel(symbol: &Symbol, interval: Interval) -> PathBuf {
    PathBuf::from(format!(
        "_meta/flagged/interval={interval}/{}.json",
        encode_symbol(symbol)
    ))
}

fn meta_rel(symbol: &Symbol) -> PathBuf {
    PathBuf::from(format!("_meta/symbols/{}.json", encode_symbol(symbol)))
}

pub(crate) fn actions_rel(symbol: &Symbol) -> PathBuf {
    PathBuf::from(format!(
        "actions/symbol={}/actions.parquet",
        encode_symbol(symbol)
    ))
}

/// The time partition a bar belongs to: `all` for daily and coarser, the UTC month of its start
/// (`2024-10`) for intraday.
fn part_of(interval: Interval, ts: Timestamp) -> String {
    if interval.is_intraday() {
        let days = ts.as_second().div_euclid(86_400) as i32;
        let (y, m, _) = bars::civil_from_days(days);
        format!("{y:04}-{m:02}")
    } else {
        DAILY_PART.to_owned()
    }
}

/// The instants a month partition holds: `[first of month, first of next month)` UTC.
fn part_range(part: &str) -> Option<TimeRange> {
    let (y, m) = part.split_once('-')?;
    let (y, m): (i16, i8) = (y.parse().ok()?, m.parse().ok()?);
    let start = Date::new(y, m, 1).ok()?;
    let end = start.checked_add(jiff::Span::new().months(1)).ok()?;
    let ts = |d: Date| {
        d.to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp())
    };
    TimeRange::new(ts(start)?, ts(end)?)
}

pub(crate) fn is_part_name(interval: Interval, name: &str) -> bool {
    name.strip_suffix(".parquet").is_some_and(|p| {
        if interval.is_intraday() {
            p.len() == 7 && part_range(p).is_some()
        } else {
            p == DAILY_PART
        }
    })
}

/// Merges sorted, unique `new` into sorted, unique `old`; new values win.
fn merge(old: Vec<Bar>, new: &[Bar], stats: &mut UpsertStats) -> Vec<Bar> {
    let mut out = Vec::with_capacity(old.len() + new.len());
    let mut old = old.into_iter().peekable();
    for n in new {
        while let Some(o) = old.next_if(|o| o.ts < n.ts) {
            out.push(o);
        }
        match old.next_if(|o| o.ts == n.ts) {
            Some(o) if bars::same_bar(&o, n) => stats.unchanged += 1,
            Some(_) => stats.updated += 1,
            None => stats.inserted += 1,
        }
        out.push(*n);
    }
    out.extend(old);
    out
}

impl Store {
    /// Opens (creating if needed) the store at `root`, and removes temp files left behind by
    /// writers that crashed (their process is gone, or they are hours old).
    ///
    /// Errors: the directories cannot be created or listed ([`StoreError::Io`]).
    pub fn open(root: impl Into<PathBuf>) -> Result<Store, StoreError> {
        let root = root.into();
        let root = std::path::absolute(&root).map_err(|e| StoreError::io("resolve", &root, e))?;
        std::fs::create_dir_all(&root).map_err(|e| StoreError::io("create directory", &root, e))?;
        let backend = Local::new(root);
        for d in [
            "bars",
            "actions",
            "_meta/ledger",
            "_meta/symbols",
            "_meta/locks",
            "_meta/quarantine",
        ] {
            backend.ensure_dir(Path::new(d))?;
        }
        for p in backend.clean_stale_temps()? {
            tracing::info!(path = %p.display(), "removed a temp file left by an interrupted write");
        }
        Ok(Store {
            backend,
            held: Mutex::new(HashSet::new()),
            released: Condvar::new(),
        })
    }

    /// The store's root directory (absolute).
    pub fn root(&self) -> &Path {
        self.backend.root()
    }

    fn lock(&self, key: PathBuf) -> Result<Guard<'_>, StoreError> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        while held.contains(&key) {
            held = self
                .released
                .wait(held)
                .unwrap_or_else(PoisonError::into_inner);
        }
        held.insert(key.clone());
        drop(held);
        // From here on the guard releases the in-process half even if the file lock fails.
        let mut guard = Guard {
            store: self,
            key,
            file: None,
        };
        guard.file = Some(self.backend.lock(&guard.key)?);
        Ok(guard)
    }

    fn lock_series(&self, symbol: &Symbol, interval: Interval) -> Result<Guard<'_>, StoreError> {
        self.lock(PathBuf::from(format!(
            "_meta/locks/bars/interval={interval}/{}.lock",
            encode_symbol(symbol)
        )))
    }

    fn lock_symbol(&self, what: &str, symbol: &Symbol) -> Result<Guard<'_>, StoreError> {
        self.lock(PathBuf::from(format!(
            "_meta/locks/{what}/{}.lock",
            encode_symbol(symbol)
        )))
    }

    /// The partition names (`all`, `2024-10`, …) stored for a series, sorted (chronologically).
    fn parts(&self, symbol: &Symbol, interval: Interval) -> Result<Vec<String>, StoreError> {
        Ok(self
            .backend
            .list(&bars_dir(symbol, interval))?
            .into_iter()
            .filter(|(name, is_dir)| !is_dir && is_part_name(interval, name))
            .map(|(name, _)| name.trim_end_matches(".parquet").to_owned())
            .collect())
    }

    fn read_part(
        &self,
        symbol: &Symbol,
        interval: Interval,
        part: &str,
    ) -> Result<Vec<Bar>, StoreError> {
        let rel = part_rel(symbol, interval, part);
        match self.backend.open(&rel)? {
            None => Ok(Vec::new()),
            Some(f) => bars::decode(f, symbol, interval)
                .map_err(|reason| StoreError::corrupt("bars", self.backend.abs(&rel), reason)),
        }
    }

    fn part_rows(
        &self,
        symbol: &Symbol,
        interval: Interval,
        part: &str,
    ) -> Result<u64, StoreError> {
        let rel = part_rel(symbol, interval, part);
        let Some(f) = self.backend.open(&rel)? else {
            return Ok(0);
        };
        let meta = bars::read_footer(&f)
            .map_err(|r| StoreError::corrupt("bars", self.backend.abs(&rel), r))?;
        Ok(meta.file_metadata().num_rows() as u64)
    }

    /// Merges `bars` into the stored series by `ts`: new values win, other stored bars stay.
    /// Within `bars`, a later bar with the same `ts` wins. Idempotent; when nothing changes no
    /// file is written (`files_written == 0`). Timestamps are stored at microsecond precision.
    ///
    /// Each partition file is replaced atomically; an upsert spanning several intraday months
    /// commits them one after the other (a crash can leave some months updated, none torn).
    ///
    /// Errors: [`StoreError::Corrupt`] if a partition it must merge into is not a valid file
    /// (the file is left untouched); [`StoreError::Io`] for disk trouble.
    pub fn upsert_bars(
        &self,
        symbol: &Symbol,
        interval: Interval,
        bars: &[Bar],
    ) -> Result<UpsertStats, StoreError> {
        self.write_series(symbol, interval, bars, false)
    }

    /// Replaces the whole stored history of (symbol, interval) with `bars` (used when a refetch
    /// shows the provider's adjusted history drifted). `inserted`/`updated`/`unchanged` compare
    /// with what was stored; bars not in `bars` are dropped. The ledger is not touched.
    ///
    /// Errors: as [`upsert_bars`](Store::upsert_bars); a corrupt partition is never replaced
    /// silently.
    pub fn replace_bars(
        &self,
        symbol: &Symbol,
        interval: Interval,
        bars: &[Bar],
    ) -> Result<UpsertStats, StoreError> {
        self.write_series(symbol, interval, bars, true)
    }

    fn write_series(
        &self,
        symbol: &Symbol,
        interval: Interval,
        input: &[Bar],
        replace: bool,
    ) -> Result<UpsertStats, StoreError> {
        // Sort by ts (stable) and keep the last bar of each ts, at µs precision.
        let mut new: Vec<Bar> = input.to_vec();
        new.sort_by_key(|b| bars::ts_micros(b.ts));
        let mut dedup: Vec<Bar> = Vec::with_capacity(new.len());
        for mut b in new {
            b.ts = bars::micros_ts(bars::ts_micros(b.ts))
                .map_err(|r| StoreError::invalid_bars(symbol, interval, r))?;
            match dedup.last_mut() {
                Some(last) if last.ts == b.ts => *last = b,
                _ => dedup.push(b),
            }
        }
        let mut groups: BTreeMap<String, Vec<Bar>> = BTreeMap::new();
        for b in dedup {
            groups.entry(part_of(interval, b.ts)).or_default().push(b);
        }

        let _guard = self.lock_series(symbol, interval)?;
        let existing = self.parts(symbol, interval)?;
        let mut stats = UpsertStats::default();
        let mut rows_total = 0u64;
        for (part, new) in &groups {
            let old = if existing.contains(part) {
                self.read_part(symbol, interval, part)?
            } else {
                Vec::new()
            };
            let before = stats;
            let old_len = old.len();
            let merged = if replace {
                let _ = merge(old, new, &mut stats);
                new.clone()
            } else {
                merge(old, new, &mut stats)
            };
            let changed = stats.inserted + stats.updated > before.inserted + before.updated
                || merged.len() != old_len;
            if changed {
                let rel = part_rel(symbol, interval, part);
                let bytes = bars::encode(symbol, interval, &merged).map_err(|reason| {
                    StoreError::Encode {
                        what: format!("bars of `{symbol}` `{interval}`"),
                        path: self.backend.abs(&rel),
                        reason,
                    }
                })?;
                self.backend.commit(&rel, &bytes)?;
                stats.files_written += 1;
            }
            rows_total += merged.len() as u64;
        }
        for part in existing.iter().filter(|p| !groups.contains_key(*p)) {
            if replace {
                // Refuse to drop a file we cannot read: it may be the only copy of something.
                let old = self.read_part(symbol, interval, part)?;
                if !old.is_empty() {
                    self.backend.remove(&part_rel(symbol, interval, part))?;
                }
            } else {
                rows_total += self.part_rows(symbol, interval, part)?;
            }
        }
        stats.rows_total = rows_total;
        tracing::debug!(%symbol, %interval, ?stats, replace, "bars committed");
        Ok(stats)
    }

    /// The stored bars of a series, sorted by `ts`, optionally only those starting in `range`.
    /// Empty if nothing is stored. Reads only the partitions that overlap `range`.
    ///
    /// Errors: [`StoreError::Corrupt`] naming the file if a partition is not valid.
    pub fn read_bars(
        &self,
        symbol: &Symbol,
        interval: Interval,
        range: Option<TimeRange>,
    ) -> Result<Vec<Bar>, StoreError> {
        let mut out = Vec::new();
        for part in self.parts(symbol, interval)? {
            if let (Some(want), Some(have)) = (range, part_range(&part))
                && want.intersect(&have).is_none()
            {
                continue;
            }
            let mut bars = self.read_part(symbol, interval, &part)?;
            if let Some(want) = range {
                bars.retain(|b| want.contains(b.ts));
            }
            out.append(&mut bars);
        }
        out.sort_by_key(|b| b.ts);
        Ok(out)
    }

    /// Rows and first/last bar of a series from the Parquet footers (no data pages are read
    /// unless a file lacks statistics). `None` if nothing is stored.
    ///
    /// Errors: [`StoreError::Corrupt`] naming the file if a partition is not valid.
    pub fn summary(
        &self,
        symbol: &Symbol,
        interval: Interval,
    ) -> Result<Option<SeriesSummary>, StoreError> {
        let mut acc: Option<bars::Extent> = None;
        for part in self.parts(symbol, interval)? {
            let rel = part_rel(symbol, interval, &part);
            let Some(file) = self.backend.open(&rel)? else {
                continue;
            };
            let corrupt = |r: String| StoreError::corrupt("bars", self.backend.abs(&rel), r);
            let meta = bars::read_footer(&file).map_err(corrupt)?;
            let extent = if let Some(e) = bars::footer_extent(&meta).map_err(corrupt)? {
                Some(e)
            } else {
                bars::Extent::of(&self.read_part(symbol, interval, &part)?)
            };
            if let Some(e) = extent {
                acc = Some(acc.map_or(e, |a| a.join(e)));
            }
        }
        let Some(ext) = acc else {
            return Ok(None);
        };
        let dir = self.backend.abs(&bars_dir(symbol, interval));
        let corrupt = |r: String| StoreError::corrupt("bars", dir.clone(), r);
        Ok(Some(SeriesSummary {
            rows: ext.rows,
            first_ts: bars::micros_ts(ext.ts_min).map_err(corrupt)?,
            last_ts: bars::micros_ts(ext.ts_max).map_err(corrupt)?,
            first_date: bars::days_date(ext.date_min).map_err(corrupt)?,
            last_date: bars::days_date(ext.date_max).map_err(corrupt)?,
        }))
    }

    /// Every (symbol, interval) with at least one partition file, sorted. Directories that do not
    /// follow the layout are skipped here and reported by [`problems`](Store::problems).
    pub fn list_series(&self) -> Result<Vec<(Symbol, Interval)>, StoreError> {
        let mut out = Vec::new();
        for (idir, is_dir) in self.backend.list(Path::new("bars"))? {
            let Some(interval) = idir
                .strip_prefix("interval=")
                .and_then(|i| Interval::parse(i).ok())
                .filter(|i| is_dir && i.as_str() == &idir["interval=".len()..])
            else {
                continue;
            };
            for (sdir, is_dir) in self.backend.list(&Path::new("bars").join(&idir))? {
                let Some(symbol) = sdir.strip_prefix("symbol=").and_then(decode_symbol) else {
                    continue;
                };
                if is_dir && !self.parts(&symbol, interval)?.is_empty() {
                    out.push((symbol, interval));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// The coverage ledger of a series; empty if nothing was recorded.
    ///
    /// Errors: [`StoreError::Corrupt`] naming the JSON file if it cannot be parsed.
    pub fn ledger(&self, symbol: &Symbol, interval: Interval) -> Result<Ledger, StoreError> {
        let rel = ledger_rel(symbol, interval);
        match self.backend.read(&rel)? {
            None => Ok(Ledger::default()),
            Some(b) => ledger::from_json(symbol, interval, &b)
                .map_err(|r| StoreError::corrupt("ledger", self.backend.abs(&rel), r)),
        }
    }

    /// Merges `entry` into the ledger of a series (see [`Ledger::record`]) and commits it
    /// atomically, under the series lock. Call it after the bars it describes were upserted: the
    /// ledger may lag the data, never lead it.
    ///
    /// Errors: [`StoreError::Corrupt`] if the existing ledger cannot be parsed (it is not
    /// overwritten); [`StoreError::Io`].
    pub fn record_coverage(
        &self,
        symbol: &Symbol,
        interval: Interval,
        entry: LedgerEntry,
    ) -> Result<(), StoreError> {
        let _guard = self.lock_series(symbol, interval)?;
        let mut ledger = self.ledger(symbol, interval)?;
        ledger.record(entry);
        self.backend.commit(
            &ledger_rel(symbol, interval),
            &ledger::to_json(symbol, interval, &ledger),
        )
    }

    /// The bars of a series that failed validation, sorted by `ts`; empty if none were recorded.
    ///
    /// Errors: [`StoreError::Corrupt`] naming the JSON file if it cannot be parsed.
    pub fn flagged(&self, symbol: &Symbol, interval: Interval) -> Result<Vec<Flagged>, StoreError> {
        let rel = flagged_rel(symbol, interval);
        match self.backend.read(&rel)? {
            None => Ok(Vec::new()),
            Some(b) => flagged::from_json(&b)
                .map_err(|r| StoreError::corrupt("flagged bars", self.backend.abs(&rel), r)),
        }
    }

    /// Records the validation result of a fetch of `range`: flags inside `range` are replaced by
    /// `new` (a bar that is fine now loses its flag), flags elsewhere stay. Committed atomically
    /// under the series lock; writes nothing when there is nothing to change.
    ///
    /// Errors: [`StoreError::Corrupt`] if the existing file cannot be parsed (it is not
    /// overwritten); [`StoreError::Io`].
    pub fn record_flagged(
        &self,
        symbol: &Symbol,
        interval: Interval,
        range: TimeRange,
        new: &[Flagged],
    ) -> Result<(), StoreError> {
        let _guard = self.lock_series(symbol, interval)?;
        let old = self.flagged(symbol, interval)?;
        let merged = flagged::merge(old.clone(), range, new);
        if merged == old {
            return Ok(());
        }
        self.backend.commit(
            &flagged_rel(symbol, interval),
            &flagged::to_json(symbol, interval, &merged),
        )
    }

    /// Merges actions by (`ts`, kind): new values win. Returns how many were new or changed;
    /// writes nothing when that is 0.
    ///
    /// Errors: [`StoreError::Corrupt`] if the stored actions file is not valid (left untouched).
    pub fn upsert_actions(&self, symbol: &Symbol, new: &[Action]) -> Result<usize, StoreError> {
        let _guard = self.lock_symbol("actions", symbol)?;
        let mut all: BTreeMap<(i64, &'static str), Action> = self
            .read_actions(symbol)?
            .into_iter()
            .map(|a| (actions::key(&a), a))
            .collect();
        let mut changed = 0;
        for a in new {
            let mut a = a.clone();
            a.ts = bars::micros_ts(bars::ts_micros(a.ts)).map_err(|reason| {
                StoreError::InvalidInput {
                    what: format!("actions of `{symbol}`"),
                    reason,
                }
            })?;
            if all.get(&actions::key(&a)) != Some(&a) {
                changed += 1;
            }
            all.insert(actions::key(&a), a);
        }
        if changed > 0 {
            let rel = actions_rel(symbol);
            let list: Vec<Action> = all.into_values().collect();
            let bytes = actions::encode(symbol, &list).map_err(|reason| StoreError::Encode {
                what: format!("actions of `{symbol}`"),
                path: self.backend.abs(&rel),
                reason,
            })?;
            self.backend.commit(&rel, &bytes)?;
        }
        Ok(changed)
    }

    /// The stored actions of a symbol, sorted by `ts` then kind. Empty if none.
    ///
    /// Errors: [`StoreError::Corrupt`] naming the file if it is not valid.
    pub fn read_actions(&self, symbol: &Symbol) -> Result<Vec<Action>, StoreError> {
        let rel = actions_rel(symbol);
        match self.backend.open(&rel)? {
            None => Ok(Vec::new()),
            Some(f) => actions::decode(f, symbol)
                .map_err(|r| StoreError::corrupt("actions", self.backend.abs(&rel), r)),
        }
    }

    /// Stores what the provider said about a symbol, replacing what was stored.
    ///
    /// Errors: [`StoreError::InvalidInput`] if `meta.symbol` is `None`; [`StoreError::Io`].
    pub fn write_meta(&self, meta: &SymbolMeta) -> Result<(), StoreError> {
        let Some(symbol) = &meta.symbol else {
            return Err(StoreError::InvalidInput {
                what: "symbol meta".to_owned(),
                reason: "it has no `symbol`".to_owned(),
            });
        };
        let _guard = self.lock_symbol("meta", symbol)?;
        let mut bytes = serde_json::to_vec_pretty(meta).expect("meta serialises");
        bytes.push(b'\n');
        self.backend.commit(&meta_rel(symbol), &bytes)
    }

    /// What was stored by [`write_meta`](Store::write_meta), if anything.
    ///
    /// Errors: [`StoreError::Corrupt`] naming the JSON file if it cannot be parsed or names
    /// another symbol.
    pub fn read_meta(&self, symbol: &Symbol) -> Result<Option<SymbolMeta>, StoreError> {
        let rel = meta_rel(symbol);
        let Some(bytes) = self.backend.read(&rel)? else {
            return Ok(None);
        };
        let corrupt = |r: String| StoreError::corrupt("meta", self.backend.abs(&rel), r);
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

    /// Scans the whole store (footers and JSON only, no data pages) for files and directories
    /// that do not belong: unreadable or foreign Parquet files, stray files under `bars/` that
    /// readers' `bars/**/*.parquet` globs would pick up, unparsable ledger or meta files.
    /// Nothing is changed. In-flight temp files are not problems.
    pub fn problems(&self) -> Result<Vec<StoreProblem>, StoreError> {
        crate::problems::scan(self)
    }

    pub(crate) fn backend(&self) -> &Local {
        &self.backend
    }
}

pub(crate) fn is_temp(name: &str) -> bool {
    temp_pid(name).is_some()
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
    fn partitions() {
        let ts = |s: &str| s.parse::<Timestamp>().unwrap();
        assert_eq!(part_of(Interval::D1, ts("2024-10-31T23:00:00Z")), "all");
        assert_eq!(part_of(Interval::M5, ts("2024-10-31T23:55:00Z")), "2024-10");
        assert_eq!(part_of(Interval::M5, ts("2024-11-01T00:00:00Z")), "2024-11");
        assert_eq!(part_of(Interval::H1, ts("1969-12-31T23:00:00Z")), "1969-12");
        let r = part_range("2024-12").unwrap();
        assert_eq!(
            (r.start(), r.end()),
            (ts("2024-12-01T00:00:00Z"), ts("2025-01-01T00:00:00Z"))
        );
        assert!(is_part_name(Interval::M5, "2024-12.parquet"));
        assert!(!is_part_name(Interval::M5, "2024-13.parquet"));
        assert!(!is_part_name(Interval::M5, "all.parquet"));
        assert!(is_part_name(Interval::D1, "all.parquet"));
        assert!(!is_part_name(Interval::D1, ".all.parquet.1.2.tmp"));
    }
}
