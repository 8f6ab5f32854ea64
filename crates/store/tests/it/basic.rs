//! Behaviour of the public API on small, hand-checked data.

use backfill_domain::jiff::civil::Date;
use backfill_domain::{Action, ActionKind, Interval, SymbolMeta};
use backfill_store::{LedgerEntry, Store, StoreError, UpsertStats};

use crate::{DAY, T0, all_files, bar, range, sym, ts};

#[test]
fn upsert_merges_is_idempotent_and_skips_no_op_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let s = sym("MSFT");
    let first: Vec<_> = (0..10).map(|i| bar(T0 + i * DAY, i as f64)).collect();
    let st = store.upsert_bars(&s, Interval::D1, &first).unwrap();
    let file = dir.path().join("bars/interval=1d/symbol=MSFT/all.parquet");
    let size = |f: &std::path::Path| std::fs::metadata(f).unwrap().len();
    assert_eq!(
        st,
        UpsertStats {
            inserted: 10,
            updated: 0,
            unchanged: 0,
            rows_total: 10,
            files_written: 1,
            bytes_written: size(&file),
        }
    );
    let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
    // Same upsert again: nothing written.
    let st = store.upsert_bars(&s, Interval::D1, &first).unwrap();
    assert_eq!(
        st,
        UpsertStats {
            inserted: 0,
            updated: 0,
            unchanged: 10,
            rows_total: 10,
            files_written: 0,
            bytes_written: 0,
        }
    );
    assert_eq!(std::fs::metadata(&file).unwrap().modified().unwrap(), mtime);
    // Overlap: days 5..15, new values for 5..10; unsorted input with a duplicate (last wins).
    let mut second: Vec<_> = (5..15)
        .rev()
        .map(|i| bar(T0 + i * DAY, 100.0 + i as f64))
        .collect();
    second.push(bar(T0 + 14 * DAY, 7.0));
    let st = store.upsert_bars(&s, Interval::D1, &second).unwrap();
    assert_eq!(
        st,
        UpsertStats {
            inserted: 5,
            updated: 5,
            unchanged: 0,
            rows_total: 15,
            files_written: 1,
            bytes_written: size(&file),
        }
    );
    let got = store.read_bars(&s, Interval::D1, None).unwrap();
    assert_eq!(got.len(), 15);
    assert_eq!(got[0], bar(T0, 0.0));
    assert_eq!(got[7], bar(T0 + 7 * DAY, 107.0));
    assert_eq!(got[14], bar(T0 + 14 * DAY, 7.0));
    let sub = store
        .read_bars(&s, Interval::D1, Some(range(T0 + 3 * DAY, T0 + 6 * DAY)))
        .unwrap();
    assert_eq!(
        sub.iter().map(|b| b.ts).collect::<Vec<_>>(),
        vec![ts(T0 + 3 * DAY), ts(T0 + 4 * DAY), ts(T0 + 5 * DAY)]
    );
    let sum = store.summary(&s, Interval::D1).unwrap().unwrap();
    assert_eq!(sum.rows, 15);
    assert_eq!(sum.first_ts, ts(T0));
    assert_eq!(sum.last_ts, ts(T0 + 14 * DAY));
    assert_eq!(sum.first_date, Date::constant(2020, 1, 1));
    assert_eq!(sum.last_date, Date::constant(2020, 1, 15));
    assert_eq!(store.summary(&s, Interval::W1).unwrap(), None);
    assert!(store.read_bars(&s, Interval::W1, None).unwrap().is_empty());
}

