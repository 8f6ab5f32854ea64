//! A request rate shared by every process of a cluster, served over TCP.
//!
//! The driver of a distributed run starts a [`PermitServer`]; every task's engine reaches it
//! through [`ClusterPaced`], a provider wrapper whose pacer takes a turn from the server
//! immediately before each HTTP request (after the engine's own limiter), and reports each
//! answer back. The server holds the engine's own [`RateLimiter`] for the whole cluster, so the
//! cluster paces, pauses after a 429 and adapts to the provider's real limit exactly as one
//! process does (see `backfill_engine::limits`).
//!
//! Turns are handed out one at a time, in order of asking. A turn starts when the limiter admits
//! it and no sooner than one pacing interval after the previous request was reported *sent*, so
//! a sender that woke late (a busy machine, a slow network) never squeezes the next one: the
//! cluster as a whole stays under `rate`, with no burst.
//!
//! # Protocol
//!
//! Lines of ASCII over TCP, one connection per request in flight:
//!
//! ```text
//! HELLO <token>              → OK          first line; anything else closes the connection
//! TAKE                       → GO <id>     your turn: send now
//! SENT                       (no answer)   sent; the next turn is spaced from this instant
//! DONE <id> clean            → OK          answered without throttling
//! DONE <id> throttled <ms>   → OK          a 429 that asked for this pause (every task waits)
//! DONE <id> unavailable <ms> → OK          a 503 that asked for this pause
//! ```
//!
//! A turn whose holder does not say `SENT` within [`TURN_GRACE`], or whose connection closes,
//! ends then, counted as sent at that moment. The token is random per server and travels to the
//! tasks with their arguments, so that nothing else on the network can take turns or pause the
//! cluster.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use backfill_domain::Interval;
use backfill_engine::limits::{Limits, RateLimiter, Ticket};
use backfill_provider::{
    Answer, ErrorKind, FetchError, FetchRequest, Pacer, Provider, Quotas, Window,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;

/// How long a task keeps trying to reach the rate service before its requests fail.
pub const UNREACHABLE_AFTER: Duration = Duration::from_secs(30);
/// The pause after a 429 that named no `Retry-After`.
pub const DEFAULT_PAUSE: Duration = Duration::from_secs(1);
/// How long a turn's holder has to say it sent.
pub const TURN_GRACE: Duration = Duration::from_secs(2);

/// What the server has seen so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stats {
    /// Turns handed out (requests sent).
    pub permits: u64,
    /// 429s reported by tasks (each one paused the cluster).
    pub throttled: u64,
    /// Congestion events: cuts of the shared rate.
    pub cuts: u64,
    /// The shared pacing rate now, in requests per second.
    pub rate: f64,
}

/// What every connection shares.
struct Shared {
    limiter: RateLimiter,
    /// One turn at a time, handed out in order of asking.
    turn: Semaphore,
    /// When the last request was reported sent, and the tickets of requests not yet answered.
    state: Mutex<State>,
    token: String,
}

#[derive(Default)]
struct State {
    last_sent: Option<Instant>,
    next_id: u64,
    tickets: HashMap<u64, Ticket>,
    throttled: u64,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stats(&self) -> Stats {
        Stats {
            permits: self.limiter.admitted(),
            throttled: self.state().throttled,
            cuts: self.limiter.congestion_events(),
            rate: self.limiter.current_rate().unwrap_or(0.0),
        }
    }

    /// Admits one request: the limiter's slot, then one pacing interval after the last send.
    async fn admit(&self) -> u64 {
        let ticket = self.limiter.acquire().await;
        let last = self.state().last_sent;
        if let (Some(last), Some(rate)) = (last, self.limiter.current_rate()) {
            tokio::time::sleep_until(last + Duration::from_secs_f64(1.0 / rate)).await;
        }
        let mut st = self.state();
        st.next_id += 1;
        let id = st.next_id;
        st.tickets.insert(id, ticket);
        id
    }

    fn sent(&self) {
        let now = Instant::now();
        let mut st = self.state();
        st.last_sent = Some(st.last_sent.map_or(now, |t| t.max(now)));
    }

