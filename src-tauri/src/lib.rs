//! SmolVLM Desktop's backend: a Tauri 2 shell over the `smolvlm` engine.
//!
//! - [`worker`]: the one thread that owns the loaded model;
//! - [`events`]: what a generation streams to the UI (coalesced tokens);
//! - [`store`]: conversations and the content-addressed image store in the app data dir;
//! - [`commands`]: what the webview may call, all validated ([`validate`]) and typed ([`error`]).

use std::path::PathBuf;
use std::sync::Arc;

use tauri::{Builder, Emitter, Manager, Runtime};

pub mod commands;
pub mod error;
pub mod events;
pub mod images;
pub mod models;
pub mod settings;
pub mod store;
pub mod validate;
pub mod worker;

#[cfg(test)]
mod tests;

use commands::AppState;
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
            app.manage(AppState::new(worker, store, options.hub));
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::model_status,
            commands::load_model,
            commands::unload_model,
            commands::list_conversations,
            commands::create_conversation,
            commands::get_conversation,
            commands::delete_conversation,
            commands::send_message,
            commands::cancel_generation,
            images::import_image,
            images::import_image_bytes,
            images::image_cost,
            commands::rename_conversation,
            commands::truncate_conversation,
            models::list_catalog,
            models::download_model,
            models::cancel_download,
            models::delete_model,
            models::models_disk_usage,
            models::add_local_model,
            models::list_local_models,
            models::hub_status,
            settings::get_settings,
            settings::save_settings,
        ])
}

/// Runs the app with the configuration in the repository's top-level `tauri.conf.json`.
pub fn run_app<R: Runtime>(builder: Builder<R>) {
    configure(builder, AppOptions::from_env())
        .run(tauri::generate_context!("../tauri.conf.json"))
        .expect("error while running SmolVLM Desktop");
}
