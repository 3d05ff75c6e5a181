//! What every command works with: the model worker, the conversation store, the settings and the
//! model manager. Built once in the app's setup ([`crate::configure`]) and managed by tauri.

use std::sync::Arc;

use crate::models::{DownloadListener, ModelManager};
use crate::settings::SettingsStore;
use crate::store::Store;
use crate::worker::WorkerHandle;

pub struct AppState {
    pub worker: WorkerHandle,
    pub store: Arc<Store>,
    pub settings: SettingsStore,
    pub models: Arc<ModelManager>,
    /// Tells every window of each download event (the app event `download-progress`).
    pub on_download: DownloadListener,
}

impl AppState {
    /// The state over `store`'s data dir; `hub` is where models download from and to
    /// (`None`: the `HF_*` environment variables, as Python's `huggingface_hub` reads them).
    pub fn new(
        worker: WorkerHandle,
        store: Arc<Store>,
        hub: Option<smolvlm_hub::HubConfig>,
        on_download: DownloadListener,
    ) -> Self {
        let dir = store.root().to_path_buf();
        let hub = hub.unwrap_or_else(|| ModelManager::hub_config_from_env(&dir));
        Self {
            worker,
            settings: SettingsStore::open(&dir),
            models: Arc::new(ModelManager::new(hub, &dir)),
            store,
            on_download,
        }
    }
}