#[test]
fn intraday_is_split_by_month_and_replace_drops_old_months() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let s = sym("EURUSD=X");
    // Every 12 hours for 75 days from 2020-01-01: January, February, March.
    let bars: Vec<_> = (0..150).map(|i| bar(T0 + i * DAY / 2, i as f64)).collect();
    let st = store.upsert_bars(&s, Interval::H1, &bars).unwrap();
    assert_eq!(
        (st.inserted, st.files_written, st.rows_total),
        (150, 3, 150)
    );
    let series = dir.path().join("bars/interval=1h/symbol=EURUSD%3DX");
    let mut names: Vec<_> = std::fs::read_dir(&series)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["2020-01.parquet", "2020-02.parquet", "2020-03.parquet"]
    );
    // One new bar in March rewrites only March; rows_total counts the untouched months too.
    let st = store
        .upsert_bars(&s, Interval::H1, &[bar(T0 + 80 * DAY, 1.0)])
        .unwrap();
    assert_eq!((st.inserted, st.files_written, st.rows_total), (1, 1, 151));
    // A range read inside February.
    let feb = store
        .read_bars(&s, Interval::H1, Some(range(T0 + 31 * DAY, T0 + 60 * DAY)))
        .unwrap();
    assert_eq!(feb.len(), 58);
    assert_eq!(store.summary(&s, Interval::H1).unwrap().unwrap().rows, 151);
    // Replace with February only: January and March files go away.
    let only_feb: Vec<_> = (62..64).map(|i| bar(T0 + i * DAY / 2, 1000.0)).collect();
    let st = store.replace_bars(&s, Interval::H1, &only_feb).unwrap();
    assert_eq!(
        (st.inserted, st.updated, st.unchanged, st.rows_total),
        (0, 2, 0, 2)
    );
    assert_eq!(store.read_bars(&s, Interval::H1, None).unwrap(), only_feb);
    assert_eq!(all_files(&series).len(), 1);
    assert_eq!(
        store.list_series().unwrap(),
        vec![(s.clone(), Interval::H1)]
    );
    // Replace with nothing removes the series.
    store.replace_bars(&s, Interval::H1, &[]).unwrap();
    assert!(store.list_series().unwrap().is_empty());
    assert_eq!(store.summary(&s, Interval::H1).unwrap(), None);
}

#[test]
fn hostile_symbols_stay_under_the_root_and_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let store = Store::open(&root).unwrap();
    let names = [
        "A%2FB",
        "=",
        "%",
        "^GSPC",
        "EURUSD=X",
        ".DJI",
        "A.B.C",
        "X=Y%Z:W+V",
        "%2E%2E",
        "A,B",
        "(A)",
        "A~B",
        "A@B!",
    ];
    for (i, n) in names.iter().enumerate() {
        let s = sym(n);
        store
            .upsert_bars(&s, Interval::D1, &[bar(T0 + i as i64 * DAY, 1.0)])
            .unwrap();
        store
            .upsert_bars(&s, Interval::M5, &[bar(T0, 2.0)])
            .unwrap();
        store
            .record_coverage(
                &s,
                Interval::D1,
                LedgerEntry {
                    range: range(T0, T0 + DAY),
                    fetched_at: ts(T0),
                    rows: 1,
                    provisional: false,
                },
            )
            .unwrap();
        store
            .write_meta(&SymbolMeta {
                symbol: Some(s.clone()),
                ..SymbolMeta::default()
            })
            .unwrap();
        store.upsert_actions(&s, &[split(T0)]).unwrap();
    }
    let listed = store.list_series().unwrap();
    assert_eq!(listed.len(), names.len() * 2);
    for n in names {
        let s = sym(n);
        assert!(listed.contains(&(s.clone(), Interval::D1)), "{n}");
        assert_eq!(
            store.read_bars(&s, Interval::D1, None).unwrap().len(),
            1,
            "{n}"
        );
        assert_eq!(
            store.read_meta(&s).unwrap().unwrap().symbol,
            Some(s.clone())
        );
        assert_eq!(store.read_actions(&s).unwrap().len(), 1);
    }
    // Nothing escaped the root, every path segment is tame, and the store reports no problems.
    let outside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(outside, vec![std::ffi::OsString::from("store")]);
    for f in all_files(&root) {
        for seg in &f {
            let seg = seg.to_str().unwrap();
            assert!(seg != ".." && seg != "." && !seg.starts_with('.'), "{f:?}");
            assert!(
                seg.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-^=%".contains(c)),
                "{f:?}"
            );
        }
    }
    assert!(
        root.join("bars/interval=1d/symbol=A%252FB/all.parquet")
            .exists()
    );
    assert!(
        root.join("bars/interval=1d/symbol=%2EDJI/all.parquet")
            .exists()
    );
    assert!(
        root.join("bars/interval=1d/symbol=^GSPC/all.parquet")
            .exists()
    );
    assert!(
        root.join("_meta/ledger/interval=1d/EURUSD%3DX.json")
            .exists()
    );
    assert_eq!(store.problems().unwrap(), vec![]);
}

fn split(t: i64) -> Action {
    Action {
        ts: ts(t),
        date: Date::constant(2020, 1, 1),
        kind: ActionKind::Split {
            numerator: 2.0,
            denominator: 1.0,
        },
    }
}

