//! [`Market`]: the simulator's ground truth, a pure function of `(seed, symbol, now)`.

use backfill_calendar::{Calendar, Exchange, Session, exchange_for_symbol};
use backfill_domain::{Action, Bar, Interval, Symbol, SymbolMeta, TimeRange};
use jiff::civil::{Date, date};
use jiff::{Timestamp, ToSpan};

use crate::faults::{BadBars, live_row};
use crate::model::{RawBar, daily_raw, day_number, hash, hash_str, round_price, unit};
use crate::series::{actions_for, bars_for};
use crate::venues::{exchange_calendar, venue_for};

/// Dividend adjustment per ex-date: each later dividend multiplies `adjclose` by this factor.
pub const DIVIDEND_FACTOR: f64 = 0.995;

/// Deterministic ground truth for every simulated symbol.
///
/// The server answers every chart request from this type, so [`Market::bars`] and
/// [`Market::actions`] are exactly what a correct client must end up storing (after dropping the
/// bars [`Market::bad_bars`] lists, when bad bars are switched on). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Market {
    seed: u64,
    unknown_prefixes: Vec<String>,
    bad: BadBars,
    live_row: bool,
}

/// What kind of instrument a symbol is, from its spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Equity,
    Index,
    Fund,
    Crypto,
    Fx,
}

/// Everything derived from a symbol once per request.
#[derive(Debug, Clone)]
pub(crate) struct Profile {
    pub symbol: Symbol,
    pub key: u64,
    pub kind: Kind,
    pub calendar: Calendar,
    pub exchange_name: String,
    pub full_exchange_name: String,
    pub currency: String,
    pub first_trade: Date,
    pub first_open: Timestamp,
    scale: f64,
    pub vol_pct: f64,
    base_volume: f64,
    has_splits: bool,
    has_dividends: bool,
    /// The adjustment for the first `now` asked about; a request asks about one `now` only.
    adjust: std::sync::OnceLock<(Timestamp, Adjust)>,
}

/// A split or dividend with its instant; amounts still to be scaled to `now`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Split {
    pub ts: Timestamp,
    pub date: Date,
    pub numerator: f64,
    pub denominator: f64,
}

