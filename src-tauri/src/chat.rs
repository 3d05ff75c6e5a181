//! Asking the model: a user turn (text and images, copied into the image store) is added to its
//! conversation and the answer starts streaming, recorded as it streams ([`crate::recorder`]).

use serde::{Deserialize, Serialize};
use smolvlm::{ContentPart, Message, Role};

use crate::connections::Connection;
use crate::error::{AppError, AppResult};
use crate::events::StreamEvent;
use crate::images::{self, absolute_message_images};
use crate::recorder::AnswerRecorder;
use crate::remote;
use crate::state::AppState;
use crate::store::{
    JobImages, MessageStatus, PdfPageRef, StoredImage, StoredMessage, new_id, now_ms,
};
use crate::validate::{self, GenerationSettings};
use crate::worker::GenerateJob;

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SendTicket {
    pub generation_id: u64,
    pub user_message: StoredMessage,
    pub assistant_message_id: String,
}

/// An image of a message being sent: a path (a file the user dropped or picked, or one in the
/// image store, see `crate::grants`), or a stored image with what the UI knows of it (the name it
/// was added under, the PDF page it is), which the conversation keeps for display.
#[derive(Debug, Clone, Deserialize, specta::Type)]
#[serde(untagged)]
pub enum OutgoingImage {
    Path(String),
    Stored(ImageRef),
}

#[derive(Debug, Clone, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ImageRef {
    pub file: String,
    #[serde(default)]
    pub original_name: Option<String>,
    #[serde(default)]
    pub page: Option<PdfPageRef>,
}

impl OutgoingImage {
    fn path(&self) -> &str {
        match self {
            OutgoingImage::Path(p) => p,
            OutgoingImage::Stored(r) => &r.file,
        }
    }

    /// `image` (as imported from [`Self::path`]) with the name and page the UI gave, checked.
    fn describe(&self, mut image: StoredImage) -> AppResult<StoredImage> {
        let OutgoingImage::Stored(r) = self else {
            return Ok(image);
        };
        if let Some(name) = r.original_name.as_deref().map(images::display_name)
            && !name.is_empty()
        {
            image.original_name = name;
        }
        if let Some(page) = &r.page {
            if page.page == 0 || page.page > page.pages {
                return Err(AppError::invalid(format!(
                    "page {} of a {}-page PDF does not exist",
                    page.page, page.pages
                )));
            }
            image.page = Some(PdfPageRef {
                document: images::display_name(&page.document),
                ..page.clone()
            });
        }
        Ok(image)
    }
}

/// Adds the user's turn to `conversation_id` and starts answering it — with this computer's
/// model, or the connection the settings' `backend` names; every event goes to `send`. Settings `settings` leaves out come from the saved settings. Refused with `busy` while
/// another answer is being generated.
pub fn start_answer(
    state: &AppState,
    conversation_id: &str,
    text: &str,
    images: &[OutgoingImage],
    settings: GenerationSettings,
    send: impl Fn(StreamEvent) + Send + 'static,
) -> AppResult<SendTicket> {
    validate::id(conversation_id)?;
    validate::text(text, "the message", validate::MAX_TEXT_CHARS)?;
    let paths: Vec<String> = images.iter().map(|i| i.path().to_string()).collect();
    let image_paths = validate::image_paths(&paths)?
        .into_iter()
        .map(|p| state.grants.allowed(&state.store, p))
        .collect::<AppResult<Vec<_>>>()?;
    if text.trim().is_empty() && image_paths.is_empty() {
        return Err(AppError::invalid("the message is empty"));
    }
    let saved = state.settings.get();
    let settings = saved.as_generation(&settings);
    let params = settings.to_params()?;
    let connection = saved
        .backend
        .as_ref()
        .and_then(|b| saved.connections.iter().find(|c| &c.id == b).cloned());
    let (longest_edge, answered_by) = match &connection {
        // The server's processor decides the resolution.
        Some(c) => (None, answered_by_connection(c)),
        None => {
            let Some(geometry) = state.worker.image_geometry() else {
                return Err(AppError::NoModel);
            };
            let edge = Some(images::longest_edge(
                &geometry,
                settings.longest_edge,
                saved.resolution,
            )?);
            (
                edge,
                state.worker.status().model.map(|m| answered_by_local(&m)),
            )
        }
    };
    if let Some(running) = state.worker.active_generation() {
        return Err(AppError::Busy(running));
    }
    let (held, stored_images) = import_images(state, &image_paths, images)?;
    let turn = Turn {
        saved,
        connection,
        params,
        longest_edge,
        answered_by,
    };
    let result = add_and_start(state, conversation_id, text, stored_images, turn, send);
    match &result {
        Ok(_) => state.store.release_sent(&held),
        Err(_) => state.store.release_unsent(&held),
    }
    result
}

