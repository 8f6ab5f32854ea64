//! Child processes for the crash and multi-process tests: the test binary re-executes itself
//! with `--exact child::entry` and an environment variable saying what to do. Works the same
//! under `cargo test` and `cargo nextest run` (both run libtest binaries).

use std::io::Write;
use std::process::{Child, Command, Stdio};

const VAR: &str = "BACKFILL_STORE_TEST_CHILD";

pub fn spawn(role: &str, dir: &std::path::Path, arg: u64) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child::entry", "--nocapture", "--test-threads=1"])
        .env(VAR, format!("{role}|{}|{arg}", dir.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Like [`spawn`], for a store location (directory or URL) and extra environment.
pub fn spawn_at(role: &str, location: &str, arg: u64, env: &[(&'static str, String)]) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child::entry", "--nocapture", "--test-threads=1"])
        .env(VAR, format!("{role}|{location}|{arg}"))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Writes one line to the real stdout (not libtest's capture) and flushes it. It starts with a
/// newline because libtest leaves `test child::entry ... ` unterminated on stdout.
pub fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    out.write_all(b"\n").unwrap();
    out.write_all(line.as_bytes()).unwrap();
    out.write_all(b"\n").unwrap();
    out.flush().unwrap();
}

/// The child entry point. Run directly (no variable set) it checks a short crash-child run
/// in-process, so it is a real test either way.
#[test]
fn entry() {
    if let Ok(spec) = std::env::var(VAR) {
        let mut parts = spec.splitn(3, '|');
        let (role, dir, arg) = (
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().parse::<u64>().unwrap(),
        );
        match role.as_str() {
            "crash" => crate::crash::child(dir.as_ref(), arg, u64::MAX),
            "multi" => crate::concurrency::child(dir.as_ref(), arg),
            "rebase" => crate::rebase::child(&dir, arg),
            "basis" => crate::basis::child(dir.as_ref()),
            other => panic!("unknown child role {other}"),
        }
    } else {
        let dir = tempfile::tempdir().unwrap();
        crate::crash::child(dir.path(), 0, 3);
        crate::crash::verify(dir.path(), 2);
    }
}
