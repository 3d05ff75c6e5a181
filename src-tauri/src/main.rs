// Prevents an extra console window on Windows in release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    smolvlm_desktop::run_app(tauri::Builder::default());
}
