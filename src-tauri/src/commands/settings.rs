//! The user's settings.

use tauri::State;

use crate::error::AppResult;
use crate::settings::{Settings, SettingsPatch};
use crate::state::AppState;

#[tauri::command]
#[specta::specta]
pub fn get_settings(state: State<'_, AppState>) -> Settings {
    state.settings.get()
}

/// Saves the settings (all of them, or only the keys given) and answers them as saved.
#[tauri::command(async)]
#[specta::specta]
pub fn save_settings(state: State<'_, AppState>, settings: SettingsPatch) -> AppResult<Settings> {
    state.settings.merge(settings.0)
}
