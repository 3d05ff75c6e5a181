//! Files on disk: atomic replacement, the temporary files a crash leaves, and the lock that keeps
//! a second app instance from cleaning up after a first one that is still running.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::{AppError, AppResult};

pub(super) const TEMP_MARK: &str = ".tmp-";
const LOCK_FILE: &str = ".lock";
// An instance that was just quit can take seconds to exit on a busy machine (its answer saved,
// its model dropped); a start within that time waits for it rather than opening read-only.
const LOCK_WAIT: Duration = Duration::from_secs(10);

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// How durable a write must be. Either way a crash leaves the old file or the new one, never a
/// torn one (the data is on disk before the rename); `Durable` also syncs the folder, so the new
/// file is the one found after a power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    Durable,
    /// An answer's snapshot while it streams: the next snapshot replaces it within a second, and
    /// the final save is durable.
    Snapshot,
}

/// Writes `bytes` to `path` so that a crash at any point leaves the old file or the new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> AppResult<()> {
    write_atomic_with(path, bytes, Durability::Durable)
}

pub fn write_atomic_with(path: &Path, bytes: &[u8], durability: Durability) -> AppResult<()> {
    let tmp = temp_path(path);
    write_then_rename(&tmp, path, bytes, durability).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        AppError::storage(path, e)
    })
}

fn write_then_rename(
    tmp: &Path,
    path: &Path,
    bytes: &[u8],
    durability: Durability,
) -> std::io::Result<()> {
    let mut f = fs::File::create(tmp)?;
    #[cfg(test)]
    full_disk::write(&mut f, tmp, bytes)?;
    f.write_all(bytes)?;
    fsync(&f, path.parent().unwrap_or(Path::new(".")))?;
    drop(f);
    fs::rename(tmp, path)?;
    match durability {
        Durability::Durable => sync_dir(path.parent().unwrap_or(Path::new("."))),
        Durability::Snapshot => Ok(()),
    }
}

pub(super) fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(
        ".{name}{TEMP_MARK}{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

pub(super) fn remove_temp_files(dir: &Path) -> AppResult<()> {
    let entries = fs::read_dir(dir).map_err(|e| AppError::storage(dir, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.contains(TEMP_MARK) {
            let _ = fs::remove_file(entry.path());
        }
    }
    Ok(())
}

/// Whether the data folder is this process's alone: an exclusive lock on `<root>/.lock`, held
/// as long as the returned file is open (the OS drops it when the process dies, so a crash
/// leaves no stale lock). `Ok(None)`: another process holds it. An instance that was just quit
/// may still be exiting when the next one starts, so the lock is waited for a little.
pub(super) fn lock_data_dir(root: &Path) -> std::io::Result<Option<fs::File>> {
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(root.join(LOCK_FILE))?;
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Some(file)),
            Err(fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(fs::TryLockError::WouldBlock) => return Ok(None),
            // A file system without locks (some network shares): owned, as before there was a
            // lock.
            Err(fs::TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {
                return Ok(Some(file));
            }
            Err(fs::TryLockError::Error(e)) => return Err(e),
        }
    }
}

/// Whether a file can be created in `dir` (a folder may exist, with files in it, and still
/// refuse new ones); the probe is named as a temporary file, so a crash's leftover is cleaned up.
pub(super) fn probe_writable(dir: &Path) -> std::io::Result<()> {
    let probe = temp_path(&dir.join("probe"));
    fs::File::create(&probe)?;
    fs::remove_file(&probe)
}

/// `sync_all` of `f`, a file in `dir` or `dir` itself.
fn fsync(f: &fs::File, dir: &Path) -> std::io::Result<()> {
    #[cfg(test)]
    counting::count(dir);
    #[cfg(not(test))]
    let _ = dir;
    f.sync_all()
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fsync(&fs::File::open(dir)?, dir)
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Test hooks: fsyncs counted per folder and per thread, so that tests running side by side
/// each see their own.
#[cfg(test)]
pub(crate) mod counting {
    use std::cell::Cell;
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;

    static BY_DIR: Mutex<Option<HashMap<PathBuf, u64>>> = Mutex::new(None);
    thread_local! {
        static ON_THIS_THREAD: Cell<u64> = const { Cell::new(0) };
    }

    pub(super) fn count(dir: &Path) {
        *crate::sync::lock(&BY_DIR)
            .get_or_insert_with(HashMap::new)
            .entry(dir.to_path_buf())
            .or_default() += 1;
        ON_THIS_THREAD.with(|c| c.set(c.get() + 1));
    }

    /// fsyncs of files in `dir` and of `dir` itself, by any thread.
    pub(crate) fn in_dir(dir: &Path) -> u64 {
        crate::sync::lock(&BY_DIR)
            .as_ref()
            .and_then(|m| m.get(dir).copied())
            .unwrap_or(0)
    }

    pub(crate) fn on_this_thread() -> u64 {
        ON_THIS_THREAD.with(|c| c.get())
    }
}

/// Test hook: a full disk under chosen folders. A write there gets half its bytes onto the disk
/// and then the error a full file system gives (ENOSPC), as a real one does part-way through.
#[cfg(test)]
pub(crate) mod full_disk {
    use std::io::Write;
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;

    static FULL: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

    /// Every write under `root` fails until [`free`].
    pub(crate) fn fill(root: &Path) {
        crate::sync::lock(&FULL).push(root.to_path_buf());
    }

    pub(crate) fn free(root: &Path) {
        crate::sync::lock(&FULL).retain(|r| r != root);
    }

    pub(super) fn write(f: &mut std::fs::File, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        if !crate::sync::lock(&FULL).iter().any(|r| path.starts_with(r)) {
            return Ok(());
        }
        f.write_all(&bytes[..bytes.len() / 2])?;
        Err(std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            "No space left on device",
        ))
    }
}
