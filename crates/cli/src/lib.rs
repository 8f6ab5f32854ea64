//! `backfill` as a library: the whole command line behind [`main_with_args`] (the `backfill`
//! binary is a call to it), and [`api`], the same commands for other front ends (the Python
//! package): each takes the flags a user would type and returns the document `--json` prints.
//!
//! [`Shard`] is `--shard i/n` and its stable hash.

pub mod api;
mod args;
mod commands;
mod config;
mod env_vars;
mod exit;
#[cfg(test)]
mod input_props;
mod printer;
mod settings;
mod shard;
mod summary;
mod values;

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use crate::args::{Cli, Command};
use crate::exit::{ExitStatus, UsageError};
use crate::printer::{Mode, Paint};
use crate::settings::{DashboardSettings, Settings};

pub use crate::shard::{Shard, shard_of};

/// Runs the command line `args` (the program name first, as in `std::env::args_os`) to the end:
/// parses flags, resolves settings, runs one command, prints its output and errors, and returns
/// the exit status. The `backfill` binary and the Python package's `backfill` command are this
/// function; it installs a Ctrl-C handler while a run lasts.
pub fn main_with_args<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    ExitCode::from(exit_code_with_args(args))
}

/// [`main_with_args`], with the exit status as a number (for front ends that exit themselves,
/// such as the Python package's console command).
pub fn exit_code_with_args<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    // Colour for clap's own help and errors follows the same rule as ours.
    let color = printer::color_from_args(args.iter().cloned());
    let clap_color = if Paint::enabled_for(color, &std::io::stderr()) {
        clap::ColorChoice::Always
    } else {
        clap::ColorChoice::Never
    };
    let parsed = Cli::command()
        .color(clap_color)
        .try_get_matches_from(&args)
        .and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitStatus::Usage.code()
            } else {
                ExitStatus::Success.code()
            };
        }
    };
    init_logging(cli.global.verbose, cli.global.quiet, cli.global.color);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            report_error(
                &anyhow::Error::new(e).context("cannot start the async runtime"),
                color,
            );
            return ExitStatus::Error.code();
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(status) => status.code(),
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitStatus::Success.code();
            }
            report_error(&e, color);
            if e.chain().any(|c| c.downcast_ref::<UsageError>().is_some()) {
                ExitStatus::Usage.code()
            } else {
                ExitStatus::Error.code()
            }
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<ExitStatus> {
    let g = &cli.global;
    let out = |json: bool| printer::Out::new(Mode::detect(g.quiet, json), g.verbose, g.color);
    match cli.command {
        None => run(&cli.run, out(cli.run.json)).await,
        Some(Command::Run(a)) => run(&a, out(a.json)).await,
        Some(Command::Plan(a)) => {
            let settings = Settings::resolve(&a.select, Some(&a.fetch), true)?;
            commands::run::plan(&settings, out(a.json), a.json).await
        }
        Some(Command::Check(a)) => {
            let settings = Settings::resolve(&a.select, None, false)?;
            commands::check::check(settings, out(a.json), a.json, a.strict).await
        }
        Some(Command::Demo(a)) => commands::demo::demo(&a, out(a.json)).await,
        Some(Command::Sim(a)) => commands::sim::sim(&a).await,
        Some(Command::Sessions(a)) => commands::sessions::sessions(&a),
        Some(Command::Config(_)) => {
            printer::stdout(config::EXAMPLE)?;
            Ok(ExitStatus::Success)
        }
        Some(Command::Dashboard(a)) => {
            let settings = Settings::resolve(&a.select, None, false)?;
            let d = DashboardSettings::new(&a.addr, a.dashboard_token.clone(), 0)?;
            commands::dashboard::dashboard(settings, &d, a.select.now.is_some()).await
        }
        Some(Command::Completions(a)) => {
            let mut buf = Vec::new();
            clap_complete::generate(a.shell, &mut Cli::command(), "backfill", &mut buf);
            printer::stdout(&String::from_utf8_lossy(&buf))?;
            Ok(ExitStatus::Success)
        }
    }
}

async fn run(a: &args::RunArgs, out: printer::Out) -> anyhow::Result<ExitStatus> {
    let mut settings = Settings::resolve(&a.select, Some(&a.fetch), true)?;
    settings.dashboard = DashboardSettings::from_flags(&a.dashboard)?;
    if a.dry_run {
        commands::run::plan(&settings, out, a.json).await
    } else {
        commands::run::run(&settings, out, a.json).await
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

/// Prints `error: …` with the whole chain of causes, one per line, to stderr.
fn report_error(e: &anyhow::Error, color: args::ColorChoice) {
    let paint = Paint::for_stderr(color);
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{} {e}", paint.error("error:"));
    for cause in e.chain().skip(1) {
        let _ = writeln!(err, "  caused by: {cause}");
    }
}

/// `-v`: backfill's info logs (one line per request); `-vv`: backfill's debug logs; `-vvv`:
/// every crate's logs, dependencies included. `BACKFILL_LOG` overrides all of it.
fn init_logging(verbose: u8, quiet: bool, color: args::ColorChoice) {
    use tracing_subscriber::EnvFilter;
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => {
            "warn,backfill=info,backfill_engine=info,backfill_provider=info,backfill_store=info"
        }
        (false, 2) => {
            "warn,backfill=debug,backfill_engine=debug,backfill_provider=debug,backfill_store=debug,backfill_sim=debug"
        }
        (false, _) => "debug,backfill=trace,backfill_engine=trace,backfill_provider=trace",
    };
    let filter =
        EnvFilter::try_from_env(env_vars::BACKFILL_LOG).unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(Paint::enabled_for(color, &std::io::stderr()))
        .try_init();
}
