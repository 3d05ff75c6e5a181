//! What is in the cache: models with their disk use and catalog ids, which one is loaded, and
//! removal that only ever deletes files inside a model's own cache folder, and only those no
//! other entry, the loaded model or a download in progress needs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cache::{HubCache, disk_usage, repo_from_folder};
use crate::cache_gc::{collect_garbage, list_files, lock_repo};
use crate::catalog::{CatalogEntry, ModelSpec, catalog, find};
use crate::error::{HubError, Result};
use crate::pairing::pair_mmproj;

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

/// Removes a model from the cache: for a catalog GGUF entry only its files that nothing else
/// needs, otherwise the whole repository folder. Refuses the loaded model and anything that is
/// not a `models--…` folder of this cache; never deletes a file the loaded model reads, one
/// another installed catalog entry uses (quants that share a projector), or a partial that
/// someone (this app, the CLI, Python) is downloading.
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
    let in_use = loaded_files(loaded);
    let Some(entry) = spec
        .catalog_id
        .as_deref()
        .and_then(find)
        .filter(|e| e.gguf_model.is_some() && e.gguf_mmproj.is_some())
    else {
        if in_use.iter().any(|l| is_within(l, &dir)) {
            return Err(HubError::InUse { what });
        }
        let held = lock_repo(cache, &spec.repo)?;
        std::fs::remove_dir_all(&dir).map_err(|e| HubError::io(&dir, e))?;
        drop(held);
        return Ok(RemoveReport {
            repo: spec.repo.clone(),
            freed_bytes: before,
            removed_repo: true,
            removed_files: Vec::new(),
        });
    };

    let own = gguf_files(entry);
    let snapshots_dir = dir.join("snapshots");
    let mut targets = Vec::new();
    let mut removed_files = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&snapshots_dir) {
        for e in entries.flatten() {
            let snapshot = e.path();
            for f in &own {
                let p = snapshot.join(f);
                if std::fs::symlink_metadata(&p).is_err() {
                    continue;
                }
                if uses(&in_use, &p) {
                    if entry.gguf_model == Some(*f) {
                        return Err(HubError::InUse { what });
                    }
                    continue;
                }
                if shared_with_another_entry(entry, &snapshot, f) {
                    continue;
                }
                if !removed_files.iter().any(|r| r == f) {
                    removed_files.push(f.to_string());
                }
                targets.push(p);
            }
        }
    }
    if targets.is_empty() {
        return Err(HubError::NotInstalled { what });
    }
    for t in &targets {
        std::fs::remove_file(t).map_err(|e| HubError::io(t, e))?;
    }
    collect_garbage(cache, &spec.repo)?;
    let nothing_left =
        list_files(&snapshots_dir).is_empty() && list_files(&dir.join("blobs")).is_empty();
    if nothing_left {
        std::fs::remove_dir_all(&dir).map_err(|e| HubError::io(&dir, e))?;
    }
    let after = if nothing_left { 0 } else { disk_usage(&dir) };
    removed_files.sort_by_key(|f| own.iter().position(|o| o == f));
    Ok(RemoveReport {
        repo: spec.repo.clone(),
        freed_bytes: before.saturating_sub(after),
        removed_repo: nothing_left,
        removed_files,
    })
}

fn gguf_files(entry: &CatalogEntry) -> Vec<&'static str> {
    entry
        .gguf_model
        .into_iter()
        .chain(entry.gguf_mmproj)
        .collect()
}

/// Whether another catalog entry of the same repository lists `file` and is (even partly)
/// installed in `snapshot`: one of its own files, not shared with `entry`, is there. The 2.2B
/// Q4_K_M and Q8_0 share one projector, which must outlive the removal of either.
fn shared_with_another_entry(entry: &CatalogEntry, snapshot: &Path, file: &str) -> bool {
    let own = gguf_files(entry);
    catalog()
        .iter()
        .filter(|o| o.id != entry.id && o.repo.eq_ignore_ascii_case(entry.repo))
        .map(gguf_files)
        .filter(|files| files.contains(&file))
        .any(|files| {
            files
                .iter()
                .filter(|g| !own.contains(g))
                .any(|g| snapshot.join(g).is_file())
        })
}

/// The files the loaded model reads: the path the engine loaded and, for a text GGUF, the
/// projector the app pairs with it by the one policy ([`pair_mmproj`]); every candidate when
/// that pairing is ambiguous, since the engine was then given one of them by name.
fn loaded_files(loaded: Option<&Path>) -> Vec<PathBuf> {
    let Some(loaded) = loaded else {
        return Vec::new();
    };
    let mut out = vec![loaded.to_path_buf()];
    let is_gguf = loaded
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gguf"));
    if is_gguf && loaded.is_file() {
        match pair_mmproj(loaded) {
            Ok(Some(p)) => out.push(p),
            Err(HubError::AmbiguousMmproj { candidates, .. }) => out.extend(candidates),
            Ok(None) | Err(_) => {}
        }
    }
    out
}

/// Whether the loaded model reads `file`: it is one of its files (by path or by the blob both
/// resolve to), or lies in the folder it loaded.
fn uses(in_use: &[PathBuf], file: &Path) -> bool {
    in_use
        .iter()
        .any(|l| l == file || is_within(l, file) || is_within(file, l))
}
