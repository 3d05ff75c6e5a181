//! SmolVLM Desktop's backend: a Tauri 2 shell over the `smolvlm` engine.
//!
//! - [`state`]: what the commands work with ([`state::AppState`]);
//! - [`commands`]: what the webview may call, by domain, all validated ([`validate`]) and typed
//!   ([`error`]); [`ipc`] lists them once and generates their TypeScript bindings;
//! - [`worker`]: the one thread that owns the loaded model; [`loading`] loads and unloads it;
//! - [`chat`]: asking the model; [`recorder`] saves the answer as it streams; [`events`]: what
//!   a generation streams to the UI (coalesced tokens);
//! - [`store`]: conversations and the content-addressed image store in the app data dir;
//!   [`images`]: imported images and what one costs; [`image_protocol`]: how the webview shows
//!   stored images; [`grants`]: the files the user handed over, the only ones commands read;
//! - [`models`]: the catalog, downloads, local models; [`settings`]: the user's settings;
//!   [`connections`]: the settings of the local API and of remote OpenAI-compatible servers.

use std::path::PathBuf;
use std::sync::Arc;

use tauri::{AppHandle, Builder, DragDropEvent, Emitter, Listener, Manager, Runtime};

pub mod chat;
pub mod commands;
pub mod connections;
pub mod documents;
pub mod error;
pub mod events;
pub mod foreign;
pub mod grants;
pub mod image_protocol;
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
    /// Whether `tauri://drag-drop` events the page emits count as the user's drops
    /// ([`grants::trust_page_drops_from_env`]); otherwise only native drops do.
    pub trust_page_drops: bool,
}

impl AppOptions {
    pub fn from_env() -> Self {
        Self {
            data_dir: std::env::var_os(DATA_DIR_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            hub: None,
            trust_page_drops: grants::trust_page_drops_from_env(),
        }
    }
}

/// Adds the app's state, setup and commands to `builder` (a `tauri::Builder::default()` in the
/// app, `tauri::test::mock_builder()` in tests).
pub fn configure<R: Runtime>(builder: Builder<R>, options: AppOptions) -> Builder<R> {
    let commands = ipc::builder::<R>();
    builder
        .plugin(tauri_plugin_dialog::init())
        .register_asynchronous_uri_scheme_protocol(image_protocol::SCHEME, |ctx, request, out| {
            let dir = ctx
                .app_handle()
                .try_state::<AppState>()
                .map(|s| s.store.images_dir());
            let path = request.uri().path().to_string();
            // Off the main thread: an image may be tens of megabytes.
            tauri::async_runtime::spawn_blocking(move || {
                out.respond(match dir {
                    Some(dir) => image_protocol::serve(&dir, &path),
                    None => image_protocol::not_found(),
                })
            });
        })
        .on_window_event(|window, event| {
            if let tauri::WindowEvent::DragDrop(DragDropEvent::Drop { paths, .. }) = event {
                record_drop(window.app_handle(), paths);
            }
        })
        .on_webview_event(|webview, event| {
            if let tauri::WebviewEvent::DragDrop(DragDropEvent::Drop { paths, .. }) = event {
                record_drop(webview.app_handle(), paths);
            }
        })
        .setup(move |app| {
            let data_dir = match options.data_dir {
                Some(dir) => dir,
                None => app.path().app_data_dir()?,
            };
            let store = Arc::new(Store::open(&data_dir)?);
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
            app.manage(commands::dialog::Picker::native(app.handle().clone()));
            if options.trust_page_drops {
                let handle = app.handle().clone();
                app.listen_any(DRAG_DROP_EVENT, move |e| {
                    record_drop(&handle, &grants::drop_payload_paths(e.payload()));
                });
            }
            Ok(())
        })
        .invoke_handler(ipc::invoke_handler(&commands))
}

/// The event tauri sends the webview for a native drop (and the E2E tests emit from the page).
pub const DRAG_DROP_EVENT: &str = "tauri://drag-drop";

/// Records dropped `paths` as the user's. Runs in the window's event handler, which tauri calls
/// right after it queued the drop event for the page: the page hears of the drop, and so asks to
/// read the paths, only after this returns.
pub(crate) fn record_drop<R: Runtime>(app: &AppHandle<R>, paths: &[PathBuf]) {
    if let Some(state) = app.try_state::<AppState>() {
        state.grants.grant(paths.iter().cloned());
    }
}

/// Runs the app with the configuration in the repository's top-level `tauri.conf.json`.
pub fn run_app<R: Runtime>(builder: Builder<R>) {
    configure(builder, AppOptions::from_env())
        .run(tauri::generate_context!("../tauri.conf.json"))
        .expect("error while running SmolVLM Desktop");
}
