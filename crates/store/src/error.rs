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
    /// A request to object storage failed (after the client's own retries).
    #[error("cannot {op} `{path}`: {reason}{hint}", path = path.display())]
    Remote {
        /// What was being done (`read`, `write`, `list`, `delete`).
        op: &'static str,
        /// The object or prefix, as a URL without credentials (`s3://bucket/prefix/bars/…`).
        path: PathBuf,
        /// What the server or the client said.
        reason: String,
        /// `\n\nhint: …` when there is something specific to do, else empty.
        hint: String,
    },
    /// `--store` is not a location the store can use.
    #[error("cannot use `{location}` as a store: {reason}\n\nhint: {hint}")]
    Location {
        /// What was given (credentials removed).
        location: String,
        /// Why it cannot be used.
        reason: String,
        /// What to give instead.
        hint: String,
    },
    /// The store location already holds files or objects that are not a backfill store; nothing
    /// was written there.
    #[error(
        "`{location}` holds {names} which are not part of a backfill store; nothing was written\n\n\
         hint: point `--store` at an empty location or at an existing backfill store (a directory \
         or prefix holding only `bars/`, `actions/` and `_meta/`)"
    )]
    Foreign {
        /// The store location.
        location: String,
        /// The first few foreign names, quoted.
        names: String,
    },
    /// Other writers kept changing the same file: a conditional write lost `attempts` races in a
    /// row. Nothing of this write was kept; the other writers' changes are intact.
    #[error(
        "gave up writing `{path}` after losing {attempts} races with other writers\n\n\
         hint: run again; if it keeps happening, fewer processes should write the same tickers",
        path = path.display()
    )]
    Contended {
        /// The file or object.
        path: PathBuf,
        /// How many conditional writes were tried.
        attempts: u32,
    },
    /// Bars were handed in on another split/dividend basis than the stored file they belong to
    /// records (see [`Basis`](crate::Basis)); merging them would mix two adjustment bases. Nothing
    /// was written.
    #[error(
        "the stored bars of `{symbol}` `{interval}` in `{path}` are on another split/dividend basis \
         than the bars being written; nothing was written\n\nhint: run again: a run re-bases the \
         stored series before it writes new bars",
        path = path.display()
    )]
    BasisChanged {
        symbol: Symbol,
        interval: Interval,
        /// The stored file.
        path: PathBuf,
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

    pub(crate) fn remote(op: &'static str, path: String, e: &object_store::Error) -> StoreError {
        let reason = error_chain(e);
        let lower = reason.to_ascii_lowercase();
        let (keys, endpoint) = if path.starts_with("gs://") {
            (
                "`GOOGLE_SERVICE_ACCOUNT` (or `GOOGLE_APPLICATION_CREDENTIALS`)",
                "the network path to Google Cloud Storage",
            )
        } else if path.starts_with("az://") || path.starts_with("abfs") {
            (
                "`AZURE_STORAGE_ACCOUNT_NAME` and `AZURE_STORAGE_ACCOUNT_KEY`",
                "`AZURE_STORAGE_ENDPOINT` (or `endpoint` in the `[store]` table)",
            )
        } else {
            (
                "`AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`",
                "`AWS_ENDPOINT_URL` (or `endpoint` in the `[store]` table)",
            )
        };
        let hint = if lower.contains("nosuchbucket")
            || lower.contains("bucket does not exist")
            || lower.contains("containernotfound")
        {
            "the bucket does not exist; create it, or fix the bucket name in `--store`".to_owned()
        } else if matches!(
            e,
            object_store::Error::Unauthenticated { .. }
                | object_store::Error::PermissionDenied { .. }
        ) || lower.contains("invalidaccesskeyid")
            || lower.contains("signaturedoesnotmatch")
            || lower.contains("accessdenied")
            || lower.contains("403 forbidden")
            || lower.contains("token request")
        {
            format!(
                "the server refused these credentials; check {keys} (or the `[store]` table of \
                 backfill.toml) and that they may access this bucket"
            )
        } else if lower.contains("connection refused")
            || lower.contains("dns error")
            || lower.contains("error sending request")
            || lower.contains("timed out")
        {
            format!(
                "nothing answers at the storage endpoint; check {endpoint} and that the server is running"
            )
        } else {
            String::new()
        };
        StoreError::Remote {
            op,
            path: path.into(),
            reason,
            hint: if hint.is_empty() {
                String::new()
            } else {
                format!("\n\nhint: {hint}")
            },
        }
    }

    /// True when the error comes from the store's location or credentials rather than from its
    /// content: the user must fix how the store is reached (exit status 2).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            StoreError::Location { .. } | StoreError::Foreign { .. }
        ) || matches!(self, StoreError::Remote { hint, .. } if !hint.is_empty())
    }

    /// The path the error is about, when there is one.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            StoreError::Io { path, .. }
            | StoreError::Corrupt { path, .. }
            | StoreError::Encode { path, .. }
            | StoreError::Remote { path, .. }
            | StoreError::Contended { path, .. }
            | StoreError::BasisChanged { path, .. } => Some(path),
            StoreError::InvalidInput { .. }
            | StoreError::Location { .. }
            | StoreError::Foreign { .. } => None,
        }
    }

    /// True when the disk (or quota) is full: the caller should stop, not retry.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, StoreError::Io { cause, .. } if is_disk_full(cause))
    }
}

/// The error and its sources in one line, without repeating a source already in the text.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
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

    #[test]
    fn remote_hints_name_the_cloud_s_own_settings() {
        let err = |msg: &str| object_store::Error::Generic {
            store: "test",
            source: msg.to_owned().into(),
        };
        let refused = StoreError::remote("list", "s3://b/p".into(), &err("Connection refused"));
        assert!(refused.is_usage());
        assert!(
            refused.to_string().contains("`AWS_ENDPOINT_URL`"),
            "{refused}"
        );
        let gs = StoreError::remote(
            "list",
            "gs://b/p".into(),
            &err("Error performing token request"),
        );
        assert!(gs.to_string().contains("`GOOGLE_SERVICE_ACCOUNT`"), "{gs}");
        let az = StoreError::remote("list", "az://c/p".into(), &err("AccessDenied"));
        assert!(
            az.to_string().contains("`AZURE_STORAGE_ACCOUNT_KEY`"),
            "{az}"
        );
        let other = StoreError::remote("read", "s3://b/p/x".into(), &err("500 Internal"));
        assert!(
            !other.is_usage() && !other.to_string().contains("hint:"),
            "{other}"
        );
    }
}