#[test]
fn actions_and_meta_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let s = sym("AIR.PA");
    let div = |t: i64, a: f64| Action {
        ts: ts(t),
        date: Date::constant(2020, 1, 2),
        kind: ActionKind::Dividend {
            amount: a,
            currency: Some("EUR".into()),
        },
    };
    let cg = Action {
        ts: ts(T0),
        date: Date::constant(2020, 1, 1),
        kind: ActionKind::CapitalGain { amount: 0.25 },
    };
    assert_eq!(
        store
            .upsert_actions(&s, &[div(T0 + DAY, 1.0), split(T0), cg.clone()])
            .unwrap(),
        3
    );
    assert_eq!(store.upsert_actions(&s, &[div(T0 + DAY, 1.0)]).unwrap(), 0);
    assert_eq!(
        store
            .upsert_actions(&s, &[div(T0 + DAY, 1.5), div(T0 + 2 * DAY, 0.5)])
            .unwrap(),
        2
    );
    let got = store.read_actions(&s).unwrap();
    // Sorted by ts then kind name: capital_gain < split at T0.
    assert_eq!(
        got,
        vec![cg, split(T0), div(T0 + DAY, 1.5), div(T0 + 2 * DAY, 0.5)]
    );
    assert!(store.read_actions(&sym("NONE")).unwrap().is_empty());

    assert_eq!(store.read_meta(&s).unwrap(), None);
    let meta = SymbolMeta {
        symbol: Some(s.clone()),
        currency: Some("EUR".into()),
        timezone: Some("Europe/Paris".into()),
        first_trade: Some(ts(T0)),
        ..SymbolMeta::default()
    };
    store.write_meta(&meta).unwrap();
    assert_eq!(store.read_meta(&s).unwrap(), Some(meta));
    let err = store.write_meta(&SymbolMeta::default()).unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput { .. }), "{err}");
}

