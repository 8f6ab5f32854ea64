//! Where a store lives: a local directory or an object-storage URL, and how it is reached.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use object_store::ObjectStore;

use crate::StoreError;
use crate::backend::{Backend, Local, Remote, remote};

/// Settings for reaching object storage, on top of each cloud's standard environment variables
/// (for S3: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`,
/// `AWS_ALLOW_HTTP`). Keys are `object_store` configuration keys (`endpoint`, `region`,
/// `access_key_id`, `secret_access_key`, `allow_http`, …); a key given here wins over the
/// environment. `Debug` shows the keys, never the values.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct StoreOptions {
    /// Configuration key → value (the `[store]` table of `backfill.toml`).
    pub config: BTreeMap<String, String>,
    /// Open for reading only: nothing is written, not even to finish another writer's
    /// interrupted commit (`check` and `plan` use this, so read-only credentials suffice).
    pub read_only: bool,
}

impl fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreOptions")
            .field("config_keys", &self.config.keys().collect::<Vec<_>>())
            .field("read_only", &self.read_only)
            .finish()
    }
}

/// A parsed `--store` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    /// A directory (`./data`, `/srv/bars`, `file:///srv/bars`).
    Dir(PathBuf),
    /// An object-storage URL: scheme (`s3`, `gs`, `az`, `memory`), bucket, key prefix.
    Url {
        scheme: String,
        bucket: String,
        prefix: String,
    },
}

impl Location {
    /// Parses a `--store` value. Anything without `scheme://` is a directory.
    pub(crate) fn parse(raw: &str) -> Result<Location, StoreError> {
        let bad = |reason: &str, hint: &str| StoreError::Location {
            location: redact(raw),
            reason: reason.to_owned(),
            hint: hint.to_owned(),
        };
        let Some((scheme, rest)) = raw.split_once("://") else {
            return Ok(Location::Dir(PathBuf::from(raw)));
        };
        let scheme = scheme.to_ascii_lowercase();
        match scheme.as_str() {
            "file" => {
                if !rest.starts_with('/') {
                    return Err(bad(
                        "a `file://` URL needs an absolute path",
                        "write `file:///abs/path` (three slashes) or give the directory as a plain path",
                    ));
                }
                Ok(Location::Dir(PathBuf::from(rest)))
            }
            "s3" | "s3a" | "gs" | "az" | "abfs" | "abfss" | "memory" => {
                if rest.contains('@') && scheme != "abfs" && scheme != "abfss" {
                    return Err(bad(
                        "credentials do not belong in the store URL",
                        "pass them in the environment (`AWS_ACCESS_KEY_ID`, …) or the `[store]` table of backfill.toml",
                    ));
                }
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() && scheme != "memory" {
                    return Err(bad(
                        "the URL names no bucket",
                        "write `s3://bucket/prefix` (or `gs://…`, `az://container/prefix`)",
                    ));
                }
                let prefix = prefix.trim_matches('/').to_owned();
                if prefix.split('/').any(|s| s == "." || s == "..") || prefix.contains("//") {
                    return Err(bad(
                        "the prefix has an empty, `.` or `..` segment",
                        "write the prefix as plain names separated by single `/`",
                    ));
                }
                Ok(Location::Url {
                    scheme: if scheme == "s3a" {
                        "s3".to_owned()
                    } else {
                        scheme
                    },
                    bucket: bucket.to_owned(),
                    prefix,
                })
            }
            other => Err(bad(
                &format!("the scheme `{other}://` is not supported"),
                "use a directory, `file:///…`, `s3://bucket/prefix`, `gs://bucket/prefix` or `az://container/prefix`",
            )),
        }
    }

    /// The backend for this location.
    pub(crate) fn backend(&self, options: &StoreOptions) -> Result<Box<dyn Backend>, StoreError> {
        match self {
            Location::Dir(dir) => {
                let root =
                    std::path::absolute(dir).map_err(|e| StoreError::io("resolve", dir, e))?;
                Ok(Box::new(Local::new(root)))
            }
            Location::Url {
                scheme,
                bucket,
                prefix,
            } => {
                let shown = if prefix.is_empty() {
                    format!("{scheme}://{bucket}")
                } else {
                    format!("{scheme}://{bucket}/{prefix}")
                };
                let store = build(scheme, bucket, options).map_err(|e| StoreError::Location {
                    location: shown.clone(),
                    reason: e.to_string(),
                    hint: "check the store settings in the environment and in the `[store]` table of backfill.toml".to_owned(),
                })?;
                Ok(Box::new(Remote::new(store, prefix, shown)?))
            }
        }
    }
}

/// The URL with anything between `://` and `@` removed.
fn redact(raw: &str) -> String {
    match (raw.find("://"), raw.find('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &raw[..s], &raw[at..]),
        _ => raw.to_owned(),
    }
}

fn build(
    scheme: &str,
    bucket: &str,
    options: &StoreOptions,
) -> Result<Arc<dyn ObjectStore>, object_store::Error> {
    // object_store's HTTP client uses rustls; this workspace builds rustls with ring only.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let extra = remote::client_options();
    let config = extra
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .chain(options.config.iter().map(|(k, v)| (k.clone(), v.clone())));
    let url = format!("{scheme}://{bucket}");
    Ok(match scheme {
        "s3" => {
            let mut b = object_store::aws::AmazonS3Builder::from_env()
                .with_url(url)
                .with_retry(remote::retry_config());
            for (k, v) in config {
                b = b.with_config(k.to_ascii_lowercase().parse()?, v);
            }
            Arc::new(b.build()?)
        }
        "gs" => {
            let mut b = object_store::gcp::GoogleCloudStorageBuilder::from_env()
                .with_url(url)
                .with_retry(remote::retry_config());
            for (k, v) in config {
                b = b.with_config(k.to_ascii_lowercase().parse()?, v);
            }
            Arc::new(b.build()?)
        }
        "az" | "abfs" | "abfss" => {
            let mut b = object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_url(url)
                .with_retry(remote::retry_config());
            for (k, v) in config {
                b = b.with_config(k.to_ascii_lowercase().parse()?, v);
            }
            Arc::new(b.build()?)
        }
        _ => Arc::new(object_store::memory::InMemory::new()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dirs_and_urls() {
        assert_eq!(
            Location::parse("data").unwrap(),
            Location::Dir("data".into())
        );
        assert_eq!(
            Location::parse("file:///srv/x").unwrap(),
            Location::Dir("/srv/x".into())
        );
        assert_eq!(
            Location::parse("s3://bars/w40/").unwrap(),
            Location::Url {
                scheme: "s3".into(),
                bucket: "bars".into(),
                prefix: "w40".into()
            }
        );
        assert_eq!(
            Location::parse("gs://b").unwrap(),
            Location::Url {
                scheme: "gs".into(),
                bucket: "b".into(),
                prefix: String::new()
            }
        );
        for bad in [
            "ftp://x/y",
            "s3://",
            "s3://b/a/../c",
            "file://rel",
            "s3://key:secret@b/p",
        ] {
            let e = Location::parse(bad).unwrap_err().to_string();
            assert!(e.contains("hint:"), "{bad}: {e}");
            assert!(!e.contains("secret"), "{e}");
        }
    }

    #[test]
    fn options_debug_hides_values() {
        let mut o = StoreOptions::default();
        o.config
            .insert("secret_access_key".into(), "hunter2".into());
        assert!(!format!("{o:?}").contains("hunter2"));
    }
}
