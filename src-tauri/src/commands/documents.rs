//! PDFs: opening one (a path or pasted bytes), its pages' costs and thumbnails, and rendering
//! the chosen pages into the image store (see `crate::documents`).

use tauri::State;
use tauri::ipc::{InvokeBody, Request};

use crate::documents::{PdfCosts, PdfInfo};
use crate::error::{AppError, AppResult};
use crate::images::{self, NAME_HEADER, absolute_file};
use crate::state::AppState;
use crate::store::StoredImage;

/// Opens the PDF at `path` (dropped or picked) for choosing pages: its page count and sizes.
#[tauri::command(async)]
#[specta::specta]
pub fn open_pdf(state: State<'_, AppState>, path: String) -> AppResult<PdfInfo> {
    let path = state.grants.readable(&state.store, &path, "PDF path")?;
    state.documents.open_file(&path)
}

/// Opens pasted PDF data: the request body is the raw bytes, the `x-name` header its name.
/// Not in the generated bindings (its input is the raw body), like `import_image_bytes`.
#[tauri::command(async)]
pub fn open_pdf_bytes(state: State<'_, AppState>, request: Request<'_>) -> AppResult<PdfInfo> {
    let InvokeBody::Raw(bytes) = request.body() else {
        return Err(AppError::invalid(
            "send the PDF as the raw request body (a Uint8Array)",
        ));
    };
    let name = images::pasted_name(
        request
            .headers()
            .get(NAME_HEADER)
            .and_then(|v| v.to_str().ok()),
    );
    state.documents.open_bytes(bytes.clone(), &name)
}

/// What each page costs with the loaded model at `longest_edge` (pixels; default: the document
/// preset).
#[tauri::command(async)]
#[specta::specta]
pub fn pdf_page_costs(
    state: State<'_, AppState>,
    id: String,
    longest_edge: Option<u32>,
) -> AppResult<PdfCosts> {
    let geometry = state.worker.image_geometry().ok_or(AppError::NoModel)?;
    state.documents.costs(&geometry, &id, longest_edge)
}

/// Page `page` (from 1) as a small PNG data URL.
#[tauri::command(async)]
#[specta::specta]
pub fn pdf_thumbnail(state: State<'_, AppState>, id: String, page: u32) -> AppResult<String> {
    state.documents.thumbnail(&id, page)
}

/// Renders page `page` (from 1) at `longest_edge` (default: the loaded model's document preset)
/// into the image store; the answer's `file` is the stored copy's absolute path.
#[tauri::command(async)]
#[specta::specta]
pub fn import_pdf_page(
    state: State<'_, AppState>,
    id: String,
    page: u32,
    longest_edge: Option<u32>,
) -> AppResult<StoredImage> {
    let geometry = state.worker.image_geometry();
    let image =
        state
            .documents
            .import_page(&state.store, geometry.as_ref(), &id, page, longest_edge)?;
    Ok(absolute_file(&state.store, image))
}

/// Stops the page render running for PDF `id` (it answers `cancelled`).
#[tauri::command]
#[specta::specta]
pub fn cancel_pdf_render(state: State<'_, AppState>, id: String) -> AppResult<()> {
    state.documents.cancel(&id)
}

/// Closes PDF `id`; false when it was not open.
#[tauri::command]
#[specta::specta]
pub fn close_pdf(state: State<'_, AppState>, id: String) -> bool {
    state.documents.close(&id)
}
