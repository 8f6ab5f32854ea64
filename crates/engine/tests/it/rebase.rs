//! Splits and dividends found by one interval's run re-base every stored series of the symbol,
//! exactly once, and a refetch that comes back short deletes nothing (fake provider, real store).

use std::collections::BTreeMap;
use std::sync::Arc;

use backfill_calendar::{Calendar, Exchange};
use backfill_domain::jiff::civil::{Date, date};
use backfill_domain::jiff::{SignedDuration, Timestamp};
use backfill_domain::{Action, ActionKind, Bar, Interval, Symbol, SymbolMeta};
use backfill_engine::plan::WindowSpec;
use backfill_engine::{Cancel, Engine, PrepareInput, RunReport, Silent, prepare};
use backfill_provider::fake::FakeProvider;
use backfill_provider::{Provider, Window};
use backfill_store::{Basis, Store};

use crate::{config, store, sym};

const SPLIT_DAY: Date = date(2024, 6, 24);

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// Unadjusted bars of `symbol` at `interval` (1d, or 1h on the hour from the open) for the XNYS
/// sessions of June 2024, and the same bars as a provider serves them once the 2:1 split of
/// [`SPLIT_DAY`] is known (prices halved, volume doubled before it).
fn history(interval: Interval) -> (Vec<Bar>, Vec<Bar>) {
    let cal = Calendar::new(Exchange::Xnys);
    let mut raw = Vec::new();
    for (i, s) in cal
        .sessions(date(2024, 6, 3), date(2024, 6, 28))
        .into_iter()
        .enumerate()
    {
        let mut t = s.open;
        let mut k = 0;
        while t < s.close {
            let p = 100.0 + i as f64 + f64::from(k) / 8.0;
            raw.push(Bar {
                ts: t,
                date: s.date,
                open: p,
                high: p + 1.0,
                low: p - 1.0,
                close: p + 0.5,
                adj_close: (interval == Interval::D1).then_some(p + 0.25),
                volume: 1000 + i as i64,
            });
            if interval == Interval::D1 {
                break;
            }
            t += SignedDuration::from_hours(1);
            k += 1;
        }
    }
    let split_open = cal.session(SPLIT_DAY).unwrap().open;
    let adjusted = raw
        .iter()
        .map(|b| {
            let mut b = *b;
            if b.ts < split_open {
                b.open /= 2.0;
                b.high /= 2.0;
                b.low /= 2.0;
                b.close /= 2.0;
                b.adj_close = b.adj_close.map(|a| a / 2.0);
                b.volume *= 2;
            }
            b
        })
        .collect();
    (raw, adjusted)
}

fn split_action() -> Action {
    let open = Calendar::new(Exchange::Xnys)
        .session(SPLIT_DAY)
        .unwrap()
        .open;
    Action {
        ts: open,
        date: SPLIT_DAY,
        kind: ActionKind::Split {
            numerator: 2.0,
            denominator: 1.0,
        },
    }
}

fn provider(symbol: &Symbol) -> FakeProvider {
    let f = FakeProvider::new();
    f.add_symbol(symbol);
    f.set_meta(
        symbol,
        SymbolMeta {
            exchange_name: Some("NMS".into()),
            timezone: Some("America/New_York".into()),
            ..SymbolMeta::default()
        },
    );
    f
}

async fn run_at(
    provider: &Arc<FakeProvider>,
    store: &Arc<Store>,
    interval: Interval,
    end: Date,
    now: &str,
) -> RunReport {
    let tickers = vec![sym("AAA")];
    let closures = BTreeMap::new();
    provider.set_now(ts(now));
    let input = PrepareInput {
        tickers: &tickers,
        interval,
        spec: WindowSpec {
            start: Some(date(2024, 6, 3)),
            end: Some(end),
            days: 0,
        },
        window: provider.window(interval),
        now: ts(now),
        no_gaps: false,
        closures: &closures,
    };
    let prepared = prepare(store, &input);
    let engine = Engine::new(provider.clone(), store.clone(), config(4, 0));
    engine
        .run(
            prepared.plans,
            prepared.failed,
            Arc::new(Silent),
            Cancel::new(),
        )
        .await
}

