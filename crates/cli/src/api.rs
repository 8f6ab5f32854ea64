//! The commands for front ends other than the terminal (the Python package): each takes the flags
//! a user would type on the command line, runs the same code as the `backfill` command, and
//! returns the document that `--json` prints instead of printing it.
//!
//! Nothing here writes to the terminal, and nothing installs a Ctrl-C handler: the caller passes
//! a [`Cancel`] and triggers it itself. Errors are an [`Error`]: [`Error::Usage`] for what the user
//! asked for (the command line's exit 2, with the same message), [`Error::Failed`] for the rest.

use std::ffi::OsString;

use backfill_engine::Cancel;
use backfill_engine::limits::Rate;
use backfill_provider::{AnyProvider, Provider};
use clap::Parser;

use crate::args::{Cli, ColorChoice, Command, FetchArgs, SelectArgs};
use crate::commands::providers;
use crate::commands::run::{Interrupt, execute, open_store, plan_json, prepare_plan, report_json};
use crate::exit::{ExitStatus, UsageError};
use crate::printer::{Mode, Out};
use crate::settings::Settings;

/// Why a command did not produce its document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Bad flags, values, config file or store location; the message says what to fix.
    Usage(String),
    /// Anything else (the store cannot be read or written, the runtime cannot start, …), with
    /// the chain of causes, one per line.
    Failed(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Usage(m) | Error::Failed(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

impl From<anyhow::Error> for Error {
    fn from(e: anyhow::Error) -> Error {
        let mut text = e.to_string();
        for cause in e.chain().skip(1) {
            text.push_str("\n  caused by: ");
            text.push_str(&cause.to_string());
        }
        if e.chain().any(|c| c.downcast_ref::<UsageError>().is_some()) {
            Error::Usage(text)
        } else {
            Error::Failed(text)
        }
    }
}

/// A run's outcome.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The document `backfill run --json` prints, byte for byte.
    pub document: String,
    /// Warnings about the settings (a window clipped to the present, …) that the command line
    /// prints on stderr before running.
    pub warnings: Vec<String>,
    /// Every ticker is complete.
    pub complete: bool,
    /// The run was cancelled before every ticker was done.
    pub interrupted: bool,
}

/// A plan's outcome.
#[derive(Debug, Clone)]
pub struct PlanOutcome {
    /// The document `backfill plan --json` prints, byte for byte.
    pub document: String,
    /// As [`RunOutcome::warnings`].
    pub warnings: Vec<String>,
    /// The request rate a run with the same flags would use (flag, config file or default).
    pub rate: Rate,
}

/// Resolves `backfill run FLAGS…` (or `plan`) into settings, exactly as the command line does:
/// the flags, their environment variables, the config file.
fn settings(command: &str, flags: &[String]) -> Result<Settings, Error> {
    let argv = ["backfill", command]
        .into_iter()
        .map(OsString::from)
        .chain(flags.iter().map(OsString::from));
    let cli = Cli::try_parse_from(argv).map_err(|e| {
        Error::Usage(
            e.render()
                .to_string()
                .trim_start_matches("error: ")
                .trim_end()
                .to_owned(),
        )
    })?;
    let (select, fetch): (SelectArgs, FetchArgs) = match cli.command {
        Some(Command::Run(a)) => {
            if a.json || a.dry_run || a.dashboard.dashboard.is_some() {
                return Err(Error::Usage(
                    "`--json`, `--dry-run` and `--dashboard` are not options of the library's run"
                        .to_owned(),
                ));
            }
            (a.select, a.fetch)
        }
        Some(Command::Plan(a)) => (a.select, a.fetch),
        _ => {
            return Err(Error::Usage(format!(
                "`{command}` is not a command of the library"
            )));
        }
    };
    Ok(Settings::resolve(&select, Some(&fetch), true)?)
}

fn quiet() -> Out {
    Out::new(Mode::Quiet, 0, ColorChoice::Never)
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Failed(format!("cannot start the async runtime: {e}")))
}

/// `backfill plan FLAGS… --json`: what a run with the same flags would fetch; sends nothing.
pub fn plan(flags: &[String]) -> Result<PlanOutcome, Error> {
    let settings = settings("plan", flags)?;
    let prepared = runtime()?.block_on(prepare_plan(&settings, quiet()))?;
    Ok(PlanOutcome {
        document: plan_json(&settings, &prepared)?,
        warnings: settings.warnings,
        rate: settings.rate,
    })
}

/// `backfill run FLAGS… --json`, stopped early (in-flight commits finish) when `cancel` is
/// triggered. Blocks until the run is over; the run also goes into the store's history like the
/// command line's.
pub fn run(flags: &[String], cancel: Cancel) -> Result<RunOutcome, Error> {
    run_with(flags, cancel, |p| p, false)
}

/// As [`run`], with each provider's client wrapped by `wrap` (e.g. to pace requests with a limit
/// shared by other processes). With `wrapper_paces`, the wrapper enforces the request rate: the
/// engine's own rate limit is lifted (its quotas, pauses after a 429 and `--workers` stay, and
/// `--workers` defaults as for the rate given).
pub fn run_with<P, F>(
    flags: &[String],
    cancel: Cancel,
    mut wrap: F,
    wrapper_paces: bool,
) -> Result<RunOutcome, Error>
where
    P: Provider,
    F: FnMut(AnyProvider) -> P,
{
    let mut settings = settings("run", flags)?;
    if wrapper_paces {
        settings.rate = Rate::Unlimited;
    }
    let rt = runtime()?;
    let (report, status) = rt.block_on(async {
        let store = open_store(&settings, false)?;
        let mut groups = Vec::new();
        for (kind, tickers) in settings.tickers_by_provider() {
            groups.push((wrap(providers::build(&settings, kind)?), tickers));
        }
        execute(
            &settings,
            store,
            groups,
            quiet(),
            false,
            Interrupt::Cancel(cancel),
        )
        .await
    })?;
    Ok(RunOutcome {
        document: report_json(&report)?,
        warnings: settings.warnings,
        complete: status == ExitStatus::Success,
        interrupted: status == ExitStatus::Interrupted,
    })
}
