//! The one place that decides what reaches the terminal.
//!
//! Data (tables, JSON) goes to stdout; progress, warnings and logs to stderr. A live progress bar
//! only when stderr is a terminal and neither `--quiet` nor `--json` is given; otherwise plain log
//! lines (or nothing with `--quiet`). Colour follows `--color` and `NO_COLOR` (see [`Paint`]).

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anstyle::{AnsiColor, Style};
use backfill_engine::{Event, Reporter, TickerReport};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::args::ColorChoice;
use crate::env_vars;

pub use crate::summary::{plural, summary_table, symbol_width, ticker_line};

/// How chatty the terminal output is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Live progress bar on stderr.
    Live,
    /// One plain line per finished ticker on stderr.
    Lines,
    /// Errors only.
    Quiet,
}

impl Mode {
    pub fn detect(quiet: bool, json: bool) -> Mode {
        if quiet {
            Mode::Quiet
        } else if json || !std::io::stderr().is_terminal() {
            // JSON mode keeps stderr readable for logs but draws no bars.
            Mode::Lines
        } else {
            Mode::Live
        }
    }
}

/// Everything a command needs to know about its output: chattiness, `-v` level, colour.
#[derive(Debug, Clone, Copy)]
pub struct Out {
    pub mode: Mode,
    pub verbose: u8,
    /// Colour for stdout (tables).
    pub paint: Paint,
    /// Colour for stderr (progress, warnings).
    pub paint_err: Paint,
}

impl Out {
    pub fn new(mode: Mode, verbose: u8, color: ColorChoice) -> Out {
        Out {
            mode,
            verbose,
            paint: Paint::for_stdout(color),
            paint_err: Paint::for_stderr(color),
        }
    }

    /// Writes `warning: text` to stderr (unless quiet).
    pub fn warn(self, text: &str) {
        if self.mode != Mode::Quiet {
            let _ = writeln!(
                std::io::stderr().lock(),
                "{} {text}",
                self.paint_err.warn("warning:")
            );
        }
    }

    /// Writes a note to stderr (unless quiet).
    pub fn note(self, text: &str) {
        if self.mode != Mode::Quiet {
            let _ = writeln!(std::io::stderr().lock(), "{text}");
        }
    }
}

/// Whether to colour one stream, and the styles used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paint {
    on: bool,
}

impl Paint {
    /// `always` and `never` as asked; `auto` colours a terminal unless `NO_COLOR` is set to
    /// anything but the empty string (<https://no-color.org>).
    pub fn enabled_for(choice: ColorChoice, stream: &impl IsTerminal) -> bool {
        match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os(env_vars::NO_COLOR).is_none_or(|v| v.is_empty())
                    && stream.is_terminal()
            }
        }
    }

    pub fn for_stdout(choice: ColorChoice) -> Paint {
        Paint {
            on: Paint::enabled_for(choice, &std::io::stdout()),
        }
    }

    pub fn for_stderr(choice: ColorChoice) -> Paint {
        Paint {
            on: Paint::enabled_for(choice, &std::io::stderr()),
        }
    }

    /// No colour at all.
    #[cfg(test)]
    pub const fn plain() -> Paint {
        Paint { on: false }
    }

    fn paint(self, style: Style, text: &str) -> String {
        if self.on {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_owned()
        }
    }

    /// Red and bold: failures.
    pub fn error(self, text: &str) -> String {
        self.paint(
            Style::new().fg_color(Some(AnsiColor::Red.into())).bold(),
            text,
        )
    }

    /// Yellow: warnings, not-found and interrupted tickers.
    pub fn warn(self, text: &str) -> String {
        self.paint(Style::new().fg_color(Some(AnsiColor::Yellow.into())), text)
    }

    /// Green: success.
    pub fn ok(self, text: &str) -> String {
        self.paint(Style::new().fg_color(Some(AnsiColor::Green.into())), text)
    }

    /// Bold: headings and totals.
    pub fn bold(self, text: &str) -> String {
        self.paint(Style::new().bold(), text)
    }

    /// Dimmed: things that need no attention.
    pub fn dim(self, text: &str) -> String {
        self.paint(Style::new().dimmed(), text)
    }
}

/// `--color` as typed on the command line, read before clap parses (so that clap's own help and
/// errors follow it too). Anything unreadable counts as `auto`; clap reports it properly.
pub fn color_from_args(args: impl IntoIterator<Item = std::ffi::OsString>) -> ColorChoice {
    let mut choice = ColorChoice::Auto;
    let mut next_is_value = false;
    for a in args {
        let a = a.to_string_lossy().into_owned();
        let value = if next_is_value {
            next_is_value = false;
            Some(a.as_str())
        } else if a == "--color" {
            next_is_value = true;
            None
        } else {
            a.strip_prefix("--color=")
        };
        match value {
            Some("always") => choice = ColorChoice::Always,
            Some("never") => choice = ColorChoice::Never,
            Some(_) => choice = ColorChoice::Auto,
            None => {}
        }
    }
    choice
}

/// Turns engine events into progress on stderr.
#[derive(Debug)]
pub struct Progress {
    out: Out,
    bar: Option<ProgressBar>,
    rows: AtomicU64,
    requests: AtomicU64,
    retries: AtomicU64,
    throttled_ms: AtomicU64,
    lock: Mutex<()>,
}

