//! Exit statuses. Scripts rely on these; they are documented in the README.

use std::process::ExitCode;

/// How `backfill` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Every ticker is complete (or `check` found nothing missing).
    Success,
    /// Finished, but some tickers failed or were not found (or `check --strict` found gaps).
    /// A rerun plans only what is still missing.
    Partial,
    /// Bad flags, config file or input.
    Usage,
    /// Unexpected error (store unreadable, I/O, …).
    Error,
    /// Stopped by Ctrl-C; what was committed stays, and the next run resumes from it.
    Interrupted,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Partial => 1,
            ExitStatus::Usage => 2,
            ExitStatus::Error => 3,
            ExitStatus::Interrupted => 130,
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(s: ExitStatus) -> ExitCode {
        ExitCode::from(s.code())
    }
}

/// An error in what the user asked for (exit 2). Its message says what to fix.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}
