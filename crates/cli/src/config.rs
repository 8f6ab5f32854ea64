//! The config file (`backfill.toml`): reading it, checking every value with the same parsers as
//! the flags (`values.rs`), and errors that point at the file, line and column.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use backfill_calendar::Exchange;
use backfill_domain::Interval;
use backfill_domain::jiff::civil::Date;
use backfill_engine::validate::InvalidBars;
use backfill_provider::{ProviderKind, Secret};
use serde::Deserialize;
use toml::{Spanned, Value};

use crate::exit::UsageError;
use crate::values::{self, Rate};

/// The file read when `--config` is not given, in the current directory.
pub const CONFIG_FILE: &str = "backfill.toml";

/// The commented example that `backfill config --example` prints.
pub const EXAMPLE: &str = include_str!("../../../backfill.example.toml");

/// The config file, checked. Every key is optional.
#[derive(Debug, Default, Clone)]
pub struct ConfigFile {
    /// The portfolio: tickers backfilled when `--tickers` is not given.
    pub tickers: Vec<String>,
    pub defaults: Defaults,
    /// One-off closures per exchange, e.g. `XNYS = ["2025-01-09"]`.
    pub closures: BTreeMap<Exchange, Vec<Date>>,
    /// `[store]`: how to reach object storage, `object_store` keys such as `endpoint`, `region`,
    /// `access_key_id`, `secret_access_key`, `allow_http`, values as strings. They win over the
    /// environment. Never printed: it may hold keys.
    pub store: BTreeMap<String, String>,
    /// `[keys]`: API keys for the providers that need one. The environment wins over them.
    pub keys: Keys,
    /// `[providers]`: the provider of a ticker, e.g. `"7203.T" = "yahoo"`, where it differs from
    /// the default. Keys are symbols as written in `tickers` (checked, upper-cased).
    pub providers: BTreeMap<backfill_domain::Symbol, ProviderKind>,
}

/// API keys, from `[keys]` or the environment (see `settings.rs`). `Debug` shows no value.
#[derive(Debug, Default, Clone)]
pub struct Keys {
    pub tiingo: Option<Secret>,
    pub alpaca_id: Option<Secret>,
    pub alpaca_secret: Option<Secret>,
}

/// `[defaults]`: the values flags override.
#[derive(Debug, Default, Clone)]
pub struct Defaults {
    pub days: Option<u32>,
    pub interval: Option<Interval>,
    pub workers: Option<usize>,
    pub rate: Option<Rate>,
    pub retries: Option<u32>,
    pub invalid_bars: Option<InvalidBars>,
    pub store: Option<PathBuf>,
    pub yahoo_url: Option<String>,
    pub provider: Option<ProviderKind>,
    pub tiingo_url: Option<String>,
    pub alpaca_url: Option<String>,
}

/// The file as TOML, every value with its place in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    tickers: Option<Spanned<Value>>,
    defaults: Option<RawDefaults>,
    closures: Option<BTreeMap<String, Spanned<Value>>>,
    store: Option<BTreeMap<String, Spanned<Value>>>,
    keys: Option<RawKeys>,
    providers: Option<BTreeMap<String, Spanned<Value>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeys {
    tiingo_api_key: Option<Spanned<Value>>,
    alpaca_key_id: Option<Spanned<Value>>,
    alpaca_secret_key: Option<Spanned<Value>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    days: Option<Spanned<Value>>,
    interval: Option<Spanned<Value>>,
    workers: Option<Spanned<Value>>,
    rate: Option<Spanned<Value>>,
    retries: Option<Spanned<Value>>,
    invalid_bars: Option<Spanned<Value>>,
    store: Option<Spanned<Value>>,
    yahoo_url: Option<Spanned<Value>>,
    provider: Option<Spanned<Value>>,
    tiingo_url: Option<Spanned<Value>>,
    alpaca_url: Option<Spanned<Value>>,
}

