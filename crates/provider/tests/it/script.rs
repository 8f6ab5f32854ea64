//! A tiny scripted HTTP/1.1 server on 127.0.0.1:0 that writes raw responses, for classification tests.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What to do with one request.
pub enum Reply {
    /// Write these bytes verbatim, then close.
    Raw(Vec<u8>),
    /// Close with a TCP reset before answering.
    Reset,
}

impl Reply {
    /// A complete response with a correct `Content-Length`.
    pub fn http(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let mut out = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        for (k, v) in headers {
            let _ = write!(out, "{k}: {v}\r\n");
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(body);
        Reply::Raw(bytes)
    }

    pub fn json(status: &str, body: &str) -> Reply {
        Reply::http(
            status,
            &[("Content-Type", "application/json;charset=utf-8")],
            body.as_bytes(),
        )
    }

    pub fn text(status: &str, body: &str) -> Reply {
        Reply::http(status, &[("Content-Type", "text/plain")], body.as_bytes())
    }
}

/// One received request: the request target (path and query) and the raw header block.
#[derive(Debug, Clone)]
pub struct Seen {
    pub target: String,
    pub headers: String,
}

type Handler = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

/// Serves every connection with `handler(request, index_of_request)`. Returns the base URL and the log.
pub async fn serve(
    handler: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static,
) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Vec::<Seen>::new()));
    let handler: Arc<Handler> = Arc::new(handler);
    let log2 = log.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let handler = handler.clone();
            let log = log2.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).into_owned();
                let target = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                let seen = Seen {
                    target,
                    headers: head,
                };
                let index = {
                    let mut log = log.lock().unwrap();
                    log.push(seen.clone());
                    log.len() - 1
                };
                match handler(&seen, index) {
                    Reply::Raw(bytes) => {
                        let _ = stream.write_all(&bytes).await;
                        let _ = stream.shutdown().await;
                    }
                    Reply::Reset => {
                        let _ = stream.set_zero_linger();
                        drop(stream);
                    }
                }
            });
        }
    });
    (url, log)
}
