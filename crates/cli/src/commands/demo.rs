//! `backfill demo`: the whole product offline. Starts the simulator on loopback and backfills the
//! example portfolio through the real HTTP path, twice: the second run shows the ledger at work.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, Result};
use backfill_sim::{SimConfig, SimServer};

use crate::args::DemoArgs;
use crate::commands::run::{execute, open_store, yahoo};
use crate::exit::ExitStatus;
use crate::printer::{self, Mode};
use crate::settings::{ConfigFile, Settings, parse_tickers};

const EXAMPLE: &str = include_str!("../../../../backfill.example.toml");

/// `flag_tickers`: `--tickers` was given; otherwise the example portfolio is used.
/// `flag_store`: `--store` (or `BACKFILL_STORE`) was given; otherwise a fresh directory under the
/// system's temporary directory, so the demo never touches a real store.
pub async fn demo(
    args: &DemoArgs,
    mut settings: Settings,
    flag_tickers: bool,
    flag_store: bool,
    mode: Mode,
    verbose: u8,
    json: bool,
) -> Result<ExitStatus> {
    let sim_config = SimConfig {
        latency: Duration::from_millis(args.latency_ms),
        ..SimConfig::default()
    };
    let server = SimServer::start(sim_config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .context("cannot start the simulator on 127.0.0.1")?;
    if !flag_tickers {
        let example: ConfigFile =
            toml::from_str(EXAMPLE).context("the bundled example config is invalid")?;
        settings.tickers = parse_tickers(&example.tickers)?;
    }
    if !flag_store {
        settings.store = std::env::temp_dir().join(format!("backfill-demo-{}", std::process::id()));
    }
    settings.yahoo_url = server.url();
    // The simulator allows as much as the machine can serve; the demo still shows the limiter at work.
    settings.rate = Some(50.0);
    settings.workers = 16;
    if mode != Mode::Quiet {
        printer::warn(
            Mode::Lines,
            &format!(
                "demo: simulator at {} ({} ms latency); store at `{}`",
                server.url(),
                args.latency_ms,
                settings.store.display()
            ),
        );
    }
    let store = open_store(&settings, false)?;
    let (_, first) = execute(
        &settings,
        store.clone(),
        yahoo(&settings)?,
        mode,
        verbose,
        json,
    )
    .await?;
    let before = server.stats().chart_requests;
    if mode != Mode::Quiet && !json {
        printer::stdout(
            "\nSecond run over the same store (nothing is missing, so nothing is asked):\n",
        )?;
    }
    let (_, second) = execute(&settings, store, yahoo(&settings)?, mode, verbose, json).await?;
    let after = server.stats().chart_requests;
    if mode != Mode::Quiet && !json {
        printer::stdout(&format!(
            "second run sent {} chart request(s)\n",
            after - before
        ))?;
    }
    server.shutdown().await;
    Ok(if first == ExitStatus::Success {
        second
    } else {
        first
    })
}
