//! Issue 13 acceptance: `--dashboard` during a real run against the simulator, its token off
//! loopback, and `backfill dashboard --store` against `check`.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use backfill_sim::SimConfig;

use crate::harness::{Env, describe, portfolio, stdout_json};

/// One HTTP/1.1 GET over a fresh connection: (status, headers, body).
fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        let _ = write!(req, "{k}: {v}\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    // Bodies of known length only (no chunked answers are read by these tests except SSE, which
    // is not fetched here).
    (status, head.to_owned(), body.to_owned())
}

fn get_json(addr: SocketAddr, path: &str) -> serde_json::Value {
    let (status, head, body) = get(addr, path, &[]);
    assert_eq!(status, 200, "{head}\n{body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

/// Parses the Prometheus text format strictly enough to catch a malformed line: every sample is
/// `name{labels} value` with a float value, and its family was declared by `# TYPE`.
fn parse_metrics(text: &str) -> Vec<(String, f64)> {
    let mut families = Vec::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            families.push(parts.next().unwrap().to_owned());
            let kind = parts.next().unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("not a number: {line}")),
        };
        let name = series.split('{').next().unwrap();
        assert!(
            families.iter().any(|f| name == f
                || name
                    .strip_prefix(f.as_str())
                    .is_some_and(|s| ["_bucket", "_sum", "_count"].contains(&s))),
            "undeclared family: {line}"
        );
        samples.push((series.to_owned(), value));
    }
    samples
}

/// The request counter's total over outcomes, and whether the run is over.
fn requests_answered(addr: SocketAddr) -> (u64, bool) {
    let (status, _, body) = get(addr, "/metrics", &[]);
    assert_eq!(status, 200);
    let samples = parse_metrics(&body);
    let total: f64 = samples
        .iter()
        .filter(|(s, _)| s.starts_with("backfill_requests_total{"))
        .map(|(_, v)| v)
        .sum();
    let finished = samples
        .iter()
        .any(|(s, v)| s == "backfill_run_finished" && *v > 0.5);
    (total as u64, finished)
}

/// Starts the binary and waits for the stderr line that names the dashboard's URL; the rest of
/// stderr is collected in the background.
fn spawn_with_dashboard(env: &Env, args: &[&str]) -> (Child, String, mpsc::Receiver<String>) {
    spawn_cmd(env.command(args))
}

