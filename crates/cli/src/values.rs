//! Parsing and bounds of every value a user types, shared by the flags (as clap value parsers)
//! and the config file, so both accept the same things and say the same thing when they do not.
//!
//! Each parser takes the text as typed and returns the typed value, or a sentence that says what
//! was expected in plain words (never a Rust type name), with a suggestion when the text is close
//! to a valid value.

use std::fmt::Write as _;

use backfill_domain::Interval;
use backfill_domain::jiff::civil::Date;
use backfill_engine::validate::InvalidBars;

/// The most sessions one window may hold: 150 years of a 24/7 market. Keeps a typo such as
/// `--days 1000000000` from allocating gigabytes of session tables.
pub const MAX_DAYS: u32 = 150 * 366;
/// The most requests in flight. Beyond this a provider sees an attack, not a client.
pub const MAX_WORKERS: usize = 1024;
/// The highest rate accepted, in requests per second (`0` means no limit).
pub const MAX_RATE: f64 = 10_000.0;
/// The lowest non-zero rate: one request every 1,000 seconds.
pub const MIN_RATE: f64 = 0.001;
/// The most retries per request.
pub const MAX_RETRIES: u32 = 100;
/// Dates outside these years are refused: no provider serves bars before 1900, and the calendars
/// are not defined past 2100.
pub const FIRST_YEAR: i16 = 1900;
pub const LAST_YEAR: i16 = 2100;

/// A whole number, or a sentence about why `text` is not one.
fn whole(text: &str, what: &str, example: &str) -> Result<u64, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err(format!(
            "expected {what}, e.g. `{example}`, but got nothing"
        ));
    }
    if let Some(rest) = t.strip_prefix('-')
        && rest.chars().all(|c| c.is_ascii_digit())
        && !rest.is_empty()
    {
        return Err(format!(
            "`{t}` is negative; expected {what}, e.g. `{example}`"
        ));
    }
    if t.parse::<f64>().is_ok_and(|f| f.fract() != 0.0) {
        return Err(format!(
            "`{t}` is not a whole number; expected {what}, e.g. `{example}`"
        ));
    }
    t.strip_prefix('+')
        .unwrap_or(t)
        .parse::<u64>()
        .map_err(|e| {
            if matches!(e.kind(), std::num::IntErrorKind::PosOverflow) {
                format!("`{t}` is far too large; expected {what}, e.g. `{example}`")
            } else {
                format!("`{t}` is not a number; expected {what}, e.g. `{example}`")
            }
        })
}

/// `--days`: a whole number of sessions, 1 to [`MAX_DAYS`].
pub fn days(text: &str) -> Result<u32, String> {
    let what = "a whole number of sessions";
    let n = whole(text, what, "252")?;
    if n == 0 {
        return Err("`0` sessions asks for nothing; 252 sessions is about one year".to_owned());
    }
    if n > u64::from(MAX_DAYS) {
        return Err(format!(
            "`{n}` sessions is more than the {MAX_DAYS} allowed (150 years of a market open every day); use `--start` for a long history"
        ));
    }
    Ok(n as u32)
}

/// `--workers`: 1 to [`MAX_WORKERS`] requests in flight.
pub fn workers(text: &str) -> Result<usize, String> {
    let n = whole(text, "a whole number of requests in flight", "8")?;
    if n == 0 {
        return Err("`0` requests in flight would never send anything; use at least 1".to_owned());
    }
    if n > MAX_WORKERS as u64 {
        return Err(format!(
            "`{n}` requests in flight is more than the {MAX_WORKERS} allowed"
        ));
    }
    Ok(n as usize)
}

/// `--retries`: 0 to [`MAX_RETRIES`].
pub fn retries(text: &str) -> Result<u32, String> {
    let n = whole(text, "a whole number of retries", "5")?;
    if n > u64::from(MAX_RETRIES) {
        return Err(format!(
            "`{n}` retries is more than the {MAX_RETRIES} allowed"
        ));
    }
    Ok(n as u32)
}

/// A request rate to the provider.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// `0`: no limit.
    Unlimited,
    /// This many requests per second, between [`MIN_RATE`] and [`MAX_RATE`].
    PerSecond(f64),
}

impl Rate {
    /// Requests per second, `None` for no limit.
    pub fn per_second(self) -> Option<f64> {
        match self {
            Rate::Unlimited => None,
            Rate::PerSecond(r) => Some(r),
        }
    }
}

/// `--rate`: requests per second; `0` means no limit.
pub fn rate(text: &str) -> Result<Rate, String> {
    let t = text.trim();
    let example = "e.g. `2` or `0.5`; `0` means no limit";
    let r: f64 = t
        .parse()
        .map_err(|_| format!("`{t}` is not a number; expected requests per second, {example}"))?;
    if !r.is_finite() {
        return Err(format!(
            "`{t}` is not a finite number; expected requests per second, {example}"
        ));
    }
    if r < 0.0 {
        return Err(format!(
            "`{t}` is negative; expected requests per second, {example}"
        ));
    }
    if r == 0.0 {
        return Ok(Rate::Unlimited);
    }
    if r < MIN_RATE {
        return Err(format!(
            "`{t}` requests per second is below the lowest rate, {MIN_RATE} (one request every 1,000 seconds); use `0` for no limit"
        ));
    }
    if r > MAX_RATE {
        return Err(format!(
            "`{t}` requests per second is more than the {MAX_RATE} allowed; use `0` for no limit"
        ));
    }
    Ok(Rate::PerSecond(r))
}

