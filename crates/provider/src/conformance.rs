//! One behavioural suite every [`Provider`] must pass.
//!
//! [`run`] fetches the requests a [`Truth`] proposes and compares the answers with it:
//!
//! - known ranges return exactly the truth's bars and actions, sorted, unique and inside the range,
//!   and `meta` names the requested symbol (and agrees with the truth's meta where it has one);
//! - splitting a known range at one of its bars gives two answers that concatenate to the whole
//!   (so the boundaries are half-open on both sides);
//! - a range without trading is `Ok` with no bars (an answered empty range, not an error);
//! - an unknown symbol is [`ErrorKind::NotFound`](crate::ErrorKind::NotFound), not retryable, and the
//!   error carries the request's symbol, interval and range.
//!
//! Requests are made once each (no retries), so run it against a source without injected failures.

use std::fmt::Write as _;

use backfill_domain::{Action, Bar, Symbol, SymbolMeta, TimeRange};

use crate::{Answer, FetchRequest, Provider};

/// What the provider under test is expected to answer.
pub trait Truth: Send + Sync {
    /// Requests over ranges of known symbols; their answers must equal [`Truth::bars`] and
    /// [`Truth::actions`]. At least one must have bars.
    fn known(&self) -> Vec<FetchRequest>;
    /// Requests of known symbols over ranges with no bars (a weekend, before the listing).
    fn empty(&self) -> Vec<FetchRequest>;
    /// Requests of symbols the provider does not have.
    fn unknown(&self) -> Vec<FetchRequest>;
    /// The bars `req` must return.
    fn bars(&self, req: &FetchRequest) -> Vec<Bar>;
    /// The actions `req` must return.
    fn actions(&self, req: &FetchRequest) -> Vec<Action>;
    /// What answers must say about `symbol`; fields left `None` are not checked. `None` skips the check.
    fn meta(&self, symbol: &Symbol) -> Option<SymbolMeta> {
        let _ = symbol;
        None
    }
}

/// What a passing run covered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    /// Fetches made.
    pub requests: usize,
    /// Assertions that held.
    pub checks: usize,
    /// Bars compared with the truth.
    pub bars: usize,
}

/// A provider broke the contract; every failed check is listed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("provider `{provider}` failed {} conformance check(s):\n{}", failures.len(), failures.join("\n"))]
pub struct ConformanceError {
    pub provider: String,
    pub failures: Vec<String>,
}

struct Run<'a, P> {
    provider: &'a P,
    report: Report,
    failures: Vec<String>,
}

impl<P: Provider> Run<'_, P> {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) -> bool {
        if ok {
            self.report.checks += 1;
        } else {
            self.failures.push(what());
        }
        ok
    }

    async fn fetch(&mut self, req: &FetchRequest) -> Option<Answer> {
        self.report.requests += 1;
        match self.provider.fetch(req).await {
            Ok(a) => Some(a),
            Err(e) => {
                self.failures
                    .push(format!("{}: expected an answer, got: {e}", describe(req)));
                None
            }
        }
    }

    fn shape(&mut self, req: &FetchRequest, a: &Answer) {
        let sorted = a.bars.windows(2).all(|w| w[0].ts < w[1].ts);
        self.check(sorted, || {
            format!("{}: bars not sorted and unique", describe(req))
        });
        let inside = a.bars.iter().all(|b| req.range.contains(b.ts));
        self.check(inside, || {
            format!("{}: bars outside the range", describe(req))
        });
        let acts = a.actions.iter().all(|x| req.range.contains(x.ts));
        self.check(acts, || {
            format!("{}: actions outside the range", describe(req))
        });
        let sym = a.meta.symbol.as_ref() == Some(&req.symbol);
        self.check(sym, || {
            format!("{}: meta.symbol is {:?}", describe(req), a.meta.symbol)
        });
    }

    fn same_bars(&mut self, req: &FetchRequest, got: &[Bar], want: &[Bar]) {
        self.report.bars += want.len();
        self.check(got == want, || {
            let mut msg = format!(
                "{}: {} bars, truth has {}",
                describe(req),
                got.len(),
                want.len()
            );
            if let Some(i) = (0..got.len().min(want.len())).find(|&i| got[i] != want[i]) {
                let _ = write!(
                    msg,
                    "; first difference at #{i}: got {:?}, want {:?}",
                    got[i], want[i]
                );
            }
            msg
        });
    }
}

