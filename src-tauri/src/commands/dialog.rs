//! The native open dialog, run here rather than by the webview (which has no dialog permission)
//! so that what the user picks is recorded as theirs ([`crate::grants`]).

use std::path::PathBuf;

use serde::Deserialize;
use tauri::{AppHandle, Manager, Runtime, State};
use tauri_plugin_dialog::DialogExt;

use crate::state::AppState;
use crate::validate::ATTACHMENT_EXTENSIONS;

/// What the dialog is for: its title, its filter, files or a folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, specta::Type)]
#[serde(rename_all = "kebab-case")]
pub enum PickPurpose {
    /// Images and PDFs for the composer, several at once.
    Attachments,
    /// One `.gguf` model file.
    ModelFile,
    /// One model folder.
    ModelFolder,
}

/// Shows the open dialog and answers the chosen paths (none when cancelled), which the other
/// commands then accept.
#[tauri::command(async)]
#[specta::specta]
pub fn pick_files(
    picker: State<'_, Picker>,
    state: State<'_, AppState>,
    purpose: PickPurpose,
) -> Vec<String> {
    state.grants.hand_over((picker.0)(purpose))
}

/// Shows the open dialog for a purpose; blocks until the user is done.
pub struct Picker(Box<dyn Fn(PickPurpose) -> Vec<PathBuf> + Send + Sync>);

impl Picker {
    /// The native dialog, over the main window.
    pub fn native<R: Runtime>(app: AppHandle<R>) -> Self {
        Self(Box::new(move |purpose| pick(&app, purpose)))
    }
}

fn pick<R: Runtime>(app: &AppHandle<R>, purpose: PickPurpose) -> Vec<PathBuf> {
    let mut dialog = app.dialog().file();
    if let Some(window) = app.get_webview_window("main") {
        dialog = dialog.set_parent(&window);
    }
    let picked = match purpose {
        PickPurpose::Attachments => dialog
            .set_title("Attach images or PDFs")
            .add_filter("Images and PDFs", &ATTACHMENT_EXTENSIONS)
            .blocking_pick_files()
            .unwrap_or_default(),
        PickPurpose::ModelFile => dialog
            .set_title("Choose a GGUF model")
            .add_filter("GGUF model", &["gguf"])
            .blocking_pick_file()
            .into_iter()
            .collect(),
        PickPurpose::ModelFolder => dialog
            .set_title("Choose a model folder")
            .blocking_pick_folder()
            .into_iter()
            .collect(),
    };
    picked
        .into_iter()
        .filter_map(|p| p.into_path().ok())
        .collect()
}
