//! Garbage collection in one repository's cache folder after a removal: blobs and partials no
//! snapshot links, except those someone is writing. Whoever writes a blob (this app, the CLI,
//! another process, Python's `huggingface_hub`) holds its lock in `.locks/` from before the
//! partial exists until a snapshot links the blob, so a blob whose lock is free and that no
//! snapshot links belongs to nobody.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::cache::HubCache;
use crate::error::{HubError, Result};
use crate::lock::BlobLock;

/// Deletes what no snapshot links and nobody writes, the records of blobs that went, and
/// empty snapshot folders.
pub(crate) fn collect_garbage(cache: &HubCache, repo: &str) -> Result<()> {
    let dir = cache.repo_dir(repo);
    let Some(referenced) = linked_blobs(&dir) else {
        return Ok(());
    };
    let blobs = dir.join("blobs");
    if let Ok(entries) = std::fs::read_dir(&blobs) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let id = name.strip_suffix(".incomplete").unwrap_or(&name);
            if referenced.contains(id) {
                continue;
            }
            // Held (or not lockable here): someone's download, not garbage.
            let Ok(Some(_lock)) = BlobLock::try_acquire(&cache.lock_path(repo, id)) else {
                continue;
            };
            remove_if_present(&e.path())?;
        }
    }
    // A record outliving its blob could vouch for a new file that reuses the inode.
    if let Ok(entries) = std::fs::read_dir(cache.verified_dir(repo)) {
        for e in entries.flatten() {
            if !blobs.join(e.file_name()).is_file() {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir.join("snapshots")) {
        for e in entries.flatten() {
            if list_files(&e.path()).is_empty() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    Ok(())
}

/// Takes the lock of every blob of `repo` (every lock file in its `.locks/` folder and every
/// blob or partial present), for removing the whole folder; `Locked` naming the first one
/// someone holds, before anything is deleted.
pub(crate) fn lock_repo(cache: &HubCache, repo: &str) -> Result<Vec<BlobLock>> {
    let mut ids = BTreeSet::new();
    let locks_dir = cache
        .root()
        .join(".locks")
        .join(HubCache::folder_name(repo));
    if let Ok(entries) = std::fs::read_dir(&locks_dir) {
        for e in entries.flatten() {
            if let Some(id) = e.file_name().to_str().and_then(|n| n.strip_suffix(".lock")) {
                ids.insert(id.to_string());
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(cache.repo_dir(repo).join("blobs")) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            ids.insert(
                name.strip_suffix(".incomplete")
                    .unwrap_or(&name)
                    .to_string(),
            );
        }
    }
    let mut held = Vec::with_capacity(ids.len());
    for id in ids {
        let path = cache.lock_path(repo, &id);
        match BlobLock::try_acquire(&path)? {
            Some(lock) => held.push(lock),
            None => return Err(HubError::Locked { path }),
        }
    }
    Ok(held)
}

/// The blob names the snapshots link to; `None` when a snapshot holds a copied file (no links
/// on this platform), which cannot be matched to a blob, so nothing may be collected.
fn linked_blobs(dir: &Path) -> Option<BTreeSet<String>> {
    let mut referenced = BTreeSet::new();
    let mut stack = vec![dir.join("snapshots")];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => stack.push(p),
                Ok(m) if m.file_type().is_symlink() => {
                    if let Some(name) = std::fs::read_link(&p)
                        .ok()
                        .and_then(|t| t.file_name().map(|n| n.to_string_lossy().into_owned()))
                    {
                        referenced.insert(name);
                    }
                }
                Ok(_) => return None,
                Err(_) => {}
            }
        }
    }
    Some(referenced)
}

fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(HubError::io(path, e)),
    }
}

/// Every file and link under `dir`, links not followed.
pub(crate) fn list_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => stack.push(p),
                Ok(_) => out.push(p),
                Err(_) => {}
            }
        }
    }
    out
}
