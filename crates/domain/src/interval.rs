//! Bar intervals.

use std::fmt;

use jiff::SignedDuration;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A bar width, named as Yahoo names it. `60m` and `1h` are the same interval, spelled `1h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Interval {
    M1,
    M2,
    M5,
    M15,
    M30,
    H1,
    M90,
    D1,
    W1,
    Mo1,
}

/// The text is not one of the supported intervals.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown interval `{0}`; expected one of 1m 2m 5m 15m 30m 60m 1h 90m 1d 1wk 1mo")]
pub struct ParseIntervalError(pub String);

impl Interval {
    /// Every supported interval, finest first.
    pub const ALL: [Interval; 10] = [
        Interval::M1,
        Interval::M2,
        Interval::M5,
        Interval::M15,
        Interval::M30,
        Interval::H1,
        Interval::M90,
        Interval::D1,
        Interval::W1,
        Interval::Mo1,
    ];

    /// Canonical spelling, used in URLs, in the store's `interval=` partition and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::M1 => "1m",
            Interval::M2 => "2m",
            Interval::M5 => "5m",
            Interval::M15 => "15m",
            Interval::M30 => "30m",
            Interval::H1 => "1h",
            Interval::M90 => "90m",
            Interval::D1 => "1d",
            Interval::W1 => "1wk",
            Interval::Mo1 => "1mo",
        }
    }

    /// Parses `1m` … `1mo`; `60m` is accepted as `1h`.
    ///
    /// # Errors
    /// [`ParseIntervalError`] for any other text.
    pub fn parse(s: &str) -> Result<Interval, ParseIntervalError> {
        Ok(match s.trim() {
            "1m" => Interval::M1,
            "2m" => Interval::M2,
            "5m" => Interval::M5,
            "15m" => Interval::M15,
            "30m" => Interval::M30,
            "60m" | "1h" => Interval::H1,
            "90m" => Interval::M90,
            "1d" => Interval::D1,
            "1wk" => Interval::W1,
            "1mo" => Interval::Mo1,
            other => return Err(ParseIntervalError(other.to_owned())),
        })
    }

    /// True for bars shorter than a day.
    pub fn is_intraday(self) -> bool {
        self < Interval::D1
    }

    /// The fixed width of an intraday bar; `None` for daily and coarser, whose width follows the calendar.
    pub fn fixed_duration(self) -> Option<SignedDuration> {
        let minutes = match self {
            Interval::M1 => 1,
            Interval::M2 => 2,
            Interval::M5 => 5,
            Interval::M15 => 15,
            Interval::M30 => 30,
            Interval::H1 => 60,
            Interval::M90 => 90,
            Interval::D1 | Interval::W1 | Interval::Mo1 => return None,
        };
        Some(SignedDuration::from_mins(minutes))
    }

    /// Whether a provider's `dataGranularity` answer names this interval (`60m` and `1h` are the same).
    pub fn matches_granularity(self, granularity: &str) -> bool {
        Interval::parse(granularity) == Ok(self)
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Interval {
    type Err = ParseIntervalError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Interval::parse(s)
    }
}

impl Serialize for Interval {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Interval {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Interval::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_aliases() {
        for i in Interval::ALL {
            assert_eq!(Interval::parse(i.as_str()), Ok(i));
        }
        assert_eq!(Interval::parse("60m"), Ok(Interval::H1));
        assert!(Interval::H1.matches_granularity("60m"));
        assert!(!Interval::D1.matches_granularity("3mo"));
        assert!(Interval::parse("3mo").is_err());
        assert!(Interval::M90.is_intraday() && !Interval::D1.is_intraday());
        assert_eq!(
            Interval::M90.fixed_duration(),
            Some(SignedDuration::from_mins(90))
        );
    }
}
