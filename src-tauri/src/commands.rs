//! The commands the webview may call. Kept out of the crate root (a `#[tauri::command]` there
//! clashes with its generated macro, E0255). `ui/src/api.ts` is the one typed wrapper over them;
//! `tests::command_list_is_pinned` keeps the two lists equal. Images, models and settings have
//! their commands in [`crate::images`], [`crate::models`] and [`crate::settings`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use smolvlm::{ContentPart, Message, Role, StopReason};
use tauri::State;
use tauri::ipc::Channel;

use crate::error::{AppError, AppResult, ErrorPayload};
use crate::events::StreamEvent;
use crate::models::ModelManager;
use crate::settings::SettingsStore;
use crate::store::{
    ANSWER_SAVE_INTERVAL, Conversation, ConversationSummary, MessageStatus, Store, StoredMessage,
    new_id, now_ms,
};
use crate::validate::{self, GenerationSettings};
use crate::worker::{EventSink, GenerateJob, ModelInfo, ModelStatus, WorkerHandle};

/// Every command, in the order `generate_handler!` lists them.
pub const COMMANDS: &[&str] = &[
    "app_info",
    "model_status",
    "load_model",
    "unload_model",
    "list_conversations",
    "create_conversation",
    "get_conversation",
    "delete_conversation",
    "send_message",
    "cancel_generation",
    "import_image",
    "import_image_bytes",
    "image_cost",
    "rename_conversation",
    "truncate_conversation",
    "list_catalog",
    "download_model",
    "cancel_download",
    "delete_model",
    "models_disk_usage",
    "add_local_model",
    "list_local_models",
    "hub_status",
    "get_settings",
    "save_settings",
];

pub struct AppState {
    pub worker: WorkerHandle,
    pub store: Arc<Store>,
    pub settings: SettingsStore,
    pub models: Arc<ModelManager>,
}

impl AppState {
    /// The state over `store`'s data dir; `hub` is where models download from and to
    /// (`None`: the `HF_*` environment variables, as Python's `huggingface_hub` reads them).
    pub fn new(
        worker: WorkerHandle,
        store: Arc<Store>,
        hub: Option<smolvlm_hub::HubConfig>,
    ) -> Self {
        let dir = store.root().to_path_buf();
        let hub = hub.unwrap_or_else(|| ModelManager::hub_config_from_env(&dir));
        Self {
            worker,
            settings: SettingsStore::open(&dir),
            models: Arc::new(ModelManager::new(hub, &dir)),
            store,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    pub version: String,
    pub data_dir: PathBuf,
    /// Where stored images live; the asset protocol serves this folder only.
    pub images_dir: PathBuf,
    pub max_images_per_message: usize,
    pub max_image_file_bytes: u64,
    pub max_text_chars: usize,
}

#[tauri::command]
pub fn app_info(state: State<'_, AppState>) -> AppInfo {
    AppInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        data_dir: state.store.root().to_path_buf(),
        images_dir: state.store.images_dir(),
        max_images_per_message: validate::MAX_IMAGES_PER_MESSAGE,
        max_image_file_bytes: validate::MAX_IMAGE_FILE_BYTES,
        max_text_chars: validate::MAX_TEXT_CHARS,
    }
}

#[tauri::command]
pub fn model_status(state: State<'_, AppState>) -> ModelStatus {
    state.worker.status()
}

/// Loads a model folder or `.gguf` file (replacing the loaded model) with the settings' device
/// and threads; a `.gguf` takes the `mmproj*.gguf` beside it as its vision projector. Answers
/// when it is ready.
#[tauri::command]
pub async fn load_model(state: State<'_, AppState>, path: String) -> AppResult<ModelInfo> {
    let path = validate::model_path(&path)?;
    crate::models::load(&state, path, None).await
}

#[tauri::command]
pub async fn unload_model(state: State<'_, AppState>) -> AppResult<()> {
    let rx = state.worker.unload()?;
    wait(rx).await
}

pub(crate) async fn wait<T: Send + 'static>(
    rx: std::sync::mpsc::Receiver<AppResult<T>>,
) -> AppResult<T> {
    tauri::async_runtime::spawn_blocking(move || rx.recv())
        .await
        .map_err(|_| AppError::WorkerUnavailable)?
        .map_err(|_| AppError::WorkerUnavailable)?
}

