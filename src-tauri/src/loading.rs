//! Loading and unloading the model, in one place: every load goes through [`load`] (with the
//! settings' device and threads, recording the last model), whether the UI names a path, adds a
//! local model or picks an installed catalog model.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;

use smolvlm::LoadOptions;
use smolvlm_worker::WorkerError;

use crate::error::{AppError, AppResult};
use crate::models::LocalModel;
use crate::state::AppState;
use crate::worker::ModelInfo;

/// Loads `path` (a model folder, its `config.json`, or a text-model `.gguf`, whose projector is
/// found beside it when `mmproj` is not given), replacing the loaded model, with the settings'
/// device and threads; records it as the last model. Answers when it is ready.
pub async fn load(
    state: &AppState,
    path: PathBuf,
    mmproj: Option<PathBuf>,
) -> AppResult<ModelInfo> {
    let mmproj = match mmproj {
        Some(p) => Some(p),
        None if is_gguf(&path) => smolvlm_hub::pair_mmproj(&path)?,
        None => None,
    };
    let settings = state.settings.get();
    let options = LoadOptions {
        device: settings.device,
        threads: settings.threads,
        mmproj,
        ..LoadOptions::default()
    };
    log::info!(
        "loading {} (device {}, threads {})",
        path.display(),
        format!("{:?}", options.device).to_lowercase(),
        options.threads
    );
    let loaded = match state.worker.load(&path, options) {
        Ok(rx) => wait(rx).await,
        Err(e) => Err(e),
    };
    let info = match loaded {
        Ok(model) => ModelInfo::from(model),
        Err(e) => {
            log::error!("could not load {}: {e} ({})", path.display(), e.code());
            return Err(e);
        }
    };
    let kernels = info
        .kernels
        .as_deref()
        .map(|k| format!(", {k} kernels, {} threads", info.threads))
        .unwrap_or_default();
    log::info!(
        "loaded {} on {}{kernels} in {:.1} s",
        info.name,
        info.device,
        info.load_s
    );
    if let Some(notice) = &info.device_notice {
        log::warn!("{notice}");
    }
    let last = path.display().to_string();
    if let Err(e) = state.settings.update(|s| s.last_model = Some(last)) {
        log::warn!("could not remember the last model: {e}");
    }
    Ok(info)
}

/// `path` as a model the webview may have loaded: one the user handed over (dropped, picked,
/// opened the app with), the model loaded last, an installed catalog model or an added local
/// model. Anything else is `path_not_allowed`, answered before the path is looked at: the
/// webview is untrusted, and a load reads the files it names (see `crate::grants`).
pub fn allowed_model_path(state: &AppState, path: &str) -> AppResult<PathBuf> {
    let p = crate::validate::absolute(path, "model path")?;
    let is = |other: &str| Path::new(other) == p;
    let known = state.grants.contains(&p)
        || state.settings.get().last_model.as_deref().is_some_and(is)
        || state
            .models
            .local_models()
            .is_ok_and(|all| all.iter().any(|m| is(&m.path)))
        || state.models.catalog().is_ok_and(|all| {
            all.iter()
                .any(|m| m.installed_path.as_deref().is_some_and(is))
        });
    if !known {
        return Err(AppError::PathNotAllowed { path: p });
    }
    crate::validate::model_path(path)
}

/// Drops the loaded model (nothing happens when none is loaded).
pub async fn unload(state: &AppState) -> AppResult<()> {
    wait(state.worker.unload()?).await?;
    log::info!("model unloaded");
    Ok(())
}

/// Remembers a `.gguf` file (with the `mmproj*.gguf` beside it) or a model folder, and loads it;
/// a model that fails to load is forgotten again unless it was remembered before.
pub async fn add_local(state: &AppState, path: PathBuf) -> AppResult<LocalModel> {
    if !path.exists() {
        return Err(AppError::NotFound {
            what: format!("model {}", path.display()),
        });
    }
    let (model, new) = {
        // Reads GGUF headers: off the async runtime's threads.
        let manager = state.models.clone();
        tauri::async_runtime::spawn_blocking(move || manager.remember_local(&path))
            .await
            .map_err(|_| AppError::worker_unavailable())??
    };
    let result = load(
        state,
        PathBuf::from(&model.path),
        model.mmproj.as_ref().map(PathBuf::from),
    )
    .await;
    match result {
        Ok(_) => Ok(model),
        Err(e) => {
            if new {
                let _ = state.models.forget_local(&model.id);
            }
            Err(e)
        }
    }
}

fn is_gguf(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
}

/// The worker's answer, waited for off the async runtime's threads.
async fn wait<T: Send + 'static>(rx: Receiver<Result<T, WorkerError>>) -> AppResult<T> {
    tauri::async_runtime::spawn_blocking(move || rx.recv())
        .await
        .map_err(|_| AppError::worker_unavailable())?
        .map_err(|_| AppError::worker_unavailable())?
        .map_err(AppError::from)
}
