//! `backfill check`: what the store holds, per ticker, against the exchange calendar.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use backfill_domain::jiff::civil::Date;
use backfill_domain::{Symbol, TimeRange};
use backfill_engine::calendar_for;
use backfill_engine::plan::{WindowSpec, is_covered, window_sessions};
use serde::Serialize;

use crate::commands::run::open_store;
use crate::exit::ExitStatus;
use crate::printer;
use crate::settings::Settings;

/// How many missing dates are listed per ticker (the count is always exact).
const LISTED_MISSING: usize = 20;

#[derive(Debug, Serialize)]
struct CheckTicker {
    symbol: Symbol,
    exchange: String,
    currency: Option<String>,
    instrument_type: Option<String>,
    /// Rows stored for this interval, over all time.
    rows: u64,
    /// First and last stored session dates, over all time.
    first: Option<Date>,
    last: Option<Date>,
    /// The requested window (`--days`/`--start`/`--end`), first and last session dates.
    window_first: Option<Date>,
    window_last: Option<Date>,
    /// Sessions in the window (after the first trade date, when known).
    sessions: usize,
    /// Sessions in the window with a stored bar.
    stored: usize,
    /// Sessions never fetched: a run would ask for them.
    missing: usize,
    /// Sessions the provider answered without a bar (halts, gaps in its history).
    no_data: usize,
    /// The first missing dates (at most 20).
    missing_dates: Vec<Date>,
    /// When this series was last fetched.
    last_fetched: Option<String>,
    /// Fetched bars that failed validation (kept as sent, or dropped), with the rule each broke.
    invalid_bars: usize,
    flagged: Vec<backfill_store::Flagged>,
}

#[derive(Debug, Serialize)]
struct Problem {
    path: String,
    reason: String,
}

/// A ticker whose stored files cannot be read: which files, and why.
#[derive(Debug, Serialize)]
struct DamagedTicker {
    symbol: Symbol,
    files: Vec<Problem>,
    /// The error that stopped checking this ticker.
    error: String,
}

#[derive(Debug, Serialize)]
struct CheckJson {
    interval: String,
    tickers: Vec<CheckTicker>,
    /// Tickers that could not be checked because a file of theirs is damaged; the other
    /// tickers are reported as usual.
    damaged: Vec<DamagedTicker>,
    problems: Vec<Problem>,
}

pub async fn check(mut settings: Settings, json: bool, strict: bool) -> Result<ExitStatus> {
    let store = open_store(&settings, true)?;
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
    let settings2 = settings.clone();
    let store2 = store.clone();
    let (rows, damaged, problems) = tokio::task::spawn_blocking(move || -> Result<_> {
        let s = &settings2;
        let mut rows = Vec::new();
        let mut damaged = Vec::new();
        for symbol in &s.tickers {
            match check_one(&store2, s, symbol) {
                Ok(row) => rows.push(row),
                Err(e) => match e.downcast_ref::<backfill_store::StoreError>() {
                    Some(backfill_store::StoreError::Corrupt { .. }) => {
                        let files = store2.damaged(symbol, s.interval)?;
                        damaged.push(DamagedTicker {
                            symbol: symbol.clone(),
                            files: files
                                .into_iter()
                                .map(|p| Problem {
                                    path: p.path.display().to_string(),
                                    reason: p.reason,
                                })
                                .collect(),
                            error: e.to_string(),
                        });
                    }
                    _ => return Err(e),
                },
            }
        }
        let problems = store2
            .problems()
            .context("cannot scan the store for damaged files")?;
        Ok((rows, damaged, problems))
    })
    .await
    .context("check stopped unexpectedly")??;

    let anything_missing = rows.iter().any(|r| r.missing > 0);
    let doc = CheckJson {
        interval: settings.interval.to_string(),
        tickers: rows,
        damaged,
        problems: problems
            .into_iter()
            .map(|p| Problem {
                path: p.path.display().to_string(),
                reason: p.reason,
            })
            .collect(),
    };
    if json {
        printer::stdout(&(serde_json::to_string_pretty(&doc)? + "\n"))?;
    } else {
        printer::stdout(&table(&doc, &settings))?;
    }
    Ok(
        if strict && (anything_missing || !doc.problems.is_empty() || !doc.damaged.is_empty()) {
            ExitStatus::Partial
        } else {
            ExitStatus::Success
        },
    )
}

