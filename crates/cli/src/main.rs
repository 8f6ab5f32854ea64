//! `backfill`: thin entry point. Parses flags, resolves settings once, runs one command, and maps
//! the outcome to a documented exit status (see `exit.rs`).

mod args;
mod commands;
mod env_vars;
mod exit;
mod printer;
mod settings;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};
use crate::exit::{ExitStatus, UsageError};
use crate::printer::Mode;
use crate::settings::Settings;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitStatus::Usage.into()
            } else {
                ExitStatus::Success.into()
            };
        }
    };
    init_logging(cli.common.verbose, cli.common.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            report_error(&anyhow::Error::new(e).context("cannot start the async runtime"));
            return ExitStatus::Error.into();
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(status) => status.into(),
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitStatus::Success.into();
            }
            report_error(&e);
            if e.downcast_ref::<UsageError>().is_some()
                || e.chain().any(|c| c.downcast_ref::<UsageError>().is_some())
            {
                ExitStatus::Usage.into()
            } else {
                ExitStatus::Error.into()
            }
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<ExitStatus> {
    let c = &cli.common;
    let mode = Mode::detect(c.quiet, c.json);
    match &cli.command {
        None | Some(Command::Run) => {
            let settings = Settings::resolve(c, true)?;
            if c.dry_run {
                commands::run::plan(&settings, c.json).await
            } else {
                commands::run::run(&settings, mode, c.verbose, c.json).await
            }
        }
        Some(Command::Plan) => commands::run::plan(&Settings::resolve(c, true)?, c.json).await,
        Some(Command::Check(a)) => {
            commands::check::check(Settings::resolve(c, false)?, c.json, a.strict).await
        }
        Some(Command::Demo(a)) => {
            let settings = Settings::resolve(c, false)?;
            let flag_store = c.store.is_some();
            commands::demo::demo(
                a,
                settings,
                c.tickers.is_some(),
                flag_store,
                mode,
                c.verbose,
                c.json,
            )
            .await
        }
        Some(Command::Sim(a)) => commands::sim::sim(a).await,
        Some(Command::Sessions(a)) => {
            let settings = Settings::resolve(c, false).ok();
            commands::sessions::sessions(&a.exchange, &a.from, &a.to, c.json, settings.as_ref())
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

/// Prints `error: …` with the whole chain of causes, one per line, to stderr.
fn report_error(e: &anyhow::Error) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "error: {e}");
    for cause in e.chain().skip(1) {
        let _ = writeln!(err, "  caused by: {cause}");
    }
}

fn init_logging(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let filter =
        EnvFilter::try_from_env(env_vars::BACKFILL_LOG).unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
