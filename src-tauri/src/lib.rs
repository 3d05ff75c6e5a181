//! SmolVLM Desktop's backend: a Tauri 2 shell over the `smolvlm` engine.
//!
//! - [`state`]: what the commands work with ([`state::AppState`]);
//! - [`commands`]: what the webview may call, by domain, all validated ([`validate`]) and typed
//!   ([`error`]); [`ipc`] lists them once and generates their TypeScript bindings;
//! - [`worker`]: the one thread that owns the loaded model; [`loading`] loads and unloads it;
//! - [`chat`]: asking the model; [`recorder`] saves the answer as it streams; [`events`]: what
//!   a generation streams to the UI (coalesced tokens);
//! - [`store`]: conversations and the content-addressed image store in the app data dir;
//!   [`images`]: imported images and what one costs;
//! - [`models`]: the catalog, downloads, local models; [`settings`]: the user's settings;
//!   [`connections`]: the settings of the local API and of remote OpenAI-compatible servers.

use std::path::PathBuf;
use std::sync::Arc;

use tauri::{Builder, Emitter, Manager, Runtime};

pub mod chat;
pub mod commands;
pub mod connections;
pub mod documents;
pub mod error;
pub mod events;
pub mod foreign;
pub mod images;
pub mod ipc;
pub mod loading;
pub mod local_api;
pub mod models;
pub mod recorder;
pub mod remote;
pub mod settings;
pub mod state;
pub mod store;
mod sync;
pub mod validate;
pub mod worker;

#[cfg(test)]
mod tests;

use models::{DOWNLOAD_PROGRESS_EVENT, DownloadProgress};
use state::AppState;
use store::Store;
use worker::{ModelStatus, WorkerHandle};

/// App event every window receives when the model's status changes (payload: [`ModelStatus`]).
pub const MODEL_STATUS_EVENT: &str = "model-status";

/// Environment variable overriding the data folder (tests, portable installs).
pub const DATA_DIR_ENV: &str = "SMOLVLM_DESKTOP_DATA_DIR";

#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    /// Where conversations and images live; the platform's app data dir when `None`.
    pub data_dir: Option<PathBuf>,
    /// Where models download from and to; the `HF_*` environment variables when `None`.
    pub hub: Option<smolvlm_hub::HubConfig>,
}

impl AppOptions {
    pub fn from_env() -> Self {
        Self {
            data_dir: std::env::var_os(DATA_DIR_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            hub: None,
        }
    }
}

/// Adds the app's state, setup and commands to `builder` (a `tauri::Builder::default()` in the
/// app, `tauri::test::mock_builder()` in tests).
pub fn configure<R: Runtime>(builder: Builder<R>, options: AppOptions) -> Builder<R> {
    let commands = ipc::builder::<R>();
    builder
        .plugin(tauri_plugin_dialog::init())
        .setup(move |app| {
            let data_dir = match options.data_dir {
                Some(dir) => dir,
                None => app.path().app_data_dir()?,
            };
            let store = Arc::new(Store::open(&data_dir)?);
            // The configured scope names the default location; this covers an overridden one.
            app.asset_protocol_scope()
                .allow_directory(store.images_dir(), false)?;
            let handle = app.handle().clone();
            let worker = WorkerHandle::spawn(Arc::new(move |status: &ModelStatus| {
                let _ = handle.emit(MODEL_STATUS_EVENT, status);
            }));
            let handle = app.handle().clone();
            let on_download = Arc::new(move |progress: &DownloadProgress| {
                let _ = handle.emit(DOWNLOAD_PROGRESS_EVENT, progress);
            });
            let state = AppState::new(worker, store, options.hub, on_download);
            // Enabled in a previous run: serve again (a taken port is shown in the settings).
            state.apply_local_api();
            app.manage(state);
            Ok(())
        })
        .invoke_handler(ipc::invoke_handler(&commands))
}

/// Runs the app with the configuration in the repository's top-level `tauri.conf.json`.
pub fn run_app<R: Runtime>(builder: Builder<R>) {
    configure(builder, AppOptions::from_env())
        .run(tauri::generate_context!("../tauri.conf.json"))
        .expect("error while running SmolVLM Desktop");
}
