//! Writes a small deterministic store for reader tests and prints a JSON manifest of what it
//! holds: `cargo run -q -p backfill-store --example write_sample_store -- <dir or URL>`.
//! A URL (`s3://bucket/prefix`) is reached with the standard environment variables
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`, …).
//!
//! Daily bars for `AIR.PA`, `^GSPC`, `EURUSD=X`, `BRK-B`, `MSFT` (weekdays of 2023), hourly bars
//! for `MSFT` and `EURUSD=X` over four months of 2024 (four files each), and some actions.

use std::collections::BTreeMap;

use backfill_domain::jiff::civil::Date;
use backfill_domain::jiff::tz::TimeZone;
use backfill_domain::jiff::{Timestamp, ToSpan};
use backfill_domain::{Action, ActionKind, Bar, Interval, Symbol, SymbolMeta, TimeRange};
use backfill_store::{LedgerEntry, Store, StoreOptions};

const DAILY: [&str; 5] = ["AIR.PA", "^GSPC", "EURUSD=X", "BRK-B", "MSFT"];
const HOURLY: [&str; 2] = ["MSFT", "EURUSD=X"];

fn weekdays(from: Date, to: Date) -> impl Iterator<Item = Date> {
    std::iter::successors(Some(from), |d| d.tomorrow().ok())
        .take_while(move |d| *d < to)
        .filter(|d| d.weekday().to_monday_one_offset() <= 5)
}

fn bar(ts: Timestamp, date: Date, v: f64, adj: bool) -> Bar {
    Bar {
        ts,
        date,
        open: v,
        high: v * 1.01,
        low: v * 0.99,
        close: v * 1.005,
        adj_close: adj.then_some(v * 0.98),
        volume: (v * 1000.0) as i64,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .ok_or("usage: write_sample_store <dir or URL>")?;
    let store = Store::open_location(&dir, &StoreOptions::default())?;
    let mut rows: BTreeMap<(String, String), u64> = BTreeMap::new();

    for (i, s) in DAILY.iter().enumerate() {
        let symbol = Symbol::parse(s)?;
        let bars: Vec<Bar> = weekdays(Date::constant(2023, 1, 2), Date::constant(2024, 1, 1))
            .enumerate()
            .map(|(n, d)| {
                let ts = d.to_zoned_datetime(TimeZone::UTC)?.timestamp();
                Ok(bar(
                    ts,
                    d,
                    100.0 * (i + 1) as f64 + n as f64,
                    *s != "EURUSD=X",
                ))
            })
            .collect::<Result<_, backfill_domain::jiff::Error>>()?;
        // Two overlapping upserts, as a real backfill would do.
        let (a, b) = bars.split_at(bars.len() / 2 + 10);
        store.upsert_bars(&symbol, Interval::D1, a)?;
        let st = store.upsert_bars(&symbol, Interval::D1, &bars[a.len() - 20..])?;
        assert_eq!(st.rows_total, bars.len() as u64);
        assert!(!b.is_empty());
        rows.insert(((*s).to_owned(), "1d".to_owned()), st.rows_total);
        // Ledger and meta live under `_meta/`, outside the `bars/**/*.parquet` glob.
        let range = TimeRange::new(bars[0].ts, bars[bars.len() - 1].ts + 24.hours())
            .ok_or("empty range")?;
        let entry = LedgerEntry {
            range,
            fetched_at: Timestamp::UNIX_EPOCH,
            rows: st.rows_total,
            provisional: false,
        };
        store.record_coverage(&symbol, Interval::D1, entry)?;
        store.write_meta(&SymbolMeta {
            symbol: Some(symbol.clone()),
            ..SymbolMeta::default()
        })?;
    }

    for (i, s) in HOURLY.iter().enumerate() {
        let symbol = Symbol::parse(s)?;
        let mut bars = Vec::new();
        for (n, d) in weekdays(Date::constant(2024, 8, 1), Date::constant(2024, 12, 1)).enumerate()
        {
            for h in 14..21 {
                let ts = d.to_zoned_datetime(TimeZone::UTC)?.timestamp() + h.hours();
                bars.push(bar(
                    ts,
                    d,
                    50.0 * (i + 1) as f64 + n as f64 + f64::from(h) / 100.0,
                    i == 0,
                ));
            }
        }
        let st = store.upsert_bars(&symbol, Interval::H1, &bars)?;
        rows.insert(((*s).to_owned(), "1h".to_owned()), st.rows_total);
    }

    let t = |y, m, d| -> Result<(Timestamp, Date), backfill_domain::jiff::Error> {
        let date = Date::new(y, m, d)?;
        Ok((date.to_zoned_datetime(TimeZone::UTC)?.timestamp(), date))
    };
    let action = |(ts, date): (Timestamp, Date), kind| Action { ts, date, kind };
    let dividend = |amount, cur: &str| ActionKind::Dividend {
        amount,
        currency: Some(cur.to_owned()),
    };
    let actions: Vec<(&str, Vec<Action>)> = vec![
        (
            "AIR.PA",
            vec![action(t(2023, 4, 21)?, dividend(1.8, "EUR"))],
        ),
        (
            "MSFT",
            vec![
                action(t(2023, 2, 15)?, dividend(0.68, "USD")),
                action(t(2023, 5, 17)?, dividend(0.68, "USD")),
                action(
                    t(2023, 6, 1)?,
                    ActionKind::Split {
                        numerator: 2.0,
                        denominator: 1.0,
                    },
                ),
            ],
        ),
        (
            "BRK-B",
            vec![action(
                t(2023, 3, 1)?,
                ActionKind::CapitalGain { amount: 0.1 },
            )],
        ),
    ];
    let mut action_rows = BTreeMap::new();
    for (s, list) in &actions {
        store.upsert_actions(&Symbol::parse(s)?, list)?;
        action_rows.insert((*s).to_owned(), list.len());
    }

    let series: Vec<_> = rows
        .iter()
        .map(|((s, i), n)| serde_json::json!({"symbol": s, "interval": i, "rows": n}))
        .collect();
    let manifest = serde_json::json!({
        "series": series,
        "total_rows": rows.values().sum::<u64>(),
        "hourly_files_per_symbol": 4,
        "actions": action_rows,
    });
    #[expect(clippy::print_stdout, reason = "the manifest is this example's output")]
    {
        println!("{manifest}");
    }
    Ok(())
}
