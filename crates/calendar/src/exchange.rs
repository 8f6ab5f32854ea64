//! Exchanges and how symbols map to them.

use std::fmt;

use backfill_domain::Symbol;
use jiff::civil::{Date, Weekday};

/// An exchange calendar, named by ISO 10383 MIC where one exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Exchange {
    /// New York Stock Exchange; NASDAQ and the other US venues follow the same days.
    Xnys,
    /// London Stock Exchange.
    Xlon,
    /// Euronext Paris (also serves Brussels and Lisbon days).
    Xpar,
    /// Euronext Amsterdam.
    Xams,
    /// Deutsche Börse Xetra.
    Xetr,
    /// SIX Swiss Exchange, Zurich.
    Xswx,
    /// Borsa Italiana, Milan.
    Xmil,
    /// Bolsa de Madrid.
    Xmad,
    /// Nasdaq Stockholm.
    Xsto,
    /// Johannesburg Stock Exchange.
    Xjse,
    /// Toronto Stock Exchange.
    Xtse,
    /// B3 (Brasil Bolsa Balcão), São Paulo.
    Bvmf,
    /// Australian Securities Exchange.
    Xasx,
    /// Tokyo Stock Exchange.
    Xtks,
    /// Hong Kong Exchanges and Clearing.
    Xhkg,
    /// Shanghai Stock Exchange.
    Xshg,
    /// Shenzhen Stock Exchange (the same days and hours as Shanghai).
    Xshe,
    /// BSE, Mumbai; the National Stock Exchange of India keeps the same days.
    Xbom,
    /// Korea Exchange, Seoul (KOSPI and KOSDAQ).
    Xkrx,
    /// Taiwan Stock Exchange, Taipei (the Taipei Exchange keeps the same days).
    Xtai,
    /// Singapore Exchange.
    Xses,
    /// Crypto pairs: every day, all day (UTC).
    Always,
    /// Foreign exchange: Monday to Friday, all day.
    Fx,
    /// Fallback for an unknown exchange: every weekday, no holidays.
    Weekdays,
}

/// The text names no known exchange calendar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown exchange `{0}`; expected one of {codes}", codes = Exchange::codes())]
pub struct ParseExchangeError(pub String);

/// How far an exchange's built-in holidays are known (see [`Exchange::holidays_known`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HolidaysKnown {
    /// Every year: the holidays follow rules (with one-off closures up to the present).
    Always,
    /// Through the end of this year: later holidays (lunar festivals, Diwali, Eid, ...) are
    /// published year by year and not in the built-in tables. Later dates hold only the rule-based
    /// holidays, so a caller must learn the rest (e.g. from empty provider answers).
    Through(i16),
    /// Never: the calendar has no holidays at all ([`Exchange::Weekdays`]).
    Never,
}

impl HolidaysKnown {
    /// Whether the built-in holidays of `date`'s year are complete.
    pub fn covers(self, date: Date) -> bool {
        match self {
            HolidaysKnown::Always => true,
            HolidaysKnown::Through(year) => date.year() <= year,
            HolidaysKnown::Never => false,
        }
    }
}

