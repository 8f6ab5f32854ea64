//! A store in a local directory.
//!
//! A write goes to a temp file in `_meta/tmp/` (`.<name>.<pid>.<n>.tmp`: never `*.parquet`, and
//! outside `bars/`, so no reader glob sees it) and is renamed over the final name. Leftovers of
//! killed writers stay in `_meta/tmp/` and are removed by age ([`Backend::clean`]), never by
//! asking whether their pid is alive: the writer may be on another host that shares the volume.
//! A conditional write compares the stored version under an exclusive `flock` on
//! `_meta/locks/<key>.lock`, held for the compare, the rename and its fsync only, so two processes
//! on this host (or on a filesystem whose `flock` spans hosts) never both win.
//!
//! # What is fsynced, and when
//!
//! A [`put`](Backend::put) returns once its content survives a power loss, and callers order
//! their writes by that (the bars before the ledger entry that records them, staged files before
//! the intent that names them). For that it fsyncs, in this order:
//!
//! 1. the parent of each directory it creates on the way to its key, right after creating it
//!    (`bars/interval=1d/` when `symbol=MSFT/` is new), so the new directory stays reachable;
//! 2. the temp file, before the rename, so the name never points at data not yet on disk;
//! 3. the directory renamed into, after the rename: from then on a crash leaves the new file.
//!
//! A [`delete`](Backend::delete) fsyncs the directory it removed from. Nothing else is fsynced:
//! `_meta/tmp/` and the directories under `_meta/locks/` are created without it (lock files hold
//! no data, and a temp file is either renamed into a directory that step 3 fsyncs, or garbage;
//! after a power loss such a directory may be gone, and the next write creates it again).
//! `_meta` itself is created like a data directory, since the ledger and the metadata live
//! under it. So a put into an existing directory costs two fsyncs, and one that creates its
//! directory three (`bars/interval=1d/symbol=MSFT/all.parquet` of a new symbol).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use bytes::Bytes;
use jiff::Timestamp;

use super::{Backend, Blob, Conflict, Entry, PutMode, Version, join, parent};
use crate::StoreError;

/// Where writes are staged before the rename: one directory, outside every reader glob, so that
/// leftovers of killed writers are found without walking the store.
pub(crate) const TEMP_DIR: &str = "_meta/tmp";

/// Where the lock files of conditional writes are, one per key written (`<key>.lock`).
const LOCK_DIR: &str = "_meta/locks";

/// The directory of the ledger and metadata; the parent of [`TEMP_DIR`] and [`LOCK_DIR`].
const META_DIR: &str = "_meta";

/// Suffix of in-flight temp files. Never `.parquet`, so no reader glob ever sees one.
pub(crate) const TEMP_SUFFIX: &str = ".tmp";

/// Files under a local directory.
#[derive(Debug)]
pub(crate) struct Local {
    root: PathBuf,
    location: String,
    /// Every path fsynced, in order: what the tests check a write makes durable.
    #[cfg(test)]
    synced: std::sync::Mutex<Vec<PathBuf>>,
}

impl Local {
    /// A store rooted at `root` (made absolute by the caller).
    pub(crate) fn new(root: PathBuf) -> Local {
        let location = root.display().to_string();
        Local {
            root,
            location,
            #[cfg(test)]
            synced: std::sync::Mutex::default(),
        }
    }

    fn abs(&self, key: &str) -> PathBuf {
        let rel = Path::new(key);
        debug_assert!(
            rel.components().all(|c| matches!(c, Component::Normal(_))),
            "store keys are relative and plain: {key}"
        );
        self.root.join(rel)
    }

    /// Creates directory `key` and any missing parents, fsyncing each parent that gained an
    /// entry so the new directories survive a crash.
    fn ensure_dir(&self, key: &str) -> Result<(), StoreError> {
        let abs = self.abs(key);
        if abs.is_dir() {
            return Ok(());
        }
        let mut cur = self.root.clone();
        for comp in Path::new(key).components() {
            let parent = cur.clone();
            cur.push(comp);
            match fs::create_dir(&cur) {
                Ok(()) => self.sync_dir(&parent)?,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(StoreError::io("create directory", &cur, e)),
            }
        }
        Ok(())
    }

