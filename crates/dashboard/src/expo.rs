//! `/metrics`: the live state in the Prometheus text exposition format (version 0.0.4).
//!
//! Rendered from one [`LiveState`] under its lock, so the counters agree with `/api/run` at every
//! scrape. Every metric name starts with `backfill_`; label values come from fixed sets (states,
//! statuses, failure labels), so nothing needs escaping beyond what `escape` does.

use std::fmt::Write as _;

use serde::Serialize;

use crate::live::{LiveState, TickerState};

/// The `Content-Type` of [`render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A cumulative histogram with fixed bucket bounds (seconds).
#[derive(Debug, Clone, Serialize)]
pub struct Histogram {
    bounds: Vec<f64>,
    /// Observations per bucket (not cumulative); one more than `bounds`, for `+Inf`.
    counts: Vec<u64>,
    sum: f64,
}

impl Histogram {
    pub fn new(bounds: &[f64]) -> Histogram {
        Histogram {
            bounds: bounds.to_vec(),
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
        }
    }

    pub fn observe(&mut self, value: f64) {
        let idx = self.bounds.partition_point(|b| *b < value);
        self.counts[idx] += 1;
        self.sum += value;
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        header(out, name, help, "histogram");
        let mut cumulative = 0;
        for (bound, n) in self.bounds.iter().zip(&self.counts) {
            cumulative += n;
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", self.count());
        let _ = writeln!(out, "{name}_sum {}", float(self.sum));
        let _ = writeln!(out, "{name}_count {}", self.count());
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn float(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else if v.is_nan() {
        "NaN".to_owned()
    } else if v > 0.0 {
        "+Inf".to_owned()
    } else {
        "-Inf".to_owned()
    }
}

/// Escapes a label value (backslash, double quote, newline).
fn escape(v: &str) -> String {
    v.replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

fn single(out: &mut String, name: &str, help: &str, kind: &str, value: impl std::fmt::Display) {
    header(out, name, help, kind);
    let _ = writeln!(out, "{name} {value}");
}

/// The whole exposition.
pub fn render(s: &LiveState) -> String {
    let mut out = String::with_capacity(4096);
    let t = &s.totals;

    header(
        &mut out,
        "backfill_requests_total",
        "Requests answered, by outcome: ok (HTTP 200) or the failure (throttled = 429, transient = 5xx or a broken connection, not_found = 404, ...).",
        "counter",
    );
    for outcome in ["ok", "throttled", "transient", "not_found"] {
        if !t.answers.contains_key(outcome) {
            let _ = writeln!(out, "backfill_requests_total{{outcome=\"{outcome}\"}} 0");
        }
    }
    for (outcome, n) in &t.answers {
        let _ = writeln!(
            out,
            "backfill_requests_total{{outcome=\"{}\"}} {n}",
            escape(outcome)
        );
    }
    single(
        &mut out,
        "backfill_requests_sent_total",
        "Requests sent to the provider, retries included.",
        "counter",
        t.requests,
    );
    single(
        &mut out,
        "backfill_retries_total",
        "Requests retried after a throttled or transient failure.",
        "counter",
        t.retries,
    );
    single(
        &mut out,
        "backfill_throttled_total",
        "Times the provider throttled the run (every task then pauses).",
        "counter",
        t.throttled,
    );
    single(
        &mut out,
        "backfill_rows_written_total",
        "Bars written to the store (new or changed).",
        "counter",
        t.rows,
    );
    single(
        &mut out,
        "backfill_bytes_written_total",
        "Bytes of Parquet files written to the store.",
        "counter",
        t.bytes,
    );
    header(
        &mut out,
        "backfill_tickers_finished_total",
        "Tickers finished, by final status.",
        "counter",
    );
    for (status, n) in [
        ("saved", t.saved),
        ("up_to_date", t.up_to_date),
        ("not_found", t.not_found),
        ("failed", t.failed),
        ("interrupted", t.interrupted),
    ] {
        let _ = writeln!(
            out,
            "backfill_tickers_finished_total{{status=\"{status}\"}} {n}"
        );
    }
    single(
        &mut out,
        "backfill_requests_in_flight",
        "Requests sent and not yet answered.",
        "gauge",
        t.in_flight,
    );
    single(
        &mut out,
        "backfill_rate_limit_requests_per_second",
        "Requests per second the rate limiter currently allows (it halves on a 429 and recovers); 0 means no limit.",
        "gauge",
        float(s.limits.rate.unwrap_or(0.0)),
    );
    if let Some(cap) = s.limits.in_flight_cap {
        single(
            &mut out,
            "backfill_in_flight_cap",
            "Requests currently allowed in flight (halves on a 429, grows back on success).",
            "gauge",
            cap,
        );
    }
    header(
        &mut out,
        "backfill_tickers",
        "Tickers in each state.",
        "gauge",
    );
    let states = s.states();
    for state in TickerState::ALL {
        let _ = writeln!(
            out,
            "backfill_tickers{{state=\"{}\"}} {}",
            state.as_str(),
            states.get(state.as_str()).copied().unwrap_or(0)
        );
    }
    single(
        &mut out,
        "backfill_run_finished",
        "1 once the run is over.",
        "gauge",
        u8::from(s.finished),
    );
    s.request_latency.render(
        &mut out,
        "backfill_request_duration_seconds",
        "Time from sending a request to its answer or failure.",
    );
    s.commit_latency.render(
        &mut out,
        "backfill_commit_duration_seconds",
        "Time to commit one answer to the store (waiting for a commit slot included).",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_bounds_inclusive() {
        let mut h = Histogram::new(&[0.1, 1.0]);
        for v in [0.05, 0.1, 0.5, 2.0] {
            h.observe(v);
        }
        let mut out = String::new();
        h.render(&mut out, "x_seconds", "help");
        assert_eq!(
            out,
            "# HELP x_seconds help\n# TYPE x_seconds histogram\n\
             x_seconds_bucket{le=\"0.1\"} 2\nx_seconds_bucket{le=\"1\"} 3\n\
             x_seconds_bucket{le=\"+Inf\"} 4\nx_seconds_sum 2.65\nx_seconds_count 4\n"
        );
    }

    #[test]
    fn every_family_has_help_type_and_samples() {
        let text = render(&LiveState::default());
        let mut families = 0;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                families += 1;
                let name = rest.split(' ').next().unwrap();
                assert!(
                    text.lines()
                        .any(|l| !l.starts_with('#') && l.starts_with(name)),
                    "{name} has no sample"
                );
            }
        }
        assert_eq!(families, 13, "{text}");
        assert!(text.contains("backfill_requests_total{outcome=\"ok\"} 0\n"));
        assert!(text.contains("backfill_tickers{state=\"queued\"} 0\n"));
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