/// A config file that cannot be used: where, what, and the offending line.
#[derive(Debug)]
pub struct ConfigError {
    pub path: PathBuf,
    /// 1-based line and column, when the place is known.
    pub place: Option<(usize, usize)>,
    pub message: String,
    /// The offending line with a caret under the place.
    pub excerpt: Option<String>,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid config file `{}`", self.path.display())?;
        if let Some((line, col)) = self.place {
            write!(f, ", line {line}, column {col}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(ex) = &self.excerpt {
            write!(f, "\n{ex}")?;
        }
        write!(
            f,
            "\n\nhint: `backfill config --example` prints a commented example with every key"
        )
    }
}

impl std::error::Error for ConfigError {}

/// 1-based line and column of a byte offset, and the excerpt pointing at `span`.
fn locate(text: &str, span: Range<usize>) -> ((usize, usize), String) {
    let start = span.start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let line_no = text[..start].matches('\n').count() + 1;
    let col = text[line_start..start].chars().count() + 1;
    let line = text[line_start..line_end].trim_end_matches('\r');
    let width = text[start..span.end.clamp(start, line_end)]
        .chars()
        .count()
        .max(1);
    let gutter = line_no.to_string().len();
    let mut ex = String::new();
    let _ = writeln!(ex, "{:gutter$} |", "");
    let _ = writeln!(ex, "{line_no} | {line}");
    let _ = write!(
        ex,
        "{:gutter$} | {}{}",
        "",
        " ".repeat(col - 1),
        "^".repeat(width)
    );
    ((line_no, col), ex)
}

/// A value's type in plain words.
fn kind(v: &Value) -> String {
    match v {
        Value::String(s) => format!("the text \"{s}\""),
        Value::Integer(i) => format!("the number {i}"),
        Value::Float(f) => format!("the number {f}"),
        Value::Boolean(b) => format!("the value {b}"),
        Value::Datetime(d) => format!("the date {d}"),
        Value::Array(_) => "a list".to_owned(),
        Value::Table(_) => "a table".to_owned(),
    }
}

/// The keys of `[keys]`, whose lines are never quoted in an error.
const KEY_NAMES: [&str; 3] = ["tiingo_api_key", "alpaca_key_id", "alpaca_secret_key"];

