//! Conversations: listing, creating, reading, renaming, truncating and deleting them.

use tauri::State;

use crate::error::{AppError, AppResult};
use crate::images::absolute_images;
use crate::state::AppState;
use crate::store::{Conversation, ConversationSummary, MessageStatus};
use crate::validate;

#[tauri::command(async)]
#[specta::specta]
pub fn list_conversations(state: State<'_, AppState>) -> AppResult<Vec<ConversationSummary>> {
    state.store.list()
}

#[tauri::command(async)]
#[specta::specta]
pub fn create_conversation(
    state: State<'_, AppState>,
    title: Option<String>,
) -> AppResult<Conversation> {
    let title = title.unwrap_or_default();
    validate::text(&title, "the title", validate::MAX_TITLE_CHARS)?;
    state.store.create(title.trim())
}

/// The conversation with every image's absolute path.
#[tauri::command(async)]
#[specta::specta]
pub fn get_conversation(state: State<'_, AppState>, id: String) -> AppResult<Conversation> {
    state
        .store
        .get(&id)
        .map(|c| absolute_images(&state.store, c))
}

#[tauri::command(async)]
#[specta::specta]
pub fn delete_conversation(state: State<'_, AppState>, id: String) -> AppResult<()> {
    state.store.delete(&id)
}

#[tauri::command(async)]
#[specta::specta]
pub fn rename_conversation(
    state: State<'_, AppState>,
    id: String,
    title: String,
) -> AppResult<ConversationSummary> {
    validate::text(&title, "the title", validate::MAX_TITLE_CHARS)?;
    let title = title.trim();
    if title.is_empty() {
        return Err(AppError::invalid("the title is empty"));
    }
    state.store.rename(&id, title)
}

/// Drops message `message_id` and everything after it. Refused with `busy` while an answer in
/// this conversation is being generated.
#[tauri::command(async)]
#[specta::specta]
pub fn truncate_conversation(
    state: State<'_, AppState>,
    id: String,
    message_id: String,
) -> AppResult<Conversation> {
    validate::id(&message_id)?;
    if let Some(running) = state.worker.active_generation() {
        let c = state.store.get(&id)?;
        if c.messages
            .iter()
            .any(|m| m.status == MessageStatus::Streaming)
        {
            return Err(AppError::Busy(running));
        }
    }
    state
        .store
        .truncate(&id, &message_id)
        .map(|c| absolute_images(&state.store, c))
}