#[tauri::command(async)]
pub fn list_conversations(state: State<'_, AppState>) -> AppResult<Vec<ConversationSummary>> {
    state.store.list()
}

#[tauri::command(async)]
pub fn create_conversation(
    state: State<'_, AppState>,
    title: Option<String>,
) -> AppResult<Conversation> {
    let title = title.unwrap_or_default();
    validate::text(&title, "the title", validate::MAX_TITLE_CHARS)?;
    state.store.create(title.trim())
}

#[tauri::command(async)]
pub fn get_conversation(state: State<'_, AppState>, id: String) -> AppResult<Conversation> {
    state.store.get(&id).map(|c| absolute_images(&state, c))
}

/// Every image of `c` with its absolute path in the store, as the UI needs it.
fn absolute_images(state: &AppState, mut c: Conversation) -> Conversation {
    for m in &mut c.messages {
        absolute_message_images(state, m);
    }
    c
}

fn absolute_message_images(state: &AppState, m: &mut StoredMessage) {
    for image in &mut m.images {
        *image = crate::images::absolute_file(state, image.clone());
    }
}

#[tauri::command(async)]
pub fn delete_conversation(state: State<'_, AppState>, id: String) -> AppResult<()> {
    state.store.delete(&id)
}

#[tauri::command(async)]
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
        .map(|c| absolute_images(&state, c))
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SendTicket {
    pub generation_id: u64,
    pub user_message: StoredMessage,
    pub assistant_message_id: String,
}

