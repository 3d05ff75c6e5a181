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
//!   [`opened`]: the files the app was opened with ("Open with", a second launch's);
//! - [`models`]: the catalog, downloads, local models; [`settings`]: the user's settings;
//!   [`connections`]: the settings of the local API and of remote OpenAI-compatible servers;
//! - [`logging`]: the log file (rotated) and stderr, and where the log folder is.

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
pub mod logging;
pub mod models;
pub mod opened;
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

use logging::LogFolder;
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
    /// Images and PDFs the app was opened with ([`opened::files_in_args`]); the UI attaches them
    /// to a new chat.
    pub open_files: Vec<PathBuf>,
    /// Whether to install the process's logger ([`logging::install`]): the app does; tests,
    /// which build many apps in one process, do not.
    pub install_logger: bool,
}

impl AppOptions {
    pub fn from_env() -> Self {
        Self {
            data_dir: std::env::var_os(DATA_DIR_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            hub: None,
            trust_page_drops: grants::trust_page_drops_from_env(),
            open_files: opened::files_in_args(
                std::env::args_os().skip(1),
                &std::env::current_dir().unwrap_or_default(),
            ),
            install_logger: true,
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
            let logs = LogFolder::resolve(app.handle(), options.data_dir.as_deref())?;
            if options.install_logger {
                logging::install(app.handle(), &logs.0);
            }
            let data_dir = match options.data_dir {
                Some(dir) => dir,
                None => app.path().app_data_dir()?,
            };
            log::info!(
                "SmolVLM Desktop {} starting: data folder {}, logs in {}",
                env!("CARGO_PKG_VERSION"),
                data_dir.display(),
                logs.0.display()
            );
            let store = match Store::open(&data_dir) {
                Ok(store) => Arc::new(store),
                Err(e) => {
                    log::error!("cannot open the data folder {}: {e}", data_dir.display());
                    return Err(e.into());
                }
            };
            if let Some(why) = store.read_only() {
                log::warn!("the conversations are read-only: {why}");
            }
            let handle = app.handle().clone();
            let worker = WorkerHandle::spawn(Arc::new(move |status: &ModelStatus| {
                let _ = handle.emit(MODEL_STATUS_EVENT, status);
            }));
            let handle = app.handle().clone();
            let on_download = Arc::new(move |progress: &DownloadProgress| {
                let _ = handle.emit(DOWNLOAD_PROGRESS_EVENT, progress);
            });
            let state = AppState::new(worker, store, options.hub, on_download);
            log::info!(
                "device: {} (settings), CPU kernels {}",
                format!("{:?}", state.settings.get().device).to_lowercase(),
                smolvlm::SimdLevel::detect().name()
            );
            if !options.open_files.is_empty() {
                let n = state.opened.hand_over(&state.grants, options.open_files);
                log::info!("opened with {n} file(s)");
            }
            // Enabled in a previous run: serve again (a taken port is shown in the settings).
            state.apply_local_api();
            app.manage(state);
            app.manage(logs);
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

/// A second launch's command line (`argv` with its program's name first, its `cwd`), handed
/// over by the single-instance plugin: its files are queued and the UI told
/// ([`opened::FILES_OPENED_EVENT`]); the window comes forward either way (launching the app again
/// means "show me the app").
pub(crate) fn forwarded<R: Runtime>(app: &AppHandle<R>, argv: Vec<String>, cwd: String) {
    let files = opened::files_in_args(argv.into_iter().skip(1), std::path::Path::new(&cwd));
    if let Some(state) = app.try_state::<AppState>() {
        let n = state.opened.hand_over(&state.grants, files);
        log::info!("another launch opened {n} file(s) here");
        if n > 0
            && let Err(e) = app.emit(opened::FILES_OPENED_EVENT, ())
        {
            log::warn!("could not tell the window of opened files: {e}");
        }
    }
    if let Some(window) = app.get_webview_window("main") {
        // Each step on its own: a window manager that refuses focus still shows the window.
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

/// Runs the app with the configuration in the repository's top-level `tauri.conf.json`.
pub fn run_app<R: Runtime>(builder: Builder<R>) {
    // First, as the plugin asks: a second launch hands its command line to the running app and
    // exits before anything else starts. Not in `configure`: tests build many apps in one process.
    let builder = builder.plugin(tauri_plugin_single_instance::init(forwarded));
    configure(builder, AppOptions::from_env())
        .run(tauri::generate_context!("../tauri.conf.json"))
        .expect("error while running SmolVLM Desktop");
}
