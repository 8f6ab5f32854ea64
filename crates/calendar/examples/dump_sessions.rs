//! Prints every session of an exchange between two dates, one JSON object per line.
//!
//! ```text
//! cargo run -q -p backfill-calendar --example dump_sessions -- XNYS 1990-01-01 2035-12-31
//! {"date":"1990-01-02","open":"1990-01-02T14:30:00Z","close":"1990-01-02T21:00:00Z","break_start":null,"break_end":null,"early_close":false}
//! ```
//!
//! Used by `tests/python/test_calendar_reference.py` to compare with `exchange_calendars`.

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use backfill_calendar::{Calendar, Exchange};
use jiff::civil::Date;

#[expect(
    clippy::print_stderr,
    reason = "a command-line example reports usage errors"
)]
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [exchange, from, to] = args.as_slice() else {
        eprintln!("usage: dump_sessions EXCHANGE FROM TO   (dates as YYYY-MM-DD, both inclusive)");
        return ExitCode::from(2);
    };
    let exchange: Exchange = match exchange.parse() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let (Ok(from), Ok(to)) = (from.parse::<Date>(), to.parse::<Date>()) else {
        eprintln!("error: dates must be YYYY-MM-DD, got `{from}` and `{to}`");
        return ExitCode::from(2);
    };
    let cal = Calendar::new(exchange);
    let mut out = BufWriter::new(std::io::stdout().lock());
    for s in cal.sessions(from, to) {
        let (break_start, break_end) = match s.break_ {
            Some((a, b)) => (
                serde_json::Value::from(a.to_string()),
                serde_json::Value::from(b.to_string()),
            ),
            None => (serde_json::Value::Null, serde_json::Value::Null),
        };
        let line = serde_json::json!({
            "date": s.date.to_string(),
            "open": s.open.to_string(),
            "close": s.close.to_string(),
            "break_start": break_start,
            "break_end": break_end,
            "early_close": s.early_close,
        });
        if writeln!(out, "{line}").is_err() {
            return ExitCode::FAILURE;
        }
    }
    if out.flush().is_err() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
