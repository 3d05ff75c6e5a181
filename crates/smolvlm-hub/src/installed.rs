//! What is in the cache: models with their disk use and catalog ids, which one is loaded, and
//! removal that only ever deletes files inside a model's own cache folder.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cache::{HubCache, disk_usage, repo_from_folder};
use crate::catalog::{ModelSpec, catalog, find};
use crate::error::{HubError, Result};

#[derive(Debug, Clone, Serialize)]
pub struct InstalledSnapshot {
    pub commit: String,
    pub dir: PathBuf,
    pub files: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InstalledModel {
    pub repo: String,
    /// Catalog entries of this repository whose files are all present.
    pub catalog_ids: Vec<String>,
    /// `models--org--name`.
    pub dir: PathBuf,
    /// Branch → commit, from `refs/`.
    pub refs: BTreeMap<String, String>,
    pub snapshots: Vec<InstalledSnapshot>,
    /// Bytes on disk (blobs and partials, links counted once).
    pub disk_bytes: u64,
    /// Bytes of unfinished downloads among them.
    pub partial_bytes: u64,
    /// Whether the loaded model's files live here.
    pub loaded: bool,
}

/// Every model in the cache; `loaded` is the path the engine loaded (folder or file), if any.
pub fn list_installed(cache: &HubCache, loaded: Option<&Path>) -> Vec<InstalledModel> {
    cache
        .repos()
        .into_iter()
        .map(|repo| describe(cache, &repo, loaded))
        .collect()
}

fn describe(cache: &HubCache, repo: &str, loaded: Option<&Path>) -> InstalledModel {
    let dir = cache.repo_dir(repo);
    let mut refs = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(dir.join("refs")) {
        for e in entries.flatten() {
            if let (Some(name), Ok(commit)) = (
                e.file_name().to_str().map(str::to_string),
                std::fs::read_to_string(e.path()),
            ) {
                refs.insert(name, commit.trim().to_string());
            }
        }
    }
    let mut snapshots = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir.join("snapshots")) {
        for e in entries.flatten() {
            if let Some(commit) = e.file_name().to_str() {
                let files = cache.snapshot_files(repo, commit);
                snapshots.push(InstalledSnapshot {
                    commit: commit.to_string(),
                    dir: e.path(),
                    files,
                });
            }
        }
    }
    snapshots.sort_by(|a, b| a.commit.cmp(&b.commit));
    let catalog_ids = catalog()
        .iter()
        .filter(|e| e.repo.eq_ignore_ascii_case(repo))
        .filter(|e| {
            let spec = ModelSpec::from_entry(e);
            snapshots.iter().any(|s| complete(&spec, &s.files))
        })
        .map(|e| e.id.to_string())
        .collect();
    let partial_bytes = crate::cache::partial_bytes(&dir);
    InstalledModel {
        repo: repo.to_string(),
        catalog_ids,
        loaded: loaded.is_some_and(|l| is_within(l, &dir)),
        disk_bytes: disk_usage(&dir),
        partial_bytes,
        dir,
        refs,
        snapshots,
    }
}

fn complete(spec: &ModelSpec, files: &[String]) -> bool {
    let wanted: Vec<&String> = files.iter().filter(|f| spec.wants(f)).collect();
    let literal_ok = spec
        .include
        .iter()
        .filter(|g| !g.contains(['*', '?']))
        .all(|g| files.iter().any(|f| f == g));
    let weights_ok = spec.catalog_id.as_deref().and_then(find).is_none_or(|e| {
        e.gguf_model.is_some() || files.iter().any(|f| f.ends_with(".safetensors"))
    });
    !wanted.is_empty() && literal_ok && weights_ok
}

/// Whether `path` lies inside `dir` (both as given and with links resolved).
fn is_within(path: &Path, dir: &Path) -> bool {
    if path.starts_with(dir) {
        return true;
    }
    match (std::fs::canonicalize(path), std::fs::canonicalize(dir)) {
        (Ok(p), Ok(d)) => p.starts_with(d),
        _ => false,
    }
}

/// What a removal did.
#[derive(Debug, Clone, Serialize)]
pub struct RemoveReport {
    pub repo: String,
    pub freed_bytes: u64,
    /// Whether the repository's whole cache folder went.
    pub removed_repo: bool,
    pub removed_files: Vec<String>,
}

