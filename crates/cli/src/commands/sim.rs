//! `backfill sim`: the Yahoo-compatible simulator, for tests, demos and benchmarks.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, Result};
use backfill_sim::{SimConfig, SimServer};

use crate::args::SimArgs;
use crate::exit::ExitStatus;
use crate::printer;

pub fn config(args: &SimArgs) -> SimConfig {
    let mut config = SimConfig {
        seed: args.seed,
        latency: Duration::from_millis(args.latency_ms),
        jitter: Duration::from_millis(args.jitter_ms),
        rate: args.rate.and_then(crate::values::Rate::per_second),
        retry_after: args.retry_after,
        fail_rate: args.fail_rate,
        max_conns: args.max_conns.map(|n| n as usize),
        require_crumb: args.require_crumb,
        bad_bars: args.bad_bars,
        bad_symbols: args.bad_symbols.clone(),
        live_row: args.live_row,
        now: args.clock,
        ..SimConfig::default()
    };
    if !args.unknown_prefixes.is_empty() {
        config.unknown_prefixes.clone_from(&args.unknown_prefixes);
    }
    config
}

pub async fn sim(args: &SimArgs) -> Result<ExitStatus> {
    let config = config(args);
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let server = SimServer::start(config, addr).await.with_context(|| {
        format!("cannot listen on {addr}\n\nhint: pick another `--port`, or 0 for any free port")
    })?;
    printer::stdout(&format!("{}\n", server.url()))?;
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    server.shutdown().await;
    Ok(ExitStatus::Success)
}
