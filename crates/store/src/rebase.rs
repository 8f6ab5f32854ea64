//! Re-basing a stored series onto a new split/dividend basis, in one multi-file commit.

use backfill_domain::{Bar, Interval, Symbol, TimeRange};
use jiff::Timestamp;

use crate::basis::Basis;
use crate::intent::IntentPart;
use crate::layout::{intent_key, part_key};
use crate::store::{MAX_ATTEMPTS, Store, backoff};
use crate::write::normalise;
use crate::{StoreError, bars};

/// What [`Store::rebase_bars`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RebaseStats {
    /// Stored bars put on the new basis by the split ratio (no fresh bar replaced them).
    pub divided: u64,
    /// Fresh bars written (new values win over stored ones).
    pub refreshed: u64,
    /// Stored bars inside the refetched ranges that the refetch did not return. They are kept
    /// (re-based like the others), never deleted.
    pub missing_from_refetch: u64,
    /// Partition files rewritten.
    pub files_written: u64,
}

impl Store {
    /// The intervals stored for `symbol` (at least one partition file), in [`Interval::ALL`]'s order.
    ///
    /// Errors: [`StoreError::Io`] / [`StoreError::Remote`] if a listing fails.
    pub fn intervals(&self, symbol: &Symbol) -> Result<Vec<Interval>, StoreError> {
        let mut out = Vec::new();
        for interval in Interval::ALL {
            if !self.parts(symbol, interval)?.is_empty() {
                out.push(interval);
            }
        }
        Ok(out)
    }

    /// The basis of a file written before basis records existed: the symbol's stored actions.
    pub(crate) fn legacy_basis(&self, symbol: &Symbol) -> Result<Basis, StoreError> {
        Ok(Basis::from_actions(&self.read_actions(symbol)?))
    }