/// Removes a model from the cache: for a catalog GGUF entry only its two files (other quants of
/// the same repository stay), otherwise the whole repository folder. Refuses the loaded model
/// and anything that is not a `models--…` folder of this cache.
pub fn remove(cache: &HubCache, spec: &ModelSpec, loaded: Option<&Path>) -> Result<RemoveReport> {
    let dir = cache.repo_dir(&spec.repo);
    let folder_ok = dir
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(repo_from_folder)
        .is_some();
    let real_dir = std::fs::symlink_metadata(&dir).map(|m| m.is_dir());
    match real_dir {
        Err(_) => {
            return Err(HubError::NotInstalled {
                what: spec.catalog_id.clone().unwrap_or_else(|| spec.repo.clone()),
            });
        }
        Ok(false) => return Err(HubError::NotOurs { path: dir }),
        Ok(true) if !folder_ok || dir.parent() != Some(cache.root()) => {
            return Err(HubError::NotOurs { path: dir });
        }
        Ok(true) => {}
    }
    let what = spec.catalog_id.clone().unwrap_or_else(|| spec.repo.clone());
    let before = disk_usage(&dir);
    let entry = spec.catalog_id.as_deref().and_then(find);
    let partial_files: Option<Vec<&str>> =
        entry.and_then(|e| Some(vec![e.gguf_model?, e.gguf_mmproj?]));

    let Some(files) = partial_files else {
        if loaded.is_some_and(|l| is_within(l, &dir)) {
            return Err(HubError::InUse { what });
        }
        std::fs::remove_dir_all(&dir).map_err(|e| HubError::io(&dir, e))?;
        let locks = cache
            .root()
            .join(".locks")
            .join(HubCache::folder_name(&spec.repo));
        let _ = std::fs::remove_dir_all(locks);
        return Ok(RemoveReport {
            repo: spec.repo.clone(),
            freed_bytes: before,
            removed_repo: true,
            removed_files: Vec::new(),
        });
    };

    let snapshots_dir = dir.join("snapshots");
    let mut targets = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&snapshots_dir) {
        for e in entries.flatten() {
            for f in &files {
                let p = e.path().join(f);
                if std::fs::symlink_metadata(&p).is_ok() {
                    targets.push(p);
                }
            }
        }
    }
    if targets.is_empty() {
        return Err(HubError::NotInstalled { what });
    }
    if let Some(l) = loaded
        && targets.iter().any(|t| is_within(l, t) || l == t.as_path())
    {
        return Err(HubError::InUse { what });
    }
    for t in &targets {
        std::fs::remove_file(t).map_err(|e| HubError::io(t, e))?;
    }
    collect_garbage(&dir)?;
    let left = list_files(&snapshots_dir);
    let removed_repo = left.is_empty();
    if removed_repo {
        std::fs::remove_dir_all(&dir).map_err(|e| HubError::io(&dir, e))?;
    }
    let after = if removed_repo { 0 } else { disk_usage(&dir) };
    Ok(RemoveReport {
        repo: spec.repo.clone(),
        freed_bytes: before.saturating_sub(after),
        removed_repo,
        removed_files: files.iter().map(|s| s.to_string()).collect(),
    })
}

/// Deletes blobs (and partials) that no snapshot links to.
fn collect_garbage(dir: &Path) -> Result<()> {
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
                // A copied file (no symlinks on this platform): blobs cannot be matched to it,
                // so nothing is collected.
                Ok(_) => return Ok(()),
                Err(_) => {}
            }
        }
    }
    let blobs = dir.join("blobs");
    if let Ok(entries) = std::fs::read_dir(&blobs) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let id = name.strip_suffix(".incomplete").unwrap_or(&name);
            if !referenced.contains(id) {
                std::fs::remove_file(e.path()).map_err(|err| HubError::io(e.path(), err))?;
            }
        }
    }
    // Empty snapshot folders go too.
    if let Ok(entries) = std::fs::read_dir(dir.join("snapshots")) {
        for e in entries.flatten() {
            if list_files(&e.path()).is_empty() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    Ok(())
}

fn list_files(dir: &Path) -> Vec<PathBuf> {
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