struct Checker<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Checker<'_> {
    fn error(&self, span: Option<Range<usize>>, message: String) -> ConfigError {
        let (place, excerpt) = match span {
            Some(s) => {
                let (p, e) = locate(self.text, s);
                // A line that sets an API key is never quoted back: it would print the key.
                let line = self
                    .text
                    .lines()
                    .nth(p.0 - 1)
                    .unwrap_or_default()
                    .trim_start();
                let secret = KEY_NAMES.iter().any(|k| line.starts_with(k));
                (Some(p), (!secret).then_some(e))
            }
            None => (None, None),
        };
        ConfigError {
            path: self.path.to_path_buf(),
            place,
            message,
            excerpt,
        }
    }

    /// A number-valued key: integers and floats go through the flag's parser as text.
    fn number<T>(
        &self,
        key: &str,
        v: Option<&Spanned<Value>>,
        what: &str,
        example: &str,
        parse: fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        let Some(v) = v else { return Ok(None) };
        let text = match v.get_ref() {
            Value::Integer(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            other => {
                return Err(self.error(
                    Some(v.span()),
                    format!(
                        "`{key}` must be {what}, e.g. `{key} = {example}`, not {}",
                        kind(other)
                    ),
                ));
            }
        };
        parse(&text)
            .map(Some)
            .map_err(|e| self.error(Some(v.span()), format!("`{key}`: {e}")))
    }

    /// A text-valued key, checked by the flag's parser.
    fn text<T>(
        &self,
        key: &str,
        v: Option<&Spanned<Value>>,
        example: &str,
        parse: fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        let Some(v) = v else { return Ok(None) };
        match v.get_ref() {
            Value::String(s) => parse(s)
                .map(Some)
                .map_err(|e| self.error(Some(v.span()), format!("`{key}`: {e}"))),
            other => Err(self.error(
                Some(v.span()),
                format!(
                    "`{key}` must be text in quotes, e.g. `{key} = {example}`, not {}",
                    kind(other)
                ),
            )),
        }
    }

    fn tickers(&self, v: Option<&Spanned<Value>>) -> Result<Vec<String>, ConfigError> {
        let Some(v) = v else { return Ok(Vec::new()) };
        let bad = |what: String| {
            self.error(
                Some(v.span()),
                format!("`tickers` must be a list of symbols in quotes, e.g. `tickers = [\"MSFT\", \"AIR.PA\"]`, not {what}"),
            )
        };
        let Value::Array(items) = v.get_ref() else {
            return Err(bad(kind(v.get_ref())));
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Value::String(s) => {
                    backfill_domain::Symbol::parse(s.trim())
                        .map_err(|e| self.error(Some(v.span()), format!("in `tickers`: {e}")))?;
                    out.push(s.clone());
                }
                other => return Err(bad(format!("a list holding {}", kind(other)))),
            }
        }
        Ok(out)
    }

    fn store(
        &self,
        raw: Option<&BTreeMap<String, Spanned<Value>>>,
    ) -> Result<BTreeMap<String, String>, ConfigError> {
        let mut out = BTreeMap::new();
        for (key, v) in raw.into_iter().flatten() {
            let text = match v.get_ref() {
                Value::String(s) => s.clone(),
                Value::Boolean(b) => b.to_string(),
                Value::Integer(i) => i.to_string(),
                Value::Float(f) => f.to_string(),
                other => {
                    return Err(self.error(
                        Some(v.span()),
                        format!(
                            "`{key}` in `[store]` must be text, a number or true/false, not {}",
                            kind(other)
                        ),
                    ));
                }
            };
            out.insert(key.clone(), text);
        }
        Ok(out)
    }

    /// An API key: text only, and the value never appears in a message.
    fn key(&self, key: &str, v: Option<&Spanned<Value>>) -> Result<Option<Secret>, ConfigError> {
        let Some(v) = v else { return Ok(None) };
        match v.get_ref() {
            Value::String(s) => Ok(Some(Secret::new(s.as_str())).filter(|s| !s.is_empty())),
            _ => Err(self.error(
                Some(v.span()),
                format!("`{key}` in `[keys]` must be the key as text in quotes"),
            )),
        }
    }

    fn providers(
        &self,
        raw: Option<&BTreeMap<String, Spanned<Value>>>,
    ) -> Result<BTreeMap<backfill_domain::Symbol, ProviderKind>, ConfigError> {
        let mut out = BTreeMap::new();
        for (ticker, v) in raw.into_iter().flatten() {
            let symbol = backfill_domain::Symbol::parse(ticker.trim())
                .map_err(|e| self.error(Some(v.span()), format!("in `[providers]`: {e}")))?;
            let Value::String(name) = v.get_ref() else {
                return Err(self.error(
                    Some(v.span()),
                    format!(
                        "`{ticker}` in `[providers]` must name a provider in quotes, e.g. `\"{ticker}\" = \"tiingo\"`, not {}",
                        kind(v.get_ref())
                    ),
                ));
            };
            let provider = values::provider(name).map_err(|e| {
                self.error(Some(v.span()), format!("`{ticker}` in `[providers]`: {e}"))
            })?;
            out.insert(symbol, provider);
        }
        Ok(out)
    }

    fn closures(
        &self,
        raw: Option<&BTreeMap<String, Spanned<Value>>>,
    ) -> Result<BTreeMap<Exchange, Vec<Date>>, ConfigError> {
        let mut out: BTreeMap<Exchange, Vec<Date>> = BTreeMap::new();
        for (code, v) in raw.into_iter().flatten() {
            let ex = Exchange::parse(code)
                .map_err(|e| self.error(Some(v.span()), format!("in `[closures]`: {e}")))?;
            let bad = |what: String| {
                self.error(
                    Some(v.span()),
                    format!("`{code}` in `[closures]` must be a list of dates, e.g. `{code} = [\"2025-01-09\"]`, not {what}"),
                )
            };
            let Value::Array(items) = v.get_ref() else {
                return Err(bad(kind(v.get_ref())));
            };
            for item in items {
                let text = match item {
                    Value::String(s) => s.clone(),
                    Value::Datetime(d) if d.date.is_some() && d.time.is_none() => d.to_string(),
                    other => return Err(bad(format!("a list holding {}", kind(other)))),
                };
                let date = values::date(&text).map_err(|e| {
                    self.error(Some(v.span()), format!("in `[closures]` `{code}`: {e}"))
                })?;
                out.entry(ex).or_default().push(date);
            }
        }
        Ok(out)
    }
}

