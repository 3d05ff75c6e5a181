//! The standard Hugging Face hub cache, shared with Python tools:
//!
//! ```text
//! <cache>/models--org--name/
//!     blobs/<sha256 or git blob id>          file contents, named by the hub's ETag
//!     blobs/<id>.incomplete                  a partial download (resumed, also by Python)
//!     refs/<branch>                          the commit a branch pointed at when fetched
//!     snapshots/<commit>/<path>              relative symlinks to ../../blobs/<id>
//!     .smolvlm-verified/<id>                 when the blob was last hashed, and the verdict
//! <cache>/.locks/models--org--name/<id>.lock  one writer per blob (same place as Python)
//! ```
//!
//! `.smolvlm-verified/` is this crate's own; Python's tools read only `blobs/`, `refs/` and
//! `snapshots/` of a repository folder, so they neither see nor mind it.
//!
//! The folder is `HF_HUB_CACHE`, else `HF_HOME/hub`, else `XDG_CACHE_HOME/huggingface/hub`,
//! else `~/.cache/huggingface/hub`, exactly as `huggingface_hub` resolves it.

use std::path::{Path, PathBuf};

use crate::catalog::is_commit_hash;
use crate::error::{HubError, Result};

/// The cache root and the operations on its layout.
#[derive(Debug, Clone)]
pub struct HubCache {
    root: PathBuf,
}

impl HubCache {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The folder Python's `huggingface_hub` would use with the same environment; `None` only
    /// when no variable is set and the home folder is unknown.
    pub fn from_env() -> Option<Self> {
        default_cache_dir().map(Self::new)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `models--org--name` (hf-hub's own naming).
    pub fn folder_name(repo: &str) -> String {
        hf_hub::Repo::model(repo.to_string()).folder_name()
    }

    pub fn repo_dir(&self, repo: &str) -> PathBuf {
        self.root.join(Self::folder_name(repo))
    }

    pub fn blob_path(&self, repo: &str, blob_id: &str) -> PathBuf {
        self.repo_dir(repo).join("blobs").join(blob_id)
    }

    pub fn lock_path(&self, repo: &str, blob_id: &str) -> PathBuf {
        self.root
            .join(".locks")
            .join(Self::folder_name(repo))
            .join(format!("{blob_id}.lock"))
    }

    /// Where the verifications of a repository's blobs are recorded (see `download::verified`).
    pub fn verified_dir(&self, repo: &str) -> PathBuf {
        self.repo_dir(repo).join(".smolvlm-verified")
    }

    pub fn verified_record_path(&self, repo: &str, blob_id: &str) -> PathBuf {
        self.verified_dir(repo).join(blob_id)
    }

    pub fn snapshot_dir(&self, repo: &str, commit: &str) -> PathBuf {
        self.repo_dir(repo).join("snapshots").join(commit)
    }

    /// The commit a revision resolves to in the cache: itself for a commit hash, else the
    /// content of `refs/<revision>`.
    pub fn resolve_revision(&self, repo: &str, revision: &str) -> Option<String> {
        if is_commit_hash(revision) {
            return self
                .snapshot_dir(repo, revision)
                .is_dir()
                .then(|| revision.to_string());
        }
        let path = self.repo_dir(repo).join("refs").join(revision);
        let commit = std::fs::read_to_string(path).ok()?;
        let commit = commit.trim();
        (!commit.is_empty() && !commit.contains(['/', '\\', '.'])).then(|| commit.to_string())
    }

    /// Records that `revision` (a branch or tag) pointed at `commit`; nothing for commit hashes.
    pub fn write_ref(&self, repo: &str, revision: &str, commit: &str) -> Result<()> {
        if is_commit_hash(revision) {
            return Ok(());
        }
        let cache = hf_hub::Cache::new(self.root.clone());
        let repo_handle = hf_hub::Repo::with_revision(
            repo.to_string(),
            hf_hub::RepoType::Model,
            revision.to_string(),
        );
        let refs = self.repo_dir(repo).join("refs");
        cache
            .repo(repo_handle)
            .create_ref(commit)
            .map_err(|e| HubError::io(refs.join(revision), e))
    }

    /// Files of a snapshot, relative paths with `/`, sorted; only those whose target exists.
    pub fn snapshot_files(&self, repo: &str, commit: &str) -> Vec<String> {
        let dir = self.snapshot_dir(repo, commit);
        let mut out = Vec::new();
        walk(&dir, &dir, &mut out);
        out.sort();
        out
    }

    /// Points `snapshots/<commit>/<file>` at the blob (a relative symlink, as Python does; a
    /// copy where symlinks are unavailable).
    pub fn link_snapshot(
        &self,
        repo: &str,
        commit: &str,
        file: &str,
        blob_id: &str,
    ) -> Result<PathBuf> {
        let pointer = self.snapshot_dir(repo, commit).join(file);
        let blob = self.blob_path(repo, blob_id);
        if let Some(parent) = pointer.parent() {
            std::fs::create_dir_all(parent).map_err(|e| HubError::io(parent, e))?;
        }
        if pointer.exists() {
            return Ok(pointer);
        }
        // A dangling link from a removed blob: replace it.
        if std::fs::symlink_metadata(&pointer).is_ok() {
            std::fs::remove_file(&pointer).map_err(|e| HubError::io(&pointer, e))?;
        }
        #[cfg(unix)]
        {
            let depth = file.split('/').count() + 1; // snapshots/<commit>/<dirs…>/
            let mut target = PathBuf::new();
            for _ in 0..depth {
                target.push("..");
            }
            target.push("blobs");
            target.push(blob_id);
            std::os::unix::fs::symlink(&target, &pointer).map_err(|e| HubError::io(&pointer, e))?;
        }
        #[cfg(not(unix))]
        {
            std::fs::copy(&blob, &pointer).map_err(|e| HubError::io(&pointer, e))?;
        }
        let _ = blob;
        Ok(pointer)
    }

    /// Every `models--*` folder in the cache, as repo ids.
    pub fn repos(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return Vec::new();
        };
        let mut out: Vec<String> = entries
            .flatten()
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().to_str().and_then(repo_from_folder))
            .collect();
        out.sort();
        out
    }
}

