//! Asking the model and stopping an answer.

use tauri::State;
use tauri::ipc::Channel;

use crate::chat::{OutgoingImage, SendTicket, start_answer};
use crate::error::AppResult;
use crate::events::StreamEvent;
use crate::state::AppState;
use crate::validate::GenerationSettings;

/// Adds a user turn (text and images — paths, or stored images with their names and PDF pages —
/// copied into the image store) to a conversation and starts
/// answering it; the answer streams over `on_event` and is saved as it streams. Refused with
/// `busy` while another answer is being generated. Settings the UI leaves out come from the
/// saved settings.
#[tauri::command(async)]
#[specta::specta]
pub fn send_message(
    state: State<'_, AppState>,
    conversation_id: String,
    text: String,
    images: Vec<OutgoingImage>,
    settings: Option<GenerationSettings>,
    on_event: Channel<StreamEvent>,
) -> AppResult<SendTicket> {
    start_answer(
        &state,
        &conversation_id,
        &text,
        &images,
        settings.unwrap_or_default(),
        move |e| {
            let _ = on_event.send(e);
        },
    )
}

/// Stops a generation; false when it is not the one running (already finished, say).
#[tauri::command]
#[specta::specta]
pub fn cancel_generation(state: State<'_, AppState>, generation_id: u64) -> bool {
    state.worker.cancel(generation_id)
}
