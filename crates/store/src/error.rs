//! The store's error type.

use std::io;
use std::path::PathBuf;

use backfill_domain::{Interval, Symbol};

/// What went wrong in the store, with the path and/or series it happened to.
///
/// The `Display` text is self-contained: what happened, to what, the underlying cause, and where it
/// helps a blank line and a `hint:` saying what to do. The underlying error is kept in the `cause`
/// field (not chained through `source()`, so that printing a chain never repeats it).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A filesystem operation failed.
    #[error("cannot {op} `{path}`: {cause}{hint}", path = path.display(), hint = io_hint(cause))]
    Io {
        /// What was being done (`read`, `write`, `rename`, `lock`, …).
        op: &'static str,
        /// The file or directory it was done to.
        path: PathBuf,
        /// The operating system's error.
        cause: io::Error,
    },
    /// A file in the store is not a valid file of the kind its path says (corrupt, truncated or
    /// written by something else). It was left untouched at `path`.
    #[error(
        "`{path}` is not a valid backfill {kind} file: {reason}\n\nhint: the file was left untouched; \
         move it into `_meta/quarantine/` (or delete it) and fetch the series again",
        path = path.display()
    )]
    Corrupt {
        /// The offending file.
        path: PathBuf,
        /// `bars`, `actions`, `ledger` or `meta`.
        kind: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Encoding bars or actions as Parquet failed (a bug or an impossible value, not the disk).
    #[error("cannot encode {what} for `{path}`: {reason}", path = path.display())]
    Encode {
        /// `bars of MSFT 1d`, `actions of MSFT`.
        what: String,
        /// The file that was about to be written.
        path: PathBuf,
        /// The encoder's message.
        reason: String,
    },
    /// A value handed to the store cannot be stored.
    #[error("cannot store {what}: {reason}")]
    InvalidInput {
        /// What was handed in (`bars of MSFT 1d`, `symbol meta`).
        what: String,
        /// Why it cannot be stored.
        reason: String,
    },
}

impl StoreError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, cause: io::Error) -> StoreError {
        StoreError::Io {
            op,
            path: path.into(),
            cause,
        }
    }

    pub(crate) fn corrupt(
        kind: &'static str,
        path: impl Into<PathBuf>,
        reason: impl Into<String>,
    ) -> StoreError {
        StoreError::Corrupt {
            path: path.into(),
            kind,
            reason: reason.into(),
        }
    }

    pub(crate) fn invalid_bars(symbol: &Symbol, interval: Interval, reason: String) -> StoreError {
        StoreError::InvalidInput {
            what: format!("bars of `{symbol}` `{interval}`"),
            reason,
        }
    }

    /// The path the error is about, when there is one.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            StoreError::Io { path, .. }
            | StoreError::Corrupt { path, .. }
            | StoreError::Encode { path, .. } => Some(path),
            StoreError::InvalidInput { .. } => None,
        }
    }

    /// True when the disk (or quota) is full: the caller should stop, not retry.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, StoreError::Io { cause, .. } if is_disk_full(cause))
    }
}

fn is_disk_full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

fn io_hint(e: &io::Error) -> &'static str {
    if is_disk_full(e) {
        "\n\nhint: the disk is full; free some space and run again (nothing half-written was kept)"
    } else if e.kind() == io::ErrorKind::PermissionDenied {
        "\n\nhint: check that you may write to the store directory (`--store` / `BACKFILL_STORE`)"
    } else if e.kind() == io::ErrorKind::ReadOnlyFilesystem {
        "\n\nhint: the store is on a read-only filesystem; pick another `--store`"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_path_and_hint() {
        let e = StoreError::io(
            "write",
            "/s/bars/x.parquet",
            io::Error::from(io::ErrorKind::StorageFull),
        );
        let text = e.to_string();
        assert!(
            text.starts_with("cannot write `/s/bars/x.parquet`: "),
            "{text}"
        );
        assert!(text.contains("hint: the disk is full"), "{text}");
        assert!(e.is_disk_full());
        let c = StoreError::corrupt("bars", "/s/a.parquet", "bad magic");
        assert!(
            c.to_string()
                .contains("`/s/a.parquet` is not a valid backfill bars file: bad magic")
        );
        assert_eq!(c.path(), Some(std::path::Path::new("/s/a.parquet")));
    }
}
