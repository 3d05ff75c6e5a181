//! The model: its status, loading and unloading, the catalog and its downloads, local models
//! and the hub's reachability.

use std::path::PathBuf;

use tauri::State;
use tauri::ipc::Channel;

use crate::error::AppResult;
use crate::loading;
use crate::models::{
    CatalogModel, DiskUsage, DownloadEvent, DownloadProgress, DownloadTicket, HubStatus, LocalModel,
};
use crate::state::AppState;
use crate::worker::{ModelInfo, ModelStatus};

#[tauri::command]
#[specta::specta]
pub fn model_status(state: State<'_, AppState>) -> ModelStatus {
    state.worker.status()
}

/// Where a model can run in this build on this machine (settings' Device): the CPU with its
/// kernels, and CUDA and Metal, each compiled in or not, answering or not and why.
#[tauri::command(async)]
#[specta::specta]
pub fn devices() -> Vec<BackendInfo> {
    backends()
}

/// [`devices`]' answer, which Settings → About shows too.
pub(crate) fn backends() -> Vec<BackendInfo> {
    smolvlm::backends()
        .into_iter()
        .map(|b| BackendInfo {
            detail: if b.device == smolvlm::DevicePreference::Cpu {
                format!("{} kernels", smolvlm::SimdLevel::detect().name())
            } else {
                b.detail
            },
            device: b.device,
            compiled: b.compiled,
            available: b.available,
        })
        .collect()
}

/// `smolvlm::BackendStatus` for the UI.
#[derive(Debug, Clone, serde::Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct BackendInfo {
    #[specta(type = crate::foreign::DevicePreference)]
    pub device: smolvlm::DevicePreference,
    pub compiled: bool,
    pub available: bool,
    /// "avx512 kernels", "cuda:0", or why the backend is not there.
    pub detail: String,
}

/// Loads a model folder or `.gguf` file (replacing the loaded model) with the settings' device
/// and threads; a `.gguf` takes the `mmproj*.gguf` beside it as its vision projector. Answers
/// when it is ready. Only a path the user dropped or picked, the last model, an installed
/// catalog model or an added local model (`path_not_allowed` otherwise).
#[tauri::command]
#[specta::specta]
pub async fn load_model(state: State<'_, AppState>, path: String) -> AppResult<ModelInfo> {
    let path = loading::allowed_model_path(&state, &path)?;
    loading::load(&state, path, None).await
}

#[tauri::command]
#[specta::specta]
pub async fn unload_model(state: State<'_, AppState>) -> AppResult<()> {
    loading::unload(&state).await
}

#[tauri::command(async)]
#[specta::specta]
pub fn list_catalog(state: State<'_, AppState>) -> AppResult<Vec<CatalogModel>> {
    state.models.catalog()
}

/// Downloads (or resumes) catalog model `id` into the Hugging Face cache; events stream to
/// `on_event` and to every window as `download-progress`. Refused with `download_in_progress`
/// while the same model is downloading.
#[tauri::command]
#[specta::specta]
pub fn download_model(
    state: State<'_, AppState>,
    id: String,
    on_event: Channel<DownloadEvent>,
) -> AppResult<DownloadTicket> {
    let notify = state.on_download.clone();
    state.models.start_download(&id, move |id, event| {
        notify(&DownloadProgress {
            id: id.to_string(),
            event: event.clone(),
        });
        let _ = on_event.send(event.clone());
    })
}

/// Stops a download, keeping what was fetched; false when none runs for `id`.
#[tauri::command]
#[specta::specta]
pub fn cancel_download(state: State<'_, AppState>, id: String) -> bool {
    state.models.cancel_download(&id)
}

/// Removes a catalog model's files from the cache (refused for the loaded model), or forgets a
/// local model (`local-…` ids; its files stay).
#[tauri::command(async)]
#[specta::specta]
pub fn delete_model(state: State<'_, AppState>, id: String) -> AppResult<()> {
    let loaded = state.worker.status().model.map(|m| PathBuf::from(m.path));
    state.models.delete(&id, loaded.as_deref())
}

#[tauri::command(async)]
#[specta::specta]
pub fn models_disk_usage(state: State<'_, AppState>) -> DiskUsage {
    state.models.disk_usage()
}

/// Remembers a `.gguf` file (with the `mmproj*.gguf` beside it) or a model folder the user
/// dropped or picked, and loads it.
#[tauri::command]
#[specta::specta]
pub async fn add_local_model(state: State<'_, AppState>, path: String) -> AppResult<LocalModel> {
    let path = state.grants.readable(&state.store, &path, "model path")?;
    loading::add_local(&state, path).await
}

#[tauri::command(async)]
#[specta::specta]
pub fn list_local_models(state: State<'_, AppState>) -> AppResult<Vec<LocalModel>> {
    state.models.local_models()
}

#[tauri::command(async)]
#[specta::specta]
pub fn hub_status(state: State<'_, AppState>) -> HubStatus {
    state.models.hub_status()
}
