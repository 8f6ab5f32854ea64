//! The one place that decides what reaches the terminal.
//!
//! Data (tables, JSON) goes to stdout; progress, warnings and logs to stderr. A live progress bar
//! only when stderr is a terminal and neither `--quiet` nor `--json` is given; otherwise plain log
//! lines without escape codes (or nothing with `--quiet`).

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use backfill_engine::{Event, Reporter, RunReport, Status, TickerReport};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

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

/// Turns engine events into progress on stderr.
#[derive(Debug)]
pub struct Progress {
    mode: Mode,
    verbose: u8,
    bar: Option<ProgressBar>,
    rows: AtomicU64,
    requests: AtomicU64,
    retries: AtomicU64,
    throttled_ms: AtomicU64,
    lock: Mutex<()>,
}

impl Progress {
    pub fn new(mode: Mode, verbose: u8) -> Progress {
        Progress {
            mode,
            verbose,
            bar: None,
            rows: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            throttled_ms: AtomicU64::new(0),
            lock: Mutex::new(()),
        }
    }

    fn line(&self, text: &str) {
        if self.mode == Mode::Quiet {
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
            bar.set_message(format!(
                "rows {} · requests {} · retries {} · throttled {:.1}s",
                self.rows.load(Ordering::Relaxed),
                self.requests.load(Ordering::Relaxed),
                self.retries.load(Ordering::Relaxed),
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
}

impl Reporter for Progress {
    fn on_event(&self, event: &Event<'_>) {
        match event {
            Event::Planned {
                tickers,
                requests,
                up_to_date,
            } => {
                self.line(&format!(
                    "planned {tickers} ticker(s): {requests} request(s) to send, {up_to_date} already up to date"
                ));
            }
            Event::Request { .. } => {
                self.requests.fetch_add(1, Ordering::Relaxed);
                self.refresh();
            }
            Event::Retry {
                symbol,
                attempt,
                delay,
                reason,
            } => {
                self.retries.fetch_add(1, Ordering::Relaxed);
                if self.verbose > 0 {
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
                if self.verbose > 0 {
                    self.line(&format!(
                        "{symbol}: throttled by the provider; every request pauses {:.1}s and the rate is halved",
                        cool_down.as_secs_f64()
                    ));
                }
                self.refresh();
            }
            Event::Saved {
                symbol,
                rows,
                range,
            } => {
                self.rows.fetch_add(*rows, Ordering::Relaxed);
                if self.verbose > 1 {
                    self.line(&format!("{symbol}: saved {rows} row(s) for {range}"));
                }
                self.refresh();
            }
            Event::TickerDone { report } => {
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                }
                if self.mode == Mode::Lines
                    || (self.mode == Mode::Live && !report.status.is_complete())
                {
                    self.line(&ticker_line(report));
                } else if self.mode == Mode::Quiet && !report.status.is_complete() {
                    let _ = writeln!(std::io::stderr().lock(), "{}", ticker_line(report));
                }
                for w in &report.warnings {
                    self.line(&format!("warning: {}: {w}", report.symbol));
                }
            }
            Event::Finished { .. } => self.finish(),
            _ => {}
        }
    }
}

impl Progress {
    /// Starts the live bar for `total` tickers (no-op unless live).
    pub fn start(&mut self, total: u64) {
        if self.mode != Mode::Live {
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

/// "MSFT: saved 252 rows (1 request)".
pub fn ticker_line(r: &TickerReport) -> String {
    let req = if r.requests == 1 {
        "request"
    } else {
        "requests"
    };
    match r.status {
        Status::Saved => format!(
            "{}: saved {} rows ({} {req}, {} retries)",
            r.symbol, r.rows, r.requests, r.retries
        ),
        Status::UpToDate => format!("{}: up to date", r.symbol),
        Status::NotFound => format!(
            "{}: not found: {}",
            r.symbol,
            r.error.as_deref().unwrap_or("")
        ),
        Status::Failed => format!("{}: failed: {}", r.symbol, r.error.as_deref().unwrap_or("")),
    }
}

fn status_text(s: Status) -> &'static str {
    match s {
        Status::Saved => "saved",
        Status::UpToDate => "up to date",
        Status::NotFound => "not found",
        Status::Failed => "failed",
    }
}

/// Width of a table's TICKER column: the longest symbol, at least the heading.
pub fn symbol_width<'a>(symbols: impl Iterator<Item = &'a backfill_domain::Symbol>) -> usize {
    symbols
        .map(|s| s.as_str().len())
        .max()
        .unwrap_or(0)
        .max("TICKER".len())
}

/// The per-ticker table and totals, for stdout.
pub fn summary_table(report: &RunReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let w = symbol_width(report.tickers.iter().map(|t| &t.symbol));
    let _ = writeln!(
        out,
        "{:<w$}  {:<10}  {:>8}  {:>4}  {:>5}  {:<23}  NOTE",
        "TICKER", "STATUS", "ROWS", "REQ", "RETRY", "WINDOW"
    );
    for t in &report.tickers {
        let window = match (t.first, t.last) {
            (Some(a), Some(b)) => format!("{a}..{b}"),
            _ => String::new(),
        };
        let mut notes: Vec<String> = t.error.iter().cloned().collect();
        if t.invalid_bars > 0 {
            notes.push(format!(
                "{} invalid bar(s) flagged (`backfill check` lists them)",
                t.invalid_bars
            ));
        }
        if t.adjusted {
            notes.push("history re-fetched on the new split basis".to_owned());
        }
        let note = notes.join("; ");
        let _ = writeln!(
            out,
            "{:<w$}  {:<10}  {:>8}  {:>4}  {:>5}  {:<23}  {}",
            t.symbol.as_str(),
            status_text(t.status),
            t.rows,
            t.requests,
            t.retries,
            window,
            note
        );
    }
    let s = &report.totals;
    let _ = writeln!(
        out,
        "\n{} tickers: {} saved, {} up to date, {} not found, {} failed; {} rows; {} requests, {} retries; {} invalid bars; {} re-based after a split; throttled {:.1}s; {:.2}s{}",
        s.tickers,
        s.saved,
        s.up_to_date,
        s.not_found,
        s.failed,
        s.rows,
        s.requests,
        s.retries,
        s.invalid_bars,
        s.adjusted,
        s.throttled_secs,
        s.elapsed_secs,
        if s.interrupted {
            " (interrupted: rerun the same command to resume)"
        } else {
            ""
        }
    );
    out
}

/// Writes `text` to stdout. A closed pipe (`| head`) is not an error.
pub fn stdout(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Writes a warning to stderr (unless quiet).
pub fn warn(mode: Mode, text: &str) {
    if mode != Mode::Quiet {
        let _ = writeln!(std::io::stderr().lock(), "warning: {text}");
    }
}
