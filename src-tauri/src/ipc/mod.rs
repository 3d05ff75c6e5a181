//! The IPC contract in one place: [`builder`] lists every command once; it registers them
//! ([`invoke_handler`]) and generates their typed TypeScript wrappers and every type they take,
//! answer and stream into `ui/src/bindings.ts` ([`BINDINGS`], written by [`export_bindings`];
//! `tests::contract::bindings_are_up_to_date` fails when the committed file differs and says how
//! to regenerate it). Errors keep their `{code, message}` shape ([`crate::error::ErrorPayload`]);
//! a generated wrapper rejects with it (`ErrorHandlingMode::Throw`).
//!
//! Two commands stay outside the generated list: `import_image_bytes` and `open_pdf_bytes` take
//! the raw request body (pasted bytes), which named arguments cannot express; they are registered
//! beside the others here ([`RAW_COMMANDS`]) and wrapped by hand in `ui/src/api.ts`.

use std::path::Path;

use tauri::Runtime;
use tauri::ipc::Invoke;
use tauri_specta::{ErrorHandlingMode, collect_commands};

use crate::commands;

/// The generated bindings, relative to the repository root.
pub const BINDINGS: &str = "ui/src/bindings.ts";

/// The commands registered without generated bindings (see the module docs).
pub const RAW_COMMANDS: &[&str] = &["import_image_bytes", "open_pdf_bytes"];

const HEADER: &str =
    "// Generated from the Rust commands and types (src-tauri/src/ipc): do not edit.
// Regenerate: UPDATE_BINDINGS=1 cargo test -p smolvlm-desktop -- bindings";

/// Every command with generated bindings, and how the bindings are written.
pub fn builder<R: Runtime>() -> tauri_specta::Builder<R> {
    tauri_specta::Builder::<R>::new()
        .commands(collect_commands![
            commands::app_info,
            commands::models::model_status,
            commands::models::devices,
            commands::models::load_model,
            commands::models::unload_model,
            commands::conversations::list_conversations,
            commands::conversations::create_conversation,
            commands::conversations::get_conversation,
            commands::conversations::delete_conversation,
            commands::chat::send_message,
            commands::chat::cancel_generation,
            commands::images::import_image,
            commands::images::discard_image,
            commands::images::image_cost,
            commands::conversations::rename_conversation,
            commands::conversations::truncate_conversation,
            commands::models::list_catalog,
            commands::models::download_model,
            commands::models::cancel_download,
            commands::models::delete_model,
            commands::models::models_disk_usage,
            commands::models::add_local_model,
            commands::models::list_local_models,
            commands::models::hub_status,
            commands::settings::get_settings,
            commands::settings::save_settings,
            commands::settings::local_api_status,
            commands::documents::open_pdf,
            commands::documents::pdf_page_costs,
            commands::documents::pdf_thumbnail,
            commands::documents::import_pdf_page,
            commands::documents::cancel_pdf_render,
            commands::documents::close_pdf,
            commands::dialog::pick_files,
            commands::about::about,
            commands::opened::take_opened_files,
        ])
        .typ::<crate::models::DownloadProgress>()
        .error_handling(ErrorHandlingMode::Throw)
        // Ids, sizes and counts are u64/usize; none comes near 2^53.
        .dangerously_cast_bigints_to_number()
}

/// The handler of every command: [`builder`]'s and the [`RAW_COMMANDS`].
pub fn invoke_handler<R: Runtime>(
    builder: &tauri_specta::Builder<R>,
) -> impl Fn(Invoke<R>) -> bool + Send + Sync + 'static {
    let typed = builder.invoke_handler();
    let raw = handler::<R, _>(tauri::generate_handler![
        commands::images::import_image_bytes,
        commands::documents::open_pdf_bytes
    ]);
    move |invoke| {
        if RAW_COMMANDS.contains(&invoke.message.command()) {
            raw(invoke)
        } else {
            typed(invoke)
        }
    }
}

/// `f`, typed as a handler on `R` (what `generate_handler!` gives is inferred from its use).
fn handler<R: Runtime, F: Fn(Invoke<R>) -> bool>(f: F) -> F {
    f
}

/// Writes the TypeScript bindings to `path`.
pub fn export_bindings(path: &Path) -> Result<(), specta_typescript::Error> {
    builder::<tauri::Wry>().export(
        specta_typescript::Typescript::default().header(HEADER),
        path,
    )
}
