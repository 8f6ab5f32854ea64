//! `check` with series of several providers.

use std::collections::BTreeMap;

use backfill_domain::{Interval, Symbol};
use backfill_engine::plan::WindowSpec;

use crate::store;

const NOW: &str = "2025-06-02T12:00:00Z";

/// `check` judges each series by its own provider's lookback: 5-minute sessions 90 days back are
/// "not available" from Yahoo (60 days) but missing from Alpaca (since 2016), which a run fetches.
#[test]
fn check_uses_the_series_providers_lookback() {
    let (_dir, store) = store();
    let (yahoo, alpaca) = (
        Symbol::parse("MSFT").unwrap(),
        Symbol::parse("AAPL").unwrap(),
    );
    store
        .record_series_provider(&yahoo, Interval::M5, "yahoo")
        .unwrap();
    store
        .record_series_provider(&alpaca, Interval::M5, "alpaca")
        .unwrap();
    let closures = BTreeMap::new();
    let tickers = [yahoo, alpaca];
    let report = backfill_engine::check::check(
        &store,
        &backfill_engine::check::CheckInput {
            tickers: &tickers,
            interval: Interval::M5,
            window: Some(WindowSpec {
                start: Some("2025-03-03".parse().unwrap()),
                end: Some("2025-03-07".parse().unwrap()),
                days: 5,
            }),
            default_days: 5,
            now: NOW.parse().unwrap(),
            closures: &closures,
            provider_window: backfill_provider::yahoo::yahoo_window(Interval::M5),
        },
    )
    .unwrap();
    let (y, a) = (&report.tickers[0], &report.tickers[1]);
    assert_eq!(y.provider.as_deref(), Some("yahoo"));
    assert_eq!(a.provider.as_deref(), Some("alpaca"));
    assert_eq!((y.sessions, y.not_available, y.missing), (5, 5, 0), "{y:?}");
    assert_eq!((a.sessions, a.not_available, a.missing), (5, 0, 5), "{a:?}");
}
