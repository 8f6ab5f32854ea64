//! Writing bars: upserts (one file at a time) and replacements (all-or-nothing over files).

use std::collections::{BTreeMap, BTreeSet};

use backfill_domain::{Bar, Interval, Symbol, TimeRange};
use bytes::Bytes;
use jiff::Timestamp;

use crate::backend::{Backend, PutMode, join};
use crate::basis::Basis;
use crate::intent::{self, INTENT_FORMAT, Intent, IntentPart};
use crate::layout::{intent_key, part_key, part_of, part_span, staged_dir};
use crate::store::{MAX_ATTEMPTS, STALE_AGE, backoff};
use crate::{Store, StoreError, UpsertStats, bars};

/// Merges sorted, unique `new` into sorted, unique `old`; new values win.
fn merge(old: &[Bar], new: &[Bar], stats: &mut UpsertStats) -> Vec<Bar> {
    let mut out = Vec::with_capacity(old.len() + new.len());
    let mut old = old.iter().peekable();
    for n in new {
        while let Some(o) = old.next_if(|o| o.ts < n.ts) {
            out.push(*o);
        }
        match old.next_if(|o| o.ts == n.ts) {
            Some(o) if bars::same_bar(o, n) => stats.unchanged += 1,
            Some(_) => stats.updated += 1,
            None => stats.inserted += 1,
        }
        out.push(*n);
    }
    out.extend(old.copied());
    out
}

fn same_bars(a: &[Bar], b: &[Bar]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| bars::same_bar(x, y))
}

/// Sorts by `ts` at µs precision, keeping the last bar of each `ts`, grouped by partition.
pub(crate) fn normalise(
    symbol: &Symbol,
    interval: Interval,
    input: &[Bar],
) -> Result<BTreeMap<String, Vec<Bar>>, StoreError> {
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
    Ok(groups)
}

/// What one partition write did.
struct PartWrite {
    /// Rows in the file afterwards.
    rows: u64,
    /// Whether the file was written or removed.
    written: bool,
    /// Bytes written (0 when nothing was written or the file was removed).
    bytes: u64,
}

/// What a partition write does with the file's basis record (see [`crate::basis`]).
#[derive(Clone, Copy)]
enum Record<'a> {
    /// The rows are on the basis the file records: keep the record.
    Keep,
    /// The new rows are on this basis: check the stored rows are too, then record it.
    Check(&'a Basis),
    /// Every row is on this basis now (a re-basing): record it.
    Set(&'a Basis),
}

/// A unique id for a multi-file commit: time, process and a counter.
fn commit_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}-{}",
        Timestamp::now().as_microsecond(),
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

impl Store {
    /// Merges `bars` into the stored series by `ts`: new values win, other stored bars stay.
    /// Within `bars`, a later bar with the same `ts` wins. Idempotent; when nothing changes no
    /// file is written (`files_written == 0`). Timestamps are stored at microsecond precision.
    ///
    /// Each partition file is replaced with a conditional write: when another writer (another
    /// process or machine) changed it since it was read, it is read again, merged again and
    /// retried, so neither loses rows. An upsert spanning several intraday months commits them
    /// one after the other (a crash can leave some months updated, none torn, and every row a
    /// month holds is one the provider sent).
    ///
    /// Errors: [`StoreError::Corrupt`] if a partition it must merge into is not a valid file
    /// (the file is left untouched); [`StoreError::Contended`]; [`StoreError::Io`] /
    /// [`StoreError::Remote`].
    pub fn upsert_bars(
        &self,
        symbol: &Symbol,
        interval: Interval,
        bars: &[Bar],
    ) -> Result<UpsertStats, StoreError> {
        self.upsert(symbol, interval, bars, None)
    }

    /// [`upsert_bars`](Store::upsert_bars) for bars on `basis` (the splits and dividends the
    /// provider had applied when it served them). Every file written records `basis`.
    ///
    /// Errors: as [`upsert_bars`](Store::upsert_bars), and [`StoreError::BasisChanged`], with
    /// that file unwritten, when a stored file the bars go into records a basis whose prices
    /// differ from `basis` over that file's stored bars (a split or, for daily and coarser bars,
    /// a dividend after its first bar that only one of them has): re-base the series first
    /// ([`rebase_bars`](Store::rebase_bars)).
    pub fn upsert_bars_on(
        &self,
        symbol: &Symbol,
        interval: Interval,
        bars: &[Bar],
        basis: &Basis,
    ) -> Result<UpsertStats, StoreError> {
        self.upsert(symbol, interval, bars, Some(basis))
    }

