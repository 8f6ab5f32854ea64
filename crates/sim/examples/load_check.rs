//! Load check (a benchmark, not a test): starts a simulator on loopback, opens `CONNS` concurrent
//! keep-alive connections (one reqwest client each), sends `PER_CONN` chart requests on each and
//! reports latency percentiles, throughput and errors. Stops by itself.
//!
//! ```text
//! cargo run -p backfill-sim --example load_check -- [CONNS] [PER_CONN]
//! ```
//! Defaults: 500 connections × 20 requests. Results are recorded in `bench/sim.md`.

use std::time::{Duration, Instant};

use backfill_sim::{SimConfig, SimServer};

#[expect(clippy::print_stdout, reason = "a benchmark binary reports on stdout")]
#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let conns: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(500);
    let per_conn: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = SimConfig {
        now: Some("2025-06-02T12:00:00Z".parse().expect("valid timestamp")),
        ..SimConfig::default()
    };
    let server = SimServer::start(config, "127.0.0.1:0".parse().expect("valid addr"))
        .await
        .expect("bind loopback");
    let base = server.url();
    let start = Instant::now();
    let tasks: Vec<_> = (0..conns)
        .map(|i| {
            let base = base.clone();
            tokio::spawn(async move {
                let client = reqwest::Client::builder()
                    .pool_max_idle_per_host(1)
                    .timeout(Duration::from_mins(1))
                    .build()
                    .expect("client");
                let mut latencies = Vec::with_capacity(per_conn);
                let mut errors = 0u64;
                let mut rows = 0usize;
                for k in 0..per_conn {
                    // One month of daily bars for a per-connection symbol, shifted per request.
                    let p1 = 1_704_085_200 + (k as i64) * 86_400 * 7;
                    let url = format!(
                        "{base}/v8/finance/chart/L{i}?period1={p1}&period2={}&interval=1d&events=div,split,capitalGains&includePrePost=false",
                        p1 + 31 * 86_400
                    );
                    let t = Instant::now();
                    match client.get(&url).send().await {
                        Ok(r) if r.status().is_success() => match r.bytes().await {
                            Ok(b) => {
                                rows += b.len();
                                latencies.push(t.elapsed());
                            }
                            Err(_) => errors += 1,
                        },
                        _ => errors += 1,
                    }
                }
                (latencies, errors, rows)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    let mut bytes = 0;
    for t in tasks {
        let (l, e, b) = t.await.expect("task");
        all.extend(l);
        errors += e;
        bytes += b;
    }
    let elapsed = start.elapsed();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    let stats = server.stats();
    println!(
        "connections={conns} requests={} ok={} errors={errors} elapsed={:.2}s throughput={:.0} req/s",
        conns * per_conn,
        all.len(),
        elapsed.as_secs_f64(),
        all.len() as f64 / elapsed.as_secs_f64()
    );
    println!(
        "latency p50={:.1}ms p99={:.1}ms max={:.1}ms; server max_in_flight={} rows_served={} body_bytes={bytes}",
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        pct(1.0).as_secs_f64() * 1e3,
        stats.max_in_flight,
        stats.rows_served
    );
    server.shutdown().await;
}