fn before(bars: &[Bar], t: Timestamp) -> Vec<Bar> {
    bars.iter().filter(|b| b.ts < t).copied().collect()
}

#[tokio::test(start_paused = true)]
async fn a_split_seen_by_the_daily_run_rebases_the_hourly_series_once_and_keeps_what_a_refetch_lacks()
 {
    let s = sym("AAA");
    let (_d, store) = store();
    let (raw_d, adj_d) = history(Interval::D1);
    let (raw_h, adj_h) = history(Interval::H1);

    // Night of 2024-06-14: both intervals stored on the old basis.
    let first = Arc::new(provider(&s));
    first.insert_bars(&s, Interval::D1, raw_d.clone());
    first.insert_bars(&s, Interval::H1, raw_h.clone());
    let night1 = "2024-06-15T00:00:00Z";
    for interval in [Interval::D1, Interval::H1] {
        let r = run_at(&first, &store, interval, date(2024, 6, 14), night1).await;
        assert!(r.is_complete(), "{r:?}");
    }
    let cut = ts(night1);
    let old_d = store.read_bars(&s, Interval::D1, None).unwrap();
    let old_h = store.read_bars(&s, Interval::H1, None).unwrap();
    assert_eq!(old_d, before(&raw_d, cut));
    assert_eq!(old_h, before(&raw_h, cut));

    // Two weeks later the provider knows the split, keeps 1h bars for 7 days only, and has lost
    // two daily bars of the stored history.
    let later = Arc::new(provider(&s));
    let lost = [old_d[2].ts, old_d[5].ts];
    later.insert_bars(
        &s,
        Interval::D1,
        adj_d.iter().filter(|b| !lost.contains(&b.ts)).copied(),
    );
    later.insert_bars(&s, Interval::H1, adj_h.clone());
    later.insert_actions(&s, [split_action()]);
    let hour = Window {
        max_span: None,
        lookback: Some(SignedDuration::from_hours(24 * 7)),
    };
    later.set_window(Interval::H1, hour);
    let night2 = "2024-06-29T00:00:00Z";
    let report = run_at(&later, &store, Interval::D1, date(2024, 6, 28), night2).await;
    assert!(report.is_complete(), "{report:?}");
    let t = &report.tickers[0];
    assert!(t.adjusted, "{t:?}");
    let warnings = t.warnings.join("\n");
    assert!(warnings.contains("2:1 split on 2024-06-24"), "{warnings}");
    assert!(
        warnings.contains("2 stored `1d` bars of `AAA` were not in the provider's new answer"),
        "{warnings}"
    );

    // Daily: what the provider serves now, and the two bars it lost kept, on the new basis.
    let want_d: Vec<Bar> = adj_d.clone();
    assert_eq!(store.read_bars(&s, Interval::D1, None).unwrap(), want_d);

    // Hourly, re-based by the daily run: bars the provider still serves are its bars; older ones
    // are the stored bars divided once by the ratio.
    let reach = ts(night2) - SignedDuration::from_hours(24 * 7) + SignedDuration::from_hours(1);
    let now_h = store.read_bars(&s, Interval::H1, None).unwrap();
    assert!(
        now_h.iter().any(|b| b.ts < reach),
        "some bars are beyond reach"
    );
    assert_eq!(now_h, before(&adj_h, cut));

    // The hourly run then fills its own gap; the split is known, nothing is divided again.
    let report = run_at(&later, &store, Interval::H1, date(2024, 6, 28), night2).await;
    assert!(report.is_complete(), "{report:?}");
    assert!(!report.tickers[0].adjusted);
    let all_h = store.read_bars(&s, Interval::H1, None).unwrap();
    let stored_reach: Vec<Bar> = all_h.iter().filter(|b| b.ts >= reach).copied().collect();
    assert_eq!(
        stored_reach,
        adj_h
            .iter()
            .filter(|b| b.ts >= reach)
            .copied()
            .collect::<Vec<_>>()
    );
    assert_eq!(before(&all_h, reach), before(&adj_h, cut));

    // Re-basing again onto the same basis changes nothing.
    let basis = Basis::from_actions(&[split_action()]);
    let again = store
        .rebase_bars(&s, Interval::H1, &basis, &[], &[])
        .unwrap();
    assert_eq!((again.divided, again.files_written), (0, 0));
    assert!(store.is_on_basis(&s, Interval::H1, &basis).unwrap());
    assert!(
        !store
            .is_on_basis(&s, Interval::H1, &Basis::default())
            .unwrap()
    );
}

