//! The user's settings.

use tauri::State;

use crate::error::AppResult;
use crate::local_api::LocalApiStatus;
use crate::settings::{Settings, SettingsPatch};
use crate::state::AppState;

#[tauri::command]
#[specta::specta]
pub fn get_settings(state: State<'_, AppState>) -> Settings {
    state.settings.get()
}

/// Saves the settings (all of them, or only the keys given) and answers them as saved; the local
/// API starts, restarts or stops to match (`local_api_status` tells how that went).
#[tauri::command(async)]
#[specta::specta]
pub fn save_settings(state: State<'_, AppState>, settings: SettingsPatch) -> AppResult<Settings> {
    let saved = state.settings.merge(settings.0)?;
    state.apply_local_api();
    Ok(saved)
}

/// Whether the local API is serving, where, and why not when it should be.
#[tauri::command]
#[specta::specta]
pub fn local_api_status(state: State<'_, AppState>) -> LocalApiStatus {
    state.local_api.status()
}
