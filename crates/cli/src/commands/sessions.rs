//! `backfill sessions`: an exchange's sessions with their hours.

use anyhow::Result;
use backfill_calendar::{Calendar, Exchange};
use serde::Serialize;

use crate::args::SessionsArgs;
use crate::exit::{ExitStatus, UsageError};
use crate::printer;
use crate::settings::load_config;

#[derive(Serialize)]
struct SessionJson {
    date: String,
    open: String,
    close: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    break_start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    break_end: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    early_close: bool,
}

pub fn sessions(args: &SessionsArgs) -> Result<ExitStatus> {
    let ex = Exchange::parse(&args.exchange).map_err(|e| UsageError(e.to_string()))?;
    let (from, to, json) = (args.from, args.to, args.json);
    if from > to {
        return Err(UsageError(format!(
            "`--from {from}` is after `--to {to}`\n\nhint: swap them"
        ))
        .into());
    }
    let (config, _) = load_config(args.config.as_deref())?;
    let closures = config.closures.get(&ex).cloned().unwrap_or_default();
    let cal = Calendar::new(ex).with_closures(closures);
    let list = cal.sessions(from, to);
    let rfc = |t: backfill_domain::jiff::Timestamp| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    if json {
        let v: Vec<SessionJson> = list
            .iter()
            .map(|s| SessionJson {
                date: s.date.to_string(),
                open: rfc(s.open),
                close: rfc(s.close),
                break_start: s.break_.map(|b| rfc(b.0)),
                break_end: s.break_.map(|b| rfc(b.1)),
                early_close: s.early_close,
            })
            .collect();
        printer::stdout(&(serde_json::to_string_pretty(&v)? + "\n"))?;
    } else {
        use std::fmt::Write as _;
        let tz = cal.timezone().clone();
        let local = |t: backfill_domain::jiff::Timestamp| {
            t.to_zoned_datetime(tz.clone())
                .strftime("%H:%M")
                .to_string()
        };
        let mut out = String::new();
        for s in &list {
            let brk = s
                .break_
                .map(|(a, b)| format!("  break {}-{}", local(a), local(b)))
                .unwrap_or_default();
            let early = if s.early_close { "  early close" } else { "" };
            let _ = writeln!(
                out,
                "{}  {}  open {} ({})  close {} ({}){brk}{early}",
                s.date,
                s.date.strftime("%a"),
                rfc(s.open),
                local(s.open),
                rfc(s.close),
                local(s.close)
            );
        }
        let _ = writeln!(
            out,
            "\n{} session(s) of {} from {from} to {to}",
            list.len(),
            ex.code()
        );
        printer::stdout(&out)?;
    }
    Ok(ExitStatus::Success)
}
