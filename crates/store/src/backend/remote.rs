//! A store on object storage, through the `object_store` crate: S3 and S3-compatible servers,
//! Google Cloud Storage, Azure Blob Storage, and the in-memory store used in tests.
//!
//! Conditional writes map onto the server's own: [`PutMode::Create`] is `If-None-Match: *`,
//! [`PutMode::Replace`] is `If-Match: <etag>` (GCS: the object generation). Nothing is staged
//! under a temp name: a PUT is atomic on every object store, so there are no leftovers to clean.
//!
//! `object_store` is async; this backend owns a small tokio runtime and blocks the calling thread
//! on it, so the store keeps one blocking API for both backends (the engine already calls the
//! store from `spawn_blocking`).

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use jiff::Timestamp;
use object_store::path::Path as ObjPath;
use object_store::{
    GetOptions, ObjectStore, ObjectStoreExt, PutOptions, PutPayload, RetryConfig, UpdateVersion,
};

use super::{Backend, Blob, Conflict, Entry, PutMode, Version, join};
use crate::StoreError;

/// Objects under a prefix of a bucket (or container).
pub(crate) struct Remote {
    store: Arc<dyn ObjectStore>,
    /// The key prefix, without a trailing `/`; empty for a whole bucket.
    prefix: String,
    /// `s3://bucket/prefix`: what messages show (never credentials).
    location: String,
    rt: Runtime,
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// The runtime the async client runs on; shut down without waiting when the store is dropped
/// (dropping a runtime normally must not happen inside another runtime).
struct Runtime(Option<tokio::runtime::Runtime>);

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// How the object store client retries on its own (5xx, 429, connection resets) before the
/// store sees an error: a few quick attempts, so a wrong endpoint fails within seconds.
pub(crate) fn retry_config() -> RetryConfig {
    RetryConfig {
        max_retries: 4,
        retry_timeout: Duration::from_secs(30),
        ..RetryConfig::default()
    }
}

/// Client timeouts: connecting to a dead endpoint fails fast; a large PUT has time.
pub(crate) fn client_options() -> Vec<(&'static str, &'static str)> {
    vec![("connect_timeout", "5 seconds"), ("timeout", "120 seconds")]
}

impl Remote {
    /// A store under `prefix` of `store`; `location` is what messages show.
    pub(crate) fn new(
        store: Arc<dyn ObjectStore>,
        prefix: &str,
        location: String,
    ) -> Result<Remote, StoreError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("backfill-store-io")
            .enable_all()
            .build()
            .map_err(|e| StoreError::io("start the object storage client", &location, e))?;
        Ok(Remote {
            store,
            prefix: prefix.trim_matches('/').to_owned(),
            location,
            rt: Runtime(Some(rt)),
        })
    }

    /// Runs `fut` on the store's runtime and waits for it. Works from any thread, including a
    /// `spawn_blocking` thread of another runtime.
    fn block<T: Send + 'static>(&self, fut: impl Future<Output = T> + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.rt
            .0
            .as_ref()
            .expect("the runtime lives as long as the store")
            .spawn(async move {
                let _ = tx.send(fut.await);
            });
        rx.recv()
            .expect("the store's runtime runs every task it is given to completion")
    }

    fn path(&self, key: &str) -> Result<ObjPath, StoreError> {
        let full = join(&self.prefix, key);
        ObjPath::parse(&full).map_err(|e| StoreError::Remote {
            op: "name",
            path: self.describe(key).into(),
            reason: e.to_string(),
            hint: String::new(),
        })
    }

    fn error(&self, op: &'static str, key: &str, e: &object_store::Error) -> StoreError {
        StoreError::remote(op, self.describe(key), e)
    }
}

/// The store-level version of what the object store reported.
fn version(e_tag: Option<String>, version: Option<String>) -> Version {
    Version {
        tag: e_tag.unwrap_or_default(),
        version,
    }
}

impl Backend for Remote {
    fn location(&self) -> &str {
        &self.location
    }

    fn describe(&self, key: &str) -> String {
        if key.is_empty() {
            self.location.clone()
        } else {
            format!("{}/{key}", self.location.trim_end_matches('/'))
        }
    }

    fn prepare(&self, _create: bool) -> Result<(), StoreError> {
        // One LIST: fails on a missing bucket, wrong credentials or a dead endpoint, writes nothing.
        self.list("").map(|_| ())
    }

    fn get(&self, key: &str) -> Result<Option<(Blob, Version)>, StoreError> {
        let path = self.path(key)?;
        let store = self.store.clone();
        let got = self.block(async move {
            let r = store.get_opts(&path, GetOptions::default()).await?;
            let v = version(r.meta.e_tag.clone(), r.meta.version.clone());
            Ok::<_, object_store::Error>((r.bytes().await?, v))
        });
        match got {
            Ok((bytes, v)) => Ok(Some((Blob::new(bytes), v))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error("read", key, &e)),
        }
    }

    fn put(
        &self,
        key: &str,
        bytes: Bytes,
        mode: &PutMode,
    ) -> Result<Result<Version, Conflict>, StoreError> {
        let path = self.path(key)?;
        let store = self.store.clone();
        let mode = match mode {
            PutMode::Create => object_store::PutMode::Create,
            PutMode::Replace(v) => object_store::PutMode::Update(UpdateVersion {
                e_tag: Some(v.tag.clone()).filter(|t| !t.is_empty()),
                version: v.version.clone(),
            }),
        };
        let put = self.block(async move {
            store
                .put_opts(&path, PutPayload::from_bytes(bytes), PutOptions::from(mode))
                .await
        });
        match put {
            Ok(r) => Ok(Ok(version(r.e_tag, r.version))),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Ok(Err(Conflict)),
            Err(e) => Err(self.error("write", key, &e)),
        }
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path(key)?;
        let store = self.store.clone();
        match self.block(async move { store.delete(&path).await }) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error("delete", key, &e)),
        }
    }

    fn list(&self, key: &str) -> Result<Vec<Entry>, StoreError> {
        let dir = join(&self.prefix, key);
        let prefix = if dir.is_empty() {
            None
        } else {
            Some(ObjPath::parse(&dir).map_err(|e| StoreError::Remote {
                op: "name",
                path: self.describe(key).into(),
                reason: e.to_string(),
                hint: String::new(),
            })?)
        };
        let store = self.store.clone();
        let listed = self.block(async move { store.list_with_delimiter(prefix.as_ref()).await });
        let listed = listed.map_err(|e| self.error("list", key, &e))?;
        let mut out: Vec<Entry> = listed
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename())
            .map(|name| Entry {
                name: name.to_owned(),
                is_dir: true,
                modified: None,
            })
            .chain(listed.objects.iter().filter_map(|o| {
                Some(Entry {
                    name: o.location.filename()?.to_owned(),
                    is_dir: false,
                    modified: Timestamp::from_millisecond(o.last_modified.timestamp_millis()).ok(),
                })
            }))
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn is_leftover(&self, _name: &str) -> bool {
        false
    }

    fn clean(&self, _key: &str, _older_than: Timestamp) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }
}
