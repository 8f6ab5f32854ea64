//! `backfill.read`: a store's bars as columns, read through the store crate (so a multi-file
//! commit in progress is seen whole or not at all, and object storage works as for the CLI).

use backfill_domain::jiff::civil::Date;
use backfill_domain::{Interval, Symbol};
use backfill_store::{Store, StoreError, StoreOptions};

/// Bars of several series, column by column, sorted by symbol then `ts`.
#[derive(Debug, Default)]
pub struct Columns {
    pub symbol: Vec<String>,
    pub interval: Vec<String>,
    /// Microseconds since the epoch (UTC).
    pub ts: Vec<i64>,
    /// Days since 1970-01-01.
    pub date: Vec<i32>,
    pub open: Vec<f64>,
    pub high: Vec<f64>,
    pub low: Vec<f64>,
    pub close: Vec<f64>,
    pub adj_close: Vec<Option<f64>>,
    pub volume: Vec<i64>,
}

/// Why a read failed: the user's input, or the store.
#[derive(Debug)]
pub enum ReadError {
    Usage(String),
    Store(String),
}

fn store_error(e: &StoreError, location: &str) -> ReadError {
    if e.is_usage() {
        ReadError::Usage(e.to_string())
    } else {
        ReadError::Store(format!("cannot read the store at `{location}`: {e}"))
    }
}

/// The bars of `tickers` (default: every symbol stored at `interval`) whose session date is in
/// `start..=end` (each bound optional).
pub fn read(
    location: &str,
    tickers: Option<&[String]>,
    interval: &str,
    start: Option<Date>,
    end: Option<Date>,
) -> Result<Columns, ReadError> {
    let interval = Interval::parse(interval).map_err(|e| {
        ReadError::Usage(format!(
            "{e}\n\nhint: give one of 1m 2m 5m 15m 30m 60m/1h 90m 1d 1wk 1mo"
        ))
    })?;
    let local = location.strip_prefix("file://").unwrap_or(location);
    let path = std::path::Path::new(local);
    if (!location.contains("://") || location.starts_with("file://")) && !path.is_dir() {
        let what = if path.exists() {
            "is not a directory"
        } else {
            "does not exist"
        };
        return Err(ReadError::Usage(format!(
            "the store `{location}` {what}\n\nhint: check the path; a first `backfill` run creates the store"
        )));
    }
    let store = Store::open_location(
        location,
        &StoreOptions {
            read_only: true,
            ..StoreOptions::default()
        },
    )
    .map_err(|e| store_error(&e, location))?;
    let mut symbols: Vec<Symbol> = match tickers {
        Some(list) => list
            .iter()
            .map(|t| {
                Symbol::parse(t.trim()).map_err(|e| {
                    ReadError::Usage(format!(
                        "{e}\n\nhint: give Yahoo symbols such as `MSFT`, `AIR.PA`, `BRK-B`, `^GSPC`"
                    ))
                })
            })
            .collect::<Result<_, _>>()?,
        None => store
            .list_series()
            .map_err(|e| store_error(&e, location))?
            .into_iter()
            .filter(|(_, i)| *i == interval)
            .map(|(s, _)| s)
            .collect(),
    };
    symbols.sort();
    symbols.dedup();
    let epoch = Date::constant(1970, 1, 1);
    let mut out = Columns::default();
    for symbol in &symbols {
        let bars = store
            .read_bars(symbol, interval, None)
            .map_err(|e| store_error(&e, location))?;
        for b in bars {
            if start.is_some_and(|s| b.date < s) || end.is_some_and(|e| b.date > e) {
                continue;
            }
            let days = b.date.since(epoch).map_or(0, |span| span.get_days());
            out.symbol.push(symbol.as_str().to_owned());
            out.interval.push(interval.as_str().to_owned());
            out.ts.push(b.ts.as_microsecond());
            out.date.push(days);
            out.open.push(b.open);
            out.high.push(b.high);
            out.low.push(b.low);
            out.close.push(b.close);
            out.adj_close.push(b.adj_close);
            out.volume.push(b.volume);
        }
    }
    Ok(out)
}
