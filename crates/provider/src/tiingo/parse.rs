//! Pure classification and parsing of Tiingo end-of-day answers (JSON and CSV).

use backfill_domain::{Action, ActionKind, Bar, SymbolMeta};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::Deserialize;

use crate::adjust::{
    Splits, calendar_for, divide, is_split, ratio_fraction, round_sig, session_stamp,
};
use crate::{Answer, ErrorKind, FetchRequest};

/// The text Tiingo's quota answers contain (`…run over your hourly request allocation…`, or
/// `daily`); matched as a substring because two wordings are in use (spec §6).
const ALLOCATION: &str = "request allocation";

/// One end-of-day row as Tiingo sends it. Every field but `date` may be missing or null.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    /// `2015-01-02T00:00:00.000Z`, `2018-04-12T00:00:00+00:00` or (CSV) `2015-01-02`: the date part
    /// is the exchange's trading date.
    pub date: String,
    pub open: Option<f64>,
    pub high: Option<f64>,
    pub low: Option<f64>,
    pub close: Option<f64>,
    pub volume: Option<f64>,
    pub adj_close: Option<f64>,
    pub adj_volume: Option<f64>,
    pub div_cash: Option<f64>,
    pub split_factor: Option<f64>,
}

/// Classifies one `/tiingo/daily/<ticker>/prices` answer and parses its rows.
///
/// `now` decides when an exhausted quota resets (see [`quota_reset`]). Classification, before
/// any parsing, by status and body (Tiingo sometimes sends errors with HTTP 200, spec §7):
///
/// - 429, or a body mentioning "request allocation" → [`ErrorKind::QuotaSpent`] until the quota
///   resets;
/// - 404, or a text/`detail` saying "not found" → [`ErrorKind::NotFound`];
/// - 401 and 403 → [`ErrorKind::Unauthorized`] (a wrong key, or a plan without this data);
/// - 5xx and 408 → [`ErrorKind::Transient`];
/// - anything else that is not a JSON array or the CSV header → [`ErrorKind::Malformed`].
///
/// # Errors
/// The [`ErrorKind`] of the answer, as above. `detail` quotes Tiingo's message.
pub fn classify(status: u16, body: &[u8], now: Timestamp) -> Result<Vec<Row>, ErrorKind> {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim_start();
    let detail = detail_of(trimmed);
    if status == 429 || detail.contains(ALLOCATION) {
        return Err(ErrorKind::QuotaSpent {
            retry_after: quota_reset(&detail, now),
            detail: format!("Tiingo answered HTTP {status}: {}", clip(&detail)),
        });
    }
    if status == 404 || (status == 200 && detail.to_ascii_lowercase().contains("not found")) {
        return Err(ErrorKind::NotFound {
            detail: format!("HTTP {status}: {detail}"),
        });
    }
    if status == 401 || status == 403 {
        return Err(ErrorKind::Unauthorized {
            detail: format!("Tiingo answered HTTP {status}: {detail}"),
        });
    }
    if status >= 500 || status == 408 {
        return Err(ErrorKind::Transient {
            detail: format!("HTTP {status}: {}", clip(&detail)),
        });
    }
    if status != 200 {
        return Err(ErrorKind::Malformed {
            detail: format!("HTTP {status}: {}", clip(&detail)),
        });
    }
    if trimmed.starts_with('[') {
        serde_json::from_str::<Vec<Row>>(trimmed).map_err(|e| ErrorKind::Malformed {
            detail: format!("the JSON rows do not parse: {e}"),
        })
    } else if trimmed.starts_with("date,") {
        parse_csv(trimmed)
    } else {
        Err(ErrorKind::Malformed {
            detail: format!("expected JSON rows or CSV, got: {}", clip(&detail)),
        })
    }
}

/// How long until an exhausted quota resets, from `now`: the next full hour for the hourly
/// allocation, the next UTC midnight for the daily one.
pub fn quota_reset(detail: &str, now: Timestamp) -> std::time::Duration {
    let secs = now.as_second();
    let period = if detail.contains("daily") {
        86_400
    } else {
        3_600
    };
    let next = (secs.div_euclid(period) + 1) * period;
    let nanos = i64::from(now.subsec_nanosecond());
    let wait = (next - secs) * 1_000_000_000 - nanos;
    std::time::Duration::from_nanos(wait.max(0) as u64)
}

/// Tiingo's message: the `detail` of a `{"detail": …}` body, else the text itself.
fn detail_of(text: &str) -> String {
    #[derive(Deserialize)]
    struct Detail {
        detail: String,
    }
    if text.starts_with('{')
        && let Ok(d) = serde_json::from_str::<Detail>(text)
    {
        return d.detail;
    }
    if text.starts_with('[') || text.starts_with("date,") {
        return String::new();
    }
    text.trim().to_owned()
}

