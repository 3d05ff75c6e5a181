//! Models: the catalog and its downloads into the Hugging Face cache (`smolvlm-hub`), local
//! models the user adds by path, and the hub's reachability. Loading any of them goes through
//! the `loading` module.
//!
//! - [`types`]: what the commands answer and stream;
//! - [`catalog`]: the catalog with what is installed;
//! - [`download`]: downloads, their progress and cancelling;
//! - [`local`]: local models and GGUF projector pairing;
//! - [`probe`]: the hub's reachability.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use smolvlm_hub::{Hub, HubCache, HubConfig, ModelSpec};

use crate::error::{AppError, AppResult};
use crate::store::ReadOnly;
use crate::sync::lock;

mod catalog;
pub mod download;
mod local;
mod probe;
pub mod types;

pub use download::DownloadListener;
pub use types::{
    CatalogModel, DiskUsage, DownloadEvent, DownloadProgress, DownloadTicket, HubStatus, LocalModel,
};

use catalog::catalog_entry;
use download::ActiveDownload;

/// App event every window receives for every download event (payload: [`DownloadProgress`]).
pub const DOWNLOAD_PROGRESS_EVENT: &str = "download-progress";

/// Catalog downloads, local models and the hub's settings.
pub struct ModelManager {
    hub: HubConfig,
    local_path: PathBuf,
    local_guard: Mutex<()>,
    downloads: Arc<Mutex<HashMap<String, ActiveDownload>>>,
    probe: Mutex<Option<(Instant, bool)>>,
    /// Set when another instance owns the data folder: the local models list is not written.
    read_only: Option<ReadOnly>,
}

impl ModelManager {
    /// `hub`: where and how to download (`HubConfig::from_env()` in the app); local models are
    /// remembered in `data_dir`.
    pub fn new(hub: HubConfig, data_dir: &Path) -> Self {
        Self {
            hub,
            local_path: data_dir.join("local-models.json"),
            local_guard: Mutex::new(()),
            downloads: Arc::new(Mutex::new(HashMap::new())),
            probe: Mutex::new(None),
            read_only: None,
        }
    }

    /// The local models list kept as it is for `why` (the conversation store's reason).
    pub fn read_only(mut self, why: Option<ReadOnly>) -> Self {
        self.read_only = why;
        self
    }

    /// `HF_ENDPOINT`, `HF_HUB_CACHE`/`HF_HOME`, `HF_TOKEN`, `HF_HUB_OFFLINE`; without a home
    /// folder, a cache inside the app data dir.
    pub fn hub_config_from_env(data_dir: &Path) -> HubConfig {
        HubConfig::from_env()
            .unwrap_or_else(|_| HubConfig::new(HubCache::new(data_dir.join("huggingface-hub"))))
    }

    pub fn hub_config(&self) -> &HubConfig {
        &self.hub
    }

    fn cache(&self) -> &HubCache {
        &self.hub.cache
    }

    fn hub(&self) -> AppResult<Hub> {
        Ok(Hub::new(self.hub.clone())?)
    }

    pub fn is_downloading(&self, id: &str) -> bool {
        lock(&self.downloads).contains_key(id)
    }

    /// The catalog download running in `repo`, if any. Entries of one repository share files
    /// (the 2.2B quants share a projector), so it is the repository, not the entry, that a
    /// removal must leave alone while it downloads.
    fn download_in_repo(&self, repo: &str) -> Option<String> {
        lock(&self.downloads)
            .keys()
            .find(|id| {
                smolvlm_hub::catalog::find(id).is_some_and(|e| e.repo.eq_ignore_ascii_case(repo))
            })
            .cloned()
    }

    /// Removes catalog model `id` from the cache, or forgets local model `id` (its files stay).
    pub fn delete(&self, id: &str, loaded: Option<&Path>) -> AppResult<()> {
        if id.starts_with("local-") {
            return self.forget_local(id);
        }
        let entry = catalog_entry(id)?;
        if let Some(downloading) = self.download_in_repo(entry.repo) {
            return Err(AppError::DownloadInProgress(downloading));
        }
        smolvlm_hub::remove(self.cache(), &ModelSpec::from_entry(entry), loaded)?;
        Ok(())
    }

    /// Disk used by the catalog's repositories in the cache.
    pub fn disk_usage(&self) -> DiskUsage {
        let mut repos: Vec<&str> = smolvlm_hub::catalog::catalog()
            .iter()
            .map(|e| e.repo)
            .collect();
        repos.sort_unstable();
        repos.dedup();
        DiskUsage {
            bytes: repos
                .iter()
                .map(|r| smolvlm_hub::cache::disk_usage(&self.cache().repo_dir(r)))
                .sum(),
            cache_dir: self.cache().root().display().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smolvlm_hub::CancelToken;

    /// The 2.2B Q4_K_M and Q8_0 share one projector: while one downloads, deleting the other
    /// could take the projector the download has just linked, so it is refused until then.
    #[test]
    fn models_of_a_repository_being_downloaded_cannot_be_deleted() {
        let tmp = tempfile::tempdir().unwrap();
        let hub = HubConfig::new(HubCache::new(tmp.path().join("hub")));
        let models = ModelManager::new(hub, tmp.path());
        lock(&models.downloads).insert(
            "smolvlm-2.2b-q8_0".into(),
            ActiveDownload {
                download_id: "d1".into(),
                cancel: CancelToken::new(),
            },
        );
        match models.delete("smolvlm-2.2b-q4_k_m", None) {
            Err(AppError::DownloadInProgress(id)) => assert_eq!(id, "smolvlm-2.2b-q8_0"),
            other => panic!("{other:?}"),
        }
        // Another repository is not held up.
        assert!(matches!(
            models.delete("smolvlm-256m-q8_0", None),
            Err(AppError::Hub(smolvlm_hub::HubError::NotInstalled { .. }))
        ));
    }
}
