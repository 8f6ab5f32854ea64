//! A request rate shared by every process of a cluster, served over TCP.
//!
//! The driver of a distributed run starts a [`PermitServer`]; every task's engine reaches it
//! through [`ClusterPaced`], a provider wrapper whose pacer takes a turn from the server
//! immediately before each HTTP request (after the engine's own limiter). Turns are handed out one
//! at a time, in order of asking: the holder waits until `1 / (rate × PACING_HEADROOM)` after the
//! previous request was *sent*, sends, and says so. Spacing is measured from the moment each
//! request actually went out, so a sender that wakes late (a busy machine, a slow network) never
//! squeezes the next one closer: the cluster as a whole stays under `rate`, with no burst. After a
//! 429 anywhere, no turn starts before the pause that 429 asked for.
//!
//! # Protocol
//!
//! Lines of ASCII over TCP, one connection per request in flight:
//!
//! ```text
//! HELLO <token>      → OK                 first line; anything else closes the connection
//! TAKE               → WAIT <micros>      your turn: send after this many microseconds
//! SENT               (no answer)          sent now; the next turn starts from this instant
//! PAUSE <millis>     → OK                 a 429 asked for this pause
//! ```
//!
//! A turn whose holder says nothing within [`TURN_GRACE`] after its wait, or whose connection
//! closes, ends then, counted as sent at that moment. The token is random per server and travels
//! to the tasks with their arguments, so that nothing else on the network can take turns or
//! pause the cluster.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use backfill_domain::Interval;
use backfill_engine::limits::PACING_HEADROOM;
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
/// How long after its wait a turn's holder has to say it sent.
pub const TURN_GRACE: Duration = Duration::from_secs(2);

/// What the server has handed out so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Turns handed out (requests sent, or about to be).
    pub permits: u64,
    /// 429s reported by tasks (each one paused the cluster).
    pub pauses: u64,
}

/// When the last request went out and when the current pause ends, under one lock.
#[derive(Debug)]
struct Bucket {
    interval: Duration,
    last_sent: Option<Instant>,
    paused_until: Option<Instant>,
    stats: Stats,
}

impl Bucket {
    /// The wait of a turn starting at `now`.
    fn wait(&mut self, now: Instant) -> Duration {
        self.stats.permits += 1;
        let at = self
            .last_sent
            .map(|t| t + self.interval)
            .into_iter()
            .chain(self.paused_until)
            .max()
            .unwrap_or(now);
        at.saturating_duration_since(now)
    }

    fn sent(&mut self, now: Instant) {
        self.last_sent = Some(self.last_sent.map_or(now, |t| t.max(now)));
    }

    fn pause(&mut self, now: Instant, wait: Duration) {
        let until = now + wait;
        self.paused_until = Some(self.paused_until.map_or(until, |p| p.max(until)));
        self.stats.pauses += 1;
    }
}

/// The rate service, on its own thread and runtime until [`PermitServer::close`] or drop.
#[derive(Debug)]
pub struct PermitServer {
    addr: SocketAddr,
    bucket: Arc<Mutex<Bucket>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn lock(b: &Mutex<Bucket>) -> std::sync::MutexGuard<'_, Bucket> {
    b.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What every connection shares.
struct Shared {
    bucket: Arc<Mutex<Bucket>>,
    /// One turn at a time, handed out in order of asking.
    turn: Arc<Semaphore>,
    token: String,
}

impl PermitServer {
    /// Listens on `bind` (port 0: any free port) and serves `rate` requests per second to the
    /// holders of `token`.
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
        let bucket = Arc::new(Mutex::new(Bucket {
            interval: Duration::from_secs_f64(1.0 / (rate * PACING_HEADROOM)),
            last_sent: None,
            paused_until: None,
            stats: Stats::default(),
        }));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let shared = Arc::new(Shared {
            bucket: bucket.clone(),
            turn: Arc::new(Semaphore::new(1)),
            token,
        });
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
                            tokio::spawn(serve(stream, shared.clone()));
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
            bucket,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn stats(&self) -> Stats {
        lock(&self.bucket).stats
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
            let Ok(turn) = shared.turn.clone().acquire_owned().await else {
                return;
            };
            let wait = lock(&shared.bucket).wait(Instant::now());
            if write
                .write_all(format!("WAIT {}\n", wait.as_micros()).as_bytes())
                .await
                .is_err()
            {
                lock(&shared.bucket).sent(Instant::now());
                return;
            }
            let said = tokio::time::timeout(wait + TURN_GRACE, lines.next_line()).await;
            lock(&shared.bucket).sent(Instant::now());
            drop(turn);
            if !matches!(said, Ok(Ok(Some(ref l))) if l == "SENT") {
                return;
            }
        } else if let Some(ms) = line
            .strip_prefix("PAUSE ")
            .and_then(|m| m.parse::<u64>().ok())
        {
            lock(&shared.bucket).pause(Instant::now(), Duration::from_millis(ms));
            if write.write_all(b"OK\n").await.is_err() {
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

    /// Waits for this process's turn and its instant, then marks it sent: the caller sends its
    /// request right after. Dropping the future before it resolves gives the turn back.
    async fn acquire(&self) -> std::io::Result<()> {
        let mut conn = self.conn().await?;
        let answer = conn.call("TAKE").await?;
        let wait = answer
            .strip_prefix("WAIT ")
            .and_then(|m| m.parse::<u64>().ok())
            .map(Duration::from_micros)
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("unexpected answer `{answer}` from the rate service"),
                )
            })?;
        tokio::time::sleep(wait).await;
        conn.send("SENT").await?;
        self.keep(conn);
        Ok(())
    }