impl Profile {
    pub fn instrument_type(&self) -> &'static str {
        match self.kind {
            Kind::Equity => "EQUITY",
            Kind::Index => "INDEX",
            Kind::Fund => "MUTUALFUND",
            Kind::Crypto => "CRYPTOCURRENCY",
            Kind::Fx => "CURRENCY",
        }
    }

    /// The IANA name of the exchange's zone (`exchangeTimezoneName`).
    pub fn timezone_name(&self) -> String {
        self.calendar
            .timezone()
            .iana_name()
            .unwrap_or("UTC")
            .to_owned()
    }

    pub fn price_hint(&self) -> u32 {
        if self.kind == Kind::Fx { 4 } else { 2 }
    }

    /// The first session on or after `d`, within 15 days.
    pub(crate) fn session_on_or_after(&self, d: Date) -> Option<Session> {
        let mut d = d;
        for _ in 0..15 {
            if let Some(s) = self.calendar.session(d) {
                return Some(s);
            }
            d = d.tomorrow().ok()?;
        }
        None
    }

    /// All splits after the first trade, up to 2100, whatever `now` is.
    pub(crate) fn all_splits(&self) -> Vec<Split> {
        const RATIOS: [(f64, f64); 6] = [
            (2.0, 1.0),
            (3.0, 1.0),
            (4.0, 1.0),
            (3.0, 2.0),
            (2.0, 1.0),
            (1.0, 4.0),
        ];
        if !self.has_splits {
            return Vec::new();
        }
        let mut out = Vec::new();
        for k in 0..15i64 {
            let h = hash(self.key, &[300, k]);
            if unit(h) > 0.7 {
                continue;
            }
            let start = date(1980 + 8 * k as i16, 1, 1);
            let offset = (unit(hash(self.key, &[301, k])) * 8.0 * 365.0) as i64;
            let Ok(d) = start.checked_add(offset.days()) else {
                continue;
            };
            if d <= self.first_trade {
                continue;
            }
            let Some(s) = self.session_on_or_after(d) else {
                continue;
            };
            let (numerator, denominator) = RATIOS[(hash(self.key, &[302, k]) % 6) as usize];
            out.push(Split {
                ts: s.open,
                date: s.date,
                numerator,
                denominator,
            });
        }
        out
    }

    /// Product of the ratios of splits effective at `now`: prices as of `now` are the level divided
    /// by it, volumes multiplied.
    pub(crate) fn split_factor(&self, now: Timestamp) -> f64 {
        self.all_splits()
            .iter()
            .filter(|s| s.ts <= now)
            .map(|s| s.numerator / s.denominator)
            .product()
    }

    /// Quarterly dividend dates as drawn, before rolling forward to a session, of the dividends
    /// whose ex-session has opened by `now`. Sorted. Cheap: only dates near `now` consult the calendar.
    pub(crate) fn dividend_candidates(&self, now: Timestamp) -> Vec<Date> {
        if !self.has_dividends {
            return Vec::new();
        }
        let first_month = 1 + (hash(self.key, &[400]) % 3) as i8;
        let today = now
            .to_zoned_datetime(self.calendar.timezone().clone())
            .date();
        let settled = today.checked_sub(20.days()).unwrap_or(today);
        let mut out = Vec::new();
        for year in self.first_trade.year()..=today.year() {
            for q in 0..4i8 {
                let day = 1 + (hash(self.key, &[401, i64::from(year), i64::from(q)]) % 25) as i8;
                let d = date(year, first_month + 3 * q, day);
                if d <= self.first_trade || d > today {
                    continue;
                }
                // The ex-session is the first session on or after `d`, within 15 days.
                if d < settled || self.session_on_or_after(d).is_some_and(|s| s.open <= now) {
                    out.push(d);
                }
            }
        }
        out
    }

    /// Dividend ex-sessions up to `now` whose drawn date lies in `[from, to]`.
    pub(crate) fn dividend_sessions(&self, now: Timestamp, from: Date, to: Date) -> Vec<Session> {
        self.dividend_candidates(now)
            .into_iter()
            .filter(|d| from <= *d && *d <= to)
            .filter_map(|d| self.session_on_or_after(d))
            .collect()
    }

    /// Capital-gain distribution sessions (funds only, each December) up to `now`.
    pub(crate) fn capital_gain_sessions(&self, now: Timestamp) -> Vec<Session> {
        if self.kind != Kind::Fund {
            return Vec::new();
        }
        let last_year = now
            .to_zoned_datetime(self.calendar.timezone().clone())
            .year();
        (self.first_trade.year()..=last_year)
            .filter_map(|y| self.session_on_or_after(date(y, 12, 10)))
            .filter(|s| s.date > self.first_trade && s.open <= now)
            .collect()
    }

    /// The adjustment at `now`, computed once per profile for the first `now` it is asked about.
    pub(crate) fn adjust(&self, now: Timestamp) -> std::borrow::Cow<'_, Adjust> {
        let (at, adjust) = self.adjust.get_or_init(|| (now, Adjust::new(self, now)));
        if *at == now {
            std::borrow::Cow::Borrowed(adjust)
        } else {
            std::borrow::Cow::Owned(Adjust::new(self, now))
        }
    }

    pub(crate) fn raw_daily(&self, d: Date) -> RawBar {
        let mut b = daily_raw(self.key, day_number(d), self.vol_pct, self.base_volume);
        b.open *= self.scale;
        b.high *= self.scale;
        b.low *= self.scale;
        b.close *= self.scale;
        b
    }
}

/// How `now` scales a raw bar: splits effective at `now` and the dividends after each bar.
#[derive(Debug, Clone)]
pub(crate) struct Adjust {
    pub factor: f64,
    /// Drawn dividend dates (see [`Profile::dividend_candidates`]); a dividend is after a bar's
    /// session exactly when its drawn date is after the bar's date, since bars are sessions.
    dividends: Vec<Date>,
}

impl Adjust {
    pub(crate) fn new(p: &Profile, now: Timestamp) -> Adjust {
        Adjust {
            factor: p.split_factor(now),
            dividends: p.dividend_candidates(now),
        }
    }

    /// Number of dividends (paid by `now`) whose ex-session is after the session `date`.
    fn later_dividends(&self, date: Date) -> i32 {
        (self.dividends.len() - self.dividends.partition_point(|&d| d <= date)) as i32
    }

