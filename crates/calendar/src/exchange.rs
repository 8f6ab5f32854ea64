//! Exchanges and how symbols map to them.

use std::fmt;

use backfill_domain::Symbol;
use jiff::civil::Weekday;

/// An exchange calendar, named by ISO 10383 MIC where one exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Exchange {
    /// New York Stock Exchange; NASDAQ and the other US venues follow the same days.
    Xnys,
    /// London Stock Exchange.
    Xlon,
    /// Euronext Paris (also serves Amsterdam, Brussels and Lisbon days).
    Xpar,
    /// Deutsche Börse Xetra.
    Xetr,
    /// Toronto Stock Exchange.
    Xtse,
    /// Australian Securities Exchange.
    Xasx,
    /// Tokyo Stock Exchange.
    Xtks,
    /// Crypto pairs: every day, all day (UTC).
    Always,
    /// Foreign exchange: Monday to Friday, all day.
    Fx,
    /// Fallback for an unknown exchange: every weekday, no holidays.
    Weekdays,
}

/// The text names no known exchange calendar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown exchange `{0}`; expected one of XNYS XLON XPAR XETR XTSE XASX XTKS 24/7 24/5 WEEKDAYS"
)]
pub struct ParseExchangeError(pub String);

impl Exchange {
    /// Every calendar, in display order.
    pub const ALL: [Exchange; 10] = [
        Exchange::Xnys,
        Exchange::Xlon,
        Exchange::Xpar,
        Exchange::Xetr,
        Exchange::Xtse,
        Exchange::Xasx,
        Exchange::Xtks,
        Exchange::Always,
        Exchange::Fx,
        Exchange::Weekdays,
    ];

    /// The code users type (`XNYS`, `24/7`, `24/5`, `WEEKDAYS`).
    pub fn code(self) -> &'static str {
        match self {
            Exchange::Xnys => "XNYS",
            Exchange::Xlon => "XLON",
            Exchange::Xpar => "XPAR",
            Exchange::Xetr => "XETR",
            Exchange::Xtse => "XTSE",
            Exchange::Xasx => "XASX",
            Exchange::Xtks => "XTKS",
            Exchange::Always => "24/7",
            Exchange::Fx => "24/5",
            Exchange::Weekdays => "WEEKDAYS",
        }
    }

    /// Parses a code, case-insensitively. `NASDAQ`/`XNAS` map to XNYS, `XAMS`/`XBRU`/`XLIS` to XPAR,
    /// `CRYPTO` to 24/7 and `FX` to 24/5.
    ///
    /// # Errors
    /// [`ParseExchangeError`] for anything else.
    pub fn parse(s: &str) -> Result<Exchange, ParseExchangeError> {
        Ok(match s.trim().to_ascii_uppercase().as_str() {
            "XNYS" | "NYSE" | "XNAS" | "NASDAQ" => Exchange::Xnys,
            "XLON" | "LSE" => Exchange::Xlon,
            "XPAR" | "XAMS" | "XBRU" | "XLIS" | "EURONEXT" => Exchange::Xpar,
            "XETR" | "XETRA" => Exchange::Xetr,
            "XTSE" | "TSX" => Exchange::Xtse,
            "XASX" | "ASX" => Exchange::Xasx,
            "XTKS" | "TSE" | "JPX" => Exchange::Xtks,
            "24/7" | "CRYPTO" => Exchange::Always,
            "24/5" | "FX" => Exchange::Fx,
            "WEEKDAYS" => Exchange::Weekdays,
            _ => return Err(ParseExchangeError(s.to_owned())),
        })
    }

    /// IANA zone in which session dates and hours are defined.
    ///
    /// FX uses London: Yahoo stamps FX daily bars at 00:00 Europe/London, so that is the FX "day".
    pub fn timezone_name(self) -> &'static str {
        match self {
            Exchange::Xnys | Exchange::Weekdays => "America/New_York",
            Exchange::Xlon | Exchange::Fx => "Europe/London",
            Exchange::Xpar => "Europe/Paris",
            Exchange::Xetr => "Europe/Berlin",
            Exchange::Xtse => "America/Toronto",
            Exchange::Xasx => "Australia/Sydney",
            Exchange::Xtks => "Asia/Tokyo",
            Exchange::Always => "UTC",
        }
    }

    /// Whether the exchange can trade on this weekday at all (before holidays).
    pub fn trades_on(self, w: Weekday) -> bool {
        match self {
            Exchange::Always => true,
            _ => !crate::is_weekend(w),
        }
    }
}

impl fmt::Display for Exchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::str::FromStr for Exchange {
    type Err = ParseExchangeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Exchange::parse(s)
    }
}

