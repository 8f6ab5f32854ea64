//! `backfill._native`: the native half of the `backfill` Python package (the Python half, in
//! `python/backfill/`, turns keyword arguments into flags and documents into dicts).
//!
//! - `run`, `plan`: the command line's `run --json` and `plan --json` through
//!   [`backfill::api`], with the GIL released while they work; `run` turns Ctrl-C into the
//!   engine's graceful cancel and raises `KeyboardInterrupt` once in-flight commits are done.
//! - `run_paced`: `run`, with every request also paced by a cluster's [`permits::PermitServer`]
//!   (the tasks of `backfill.dask.run`).
//! - `PermitService`: that server, started by the driver of a distributed run.
//! - `read_bars`: a store's bars as columns ([`read`]).
//! - `main`: the `backfill` console command (the same code as the binary).
//!
//! User errors raise `ValueError` with the command line's message; other failures raise
//! `backfill.BackfillError`.

pub mod permits;
pub mod read;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use backfill::api;
use backfill_domain::jiff::civil::Date;
use backfill_engine::Cancel;
use backfill_engine::limits::Rate;
use pyo3::create_exception;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

create_exception!(
    _native,
    BackfillError,
    PyRuntimeError,
    "A run or read failed for a reason other than its input (the store, the network, …); the message names the file, ticker or location."
);

fn to_py(e: api::Error) -> PyErr {
    match e {
        api::Error::Usage(m) => PyValueError::new_err(m),
        api::Error::Failed(m) => BackfillError::new_err(m),
    }
}

/// Runs `work` on its own thread with the GIL released, looking for Ctrl-C (and other signals
/// Python handles) every 100 ms. On a signal, `cancel` is triggered and the work is waited for:
/// its result is dropped and the signal's exception (`KeyboardInterrupt`) raised. Without a
/// `cancel`, the signal's exception is raised at once and the work ends on its own.
fn off_the_gil<T: Send + 'static>(
    py: Python<'_>,
    cancel: Option<&Cancel>,
    work: impl FnOnce() -> T + Send + 'static,
) -> PyResult<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = std::thread::Builder::new()
        .name("backfill".to_owned())
        .spawn(move || {
            let _ = tx.send(work());
        })
        .map_err(|e| BackfillError::new_err(format!("cannot start a thread: {e}")))?;
    let mut signal: Option<PyErr> = None;
    let mut rx = rx;
    loop {
        // The receiver is not `Sync`: it moves into the GIL-free closure and back.
        let (back, got) = py.detach(move || {
            let got = rx.recv_timeout(Duration::from_millis(100));
            (rx, got)
        });
        rx = back;
        match got {
            Ok(value) => {
                let _ = worker.join();
                return match signal {
                    Some(e) => Err(e),
                    None => Ok(value),
                };
            }
            Err(RecvTimeoutError::Timeout) => {
                if signal.is_none()
                    && let Err(e) = py.check_signals()
                {
                    match cancel {
                        Some(c) => {
                            c.cancel();
                            signal = Some(e);
                        }
                        None => return Err(e),
                    }
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                let _ = worker.join();
                return Err(BackfillError::new_err(
                    "the run stopped unexpectedly (an internal error); what was committed stays, and a rerun fetches only what is missing",
                ));
            }
        }
    }
}

/// `backfill run FLAGS… --json`: returns (document, warnings).
#[pyfunction]
fn run(py: Python<'_>, flags: Vec<String>) -> PyResult<(String, Vec<String>)> {
    let cancel = Cancel::new();
    let theirs = cancel.clone();
    let outcome = off_the_gil(py, Some(&cancel), move || api::run(&flags, theirs))?;
    let outcome = outcome.map_err(to_py)?;
    Ok((outcome.document, outcome.warnings))
}

/// As `run`, with every request also paced by the rate service at `address` (`HOST:PORT`),
/// which enforces the rate: this process's own limiter keeps its quotas and pauses only.
#[pyfunction]
fn run_paced(
    py: Python<'_>,
    flags: Vec<String>,
    address: String,
    token: String,
) -> PyResult<(String, Vec<String>)> {
    let cancel = Cancel::new();
    let theirs = cancel.clone();
    let outcome = off_the_gil(py, Some(&cancel), move || {
        let client = Arc::new(permits::PermitClient::new(address, token));
        api::run_with(
            &flags,
            theirs,
            |p| permits::ClusterPaced::new(p, client.clone()),
            true,
        )
    })?;
    let outcome = outcome.map_err(to_py)?;
    Ok((outcome.document, outcome.warnings))
}

/// `backfill plan FLAGS… --json`: returns (document, warnings, rate), the rate as a number of
/// requests per second, `0.0` for none, or `None` for `auto`.
#[pyfunction]
fn plan(py: Python<'_>, flags: Vec<String>) -> PyResult<(String, Vec<String>, Option<f64>)> {
    let outcome = off_the_gil(py, None, move || api::plan(&flags))?.map_err(to_py)?;
    let rate = match outcome.rate {
        Rate::Fixed(r) => Some(r),
        Rate::Unlimited => Some(0.0),
        Rate::Auto => None,
    };
    Ok((outcome.document, outcome.warnings, rate))
}

