//! "Open with SmolVLM": the files named on the command line (`crate::opened`).

use tauri::State;

use crate::state::AppState;

/// The images and PDFs the app was opened with (at start or by a later launch) that the UI has
/// not taken yet; taking them clears them. Each is readable by the other commands, as a drop is.
#[tauri::command]
#[specta::specta]
pub fn take_opened_files(state: State<'_, AppState>) -> Vec<String> {
    state.opened.take()
}