/// `models--org--name` → `org/name`.
pub fn repo_from_folder(folder: &str) -> Option<String> {
    let rest = folder.strip_prefix("models--")?;
    let (org, name) = rest.split_once("--")?;
    let id = format!("{org}/{name}");
    crate::catalog::is_repo_id(&id).then_some(id)
}

fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        // `metadata` follows links: directories are walked, dangling links skipped.
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => walk(base, &path, out),
            Ok(_) => {
                if let Ok(rel) = path.strip_prefix(base) {
                    let parts: Vec<_> = rel
                        .components()
                        .filter_map(|c| c.as_os_str().to_str())
                        .collect();
                    out.push(parts.join("/"));
                }
            }
            Err(_) => {}
        }
    }
}

/// `HF_HUB_CACHE`, `HF_HOME/hub`, `XDG_CACHE_HOME/huggingface/hub`, `~/.cache/huggingface/hub`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(p) = var("HF_HUB_CACHE").or_else(|| var("HUGGINGFACE_HUB_CACHE")) {
        return Some(p);
    }
    hf_home().map(|h| h.join("hub"))
}

/// `HF_HOME`, else `XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`.
pub fn hf_home() -> Option<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(p) = var("HF_HOME") {
        return Some(p);
    }
    if let Some(p) = var("XDG_CACHE_HOME") {
        return Some(p.join("huggingface"));
    }
    dirs::home_dir().map(|h| h.join(".cache").join("huggingface"))
}

/// `HF_TOKEN`, else the file at `HF_TOKEN_PATH`, else `HF_HOME/token` (written by `hf auth login`).
pub fn token_from_env() -> Option<String> {
    if let Some(t) = std::env::var("HF_TOKEN").ok().map(|t| t.trim().to_string())
        && !t.is_empty()
    {
        return Some(t);
    }
    let path = std::env::var_os("HF_TOKEN_PATH")
        .map(PathBuf::from)
        .or_else(|| hf_home().map(|h| h.join("token")))?;
    let t = std::fs::read_to_string(path).ok()?;
    let t = t.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// `HF_HUB_OFFLINE` set to a true value (`1`, `true`, `yes`, `on`).
pub fn offline_from_env() -> bool {
    std::env::var("HF_HUB_OFFLINE")
        .map(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        })
        .unwrap_or(false)
}

/// Bytes used by files under `dir`, links not followed (blobs are counted once).
pub fn disk_usage(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match std::fs::symlink_metadata(e.path()) {
            Ok(m) if m.is_dir() => disk_usage(&e.path()),
            Ok(m) if m.is_file() => m.len(),
            _ => 0,
        })
        .sum()
}

/// Free bytes on the filesystem holding `path` (its nearest existing ancestor); `None` where
/// the platform gives no answer.
pub fn free_space(path: &Path) -> Option<u64> {
    let mut p = path;
    while !p.exists() {
        p = p.parent()?;
    }
    free_space_of(p)
}

#[cfg(unix)]
fn free_space_of(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `c` is a NUL-terminated C string that lives until the end of this function, so
    // the pointer statvfs reads is valid for the whole call; `st` is a properly aligned, writable
    // `statvfs` owned by this frame, which statvfs only writes (never reads) and keeps no pointer
    // to after returning.
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it filled every field of the struct; and `st` started
    // zeroed, an all-zero `statvfs` (plain integers) being a valid value in any case.
    let st = unsafe { st.assume_init() };
    #[allow(clippy::unnecessary_cast)]
    Some(st.f_bavail as u64 * st.f_frsize as u64)
}

#[cfg(not(unix))]
fn free_space_of(_path: &Path) -> Option<u64> {
    None
}

/// Bytes of interrupted downloads (`blobs/*.incomplete`) kept for resuming in the cache folder
/// of one repository (`HubCache::repo_dir`).
pub fn partial_bytes(repo_dir: &Path) -> u64 {
    std::fs::read_dir(repo_dir.join("blobs"))
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".incomplete"))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_round_trip() {
        assert_eq!(HubCache::folder_name("org/name"), "models--org--name");
        assert_eq!(
            repo_from_folder("models--org--name").as_deref(),
            Some("org/name")
        );
        assert_eq!(repo_from_folder("datasets--org--name"), None);
        assert_eq!(repo_from_folder("models--x"), None);
    }

    #[test]
    fn free_space_answers_for_temp() {
        let dir = tempfile::tempdir().unwrap();
        assert!(free_space(&dir.path().join("not/yet/made")).unwrap_or(1) > 0);
    }
}