fn date_arg(what: &str, value: Option<&str>) -> PyResult<Option<Date>> {
    value
        .map(|v| {
            v.parse::<Date>().map_err(|_| {
                PyValueError::new_err(format!(
                    "`{what}={v}` is not a date\n\nhint: give a `datetime.date` or `YYYY-MM-DD`"
                ))
            })
        })
        .transpose()
}

/// The bars of a store as a dict of columns (see `backfill.read`).
#[pyfunction]
#[pyo3(signature = (store, tickers, interval, start, end))]
fn read_bars<'py>(
    py: Python<'py>,
    store: String,
    tickers: Option<Vec<String>>,
    interval: String,
    start: Option<&str>,
    end: Option<&str>,
) -> PyResult<Bound<'py, PyDict>> {
    let start = date_arg("start", start)?;
    let end = date_arg("end", end)?;
    let columns = off_the_gil(py, None, move || {
        read::read(&store, tickers.as_deref(), &interval, start, end)
    })?
    .map_err(|e| match e {
        read::ReadError::Usage(m) => PyValueError::new_err(m),
        read::ReadError::Store(m) => BackfillError::new_err(m),
    })?;
    let d = PyDict::new(py);
    d.set_item("symbol", columns.symbol)?;
    d.set_item("interval", columns.interval)?;
    d.set_item("ts", columns.ts)?;
    d.set_item("date", columns.date)?;
    d.set_item("open", columns.open)?;
    d.set_item("high", columns.high)?;
    d.set_item("low", columns.low)?;
    d.set_item("close", columns.close)?;
    d.set_item("adj_close", columns.adj_close)?;
    d.set_item("volume", columns.volume)?;
    Ok(d)
}

/// The shard of `count` that `symbol` belongs to (`--shard`'s stable hash).
#[pyfunction]
fn shard_of(symbol: &str, count: u32) -> PyResult<u32> {
    let s = backfill_domain::Symbol::parse(symbol.trim())
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    if count == 0 {
        return Err(PyValueError::new_err("a shard count is at least 1"));
    }
    Ok(backfill::shard_of(&s, count))
}

/// The `backfill` command: runs `argv` (program name first) and returns the exit status.
#[pyfunction]
fn main(py: Python<'_>, argv: Vec<String>) -> u8 {
    py.detach(move || backfill::exit_code_with_args(argv))
}

/// A cluster-wide request rate, served to the tasks of a distributed run.
#[pyclass(module = "backfill._native")]
struct PermitService {
    server: std::sync::Mutex<permits::PermitServer>,
    address: String,
}

#[pymethods]
impl PermitService {
    /// Serves `rate` requests per second on `host` (`port` 0: a free one); `advertise` is the
    /// host name the tasks use to reach it (default: `host`).
    #[new]
    #[pyo3(signature = (rate, token, host = "127.0.0.1".to_owned(), port = 0, advertise = None))]
    fn new(
        rate: f64,
        token: String,
        host: String,
        port: u16,
        advertise: Option<String>,
    ) -> PyResult<PermitService> {
        let ip: std::net::IpAddr = host.parse().map_err(|_| {
            PyValueError::new_err(format!("`{host}` is not an IP address to listen on"))
        })?;
        let server =
            permits::PermitServer::start(rate, SocketAddr::new(ip, port), token).map_err(|e| {
                BackfillError::new_err(format!(
                    "cannot start the cluster's rate service on {host}:{port}: {e}"
                ))
            })?;
        let address = format!("{}:{}", advertise.unwrap_or(host), server.addr().port());
        Ok(PermitService {
            server: std::sync::Mutex::new(server),
            address,
        })
    }

    /// `HOST:PORT` for the tasks.
    #[getter]
    fn address(&self) -> String {
        self.address.clone()
    }

    /// `{"permits": …, "throttled": …, "cuts": …, "final_rate": …}`: turns handed out, 429s
    /// reported, cuts of the shared rate, and the shared pacing rate now (requests per second).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self
            .server
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .stats();
        let d = PyDict::new(py);
        d.set_item("permits", s.permits)?;
        d.set_item("throttled", s.throttled)?;
        d.set_item("cuts", s.cuts)?;
        d.set_item("final_rate", s.rate)?;
        Ok(d)
    }

    /// Stops the service.
    fn close(&self, py: Python<'_>) {
        py.detach(|| {
            self.server
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .close();
        });
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(run_paced, m)?)?;
    m.add_function(wrap_pyfunction!(plan, m)?)?;
    m.add_function(wrap_pyfunction!(read_bars, m)?)?;
    m.add_function(wrap_pyfunction!(shard_of, m)?)?;
    m.add_function(wrap_pyfunction!(main, m)?)?;
    m.add_class::<PermitService>()?;
    m.add("BackfillError", m.py().get_type::<BackfillError>())?;
    Ok(())
}