fn clip(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// The CSV form: a header naming the columns (any order), one row per line.
fn parse_csv(text: &str) -> Result<Vec<Row>, ErrorKind> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let col = |name: &str| header.iter().position(|h| h.trim() == name);
    let date_col = col("date").ok_or_else(|| ErrorKind::Malformed {
        detail: "the CSV has no `date` column".into(),
    })?;
    let cols = [
        "open",
        "high",
        "low",
        "close",
        "volume",
        "adjClose",
        "adjVolume",
        "divCash",
        "splitFactor",
    ]
    .map(col);
    let mut rows = Vec::new();
    for (n, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let cells: Vec<&str> = line.split(',').collect();
        let num = |c: Option<usize>| -> Result<Option<f64>, ErrorKind> {
            match c.and_then(|c| cells.get(c)).map(|s| s.trim()) {
                None | Some("") => Ok(None),
                Some(v) => v.parse().map(Some).map_err(|_| ErrorKind::Malformed {
                    detail: format!("CSV line {}: `{v}` is not a number", n + 2),
                }),
            }
        };
        rows.push(Row {
            date: cells.get(date_col).unwrap_or(&"").trim().to_owned(),
            open: num(cols[0])?,
            high: num(cols[1])?,
            low: num(cols[2])?,
            close: num(cols[3])?,
            volume: num(cols[4])?,
            adj_close: num(cols[5])?,
            adj_volume: num(cols[6])?,
            div_cash: num(cols[7])?,
            split_factor: num(cols[8])?,
        });
    }
    Ok(rows)
}

fn row_date(row: &Row) -> Result<Date, ErrorKind> {
    row.date
        .get(..10)
        .and_then(|d| d.parse::<Date>().ok())
        .ok_or_else(|| ErrorKind::Malformed {
            detail: format!("`{}` is not a date", row.date),
        })
}

/// Turns rows into an [`Answer`] for `req` in the store's meaning.
///
/// The rows may run past the request (the client asks up to the latest bar, so that splits after
/// the window are known); only their `splitFactor` is used. For each row of the window:
///
/// - `ts` is the session's open on the row's date in the symbol's calendar, `date` the row's date;
/// - open/high/low/close are the raw prices divided by the product of the `splitFactor`s of later
///   rows (split-adjusted as of the fetch); `adj_close` is Tiingo's `adjClose` (split and dividend);
/// - volume is `adjVolume` (split-adjusted), else the raw volume times the same product;
/// - a row missing any of open/high/low/close is dropped;
/// - `divCash > 0` is a dividend (divided by the later splits, like prices) and
///   `splitFactor ≠ 1` a split, both at the row's session.
///
/// Rows are sorted by date; a repeated date keeps the first row.
///
/// # Errors
/// [`ErrorKind::Malformed`] for a row whose date does not parse.
pub fn build_answer(rows: &[Row], req: &FetchRequest) -> Result<Answer, ErrorKind> {
    let calendar = calendar_for(&req.symbol);
    let mut dated = Vec::with_capacity(rows.len());
    for row in rows {
        dated.push((row_date(row)?, row));
    }
    dated.sort_by_key(|(d, _)| *d);
    dated.dedup_by_key(|(d, _)| *d);
    let splits = Splits::new(
        dated
            .iter()
            .filter_map(|(d, r)| r.split_factor.map(|f| (*d, f)))
            .collect(),
    );
    let mut bars = Vec::new();
    let mut actions = Vec::new();
    for (date, row) in dated {
        let ts = session_stamp(&calendar, date);
        if !req.range.contains(ts) {
            continue;
        }
        let f = splits.after(date);
        if let Some(cash) = row.div_cash.filter(|c| *c > 0.0 && c.is_finite()) {
            actions.push(Action {
                ts,
                date,
                kind: ActionKind::Dividend {
                    amount: divide(cash, f),
                    currency: None,
                },
            });
        }
        if let Some(ratio) = row.split_factor.filter(|r| is_split(*r)) {
            let (numerator, denominator) = ratio_fraction(ratio);
            actions.push(Action {
                ts,
                date,
                kind: ActionKind::Split {
                    numerator,
                    denominator,
                },
            });
        }
        let (Some(open), Some(high), Some(low), Some(close)) =
            (row.open, row.high, row.low, row.close)
        else {
            continue;
        };
        let volume = match (row.adj_volume, row.volume) {
            (Some(v), _) => v,
            (None, Some(v)) => round_sig(v * f),
            (None, None) => 0.0,
        };
        bars.push(Bar {
            ts,
            date,
            open: divide(open, f),
            high: divide(high, f),
            low: divide(low, f),
            close: divide(close, f),
            adj_close: row.adj_close,
            volume: volume.round() as i64,
        });
    }
    Ok(Answer {
        meta: SymbolMeta {
            symbol: Some(req.symbol.clone()),
            ..SymbolMeta::default()
        },
        bars,
        actions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn quota_resets_at_the_next_hour_or_midnight() {
        let now = at("2026-01-05T10:59:30.5Z");
        assert_eq!(
            quota_reset("hourly request allocation", now),
            std::time::Duration::from_millis(29_500)
        );
        assert_eq!(
            quota_reset("daily request allocation", now),
            std::time::Duration::from_millis(13 * 3_600_000 + 29_500)
        );
        assert_eq!(
            quota_reset("", at("2026-01-05T11:00:00Z")),
            std::time::Duration::from_hours(1)
        );
    }

    #[test]
    fn errors_sent_with_200_are_errors() {
        let now = at("2026-01-05T10:00:00Z");
        let e = classify(200, b"Error: Ticker 'XYZ' not found", now).unwrap_err();
        assert_eq!(e.label(), "not_found");
        let e = classify(
            200,
            b"Error: You have run over your hourly request allocation.",
            now,
        )
        .unwrap_err();
        assert_eq!(e.label(), "quota");
        assert_eq!(e.retry_after(), Some(std::time::Duration::from_hours(1)));
        let e = classify(200, b"<html>oops</html>", now).unwrap_err();
        assert_eq!(e.label(), "malformed");
        assert_eq!(classify(200, b"[]", now).unwrap(), Vec::new());
    }
}
