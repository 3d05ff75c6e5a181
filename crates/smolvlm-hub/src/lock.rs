//! One writer per blob: an exclusive lock on `.locks/models--…/<blob>.lock`, the file Python's
//! `huggingface_hub` locks too (its `filelock` takes `flock` on Unix, as `File::try_lock` does,
//! and a byte-range lock on Windows that `File::try_lock`'s whole-file lock overlaps), so two
//! downloads (ours or Python's) never write one partial, and garbage collection never takes a
//! partial someone is writing.
//!
//! Lock files are never deleted: Python waits on a lock by opening the file and blocking, and a
//! file unlinked under a waiter would let a second writer lock a fresh file of the same name.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{HubError, Result};

/// How long a download waits for a lock before saying another download holds it: long enough
/// for a garbage collection that only checks the blob, far shorter than a transfer.
const GRACE: Duration = Duration::from_millis(250);

/// Held while a blob is written, adopted or collected; the lock goes with the file on drop.
pub(crate) struct BlobLock {
    _file: File,
}

impl BlobLock {
    /// Takes the lock, waiting [`GRACE`] at most; `Locked` if another download holds it.
    pub(crate) fn acquire(path: &Path) -> Result<Self> {
        let deadline = Instant::now() + GRACE;
        loop {
            if let Some(lock) = Self::try_acquire(path)? {
                return Ok(lock);
            }
            if Instant::now() >= deadline {
                return Err(HubError::Locked {
                    path: path.to_path_buf(),
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Takes the lock if nobody holds it; `None` if someone does.
    pub(crate) fn try_acquire(path: &Path) -> Result<Option<Self>> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| HubError::io(parent, e))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| HubError::io(path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Self { _file: file })),
            Err(TryLockError::WouldBlock) => Ok(None),
            // A filesystem without locks: nobody can hold one there, Python included.
            Err(TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {
                Ok(Some(Self { _file: file }))
            }
            Err(TryLockError::Error(e)) => Err(HubError::io(path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".locks/models--o--r/blob.lock");
        let first = BlobLock::acquire(&path).unwrap();
        assert_eq!(
            BlobLock::acquire(&path).err().map(|e| e.code()),
            Some("download_locked")
        );
        assert!(BlobLock::try_acquire(&path).unwrap().is_none());
        drop(first);
        assert!(BlobLock::acquire(&path).is_ok());
        assert!(BlobLock::try_acquire(&path).unwrap().is_some());
    }
}
