//! Images: importing them (paths and pasted bytes) and what one costs with the loaded model.

use tauri::State;
use tauri::ipc::{InvokeBody, Request};

use crate::error::{AppError, AppResult};
use crate::images::{self, ImageCost, NAME_HEADER, absolute_file};
use crate::state::AppState;
use crate::store::StoredImage;

/// Validates an image file the user dropped or picked (exists, within the size limits, decodes)
/// and copies it into the image store. The answer's `file` is the stored copy's absolute path.
#[tauri::command(async)]
#[specta::specta]
pub fn import_image(state: State<'_, AppState>, path: String) -> AppResult<StoredImage> {
    let path = state.grants.readable(&state.store, &path, "image path")?;
    let image = state.store.import_image_verified(&path)?;
    Ok(absolute_file(&state.store, image))
}

/// The composer dropped an image it had imported (Remove, or an import that finished after its
/// thumbnail was removed): the store may collect it. `path` is the `file` `import_image`
/// answered; anything else is `invalid_input`. False when it was not held.
#[tauri::command(async)]
#[specta::specta]
pub fn discard_image(state: State<'_, AppState>, path: String) -> AppResult<bool> {
    let path = std::path::Path::new(&path);
    if !state.store.is_image_file(path) {
        return Err(AppError::invalid("not an image of the store"));
    }
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    state.store.discard_image(name)
}

/// Stores pasted image data: the request body is the raw bytes, the `x-name` header its name.
/// Not in the generated bindings (its input is the raw body, not named arguments): registered
/// beside them in `ipc::invoke_handler`, wrapped by hand in `ui/src/api.ts`.
#[tauri::command(async)]
pub fn import_image_bytes(
    state: State<'_, AppState>,
    request: Request<'_>,
) -> AppResult<StoredImage> {
    let InvokeBody::Raw(bytes) = request.body() else {
        return Err(AppError::invalid(
            "send the image as the raw request body (a Uint8Array)",
        ));
    };
    let name = images::pasted_name(
        request
            .headers()
            .get(NAME_HEADER)
            .and_then(|v| v.to_str().ok()),
    );
    let image = state.store.import_image_bytes(bytes, &name)?;
    Ok(absolute_file(&state.store, image))
}

/// Tiles and tokens `path` (a stored image, or one dropped or picked) costs with the loaded model at `longest_edge` (pixels; clamped to the
/// model's limits; default: the settings' resolution preset).
#[tauri::command(async)]
#[specta::specta]
pub fn image_cost(
    state: State<'_, AppState>,
    path: String,
    longest_edge: Option<u32>,
) -> AppResult<ImageCost> {
    let path = state.grants.readable(&state.store, &path, "image path")?;
    let geometry = state.worker.image_geometry().ok_or(AppError::NoModel)?;
    images::file_cost(
        &geometry,
        &path,
        longest_edge,
        state.settings.get().resolution,
    )
}
