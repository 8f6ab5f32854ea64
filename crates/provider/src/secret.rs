//! [`Secret`]: an API key or secret that never shows up in output.

use std::fmt;

/// What a secret prints as, everywhere.
pub const REDACTED: &str = "[redacted]";

/// An API key, token or secret. `Debug` and `Display` print [`REDACTED`]; the value is reachable
/// only through [`Secret::expose`], which the providers call when they build a request header.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value` with surrounding whitespace removed (a key pasted with a newline still works).
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into().trim().to_owned())
    }

    /// The value itself, for a request header. Never format it into a message.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty (an unset or blank variable).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `text` with every occurrence of the secret replaced by [`REDACTED`]: for provider bodies and
    /// transport errors that may echo what was sent.
    pub fn redact(&self, text: &str) -> String {
        if self.0.is_empty() {
            text.to_owned()
        } else {
            text.replace(&self.0, REDACTED)
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_formats_the_value() {
        let s = Secret::new(" 0123456789abcdef\n");
        assert_eq!(s.expose(), "0123456789abcdef");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
        assert_eq!(format!("{:?}", Some(&s)), "Some(Secret([redacted]))");
        assert_eq!(
            s.redact("GET /x?token=0123456789abcdef failed"),
            "GET /x?token=[redacted] failed"
        );
        assert!(Secret::new("  ").is_empty());
        assert_eq!(Secret::new("").redact("abc"), "abc");
    }
}
