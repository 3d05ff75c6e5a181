//! Settings → About: what this build is, what it runs on, and where it keeps things (the log
//! folder is what a bug report asks for).

use std::path::PathBuf;

use serde::Serialize;
use tauri::State;

use crate::commands::models::{BackendInfo, backends};
use crate::logging::LogFolder;
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AboutInfo {
    /// The app's version (the workspace's).
    pub version: String,
    /// The CPU kernels' instruction set (`amx`, `avx512`, `avx2`, `neon`, `scalar`), detected
    /// once per process (`SMOLVLM_SIMD` may lower it).
    pub cpu_kernels: String,
    /// What the `devices` command answers.
    pub backends: Vec<BackendInfo>,
    /// Conversations, images, settings.
    pub data_dir: PathBuf,
    /// Where catalog models download to (the Hugging Face cache, shared with Python's tools).
    pub hf_cache_dir: PathBuf,
    /// Where the log files are.
    pub log_dir: PathBuf,
}

/// What this build is, what it computes with and where it keeps things (Settings → About). Off
/// the main thread: probing a GPU backend opens a context.
#[tauri::command(async)]
#[specta::specta]
pub fn about(state: State<'_, AppState>, logs: State<'_, LogFolder>) -> AboutInfo {
    AboutInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        cpu_kernels: smolvlm::SimdLevel::detect().name().to_string(),
        backends: backends(),
        data_dir: state.store.root().to_path_buf(),
        hf_cache_dir: state.models.hub_config().cache.root().to_path_buf(),
        log_dir: logs.0.clone(),
    }
}
