//! Percent-encoding of symbols into path segments and hive partition values.
//!
//! Kept readable: ASCII letters, digits and `.`, `-`, `^`, `_` pass through; every other byte
//! (`=`, `%`, `+`, `,`, `:`, `/`, `\`, control characters, …) becomes `%XX` with upper-case hex.
//! A leading `.` is also encoded (`%2E`) so that no segment is hidden or mistaken for `.`/`..`.
//! `EURUSD=X` → `EURUSD%3DX`, `^GSPC` → `^GSPC`, `AIR.PA` → `AIR.PA`.

use backfill_domain::Symbol;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything but `A-Z a-z 0-9 . - ^ _` is encoded.
const UNSAFE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'.')
    .remove(b'-')
    .remove(b'^')
    .remove(b'_');

/// The path-safe spelling of a symbol.
pub fn encode_symbol(symbol: &Symbol) -> String {
    encode_str(symbol.as_str())
}

pub(crate) fn encode_str(s: &str) -> String {
    let enc = utf8_percent_encode(s, UNSAFE).to_string();
    match enc.strip_prefix('.') {
        Some(rest) => format!("%2E{rest}"),
        None => enc,
    }
}

/// Decodes a segment written by [`encode_symbol`]; `None` if it is not one (bad escapes, not a
/// valid symbol, or not in canonical encoded form — so that two spellings never name one series).
pub fn decode_symbol(segment: &str) -> Option<Symbol> {
    let bytes = percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .ok()?;
    let symbol = Symbol::parse(&bytes).ok()?;
    (encode_symbol(&symbol) == segment).then_some(symbol)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readable_and_round_trips() {
        for (raw, enc) in [
            ("EURUSD=X", "EURUSD%3DX"),
            ("^GSPC", "^GSPC"),
            ("AIR.PA", "AIR.PA"),
            ("BRK-B", "BRK-B"),
            ("A%B", "A%25B"),
            ("A+B", "A%2BB"),
            ("A:B", "A%3AB"),
            (".DJI", "%2EDJI"),
            ("X_Y", "X_Y"),
        ] {
            let s = Symbol::parse(raw).unwrap();
            assert_eq!(encode_symbol(&s), enc);
            assert_eq!(decode_symbol(enc), Some(s));
        }
        // Non-canonical spellings and junk are not symbols.
        assert_eq!(decode_symbol("EURUSD=X"), None);
        assert_eq!(decode_symbol("msft"), None);
        assert_eq!(decode_symbol("%ZZ"), None);
        assert_eq!(decode_symbol(".."), None);
        assert_eq!(decode_symbol("a%2Fb"), None);
    }
}
