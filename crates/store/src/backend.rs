//! The storage seam: "commit these bytes to this relative path atomically / read / list / lock".
//!
//! Everything above this module speaks relative paths (`bars/interval=1d/symbol=MSFT/all.parquet`)
//! and never touches `std::fs` directly, so an object-store backend (conditional PUT instead of
//! rename, a lock object or lease instead of `flock`) can slot in behind [`Backend`] later.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crate::StoreError;

/// Suffix of in-flight temp files. Never `.parquet`, so no reader glob ever sees one.
pub(crate) const TEMP_SUFFIX: &str = ".tmp";

/// A stale temp file older than this is removed even if its writer's pid looks alive (pid reuse).
const STALE_AGE: Duration = Duration::from_hours(6);

/// What the store needs from where its files live.
pub(crate) trait Backend {
    /// A handle the Parquet reader can read ranges from (footer first, then column chunks).
    type Reader: parquet::file::reader::ChunkReader + 'static;
    /// Held while a lock is held; dropping it releases the lock.
    type Lock;

    /// Opens a file for reading; `None` if it does not exist.
    fn open(&self, rel: &Path) -> Result<Option<Self::Reader>, StoreError>;
    /// Reads a whole (small) file; `None` if it does not exist.
    fn read(&self, rel: &Path) -> Result<Option<Vec<u8>>, StoreError>;
    /// Atomically and durably replaces (or creates) `rel` with `bytes`: afterwards readers see
    /// either the old content or the new, never a mix, and the new survives a power cut.
    fn commit(&self, rel: &Path, bytes: &[u8]) -> Result<(), StoreError>;
    /// Durably removes `rel`; `false` if it was not there.
    fn remove(&self, rel: &Path) -> Result<bool, StoreError>;
    /// Entries directly under `rel`: `(name, is_dir)`, sorted by name. Empty if `rel` is missing.
    fn list(&self, rel: &Path) -> Result<Vec<(String, bool)>, StoreError>;
    /// Takes the exclusive cross-process lock named `rel`, waiting for it.
    fn lock(&self, rel: &Path) -> Result<Self::Lock, StoreError>;
}

/// Files on a local filesystem: temp file + fsync + rename + directory fsync; `flock` locks.
#[derive(Debug)]
pub(crate) struct Local {
    root: PathBuf,
}

/// An exclusive advisory lock on a lock file, released on drop (when the file is closed).
#[derive(Debug)]
pub(crate) struct LocalLock {
    _file: File,
}

impl Local {
    pub(crate) fn new(root: PathBuf) -> Local {
        Local { root }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn abs(&self, rel: &Path) -> PathBuf {
        debug_assert!(
            rel.components().all(|c| matches!(c, Component::Normal(_))),
            "store paths are relative and plain: {}",
            rel.display()
        );
        self.root.join(rel)
    }

    /// Creates `rel` (a directory) and any missing parents, fsyncing each parent that gained an
    /// entry so the new directories survive a crash.
    pub(crate) fn ensure_dir(&self, rel: &Path) -> Result<(), StoreError> {
        let abs = self.abs(rel);
        if abs.is_dir() {
            return Ok(());
        }
        let mut cur = self.root.clone();
        for comp in rel.components() {
            let parent = cur.clone();
            cur.push(comp);
            match fs::create_dir(&cur) {
                Ok(()) => sync_dir(&parent)?,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(StoreError::io("create directory", &cur, e)),
            }
        }
        Ok(())
    }

    /// Removes temp files left behind by writers that are gone (dead pid, or very old), anywhere
    /// in the store. Returns what was removed.
    pub(crate) fn clean_stale_temps(&self) -> Result<Vec<PathBuf>, StoreError> {
        let mut removed = Vec::new();
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            let rd = match fs::read_dir(&dir) {
                Ok(rd) => rd,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(StoreError::io("list", &dir, e)),
            };
            for entry in rd {
                let entry = entry.map_err(|e| StoreError::io("list", &dir, e))?;
                let ft = entry
                    .file_type()
                    .map_err(|e| StoreError::io("inspect", entry.path(), e))?;
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if ft.is_dir() {
                    stack.push(entry.path());
                } else if ft.is_file() && is_stale_temp(&name, &entry) {
                    let path = entry.path();
                    match fs::remove_file(&path) {
                        Ok(()) => removed.push(path),
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(e) => return Err(StoreError::io("remove stale temp file", &path, e)),
                    }
                }
            }
        }
        Ok(removed)
    }
}

/// `.<name>.<pid>.<n>.tmp` whose writer is not alive, or which is older than [`STALE_AGE`].
fn is_stale_temp(name: &str, entry: &fs::DirEntry) -> bool {
    let Some(pid) = temp_pid(name) else {
        return false;
    };
    let old = entry
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age > STALE_AGE);
    old || !pid_alive(pid)
}