    /// Whether every stored file of the series records a basis whose prices (and, for daily and
    /// coarser bars, `adj_close`) equal those on `target` over that file's bars, and no
    /// multi-file commit is pending. Reads footers only. A file without a record is on the basis
    /// of the symbol's stored actions.
    ///
    /// Errors: [`StoreError::Corrupt`] naming a file whose footer or record is not valid.
    pub fn is_on_basis(
        &self,
        symbol: &Symbol,
        interval: Interval,
        target: &Basis,
    ) -> Result<bool, StoreError> {
        if self.pending(symbol, interval)?.is_some() {
            return Ok(false);
        }
        let mut legacy: Option<Basis> = None;
        for part in self.parts(symbol, interval)? {
            let key = part_key(symbol, interval, &part);
            let Some(blob) = self.blob(&key)? else {
                continue;
            };
            let corrupt = |r: String| StoreError::corrupt("bars", self.describe(&key), r);
            let meta = bars::read_footer(&blob).map_err(corrupt)?;
            let stamp = bars::footer_basis(&meta).map_err(corrupt)?;
            let first = match bars::footer_extent(&meta).map_err(corrupt)? {
                Some(e) => Some(bars::micros_ts(e.ts_min).map_err(corrupt)?),
                None => bars::decode(blob, symbol, interval)
                    .map_err(corrupt)?
                    .first()
                    .map(|b| b.ts),
            };
            let Some(first) = first else { continue };
            if stamp.is_none() && legacy.is_none() {
                legacy = Some(self.legacy_basis(symbol)?);
            }
            let have = stamp
                .as_ref()
                .or(legacy.as_ref())
                .expect("one of them is set");
            if have.differs_after(target, first, !interval.is_intraday()) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Puts the stored series on `target` and merges `fresh` bars (fetched on `target`) into it:
    ///
    /// - every stored bar whose file records another basis is moved to `target` by the split
    ///   ratios ([`Basis::rebase`]): prices divided, volume multiplied;
    /// - then the fresh bars win over stored ones with the same `ts`;
    /// - a stored bar inside `fetched` that the refetch did not return is kept and counted in
    ///   [`RebaseStats::missing_from_refetch`]; nothing is deleted;
    /// - every file changed records `target`, in the same write as its prices.
    ///
    /// All the files change in one multi-file commit (see [`replace_range`](Store::replace_range)):
    /// readers through the store see the series wholly on one basis, and a crash leaves either
    /// nothing changed or a commit the next writer completes. A file that already records
    /// `target` is never divided again, so re-basing is idempotent, and an interrupted or
    /// concurrent one never divides twice.
    ///
    /// Errors: [`StoreError::Corrupt`] if a partition is not a valid file (left untouched);
    /// [`StoreError::Contended`]; [`StoreError::Io`] / [`StoreError::Remote`].
    pub fn rebase_bars(
        &self,
        symbol: &Symbol,
        interval: Interval,
        target: &Basis,
        fresh: &[Bar],
        fetched: &[TimeRange],
    ) -> Result<RebaseStats, StoreError> {
        self.ensure_writable(&format!("bars of `{symbol}` `{interval}`"))?;
        let groups = normalise(symbol, interval, fresh)?;
        let _guard = self.lock_series(symbol, interval);
        let in_fetched = |ts: Timestamp| fetched.iter().any(|r| r.contains(ts));
        for attempt in 0..MAX_ATTEMPTS {
            self.settle(symbol, interval)?;
            let mut parts = self.parts(symbol, interval)?;
            parts.extend(groups.keys().cloned());
            parts.sort();
            parts.dedup();
            let mut legacy: Option<Basis> = None;
            let mut stats = RebaseStats::default();
            let mut plan = Vec::new();
            for part in parts {
                let new = groups.get(&part).map_or(&[][..], Vec::as_slice);
                let (old, _, stamp) =
                    self.read_file_basis(&part_key(symbol, interval, &part), symbol, interval)?;
                if stamp.is_none() && legacy.is_none() {
                    legacy = Some(self.legacy_basis(symbol)?);
                }
                let have = stamp
                    .as_ref()
                    .or(legacy.as_ref())
                    .expect("one of them is set");
                let stale = old
                    .first()
                    .is_some_and(|f| have.differs_after(target, f.ts, !interval.is_intraday()));
                if !stale && new.is_empty() {
                    continue;
                }
                let mut merged: Vec<Bar> = Vec::with_capacity(old.len() + new.len());
                let mut fresh_iter = new.iter().peekable();
                let mut changed = stale || stamp.as_ref() != Some(target);
                for mut bar in old {
                    while let Some(n) = fresh_iter.next_if(|n| n.ts < bar.ts) {
                        merged.push(*n);
                        stats.refreshed += 1;
                        changed = true;
                    }
                    if let Some(n) = fresh_iter.next_if(|n| n.ts == bar.ts) {
                        changed |= !bars::same_bar(n, &bar);
                        merged.push(*n);
                        stats.refreshed += 1;
                        continue;
                    }
                    if in_fetched(bar.ts) {
                        stats.missing_from_refetch += 1;
                    }
                    if target.rebase(&mut bar, have) {
                        stats.divided += 1;
                    }
                    merged.push(bar);
                }
                for n in fresh_iter {
                    merged.push(*n);
                    stats.refreshed += 1;
                    changed = true;
                }
                if changed {
                    let p = IntentPart {
                        part,
                        staged: None,
                        removed: Vec::new(),
                        basis: Some(target.clone()),
                    };
                    plan.push((p, merged.clone(), merged));
                }
            }
            stats.files_written = plan.len() as u64;
            if plan.is_empty() || self.commit_parts(symbol, interval, plan)? {
                tracing::debug!(%symbol, %interval, ?stats, "series re-based");
                return Ok(stats);
            }
            // Another writer's multi-file commit got in first: finish it, then plan again.
            backoff(attempt);
        }
        Err(StoreError::Contended {
            path: self.describe(&intent_key(symbol, interval)),
            attempts: MAX_ATTEMPTS,
        })
    }
}