    /// Tells the service a 429 asked for `wait`.
    async fn pause(&self, wait: Duration) -> std::io::Result<()> {
        let mut conn = self.conn().await?;
        let answer = conn.call(&format!("PAUSE {}", wait.as_millis())).await?;
        if answer == "OK" {
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

/// The engine's pacer, then the cluster's.
struct Both<'a> {
    local: &'a dyn Pacer,
    permits: &'a PermitClient,
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
                    Ok(()) => return,
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
            if let Err(FetchError {
                kind: ErrorKind::Throttled { retry_after },
                ..
            }) = &result
            {
                // Best effort: the engine pauses this task's own limiter either way.
                let _ = self
                    .permits
                    .pause(retry_after.unwrap_or(DEFAULT_PAUSE))
                    .await;
            }
            result
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_are_spaced_from_the_last_send_and_hold_pauses() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut b = Bucket {
            interval: ms(100),
            last_sent: None,
            paused_until: None,
            stats: Stats::default(),
        };
        assert_eq!(b.wait(t0), Duration::ZERO);
        b.sent(t0);
        assert_eq!(b.wait(t0), ms(100));
        // The holder sent late: the next turn counts from when it really sent.
        b.sent(t0 + ms(130));
        assert_eq!(b.wait(t0 + ms(130)), ms(100));
        // Idle time is not banked: no burst after a quiet spell.
        b.sent(t0 + ms(10_000));
        assert_eq!(b.wait(t0 + ms(10_000)), ms(100));
        b.pause(t0 + ms(10_000), Duration::from_secs(2));
        assert_eq!(b.wait(t0 + ms(10_000)), Duration::from_secs(2));
        assert_eq!(
            b.stats,
            Stats {
                permits: 5,
                pauses: 1
            }
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn clients_share_one_rate_and_a_wrong_token_gets_nothing() {
        let interval = Duration::from_millis(50);
        let mut server = PermitServer::start(
            1.0 / (interval.as_secs_f64() * PACING_HEADROOM),
            SocketAddr::from(([127, 0, 0, 1], 0)),
            "secret".to_owned(),
        )
        .unwrap();
        let addr = server.addr().to_string();
        let a = Arc::new(PermitClient::new(addr.clone(), "secret".to_owned()));
        let b = Arc::new(PermitClient::new(addr.clone(), "secret".to_owned()));
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..8 {
            let c = if i % 2 == 0 { a.clone() } else { b.clone() };
            tasks.spawn(async move { c.acquire().await.map(|()| Instant::now()) });
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

        a.pause(Duration::from_millis(300)).await.unwrap();
        let before = Instant::now();
        b.acquire().await.unwrap();
        assert!(before.elapsed() >= Duration::from_millis(290));
        assert_eq!(server.stats().pauses, 1);

        let intruder = PermitClient::new(addr, "guess".to_owned());
        let e = intruder.acquire().await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied, "{e}");
        assert_eq!(server.stats().permits, 9);
        server.close();
    }
}
