//! The text a run ends with: one row per ticker, identical failures grouped with one explanation
//! and one hint each, totals, where the data went and what to do next.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use backfill_domain::Symbol;
use backfill_engine::{RunReport, Status, TickerReport};

use crate::printer::Paint;

/// `1 ticker`, `2 tickers`, `0 tickers`.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

pub fn status_text(s: Status) -> &'static str {
    match s {
        Status::Saved => "saved",
        Status::UpToDate => "up to date",
        Status::NotFound => "not found",
        Status::Failed => "failed",
        Status::Interrupted => "interrupted",
    }
}

fn paint_status(paint: Paint, s: Status, padded: &str) -> String {
    match s {
        Status::Saved => paint.ok(padded),
        Status::UpToDate => paint.dim(padded),
        Status::Failed => paint.error(padded),
        _ => paint.warn(padded),
    }
}

/// A failure kind: the short note in the table, and the sentence and hint said once per group.
struct Explained {
    note: &'static str,
    what: &'static str,
    hint: &'static str,
}

fn explain(failure: Option<&str>) -> Explained {
    match failure {
        Some("throttled") => Explained {
            note: "throttled (HTTP 429)",
            what: "throttled by the provider (HTTP 429)",
            hint: "lower `--rate` (e.g. `--rate 1`), or use `--rate auto`; what was saved stays",
        },
        Some("not_found") => Explained {
            note: "not found",
            what: "not found at the provider (unknown or delisted)",
            hint: "check the spelling and the exchange suffix (`AIR.PA`, `OCDO.L`, `^GSPC`)",
        },
        Some("out_of_window") => Explained {
            note: "outside the provider's history",
            what: "asked for a range the provider does not serve at this interval",
            hint: "narrow `--days` or `--start` to what the provider keeps (the detail below says which limit)",
        },
        Some("transient") => Explained {
            note: "transient failures",
            what: "failed with transient errors (5xx, resets, timeouts) after every retry",
            hint: "the provider or the network had trouble; wait, or raise `--retries`",
        },
        Some("malformed") => Explained {
            note: "unusable answer",
            what: "got answers that cannot be used as data",
            hint: "run again with `-v` to see each request",
        },
        Some("unauthorized") => Explained {
            note: "not authorised",
            what: "refused by the provider (Yahoo: HTTP 401 even with a fresh cookie and crumb)",
            hint: "Yahoo: wait a few minutes before running again; Tiingo and Alpaca: check the API key and what the plan serves",
        },
        Some("store") => Explained {
            note: "store error",
            what: "could not be read from or written to the store",
            hint: "check the store directory's permissions and free space",
        },
        Some("interrupted") => Explained {
            note: "interrupted",
            what: "interrupted by Ctrl-C; what was saved stays",
            hint: "",
        },
        _ => Explained {
            note: "failed",
            what: "failed",
            hint: "",
        },
    }
}

/// Width of a table's TICKER column: the longest symbol, at least the heading.
pub fn symbol_width<'a>(symbols: impl Iterator<Item = &'a Symbol>) -> usize {
    symbols
        .map(|s| s.as_str().len())
        .max()
        .unwrap_or(0)
        .max("TICKER".len())
}

/// "MSFT: saved 252 rows (1 request, 0 retries)", for the line-per-ticker progress.
pub fn ticker_line(r: &TickerReport, paint: Paint) -> String {
    let st = paint_status(paint, r.status, status_text(r.status));
    match r.status {
        Status::Saved => format!(
            "{}: {st} {} ({}, {})",
            r.symbol,
            plural(r.rows, "row", "rows"),
            plural(u64::from(r.requests), "request", "requests"),
            plural(u64::from(r.retries), "retry", "retries"),
        ),
        Status::UpToDate => format!("{}: {st}", r.symbol),
        _ => format!(
            "{}: {st}: {}",
            r.symbol,
            r.error.as_deref().unwrap_or("no reason given")
        ),
    }
}