impl Progress {
    pub fn new(out: Out) -> Progress {
        Progress {
            out,
            bar: None,
            rows: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            throttled_ms: AtomicU64::new(0),
            lock: Mutex::new(()),
        }
    }

    fn line(&self, text: &str) {
        if self.out.mode == Mode::Quiet {
            return;
        }
        let _guard = self.lock.lock();
        match &self.bar {
            Some(bar) => bar.println(text),
            None => {
                let _ = writeln!(std::io::stderr().lock(), "{text}");
            }
        }
    }

    fn refresh(&self) {
        if let Some(bar) = &self.bar {
            let requests = self.requests.load(Ordering::Relaxed);
            let retries = self.retries.load(Ordering::Relaxed);
            bar.set_message(format!(
                "{} · {} · {} · throttled {:.1}s",
                plural(self.rows.load(Ordering::Relaxed), "row", "rows"),
                plural(requests, "request", "requests"),
                plural(retries, "retry", "retries"),
                self.throttled_ms.load(Ordering::Relaxed) as f64 / 1000.0,
            ));
        }
    }

    /// Clears the bar before the summary is printed.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    /// Starts the live bar for `total` tickers (no-op unless live).
    pub fn start(&mut self, total: u64) {
        if self.out.mode != Mode::Live {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(8));
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {pos}/{len} tickers  {msg}  [{elapsed}, ETA {eta}]",
            )
            .expect("the progress template is valid"),
        );
        bar.enable_steady_tick(Duration::from_millis(125));
        self.bar = Some(bar);
    }
}

impl Reporter for Progress {
    fn on_event(&self, event: &Event<'_>) {
        let paint = self.out.paint_err;
        match event {
            Event::Planned {
                tickers,
                requests,
                up_to_date,
            } => {
                self.line(&format!(
                    "planned {}: {} to send, {up_to_date} already up to date",
                    plural(*tickers as u64, "ticker", "tickers"),
                    plural(*requests as u64, "request", "requests"),
                ));
            }
            Event::Request { .. } => {
                self.requests.fetch_add(1, Ordering::Relaxed);
                self.refresh();
            }
            Event::Answered {
                symbol,
                range,
                attempt,
                outcome,
                latency,
            } if self.out.verbose > 0 => {
                let status = match outcome {
                    Ok(bars) => paint.ok(&format!("ok, {}", plural(*bars as u64, "bar", "bars"))),
                    Err(label) => paint.warn(label),
                };
                let retry = if *attempt > 0 {
                    format!(" (retry {attempt})")
                } else {
                    String::new()
                };
                self.line(&format!(
                    "{symbol} {range}: {status} in {} ms{retry}",
                    latency.as_millis()
                ));
            }
            Event::Retry {
                symbol,
                attempt,
                delay,
                reason,
            } => {
                self.retries.fetch_add(1, Ordering::Relaxed);
                if self.out.verbose > 1 {
                    self.line(&format!(
                        "{symbol}: retry {attempt} in {:.1}s after: {reason}",
                        delay.as_secs_f64()
                    ));
                }
                self.refresh();
            }
            Event::Throttled { symbol, cool_down } => {
                self.throttled_ms
                    .fetch_add(cool_down.as_millis() as u64, Ordering::Relaxed);
                if self.out.verbose > 0 {
                    self.line(&paint.warn(&format!(
                        "{symbol}: throttled by the provider; every request pauses {:.1}s",
                        cool_down.as_secs_f64()
                    )));
                }
                self.refresh();
            }
            Event::Saved {
                symbol,
                rows,
                range,
            } => {
                self.rows.fetch_add(*rows, Ordering::Relaxed);
                if self.out.verbose > 1 {
                    self.line(&format!(
                        "{symbol}: saved {} for {range}",
                        plural(*rows, "row", "rows")
                    ));
                }
                self.refresh();
            }
            Event::TickerDone { report } => self.ticker_done(report),
            Event::Finished { .. } => self.finish(),
            _ => {}
        }
    }
}

impl Progress {
    fn ticker_done(&self, report: &TickerReport) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        let complete = report.status.is_complete();
        let line = ticker_line(report, self.out.paint_err);
        match self.out.mode {
            Mode::Lines => self.line(&line),
            Mode::Live if !complete => self.line(&line),
            Mode::Quiet if !complete => {
                let _ = writeln!(std::io::stderr().lock(), "{line}");
            }
            _ => {}
        }
        for w in &report.warnings {
            self.line(&format!(
                "{} {}: {w}",
                self.out.paint_err.warn("warning:"),
                report.symbol
            ));
        }
    }
}

/// Writes `text` to stdout. A closed pipe (`| head`) is not an error.
pub fn stdout(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn color_flag_is_read_before_clap() {
        let args = |v: &[&str]| v.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert_eq!(
            color_from_args(args(&["backfill", "--color", "always"])),
            ColorChoice::Always
        );
        assert_eq!(
            color_from_args(args(&["backfill", "check", "--color=never"])),
            ColorChoice::Never
        );
        assert_eq!(
            color_from_args(args(&["backfill", "--tickers", "X"])),
            ColorChoice::Auto
        );
    }

    #[test]
    fn paint_adds_escapes_only_when_on() {
        assert_eq!(Paint::plain().error("failed"), "failed");
        let on = Paint { on: true };
        assert!(on.error("failed").starts_with("\u{1b}["));
        assert!(on.error("failed").contains("failed"));
    }
}
