//! Store benchmark: upsert `--symbols` × `--days` daily bars durably (one file per symbol), then
//! one new day for every symbol; report rows/s, files written, requests per committed series and
//! peak memory for both phases.
//!
//! `cargo run --release -p backfill-store --example bench_store -- --symbols 2000 --days 5000 <store>`
//! (`--threads N`, default 4: the engine commits from several tasks too; `--ledger` also records
//! coverage after each upsert, as a run does). `<store>` is an empty or missing directory, or an
//! empty prefix `s3://bucket/prefix` reached with the `AWS_*` environment variables. Results and the
//! comparison with `bench/pyarrow_baseline.py` are in `bench/store.md`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use backfill_domain::jiff::civil::Date;
use backfill_domain::jiff::{Timestamp, ToSpan};
use backfill_domain::{Bar, Interval, Symbol, TimeRange};
use backfill_store::{IoStats, LedgerEntry, Store, StoreOptions};

struct Args {
    symbols: u64,
    days: i64,
    threads: u64,
    ledger: bool,
    dir: String,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        symbols: 2000,
        days: 5000,
        threads: 4,
        ledger: false,
        dir: String::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut num = |name: &str| -> Result<u64, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or(format!("`{name}` needs a number"))
        };
        match arg.as_str() {
            "--symbols" => a.symbols = num("--symbols")?,
            "--days" => a.days = num("--days")? as i64,
            "--threads" => a.threads = num("--threads")?.max(1),
            "--ledger" => a.ledger = true,
            other if !other.starts_with("--") => a.dir = other.into(),
            other => return Err(format!("unknown flag `{other}`")),
        }
    }
    if a.dir.is_empty() {
        return Err(
            "usage: bench_store [--symbols N] [--days N] [--threads N] [--ledger] <dir or URL>"
                .into(),
        );
    }
    Ok(a)
}

/// Peak resident set size in KiB (`VmHWM`), Linux only.
fn peak_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resets `VmHWM` to the current RSS, so each phase reports its own peak.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A deterministic random walk: bar `d` of symbol `s`, starting 1990-01-01.
fn bar(s: u64, d: i64) -> Bar {
    let date = Date::constant(1990, 1, 1)
        .checked_add(d.days())
        .expect("date in range");
    let ts = Timestamp::from_second(631_152_000 + d * 86_400).expect("ts in range");
    let h = (s.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (d as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9))
    .rotate_left(17);
    let base = 10.0 + (s % 500) as f64 + (d as f64 * 0.01);
    let noise = (h % 1000) as f64 / 1000.0;
    Bar {
        ts,
        date,
        open: base + noise,
        high: base + 1.0 + noise,
        low: base - 1.0 + noise,
        close: base + noise / 2.0,
        adj_close: Some((base + noise / 2.0) * 0.97),
        volume: (h % 10_000_000) as i64,
    }
}

struct Phase {
    rows: u64,
    files: u64,
    secs: f64,
    peak_kib: Option<u64>,
    io: IoStats,
}

fn run(store: &Arc<Store>, a: &Args, days: std::ops::Range<i64>) -> Phase {
    reset_peak();
    let next = Arc::new(AtomicU64::new(0));
    let files = Arc::new(AtomicU64::new(0));
    let io_before = store.io_stats();
    let start = Instant::now();
    let handles: Vec<_> = (0..a.threads)
        .map(|_| {
            let (store, next, files, days) = (
                Arc::clone(store),
                Arc::clone(&next),
                Arc::clone(&files),
                days.clone(),
            );
            let (n, ledger) = (a.symbols, a.ledger);
            std::thread::spawn(move || {
                loop {
                    let s = next.fetch_add(1, Ordering::Relaxed);
                    if s >= n {
                        break;
                    }
                    let symbol = Symbol::parse(&format!("SYM{s:05}.X")).expect("valid symbol");
                    let bars: Vec<Bar> = days.clone().map(|d| bar(s, d)).collect();
                    let st = store
                        .upsert_bars(&symbol, Interval::D1, &bars)
                        .expect("upsert");
                    files.fetch_add(st.files_written, Ordering::Relaxed);
                    if ledger {
                        let (first, last) = (bars[0].ts, bars[bars.len() - 1].ts);
                        let entry = LedgerEntry {
                            range: TimeRange::new(first, last + 86_400.seconds())
                                .expect("non-empty"),
                            fetched_at: Timestamp::now(),
                            rows: bars.len() as u64,
                            provisional: false,
                        };
                        store
                            .record_coverage(&symbol, Interval::D1, entry)
                            .expect("ledger");
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("worker");
    }
    Phase {
        rows: a.symbols * (days.end - days.start) as u64,
        files: files.load(Ordering::Relaxed),
        secs: start.elapsed().as_secs_f64(),
        peak_kib: peak_kib(),
        io: {
            let after = store.io_stats();
            IoStats {
                reads: after.reads - io_before.reads,
                writes: after.writes - io_before.writes,
                lists: after.lists - io_before.lists,
                conflicts: after.conflicts - io_before.conflicts,
            }
        },
    }
}

#[expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = args()?;
    let path = std::path::Path::new(&a.dir);
    if !a.dir.contains("://") && path.exists() && std::fs::read_dir(path)?.next().is_some() {
        return Err(format!(
            "`{}` is not empty; give the benchmark a fresh directory",
            a.dir
        )
        .into());
    }
    let store = Arc::new(Store::open_location(&a.dir, &StoreOptions::default())?);
    if !store.list_series()?.is_empty() {
        return Err(format!(
            "`{}` already holds a store; give the benchmark a fresh one",
            a.dir
        )
        .into());
    }
    println!(
        "bench_store: {} symbols × {} days, {} threads, ledger {}, store {}",
        a.symbols, a.days, a.threads, a.ledger, a.dir
    );
    let report = |name: &str, p: &Phase| {
        println!(
            "{name}: {} rows in {:.2} s = {:.0} rows/s ({:.0} symbols/s), {} files written, peak RSS {} MiB",
            p.rows,
            p.secs,
            p.rows as f64 / p.secs,
            a.symbols as f64 / p.secs,
            p.files,
            p.peak_kib
                .map_or("?".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0)),
        );
        let n = a.symbols as f64;
        println!(
            "  requests per series: {:.2} writes, {:.2} reads, {:.2} lists ({} lost races retried)",
            p.io.writes as f64 / n,
            p.io.reads as f64 / n,
            p.io.lists as f64 / n,
            p.io.conflicts,
        );
    };
    let p1 = run(&store, &a, 0..a.days);
    report("phase 1 (full history)", &p1);
    let p2 = run(&store, &a, a.days..a.days + 1);
    report("phase 2 (one new day)", &p2);
    // Sanity: the data is all there.
    let last = Symbol::parse(&format!("SYM{:05}.X", a.symbols - 1))?;
    let sum = store.summary(&last, Interval::D1)?.ok_or("no data")?;
    assert_eq!(sum.rows, a.days as u64 + 1);
    Ok(())
}
