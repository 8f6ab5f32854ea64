//! Pure classification and parsing of Alpaca Market Data answers: bar pages and corporate actions.

use std::collections::HashMap;

use backfill_domain::{Action, ActionKind, Bar, Interval, SymbolMeta};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::Deserialize;

use crate::adjust::{Splits, calendar_for, divide, ratio_fraction, session_stamp};
use crate::{Answer, ErrorKind, FetchRequest};

/// One bar as Alpaca sends it (`vw` and `n` are not kept).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
pub struct RawBar {
    /// Bar start, UTC. Daily bars are stamped at midnight New York time.
    pub t: Timestamp,
    pub o: f64,
    pub h: f64,
    pub l: f64,
    pub c: f64,
    pub v: f64,
}

/// One page of bars for one symbol, and the token of the next page (`None` on the last).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BarPage {
    pub bars: Vec<RawBar>,
    pub next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum BarsField {
    /// Multi-symbol endpoint: `{"bars": {"AAPL": [...]}}`; the latest-bar endpoint sends one
    /// object per symbol instead of a list.
    Map(HashMap<String, Option<OneOrMany>>),
    /// Single-symbol endpoint: `{"bars": [...], "symbol": "AAPL"}`.
    List(Vec<RawBar>),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    Many(Vec<RawBar>),
    One(RawBar),
}

#[derive(Deserialize)]
struct BarsBody {
    bars: Option<BarsField>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    code: Option<i64>,
    message: Option<String>,
}

/// Alpaca's message for SIP bars of the last 15 minutes asked on the free plan.
const RECENT_SIP: &str = "recent SIP data";

/// Classifies an answer before parsing it: 200 passes; otherwise the error class.
///
/// - 403 `subscription does not permit querying recent SIP data` → [`ErrorKind::OutOfWindow`]: the
///   free plan serves SIP bars up to 15 minutes ago; the keys are fine (spec §8);
/// - 401 and 403 → [`ErrorKind::Unauthorized`] (missing or wrong keys, or a plan without the data);
/// - 429 → [`ErrorKind::Throttled`] with `retry_after` (the `Retry-After` header, when sent);
/// - 400 whose message says `invalid symbol` → [`ErrorKind::NotFound`];
/// - 5xx and 408 → [`ErrorKind::Transient`];
/// - other statuses (400, 422 "invalid timeframe", …) → [`ErrorKind::Malformed`].
///
/// `detail` quotes Alpaca's `message` (and `code`).
///
/// # Errors
/// The error class of a non-200 answer.
pub fn classify(
    status: u16,
    body: &[u8],
    retry_after: Option<std::time::Duration>,
) -> Result<(), ErrorKind> {
    if status == 200 {
        return Ok(());
    }
    let text = String::from_utf8_lossy(body);
    let message = match serde_json::from_str::<ErrorBody>(text.trim()) {
        Ok(ErrorBody {
            code: Some(code),
            message: Some(m),
        }) => format!("{m} (code {code})"),
        Ok(ErrorBody {
            message: Some(m), ..
        }) => m,
        _ => clip(&text),
    };
    let detail = format!("HTTP {status}: {message}");
    Err(match status {
        403 if message.contains(RECENT_SIP) => ErrorKind::OutOfWindow {
            detail: format!(
                "{detail}; Alpaca's free plan serves SIP bars up to 15 minutes ago: run after the \
                 close, or end the window before today"
            ),
        },
        401 | 403 => ErrorKind::Unauthorized { detail },
        429 => ErrorKind::Throttled { retry_after },
        400 if message.contains("invalid symbol") => ErrorKind::NotFound { detail },
        408 | 500..=599 => ErrorKind::Transient { detail },
        _ => ErrorKind::Malformed { detail },
    })
}

