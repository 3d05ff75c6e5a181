//! One writer per blob: an exclusive lock on `.locks/models--…/<blob>.lock`, the file Python's
//! `huggingface_hub` locks too, so two downloads (ours or Python's) never write one partial.

use std::fs::{File, OpenOptions};
use std::path::Path;

use crate::error::{HubError, Result};

/// Held while a blob is written; the lock goes with the file when this is dropped.
pub(super) struct BlobLock {
    _file: File,
}

impl BlobLock {
    /// Takes the lock without waiting; `Locked` if another download holds it.
    pub(super) fn acquire(path: &Path) -> Result<Self> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| HubError::io(parent, e))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| HubError::io(path, e))?;
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: `flock` only reads its two integer arguments; the descriptor comes from
            // `file`, an open `File` that outlives the call (it is moved into the returned lock),
            // so it is valid and not closed concurrently. Failure is reported through `rc`, and
            // the lock is released by the kernel when `file` is closed on drop.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc != 0 {
                return Err(HubError::Locked {
                    path: path.to_path_buf(),
                });
            }
        }
        Ok(Self { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_second_writer_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".locks/models--o--r/blob.lock");
        let first = BlobLock::acquire(&path).unwrap();
        assert_eq!(
            BlobLock::acquire(&path).err().map(|e| e.code()),
            Some("download_locked")
        );
        drop(first);
        assert!(BlobLock::acquire(&path).is_ok());
    }
}
