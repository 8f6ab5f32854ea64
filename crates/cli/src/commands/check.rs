//! `backfill check`: what the store holds, per ticker, against the exchange calendar. The
//! computation is `backfill_engine::check`; this module chooses the series and prints. It reads
//! the store only: nothing is created, removed or locked, so a read-only store can be checked.

use std::fmt::Write as _;

use anyhow::{Context, Result};
use backfill_domain::jiff::civil::Date;
use backfill_engine::check::{CheckInput, CheckReport};
use backfill_engine::plan::WindowSpec;

use crate::commands::run::{open_store_read_only, print_setting_warnings};
use crate::exit::ExitStatus;
use crate::printer::{self, Out, Paint, plural};
use crate::settings::Settings;

/// How many invalid bars are listed per ticker in the table (`--json` lists all).
const LISTED_FLAGGED: usize = 20;

pub async fn check(
    mut settings: Settings,
    out: Out,
    json: bool,
    strict: bool,
) -> Result<ExitStatus> {
    print_setting_warnings(&settings, out);
    let store = open_store_read_only(&settings)?;
    if settings.tickers.is_empty() {
        let series = store
            .list_series()
            .context("cannot list the store's series")?;
        settings.tickers = series
            .into_iter()
            .filter(|(_, i)| *i == settings.interval)
            .map(|(s, _)| s)
            .collect();
    }
    let s = settings.clone();
    let report = tokio::task::spawn_blocking(move || {
        let input = CheckInput {
            tickers: &s.tickers,
            interval: s.interval,
            window: s.window_given.then_some(WindowSpec {
                start: s.start,
                end: s.end,
                days: s.days,
            }),
            default_days: s.days,
            now: s.now,
            closures: &s.closures,
            provider_window: s.provider.window(s.interval),
        };
        backfill_engine::check::check(&store, &input)
    })
    .await
    .context("check stopped unexpectedly")?
    .context("cannot scan the store for damaged files")?;

    if json {
        printer::stdout(&(serde_json::to_string_pretty(&report)? + "\n"))?;
    } else {
        printer::stdout(&table(&report, &settings, out.paint))?;
    }
    Ok(if strict && report.has_gaps_or_damage() {
        ExitStatus::Partial
    } else {
        ExitStatus::Success
    })
}

/// The run that fetches every missing session: the tickers with holes, from the first hole on.
fn fetch_command(doc: &CheckReport, settings: &Settings) -> Option<String> {
    let with_holes: Vec<&str> = doc
        .tickers
        .iter()
        .filter(|t| t.missing > 0)
        .map(|t| t.symbol.as_str())
        .collect();
    let first: Date = doc
        .tickers
        .iter()
        .filter_map(|t| t.holes.first())
        .map(|h| h.first)
        .min()?;
    let interval = if doc.interval == backfill_domain::Interval::D1 {
        String::new()
    } else {
        format!(" --interval {}", doc.interval)
    };
    let store = if settings.store == std::path::Path::new(crate::settings::DEFAULT_STORE) {
        String::new()
    } else {
        format!(" --store {}", settings.store.display())
    };
    Some(format!(
        "`backfill --tickers {} --start {first}{interval}{store}`",
        with_holes.join(",")
    ))
}

fn table(doc: &CheckReport, settings: &Settings, paint: Paint) -> String {
    let mut out = String::new();
    let w = printer::symbol_width(doc.tickers.iter().map(|t| &t.symbol));
    let window = if settings.window_given {
        "the requested window"
    } else {
        "each series' stored span, up to its latest closed session"
    };
    let _ = writeln!(
        out,
        "checked {} bars of `{}` over {window}",
        doc.interval,
        settings.store.display()
    );
    let _ = writeln!(
        out,
        "{}",
        paint.bold(&format!(
            "{:<w$}  {:<8}  {:<8}  {:<4}  {:>7}  {:<22}  {:>8}  {:>7}  {:>7}  LAST FETCHED",
            "TICKER",
            "PROVIDER",
            "EXCHANGE",
            "CCY",
            "ROWS",
            "CHECKED",
            "SESSIONS",
            "MISSING",
            "NO DATA"
        ))
    );
    for t in &doc.tickers {
        if let Some(e) = &t.error {
            let _ = writeln!(
                out,
                "{:<w$}  {}",
                t.symbol.as_str(),
                paint.error(&format!("cannot be checked: {e}"))
            );
            for f in &t.damaged {
                let _ = writeln!(out, "{:<w$}  damaged: `{}`: {}", "", f.path, f.reason);
            }
            continue;
        }
        let checked = match (t.window_first, t.window_last) {
            (Some(a), Some(b)) => format!("{a}..{b}"),
            _ => "nothing stored".to_owned(),
        };
        let missing = format!("{:>7}", t.missing);
        let missing = if t.missing > 0 {
            paint.error(&missing)
        } else {
            missing
        };
        let _ = writeln!(
            out,
            "{:<w$}  {:<8}  {:<8}  {:<4}  {:>7}  {:<22}  {:>8}  {missing}  {:>7}  {}",
            t.symbol.as_str(),
            t.provider.as_deref().unwrap_or("-"),
            t.exchange,
            t.currency.as_deref().unwrap_or("-"),
            t.rows,
            checked,
            t.sessions,
            t.no_data,
            t.last_fetched.map_or_else(
                || "never".to_owned(),
                |ts| ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
            ),
        );
        if !t.holes.is_empty() {
            let list: Vec<String> = t
                .holes
                .iter()
                .map(|h| {
                    if h.first == h.last {
                        h.first.to_string()
                    } else {
                        format!("{}..{} ({})", h.first, h.last, h.sessions)
                    }
                })
                .collect();
            let _ = writeln!(out, "{:<w$}  missing: {}", "", list.join(", "));
        }
    }
    for t in doc.tickers.iter().filter(|t| t.invalid_bars > 0) {
        let _ = writeln!(
            out,
            "\n{}: {}:",
            t.symbol,
            plural(t.invalid_bars as u64, "invalid bar", "invalid bars")
        );
        for f in t.flagged.iter().take(LISTED_FLAGGED) {
            let what = if f.dropped { "dropped" } else { "kept as sent" };
            let _ = writeln!(out, "  {}  {}  {}  ({what})", f.date, f.ts, f.rule);
        }
        if t.invalid_bars > LISTED_FLAGGED {
            let _ = writeln!(
                out,
                "  … and {} more (`--json` lists all)",
                t.invalid_bars - LISTED_FLAGGED
            );
        }
    }
    if doc.tickers.is_empty() {
        let _ = writeln!(
            out,
            "(no {} series in `{}`)",
            settings.interval,
            settings.store.display()
        );
    }
    for p in &doc.problems {
        let _ = writeln!(
            out,
            "{} `{}`: {}",
            paint.error("problem:"),
            p.path,
            p.reason
        );
    }
    let total_missing: usize = doc.tickers.iter().map(|t| t.missing).sum();
    let damaged = doc.tickers.iter().filter(|t| t.error.is_some()).count();
    let _ = writeln!(
        out,
        "\n{}, {} missing{}",
        plural(doc.tickers.len() as u64, "ticker", "tickers"),
        plural(total_missing as u64, "session", "sessions"),
        if damaged > 0 {
            format!(
                ", {} that cannot be checked",
                plural(damaged as u64, "series", "series")
            )
        } else {
            String::new()
        }
    );
    if let Some(cmd) = fetch_command(doc, settings) {
        let _ = writeln!(out, "to fetch only what is missing: {cmd}");
    }
    out
}