fn clip(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// Parses a 200 bars page, keeping the bars of `symbol` (the multi-symbol map's key, or every bar
/// of the single-symbol list). `{}`, `[]` and `null` bars are an empty page.
///
/// # Errors
/// [`ErrorKind::Malformed`] when the body is not a bars page.
pub fn parse_bars(body: &[u8], symbol: &str) -> Result<BarPage, ErrorKind> {
    let page: BarsBody = serde_json::from_slice(body).map_err(|e| ErrorKind::Malformed {
        detail: format!("the bars page does not parse: {e}"),
    })?;
    let bars = match page.bars {
        None => Vec::new(),
        Some(BarsField::List(v)) => v,
        Some(BarsField::Map(mut m)) => match m.remove(symbol).flatten() {
            None => Vec::new(),
            Some(OneOrMany::Many(v)) => v,
            Some(OneOrMany::One(b)) => vec![b],
        },
    };
    Ok(BarPage {
        bars,
        next_page_token: page.next_page_token.filter(|t| !t.is_empty()),
    })
}

/// A split or cash dividend from `/v1/corporate-actions`.
#[derive(Debug, Clone, PartialEq)]
pub enum CorporateAction {
    /// `new_rate` new shares for `old_rate` old ones, effective on `ex_date`.
    Split {
        symbol: String,
        ex_date: Date,
        new_rate: f64,
        old_rate: f64,
    },
    /// `rate` in cash per share (on the basis of its day) with ex-date `ex_date`.
    Dividend {
        symbol: String,
        ex_date: Date,
        rate: f64,
    },
}

#[derive(Deserialize)]
struct SplitRow {
    symbol: String,
    ex_date: Date,
    new_rate: f64,
    old_rate: f64,
}

#[derive(Deserialize)]
struct DividendRow {
    symbol: String,
    ex_date: Date,
    rate: f64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Groups {
    forward_splits: Vec<SplitRow>,
    reverse_splits: Vec<SplitRow>,
    cash_dividends: Vec<DividendRow>,
}

#[derive(Deserialize)]
struct ActionsBody {
    #[serde(default)]
    corporate_actions: Groups,
    next_page_token: Option<String>,
}

/// Parses a 200 `/v1/corporate-actions` page into its splits (forward and reverse) and cash
/// dividends, with the next page's token. Other action types (unit splits, which separate units
/// into shares and warrants, spin-offs, mergers, renames, …) are ignored.
///
/// # Errors
/// [`ErrorKind::Malformed`] when the body is not a corporate-actions page.
pub fn parse_actions(body: &[u8]) -> Result<(Vec<CorporateAction>, Option<String>), ErrorKind> {
    let page: ActionsBody = serde_json::from_slice(body).map_err(|e| ErrorKind::Malformed {
        detail: format!("the corporate-actions page does not parse: {e}"),
    })?;
    let g = page.corporate_actions;
    let splits = g
        .forward_splits
        .into_iter()
        .chain(g.reverse_splits)
        .map(|s| CorporateAction::Split {
            symbol: s.symbol,
            ex_date: s.ex_date,
            new_rate: s.new_rate,
            old_rate: s.old_rate,
        });
    let divs = g
        .cash_dividends
        .into_iter()
        .map(|d| CorporateAction::Dividend {
            symbol: d.symbol,
            ex_date: d.ex_date,
            rate: d.rate,
        });
    Ok((
        splits.chain(divs).collect(),
        page.next_page_token.filter(|t| !t.is_empty()),
    ))
}

/// Builds the [`Answer`] for `req` from split-adjusted bars, the split- and dividend-adjusted bars
/// of the same window (daily only; empty for intraday) and the symbol's corporate actions from the
/// window's start to today.
///
/// - Daily bars: `t` (midnight New York) is read as a date in the symbol's calendar and stamped at
///   that session's open; `adj_close` is the close of the bar with the same `t` in `adjusted`.
/// - Intraday bars keep `t` and are kept only inside a regular session (open ≤ t < close, outside a
///   lunch break): Alpaca also serves pre- and post-market bars, the store holds regular hours as
///   Yahoo serves them. `adj_close` is `None`.
/// - Bars outside the window are dropped; bars are sorted, the first of a repeated `ts` wins.
/// - Splits are `new_rate:old_rate`; dividends are divided by the splits effective after their
///   ex-date (they come on the basis of their day; the store holds today's basis). Both are
///   stamped at their ex-date's session and clipped to the window.
pub fn build_answer(
    req: &FetchRequest,
    split_adjusted: &[RawBar],
    adjusted: &[RawBar],
    actions: &[CorporateAction],
) -> Answer {
    let calendar = calendar_for(&req.symbol);
    let tz = calendar.timezone().clone();
    let adj: HashMap<Timestamp, f64> = adjusted.iter().map(|b| (b.t, b.c)).collect();
    let mut bars = Vec::with_capacity(split_adjusted.len());
    for b in split_adjusted {
        let (ts, date) = if req.interval.is_intraday() {
            let date = b.t.to_zoned_datetime(tz.clone()).date();
            let Some(s) = calendar.session(date) else {
                continue;
            };
            let in_break = s.break_.is_some_and(|(a, z)| a <= b.t && b.t < z);
            if b.t < s.open || b.t >= s.close || in_break {
                continue;
            }
            (b.t, date)
        } else {
            let date = b.t.to_zoned_datetime(tz.clone()).date();
            (session_stamp(&calendar, date), date)
        };
        if !req.range.contains(ts) {
            continue;
        }
        bars.push(Bar {
            ts,
            date,
            open: b.o,
            high: b.h,
            low: b.l,
            close: b.c,
            adj_close: if req.interval.is_intraday() {
                None
            } else {
                adj.get(&b.t).copied()
            },
            volume: b.v.round() as i64,
        });
    }
    bars.sort_by_key(|b| b.ts);
    bars.dedup_by_key(|b| b.ts);

    let splits = Splits::new(
        actions
            .iter()
            .filter_map(|a| match a {
                CorporateAction::Split {
                    ex_date,
                    new_rate,
                    old_rate,
                    ..
                } if *old_rate > 0.0 => Some((*ex_date, new_rate / old_rate)),
                _ => None,
            })
            .collect(),
    );
    let mut out = Vec::new();
    for a in actions {
        let (date, kind) = match a {
            CorporateAction::Split {
                ex_date,
                new_rate,
                old_rate,
                ..
            } => {
                if *old_rate <= 0.0 || *new_rate <= 0.0 {
                    continue;
                }
                let (numerator, denominator) = ratio_fraction(new_rate / old_rate);
                (
                    *ex_date,
                    ActionKind::Split {
                        numerator,
                        denominator,
                    },
                )
            }
            CorporateAction::Dividend { ex_date, rate, .. } => (
                *ex_date,
                ActionKind::Dividend {
                    amount: divide(*rate, splits.after(*ex_date)),
                    currency: None,
                },
            ),
        };
        let ts = session_stamp(&calendar, date);
        if req.range.contains(ts) {
            out.push(Action { ts, date, kind });
        }
    }
    out.sort_by(|a, b| a.ts.cmp(&b.ts).then(a.kind.name().cmp(b.kind.name())));
    out.dedup();
    Answer {
        meta: SymbolMeta {
            symbol: Some(req.symbol.clone()),
            ..SymbolMeta::default()
        },
        bars,
        actions: out,
    }
}

/// Alpaca's `timeframe` for an interval, or `None` where this client does not use one: 90m has no
/// timeframe; 1Hour bars start on the clock hour (09:00–10:00 New York straddles the 09:30 open),
/// which is not the store's hourly bar (aligned to the open, as Yahoo serves it); 1Week and 1Month
/// bars have no documented stamp.
pub fn timeframe(interval: Interval) -> Option<&'static str> {
    Some(match interval {
        Interval::M1 => "1Min",
        Interval::M2 => "2Min",
        Interval::M5 => "5Min",
        Interval::M15 => "15Min",
        Interval::M30 => "30Min",
        Interval::D1 => "1Day",
        Interval::H1 | Interval::M90 | Interval::W1 | Interval::Mo1 => return None,
    })
}