fn describe(req: &FetchRequest) -> String {
    format!("`{}` {} {}", req.symbol, req.interval, req.range)
}

/// Runs the suite against `provider`.
///
/// # Errors
/// [`ConformanceError`] listing every check that failed.
pub async fn run<P: Provider>(provider: &P, truth: &dyn Truth) -> Result<Report, ConformanceError> {
    let mut run = Run {
        provider,
        report: Report::default(),
        failures: Vec::new(),
    };
    let known = truth.known();
    let any = known.iter().any(|r| !truth.bars(r).is_empty());
    run.check(any, || {
        "the truth proposes no known request with bars".into()
    });

    for req in &known {
        let Some(a) = run.fetch(req).await else {
            continue;
        };
        run.shape(req, &a);
        let want = truth.bars(req);
        run.same_bars(req, &a.bars, &want);
        let acts = truth.actions(req);
        run.check(a.actions == acts, || {
            format!(
                "{}: actions {:?}, truth {:?}",
                describe(req),
                a.actions,
                acts
            )
        });
        if let Some(m) = truth.meta(&req.symbol) {
            let fields = [
                ("currency", &m.currency, &a.meta.currency),
                ("exchange_name", &m.exchange_name, &a.meta.exchange_name),
                (
                    "instrument_type",
                    &m.instrument_type,
                    &a.meta.instrument_type,
                ),
                ("timezone", &m.timezone, &a.meta.timezone),
            ];
            for (name, want, got) in fields {
                run.check(want.is_none() || want == got, || {
                    format!("{}: meta.{name} {got:?}, truth {want:?}", describe(req))
                });
            }
            run.check(
                m.first_trade.is_none() || m.first_trade == a.meta.first_trade,
                || {
                    format!(
                        "{}: meta.first_trade {:?}, truth {:?}",
                        describe(req),
                        a.meta.first_trade,
                        m.first_trade
                    )
                },
            );
        }
        // Split at a bar: [start, mid) ends just before it, [mid, end) starts with it.
        if want.len() >= 2 {
            let mid = want[want.len() / 2].ts;
            let halves = [
                TimeRange::new(req.range.start(), mid),
                TimeRange::new(mid, req.range.end()),
            ];
            let parts = [&want[..want.len() / 2], &want[want.len() / 2..]];
            for (range, part) in halves.into_iter().zip(parts) {
                let Some(range) = range else { continue };
                let half = FetchRequest::new(req.symbol.clone(), req.interval, range);
                if let Some(h) = run.fetch(&half).await {
                    run.shape(&half, &h);
                    run.same_bars(&half, &h.bars, part);
                }
            }
        }
    }

    for req in truth.empty() {
        if let Some(a) = run.fetch(&req).await {
            run.shape(&req, &a);
            run.check(a.bars.is_empty(), || {
                format!("{}: expected no bars, got {}", describe(&req), a.bars.len())
            });
        }
    }

    for req in truth.unknown() {
        run.report.requests += 1;
        match provider.fetch(&req).await {
            Ok(a) => run.failures.push(format!(
                "{}: expected not-found, got an answer with {} bars",
                describe(&req),
                a.bars.len()
            )),
            Err(e) => {
                run.check(e.kind.label() == "not_found", || {
                    format!("{}: expected not-found, got: {e}", describe(&req))
                });
                run.check(!e.is_retryable(), || {
                    format!("{}: not-found must not be retryable", describe(&req))
                });
                let same =
                    e.symbol == req.symbol && e.interval == req.interval && e.range == req.range;
                run.check(same, || {
                    format!("{}: the error names another request: {e}", describe(&req))
                });
            }
        }
    }

    if run.failures.is_empty() {
        Ok(run.report)
    } else {
        Err(ConformanceError {
            provider: provider.name().to_owned(),
            failures: run.failures,
        })
    }
}
