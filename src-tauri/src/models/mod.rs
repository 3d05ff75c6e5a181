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
        }
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

    /// Removes catalog model `id` from the cache, or forgets local model `id` (its files stay).
    pub fn delete(&self, id: &str, loaded: Option<&Path>) -> AppResult<()> {
        if id.starts_with("local-") {
            return self.forget_local(id);
        }
        let entry = catalog_entry(id)?;
        if self.is_downloading(entry.id) {
            return Err(AppError::DownloadInProgress(entry.id.to_string()));
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