#[test]
fn ledger_is_persisted_and_merged() {
    let dir = tempfile::tempdir().unwrap();
    let s = sym("^GSPC");
    let e = |a: i64, b: i64, at: i64, rows: u64, provisional: bool| LedgerEntry {
        range: range(a, b),
        fetched_at: ts(at),
        rows,
        provisional,
    };
    {
        let store = Store::open(dir.path()).unwrap();
        assert!(store.ledger(&s, Interval::D1).unwrap().entries.is_empty());
        store
            .record_coverage(&s, Interval::D1, e(0, 100, 1000, 0, false))
            .unwrap();
        store
            .record_coverage(&s, Interval::D1, e(100, 200, 1001, 5, true))
            .unwrap();
        store
            .record_coverage(&s, Interval::D1, e(100, 150, 1002, 3, false))
            .unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let l = store.ledger(&s, Interval::D1).unwrap();
    assert_eq!(
        l.entries,
        vec![e(0, 150, 1002, 3, false), e(150, 200, 1001, 5, true)]
    );
    assert_eq!(l.answered().ranges(), &[range(0, 150)]);
    assert_eq!(l.provisional().ranges(), &[range(150, 200)]);
    assert_eq!(l.last_fetched(), Some(ts(1002)));
    assert!(store.ledger(&s, Interval::H1).unwrap().entries.is_empty());
}

#[test]
fn corrupt_and_foreign_files_are_reported_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (good, bad) = (sym("MSFT"), sym("BRK-B"));
    store
        .upsert_bars(&good, Interval::D1, &[bar(T0, 1.0)])
        .unwrap();
    store
        .upsert_bars(&bad, Interval::D1, &[bar(T0, 1.0)])
        .unwrap();
    let bad_file = dir.path().join("bars/interval=1d/symbol=BRK-B/all.parquet");
    // Truncate the file: a torn write by some other tool.
    let bytes = std::fs::read(&bad_file).unwrap();
    std::fs::write(&bad_file, &bytes[..bytes.len() / 2]).unwrap();
    let half = std::fs::read(&bad_file).unwrap();

    let err = store
        .upsert_bars(&bad, Interval::D1, &[bar(T0 + DAY, 2.0)])
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt { path, .. } if path == &bad_file),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("BRK-B/all.parquet") && text.contains("hint:"),
        "{text}"
    );
    let err = store
        .replace_bars(&bad, Interval::D1, &[bar(T0 + DAY, 2.0)])
        .unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }));
    assert_eq!(
        std::fs::read(&bad_file).unwrap(),
        half,
        "a corrupt file is never overwritten"
    );
    assert!(matches!(
        store.read_bars(&bad, Interval::D1, None),
        Err(StoreError::Corrupt { .. })
    ));
    assert!(matches!(
        store.summary(&bad, Interval::D1),
        Err(StoreError::Corrupt { .. })
    ));
    // Other symbols are unaffected.
    assert_eq!(
        store.read_bars(&good, Interval::D1, None).unwrap(),
        vec![bar(T0, 1.0)]
    );

    // A file from the right symbol's directory copied under another symbol is foreign.
    let good_file = dir.path().join("bars/interval=1d/symbol=MSFT/all.parquet");
    let moved = dir.path().join("bars/interval=1d/symbol=AAPL");
    std::fs::create_dir_all(&moved).unwrap();
    std::fs::copy(&good_file, moved.join("all.parquet")).unwrap();
    let err = store
        .read_bars(&sym("AAPL"), Interval::D1, None)
        .unwrap_err();
    assert!(err.to_string().contains("`MSFT` where `AAPL`"), "{err}");
    // Stray files and directories, a bad ledger and bad meta.
    std::fs::write(
        dir.path()
            .join("bars/interval=1d/symbol=MSFT/extra.parquet"),
        b"x",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("bars/interval=2d")).unwrap();
    std::fs::create_dir_all(dir.path().join("bars/interval=1d/symbol=a%2Fb")).unwrap();
    std::fs::create_dir_all(dir.path().join("_meta/ledger/interval=1d")).unwrap();
    std::fs::write(dir.path().join("_meta/ledger/interval=1d/MSFT.json"), b"{").unwrap();
    std::fs::create_dir_all(dir.path().join("_meta/symbols")).unwrap();
    std::fs::write(dir.path().join("_meta/symbols/MSFT.json"), b"[]").unwrap();
    let problems = store.problems().unwrap();
    let mut paths: Vec<_> = problems
        .iter()
        .map(|p| {
            p.path
                .strip_prefix(store.root().unwrap())
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "_meta/ledger/interval=1d/MSFT.json",
            "_meta/symbols/MSFT.json",
            "bars/interval=1d/symbol=AAPL/all.parquet",
            "bars/interval=1d/symbol=BRK-B/all.parquet",
            "bars/interval=1d/symbol=MSFT/extra.parquet",
            "bars/interval=1d/symbol=a%2Fb",
            "bars/interval=2d",
        ],
        "{problems:#?}"
    );
    assert!(matches!(
        store.ledger(&good, Interval::D1),
        Err(StoreError::Corrupt { .. })
    ));
    let err = store
        .record_coverage(
            &good,
            Interval::D1,
            LedgerEntry {
                range: range(0, 1),
                fetched_at: ts(0),
                rows: 0,
                provisional: false,
            },
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }));
    assert_eq!(
        std::fs::read(dir.path().join("_meta/ledger/interval=1d/MSFT.json")).unwrap(),
        b"{"
    );
    // list_series still lists the readable layout and skips junk.
    let listed = store.list_series().unwrap();
    assert!(
        listed.contains(&(good.clone(), Interval::D1)) && listed.len() == 3,
        "{listed:?}"
    );
}

#[test]
fn open_removes_old_temp_files_by_age_never_by_pid() {
    let dir = tempfile::tempdir().unwrap();
    let s = sym("MSFT");
    Store::open(dir.path())
        .unwrap()
        .upsert_bars(&s, Interval::D1, &[bar(T0, 1.0)])
        .unwrap();
    let tmp = dir.path().join("_meta/tmp");
    // A dead pid and an old file: removed. A dead pid but recent: it may be a live writer on
    // another host sharing the volume, so it stays.
    let old = tmp.join(".all.parquet.999999999.7.tmp");
    let recent = tmp.join(".all.parquet.999999998.7.tmp");
    std::fs::write(&old, b"half").unwrap();
    std::fs::write(&recent, b"half").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - std::time::Duration::from_hours(2))
        .unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert!(!old.exists() && recent.exists());
    // In-flight temp files are invisible to reads and are not problems.
    assert_eq!(
        store.read_bars(&s, Interval::D1, None).unwrap(),
        vec![bar(T0, 1.0)]
    );
    assert_eq!(store.problems().unwrap(), vec![]);
    // Nothing is ever staged beside the data.
    let series: Vec<_> = std::fs::read_dir(dir.path().join("bars/interval=1d/symbol=MSFT"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(series, vec![std::ffi::OsString::from("all.parquet")]);
}