/// The per-ticker table, the grouped failures and the totals, for stdout.
pub fn summary_table(report: &RunReport, store: &str, paint: Paint) -> String {
    let mut out = String::new();
    let w = symbol_width(report.tickers.iter().map(|t| &t.symbol));
    let _ = writeln!(
        out,
        "{}",
        paint.bold(&format!(
            "{:<w$}  {:<11}  {:>8}  {:>4}  {:>5}  {:<22}  NOTE",
            "TICKER", "STATUS", "ROWS", "REQ", "RETRY", "WINDOW"
        ))
    );
    for t in &report.tickers {
        let window = match (t.first, t.last) {
            (Some(a), Some(b)) => format!("{a}..{b}"),
            _ => String::new(),
        };
        let mut notes: Vec<String> = Vec::new();
        if !t.status.is_complete() {
            notes.push(explain(t.failure).note.to_owned());
        }
        if t.invalid_bars > 0 {
            notes.push(format!(
                "{} flagged (`backfill check` lists them)",
                plural(t.invalid_bars, "invalid bar", "invalid bars")
            ));
        }
        if t.adjusted {
            notes.push("history re-fetched on the new split basis".to_owned());
        }
        if !t.warnings.is_empty() {
            notes.push(plural(t.warnings.len() as u64, "warning", "warnings"));
        }
        let _ = writeln!(
            out,
            "{:<w$}  {}  {:>8}  {:>4}  {:>5}  {:<22}  {}",
            t.symbol.as_str(),
            paint_status(paint, t.status, &format!("{:<11}", status_text(t.status))),
            t.rows,
            t.requests,
            t.retries,
            window,
            notes.join("; ")
        );
    }
    out.push_str(&failure_groups(report, paint));
    let s = &report.totals;
    let mut parts = vec![
        format!("{} saved", s.saved),
        format!("{} up to date", s.up_to_date),
    ];
    if s.not_found > 0 {
        parts.push(format!("{} not found", s.not_found));
    }
    if s.failed > 0 {
        parts.push(paint.error(&format!("{} failed", s.failed)));
    }
    if s.interrupted_tickers > 0 {
        parts.push(format!("{} interrupted", s.interrupted_tickers));
    }
    let _ = writeln!(
        out,
        "\n{}: {}; {}; {}, {}{}{}; throttled {:.2}s of {:.2}s",
        plural(s.tickers as u64, "ticker", "tickers"),
        parts.join(", "),
        plural(s.rows, "row", "rows"),
        plural(s.requests, "request", "requests"),
        plural(s.retries, "retry", "retries"),
        if s.invalid_bars > 0 {
            format!(
                "; {}",
                plural(s.invalid_bars, "invalid bar", "invalid bars")
            )
        } else {
            String::new()
        },
        if s.adjusted > 0 {
            format!("; {} re-based after a split", s.adjusted)
        } else {
            String::new()
        },
        s.throttled_secs,
        s.elapsed_secs,
    );
    let _ = writeln!(out, "store: {store}");
    // A rerun helps unless every incomplete ticker is unknown to the provider.
    let rerun_helps = report.totals.interrupted
        || report
            .tickers
            .iter()
            .any(|t| !t.status.is_complete() && t.status != Status::NotFound);
    if rerun_helps {
        let _ = writeln!(
            out,
            "{}",
            paint.bold("rerun the same command to fetch only what is missing")
        );
    }
    out
}

/// One paragraph per kind of failure: how many tickers, what happened, what to do, which ones.
fn failure_groups(report: &RunReport, paint: Paint) -> String {
    let mut groups: BTreeMap<&str, Vec<&TickerReport>> = BTreeMap::new();
    for t in report.tickers.iter().filter(|t| !t.status.is_complete()) {
        groups
            .entry(t.failure.unwrap_or("failed"))
            .or_default()
            .push(t);
    }
    let mut out = String::new();
    for (label, tickers) in groups {
        let e = explain(Some(label));
        let n = tickers.len() as u64;
        let head = format!("{} {}", plural(n, "ticker", "tickers"), e.what);
        let head = if label == "interrupted" || label == "not_found" {
            paint.warn(&head)
        } else {
            paint.error(&head)
        };
        let hint = if e.hint.is_empty() {
            String::new()
        } else {
            format!(": {}", e.hint)
        };
        let _ = writeln!(out, "\n{head}{hint}");
        let names: Vec<&str> = tickers.iter().map(|t| t.symbol.as_str()).collect();
        let _ = writeln!(out, "  {}", names.join(", "));
        // The detail of the first one: the provider's own words, said once.
        if let Some(detail) = tickers.first().and_then(|t| t.error.as_deref()) {
            let _ = writeln!(out, "  {}", paint.dim(detail));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn failed(sym: &str, failure: &'static str) -> TickerReport {
        TickerReport {
            error: Some(format!("`{sym}` 1d: a long sentence from the provider")),
            failure: Some(failure),
            requests: 6,
            retries: 5,
            ..TickerReport::new(Symbol::parse(sym).unwrap(), Status::Failed)
        }
    }

    #[test]
    fn identical_failures_are_grouped_and_plurals_are_right() {
        let mut tickers: Vec<TickerReport> = ["A", "B", "C"]
            .iter()
            .map(|s| failed(s, "throttled"))
            .collect();
        tickers.push(TickerReport {
            rows: 1,
            requests: 1,
            ..TickerReport::new(Symbol::parse("OK").unwrap(), Status::Saved)
        });
        let report = RunReport::new(
            tickers,
            Duration::from_secs(9),
            Duration::from_secs(3),
            false,
        );
        let text = summary_table(&report, "/tmp/store", Paint::plain());
        assert_eq!(text.matches("a long sentence").count(), 1, "{text}");
        assert!(
            text.contains("3 tickers throttled by the provider (HTTP 429): lower `--rate`"),
            "{text}"
        );
        assert!(text.contains("or use `--rate auto`"), "{text}");
        assert!(text.contains("  A, B, C\n"), "{text}");
        assert!(text.contains("4 tickers: 1 saved"), "{text}");
        assert!(text.contains("1 row;"), "{text}");
        assert!(text.contains("throttled 3.00s of 3.00s"), "{text}");
        assert!(text.contains("store: /tmp/store"), "{text}");
        assert!(
            text.contains("rerun the same command to fetch only what is missing"),
            "{text}"
        );
    }

    #[test]
    fn a_complete_run_gives_no_rerun_hint() {
        let report = RunReport::new(
            vec![TickerReport::new(
                Symbol::parse("X").unwrap(),
                Status::UpToDate,
            )],
            Duration::ZERO,
            Duration::from_secs(1),
            false,
        );
        let text = summary_table(&report, "s", Paint::plain());
        assert!(
            text.contains("1 ticker: 0 saved, 1 up to date; 0 rows; 0 requests, 0 retries"),
            "{text}"
        );
        assert!(!text.contains("rerun"), "{text}");
    }
}