/// `--rate` of a run: `auto` (find the provider's limit), or requests per second as [`rate`].
pub fn fetch_rate(text: &str) -> Result<backfill_engine::limits::Rate, String> {
    if text.trim().eq_ignore_ascii_case("auto") {
        return Ok(backfill_engine::limits::Rate::Auto);
    }
    rate(text).map(Rate::to_engine)
}

impl Rate {
    /// The engine's rate: a fixed rate or none.
    pub fn to_engine(self) -> backfill_engine::limits::Rate {
        match self {
            Rate::Unlimited => backfill_engine::limits::Rate::Unlimited,
            Rate::PerSecond(r) => backfill_engine::limits::Rate::Fixed(r),
        }
    }
}

/// `--max-wait`: whole seconds, or a whole number with `s`, `m` or `h` (`90s`, `15m`, `1h`), at
/// most a week.
pub fn max_wait(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => 0,
    };
    match num.parse::<u64>() {
        Ok(n) if factor > 0 && n.saturating_mul(factor) <= 7 * 24 * 3600 => {
            Ok(std::time::Duration::from_secs(n * factor))
        }
        _ => Err(format!(
            "`{t}` is not a duration of at most a week; expected e.g. `90s`, `15m` or `1h`"
        )),
    }
}

/// A session date, `YYYY-MM-DD`, between [`FIRST_YEAR`] and [`LAST_YEAR`].
pub fn date(text: &str) -> Result<Date, String> {
    let t = text.trim();
    let d: Date = t.parse().map_err(|_| {
        format!("`{t}` is not a date; write dates as YYYY-MM-DD, e.g. `2024-07-01`")
    })?;
    if d.year() < FIRST_YEAR || d.year() > LAST_YEAR {
        return Err(format!(
            "`{t}` is outside the years {FIRST_YEAR} to {LAST_YEAR} that the calendars cover"
        ));
    }
    Ok(d)
}

/// `--interval`, with a suggestion for near misses (`1D` → `1d`, `1w` → `1wk`).
pub fn interval(text: &str) -> Result<Interval, String> {
    let t = text.trim();
    if let Ok(i) = Interval::parse(t) {
        return Ok(i);
    }
    let choices: Vec<&str> = Interval::ALL
        .iter()
        .map(|i| i.as_str())
        .chain(["60m"])
        .collect();
    let lower = t.to_ascii_lowercase();
    let aliases = [
        ("d", "1d"),
        ("day", "1d"),
        ("daily", "1d"),
        ("1day", "1d"),
        ("w", "1wk"),
        ("1w", "1wk"),
        ("week", "1wk"),
        ("weekly", "1wk"),
        ("1week", "1wk"),
        ("mo", "1mo"),
        ("1mon", "1mo"),
        ("1month", "1mo"),
        ("month", "1mo"),
        ("monthly", "1mo"),
        ("h", "1h"),
        ("hour", "1h"),
        ("hourly", "1h"),
        ("1hr", "1h"),
        ("60min", "1h"),
        ("1min", "1m"),
        ("5min", "5m"),
        ("15min", "15m"),
        ("30min", "30m"),
    ];
    let suggestion = if Interval::parse(&lower).is_ok() {
        Some(lower.clone())
    } else if let Some((_, s)) = aliases.iter().find(|(a, _)| *a == lower) {
        Some((*s).to_owned())
    } else {
        suggest(&lower, &choices).map(str::to_owned)
    };
    let mut msg = format!(
        "`{t}` is not an interval; expected one of {}",
        choices.join(" ")
    );
    if let Some(s) = suggestion {
        let _ = write!(msg, "\n\n  tip: did you mean `{s}`?");
    }
    Err(msg)
}

/// `--invalid-bars`: `keep` or `drop`.
pub fn invalid_bars(text: &str) -> Result<InvalidBars, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "keep" => Ok(InvalidBars::Keep),
        "drop" => Ok(InvalidBars::Drop),
        _ => Err(format!("`{}` must be `keep` or `drop`", text.trim())),
    }
}

/// A provider name: `yahoo`, `tiingo` or `alpaca` (any case).
pub fn provider(text: &str) -> Result<backfill_provider::ProviderKind, String> {
    use backfill_provider::ProviderKind;
    ProviderKind::parse(text).ok_or_else(|| {
        let t = text.trim();
        let hint = suggest(t, &ProviderKind::ALL.map(ProviderKind::as_str))
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        format!("`{t}` is not a provider; expected `yahoo`, `tiingo` or `alpaca`{hint}")
    })
}