    fn upsert(
        &self,
        symbol: &Symbol,
        interval: Interval,
        bars: &[Bar],
        basis: Option<&Basis>,
    ) -> Result<UpsertStats, StoreError> {
        self.ensure_writable(&format!("bars of `{symbol}` `{interval}`"))?;
        let groups = normalise(symbol, interval, bars)?;
        let _guard = self.lock_series(symbol, interval);
        self.settle(symbol, interval)?;
        let mut stats = UpsertStats::default();
        let mut rows_total = 0;
        for (part, new) in &groups {
            let mut attempt_stats = UpsertStats::default();
            let record = basis.map_or(Record::Keep, Record::Check);
            let w = self.write_part(symbol, interval, part, record, |stored| {
                attempt_stats = UpsertStats::default();
                merge(stored, new, &mut attempt_stats)
            })?;
            stats.inserted += attempt_stats.inserted;
            stats.updated += attempt_stats.updated;
            stats.unchanged += attempt_stats.unchanged;
            stats.files_written += u64::from(w.written);
            stats.bytes_written += w.bytes;
            rows_total += w.rows;
        }
        for part in self.parts(symbol, interval)? {
            if !groups.contains_key(&part) {
                rows_total += self.part_rows(symbol, interval, &part)?;
            }
        }
        stats.rows_total = rows_total;
        tracing::debug!(%symbol, %interval, ?stats, "bars upserted");
        Ok(stats)
    }

    /// Replaces the whole stored history of (symbol, interval) with `bars` (used when a refetch
    /// shows the provider's adjusted history drifted): [`replace_range`](Store::replace_range)
    /// over all of time.
    ///
    /// Errors: as [`replace_range`](Store::replace_range).
    pub fn replace_bars(
        &self,
        symbol: &Symbol,
        interval: Interval,
        bars: &[Bar],
    ) -> Result<UpsertStats, StoreError> {
        let all = TimeRange::new(Timestamp::MIN, Timestamp::MAX).expect("MIN < MAX");
        self.replace_range(symbol, interval, all, bars)
    }

    /// Replaces the stored bars of (symbol, interval) that start in `range` with `bars`; stored
    /// bars outside `range` stay. `inserted`/`updated`/`unchanged` compare with what was stored;
    /// stored bars in `range` that are not in `bars` are removed. The ledger is not touched.
    ///
    /// **All-or-nothing over files**: when the change spans several partition files (a split
    /// re-basing months of intraday bars), readers through this crate see all of it or none of
    /// it, and a crash at any point leaves either the old state or a pending commit that the next
    /// writer, or the next [`Store::open`], completes (see the crate docs, "Multi-file commits").
    /// Rows another writer adds meanwhile outside what this call removes are kept.
    ///
    /// Errors: [`StoreError::InvalidInput`] if a bar starts outside `range`; as
    /// [`upsert_bars`](Store::upsert_bars); a corrupt partition is never replaced silently.
    pub fn replace_range(
        &self,
        symbol: &Symbol,
        interval: Interval,
        range: TimeRange,
        bars: &[Bar],
    ) -> Result<UpsertStats, StoreError> {
        self.ensure_writable(&format!("bars of `{symbol}` `{interval}`"))?;
        if let Some(b) = bars.iter().find(|b| !range.contains(b.ts)) {
            return Err(StoreError::invalid_bars(
                symbol,
                interval,
                format!("bar at `{}` is outside the replaced range {range}", b.ts),
            ));
        }
        let groups = normalise(symbol, interval, bars)?;
        let _guard = self.lock_series(symbol, interval);
        for attempt in 0..MAX_ATTEMPTS {
            self.settle(symbol, interval)?;
            let mut touched: BTreeSet<String> = groups.keys().cloned().collect();
            for part in self.parts(symbol, interval)? {
                if part_span(&part).intersect(&range).is_some() {
                    touched.insert(part);
                }
            }
            let mut stats = UpsertStats::default();
            let mut plan: Vec<(IntentPart, Vec<Bar>, Vec<Bar>)> = Vec::new();
            for part in &touched {
                let (stored, _) =
                    self.read_file_bars(&part_key(symbol, interval, part), symbol, interval)?;
                let staged = groups.get(part).cloned().unwrap_or_default();
                let _ = merge(&stored, &staged, &mut stats);
                let keep: BTreeSet<i64> = staged.iter().map(|b| b.ts.as_microsecond()).collect();
                let removed: Vec<i64> = stored
                    .iter()
                    .filter(|b| range.contains(b.ts))
                    .map(|b| b.ts.as_microsecond())
                    .filter(|t| !keep.contains(t))
                    .collect();
                let result = intent::overlay(&stored, &removed, &staged);
                if !same_bars(&stored, &result) {
                    plan.push((
                        IntentPart {
                            part: part.clone(),
                            staged: None,
                            removed,
                            basis: None,
                        },
                        staged,
                        result,
                    ));
                }
            }
            let files = plan.len() as u64;
            if plan.len() == 1 {
                let (p, staged, _) = plan.pop().expect("one part");
                self.write_part(symbol, interval, &p.part, Record::Keep, |stored| {
                    intent::overlay(stored, &p.removed, &staged)
                })?;
            } else if plan.len() > 1 && !self.commit_parts(symbol, interval, plan)? {
                // Another writer's multi-file commit got in first: finish it, then plan again.
                backoff(attempt);
                continue;
            }
            stats.files_written = files;
            stats.rows_total = self.parts(symbol, interval)?.iter().try_fold(0, |acc, p| {
                self.part_rows(symbol, interval, p).map(|n| acc + n)
            })?;
            tracing::debug!(%symbol, %interval, ?stats, "bars replaced");
            return Ok(stats);
        }
        Err(StoreError::Contended {
            path: self.describe(&intent_key(symbol, interval)),
            attempts: MAX_ATTEMPTS,
        })
    }

