//! The commands the webview may call, grouped by domain; each is thin: it validates its input
//! (`validate`) and hands over to the domain module. Every command is listed once, in
//! `ipc::builder`, which registers them and generates their typed TypeScript wrappers
//! (`ui/src/bindings.ts`). Kept out of the crate root (a `#[tauri::command]` there clashes with
//! its generated macro, E0255).
//!
//! - [`about`]: the version, CPU kernels and devices, and the app's folders (Settings → About);
//! - [`chat`]: asking and stopping answers;
//! - [`conversations`]: listing, creating, renaming, truncating, deleting;
//! - [`dialog`]: the native open dialog, whose picks the other commands accept;
//! - [`documents`]: PDFs: their pages, costs and thumbnails, and rendering chosen pages;
//! - [`images`]: importing images and what one costs;
//! - [`models`]: the model's status, loading, the catalog, downloads, local models;
//! - [`opened`]: the files the app was opened with ("Open with");
//! - [`settings`]: reading and saving the settings.

use std::path::PathBuf;

use serde::Serialize;
use tauri::State;

use crate::state::AppState;
use crate::store::ReadOnly;
use crate::validate;

pub mod about;
pub mod chat;
pub mod conversations;
pub mod dialog;
pub mod documents;
pub mod images;
pub mod models;
pub mod opened;
pub mod settings;

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    pub version: String,
    pub data_dir: PathBuf,
    /// Where stored images live (the webview shows them through `crate::image_protocol`).
    pub images_dir: PathBuf,
    /// Set when the conversations cannot be changed in this window, and why; the UI says so.
    pub read_only: Option<ReadOnly>,
    pub max_images_per_message: usize,
    pub max_image_file_bytes: u64,
    pub max_text_chars: usize,
}

#[tauri::command]
#[specta::specta]
pub fn app_info(state: State<'_, AppState>) -> AppInfo {
    AppInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        data_dir: state.store.root().to_path_buf(),
        images_dir: state.store.images_dir(),
        read_only: state.store.read_only().cloned(),
        max_images_per_message: validate::MAX_IMAGES_PER_MESSAGE,
        max_image_file_bytes: validate::MAX_IMAGE_FILE_BYTES,
        max_text_chars: validate::MAX_TEXT_CHARS,
    }
}