    pub(crate) fn bar(&self, ts: Timestamp, date: Date, raw: &RawBar, adj_close: bool) -> Bar {
        let f = self.factor;
        let close = raw.close / f;
        Bar {
            ts,
            date,
            open: round_price(raw.open / f),
            high: round_price(raw.high / f),
            low: round_price(raw.low / f),
            close: round_price(close),
            adj_close: adj_close
                .then(|| round_price(close * DIVIDEND_FACTOR.powi(self.later_dividends(date)))),
            volume: (raw.volume * f).round() as i64,
        }
    }
}

impl Market {
    /// A market whose every symbol is derived from `seed`. Symbols starting with `ZZ` are unknown.
    pub fn new(seed: u64) -> Market {
        Market {
            seed,
            unknown_prefixes: vec!["ZZ".to_owned()],
            bad: BadBars::default(),
            live_row: false,
        }
    }

    /// Serves deliberately invalid bars: a fraction `rate` (clamped to `[0, 1]`, NaN is 0) of every
    /// symbol's bars, plus about one bar in ten of each of `symbols` (case-insensitive). Which bars
    /// are bad, and how, is drawn from `(seed, symbol, interval, bar start)`, so a bar is bad on
    /// every request; [`Market::bars`] returns them as served and [`Market::bad_bars`] lists them.
    /// `with_bad_bars(0.0, vec![])` is the clean default.
    #[must_use]
    pub fn with_bad_bars(mut self, rate: f64, symbols: Vec<String>) -> Market {
        self.bad = BadBars::new(rate, symbols);
        self
    }

    /// Appends Yahoo's trailing live row to chart answers whose `period2` is before `now` while
    /// today's session has opened (see [`Market::live_row`]). Off by default. The row is outside
    /// the window, so [`Market::bars`] never contains it.
    #[must_use]
    pub fn with_live_row(mut self, on: bool) -> Market {
        self.live_row = on;
        self
    }

    /// Whether chart answers carry the trailing live row ([`Market::with_live_row`]).
    pub fn live_row_enabled(&self) -> bool {
        self.live_row
    }