    /// Stages the new partitions, creates the intent (the commit point) and applies it.
    /// `false` when another writer's intent exists (nothing of this commit became visible).
    pub(crate) fn commit_parts(
        &self,
        symbol: &Symbol,
        interval: Interval,
        plan: Vec<(IntentPart, Vec<Bar>, Vec<Bar>)>,
    ) -> Result<bool, StoreError> {
        self.clean_staged(symbol, interval)?;
        let id = commit_id();
        let dir = join(&staged_dir(symbol, interval), &id);
        let mut parts = Vec::with_capacity(plan.len());
        for (mut p, staged, _) in plan {
            if !staged.is_empty() {
                let key = join(&dir, &format!("{}.parquet", p.part));
                let bytes = self.encode_bars(symbol, interval, &key, &staged, None)?;
                self.backend
                    .put(&key, bytes, &PutMode::Create)?
                    .map_err(|_| StoreError::Contended {
                        path: self.describe(&key),
                        attempts: 1,
                    })?;
                p.staged = Some(key);
            }
            parts.push(p);
        }
        let intent = Intent {
            format: INTENT_FORMAT.to_owned(),
            symbol: symbol.clone(),
            interval,
            id,
            created_at: Timestamp::now(),
            parts,
        };
        let key = intent_key(symbol, interval);
        if self
            .backend
            .put(
                &key,
                Bytes::from(intent::to_json(&intent)),
                &PutMode::Create,
            )?
            .is_err()
        {
            for p in &intent.parts {
                if let Some(k) = &p.staged {
                    self.backend.delete(k)?;
                }
            }
            return Ok(false);
        }
        self.apply(&intent)?;
        Ok(true)
    }

    /// Completes the pending multi-file commit of a series, if there is one. Call it holding
    /// the series guard.
    pub(crate) fn settle(&self, symbol: &Symbol, interval: Interval) -> Result<(), StoreError> {
        if let Some(intent) = self.pending(symbol, interval)? {
            tracing::info!(%symbol, %interval, id = %intent.id, "completing a multi-file commit left pending");
            self.apply(&intent)?;
        }
        Ok(())
    }

    /// Applies an intent to every partition it names, then removes it and its staged files.
    /// Idempotent: any number of writers may run it, in any interleaving.
    fn apply(&self, intent: &Intent) -> Result<(), StoreError> {
        let (symbol, interval) = (&intent.symbol, intent.interval);
        for p in &intent.parts {
            let staged = match &p.staged {
                None => Vec::new(),
                Some(key) => {
                    let Some((blob, _)) = self.backend.get(key)? else {
                        // Staged files are removed only after the intent: if ours is gone, the
                        // commit was completed by another writer.
                        if self
                            .pending(symbol, interval)?
                            .is_none_or(|i| i.id != intent.id)
                        {
                            return Ok(());
                        }
                        return Err(StoreError::corrupt(
                            "intent",
                            self.describe(&intent_key(symbol, interval)),
                            format!("its staged file `{key}` is missing"),
                        ));
                    };
                    bars::decode(blob, symbol, interval)
                        .map_err(|r| StoreError::corrupt("bars", self.describe(key), r))?
                }
            };
            let record = p.basis.as_ref().map_or(Record::Keep, Record::Set);
            self.write_part(symbol, interval, &p.part, record, |stored| {
                intent::overlay(stored, &p.removed, &staged)
            })?;
        }
        self.backend.delete(&intent_key(symbol, interval))?;
        for p in &intent.parts {
            if let Some(k) = &p.staged {
                self.backend.delete(k)?;
            }
        }
        Ok(())
    }

