//! `backfill demo`: the whole product offline. Starts the simulator on loopback and backfills the
//! example portfolio through the real HTTP path, twice: the second run shows the ledger at work.
//! Ends by saying where the store is, how to read it, and how to run the same against Yahoo; the
//! store is removed unless `--keep` (or `--store`) is given.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, Result};
use backfill_sim::{SimConfig, SimServer};

use crate::args::{DemoArgs, SelectArgs};
use crate::commands::providers::yahoo;
use crate::commands::run::{Interrupt, execute, open_store};
use crate::config::{ConfigFile, EXAMPLE};
use crate::exit::ExitStatus;
use crate::printer::{self, Mode, Out};
use crate::settings::Settings;

pub async fn demo(args: &DemoArgs, out: Out) -> Result<ExitStatus> {
    let example = ConfigFile::parse(EXAMPLE, std::path::Path::new("backfill.example.toml"))
        .context("the bundled example config is invalid")?;
    let keep = args.keep || args.store.is_some();
    let store_dir = args.store.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("backfill-demo-{}", std::process::id()))
    });
    let select = SelectArgs {
        tickers: args.tickers.clone(),
        days: args.days,
        interval: args.interval,
        store: Some(store_dir.clone()),
        ..SelectArgs::default()
    };
    // The demo reads no config file of the user's: the example portfolio and built-in defaults.
    let mut settings = Settings::resolve_with(&select, None, true, &example, None)?;
    let sim_config = SimConfig {
        latency: Duration::from_millis(args.latency_ms),
        ..SimConfig::default()
    };
    let server = SimServer::start(sim_config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .context("cannot start the simulator on 127.0.0.1")?;
    settings.yahoo_url = server.url();
    // The simulator allows as much as the machine can serve; the demo still shows the limiter at work.
    settings.rate = backfill_engine::limits::Rate::Fixed(50.0);
    settings.workers = 16;
    out.note(&format!(
        "demo: simulator at {} ({} ms latency); store at `{}`",
        server.url(),
        args.latency_ms,
        settings.store.display()
    ));
    let result = two_runs(&settings, &server, out, args.json).await;
    server.shutdown().await;
    let status = result?;
    let root = std::path::absolute(&settings.store).unwrap_or_else(|_| settings.store.clone());
    if !args.json {
        let shown = root.display();
        let interval = settings.interval;
        let mut text = String::new();
        if keep {
            let _ = write!(
                text,
                "\nthe store is at {shown}\nread it with pandas:\n    import pandas as pd; df = pd.read_parquet(\"{shown}/bars\", filters=[(\"interval\", \"==\", \"{interval}\")])\n"
            );
        } else {
            text.push_str(
                "\nthe demo store is removed now (keep it with `backfill demo --keep`, or choose it with `--store DIR`)\n",
            );
        }
        text.push_str(
            "the same against Yahoo, into ./data:\n    backfill config --example > backfill.toml && backfill\n",
        );
        if out.mode != Mode::Quiet {
            printer::stdout(&text)?;
        }
    }
    if !keep {
        std::fs::remove_dir_all(&root)
            .with_context(|| format!("cannot remove the demo store `{}`", root.display()))?;
    }
    Ok(status)
}

async fn two_runs(
    settings: &Settings,
    server: &SimServer,
    out: Out,
    json: bool,
) -> Result<ExitStatus> {
    let store = open_store(settings, false)?;
    let (_, first) = execute(
        settings,
        store.clone(),
        vec![(yahoo(settings)?, settings.tickers.clone())],
        out,
        json,
        Interrupt::CtrlC,
    )
    .await?;
    let before = server.stats().chart_requests;
    if out.mode != Mode::Quiet && !json {
        printer::stdout(
            "\nSecond run over the same store (nothing is missing, so nothing is asked):\n",
        )?;
    }
    let (_, second) = execute(
        settings,
        store,
        vec![(yahoo(settings)?, settings.tickers.clone())],
        out,
        json,
        Interrupt::CtrlC,
    )
    .await?;
    let after = server.stats().chart_requests;
    if out.mode != Mode::Quiet && !json {
        printer::stdout(&format!(
            "second run sent {}\n",
            printer::plural(after - before, "chart request", "chart requests")
        ))?;
    }
    Ok(if first == ExitStatus::Success {
        second
    } else {
        first
    })
}