/// A provider base URL: `http://` or `https://` with a host, no query or fragment.
pub fn base_url(text: &str) -> Result<String, String> {
    let t = text.trim();
    let u = url::Url::parse(t).map_err(|e| {
        format!("`{t}` is not a URL ({e}); expected e.g. `https://query2.finance.yahoo.com`")
    })?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(format!(
            "`{t}` uses the scheme `{}`; expected an `http://` or `https://` URL",
            u.scheme()
        ));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{t}` names no host"));
    }
    if u.query().is_some() || u.fragment().is_some() {
        return Err(format!(
            "`{t}` has a query or fragment; give only the base, e.g. `http://127.0.0.1:8080`"
        ));
    }
    Ok(t.trim_end_matches('/').to_owned())
}

/// An RFC 3339 instant (`--now`, `--clock`).
pub fn instant(text: &str) -> Result<backfill_domain::jiff::Timestamp, String> {
    let t = text.trim();
    let ts: backfill_domain::jiff::Timestamp = t.parse().map_err(|_| {
        format!("`{t}` is not an RFC 3339 instant; expected e.g. `2024-07-01T20:00:00Z`")
    })?;
    let year = ts
        .to_zoned_datetime(backfill_domain::jiff::tz::TimeZone::UTC)
        .year();
    if !(FIRST_YEAR..=LAST_YEAR).contains(&year) {
        return Err(format!(
            "`{t}` is outside the years {FIRST_YEAR} to {LAST_YEAR} that the calendars cover"
        ));
    }
    Ok(ts)
}

/// A fraction between 0 and 1 (simulator failure rates).
pub fn fraction(text: &str) -> Result<f64, String> {
    let t = text.trim();
    match t.parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(format!(
            "`{t}` is not a fraction between 0 and 1, e.g. `0.05`"
        )),
    }
}

/// The closest of `choices` to `input`, when it is close enough to be a likely typo.
pub fn suggest<'a>(input: &str, choices: &[&'a str]) -> Option<&'a str> {
    choices
        .iter()
        .map(|c| (strsim::jaro(input, c), *c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_plain_words() {
        assert_eq!(days("252"), Ok(252));
        assert!(days("-5").unwrap_err().contains("negative"));
        assert!(days("5.5").unwrap_err().contains("not a whole number"));
        assert!(
            days("five")
                .unwrap_err()
                .contains("a whole number of sessions")
        );
        assert!(days("1000000000").unwrap_err().contains("more than"));
        assert!(
            days("99999999999999999999999")
                .unwrap_err()
                .contains("far too large")
        );
        assert!(days("0").is_err());
        assert_eq!(workers("+8"), Ok(8));
        assert!(workers("0").is_err());
        assert!(retries("101").is_err());
    }

    #[test]
    fn fetch_rates_and_max_waits() {
        use backfill_engine::limits::Rate as R;
        assert_eq!(fetch_rate("auto"), Ok(R::Auto));
        assert_eq!(fetch_rate(" AUTO "), Ok(R::Auto));
        assert_eq!(fetch_rate("0"), Ok(R::Unlimited));
        assert_eq!(fetch_rate("2.5"), Ok(R::Fixed(2.5)));
        for bad in ["-1", "1e-20", "NaN", "inf", "fast", ""] {
            assert!(fetch_rate(bad).is_err(), "{bad}");
        }
        let s = std::time::Duration::from_secs;
        assert_eq!(max_wait("90"), Ok(s(90)));
        assert_eq!(max_wait("90s"), Ok(s(90)));
        assert_eq!(max_wait("15m"), Ok(s(900)));
        assert_eq!(max_wait("1h"), Ok(s(3600)));
        for bad in ["", "1d", "-5", "1.5h", "9999999999999h", "169h"] {
            assert!(max_wait(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rates_are_bounded() {
        assert_eq!(rate("0"), Ok(Rate::Unlimited));
        assert_eq!(rate("2"), Ok(Rate::PerSecond(2.0)));
        for bad in ["1e-20", "-1", "NaN", "inf", "1e9", "x"] {
            assert!(rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn interval_near_misses_get_a_suggestion() {
        assert_eq!(interval("1h"), Ok(Interval::H1));
        for (typo, fix) in [
            ("1D", "1d"),
            ("1w", "1wk"),
            ("daily", "1d"),
            ("1MO", "1mo"),
            ("15mn", "15m"),
        ] {
            let e = interval(typo).unwrap_err();
            assert!(e.contains(&format!("did you mean `{fix}`")), "{typo}: {e}");
        }
        assert!(!interval("zzzzzz").unwrap_err().contains("did you mean"));
    }

    #[test]
    fn urls_and_dates() {
        assert_eq!(
            base_url("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        for bad in [
            "127.0.0.1:8080",
            "ftp://x",
            "http://",
            "not a url",
            "http://h/?a=1",
        ] {
            assert!(base_url(bad).is_err(), "{bad}");
        }
        assert!(date("2024-02-30").is_err());
        assert!(date("0001-01-01").unwrap_err().contains("outside"));
        assert!(instant("2024-07-01T20:00:00Z").is_ok());
    }
}