/// Copies the message's images into the store: the imported images (each holding its file
/// there, see `crate::store`) and the same with what the UI said of them. On a failure the holds
/// taken so far go.
fn import_images(
    state: &AppState,
    paths: &[std::path::PathBuf],
    images: &[OutgoingImage],
) -> AppResult<(Vec<StoredImage>, Vec<StoredImage>)> {
    let mut held = Vec::with_capacity(paths.len());
    let mut described = Vec::with_capacity(paths.len());
    let result = paths.iter().zip(images).try_for_each(|(p, image)| {
        let imported = state.store.import_image(p)?;
        held.push(imported.clone());
        described.push(image.describe(imported)?);
        Ok(())
    });
    match result {
        Ok(()) => Ok((held, described)),
        Err(e) => {
            state.store.release_unsent(&held);
            Err(e)
        }
    }
}

/// How a checked turn is to be answered.
struct Turn {
    saved: crate::settings::Settings,
    connection: Option<Connection>,
    params: smolvlm::SamplingParams,
    longest_edge: Option<u32>,
    answered_by: Option<String>,
}

/// The rest of [`start_answer`], once the images are in the store: the turn saved, the answer
/// started.
fn add_and_start(
    state: &AppState,
    conversation_id: &str,
    text: &str,
    stored_images: Vec<StoredImage>,
    turn: Turn,
    send: impl Fn(StreamEvent) + Send + 'static,
) -> AppResult<SendTicket> {
    let Turn {
        saved,
        connection,
        params,
        longest_edge,
        answered_by,
    } = turn;
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
        answered_by: None,
        timings: None,
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
            answered_by: answered_by.clone(),
            timings: None,
        });
    })?;

    // The conversation's images stay in the store until the job is over, whatever a delete or
    // a truncation does meanwhile: the worker (or a remote request) reads them later.
    let images = JobImages::new(&state.store, &conversation);
    let sink = AnswerRecorder::new(state.store.clone(), conversation_id, &answer_id).into_sink(
        move |event| {
            let _held_until_the_sink_goes = &images;
            send(event)
        },
    );
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
    let id = state.worker.next_generation_id();
    let cancel = smolvlm::CancelToken::new();
    let started = match connection {
        Some(conn) => remote::request(&conn, &messages, &params).and_then(|req| {
            let chat = state.worker.chat();
            chat.begin(id, cancel.clone())?;
            remote::spawn(conn, req, id, cancel, chat.releasing(id, sink))
                .inspect_err(|_| chat.finish(id))
                .map(|()| id)
        }),
        None => state.worker.generate(GenerateJob {
            id,
            conversation: messages,
            longest_edge,
            params,
            sink,
            cancel,
        }),
    };
    match started {
        Ok(generation_id) => {
            let mut user_message = user;
            absolute_message_images(&state.store, &mut user_message);
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

/// How an answer from `c` is labelled: the connection's name, and the model asked there.
/// A local answer's label: the model and the device it ran on ("SmolVLM-256M · CUDA").
fn answered_by_local(m: &crate::worker::ModelInfo) -> String {
    let device = match m.device.as_str() {
        "cuda" => "CUDA",
        "metal" => "Metal",
        _ => "CPU",
    };
    format!("{} · {device}", m.name)
}

fn answered_by_connection(c: &Connection) -> Option<String> {
    Some(if c.model.is_empty() {
        c.name.clone()
    } else {
        format!("{} · {}", c.name, c.model)
    })
}

/// A new conversation's title: its first line, at most 60 characters.
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