    /// `DONE <id> clean|throttled <ms>|unavailable <ms>`.
    fn done(&self, rest: &str) -> bool {
        let mut words = rest.split(' ');
        let (Some(id), Some(outcome)) = (
            words.next().and_then(|w| w.parse::<u64>().ok()),
            words.next(),
        ) else {
            return false;
        };
        let ms = words.next().and_then(|w| w.parse::<u64>().ok());
        let ticket = self.state().tickets.remove(&id);
        match (outcome, ms) {
            ("clean", None) => {
                if let Some(t) = ticket {
                    self.limiter.on_clean(t);
                }
            }
            ("throttled", Some(ms)) => {
                let pause = Duration::from_millis(ms);
                self.state().throttled += 1;
                match ticket {
                    Some(t) => self.limiter.on_throttled(t, pause),
                    None => self.limiter.pause_for(pause),
                }
            }
            ("unavailable", Some(ms)) => self.limiter.pause_for(Duration::from_millis(ms)),
            _ => return false,
        }
        true
    }
}

/// The rate service, on its own thread and runtime until [`PermitServer::close`] or drop.
pub struct PermitServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for PermitServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PermitServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl PermitServer {
    /// Listens on `bind` (port 0: any free port) and serves `rate` requests per second (paced
    /// and adapted as by the engine's limiter) to the holders of `token`.
    ///
    /// # Errors
    /// The address cannot be bound, or the rate is not a positive number.
    pub fn start(rate: f64, bind: SocketAddr, token: String) -> std::io::Result<PermitServer> {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "a shared rate must be a positive number of requests per second, not {rate}"
                ),
            ));
        }
        let listener = std::net::TcpListener::bind(bind)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let shared = Arc::new(Shared {
            limiter: RateLimiter::new(Limits::per_second(Some(rate))),
            turn: Semaphore::new(1),
            state: Mutex::new(State::default()),
            token,
        });
        let served = shared.clone();
        let thread = std::thread::Builder::new()
            .name("backfill-permits".to_owned())
            .spawn(move || {
                rt.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let accept = async {
                        loop {
                            let Ok((stream, _)) = listener.accept().await else {
                                // Out of file descriptors, or a connection reset before it was
                                // accepted: try again shortly rather than spin.
                                tokio::time::sleep(Duration::from_millis(50)).await;
                                continue;
                            };
                            let _ = stream.set_nodelay(true);
                            tokio::spawn(serve(stream, served.clone()));
                        }
                    };
                    tokio::select! {
                        () = accept => {}
                        _ = stopped => {}
                    }
                });
            })?;
        Ok(PermitServer {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Stops listening and ends the service's thread.
    pub fn close(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for PermitServer {
    fn drop(&mut self) {
        self.close();
    }
}

/// One client connection: the token first, then requests until it closes.
async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    match lines.next_line().await {
        Ok(Some(hello)) if hello.strip_prefix("HELLO ") == Some(shared.token.as_str()) => {}
        _ => return,
    }
    if write.write_all(b"OK\n").await.is_err() {
        return;
    }
    while let Ok(Some(line)) = lines.next_line().await {
        if line == "TAKE" {
            let Ok(turn) = shared.turn.acquire().await else {
                return;
            };
            let id = shared.admit().await;
            if write
                .write_all(format!("GO {id}\n").as_bytes())
                .await
                .is_err()
            {
                shared.sent();
                return;
            }
            let said = tokio::time::timeout(TURN_GRACE, lines.next_line()).await;
            shared.sent();
            drop(turn);
            if !matches!(said, Ok(Ok(Some(ref l))) if l == "SENT") {
                return;
            }
        } else if let Some(rest) = line.strip_prefix("DONE ") {
            if !shared.done(rest) || write.write_all(b"OK\n").await.is_err() {
                return;
            }
        } else {
            return;
        }
    }
}

/// One authenticated connection to the rate service.
#[derive(Debug)]
struct Conn {
    read: BufReader<OwnedReadHalf>,
    write: OwnedWriteHalf,
}

impl Conn {
    async fn open(addr: &str, token: &str) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (read, write) = stream.into_split();
        let mut conn = Conn {
            read: BufReader::new(read),
            write,
        };
        if conn.call(&format!("HELLO {token}")).await? != "OK" {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "the rate service refused this task's token",
            ));
        }
        Ok(conn)
    }

    async fn send(&mut self, line: &str) -> std::io::Result<()> {
        self.write.write_all(format!("{line}\n").as_bytes()).await
    }

    async fn call(&mut self, line: &str) -> std::io::Result<String> {
        self.send(line).await?;
        let mut answer = String::new();
        if self.read.read_line(&mut answer).await? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "the rate service closed the connection (a wrong token, or it stopped)",
            ));
        }
        Ok(answer.trim_end().to_owned())
    }
}

