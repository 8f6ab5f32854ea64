//! Validated ticker symbols.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// Longest symbol accepted. Yahoo's longest real symbols (fund codes such as `0P000071W8.TO`) are well under it.
pub const MAX_SYMBOL_LEN: usize = 32;

/// A provider ticker symbol, validated and normalised to upper case.
///
/// Accepts Yahoo's real forms: `MSFT`, `AIR.PA`, `BRK-B`, `^GSPC`, `EURUSD=X`, `BTC-USD`, `GC=F`, `0P000071W8.TO`.
/// Rejects input that is empty, has whitespace or control characters, contains a path separator
/// (`/`, `\`), is `.` or `..` or contains `..`, or is longer than [`MAX_SYMBOL_LEN`].
/// A valid symbol can still contain characters that are unsafe in a path or URL (`^`, `=`, `%`, …):
/// the store and the providers encode it for their own medium.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Symbol(String);

/// Why a string is not a valid [`Symbol`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SymbolError {
    #[error("ticker symbol is empty")]
    Empty,
    #[error("ticker symbol `{shown}` is {len} characters long; the limit is {MAX_SYMBOL_LEN}")]
    TooLong { shown: String, len: usize },
    #[error("ticker symbol `{shown}` contains {what}, which no ticker has")]
    BadChar { shown: String, what: &'static str },
}

impl Symbol {
    /// Parses and normalises (ASCII upper case) a ticker symbol.
    ///
    /// # Errors
    /// Returns [`SymbolError`] when the input cannot be a ticker (see the type's docs).
    pub fn parse(input: &str) -> Result<Symbol, SymbolError> {
        let shown = || shown(input);
        if input.is_empty() {
            return Err(SymbolError::Empty);
        }
        let len = input.chars().count();
        if len > MAX_SYMBOL_LEN {
            return Err(SymbolError::TooLong {
                shown: shown(),
                len,
            });
        }
        for c in input.chars() {
            let what = if c.is_control() {
                "a control character"
            } else if c.is_whitespace() {
                "whitespace"
            } else if c == '/' || c == '\\' {
                "a path separator"
            } else if !c.is_ascii() {
                "a non-ASCII character"
            } else if matches!(
                c,
                '"' | '\'' | '<' | '>' | '`' | '|' | '*' | '?' | '#' | '&' | ';'
            ) {
                "a character reserved by shells or URLs"
            } else {
                continue;
            };
            return Err(SymbolError::BadChar {
                shown: shown(),
                what,
            });
        }
        if input.contains("..") || input == "." {
            return Err(SymbolError::BadChar {
                shown: shown(),
                what: "a `..` path component",
            });
        }
        Ok(Symbol(input.to_ascii_uppercase()))
    }

    /// The normalised symbol.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the last `.`, if any (`PA` for `AIR.PA`), which names the exchange on Yahoo.
    pub fn suffix(&self) -> Option<&str> {
        self.0
            .rsplit_once('.')
            .map(|(_, s)| s)
            .filter(|s| !s.is_empty())
    }
}

/// Renders untrusted input safely inside an error message: escapes control characters and truncates.
fn shown(input: &str) -> String {
    let mut out: String = input
        .chars()
        .take(40)
        .flat_map(char::escape_debug)
        .collect();
    if input.chars().count() > 40 {
        out.push('…');
    }
    out
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Symbol({})", self.0)
    }
}

impl std::str::FromStr for Symbol {
    type Err = SymbolError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Symbol::parse(s)
    }
}

impl<'de> Deserialize<'de> for Symbol {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Symbol::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_yahoo_forms() {
        for s in [
            "MSFT",
            "AIR.PA",
            "BRK-B",
            "^GSPC",
            "EURUSD=X",
            "BTC-USD",
            "GC=F",
            "0P000071W8.TO",
            "OCDO.L",
        ] {
            assert_eq!(Symbol::parse(s).unwrap().as_str(), s);
        }
        assert_eq!(Symbol::parse("msft").unwrap().as_str(), "MSFT");
        assert_eq!(Symbol::parse("air.pa").unwrap().suffix(), Some("PA"));
        assert_eq!(Symbol::parse("MSFT").unwrap().suffix(), None);
    }

    #[test]
    fn rejects_hostile_input() {
        assert_eq!(Symbol::parse(""), Err(SymbolError::Empty));
        for s in [
            " ", "A B", "A\nB", "A\u{0}B", "../etc", "a/b", "a\\b", "..", ".", "A..B", "é", "A;rm",
            "A|B",
        ] {
            assert!(Symbol::parse(s).is_err(), "{s:?} should be rejected");
        }
        let long = "A".repeat(MAX_SYMBOL_LEN + 1);
        assert!(matches!(
            Symbol::parse(&long),
            Err(SymbolError::TooLong { len: 33, .. })
        ));
        let err = Symbol::parse("A\u{1b}[31m").unwrap_err().to_string();
        assert!(
            !err.contains('\u{1b}'),
            "escape codes must not reach the terminal: {err}"
        );
    }
}
