//! [`ProviderKind`] names the sources a user can pick (`--provider`, the config file, the store's
//! record of a series); [`AnyProvider`] is one of their clients, chosen at run time.

use backfill_domain::Interval;

use crate::alpaca::AlpacaProvider;
use crate::tiingo::TiingoProvider;
use crate::yahoo::YahooProvider;
use crate::{Answer, FetchError, FetchRequest, Pacer, Provider, Quotas, Window};

/// The providers a user can pick, by the name the store records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum ProviderKind {
    #[default]
    Yahoo,
    Tiingo,
    Alpaca,
}

impl ProviderKind {
    /// Every kind, in the order `--help` lists them.
    pub const ALL: [ProviderKind; 3] = [
        ProviderKind::Yahoo,
        ProviderKind::Tiingo,
        ProviderKind::Alpaca,
    ];

    /// The name used by `--provider`, the config file, reports and the store (`yahoo`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Yahoo => "yahoo",
            ProviderKind::Tiingo => "tiingo",
            ProviderKind::Alpaca => "alpaca",
        }
    }

    /// Parses a name (case-insensitive, surrounding whitespace ignored).
    pub fn parse(s: &str) -> Option<ProviderKind> {
        ProviderKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// The intervals the provider's client serves.
    pub fn intervals(self) -> &'static [Interval] {
        match self {
            ProviderKind::Yahoo => &Interval::ALL,
            ProviderKind::Tiingo => &crate::tiingo::INTERVALS,
            ProviderKind::Alpaca => &crate::alpaca::INTERVALS,
        }
    }

    /// The request limits of the provider's client at `interval`, without building it (planning
    /// needs no key).
    pub fn window(self, interval: Interval) -> Window {
        match self {
            ProviderKind::Yahoo => crate::yahoo::yahoo_window(interval),
            ProviderKind::Tiingo | ProviderKind::Alpaca => Window::UNLIMITED,
        }
    }

    /// The environment variables that hold the provider's keys, as a phrase for messages
    /// (`None`: the provider needs no key).
    pub fn key_vars(self) -> Option<&'static str> {
        match self {
            ProviderKind::Yahoo => None,
            ProviderKind::Tiingo => Some("`TIINGO_API_KEY`"),
            ProviderKind::Alpaca => Some("`APCA_API_KEY_ID` and `APCA_API_SECRET_KEY`"),
        }
    }
}

impl std::fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One of the real clients. Every call goes to the client it wraps.
#[derive(Debug, Clone)]
pub enum AnyProvider {
    Yahoo(YahooProvider),
    Tiingo(TiingoProvider),
    Alpaca(AlpacaProvider),
}

impl AnyProvider {
    pub fn kind(&self) -> ProviderKind {
        match self {
            AnyProvider::Yahoo(_) => ProviderKind::Yahoo,
            AnyProvider::Tiingo(_) => ProviderKind::Tiingo,
            AnyProvider::Alpaca(_) => ProviderKind::Alpaca,
        }
    }
}

impl Provider for AnyProvider {
    fn name(&self) -> &str {
        self.kind().as_str()
    }

    fn window(&self, interval: Interval) -> Window {
        match self {
            AnyProvider::Yahoo(p) => p.window(interval),
            AnyProvider::Tiingo(p) => p.window(interval),
            AnyProvider::Alpaca(p) => p.window(interval),
        }
    }

    fn quotas(&self) -> Quotas {
        match self {
            AnyProvider::Yahoo(p) => p.quotas(),
            AnyProvider::Tiingo(p) => p.quotas(),
            AnyProvider::Alpaca(p) => p.quotas(),
        }
    }

    async fn fetch_paced(
        &self,
        req: &FetchRequest,
        pacer: &dyn Pacer,
    ) -> Result<Answer, FetchError> {
        match self {
            AnyProvider::Yahoo(p) => p.fetch_paced(req, pacer).await,
            AnyProvider::Tiingo(p) => p.fetch_paced(req, pacer).await,
            AnyProvider::Alpaca(p) => p.fetch_paced(req, pacer).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_each_kind_serves_daily_bars() {
        for k in ProviderKind::ALL {
            assert_eq!(ProviderKind::parse(k.as_str()), Some(k));
            assert_eq!(
                ProviderKind::parse(&format!(" {} ", k.as_str().to_uppercase())),
                Some(k)
            );
            assert!(k.intervals().contains(&Interval::D1), "{k}");
        }
        assert_eq!(ProviderKind::parse("iex"), None);
        assert!(!ProviderKind::Tiingo.intervals().contains(&Interval::M5));
        assert!(ProviderKind::Alpaca.intervals().contains(&Interval::M5));
        assert_eq!(ProviderKind::Yahoo.key_vars(), None);
    }

    #[test]
    fn a_kind_plans_with_its_clients_window() {
        use crate::Secret;
        let clients = [
            AnyProvider::Yahoo(YahooProvider::new(crate::yahoo::YahooConfig::default()).unwrap()),
            AnyProvider::Tiingo(
                TiingoProvider::new(crate::tiingo::TiingoConfig::new(Secret::new("k"))).unwrap(),
            ),
            AnyProvider::Alpaca(
                AlpacaProvider::new(crate::alpaca::AlpacaConfig::new(
                    Secret::new("i"),
                    Secret::new("s"),
                ))
                .unwrap(),
            ),
        ];
        for c in &clients {
            assert_eq!(c.name(), c.kind().as_str());
            for i in Interval::ALL {
                assert_eq!(c.window(i), c.kind().window(i), "{} {i}", c.kind());
            }
        }
    }
}