/// Polls `/api/run` until the run is over (the dashboard then lingers until interrupted).
fn wait_finished(addr: SocketAddr, headers: &[(&str, &str)]) {
    loop {
        let (status, _, body) = get(addr, "/api/run", headers);
        assert_eq!(status, 200, "{body}");
        let run: serde_json::Value = serde_json::from_str(&body).unwrap();
        if run["finished"] == true {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn addr_of(url: &str) -> SocketAddr {
    let hostport = url.trim_start_matches("http://").split('/').next().unwrap();
    let addr: SocketAddr = hostport.parse().unwrap();
    // A wildcard listener is reached over loopback.
    SocketAddr::from(([127, 0, 0, 1], addr.port()))
}

/// Ctrl-C ends the linger; the exit status stays the run's.
fn interrupt_and_wait(mut child: Child) -> std::process::Output {
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    let status = child.wait().unwrap();
    std::process::Output {
        status,
        stdout,
        stderr: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_metrics_grow_during_the_run_and_end_at_the_simulators_count() {
    let env = Env::start(SimConfig {
        latency: Duration::from_millis(300),
        ..SimConfig::default()
    })
    .await;
    let tickers = portfolio().join(",");
    let args = [
        "--tickers",
        &tickers,
        "--days",
        "60",
        "--end",
        "2024-06-28",
        "--workers",
        "4",
        "--rate",
        "10",
        "--dashboard",
        "127.0.0.1:0",
        "--dashboard-linger",
        "600",
        "--json",
    ];
    let (child, url, _stderr) = tokio::task::block_in_place(|| spawn_with_dashboard(&env, &args));
    let addr = addr_of(&url);
    let (child, answered) = tokio::task::spawn_blocking(move || {
        // Two scrapes during the run, the second with more requests than the first.
        let mut first = None;
        let mut grew = false;
        loop {
            let (n, finished) = requests_answered(addr);
            if finished {
                break;
            }
            match first {
                None if n > 0 => first = Some(n),
                Some(f) if n > f => grew = true,
                _ => {}
            }
            if grew {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            grew,
            "the request counter grew between two scrapes during the run"
        );
        // The state while running: every ticker is listed, some not final yet.
        let run = get_json(addr, "/api/run");
        assert_eq!(run["tickers"].as_array().unwrap().len(), 40, "{run}");
        assert_eq!(run["finished"], false);
        let answered = loop {
            let (n, finished) = requests_answered(addr);
            if finished {
                break n;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let run = get_json(addr, "/api/run");
        assert_eq!(run["totals"]["saved"], 40, "{run}");
        assert_eq!(run["states"]["saved"], 40, "{run}");
        assert_eq!(run["totals"]["in_flight"], 0, "{run}");
        assert!(run["totals"]["bytes"].as_u64().unwrap() > 0, "{run}");
        assert_eq!(
            run["limits"]["in_flight_cap"], 4,
            "no 429: the cap stays at --workers"
        );
        for t in run["tickers"].as_array().unwrap() {
            assert_eq!(t["state"], "saved", "{t}");
            assert_eq!(t["requests"], 1, "{t}");
            assert!(t["rows"].as_u64().unwrap() > 0, "{t}");
        }
        // Every request was timed.
        let (_, _, metrics) = get(addr, "/metrics", &[]);
        assert!(
            metrics.contains("backfill_request_duration_seconds_count 40\n"),
            "{metrics}"
        );
        assert!(metrics.contains("backfill_commit_duration_seconds_count 40\n"));
        (child, answered)
    })
    .await
    .unwrap();
    // At the end the counter equals what the simulator served.
    assert_eq!(answered, env.sim.stats().chart_requests);
    assert_eq!(answered, 40);
    let out = tokio::task::spawn_blocking(move || interrupt_and_wait(child))
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(stdout_json(&out)["totals"]["requests"], 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_loopback_every_page_needs_the_token() {
    let env = Env::start(SimConfig::default()).await;
    let args = [
        "--tickers",
        "MSFT,AIR.PA",
        "--days",
        "10",
        "--end",
        "2024-06-28",
        "--dashboard",
        "0.0.0.0:0",
        "--dashboard-linger",
        "600",
        "--json",
    ];
    let (child, url, _stderr) = tokio::task::block_in_place(|| spawn_with_dashboard(&env, &args));
    assert!(url.starts_with("http://0.0.0.0:"), "{url}");
    let token = url
        .split("?token=")
        .nth(1)
        .expect("a generated token is printed")
        .to_owned();
    assert_eq!(token.len(), 32);
    let addr = addr_of(&url);
    let child = tokio::task::spawn_blocking(move || {
        let bearer = format!("Bearer {token}");
        let cookie = format!("{}={token}", "backfill_dashboard_token");
        for path in ["/", "/api/run", "/metrics", "/events", "/live.js"] {
            let (status, head, _) = get(addr, path, &[]);
            assert_eq!(status, 401, "{path} without a token: {head}");
            assert!(head.contains("content-security-policy"), "{head}");
            let (status, _, _) = get(addr, path, &[("Authorization", "Bearer wrong")]);
            assert_eq!(status, 401, "{path} with a wrong token");
            if path != "/events" {
                let (status, head, _) = get(addr, path, &[("Authorization", &bearer)]);
                assert_eq!(status, 200, "{path} with the bearer token: {head}");
                let (status, _, _) = get(addr, path, &[("Cookie", &cookie)]);
                assert_eq!(status, 200, "{path} with the cookie");
            }
        }
        // A browser's first visit: the token in the query, answered with the cookie.
        let (status, head, body) = get(addr, &format!("/?token={token}"), &[]);
        assert_eq!(status, 200);
        assert!(
            head.to_ascii_lowercase()
                .contains("set-cookie: backfill_dashboard_token="),
            "{head}"
        );
        assert!(head.contains("HttpOnly"), "{head}");
        assert!(body.contains("<script src=\"/live.js\""), "{body}");
        let (status, _, _) = get(addr, &format!("/metrics?token={token}"), &[]);
        assert_eq!(status, 200);
        wait_finished(addr, &[("Authorization", &bearer)]);
        child
    })
    .await
    .unwrap();
    let out = tokio::task::spawn_blocking(move || interrupt_and_wait(child))
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_given_token_is_required_and_never_printed() {
    let env = Env::start(SimConfig::default()).await;
    let args = [
        "--tickers",
        "MSFT",
        "--days",
        "5",
        "--end",
        "2024-06-28",
        "--dashboard",
        "0.0.0.0:0",
        "--dashboard-linger",
        "600",
    ];
    let mut cmd = env.command(&args);
    cmd.env("BACKFILL_DASHBOARD_TOKEN", "s3cret-t0ken");
    let (child, url, stderr) = tokio::task::block_in_place(|| spawn_cmd(cmd));
    assert!(!url.contains("token"), "{url}");
    let addr = addr_of(&url);
    let child = tokio::task::spawn_blocking(move || {
        let (status, _, _) = get(addr, "/api/run", &[]);
        assert_eq!(status, 401);
        let (status, _, _) = get(
            addr,
            "/api/run",
            &[("Authorization", "Bearer s3cret-t0ken")],
        );
        assert_eq!(status, 200);
        wait_finished(addr, &[("Authorization", "Bearer s3cret-t0ken")]);
        child
    })
    .await
    .unwrap();
    let out = tokio::task::spawn_blocking(move || interrupt_and_wait(child))
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let rest: Vec<String> = stderr.try_iter().collect();
    assert!(
        !rest.iter().any(|l| l.contains("s3cret")),
        "the token was printed: {rest:?}"
    );
}

#[expect(
    clippy::zombie_processes,
    reason = "the child is returned; every caller waits on it"
)]
fn spawn_cmd(mut cmd: std::process::Command) -> (Child, String, mpsc::Receiver<String>) {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    loop {
        let line = rx
            .recv_timeout(Duration::from_mins(2))
            .expect("a dashboard URL on stderr");
        assert!(!line.contains("s3cret"), "the token was printed: {line}");
        if line.contains("dashboard: ") {
            let url = line
                .split_whitespace()
                .find(|w| w.starts_with("http://"))
                .unwrap()
                .to_owned();
            return (child, url, rx);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_dashboard_lists_runs_and_agrees_with_check() {
    let env = Env::start(SimConfig {
        unknown_prefixes: vec!["ZZ".to_owned()],
        ..SimConfig::default()
    })
    .await;
    let tickers = "MSFT,AIR.PA,7203.T,BTC-USD,ZZNOPE";
    // Two runs: the second over a wider window; then a window wider still, so sessions are missing.
    for days in ["20", "45"] {
        let out = env
            .run(&[
                "--tickers",
                tickers,
                "--days",
                days,
                "--end",
                "2024-06-28",
                "-q",
            ])
            .await;
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    }
    let window = ["--days", "90", "--end", "2024-06-28"];
    let mut check_args = vec!["check", "--json", "--tickers", tickers];
    check_args.extend(window);
    let check = stdout_json(&env.run(&check_args).await);

    let mut args = vec!["dashboard", "--addr", "127.0.0.1:0", "--tickers", tickers];
    args.extend(window);
    let (child, url, _stderr) = tokio::task::block_in_place(|| spawn_with_dashboard(&env, &args));
    let addr = addr_of(&url);
    let (doc, page) =
        tokio::task::spawn_blocking(move || (get_json(addr, "/api/store"), get(addr, "/", &[]).2))
            .await
            .unwrap();
    assert!(page.contains("/store.js"), "{page}");

    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{doc}");
    assert!(
        runs[0]["id"].as_str() > runs[1]["id"].as_str(),
        "newest first"
    );
    assert_eq!(runs[0]["totals"]["tickers"], 5);
    let failures = runs[0]["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{doc}");
    assert_eq!(failures[0]["symbol"], "ZZNOPE");
    assert_eq!(failures[0]["status"], "not_found");
    assert!(
        failures[0]["error"].as_str().unwrap().contains("not found"),
        "{failures:?}"
    );

    let coverage = doc["coverage"].as_array().unwrap();
    let checked = check["tickers"].as_array().unwrap();
    assert_eq!(coverage.len(), checked.len());
    let mut some_missing = false;
    for (c, k) in coverage.iter().zip(checked) {
        assert_eq!(c["symbol"], k["symbol"]);
        for field in ["sessions", "stored", "missing", "no_data", "rows"] {
            assert_eq!(c[field], k[field], "{field} of {}", c["symbol"]);
        }
        // The months add up to the ticker's numbers.
        let months = c["months"].as_object().unwrap();
        for field in ["sessions", "stored", "missing", "no_data"] {
            let sum: u64 = months.values().map(|m| m[field].as_u64().unwrap()).sum();
            assert_eq!(Some(sum), c[field].as_u64(), "{field} of {}", c["symbol"]);
        }
        let listed: Vec<&serde_json::Value> = months
            .values()
            .flat_map(|m| m["missing_dates"].as_array().unwrap())
            .collect();
        // The same missing sessions as check's holes: as many, and every hole's ends among them.
        let holes = k["holes"].as_array().unwrap();
        let in_holes: u64 = holes.iter().map(|h| h["sessions"].as_u64().unwrap()).sum();
        assert_eq!(listed.len() as u64, in_holes, "{}", c["symbol"]);
        for h in holes {
            assert!(listed.contains(&&h["first"]), "{h} of {}", c["symbol"]);
            assert!(listed.contains(&&h["last"]), "{h} of {}", c["symbol"]);
        }
        some_missing |= c["missing"].as_u64().unwrap() > 0;
    }
    assert!(some_missing, "the wider window has missing sessions: {doc}");
    let out = tokio::task::spawn_blocking(move || interrupt_and_wait(child))
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}
