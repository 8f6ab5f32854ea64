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
}

/// The file as TOML, every value with its place in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    tickers: Option<Spanned<Value>>,
    defaults: Option<RawDefaults>,
    closures: Option<BTreeMap<String, Spanned<Value>>>,
    store: Option<BTreeMap<String, Spanned<Value>>>,
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

struct Checker<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Checker<'_> {
    fn error(&self, span: Option<Range<usize>>, message: String) -> ConfigError {
        let (place, excerpt) = match span {
            Some(s) => {
                let (p, e) = locate(self.text, s);
                (Some(p), Some(e))
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
        };
        Ok(ConfigFile {
            tickers: c.tickers(raw.tickers.as_ref())?,
            defaults,
            closures: c.closures(raw.closures.as_ref())?,
            store: c.store(raw.store.as_ref())?,
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