    /// Creates directory `key` under [`LOCK_DIR`] or [`TEMP_DIR`] and any missing parents
    /// without fsync, since nothing in them needs to survive a crash (see the module docs).
    /// `_meta` itself is created by [`ensure_dir`](Local::ensure_dir), with its fsync: the
    /// ledger and the metadata live under it.
    fn ensure_scratch_dir(&self, key: &str) -> Result<(), StoreError> {
        debug_assert!(
            key.starts_with(LOCK_DIR) || key.starts_with(TEMP_DIR),
            "{key}"
        );
        let abs = self.abs(key);
        if abs.is_dir() {
            return Ok(());
        }
        self.ensure_dir(META_DIR)?;
        fs::create_dir_all(&abs).map_err(|e| StoreError::io("create directory", &abs, e))
    }

    /// Writes `bytes` to a new, fsynced temp file in [`TEMP_DIR`]; returns its path.
    fn stage(&self, key: &str, bytes: &[u8]) -> Result<PathBuf, StoreError> {
        self.ensure_dir(parent(key))?;
        self.ensure_scratch_dir(TEMP_DIR)?;
        let name = key.rsplit('/').next().unwrap_or(key);
        let tmp = self.abs(TEMP_DIR).join(temp_name(name));
        let write = || -> io::Result<()> {
            let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            f.write_all(bytes)?;
            #[cfg(test)]
            self.synced.lock().expect("not poisoned").push(tmp.clone());
            f.sync_all()
        };
        if let Err(e) = write() {
            let _ = fs::remove_file(&tmp);
            return Err(StoreError::io("write", self.abs(key), e));
        }
        Ok(tmp)
    }

    /// The exclusive lock serialising conditional writes to `key`, released on drop.
    fn lock(&self, key: &str) -> Result<File, StoreError> {
        let lock_key = join(LOCK_DIR, &format!("{key}.lock"));
        self.ensure_scratch_dir(parent(&lock_key))?;
        let abs = self.abs(&lock_key);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&abs)
            .map_err(|e| StoreError::io("open lock file", &abs, e))?;
        file.lock().map_err(|e| StoreError::io("lock", &abs, e))?;
        Ok(file)
    }

    /// Fsyncs directory `dir`, so that the entries it gained or lost survive a crash.
    #[cfg_attr(
        not(test),
        expect(clippy::unused_self, reason = "tests record the syncs in `self`")
    )]
    fn sync_dir(&self, dir: &Path) -> Result<(), StoreError> {
        #[cfg(test)]
        self.synced
            .lock()
            .expect("not poisoned")
            .push(dir.to_owned());
        File::open(dir)
            .and_then(|f| f.sync_all())
            .map_err(|e| StoreError::io("sync directory", dir, e))
    }

    fn current(abs: &Path) -> Result<Option<Version>, StoreError> {
        match fs::metadata(abs) {
            Ok(m) => Ok(Some(version_of(&m))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io("inspect", abs, e)),
        }
    }
}

/// Inode, modification time and size: a rename installs a new inode, so any commit changes it.
fn version_of(m: &fs::Metadata) -> Version {
    Version {
        tag: format!(
            "{:x}-{:x}.{:x}-{:x}",
            m.ino(),
            m.mtime(),
            m.mtime_nsec(),
            m.size()
        ),
        version: None,
    }
}

/// The pid in a temp file name `.<name>.<pid>.<n>.tmp`, when `name` is one.
pub(crate) fn temp_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?.strip_suffix(TEMP_SUFFIX)?;
    let mut parts = rest.rsplitn(3, '.');
    let _n: u64 = parts.next()?.parse().ok()?;
    let pid: u32 = parts.next()?.parse().ok()?;
    parts.next().filter(|n| !n.is_empty())?;
    Some(pid)
}

