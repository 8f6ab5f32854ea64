//! Turning a provider's daily rows into the store's meaning: session stamps, split factors and
//! rational split ratios. Shared by the Tiingo and Alpaca clients.
//!
//! The store keeps daily bars stamped at their session's open (as Yahoo serves them), with prices
//! and volume split-adjusted as of the fetch. Providers that serve a bare trading date, or raw
//! prices next to split events, go through these helpers.

use backfill_calendar::{Calendar, Exchange, exchange_for_symbol};
use backfill_domain::Symbol;
use jiff::Timestamp;
use jiff::civil::Date;

/// The calendar a provider's dates are read in: the symbol's exchange by its suffix, else
/// weekdays in UTC (the same fallback as the simulator's market).
pub(crate) fn calendar_for(symbol: &Symbol) -> Calendar {
    Calendar::new(exchange_for_symbol(symbol).unwrap_or(Exchange::Weekdays))
}

/// The instant a daily row of `date` is stored at: the session's open, or the start of the day in
/// the exchange's zone when the calendar has no session that day (validation then flags the bar as
/// off-session instead of the client hiding it).
pub(crate) fn session_stamp(calendar: &Calendar, date: Date) -> Timestamp {
    match calendar.session(date) {
        Some(s) => s.open,
        None => date
            .to_zoned_datetime(calendar.timezone().clone())
            .map_or(Timestamp::UNIX_EPOCH, |z| z.timestamp()),
    }
}

/// `x` rounded to 10 significant digits.
///
/// Prices derived by dividing a quote by a split ratio go through this: `x * 3.0 / 3.0` is not
/// always `x` in binary floating point, and a quote (at most 4 decimals below a million) has fewer
/// than 10 significant digits, so the rounding removes the division's last-bit error and nothing else.
pub(crate) fn round_sig(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let mag = x.abs().log10().floor() as i32;
    let decimals = 9 - mag;
    if decimals >= 0 {
        let scale = 10f64.powi(decimals.min(300));
        (x * scale).round() / scale
    } else {
        let scale = 10f64.powi(-decimals);
        (x / scale).round() * scale
    }
}

/// `value / factor`, exact when the factor is 1 and otherwise rounded by [`round_sig`].
#[expect(clippy::float_cmp, reason = "a product of no ratios is exactly 1")]
pub(crate) fn divide(value: f64, factor: f64) -> f64 {
    if factor == 1.0 {
        value
    } else {
        round_sig(value / factor)
    }
}

/// A split ratio as a small fraction `(numerator, denominator)`: 1.5 is 3:2, 0.25 is 1:4, 0.1 is
/// 1:10. Ratios no denominator up to 1000 expresses within 1e-9 stay `(ratio, 1)`.
pub(crate) fn ratio_fraction(ratio: f64) -> (f64, f64) {
    if ratio > 0.0 && ratio.is_finite() {
        for d in 1..=1000u32 {
            let n = ratio * f64::from(d);
            if (n - n.round()).abs() <= 1e-9 * n.max(1.0) && n.round() >= 1.0 {
                return (n.round(), f64::from(d));
            }
        }
    }
    (ratio, 1.0)
}

/// Whether a provider's split ratio is a real split: positive, finite and not 1.
pub(crate) fn is_split(ratio: f64) -> bool {
    ratio.is_finite() && ratio > 0.0 && (ratio - 1.0).abs() > 1e-12
}

/// Split events `(effective date, ratio)` and the cumulative factor after a date.
#[derive(Debug, Clone, Default)]
pub(crate) struct Splits(Vec<(Date, f64)>);

impl Splits {
    /// From events in any order; ratios of exactly 1, or not positive and finite, are ignored.
    pub(crate) fn new(mut events: Vec<(Date, f64)>) -> Splits {
        events.retain(|(_, r)| is_split(*r));
        events.sort_by_key(|(d, _)| *d);
        Splits(events)
    }

    /// The product of the ratios of splits effective strictly after `date`: what a raw price of
    /// `date` is divided by (and a raw volume multiplied by) to be on today's basis.
    pub(crate) fn after(&self, date: Date) -> f64 {
        self.0
            .iter()
            .filter(|(d, _)| *d > date)
            .map(|(_, r)| *r)
            .product()
    }
}

#[cfg(test)]
#[expect(clippy::float_cmp, reason = "the helpers promise exact results")]
mod tests {
    use jiff::civil::date;

    use super::*;

    #[test]
    fn rounding_undoes_the_division_error() {
        let mut rng = fastrand::Rng::with_seed(3);
        for _ in 0..20_000 {
            let cents = rng.u64(100..200_000_000) as f64;
            let x = cents / 10_000.0;
            for f in [3.0, 1.5, 6.0, 0.75, 9.0, 0.1] {
                assert_eq!(divide(x * f, f), x, "{x} * {f}");
            }
        }
        assert_eq!(round_sig(33.336_666_666_666_67), 33.336_666_67);
        assert_eq!(round_sig(0.0), 0.0);
        assert_eq!(round_sig(123_456_789_012.0), 123_456_789_000.0);
        assert_eq!(divide(529.55, 1.0), 529.55);
    }

    #[test]
    fn ratios_become_small_fractions() {
        assert_eq!(ratio_fraction(4.0), (4.0, 1.0));
        assert_eq!(ratio_fraction(1.5), (3.0, 2.0));
        assert_eq!(ratio_fraction(0.25), (1.0, 4.0));
        assert_eq!(ratio_fraction(0.1), (1.0, 10.0));
        assert_eq!(ratio_fraction(0.02), (1.0, 50.0));
    }

    #[test]
    fn factor_after_a_date() {
        let s = Splits::new(vec![
            (date(2024, 6, 10), 10.0),
            (date(2020, 8, 31), 4.0),
            (date(2021, 1, 4), 1.0),
        ]);
        assert_eq!(s.after(date(2020, 8, 28)), 40.0);
        assert_eq!(s.after(date(2020, 8, 31)), 10.0);
        assert_eq!(s.after(date(2024, 6, 10)), 1.0);
    }

    #[test]
    fn stamps_at_the_session_open() {
        let cal = Calendar::new(Exchange::Xnys);
        assert_eq!(
            session_stamp(&cal, date(2023, 9, 29)),
            "2023-09-29T13:30:00Z".parse::<Timestamp>().unwrap()
        );
        // A Saturday has no session: the local midnight.
        assert_eq!(
            session_stamp(&cal, date(2023, 9, 30)),
            "2023-09-30T04:00:00Z".parse::<Timestamp>().unwrap()
        );
    }
}