/// How a request sent on a turn was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Not throttled (data, or a final answer such as "not found").
    Clean,
    /// A 429 that asked for this pause.
    Throttled(Duration),
    /// A 503 that asked for this pause.
    Unavailable(Duration),
}

/// A task's connections to the rate service: one per request waiting for its turn, kept for
/// reuse; a connection that failed is dropped.
#[derive(Debug)]
pub struct PermitClient {
    addr: String,
    token: String,
    idle: Mutex<Vec<Conn>>,
}

impl PermitClient {
    pub fn new(addr: String, token: String) -> PermitClient {
        PermitClient {
            addr,
            token,
            idle: Mutex::new(Vec::new()),
        }
    }

    async fn conn(&self) -> std::io::Result<Conn> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match idle {
            Some(c) => Ok(c),
            None => Conn::open(&self.addr, &self.token).await,
        }
    }

    fn keep(&self, conn: Conn) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(conn);
    }

    /// Waits for a turn and marks it sent: the caller sends its request right after, and reports
    /// its answer with the returned id. Dropping the future before it resolves gives the turn
    /// back.
    async fn acquire(&self) -> std::io::Result<u64> {
        let mut conn = self.conn().await?;
        let answer = conn.call("TAKE").await?;
        let id = answer
            .strip_prefix("GO ")
            .and_then(|m| m.parse::<u64>().ok())
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("unexpected answer `{answer}` from the rate service"),
                )
            })?;
        conn.send("SENT").await?;
        self.keep(conn);
        Ok(id)
    }

    /// Reports how the request of turn `id` was answered.
    async fn report(&self, id: u64, outcome: Outcome) -> std::io::Result<()> {
        let line = match outcome {
            Outcome::Clean => format!("DONE {id} clean"),
            Outcome::Throttled(d) => format!("DONE {id} throttled {}", d.as_millis()),
            Outcome::Unavailable(d) => format!("DONE {id} unavailable {}", d.as_millis()),
        };
        let mut conn = self.conn().await?;
        if conn.call(&line).await? == "OK" {
            self.keep(conn);
        }
        Ok(())
    }
}

/// A provider whose every HTTP request also waits for the cluster's rate service, and whose
/// 429s pause the whole cluster.
#[derive(Debug)]
pub struct ClusterPaced<P> {
    inner: P,
    permits: Arc<PermitClient>,
}

impl<P> ClusterPaced<P> {
    pub fn new(inner: P, permits: Arc<PermitClient>) -> ClusterPaced<P> {
        ClusterPaced { inner, permits }
    }
}

/// The engine's pacer, then the cluster's; remembers the turns it took.
struct Both<'a> {
    local: &'a dyn Pacer,
    permits: &'a PermitClient,
    turns: Mutex<Vec<u64>>,
    lost: Mutex<Option<String>>,
    lost_signal: Notify,
}

impl Both<'_> {
    /// Resolves once the rate service could not be reached for [`UNREACHABLE_AFTER`].
    async fn lost(&self) -> String {
        loop {
            let notified = self.lost_signal.notified();
            if let Some(msg) = self
                .lost
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
            {
                return msg;
            }
            notified.await;
        }
    }
}

impl Pacer for Both<'_> {
    fn acquire(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            self.local.acquire().await;
            let started = Instant::now();
            loop {
                match self.permits.acquire().await {
                    Ok(id) => {
                        self.turns
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push(id);
                        return;
                    }
                    Err(e) if started.elapsed() >= UNREACHABLE_AFTER => {
                        *self.lost.lock().unwrap_or_else(PoisonError::into_inner) = Some(format!(
                            "the cluster's rate service at {} cannot be reached ({e}); no request was sent; hint: the driver that started the run must stay up until it ends",
                            self.permits.addr
                        ));
                        self.lost_signal.notify_waiters();
                        std::future::pending::<()>().await;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
        })
    }
}