/// Quote currencies of Yahoo crypto pairs (`BTC-USD`, `ETH-BTC`): always three or more letters,
/// so US share classes (`BRK-B`) and preferreds (`BAC-PL`) never match.
const CRYPTO_QUOTES: [&str; 20] = [
    "USD", "EUR", "GBP", "JPY", "CAD", "AUD", "CHF", "CNY", "HKD", "SGD", "KRW", "INR", "BRL",
    "RUB", "USDT", "USDC", "BUSD", "DAI", "BTC", "ETH",
];

/// Index symbols whose calendar is known without asking the provider: the first run then plans
/// the same window as every later one (an index's venue is not in its symbol).
pub const INDICES: &[(&str, Exchange)] = &[
    ("^GSPC", Exchange::Xnys),
    ("^SPX", Exchange::Xnys),
    ("^DJI", Exchange::Xnys),
    ("^IXIC", Exchange::Xnys),
    ("^NDX", Exchange::Xnys),
    ("^RUT", Exchange::Xnys),
    ("^VIX", Exchange::Xnys),
    ("^NYA", Exchange::Xnys),
    ("^SOX", Exchange::Xnys),
    ("^VXAPL", Exchange::Xnys),
    ("^FTSE", Exchange::Xlon),
    ("^FTMC", Exchange::Xlon),
    ("^FTAS", Exchange::Xlon),
    ("^FCHI", Exchange::Xpar),
    ("^AEX", Exchange::Xpar),
    ("^BFX", Exchange::Xpar),
    ("^N100", Exchange::Xpar),
    ("^GDAXI", Exchange::Xetr),
    ("^MDAXI", Exchange::Xetr),
    ("^TECDAX", Exchange::Xetr),
    ("^GSPTSE", Exchange::Xtse),
    ("^AXJO", Exchange::Xasx),
    ("^AORD", Exchange::Xasx),
    ("^N225", Exchange::Xtks),
];

/// The calendar a Yahoo symbol trades on, from its form and suffix alone; `None` when they name
/// no known calendar (the caller warns and falls back to [`Exchange::Weekdays`] until the
/// provider's metadata says more, see [`exchange_from_meta`]).
///
/// - `EURUSD=X`, `JPY=X`: FX, 24/5.
/// - `BTC-USD`, `ETH-BTC`: crypto, 24/7 (a dash followed by a currency, and no `.` suffix).
/// - No suffix (`MSFT`, `BRK-B`): US, XNYS.
/// - `.L`/`.IL` XLON; `.PA`/`.AS`/`.BR`/`.LS` XPAR; `.DE`/`.F` XETR; `.TO`/`.V`/`.CN`/`.NE` XTSE;
///   `.AX` XASX; `.T` XTKS.
/// - Well-known indices by name (`^GSPC` XNYS, `^FTSE` XLON, `^N225` XTKS, see [`INDICES`]);
///   other indices (`^XYZ`) and futures (`ES=F`): `None`, their venue is not in the symbol.
pub fn exchange_for_symbol(symbol: &Symbol) -> Option<Exchange> {
    let s = symbol.as_str();
    if s.ends_with("=X") {
        return Some(Exchange::Fx);
    }
    if s.starts_with('^') {
        return INDICES
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, ex)| *ex);
    }
    if s.ends_with("=F") {
        return None;
    }
    if let Some((base, quote)) = s.rsplit_once('-')
        && CRYPTO_QUOTES.contains(&quote)
        && !base.is_empty()
        && !s.contains('.')
    {
        return Some(Exchange::Always);
    }
    match symbol.suffix() {
        None => Some(Exchange::Xnys),
        Some("L" | "IL") => Some(Exchange::Xlon),
        Some("PA" | "AS" | "BR" | "LS") => Some(Exchange::Xpar),
        Some("DE" | "F") => Some(Exchange::Xetr),
        Some("TO" | "V" | "CN" | "NE") => Some(Exchange::Xtse),
        Some("AX") => Some(Exchange::Xasx),
        Some("T") => Some(Exchange::Xtks),
        Some(_) => None,
    }
}

