//! Which provider a series (symbol, interval) came from, so that a series never mixes two, and
//! the switch of a series to another provider (its whole history replaced).
//!
//! The record is a small JSON document, `_meta/providers/interval=1d/MSFT.json` =
//! `{"provider": "tiingo"}`, read and written through the backend (so it works on object storage
//! as on a local disk) with the same conditional writes as every other document.

use backfill_domain::{Bar, Interval, Symbol};
use serde::{Deserialize, Serialize};

use crate::layout::{ledger_key, provider_key};
use crate::store::Store;
use crate::{Ledger, StoreError, UpsertStats, ledger};

/// The provider of a series stored before providers were recorded: Yahoo, the only one then.
pub const LEGACY_PROVIDER: &str = "yahoo";

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Record {
    provider: String,
}

impl Store {
    /// The provider a series came from: the one recorded, else [`LEGACY_PROVIDER`] for a series
    /// with bars stored before providers were recorded; `None` for a series with no record and
    /// no bars (nothing to mix with).
    ///
    /// Errors: [`StoreError::Corrupt`] if the record does not parse; listing errors.
    pub fn series_provider(
        &self,
        symbol: &Symbol,
        interval: Interval,
    ) -> Result<Option<String>, StoreError> {
        if let Some(r) = self.read_json::<Record>(&provider_key(symbol, interval))? {
            return Ok(Some(r.provider));
        }
        Ok((!self.parts(symbol, interval)?.is_empty()).then(|| LEGACY_PROVIDER.to_owned()))
    }

    /// Records `provider` as the source of a series.
    ///
    /// Errors: as [`Store::update_json`].
    pub fn record_series_provider(
        &self,
        symbol: &Symbol,
        interval: Interval,
        provider: &str,
    ) -> Result<(), StoreError> {
        self.update_json::<Record>(&provider_key(symbol, interval), |old| {
            (old.as_ref().map(|r| r.provider.as_str()) != Some(provider)).then(|| Record {
                provider: provider.to_owned(),
            })
        })
    }

    /// Switches a series to `provider`: its whole stored history is replaced by `bars` in one
    /// commit ([`Store::replace_bars`], all-or-nothing over files), then its ledger is replaced by
    /// `ledger` (what the new provider answered), then `provider` is recorded. A crash after the
    /// bars leaves the old record, so the next run still sees a series of the old provider and
    /// switches it again when asked to; the ledger never claims more than the bars hold.
    ///
    /// Errors: as [`Store::replace_bars`] and [`Store::update_json`].
    pub fn switch_series(
        &self,
        symbol: &Symbol,
        interval: Interval,
        provider: &str,
        bars: &[Bar],
        new_ledger: &Ledger,
    ) -> Result<UpsertStats, StoreError> {
        let stats = self.replace_bars(symbol, interval, bars)?;
        {
            let _guard = self.lock_series(symbol, interval);
            let key = ledger_key(symbol, interval);
            let listed = self.parts(symbol, interval)?;
            self.update_doc(&key, |_| {
                Ok(Some(ledger::to_json(symbol, interval, new_ledger, &listed)))
            })?;
        }
        self.record_series_provider(symbol, interval, provider)?;
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use backfill_domain::TimeRange;
    use jiff::Timestamp;

    use super::*;
    use crate::LedgerEntry;

    fn bar(ts: &str, price: f64) -> Bar {
        let ts: Timestamp = ts.parse().unwrap();
        Bar {
            ts,
            date: ts.to_zoned_datetime(jiff::tz::TimeZone::UTC).date(),
            open: price,
            high: price,
            low: price,
            close: price,
            adj_close: Some(price),
            volume: 1,
        }
    }

    #[test]
    fn a_switch_replaces_history_and_ledger_and_records_the_provider() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("s")).unwrap();
        let (s, i) = (Symbol::parse("MSFT").unwrap(), Interval::D1);
        assert_eq!(store.series_provider(&s, i).unwrap(), None);
        let old = [
            bar("2024-01-02T14:30:00Z", 1.0),
            bar("2024-01-03T14:30:00Z", 2.0),
        ];
        store.upsert_bars(&s, i, &old).unwrap();
        assert_eq!(
            store.series_provider(&s, i).unwrap().as_deref(),
            Some(LEGACY_PROVIDER),
            "bars without a record were Yahoo's"
        );
        let range =
            |a: &str, b: &str| TimeRange::new(a.parse().unwrap(), b.parse().unwrap()).unwrap();
        store
            .record_coverage(
                &s,
                i,
                LedgerEntry {
                    range: range("2024-01-01T00:00:00Z", "2024-01-04T00:00:00Z"),
                    fetched_at: "2024-01-05T00:00:00Z".parse().unwrap(),
                    rows: 2,
                    provisional: false,
                },
            )
            .unwrap();
        store.record_series_provider(&s, i, "alpaca").unwrap();
        assert_eq!(
            store.series_provider(&s, i).unwrap().as_deref(),
            Some("alpaca")
        );

        let new = [bar("2024-01-03T14:30:00Z", 2.5)];
        let ledger = Ledger {
            entries: vec![LedgerEntry {
                range: range("2024-01-03T00:00:00Z", "2024-01-04T00:00:00Z"),
                fetched_at: "2024-01-06T00:00:00Z".parse().unwrap(),
                rows: 1,
                provisional: false,
            }],
        };
        store.switch_series(&s, i, "tiingo", &new, &ledger).unwrap();
        assert_eq!(store.read_bars(&s, i, None).unwrap(), new);
        assert_eq!(store.ledger(&s, i).unwrap(), ledger);
        assert_eq!(
            store.series_provider(&s, i).unwrap().as_deref(),
            Some("tiingo")
        );
    }
}
