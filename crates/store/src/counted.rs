//! Request counters around a [`Backend`], for reports and benchmarks.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use jiff::Timestamp;

use crate::StoreError;
use crate::backend::{Backend, Blob, Conflict, Entry, PutMode, Version};

/// Requests a store sent to its backend since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IoStats {
    /// Reads of a file or object (`GET`), found or not.
    pub reads: u64,
    /// Writes (`PUT`, including conditional writes that lost a race) and deletes.
    pub writes: u64,
    /// Directory listings (`LIST`).
    pub lists: u64,
    /// Conditional writes that lost a race; each was followed by a re-read, a re-merge and a retry.
    pub conflicts: u64,
}

#[derive(Debug)]
pub(crate) struct Counted {
    inner: Box<dyn Backend>,
    reads: AtomicU64,
    writes: AtomicU64,
    lists: AtomicU64,
    conflicts: AtomicU64,
}

impl Counted {
    pub(crate) fn new(inner: Box<dyn Backend>) -> Counted {
        Counted {
            inner,
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            lists: AtomicU64::new(0),
            conflicts: AtomicU64::new(0),
        }
    }

    pub(crate) fn stats(&self) -> IoStats {
        IoStats {
            reads: self.reads.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
            lists: self.lists.load(Ordering::Relaxed),
            conflicts: self.conflicts.load(Ordering::Relaxed),
        }
    }
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl Backend for Counted {
    fn location(&self) -> &str {
        self.inner.location()
    }

    fn describe(&self, key: &str) -> String {
        self.inner.describe(key)
    }

    fn prepare(&self, create: bool) -> Result<(), StoreError> {
        bump(&self.lists);
        self.inner.prepare(create)
    }

    fn get(&self, key: &str) -> Result<Option<(Blob, Version)>, StoreError> {
        bump(&self.reads);
        self.inner.get(key)
    }

    fn put(
        &self,
        key: &str,
        bytes: Bytes,
        mode: &PutMode,
    ) -> Result<Result<Version, Conflict>, StoreError> {
        bump(&self.writes);
        let r = self.inner.put(key, bytes, mode);
        if matches!(r, Ok(Err(Conflict))) {
            bump(&self.conflicts);
        }
        r
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        bump(&self.writes);
        self.inner.delete(key)
    }

    fn list(&self, key: &str) -> Result<Vec<Entry>, StoreError> {
        bump(&self.lists);
        self.inner.list(key)
    }

    fn is_leftover(&self, name: &str) -> bool {
        self.inner.is_leftover(name)
    }

    fn clean(&self, key: &str, older_than: Timestamp) -> Result<Vec<String>, StoreError> {
        bump(&self.lists);
        self.inner.clean(key, older_than)
    }
}