fn check_one(store: &backfill_store::Store, s: &Settings, symbol: &Symbol) -> Result<CheckTicker> {
    let meta = store.read_meta(symbol)?;
    let ledger = store.ledger(symbol, s.interval)?;
    let summary = store.summary(symbol, s.interval)?;
    let flagged = store.flagged(symbol, s.interval)?;
    let (calendar, _) = calendar_for(symbol, meta.as_ref(), &s.closures);
    let spec = WindowSpec {
        start: s.start,
        end: s.end,
        days: s.days,
    };
    let mut sessions = window_sessions(&calendar, spec, s.now, s.interval.is_intraday());
    if let Some(ft) = meta.as_ref().and_then(|m| m.first_trade) {
        let first_trade = ft.to_zoned_datetime(calendar.timezone().clone()).date();
        sessions.retain(|x| x.date >= first_trade);
    }
    let stored_dates: BTreeSet<Date> = match (sessions.first(), sessions.last()) {
        (Some(a), Some(b)) => match TimeRange::new(
            // A day of margin before the first open: some providers stamp daily bars at local midnight.
            a.open - backfill_domain::jiff::SignedDuration::from_hours(24),
            b.close,
        ) {
            Some(r) => store
                .read_bars(symbol, s.interval, Some(r))?
                .into_iter()
                .map(|b| b.date)
                .collect(),
            None => BTreeSet::new(),
        },
        _ => BTreeSet::new(),
    };
    let answered = ledger.answered();
    let (mut stored, mut missing, mut no_data, mut missing_dates) = (0, 0, 0, Vec::new());
    for sess in &sessions {
        if stored_dates.contains(&sess.date) {
            stored += 1;
        } else if is_covered(&answered, sess) {
            no_data += 1;
        } else {
            missing += 1;
            if missing_dates.len() < LISTED_MISSING {
                missing_dates.push(sess.date);
            }
        }
    }
    Ok(CheckTicker {
        symbol: symbol.clone(),
        exchange: calendar.exchange().code().to_owned(),
        currency: meta.as_ref().and_then(|m| m.currency.clone()),
        instrument_type: meta.as_ref().and_then(|m| m.instrument_type.clone()),
        rows: summary.as_ref().map_or(0, |x| x.rows),
        first: summary.as_ref().map(|x| x.first_date),
        last: summary.as_ref().map(|x| x.last_date),
        window_first: sessions.first().map(|x| x.date),
        window_last: sessions.last().map(|x| x.date),
        sessions: sessions.len(),
        stored,
        missing,
        no_data,
        missing_dates,
        last_fetched: ledger
            .last_fetched()
            .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()),
        invalid_bars: flagged.len(),
        flagged,
    })
}

fn table(doc: &CheckJson, settings: &Settings) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let w = printer::symbol_width(doc.tickers.iter().map(|t| &t.symbol));
    let _ = writeln!(
        out,
        "{:<w$}  {:<8}  {:<4}  {:>7}  {:<10}  {:<10}  {:>8}  {:>7}  {:>7}  LAST FETCHED",
        "TICKER", "EXCHANGE", "CCY", "ROWS", "FIRST", "LAST", "SESSIONS", "MISSING", "NO DATA"
    );
    let d = |x: Option<Date>| x.map_or_else(|| "-".to_owned(), |d| d.to_string());
    for t in &doc.tickers {
        let _ = writeln!(
            out,
            "{:<w$}  {:<8}  {:<4}  {:>7}  {:<10}  {:<10}  {:>8}  {:>7}  {:>7}  {}",
            t.symbol.as_str(),
            t.exchange,
            t.currency.as_deref().unwrap_or("-"),
            t.rows,
            d(t.first),
            d(t.last),
            t.sessions,
            t.missing,
            t.no_data,
            t.last_fetched.as_deref().unwrap_or("never"),
        );
        if !t.missing_dates.is_empty() {
            let list: Vec<String> = t.missing_dates.iter().map(ToString::to_string).collect();
            let more = if t.missing > t.missing_dates.len() {
                ", …"
            } else {
                ""
            };
            let _ = writeln!(out, "{:<w$}  missing: {}{more}", "", list.join(", "));
        }
    }
    for t in doc.tickers.iter().filter(|t| t.invalid_bars > 0) {
        let _ = writeln!(out, "\n{}: {} invalid bar(s):", t.symbol, t.invalid_bars);
        for f in t.flagged.iter().take(LISTED_MISSING) {
            let what = if f.dropped { "dropped" } else { "kept as sent" };
            let _ = writeln!(out, "  {}  {}  {}  ({what})", f.date, f.ts, f.rule);
        }
        if t.invalid_bars > LISTED_MISSING {
            let _ = writeln!(
                out,
                "  … and {} more (`--json` lists all)",
                t.invalid_bars - LISTED_MISSING
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
    for t in &doc.damaged {
        let _ = writeln!(out, "\n{}: damaged, not checked:", t.symbol);
        for f in &t.files {
            let _ = writeln!(out, "  `{}`: {}", f.path, f.reason);
        }
    }
    for p in &doc.problems {
        let _ = writeln!(out, "problem: `{}`: {}", p.path, p.reason);
    }
    let total_missing: usize = doc.tickers.iter().map(|t| t.missing).sum();
    let _ = writeln!(
        out,
        "\n{} ticker(s), {} missing session(s) in the window{}",
        doc.tickers.len(),
        total_missing,
        if total_missing > 0 {
            "; `backfill` with the same options fetches them"
        } else {
            ""
        }
    );
    out
}
