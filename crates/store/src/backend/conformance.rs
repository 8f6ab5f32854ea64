//! The conformance suite every [`Backend`] passes: local directory, `object_store`'s in-memory
//! store, and a real S3 server (`SeaweedFS`, started by the test).

use std::sync::Arc;

use bytes::Bytes;
use jiff::Timestamp;

use super::{Backend, Local, PutMode, Remote};

/// Runs the whole suite on `b`, whose keys under `root` must start empty.
pub(crate) fn run(b: &dyn Backend) {
    reads_writes_and_conditions(b);
    lists(b);
    create_race_has_one_winner(b);
    compare_and_swap_counter_is_exact(b);
}

fn text(b: &dyn Backend, key: &str) -> Option<String> {
    b.get(key)
        .unwrap()
        .map(|(blob, _)| String::from_utf8(blob.into_bytes().to_vec()).unwrap())
}

fn reads_writes_and_conditions(b: &dyn Backend) {
    let key = "c/one.json";
    assert_eq!(text(b, key), None);
    let v1 = b
        .put(key, Bytes::from_static(b"1"), &PutMode::Create)
        .unwrap()
        .expect("create on a missing key wins");
    assert!(
        b.put(key, Bytes::from_static(b"x"), &PutMode::Create)
            .unwrap()
            .is_err(),
        "create on an existing key loses"
    );
    let (_, read) = b.get(key).unwrap().unwrap();
    assert_eq!(read, v1, "the version read is the version written");
    let v2 = b
        .put(key, Bytes::from_static(b"2"), &PutMode::Replace(v1.clone()))
        .unwrap()
        .expect("replace of the current version wins");
    assert_ne!(v1, v2);
    assert!(
        b.put(key, Bytes::from_static(b"y"), &PutMode::Replace(v1))
            .unwrap()
            .is_err(),
        "replace of a stale version loses"
    );
    assert_eq!(text(b, key).as_deref(), Some("2"));
    b.delete(key).unwrap();
    b.delete(key).unwrap();
    assert_eq!(text(b, key), None);
    assert!(
        b.put(key, Bytes::from_static(b"z"), &PutMode::Replace(v2))
            .unwrap()
            .is_err(),
        "replace of a deleted key loses"
    );
}

fn lists(b: &dyn Backend) {
    for k in [
        "l/a/x.parquet",
        "l/a/y.parquet",
        "l/b/z/deep.json",
        "l/top.json",
    ] {
        b.put(k, Bytes::from_static(b"."), &PutMode::Create)
            .unwrap()
            .unwrap();
    }
    let names: Vec<(String, bool)> = b
        .list("l")
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.is_dir))
        .collect();
    assert_eq!(
        names,
        vec![
            ("a".to_owned(), true),
            ("b".to_owned(), true),
            ("top.json".to_owned(), false)
        ]
    );
    let files = b.list("l/a").unwrap();
    assert_eq!(files.len(), 2);
    let now = Timestamp::now();
    for f in &files {
        let m = f.modified.expect("files carry their modification time");
        assert!(
            (now - m).abs() < jiff::SignedDuration::from_mins(10),
            "{m} vs {now}"
        );
    }
    assert!(b.list("l/nothing").unwrap().is_empty());
    // Keys with the characters symbols are encoded into.
    let odd = "l/symbol=EURUSD%3DX/^GSPC.json";
    b.put(odd, Bytes::from_static(b"ok"), &PutMode::Create)
        .unwrap()
        .unwrap();
    assert_eq!(text(b, odd).as_deref(), Some("ok"));
    assert_eq!(b.list("l/symbol=EURUSD%3DX").unwrap()[0].name, "^GSPC.json");
}

fn create_race_has_one_winner(b: &dyn Backend) {
    let wins = std::thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                s.spawn(move || {
                    b.put("race/k", Bytes::from(format!("{i}")), &PutMode::Create)
                        .unwrap()
                        .is_ok()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|w| *w)
            .count()
    });
    assert_eq!(wins, 1);
}

fn compare_and_swap_counter_is_exact(b: &dyn Backend) {
    let key = "cas/counter";
    b.put(key, Bytes::from_static(b"0"), &PutMode::Create)
        .unwrap()
        .unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..10 {
                    loop {
                        let (blob, v) = b.get(key).unwrap().unwrap();
                        let n: u64 = String::from_utf8(blob.into_bytes().to_vec())
                            .unwrap()
                            .parse()
                            .unwrap();
                        if b.put(key, Bytes::from((n + 1).to_string()), &PutMode::Replace(v))
                            .unwrap()
                            .is_ok()
                        {
                            break;
                        }
                    }
                }
            });
        }
    });
    assert_eq!(text(b, key).as_deref(), Some("40"));
}

#[test]
fn local_directory() {
    let dir = tempfile::tempdir().unwrap();
    let b = Local::new(dir.path().to_path_buf());
    b.prepare(true).unwrap();
    run(&b);
}

#[test]
fn in_memory_object_store() {
    let b = Remote::new(
        Arc::new(object_store::memory::InMemory::new()),
        "some/prefix",
        "memory://".to_owned(),
    )
    .unwrap();
    b.prepare(false).unwrap();
    run(&b);
}

#[test]
fn seaweedfs_s3() {
    let Some(server) = crate::test_s3::server("conformance") else {
        return;
    };
    let store = crate::test_s3::object_store(&server);
    let b = Remote::new(store, "p/q", server.url("p/q")).unwrap();
    b.prepare(false).unwrap();
    run(&b);
}