impl ConfigFile {
    /// Parses and checks the text of a config file; `path` is only used in messages.
    ///
    /// # Errors
    /// [`ConfigError`] with the line and column of the first problem.
    pub fn parse(text: &str, path: &Path) -> Result<ConfigFile, ConfigError> {
        let c = Checker { path, text };
        let raw: Raw = toml::from_str(text).map_err(|e| {
            let msg = e.message().trim_end().replace('\n', " ");
            c.error(e.span(), msg)
        })?;
        let d = raw.defaults.unwrap_or_default();
        let defaults = Defaults {
            days: c.number(
                "days",
                d.days.as_ref(),
                "a whole number of sessions",
                "252",
                values::days,
            )?,
            interval: c.text("interval", d.interval.as_ref(), "\"1d\"", values::interval)?,
            workers: c.number(
                "workers",
                d.workers.as_ref(),
                "a whole number of requests in flight",
                "8",
                values::workers,
            )?,
            rate: c.number(
                "rate",
                d.rate.as_ref(),
                "a number of requests per second",
                "2.0",
                values::rate,
            )?,
            retries: c.number(
                "retries",
                d.retries.as_ref(),
                "a whole number of retries",
                "5",
                values::retries,
            )?,
            invalid_bars: c.text(
                "invalid_bars",
                d.invalid_bars.as_ref(),
                "\"keep\"",
                values::invalid_bars,
            )?,
            store: c.text("store", d.store.as_ref(), "\"data\"", |s| {
                Ok(PathBuf::from(s))
            })?,
            yahoo_url: c.text(
                "yahoo_url",
                d.yahoo_url.as_ref(),
                "\"https://query2.finance.yahoo.com\"",
                values::base_url,
            )?,
            provider: c.text(
                "provider",
                d.provider.as_ref(),
                "\"tiingo\"",
                values::provider,
            )?,
            tiingo_url: c.text(
                "tiingo_url",
                d.tiingo_url.as_ref(),
                "\"https://api.tiingo.com\"",
                values::base_url,
            )?,
            alpaca_url: c.text(
                "alpaca_url",
                d.alpaca_url.as_ref(),
                "\"https://data.alpaca.markets\"",
                values::base_url,
            )?,
        };
        let k = raw.keys.unwrap_or_default();
        Ok(ConfigFile {
            tickers: c.tickers(raw.tickers.as_ref())?,
            defaults,
            closures: c.closures(raw.closures.as_ref())?,
            store: c.store(raw.store.as_ref())?,
            keys: Keys {
                tiingo: c.key("tiingo_api_key", k.tiingo_api_key.as_ref())?,
                alpaca_id: c.key("alpaca_key_id", k.alpaca_key_id.as_ref())?,
                alpaca_secret: c.key("alpaca_secret_key", k.alpaca_secret_key.as_ref())?,
            },
            providers: c.providers(raw.providers.as_ref())?,
        })
    }
}