pub(crate) fn temp_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?.strip_suffix(TEMP_SUFFIX)?;
    let mut parts = rest.rsplitn(3, '.');
    let _n: u64 = parts.next()?.parse().ok()?;
    let pid: u32 = parts.next()?.parse().ok()?;
    parts.next().filter(|n| !n.is_empty())?;
    Some(pid)
}

fn pid_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let proc = Path::new("/proc");
    if proc.join("self").exists() {
        proc.join(pid.to_string()).exists()
    } else {
        // No procfs: only age decides.
        true
    }
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

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| StoreError::io("sync directory", dir, e))
}

impl Backend for Local {
    type Reader = File;
    type Lock = LocalLock;

    fn open(&self, rel: &Path) -> Result<Option<File>, StoreError> {
        let abs = self.abs(rel);
        match File::open(&abs) {
            Ok(f) => Ok(Some(f)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io("open", abs, e)),
        }
    }

    fn read(&self, rel: &Path) -> Result<Option<Vec<u8>>, StoreError> {
        let abs = self.abs(rel);
        match fs::read(&abs) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io("read", abs, e)),
        }
    }

    fn commit(&self, rel: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        let abs = self.abs(rel);
        let dir_rel = rel.parent().unwrap_or(Path::new(""));
        self.ensure_dir(dir_rel)?;
        let dir = self.abs(dir_rel);
        let final_name = abs
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(temp_name(&final_name));
        let write = || -> io::Result<()> {
            let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()
        };
        if let Err(e) = write() {
            let _ = fs::remove_file(&tmp);
            return Err(StoreError::io("write", abs, e));
        }
        if let Err(e) = fs::rename(&tmp, &abs) {
            let _ = fs::remove_file(&tmp);
            return Err(StoreError::io("rename into place", abs, e));
        }
        sync_dir(&dir)
    }

    fn remove(&self, rel: &Path) -> Result<bool, StoreError> {
        let abs = self.abs(rel);
        match fs::remove_file(&abs) {
            Ok(()) => {
                if let Some(dir) = abs.parent() {
                    sync_dir(dir)?;
                }
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StoreError::io("remove", abs, e)),
        }
    }

    fn list(&self, rel: &Path) -> Result<Vec<(String, bool)>, StoreError> {
        let abs = self.abs(rel);
        let rd = match fs::read_dir(&abs) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io("list", abs, e)),
        };
        let mut out = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| StoreError::io("list", &abs, e))?;
            let is_dir = entry
                .file_type()
                .map_err(|e| StoreError::io("inspect", entry.path(), e))?
                .is_dir();
            out.push((entry.file_name().to_string_lossy().into_owned(), is_dir));
        }
        out.sort();
        Ok(out)
    }

    fn lock(&self, rel: &Path) -> Result<LocalLock, StoreError> {
        let abs = self.abs(rel);
        if let Some(parent) = rel.parent() {
            self.ensure_dir(parent)?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&abs)
            .map_err(|e| StoreError::io("open lock file", &abs, e))?;
        file.lock().map_err(|e| StoreError::io("lock", &abs, e))?;
        Ok(LocalLock { _file: file })
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

    #[test]
    fn commit_replaces_and_cleans_dead_temps() {
        let dir = tempfile::tempdir().unwrap();
        let b = Local::new(dir.path().to_path_buf());
        let rel = Path::new("a/b/c.bin");
        b.commit(rel, b"one").unwrap();
        b.commit(rel, b"two").unwrap();
        assert_eq!(b.read(rel).unwrap().unwrap(), b"two");
        // A temp file from a dead writer (pid 0 never exists in /proc) and one of ours.
        let dead = dir.path().join("a/b/.c.bin.999999999.1.tmp");
        let ours = dir
            .path()
            .join(format!("a/b/.c.bin.{}.1.tmp", std::process::id()));
        fs::write(&dead, b"x").unwrap();
        fs::write(&ours, b"x").unwrap();
        let removed = b.clean_stale_temps().unwrap();
        assert_eq!(removed, vec![dead.clone()]);
        assert!(!dead.exists() && ours.exists());
        assert_eq!(
            b.list(Path::new("a/b")).unwrap(),
            vec![
                (
                    ours.file_name().unwrap().to_string_lossy().into_owned(),
                    false
                ),
                ("c.bin".to_owned(), false)
            ]
        );
        assert!(b.remove(rel).unwrap());
        assert!(!b.remove(rel).unwrap());
        assert_eq!(b.read(rel).unwrap(), None);
    }
}