fn temp_name(final_name: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()));
    format!(
        ".{final_name}.{}.{}{TEMP_SUFFIX}",
        std::process::id(),
        (nanos << 20) ^ n
    )
}

fn modified(m: &fs::Metadata) -> Option<Timestamp> {
    let t = m.modified().ok()?;
    Timestamp::try_from(t).ok()
}

impl Backend for Local {
    fn location(&self) -> &str {
        &self.location
    }

    fn describe(&self, key: &str) -> String {
        self.abs(key).display().to_string()
    }

    fn prepare(&self, create: bool) -> Result<(), StoreError> {
        if !create || self.root.is_dir() {
            return Ok(());
        }
        fs::create_dir_all(&self.root)
            .map_err(|e| StoreError::io("create directory", &self.root, e))
    }

    fn get(&self, key: &str) -> Result<Option<(Blob, Version)>, StoreError> {
        let abs = self.abs(key);
        let mut file = match File::open(&abs) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io("open", abs, e)),
        };
        let meta = file
            .metadata()
            .map_err(|e| StoreError::io("inspect", &abs, e))?;
        if meta.is_dir() {
            return Ok(None);
        }
        // The version is the open file's: a commit that renames over it afterwards does not
        // change what is read from this handle.
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        file.read_to_end(&mut bytes)
            .map_err(|e| StoreError::io("read", &abs, e))?;
        Ok(Some((Blob::new(Bytes::from(bytes)), version_of(&meta))))
    }

    fn put(
        &self,
        key: &str,
        bytes: Bytes,
        mode: &PutMode,
    ) -> Result<Result<Version, Conflict>, StoreError> {
        let abs = self.abs(key);
        let tmp = self.stage(key, &bytes)?;
        let result = (|| {
            let _lock = self.lock(key)?;
            let ok = match (mode, Self::current(&abs)?) {
                (PutMode::Create, None) => true,
                (PutMode::Replace(want), Some(have)) => *want == have,
                _ => false,
            };
            if !ok {
                return Ok(Err(Conflict));
            }
            fs::rename(&tmp, &abs).map_err(|e| StoreError::io("rename into place", &abs, e))?;
            // Not deferred: the caller's next write may point at this file (a ledger entry at its
            // bars, an intent at its staged files) and must not survive a crash without it.
            self.sync_dir(abs.parent().unwrap_or(&self.root))?;
            Ok(Ok(Self::current(&abs)?.ok_or_else(|| {
                StoreError::io("inspect", &abs, io::ErrorKind::NotFound.into())
            })?))
        })();
        if !matches!(result, Ok(Ok(_))) {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        let abs = self.abs(key);
        match fs::remove_file(&abs) {
            Ok(()) => self.sync_dir(abs.parent().unwrap_or(&self.root)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io("remove", abs, e)),
        }
    }

    fn list(&self, key: &str) -> Result<Vec<Entry>, StoreError> {
        let abs = self.abs(key);
        let rd = match fs::read_dir(&abs) {
            Ok(rd) => rd,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                return Ok(Vec::new());
            }
            Err(e) => return Err(StoreError::io("list", abs, e)),
        };
        let mut out = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| StoreError::io("list", &abs, e))?;
            let meta = match entry.metadata() {
                Ok(m) => m,
                // Renamed or removed by another writer while we listed.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(StoreError::io("inspect", entry.path(), e)),
            };
            out.push(Entry {
                name: entry.file_name().to_string_lossy().into_owned(),
                is_dir: meta.is_dir(),
                modified: if meta.is_dir() { None } else { modified(&meta) },
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn is_leftover(&self, name: &str) -> bool {
        temp_pid(name).is_some()
    }

    fn clean(&self, key: &str, older_than: Timestamp) -> Result<Vec<String>, StoreError> {
        let mut removed = Vec::new();
        for e in self.list(key)? {
            if e.is_dir || !self.is_leftover(&e.name) || e.modified.is_none_or(|m| m >= older_than)
            {
                continue;
            }
            let k = join(key, &e.name);
            let abs = self.abs(&k);
            match fs::remove_file(&abs) {
                Ok(()) => removed.push(k),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io("remove stale temp file", &abs, e)),
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_parse_and_never_end_in_parquet() {
        let n = temp_name("all.parquet");
        assert!(n.starts_with(".all.parquet."), "{n}");
        assert_eq!(n.rsplit('.').next(), Some("tmp"));
        assert_eq!(temp_pid(&n), Some(std::process::id()));
        assert_eq!(temp_pid(".a.12.34.tmp"), Some(12));
        assert_eq!(temp_pid("a.12.34.tmp"), None);
        assert_eq!(temp_pid(".12.34.tmp"), None);
        assert_eq!(temp_pid(".a.x.34.tmp"), None);
    }

    /// The paths `b` fsynced since the last call, relative to its root; a temp file as `tmp`.
    fn synced(b: &Local) -> Vec<String> {
        let mut synced = b.synced.lock().unwrap();
        let out = synced
            .iter()
            .map(|p| {
                let rel = p
                    .strip_prefix(&b.root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                if rel.starts_with("_meta/tmp/.") {
                    "tmp".to_owned()
                } else {
                    rel
                }
            })
            .collect();
        synced.clear();
        out
    }

    #[test]
    fn a_write_syncs_its_file_and_data_directories_never_lock_or_temp_directories() {
        let dir = tempfile::tempdir().unwrap();
        let b = Local::new(dir.path().to_path_buf());
        let key = "bars/interval=1d/symbol=A/all.parquet";
        let v1 = b
            .put(key, Bytes::from_static(b"one"), &PutMode::Create)
            .unwrap()
            .unwrap();
        // Each directory created on the way is made durable in its parent (`_meta` too, for the
        // ledger under it), then the temp file, then the directory it is renamed into.
        assert_eq!(
            synced(&b),
            [
                "",
                "bars",
                "bars/interval=1d",
                "",
                "tmp",
                "bars/interval=1d/symbol=A"
            ]
        );
        assert!(
            dir.path()
                .join("_meta/locks/bars/interval=1d/symbol=A")
                .is_dir()
        );
        b.put(key, Bytes::from_static(b"two"), &PutMode::Replace(v1))
            .unwrap()
            .unwrap();
        assert_eq!(synced(&b), ["tmp", "bars/interval=1d/symbol=A"]);
        b.put(
            "bars/interval=1d/symbol=B/all.parquet",
            Bytes::from_static(b"one"),
            &PutMode::Create,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            synced(&b),
            ["bars/interval=1d", "tmp", "bars/interval=1d/symbol=B"]
        );
        b.delete(key).unwrap();
        assert_eq!(synced(&b), ["bars/interval=1d/symbol=A"]);
    }

    #[test]
    fn old_temps_are_cleaned_by_age_not_by_pid() {
        let dir = tempfile::tempdir().unwrap();
        let b = Local::new(dir.path().to_path_buf());
        b.put("a/b/c.bin", Bytes::from_static(b"one"), &PutMode::Create)
            .unwrap()
            .unwrap();
        // A temp file of a writer that may be alive on another host: its pid means nothing here.
        let foreign = dir.path().join("_meta/tmp/.c.bin.999999999.1.tmp");
        fs::write(&foreign, b"x").unwrap();
        let hour_ago = Timestamp::now() - jiff::SignedDuration::from_hours(1);
        assert!(b.clean(TEMP_DIR, hour_ago).unwrap().is_empty());
        assert!(foreign.exists());
        let later = Timestamp::now() + jiff::SignedDuration::from_secs(5);
        assert_eq!(
            b.clean(TEMP_DIR, later).unwrap(),
            vec!["_meta/tmp/.c.bin.999999999.1.tmp".to_owned()]
        );
        assert!(!foreign.exists());
        // The committed file is never a leftover.
        assert!(b.get("a/b/c.bin").unwrap().is_some());
    }
}
