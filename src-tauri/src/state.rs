//! What every command works with: the model worker, the conversation store, the settings, the
//! model manager and the local API. Built once in the app's setup ([`crate::configure`]) and managed by tauri.

use crate::documents::OpenDocuments;
use std::sync::Arc;

use crate::grants::PathGrants;
use crate::local_api::LocalApi;
use crate::models::{DownloadListener, ModelManager};
use crate::opened::OpenedFiles;
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
    /// The app's OpenAI-compatible server, when the settings turn it on.
    pub local_api: LocalApi,
    /// PDFs open while the user chooses their pages.
    pub documents: OpenDocuments,
    /// The files the user dropped, picked or opened the app with this session: the only ones
    /// the commands read.
    pub grants: PathGrants,
    /// Files the app was opened with that the UI has not taken yet.
    pub opened: OpenedFiles,
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
            settings: SettingsStore::open(&dir).read_only(store.read_only().cloned()),
            models: Arc::new(ModelManager::new(hub, &dir).read_only(store.read_only().cloned())),
            store,
            on_download,
            local_api: LocalApi::default(),
            documents: OpenDocuments::default(),
            grants: PathGrants::default(),
            opened: OpenedFiles::default(),
        }
    }

    /// Starts or stops the local API to match the saved settings.
    pub fn apply_local_api(&self) -> crate::local_api::LocalApiStatus {
        self.local_api
            .apply(&self.settings.get(), &self.worker, &self.models)
    }
}
