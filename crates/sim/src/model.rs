//! The deterministic price and event model behind [`Market`](crate::Market).
//!
//! Everything here is a pure function of `(seed, symbol, …)`: a bar for any date is computed directly
//! from hashes, without iterating from the first trade date, so any window costs only its own size.

use jiff::civil::Date;

/// A 64-bit mix (splitmix64 finaliser).
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// FNV-1a of a string, so that symbol hashes do not depend on `std`'s randomised hasher.
pub(crate) fn hash_str(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Hash of a key and a list of integer parts.
pub(crate) fn hash(key: u64, parts: &[i64]) -> u64 {
    parts
        .iter()
        .fold(mix(key), |h, &p| mix(h ^ (p as u64).rotate_left(17)))
}

/// A uniform value in `[0, 1)` from a hash.
pub(crate) fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// A value in `[-1, 1)` from a hash.
pub(crate) fn signed(h: u64) -> f64 {
    unit(h) * 2.0 - 1.0
}

/// Smooth 1-D value noise in `[-1, 1]`: hashed knots at integers, smoothstep between them.
pub(crate) fn value_noise(key: u64, x: f64) -> f64 {
    let knot = x.floor();
    let frac = x - knot;
    let left = signed(hash(key, &[knot as i64]));
    let right = signed(hash(key, &[knot as i64 + 1]));
    let smooth = frac * frac * (3.0 - 2.0 * frac);
    left + (right - left) * smooth
}

/// Rounds to 6 significant digits (at most 10 decimals) so that the JSON text of a price is short
/// and parses back to exactly the same `f64`.
pub(crate) fn round_price(x: f64) -> f64 {
    if !x.is_finite() || x <= 0.0 {
        return 0.0001;
    }
    let mag = x.log10().floor() as i32;
    let decimals = (5 - mag).clamp(0, 10);
    let scale = 10f64.powi(decimals);
    let r = (x * scale).round() / scale;
    if r <= 0.0 { 0.0001 } else { r }
}

/// Days since 1970-01-01 for a civil date (can be negative).
pub(crate) fn day_number(date: Date) -> i64 {
    let epoch = jiff::civil::date(1970, 1, 1);
    i64::from((date - epoch).get_days())
}

/// The unadjusted "true" price level of a symbol on a day (before dividing by split factors).
pub(crate) fn level(key: u64, day: f64) -> f64 {
    let base = 10.0 + 290.0 * unit(hash(key, &[1]));
    let drift = 0.02 + 0.10 * unit(hash(key, &[2]));
    // Anchored at 2000-01-01 (day 10957).
    let years = (day - 10957.0) / 365.25;
    let mut log = base.ln() + drift * years;
    for (i, (len, amp)) in [
        (900.0, 0.45),
        (180.0, 0.22),
        (40.0, 0.10),
        (9.0, 0.04),
        (2.0, 0.015),
    ]
    .into_iter()
    .enumerate()
    {
        log += amp * value_noise(hash(key, &[10 + i as i64]), day / len);
    }
    log.exp()
}

/// Unrounded, unadjusted OHLCV of a full daily session.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawBar {
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

/// The daily bar of the session on `day` (days since epoch). `scale` multiplies prices (1.0 for
/// equities; FX and crypto pick their own level elsewhere); `base_volume` 0 gives zero volume.
pub(crate) fn daily_raw(key: u64, day: i64, vol_pct: f64, base_volume: f64) -> RawBar {
    let p = level(key, day as f64);
    let open = p * (1.0 + 0.25 * vol_pct * signed(hash(key, &[100, day])));
    let close = p * (1.0 + vol_pct * signed(hash(key, &[101, day])));
    let high = open.max(close) * (1.0 + 0.5 * vol_pct * unit(hash(key, &[102, day])));
    let low = open.min(close) * (1.0 - 0.5 * vol_pct * unit(hash(key, &[103, day])));
    let volume = base_volume * (0.4 + 1.2 * unit(hash(key, &[104, day])));
    RawBar {
        open,
        high,
        low,
        close,
        volume,
    }
}

/// A price inside a session at fraction `f` (0 = open, 1 = close) of its regular hours: a path from
/// open to close with hashed wiggles, kept within the day's low and high.
pub(crate) fn intraday_price(key: u64, day: i64, d: &RawBar, f: f64) -> f64 {
    let line = d.open + (d.close - d.open) * f;
    let span = d.high - d.low;
    // Wiggles vanish at the open and the close so the path meets the daily open and close.
    let envelope = (f * (1.0 - f) * 4.0).clamp(0.0, 1.0);
    let wiggle = value_noise(hash(key, &[200, day]), f * 24.0) * 0.45 * span * envelope;
    (line + wiggle).clamp(d.low, d.high)
}

#[cfg(test)]
#[expect(clippy::float_cmp, reason = "rounding must give exact values")]
mod tests {
    use super::*;

    #[test]
    fn rounding_keeps_six_significant_digits_and_round_trips() {
        assert_eq!(round_price(123.456_789), 123.457);
        assert_eq!(round_price(0.012_345_678), 0.012_345_7);
        assert_eq!(round_price(1_234_567.8), 1_234_568.0);
        for x in [0.123_456_7, 1.0, 99.999_999, 4567.891, 1e-7] {
            let r = round_price(x);
            let back: f64 = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
            assert_eq!(back.to_bits(), r.to_bits());
        }
    }

    #[test]
    fn daily_bars_are_consistent() {
        for day in -5000..5000 {
            let b = daily_raw(7, day, 0.02, 1e6);
            assert!(b.high >= b.open.max(b.close) && b.low <= b.open.min(b.close));
            assert!(b.low > 0.0 && b.volume >= 0.0);
            let mid = intraday_price(7, day, &b, 0.5);
            assert!(mid >= b.low && mid <= b.high);
        }
        assert_eq!(level(7, 100.0).to_bits(), level(7, 100.0).to_bits());
        assert_ne!(level(7, 100.0).to_bits(), level(8, 100.0).to_bits());
    }
}