#[tokio::test(start_paused = true)]
async fn a_new_dividend_refreshes_the_daily_adj_close_with_one_request() {
    let s = sym("AAA");
    let (_d, store) = store();
    let (raw_d, _) = history(Interval::D1);
    let first = Arc::new(provider(&s));
    first.insert_bars(&s, Interval::D1, raw_d.clone());
    let r = run_at(
        &first,
        &store,
        Interval::D1,
        date(2024, 6, 14),
        "2024-06-15T00:00:00Z",
    )
    .await;
    assert!(r.is_complete(), "{r:?}");

    // An ex-dividend day on 06-20: the provider lowers adj_close of every earlier bar.
    let ex = Calendar::new(Exchange::Xnys)
        .session(date(2024, 6, 20))
        .unwrap();
    let served: Vec<Bar> = raw_d
        .iter()
        .map(|b| {
            let mut b = *b;
            if b.ts < ex.open {
                b.adj_close = b.adj_close.map(|a| a * 0.99);
            }
            b
        })
        .collect();
    let later = Arc::new(provider(&s));
    later.insert_bars(&s, Interval::D1, served.clone());
    later.insert_actions(
        &s,
        [Action {
            ts: ex.open,
            date: ex.date,
            kind: ActionKind::Dividend {
                amount: 1.0,
                currency: None,
            },
        }],
    );
    let r = run_at(
        &later,
        &store,
        Interval::D1,
        date(2024, 6, 28),
        "2024-06-29T00:00:00Z",
    )
    .await;
    assert!(r.is_complete(), "{r:?}");
    assert_eq!(
        later.request_count(),
        2,
        "the planned request and one for the stored history"
    );
    assert_eq!(store.read_bars(&s, Interval::D1, None).unwrap(), served);
    // The next run asks nothing and changes nothing.
    later.reset_counts();
    let r = run_at(
        &later,
        &store,
        Interval::D1,
        date(2024, 6, 28),
        "2024-06-29T00:00:00Z",
    )
    .await;
    assert!(r.is_complete());
    assert_eq!(later.request_count(), 0);
}

#[test]
fn concurrent_rebasing_divides_each_bar_once() {
    let s = sym("AAA");
    let (_d, store) = store();
    let (raw_h, adj_h) = history(Interval::H1);
    store
        .upsert_bars_on(&s, Interval::H1, &raw_h, &Basis::default())
        .unwrap();
    let basis = Basis::from_actions(&[split_action()]);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                store
                    .rebase_bars(&s, Interval::H1, &basis, &[], &[])
                    .unwrap();
            });
        }
    });
    assert_eq!(store.read_bars(&s, Interval::H1, None).unwrap(), adj_h);
    // Bars on the old basis cannot be merged into the re-based series.
    let err = store
        .upsert_bars_on(&s, Interval::H1, &raw_h[..3], &Basis::default())
        .unwrap_err();
    assert!(
        matches!(err, backfill_store::StoreError::BasisChanged { .. }),
        "{err}"
    );
    assert_eq!(store.read_bars(&s, Interval::H1, None).unwrap(), adj_h);
}
