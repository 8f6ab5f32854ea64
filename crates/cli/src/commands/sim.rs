//! `backfill sim`: the simulator of the Yahoo, Tiingo and Alpaca APIs, for tests, demos and
//! benchmarks.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, Result};
use backfill_provider::ProviderKind;
use backfill_sim::{Api, SimConfig, SimServer};

use crate::args::SimArgs;
use crate::exit::{ExitStatus, UsageError};
use crate::printer;

/// The simulator's settings from the flags.
///
/// # Errors
/// A usage error when `--alpaca-keys` is not `ID:SECRET`.
pub fn config(args: &SimArgs) -> Result<SimConfig> {
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
        tiingo_key: args.tiingo_key.clone(),
        tiingo_per_hour: args.tiingo_per_hour,
        alpaca_per_minute: args.alpaca_per_minute,
        alpaca_page_cap: args
            .alpaca_page_cap
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        only: args.provider.map(|p| match p {
            ProviderKind::Yahoo => Api::Yahoo,
            ProviderKind::Tiingo => Api::Tiingo,
            ProviderKind::Alpaca => Api::Alpaca,
        }),
        ..SimConfig::default()
    };
    if let Some(pair) = &args.alpaca_keys {
        let (id, secret) = pair
            .split_once(':')
            .filter(|(id, secret)| !id.is_empty() && !secret.is_empty())
            .ok_or_else(|| {
                UsageError(
                    "`--alpaca-keys` must be `ID:SECRET`, two non-empty values joined by `:`\n\nhint: e.g. `--alpaca-keys test-id:test-secret`"
                        .to_owned(),
                )
            })?;
        config.alpaca_keys = Some((id.to_owned(), secret.to_owned()));
    }
    if !args.unknown_prefixes.is_empty() {
        config.unknown_prefixes.clone_from(&args.unknown_prefixes);
    }
    Ok(config)
}

pub async fn sim(args: &SimArgs) -> Result<ExitStatus> {
    let config = config(args)?;
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