/// Loads the config file named by `--config`, or `backfill.toml` in the current directory if
/// present. Returns the path it read, if any.
///
/// # Errors
/// A usage error when the file cannot be read or is not valid.
pub fn load_config(explicit: Option<&Path>) -> Result<(ConfigFile, Option<PathBuf>)> {
    let (path, required) = match explicit {
        Some(p) => (p.to_path_buf(), true),
        None => (PathBuf::from(CONFIG_FILE), false),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
            return Ok((ConfigFile::default(), None));
        }
        Err(e) => {
            return Err(anyhow!(UsageError(format!(
                "cannot read config file `{}`: {e}\n\nhint: check the path given with `--config` (or `BACKFILL_CONFIG`); `backfill config --example` prints a commented example",
                path.display()
            ))));
        }
    };
    let config = ConfigFile::parse(&text, &path).map_err(|e| anyhow!(UsageError(e.to_string())))?;
    Ok((config, Some(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        ConfigFile::parse(text, Path::new("backfill.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn the_example_parses() {
        let c = ConfigFile::parse(EXAMPLE, Path::new("example")).unwrap();
        assert_eq!(c.tickers.len(), 40);
        assert_eq!(c.closures[&Exchange::Xnys][0], Date::constant(2025, 1, 9));
        assert_eq!(c.defaults.days, Some(252));
        assert_eq!(c.defaults.rate, Some(Rate::PerSecond(2.0)));
    }

    #[test]
    fn type_errors_in_plain_words_with_line_and_column() {
        let e = err("tickers = [\"MSFT\"]\n[defaults]\ndays = \"5\"\n");
        assert!(e.contains("line 3, column 8"), "{e}");
        assert!(e.contains("a whole number of sessions"), "{e}");
        assert!(e.contains("the text \"5\""), "{e}");
        assert!(e.contains("3 | days = \"5\""), "{e}");
        assert!(e.contains("  |        ^^^"), "{e}");
        assert!(!e.contains("usize"), "{e}");
    }

    #[test]
    fn keys_and_providers_are_read_and_a_key_line_is_never_quoted() {
        let c = ConfigFile::parse(
            "[defaults]\nprovider = \"Tiingo\"\n[keys]\ntiingo_api_key = \" tk-1 \"\n[providers]\n\"7203.T\" = \"yahoo\"\naapl = \"alpaca\"\n",
            Path::new("backfill.toml"),
        )
        .unwrap();
        assert_eq!(c.defaults.provider, Some(ProviderKind::Tiingo));
        assert_eq!(c.keys.tiingo.as_ref().map(Secret::expose), Some("tk-1"));
        assert!(c.keys.alpaca_id.is_none());
        let sym = |s: &str| backfill_domain::Symbol::parse(s).unwrap();
        assert_eq!(c.providers[&sym("7203.T")], ProviderKind::Yahoo);
        assert_eq!(c.providers[&sym("AAPL")], ProviderKind::Alpaca);
        assert!(!format!("{c:?}").contains("tk-1"));

        let e = err("[keys]\ntiingo_api_key = 123456789\n");
        assert!(e.contains("line 2") && e.contains("text in quotes"), "{e}");
        assert!(!e.contains("123456789"), "{e}");
        let e = err("[keys]\nalpaca_secret_key = \"s3cr3t-value\n");
        assert!(e.contains("line 2"), "{e}");
        assert!(!e.contains("s3cr3t-value"), "{e}");
        let e = err("[providers]\nMSFT = \"tiingoo\"\n");
        assert!(e.contains("did you mean `tiingo`"), "{e}");
    }

    #[test]
    fn syntax_errors_point_at_the_line() {
        let e = err("tickers = [\"MSFT\" \"AAPL\"]\n");
        assert!(e.contains("line 1, column"), "{e}");
        assert!(e.contains("backfill config --example"), "{e}");
        let e = err("[defaults]\ndayz = 5\n");
        assert!(e.contains("line 2"), "{e}");
        assert!(e.contains("dayz"), "{e}");
    }

    #[test]
    fn values_are_checked_like_flags() {
        assert!(err("[defaults]\ndays = -5\n").contains("negative"));
        assert!(err("[defaults]\ninterval = \"1D\"\n").contains("did you mean `1d`"));
        assert!(err("[defaults]\nrate = 1e-20\n").contains("lowest rate"));
        assert!(err("[defaults]\nyahoo_url = \"nope\"\n").contains("not a URL"));
        assert!(err("[closures]\nXNYZ = [\"2025-01-09\"]\n").contains("[closures]"));
        assert!(err("tickers = \"MSFT\"\n").contains("a list of symbols"));
        let c = ConfigFile::parse("[closures]\nXNYS = [2025-01-09]\n", Path::new("x")).unwrap();
        assert_eq!(c.closures[&Exchange::Xnys], [Date::constant(2025, 1, 9)]);
    }
}