/// The calendar named by a provider's metadata: its short exchange code (Yahoo's `exchangeName`)
/// first, then its IANA zone (`exchangeTimezoneName`); `None` when neither is known.
pub fn exchange_from_meta(exchange_name: Option<&str>, timezone: Option<&str>) -> Option<Exchange> {
    let by_code = exchange_name.and_then(|code| match code {
        "NMS" | "NYQ" | "NGM" | "NCM" | "ASE" | "PCX" | "BTS" | "NAS" | "PNK" | "OQB" | "OQX"
        | "SNP" | "WCB" | "DJI" | "NIM" => Some(Exchange::Xnys),
        "LSE" | "IOB" => Some(Exchange::Xlon),
        "PAR" | "AMS" | "BRU" | "LIS" | "ENX" => Some(Exchange::Xpar),
        "GER" | "FRA" | "ETR" => Some(Exchange::Xetr),
        "TOR" | "VAN" | "CNQ" | "NEO" => Some(Exchange::Xtse),
        "ASX" => Some(Exchange::Xasx),
        "JPX" | "TYO" | "OSA" => Some(Exchange::Xtks),
        "CCC" => Some(Exchange::Always),
        "CCY" => Some(Exchange::Fx),
        _ => None,
    });
    by_code.or_else(|| match timezone? {
        "America/New_York" => Some(Exchange::Xnys),
        "Europe/London" => Some(Exchange::Xlon),
        "Europe/Paris" | "Europe/Amsterdam" | "Europe/Brussels" | "Europe/Lisbon" => {
            Some(Exchange::Xpar)
        }
        "Europe/Berlin" => Some(Exchange::Xetr),
        "America/Toronto" => Some(Exchange::Xtse),
        "Australia/Sydney" => Some(Exchange::Xasx),
        "Asia/Tokyo" => Some(Exchange::Xtks),
        "UTC" | "Etc/UTC" => Some(Exchange::Always),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn for_symbol(s: &str) -> Option<Exchange> {
        exchange_for_symbol(&Symbol::parse(s).expect("valid symbol"))
    }

    #[test]
    fn symbols_map_by_yahoo_suffix() {
        let cases = [
            ("MSFT", Some(Exchange::Xnys)),
            ("AIR.PA", Some(Exchange::Xpar)),
            ("ASML.AS", Some(Exchange::Xpar)),
            ("ABI.BR", Some(Exchange::Xpar)),
            ("EDP.LS", Some(Exchange::Xpar)),
            ("OCDO.L", Some(Exchange::Xlon)),
            ("SAP.DE", Some(Exchange::Xetr)),
            ("RY.TO", Some(Exchange::Xtse)),
            ("BHP.AX", Some(Exchange::Xasx)),
            ("7203.T", Some(Exchange::Xtks)),
            ("BTC-USD", Some(Exchange::Always)),
            ("ETH-BTC", Some(Exchange::Always)),
            ("EURUSD=X", Some(Exchange::Fx)),
            ("JPY=X", Some(Exchange::Fx)),
            ("BRK-B", Some(Exchange::Xnys)),
            ("BF-B", Some(Exchange::Xnys)),
            ("BAC-PL", Some(Exchange::Xnys)),
            ("REI-UN.TO", Some(Exchange::Xtse)),
            ("VOD.XX", None),
            ("ENI.MI", None),
            ("^GSPC", Some(Exchange::Xnys)),
            ("^IXIC", Some(Exchange::Xnys)),
            ("^FTSE", Some(Exchange::Xlon)),
            ("^N225", Some(Exchange::Xtks)),
            ("^XYZ", None),
            ("ES=F", None),
        ];
        for (s, want) in cases {
            assert_eq!(for_symbol(s), want, "{s}");
        }
    }

    #[test]
    fn meta_maps_by_code_then_timezone() {
        assert_eq!(exchange_from_meta(Some("NMS"), None), Some(Exchange::Xnys));
        assert_eq!(
            exchange_from_meta(Some("LSE"), Some("Europe/London")),
            Some(Exchange::Xlon)
        );
        assert_eq!(
            exchange_from_meta(Some("CCY"), Some("Europe/London")),
            Some(Exchange::Fx)
        );
        assert_eq!(
            exchange_from_meta(Some("CCC"), Some("UTC")),
            Some(Exchange::Always)
        );
        // The code wins over the zone; an unknown code falls back to the zone.
        assert_eq!(
            exchange_from_meta(Some("GER"), Some("Europe/London")),
            Some(Exchange::Xetr)
        );
        assert_eq!(
            exchange_from_meta(Some("???"), Some("Asia/Tokyo")),
            Some(Exchange::Xtks)
        );
        // A missing code still consults the zone.
        assert_eq!(
            exchange_from_meta(None, Some("Australia/Sydney")),
            Some(Exchange::Xasx)
        );
        assert_eq!(
            exchange_from_meta(None, Some("America/Toronto")),
            Some(Exchange::Xtse)
        );
        assert_eq!(exchange_from_meta(Some("MIL"), Some("Europe/Rome")), None);
        assert_eq!(exchange_from_meta(None, None), None);
    }

    #[test]
    fn codes_round_trip() {
        for e in Exchange::ALL {
            assert_eq!(Exchange::parse(e.code()), Ok(e));
            assert_eq!(e.to_string().parse::<Exchange>(), Ok(e));
        }
        assert_eq!(Exchange::parse(" nasdaq "), Ok(Exchange::Xnys));
        assert_eq!(Exchange::parse("XAMS"), Ok(Exchange::Xpar));
        assert!(Exchange::parse("XMIL").is_err());
    }
}