impl Exchange {
    /// Every calendar, in display order.
    pub const ALL: [Exchange; 24] = [
        Exchange::Xnys,
        Exchange::Xlon,
        Exchange::Xpar,
        Exchange::Xams,
        Exchange::Xetr,
        Exchange::Xswx,
        Exchange::Xmil,
        Exchange::Xmad,
        Exchange::Xsto,
        Exchange::Xjse,
        Exchange::Xtse,
        Exchange::Bvmf,
        Exchange::Xasx,
        Exchange::Xtks,
        Exchange::Xhkg,
        Exchange::Xshg,
        Exchange::Xshe,
        Exchange::Xbom,
        Exchange::Xkrx,
        Exchange::Xtai,
        Exchange::Xses,
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
            Exchange::Xams => "XAMS",
            Exchange::Xetr => "XETR",
            Exchange::Xswx => "XSWX",
            Exchange::Xmil => "XMIL",
            Exchange::Xmad => "XMAD",
            Exchange::Xsto => "XSTO",
            Exchange::Xjse => "XJSE",
            Exchange::Xtse => "XTSE",
            Exchange::Bvmf => "BVMF",
            Exchange::Xasx => "XASX",
            Exchange::Xtks => "XTKS",
            Exchange::Xhkg => "XHKG",
            Exchange::Xshg => "XSHG",
            Exchange::Xshe => "XSHE",
            Exchange::Xbom => "XBOM",
            Exchange::Xkrx => "XKRX",
            Exchange::Xtai => "XTAI",
            Exchange::Xses => "XSES",
            Exchange::Always => "24/7",
            Exchange::Fx => "24/5",
            Exchange::Weekdays => "WEEKDAYS",
        }
    }

    /// Every code, space-separated, for messages.
    fn codes() -> String {
        Exchange::ALL.map(Exchange::code).join(" ")
    }

    /// Parses a code, case-insensitively. Common names are accepted too: `NASDAQ`/`XNAS` map to
    /// XNYS, `XBRU`/`XLIS` to XPAR, `XNSE`/`NSE` to XBOM (the NSE keeps BSE's days), `XKOS`/`KOSDAQ`
    /// to XKRX, `XTWO` to XTAI, `CRYPTO` to 24/7 and `FX` to 24/5.
    ///
    /// # Errors
    /// [`ParseExchangeError`] for anything else.
    pub fn parse(s: &str) -> Result<Exchange, ParseExchangeError> {
        Ok(match s.trim().to_ascii_uppercase().as_str() {
            "XNYS" | "NYSE" | "XNAS" | "NASDAQ" => Exchange::Xnys,
            "XLON" | "LSE" => Exchange::Xlon,
            "XPAR" | "XBRU" | "XLIS" | "EURONEXT" => Exchange::Xpar,
            "XAMS" => Exchange::Xams,
            "XETR" | "XETRA" => Exchange::Xetr,
            "XSWX" | "SIX" => Exchange::Xswx,
            "XMIL" => Exchange::Xmil,
            "XMAD" | "BME" => Exchange::Xmad,
            "XSTO" => Exchange::Xsto,
            "XJSE" | "JSE" => Exchange::Xjse,
            "XTSE" | "TSX" => Exchange::Xtse,
            "BVMF" | "B3" => Exchange::Bvmf,
            "XASX" | "ASX" => Exchange::Xasx,
            "XTKS" | "TSE" | "JPX" => Exchange::Xtks,
            "XHKG" | "HKEX" => Exchange::Xhkg,
            "XSHG" | "SSE" => Exchange::Xshg,
            "XSHE" | "SZSE" => Exchange::Xshe,
            "XBOM" | "BSE" | "XNSE" | "NSE" => Exchange::Xbom,
            "XKRX" | "KRX" | "XKOS" | "KOSDAQ" => Exchange::Xkrx,
            "XTAI" | "TWSE" | "XTWO" => Exchange::Xtai,
            "XSES" | "SGX" => Exchange::Xses,
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
            Exchange::Xams => "Europe/Amsterdam",
            Exchange::Xetr => "Europe/Berlin",
            Exchange::Xswx => "Europe/Zurich",
            Exchange::Xmil => "Europe/Rome",
            Exchange::Xmad => "Europe/Madrid",
            Exchange::Xsto => "Europe/Stockholm",
            Exchange::Xjse => "Africa/Johannesburg",
            Exchange::Xtse => "America/Toronto",
            Exchange::Bvmf => "America/Sao_Paulo",
            Exchange::Xasx => "Australia/Sydney",
            Exchange::Xtks => "Asia/Tokyo",
            Exchange::Xhkg => "Asia/Hong_Kong",
            Exchange::Xshg | Exchange::Xshe => "Asia/Shanghai",
            Exchange::Xbom => "Asia/Kolkata",
            Exchange::Xkrx => "Asia/Seoul",
            Exchange::Xtai => "Asia/Taipei",
            Exchange::Xses => "Asia/Singapore",
            Exchange::Always => "UTC",
        }
    }

    /// Whether the exchange can trade on this weekday at all (before holidays). Saturday
    /// sessions of the past (XKRX until 1998) are not modelled.
    pub fn trades_on(self, w: Weekday) -> bool {
        match self {
            Exchange::Always => true,
            _ => !crate::is_weekend(w),
        }
    }

    /// How far this calendar's built-in holidays are known. Exchanges whose holidays follow
    /// lunar or religious calendars, or are announced year by year (XHKG, XSHG, XSHE, XBOM,
    /// XKRX, XTAI, XSES), know them through the last year of their tables; after that the
    /// calendar holds only the rule-based holidays and a caller should treat the remaining
    /// weekdays as unconfirmed.
    pub fn holidays_known(self) -> HolidaysKnown {
        if self == Exchange::Weekdays {
            return HolidaysKnown::Never;
        }
        crate::rules::tables_end(self).map_or(HolidaysKnown::Always, HolidaysKnown::Through)
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
    ("^AEX", Exchange::Xams),
    ("^BFX", Exchange::Xpar),
    ("^N100", Exchange::Xpar),
    ("^GDAXI", Exchange::Xetr),
    ("^MDAXI", Exchange::Xetr),
    ("^TECDAX", Exchange::Xetr),
    ("^GSPTSE", Exchange::Xtse),
    ("^AXJO", Exchange::Xasx),
    ("^AORD", Exchange::Xasx),
    ("^SSMI", Exchange::Xswx),
    ("^IBEX", Exchange::Xmad),
    ("^OMX", Exchange::Xsto),
    ("^OMXS30", Exchange::Xsto),
    ("^J203.JO", Exchange::Xjse),
    ("^BVSP", Exchange::Bvmf),
    ("^N225", Exchange::Xtks),
    ("^HSI", Exchange::Xhkg),
    ("^HSCE", Exchange::Xhkg),
    ("^BSESN", Exchange::Xbom),
    ("^NSEI", Exchange::Xbom),
    ("^NSEBANK", Exchange::Xbom),
    ("^KS11", Exchange::Xkrx),
    ("^KQ11", Exchange::Xkrx),
    ("^TWII", Exchange::Xtai),
    ("^STI", Exchange::Xses),
];

/// The calendar a Yahoo symbol trades on, from its form and suffix alone; `None` when they name
/// no known calendar (the caller warns and falls back to [`Exchange::Weekdays`] until the
/// provider's metadata says more, see [`exchange_from_meta`]).
///
/// - `EURUSD=X`, `JPY=X`: FX, 24/5.
/// - `BTC-USD`, `ETH-BTC`: crypto, 24/7 (a dash followed by a currency, and no `.` suffix).
/// - No suffix (`MSFT`, `BRK-B`): US, XNYS.
/// - `.L`/`.IL` XLON; `.PA`/`.BR`/`.LS` XPAR; `.AS` XAMS; `.DE`/`.F` XETR; `.SW` XSWX; `.MI` XMIL;
///   `.MC` XMAD; `.ST` XSTO; `.JO` XJSE; `.TO`/`.V`/`.CN`/`.NE` XTSE; `.SA` BVMF; `.AX` XASX;
///   `.T` XTKS; `.HK` XHKG; `.SS` XSHG; `.SZ` XSHE; `.NS`/`.BO` XBOM; `.KS`/`.KQ` XKRX;
///   `.TW`/`.TWO` XTAI; `.SI` XSES. Index symbols with a suffix (`FTSEMIB.MI`, `000001.SS`) follow
///   their suffix.
/// - Well-known indices by name (`^GSPC` XNYS, `^FTSE` XLON, `^HSI` XHKG, see [`INDICES`]);
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
        Some("PA" | "BR" | "LS") => Some(Exchange::Xpar),
        Some("AS") => Some(Exchange::Xams),
        Some("DE" | "F") => Some(Exchange::Xetr),
        Some("SW") => Some(Exchange::Xswx),
        Some("MI") => Some(Exchange::Xmil),
        Some("MC") => Some(Exchange::Xmad),
        Some("ST") => Some(Exchange::Xsto),
        Some("JO") => Some(Exchange::Xjse),
        Some("TO" | "V" | "CN" | "NE") => Some(Exchange::Xtse),
        Some("SA") => Some(Exchange::Bvmf),
        Some("AX") => Some(Exchange::Xasx),
        Some("T") => Some(Exchange::Xtks),
        Some("HK") => Some(Exchange::Xhkg),
        Some("SS") => Some(Exchange::Xshg),
        Some("SZ") => Some(Exchange::Xshe),
        Some("NS" | "BO") => Some(Exchange::Xbom),
        Some("KS" | "KQ") => Some(Exchange::Xkrx),
        Some("TW" | "TWO") => Some(Exchange::Xtai),
        Some("SI") => Some(Exchange::Xses),
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
        "PAR" | "BRU" | "LIS" | "ENX" => Some(Exchange::Xpar),
        "AMS" => Some(Exchange::Xams),
        "GER" | "FRA" | "ETR" => Some(Exchange::Xetr),
        "EBS" | "VTX" => Some(Exchange::Xswx),
        "MIL" => Some(Exchange::Xmil),
        "MCE" => Some(Exchange::Xmad),
        "STO" => Some(Exchange::Xsto),
        "JNB" => Some(Exchange::Xjse),
        "TOR" | "VAN" | "CNQ" | "NEO" => Some(Exchange::Xtse),
        "SAO" => Some(Exchange::Bvmf),
        "ASX" => Some(Exchange::Xasx),
        "JPX" | "TYO" | "OSA" => Some(Exchange::Xtks),
        "HKG" => Some(Exchange::Xhkg),
        "SHH" => Some(Exchange::Xshg),
        "SHZ" => Some(Exchange::Xshe),
        "NSI" | "BSE" => Some(Exchange::Xbom),
        "KSC" | "KOE" => Some(Exchange::Xkrx),
        "TAI" | "TWO" => Some(Exchange::Xtai),
        "SES" => Some(Exchange::Xses),
        "CCC" => Some(Exchange::Always),
        "CCY" => Some(Exchange::Fx),
        _ => None,
    });
    by_code.or_else(|| match timezone? {
        "America/New_York" => Some(Exchange::Xnys),
        "Europe/London" => Some(Exchange::Xlon),
        "Europe/Paris" | "Europe/Brussels" | "Europe/Lisbon" => Some(Exchange::Xpar),
        "Europe/Amsterdam" => Some(Exchange::Xams),
        "Europe/Berlin" => Some(Exchange::Xetr),
        "Europe/Zurich" => Some(Exchange::Xswx),
        "Europe/Rome" => Some(Exchange::Xmil),
        "Europe/Madrid" => Some(Exchange::Xmad),
        "Europe/Stockholm" => Some(Exchange::Xsto),
        "Africa/Johannesburg" => Some(Exchange::Xjse),
        "America/Toronto" => Some(Exchange::Xtse),
        "America/Sao_Paulo" => Some(Exchange::Bvmf),
        "Australia/Sydney" => Some(Exchange::Xasx),
        "Asia/Tokyo" => Some(Exchange::Xtks),
        "Asia/Hong_Kong" => Some(Exchange::Xhkg),
        // Shanghai and Shenzhen share the zone and the calendar.
        "Asia/Shanghai" => Some(Exchange::Xshg),
        "Asia/Kolkata" | "Asia/Calcutta" => Some(Exchange::Xbom),
        "Asia/Seoul" => Some(Exchange::Xkrx),
        "Asia/Taipei" => Some(Exchange::Xtai),
        "Asia/Singapore" => Some(Exchange::Xses),
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
            ("ASML.AS", Some(Exchange::Xams)),
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
            ("ENI.MI", Some(Exchange::Xmil)),
            ("FTSEMIB.MI", Some(Exchange::Xmil)),
            ("NESN.SW", Some(Exchange::Xswx)),
            ("SAN.MC", Some(Exchange::Xmad)),
            ("VOLV-B.ST", Some(Exchange::Xsto)),
            ("NPN.JO", Some(Exchange::Xjse)),
            ("PETR4.SA", Some(Exchange::Bvmf)),
            ("0700.HK", Some(Exchange::Xhkg)),
            ("600519.SS", Some(Exchange::Xshg)),
            ("000001.SS", Some(Exchange::Xshg)),
            ("000001.SZ", Some(Exchange::Xshe)),
            ("RELIANCE.NS", Some(Exchange::Xbom)),
            ("500325.BO", Some(Exchange::Xbom)),
            ("005930.KS", Some(Exchange::Xkrx)),
            ("035720.KQ", Some(Exchange::Xkrx)),
            ("2330.TW", Some(Exchange::Xtai)),
            ("6488.TWO", Some(Exchange::Xtai)),
            ("D05.SI", Some(Exchange::Xses)),
            ("^HSI", Some(Exchange::Xhkg)),
            ("^BSESN", Some(Exchange::Xbom)),
            ("^NSEI", Some(Exchange::Xbom)),
            ("^KS11", Some(Exchange::Xkrx)),
            ("^TWII", Some(Exchange::Xtai)),
            ("^SSMI", Some(Exchange::Xswx)),
            ("^AEX", Some(Exchange::Xams)),
            ("^IBEX", Some(Exchange::Xmad)),
            ("^OMX", Some(Exchange::Xsto)),
            ("^BVSP", Some(Exchange::Bvmf)),
            ("^STI", Some(Exchange::Xses)),
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
        // Every Yahoo code of the exchanges added for Asia, Europe, Africa and South America.
        for (code, want) in [
            ("HKG", Exchange::Xhkg),
            ("SHH", Exchange::Xshg),
            ("SHZ", Exchange::Xshe),
            ("NSI", Exchange::Xbom),
            ("BSE", Exchange::Xbom),
            ("KSC", Exchange::Xkrx),
            ("KOE", Exchange::Xkrx),
            ("TAI", Exchange::Xtai),
            ("TWO", Exchange::Xtai),
            ("EBS", Exchange::Xswx),
            ("AMS", Exchange::Xams),
            ("MIL", Exchange::Xmil),
            ("MCE", Exchange::Xmad),
            ("STO", Exchange::Xsto),
            ("JNB", Exchange::Xjse),
            ("SAO", Exchange::Bvmf),
            ("SES", Exchange::Xses),
        ] {
            assert_eq!(exchange_from_meta(Some(code), None), Some(want), "{code}");
        }
        assert_eq!(
            exchange_from_meta(None, Some("Asia/Kolkata")),
            Some(Exchange::Xbom)
        );
        assert_eq!(
            exchange_from_meta(Some("???"), Some("Asia/Hong_Kong")),
            Some(Exchange::Xhkg)
        );
        assert_eq!(
            exchange_from_meta(Some("TLV"), Some("Asia/Jerusalem")),
            None
        );
        assert_eq!(exchange_from_meta(None, None), None);
    }

    #[test]
    fn codes_round_trip() {
        for e in Exchange::ALL {
            assert_eq!(Exchange::parse(e.code()), Ok(e));
            assert_eq!(e.to_string().parse::<Exchange>(), Ok(e));
        }
        assert_eq!(Exchange::parse(" nasdaq "), Ok(Exchange::Xnys));
        assert_eq!(Exchange::parse("XBRU"), Ok(Exchange::Xpar));
        assert_eq!(Exchange::parse("xhkg"), Ok(Exchange::Xhkg));
        assert_eq!(Exchange::parse("NSE"), Ok(Exchange::Xbom));
        let err = Exchange::parse("XTAE").unwrap_err().to_string();
        assert!(
            err.starts_with("unknown exchange `XTAE`; expected one of XNYS XLON"),
            "{err}"
        );
        assert!(err.contains(" XHKG ") && err.ends_with("WEEKDAYS"), "{err}");
    }
}