    /// Replaces the prefixes of symbols that do not exist (answered with Yahoo's 404).
    #[must_use]
    pub fn with_unknown_prefixes(mut self, prefixes: Vec<String>) -> Market {
        self.unknown_prefixes = prefixes
            .into_iter()
            .map(|p| p.to_ascii_uppercase())
            .collect();
        self
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Whether the symbol exists (it does unless it starts with an unknown prefix).
    pub fn is_known(&self, symbol: &Symbol) -> bool {
        !self
            .unknown_prefixes
            .iter()
            .any(|p| !p.is_empty() && symbol.as_str().starts_with(p.as_str()))
    }

    pub(crate) fn profile(&self, symbol: &Symbol) -> Option<Profile> {
        if !self.is_known(symbol) {
            return None;
        }
        let s = symbol.as_str();
        let key = crate::model::mix(self.seed ^ hash_str(s));
        let exchange = exchange_for_symbol(symbol).unwrap_or(Exchange::Weekdays);
        let kind = match exchange {
            Exchange::Always => Kind::Crypto,
            Exchange::Fx => Kind::Fx,
            _ if s.starts_with('^') => Kind::Index,
            Exchange::Xnys if s.len() == 5 && s.ends_with('X') => Kind::Fund,
            _ => Kind::Equity,
        };
        let (exchange_name, full_exchange_name, currency) = match exchange {
            Exchange::Xnys => match kind {
                Kind::Index => ("SNP", "SNP", "USD"),
                Kind::Fund => ("NAS", "Nasdaq", "USD"),
                _ if key.is_multiple_of(2) => ("NMS", "NasdaqGS", "USD"),
                _ => ("NYQ", "NYSE", "USD"),
            },
            Exchange::Xlon => ("LSE", "LSE", "GBp"),
            Exchange::Xpar => ("PAR", "Paris", "EUR"),
            Exchange::Xetr => ("GER", "XETRA", "EUR"),
            Exchange::Xtse => ("TOR", "Toronto", "CAD"),
            Exchange::Xasx => ("ASX", "ASX", "AUD"),
            Exchange::Xtks => ("JPX", "Tokyo", "JPY"),
            Exchange::Xams => ("AMS", "Amsterdam", "EUR"),
            Exchange::Xswx => ("EBS", "Swiss", "CHF"),
            Exchange::Xmil => ("MIL", "Milan", "EUR"),
            Exchange::Xmad => ("MCE", "MCE", "EUR"),
            Exchange::Xsto => ("STO", "Stockholm", "SEK"),
            Exchange::Xjse => ("JNB", "Johannesburg", "ZAc"),
            Exchange::Bvmf => ("SAO", "São Paulo", "BRL"),
            Exchange::Xhkg => ("HKG", "HKSE", "HKD"),
            Exchange::Xshg => ("SHH", "Shanghai", "CNY"),
            Exchange::Xshe => ("SHZ", "Shenzhen", "CNY"),
            Exchange::Xbom if symbol.suffix() == Some("BO") => ("BSE", "BSE", "INR"),
            Exchange::Xbom => ("NSI", "NSE", "INR"),
            Exchange::Xkrx if symbol.suffix() == Some("KQ") => ("KOE", "KOSDAQ", "KRW"),
            Exchange::Xkrx => ("KSC", "KSE", "KRW"),
            Exchange::Xtai if symbol.suffix() == Some("TWO") => ("TWO", "Taipei Exchange", "TWD"),
            Exchange::Xtai => ("TAI", "Taiwan", "TWD"),
            Exchange::Xses => ("SES", "SES", "SGD"),
            Exchange::Always => ("CCC", "CCC", ""),
            Exchange::Fx => ("CCY", "CCY", ""),
            Exchange::Weekdays => ("YHD", "YHD", "USD"),
        };
        let venue = exchange_for_symbol(symbol)
            .is_none()
            .then(|| venue_for(symbol))
            .flatten();
        let (exchange_name, full_exchange_name, currency) = match venue {
            Some(v) => (v.exchange_name, v.full_exchange_name, v.currency),
            None => (exchange_name, full_exchange_name, currency),
        };
        let currency = match kind {
            Kind::Crypto => s.rsplit_once('-').map_or("USD", |(_, q)| q).to_owned(),
            Kind::Fx => {
                let pair = s.trim_end_matches("=X");
                if pair.len() == 6 {
                    pair[3..].to_owned()
                } else {
                    pair.to_owned()
                }
            }
            _ => currency.to_owned(),
        };
        let (lo, span) = match kind {
            Kind::Crypto => (2014, 5),
            _ => (1985, 31),
        };
        let year = lo + (hash(key, &[500]) % span) as i16;
        let first = date(year, 1, 1)
            .checked_add(((hash(key, &[501]) % 365) as i64).days())
            .expect("valid date");
        let calendar = venue.map_or_else(|| exchange_calendar(exchange), |v| v.calendar());
        let mut profile = Profile {
            symbol: symbol.clone(),
            key,
            kind,
            calendar,
            exchange_name: exchange_name.to_owned(),
            full_exchange_name: full_exchange_name.to_owned(),
            currency,
            first_trade: first,
            first_open: Timestamp::UNIX_EPOCH,
            scale: match kind {
                Kind::Fx => 0.01,
                Kind::Crypto => 50.0,
                Kind::Index => 15.0,
                Kind::Equity | Kind::Fund => 1.0,
            },
            vol_pct: match kind {
                Kind::Fx => 0.006,
                Kind::Crypto => 0.04,
                Kind::Index | Kind::Fund => 0.012,
                Kind::Equity => 0.02,
            },
            base_volume: match kind {
                Kind::Fx | Kind::Fund => 0.0,
                Kind::Crypto => 2e10 * unit(hash(key, &[502])),
                Kind::Index => 2e9,
                Kind::Equity => 1e5 + 5e7 * unit(hash(key, &[502])),
            },
            has_splits: kind == Kind::Equity && hash(key, &[503]).is_multiple_of(3),
            has_dividends: matches!(kind, Kind::Equity | Kind::Fund)
                && hash(key, &[504]).is_multiple_of(2),
            adjust: std::sync::OnceLock::new(),
        };
        let s = profile
            .session_on_or_after(first)
            .expect("every calendar has a session within 15 days");
        profile.first_trade = s.date;
        profile.first_open = s.open;
        Some(profile)
    }

    /// The session date of the symbol's first bar; `None` for unknown symbols.
    pub fn first_trade_date(&self, symbol: &Symbol) -> Option<Date> {
        self.profile(symbol).map(|p| p.first_trade)
    }

    /// What the server's `meta` says about a symbol at `now`; `None` for unknown symbols.
    pub fn meta(&self, symbol: &Symbol, now: Timestamp) -> Option<SymbolMeta> {
        let p = self.profile(symbol)?;
        Some(SymbolMeta {
            symbol: Some(p.symbol.clone()),
            currency: Some(p.currency.clone()),
            exchange_name: Some(p.exchange_name.clone()),
            full_exchange_name: Some(p.full_exchange_name.clone()),
            instrument_type: Some(p.instrument_type().to_owned()),
            timezone: Some(p.timezone_name()),
            first_trade: Some(p.first_open),
            regular_market_time: Some(regular_market_time(&p, now)),
            regular_open: Some(current_period(&p, now).0),
            regular_close: Some(current_period(&p, now).1),
        })
    }

    /// Exactly the bars the server serves for `[range)` at `now`: bars whose start lies in the range,
    /// at or after the first trade and at or before `now` (the session in progress is a partial bar).
    /// Bad bars ([`Market::with_bad_bars`]) are included as served, with the rule they break
    /// applied (an `off_session` bar carries its moved stamp and that day's date). The trailing
    /// live row is never included. Empty for unknown symbols.
    pub fn bars(
        &self,
        symbol: &Symbol,
        interval: Interval,
        range: TimeRange,
        now: Timestamp,
    ) -> Vec<Bar> {
        match self.profile(symbol) {
            Some(p) => self.served(&p, interval, range, now).0,
            None => Vec::new(),
        }
    }

    /// The deliberately invalid bars among [`Market::bars`] for the same arguments, as
    /// `(served ts, rule)` in time order. Rules: `"high_below_open_close"` (high below
    /// `max(open, close)`), `"low_above_open_close"` (low above `min(open, close)`),
    /// `"non_positive_price"` (close 0 or negative; low and adjclose follow it),
    /// `"negative_volume"`, `"off_session"` (1d only: stamped Saturday 12:00 local after its
    /// session, on a day without one; used only when that stays inside the window, at or before
    /// `now` and before the next bar, otherwise the bar breaks one of the other rules). Each bar
    /// breaks its listed rule; a `non_positive_price` bar may also fail checks on adjclose. Empty
    /// when bad bars are off or the symbol is unknown.
    pub fn bad_bars(
        &self,
        symbol: &Symbol,
        interval: Interval,
        range: TimeRange,
        now: Timestamp,
    ) -> Vec<(Timestamp, &'static str)> {
        match self.profile(symbol) {
            Some(p) => self.served(&p, interval, range, now).1,
            None => Vec::new(),
        }
    }

    /// The trailing live row a chart answer for `[range)` at `now` ends with, if any: when live
    /// rows are on, the interval is intraday or `1d`, `now` is after `range.end()` and today's
    /// session (in the exchange's zone) has opened by `now`. Stamped at `regularMarketTime`
    /// rounded down to the minute (`now` during the session, the close after it) and only when
    /// that is at or after `range.end()`; O=H=L=C at the latest price, volume 0, adjclose the
    /// close for `1d`. Not part of [`Market::bars`]: a correct client drops it.
    pub fn live_row(
        &self,
        symbol: &Symbol,
        interval: Interval,
        range: TimeRange,
        now: Timestamp,
    ) -> Option<Bar> {
        if !self.live_row {
            return None;
        }
        live_row(&self.profile(symbol)?, interval, range, now)
    }

    /// The served bars of a window and which of them are bad.
    pub(crate) fn served(
        &self,
        p: &Profile,
        interval: Interval,
        range: TimeRange,
        now: Timestamp,
    ) -> (Vec<Bar>, Vec<(Timestamp, &'static str)>) {
        let mut bars = bars_for(p, interval, range, now);
        let bad = self.bad.apply(p, interval, range, now, &mut bars);
        (bars, bad)
    }

    /// Dividends, splits and capital gains whose ex-instant lies in `[range)` and at or before `now`,
    /// in time order. Amounts are split-adjusted as of `now`, as Yahoo reports them.
    pub fn actions(&self, symbol: &Symbol, range: TimeRange, now: Timestamp) -> Vec<Action> {
        match self.profile(symbol) {
            Some(p) => actions_for(&p, range, now),
            None => Vec::new(),
        }
    }
}

/// The current or next regular session at `now` (`currentTradingPeriod.regular`): the session in
/// progress, else today's if it has not opened yet, else the next one.
pub(crate) fn current_period(p: &Profile, now: Timestamp) -> (Timestamp, Timestamp) {
    p.calendar
        .open_session_at(now)
        .or_else(|| {
            let today = now.to_zoned_datetime(p.calendar.timezone().clone()).date();
            p.calendar
                .session(today)
                .filter(|s| s.open > now)
                .or_else(|| p.calendar.next_session(today))
        })
        .map_or((now, now), |s| (s.open, s.close))
}

/// The last trade instant at `now`: `now` during a session, else the last close.
pub(crate) fn regular_market_time(p: &Profile, now: Timestamp) -> Timestamp {
    if p.calendar.open_session_at(now).is_some() {
        return now;
    }
    p.calendar
        .latest_closed_session(now)
        .map_or(p.first_open, |s| s.close)
        .max(p.first_open)
}

#[cfg(test)]
#[expect(clippy::float_cmp, reason = "aggregates copy daily values exactly")]
mod tests {
    use backfill_calendar::Exchange;
    use jiff::SignedDuration;
    use jiff::civil::Weekday;

    use super::*;

    fn weekend(w: Weekday) -> bool {
        matches!(w, Weekday::Saturday | Weekday::Sunday)
    }

    fn sym(s: &str) -> Symbol {
        Symbol::parse(s).unwrap()
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn range(a: &str, b: &str) -> TimeRange {
        TimeRange::new(ts(a), ts(b)).unwrap()
    }

    #[test]
    fn daily_bars_sit_on_session_opens() {
        let m = Market::new(42);
        let now = ts("2025-06-01T00:00:00Z");
        let msft = sym("MSFT");
        let r = range("2024-01-01T05:00:00Z", "2025-01-01T05:00:00Z");
        let bars = m.bars(&msft, Interval::D1, r, now);
        let cal = Calendar::new(Exchange::Xnys);
        let sessions = cal.sessions(date(2024, 1, 1), date(2024, 12, 31));
        assert_eq!(bars.len(), sessions.len());
        for (b, s) in bars.iter().zip(&sessions) {
            assert_eq!((b.ts, b.date), (s.open, s.date));
            assert!(!weekend(b.date.weekday()));
            assert!(b.high >= b.open.max(b.close) && b.low <= b.open.min(b.close) && b.low > 0.0);
            assert!(b.adj_close.is_some());
        }
        // Deterministic: same again, different for another seed.
        assert_eq!(bars, m.bars(&msft, Interval::D1, r, now));
        assert_ne!(bars, Market::new(43).bars(&msft, Interval::D1, r, now));
    }

    #[test]
    fn london_and_crypto_stamps() {
        let m = Market::new(1);
        let now = ts("2025-06-01T00:00:00Z");
        let r = range("2024-07-01T00:00:00Z", "2024-07-08T00:00:00Z");
        let l = m.bars(&sym("OCDO.L"), Interval::D1, r, now);
        assert_eq!(l.len(), 5);
        assert_eq!(l[0].ts, ts("2024-07-01T07:00:00Z")); // 08:00 BST
        let c = m.bars(&sym("BTC-USD"), Interval::D1, r, now);
        assert_eq!(c.len(), 7);
        assert_eq!(c[0].ts, ts("2024-07-01T00:00:00Z"));
        let meta = m.meta(&sym("OCDO.L"), now).unwrap();
        assert_eq!(meta.currency.as_deref(), Some("GBp"));
        let fx = m.meta(&sym("EURUSD=X"), now).unwrap();
        assert_eq!(fx.currency.as_deref(), Some("USD"));
        assert_eq!(fx.instrument_type.as_deref(), Some("CURRENCY"));
    }

    #[test]
    fn intraday_hourly_bars_align_to_the_open() {
        let m = Market::new(42);
        let now = ts("2024-05-10T00:00:00Z");
        let r = range("2024-05-03T00:00:00Z", "2024-05-04T00:00:00Z");
        let bars = m.bars(&sym("NVDA"), Interval::H1, r, now);
        let stamps: Vec<_> = bars.iter().map(|b| b.ts.as_second()).collect();
        let open = ts("2024-05-03T13:30:00Z").as_second();
        assert_eq!(stamps, (0..7).map(|k| open + k * 3600).collect::<Vec<_>>());
        assert!(bars.iter().all(|b| b.adj_close.is_none()));
        let r = range("2024-05-08T00:00:00Z", "2024-05-09T00:00:00Z");
        let tokyo = m.bars(&sym("7203.T"), Interval::M30, r, now);
        // 09:00–15:00 JST with a lunch break 11:30–12:30: 12 slots minus 2.
        assert_eq!(tokyo.len(), 10);
    }

    #[test]
    fn unknown_prefix_has_no_data() {
        let m = Market::new(42);
        assert!(!m.is_known(&sym("ZZTOP")));
        assert!(m.meta(&sym("ZZTOP"), Timestamp::UNIX_EPOCH).is_none());
        let m = m.with_unknown_prefixes(vec!["qq".into()]);
        assert!(m.is_known(&sym("ZZTOP")) && !m.is_known(&sym("QQQ")));
    }

    #[test]
    fn partial_session_and_future_bars() {
        let m = Market::new(42);
        let r = range("2024-05-01T00:00:00Z", "2024-05-10T00:00:00Z");
        // 2024-05-03 (Friday) 15:00Z = 11:00 New York: session in progress.
        let now = ts("2024-05-03T15:00:00Z");
        let d = m.bars(&sym("MSFT"), Interval::D1, r, now);
        assert_eq!(d.last().unwrap().date, date(2024, 5, 3));
        let full = m.bars(&sym("MSFT"), Interval::D1, r, ts("2024-06-01T00:00:00Z"));
        assert_eq!(full.len(), 7);
        assert_eq!(d[..d.len() - 1], full[..d.len() - 1]);
        assert!(d.last().unwrap().volume < full[d.len() - 1].volume);
        let m5 = m.bars(&sym("MSFT"), Interval::M5, r, now);
        assert!(m5.last().unwrap().ts <= now);
    }

    #[test]
    fn splits_rescale_history_when_the_clock_passes_them() {
        let m = Market::new(42);
        // Find a symbol with a split after 2000.
        let (symbol, split) = (0..200)
            .find_map(|i| {
                let s = sym(&format!("S{i}"));
                let p = m.profile(&s).unwrap();
                p.all_splits()
                    .into_iter()
                    .find(|x| x.date.year() >= 2000 && x.date.year() < 2020)
                    .map(|x| (s, x))
            })
            .expect("some symbol splits");
        let before = split.ts - SignedDuration::from_hours(24 * 3);
        let r = TimeRange::new(before - SignedDuration::from_hours(24 * 10), before).unwrap();
        let early = m.bars(&symbol, Interval::D1, r, before);
        let late = m.bars(&symbol, Interval::D1, r, split.ts);
        let ratio = split.numerator / split.denominator;
        assert!(!early.is_empty() && early.len() == late.len());
        for (a, b) in early.iter().zip(&late) {
            assert!((a.close / ratio - b.close).abs() <= 1e-5 * a.close);
        }
        let wide = TimeRange::new(r.start(), split.ts + SignedDuration::from_secs(1)).unwrap();
        assert!(
            m.actions(&symbol, wide, before)
                .iter()
                .all(|a| a.split_ratio().is_none())
        );
        assert_eq!(
            m.actions(&symbol, wide, split.ts)
                .iter()
                .filter_map(Action::split_ratio)
                .collect::<Vec<_>>(),
            vec![ratio]
        );
    }

    #[test]
    fn weekly_bars_aggregate_daily() {
        let m = Market::new(42);
        let now = ts("2025-01-01T00:00:00Z");
        let r = range("2024-03-04T00:00:00Z", "2024-03-30T00:00:00Z");
        let w = m.bars(&sym("MSFT"), Interval::W1, r, now);
        let d = m.bars(&sym("MSFT"), Interval::D1, r, now);
        assert_eq!(w.len(), 4);
        assert_eq!(w[0].open, d[0].open);
        assert_eq!(w[0].volume, d[..5].iter().map(|b| b.volume).sum::<i64>());
        assert_eq!(w[3].close, d.last().unwrap().close);
    }
}