impl<P: Provider> Provider for ClusterPaced<P> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn window(&self, interval: Interval) -> Window {
        self.inner.window(interval)
    }

    fn quotas(&self) -> Quotas {
        self.inner.quotas()
    }

    async fn fetch_paced(
        &self,
        req: &FetchRequest,
        pacer: &dyn Pacer,
    ) -> Result<Answer, FetchError> {
        {
            let both = Both {
                local: pacer,
                permits: &self.permits,
                turns: Mutex::new(Vec::new()),
                lost: Mutex::new(None),
                lost_signal: Notify::new(),
            };
            let result = tokio::select! {
                r = self.inner.fetch_paced(req, &both) => r,
                detail = both.lost() => Err(FetchError {
                    symbol: req.symbol.clone(),
                    interval: req.interval,
                    range: req.range,
                    kind: ErrorKind::Transient { detail },
                }),
            };
            // The answer is the last request's; the ones before it (a cookie, a crumb) were
            // answered cleanly, or the provider would not have gone on.
            let last = match &result {
                Err(FetchError {
                    kind: ErrorKind::Throttled { retry_after },
                    ..
                }) => Outcome::Throttled(retry_after.unwrap_or(DEFAULT_PAUSE)),
                Err(FetchError {
                    kind: ErrorKind::Unavailable { retry_after, .. },
                    ..
                }) => Outcome::Unavailable(*retry_after),
                _ => Outcome::Clean,
            };
            let turns =
                std::mem::take(&mut *both.turns.lock().unwrap_or_else(PoisonError::into_inner));
            let n = turns.len();
            for (i, id) in turns.into_iter().enumerate() {
                let outcome = if i + 1 == n { last } else { Outcome::Clean };
                // Best effort: the engine pauses this task's own limiter either way.
                let _ = self.permits.report(id, outcome).await;
            }
            result
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use backfill_engine::limits::PACING_HEADROOM;

    fn server(interval: Duration) -> (PermitServer, String) {
        let server = PermitServer::start(
            1.0 / (interval.as_secs_f64() * PACING_HEADROOM),
            SocketAddr::from(([127, 0, 0, 1], 0)),
            "secret".to_owned(),
        )
        .unwrap();
        let addr = server.addr().to_string();
        (server, addr)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn clients_share_one_rate_and_a_wrong_token_gets_nothing() {
        let interval = Duration::from_millis(50);
        let (mut server, addr) = server(interval);
        let a = Arc::new(PermitClient::new(addr.clone(), "secret".to_owned()));
        let b = Arc::new(PermitClient::new(addr.clone(), "secret".to_owned()));
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..8 {
            let c = if i % 2 == 0 { a.clone() } else { b.clone() };
            tasks.spawn(async move {
                let id = c.acquire().await?;
                let at = Instant::now();
                c.report(id, Outcome::Clean).await?;
                Ok::<_, std::io::Error>(at)
            });
        }
        let mut sent: Vec<Instant> = tasks
            .join_all()
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        sent.sort();
        // Eight turns from two clients, one interval apart at least: the span is at least seven
        // intervals (less the last holder's few microseconds between its report and its clock).
        let span = *sent.last().unwrap() - started;
        assert!(span + Duration::from_millis(2) >= interval * 7, "{span:?}");
        assert_eq!(server.stats().permits, 8);

        let intruder = PermitClient::new(addr, "guess".to_owned());
        let e = intruder.acquire().await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied, "{e}");
        assert_eq!(server.stats().permits, 8);
        server.close();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_429_pauses_every_client_and_cuts_the_shared_rate_once() {
        let (mut server, addr) = server(Duration::from_millis(20));
        let a = PermitClient::new(addr.clone(), "secret".to_owned());
        let b = PermitClient::new(addr, "secret".to_owned());
        let before = server.stats().rate;
        let (x, y) = (a.acquire().await.unwrap(), b.acquire().await.unwrap());
        // Two requests of the same congestion event: one cut, two pauses asked for.
        a.report(x, Outcome::Throttled(Duration::from_millis(300)))
            .await
            .unwrap();
        b.report(y, Outcome::Throttled(Duration::from_millis(300)))
            .await
            .unwrap();
        let paused = Instant::now();
        b.acquire().await.unwrap();
        assert!(
            paused.elapsed() >= Duration::from_millis(280),
            "{:?}",
            paused.elapsed()
        );
        let stats = server.stats();
        assert_eq!((stats.throttled, stats.cuts, stats.permits), (2, 1, 3));
        assert!(stats.rate < before, "{stats:?}");
        server.close();
    }
}