/// Adds a user turn (text and images, copied into the image store) to a conversation and starts
/// answering it; the answer streams over `on_event` and is saved as it streams. Refused with
/// `busy` while another answer is being generated. Settings the UI leaves out come from the
/// saved settings.
#[tauri::command(async)]
pub fn send_message(
    state: State<'_, AppState>,
    conversation_id: String,
    text: String,
    images: Vec<String>,
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
pub fn cancel_generation(state: State<'_, AppState>, generation_id: u64) -> bool {
    state.worker.cancel(generation_id)
}

pub(crate) fn start_answer(
    state: &AppState,
    conversation_id: &str,
    text: &str,
    images: &[String],
    settings: GenerationSettings,
    send: impl Fn(StreamEvent) + Send + 'static,
) -> AppResult<SendTicket> {
    validate::id(conversation_id)?;
    validate::text(text, "the message", validate::MAX_TEXT_CHARS)?;
    let image_paths = validate::image_paths(images)?;
    if text.trim().is_empty() && image_paths.is_empty() {
        return Err(AppError::invalid("the message is empty"));
    }
    let saved = state.settings.get();
    let settings = saved.as_generation(&settings);
    let params = settings.to_params()?;
    let Some(geometry) = state.worker.image_geometry() else {
        return Err(AppError::NoModel);
    };
    let longest_edge = if settings.longest_edge.is_some() || saved.longest_edge_tiles.is_some() {
        Some(crate::images::longest_edge(
            &geometry,
            settings.longest_edge,
            saved.longest_edge_tiles,
        )?)
    } else {
        None
    };
    if let Some(running) = state.worker.active_generation() {
        return Err(AppError::Busy(running));
    }
    let stored_images = image_paths
        .iter()
        .map(|p| state.store.import_image(p))
        .collect::<AppResult<Vec<_>>>()?;

    let now = now_ms();
    let user = StoredMessage {
        id: new_id('m'),
        role: Role::User,
        text: text.to_string(),
        images: stored_images,
        status: MessageStatus::Complete,
        created_ms: now,
        error: None,
        generated_tokens: None,
    };
    let answer_id = new_id('m');
    let (conversation, ()) = state.store.update(conversation_id, |c| {
        if c.title.is_empty() {
            c.title = title_from(text);
        }
        c.messages.push(user.clone());
        c.messages.push(StoredMessage {
            id: answer_id.clone(),
            role: Role::Assistant,
            text: String::new(),
            images: Vec::new(),
            status: MessageStatus::Streaming,
            created_ms: now,
            error: None,
            generated_tokens: None,
        });
    })?;

    let mut recorder = AnswerRecorder {
        store: state.store.clone(),
        conversation_id: conversation_id.to_string(),
        message_id: answer_id.clone(),
        text: String::new(),
        last_save: Instant::now(),
    };
    let sink = EventSink::new(move |event: StreamEvent| {
        // Final states are saved before the UI hears of them; tokens are sent first.
        match &event {
            StreamEvent::Token { .. } => {
                send(event.clone());
                recorder.observe(&event);
            }
            _ => {
                recorder.observe(&event);
                send(event);
            }
        }
    });
    let mut messages = state.store.engine_messages(&conversation);
    if !saved.system_prompt.trim().is_empty() {
        messages.insert(
            0,
            Message {
                role: Role::System,
                content: vec![ContentPart::Text(saved.system_prompt.clone())],
            },
        );
    }
    let job = GenerateJob {
        id: state.worker.next_generation_id(),
        conversation: messages,
        longest_edge,
        params,
        sink,
        cancel: smolvlm::CancelToken::new(),
    };
    match state.worker.generate(job) {
        Ok(generation_id) => {
            let mut user_message = user;
            absolute_message_images(state, &mut user_message);
            Ok(SendTicket {
                generation_id,
                user_message,
                assistant_message_id: answer_id,
            })
        }
        Err(e) => {
            let _ = state.store.update(conversation_id, |c| {
                c.messages.retain(|m| m.id != user.id && m.id != answer_id);
            });
            Err(e)
        }
    }
}

fn title_from(text: &str) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    let mut title: String = line.chars().take(60).collect();
    if line.chars().count() > 60 {
        title.push('…');
    }
    if title.is_empty() {
        "Image question".to_string()
    } else {
        title
    }
}

/// Saves an answer while it streams: at most every [`ANSWER_SAVE_INTERVAL`], and at the end.
struct AnswerRecorder {
    store: Arc<Store>,
    conversation_id: String,
    message_id: String,
    text: String,
    last_save: Instant,
}

impl AnswerRecorder {
    fn observe(&mut self, event: &StreamEvent) {
        match event {
            StreamEvent::Token { text, .. } => {
                self.text.push_str(text);
                if self.last_save.elapsed() >= ANSWER_SAVE_INTERVAL {
                    self.save(MessageStatus::Streaming, None, None);
                }
            }
            StreamEvent::Done {
                stop_reason,
                generated_tokens,
                ..
            } => {
                let status = if *stop_reason == StopReason::Cancelled {
                    MessageStatus::Cancelled
                } else {
                    MessageStatus::Complete
                };
                self.save(status, None, Some(*generated_tokens));
            }
            StreamEvent::Error(e) => self.save(MessageStatus::Error, Some(e.clone()), None),
            StreamEvent::Started { .. } | StreamEvent::ImageProgress { .. } => {}
        }
    }

    fn save(&mut self, status: MessageStatus, error: Option<ErrorPayload>, tokens: Option<usize>) {
        self.last_save = Instant::now();
        let result = self.store.update(&self.conversation_id, |c| {
            if let Some(m) = c.messages.iter_mut().find(|m| m.id == self.message_id) {
                m.text.clone_from(&self.text);
                m.status = status;
                m.error = error;
                m.generated_tokens = tokens;
            }
        });
        if let Err(e) = result {
            // The conversation may have been deleted meanwhile; the stream goes on regardless.
            eprintln!("smolvlm-desktop: could not save the answer: {e}");
        }
    }
}