    /// Removes staged files of multi-file commits that never reached their commit point (the
    /// writer died while staging), by age.
    fn clean_staged(&self, symbol: &Symbol, interval: Interval) -> Result<(), StoreError> {
        let dir = staged_dir(symbol, interval);
        let old = Timestamp::now() - STALE_AGE;
        for sub in self.backend.list(&dir)? {
            let sub_key = join(&dir, &sub.name);
            let files = if sub.is_dir {
                self.backend.list(&sub_key)?
            } else {
                Vec::new()
            };
            for f in files {
                if f.modified.is_some_and(|m| m < old) {
                    self.backend.delete(&join(&sub_key, &f.name))?;
                }
            }
        }
        Ok(())
    }

    /// Rewrites one partition as `f(stored rows)` with a conditional write, re-reading and
    /// re-running `f` when another writer got there first. Writes nothing when `f` changes
    /// nothing (and the basis record stays); removes the file when `f` leaves it empty.
    ///
    /// `record` says what the file's basis record becomes (see [`Record`]).
    fn write_part(
        &self,
        symbol: &Symbol,
        interval: Interval,
        part: &str,
        record: Record<'_>,
        mut f: impl FnMut(&[Bar]) -> Vec<Bar>,
    ) -> Result<PartWrite, StoreError> {
        let key = part_key(symbol, interval, part);
        let basis = match record {
            Record::Keep => None,
            Record::Check(b) | Record::Set(b) => Some(b),
        };
        for attempt in 0..MAX_ATTEMPTS {
            let (stored, version, stamp) = self.read_file_basis(&key, symbol, interval)?;
            if let (Record::Check(want), Some(first)) = (record, stored.first()) {
                let have = match &stamp {
                    Some(b) => b.clone(),
                    None => self.legacy_basis(symbol)?,
                };
                if have.differs_after(want, first.ts, !interval.is_intraday()) {
                    return Err(StoreError::BasisChanged {
                        symbol: symbol.clone(),
                        interval,
                        path: self.describe(&key),
                    });
                }
            }
            let new = f(&stored);
            let record = basis.or(stamp.as_ref());
            if same_bars(&stored, &new) && (basis.is_none() || stamp.as_ref() == basis) {
                return Ok(PartWrite {
                    rows: new.len() as u64,
                    written: false,
                    bytes: 0,
                });
            }
            if new.is_empty() {
                self.backend.delete(&key)?;
                return Ok(PartWrite {
                    rows: 0,
                    written: true,
                    bytes: 0,
                });
            }
            let bytes = self.encode_bars(symbol, interval, &key, &new, record)?;
            let size = bytes.len() as u64;
            if self
                .backend
                .put(&key, bytes, &PutMode::after(version.as_ref()))?
                .is_ok()
            {
                return Ok(PartWrite {
                    rows: new.len() as u64,
                    written: true,
                    bytes: size,
                });
            }
            tracing::debug!(%symbol, %interval, part, attempt, "lost a write race; merging again");
            backoff(attempt);
        }
        Err(StoreError::Contended {
            path: self.describe(&key),
            attempts: MAX_ATTEMPTS,
        })
    }

    fn encode_bars(
        &self,
        symbol: &Symbol,
        interval: Interval,
        key: &str,
        bars: &[Bar],
        basis: Option<&Basis>,
    ) -> Result<Bytes, StoreError> {
        bars::encode(symbol, interval, bars, basis)
            .map(Bytes::from)
            .map_err(|reason| StoreError::Encode {
                what: format!("bars of `{symbol}` `{interval}`"),
                path: self.describe(key),
                reason,
            })
    }

    fn part_rows(
        &self,
        symbol: &Symbol,
        interval: Interval,
        part: &str,
    ) -> Result<u64, StoreError> {
        let key = part_key(symbol, interval, part);
        let Some(blob) = self.blob(&key)? else {
            return Ok(0);
        };
        let meta = bars::read_footer(&blob)
            .map_err(|r| StoreError::corrupt("bars", self.describe(&key), r))?;
        Ok(meta.file_metadata().num_rows() as u64)
    }
}
