//! Conversations on disk, in the app data dir:
//!
//! ```text
//! <data>/conversations/<id>.json   one file per conversation, with `schemaVersion`
//! <data>/images/<sha256>.<ext>      content-addressed copies of every image sent
//! <data>/.lock                      held by the app instance that owns the folder
//! ```
//!
//! Every write is atomic ([`disk`]): a crash leaves either the old or the new file, never a torn
//! one. An answer is saved while it streams (status `streaming`, at most [`ANSWER_SAVE_INTERVAL`]
//! behind); opening the store after a crash turns such answers into `interrupted`, keeping their
//! text up to the last save. Files of an older schema are upgraded as they are read
//! ([`migrate`]). Images no conversation refers to are removed ([`images`]).
//!
//! One app instance owns the folder (its `.lock`): a second one, or a folder the app may not
//! write, opens read-only ([`ReadOnly`]) rather than cleaning up what the owner is writing.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use smolvlm::{ContentPart, ImageSource, Message, Role};

use crate::error::{AppError, AppResult, ErrorPayload};
use crate::sync::lock;
use crate::validate;

mod disk;
mod images;
pub mod migrate;

pub use disk::{Durability, write_atomic};
pub use images::{JobImages, is_image_name};

pub const SCHEMA_VERSION: u32 = 1;
/// How often a streaming answer is saved. A crash loses at most this much of an answer; the
/// saves run off the model's thread (`crate::recorder`).
pub const ANSWER_SAVE_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    pub schema_version: u32,
    pub id: String,
    pub title: String,
    pub created_ms: u64,
    pub updated_ms: u64,
    pub messages: Vec<StoredMessage>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "kebab-case")]
pub enum MessageStatus {
    Complete,
    /// Being written by a generation right now.
    Streaming,
    /// The app stopped (crash, kill) while this answer streamed; text is up to the last save.
    Interrupted,
    Cancelled,
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct StoredMessage {
    pub id: String,
    #[specta(type = crate::foreign::Role)]
    pub role: Role,
    pub text: String,
    #[serde(default)]
    pub images: Vec<StoredImage>,
    pub status: MessageStatus,
    pub created_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorPayload>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated_tokens: Option<usize>,
    /// Who answered (an assistant message): the local model's name, or a connection's name and
    /// model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_by: Option<String>,
    /// Where an answer's time went (vision, prefill, first token, decode), once it is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timings: Option<crate::events::DoneTimings>,
}

/// An image in the content-addressed store: the file is `<images dir>/<file>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct StoredImage {
    pub sha256: String,
    /// `<sha256>.<ext>` inside the image store.
    pub file: String,
    /// The name it had when it was added (for display only).
    pub original_name: String,
    pub width: u32,
    pub height: u32,
    /// Set when the image is a rendered page of a PDF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<PdfPageRef>,
}

/// The PDF page an image was rendered from (for display: the PDF itself is not kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PdfPageRef {
    /// The PDF's file name.
    pub document: String,
    /// From 1.
    pub page: u32,
    /// The PDF's page count.
    pub pages: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ConversationSummary {
    pub id: String,
    pub title: String,
    pub updated_ms: u64,
    pub messages: usize,
}

/// Why the store is read-only (`AppInfo.readOnly`); the UI says so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(
    tag = "reason",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum ReadOnly {
    /// Another instance of the app owns the data folder.
    OtherInstance,
    /// The data folder cannot be written (permissions, a read-only disk).
    NotWritable { message: String },
}

impl std::fmt::Display for ReadOnly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadOnly::OtherInstance => {
                f.write_str("another SmolVLM Desktop window is using these conversations")
            }
            ReadOnly::NotWritable { message } => {
                write!(f, "the data folder cannot be written ({message})")
            }
        }
    }
}

pub struct Store {
    root: PathBuf,
    /// Serializes read-modify-write of conversation files within this process.
    guard: Mutex<()>,
    /// Images the UI may still send that no conversation need refer to (see [`images`]), by
    /// file name, with how many holds each has. Taken before `guard` when both are.
    held: Mutex<HashMap<String, u32>>,
    /// A collection left an image no conversation names because something held it: the next
    /// release of a job's hold collects again.
    collect_wanted: AtomicBool,
    schema: migrate::Schema,
    read_only: Option<ReadOnly>,
    /// The data folder's lock, held while the store is open: kept for its drop, never read.
    #[cfg_attr(not(test), allow(dead_code))]
    lock_file: Mutex<Option<fs::File>>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A new id: time, process and a counter; lowercase hex and dashes only.
pub fn new_id(prefix: char) -> String {
    format!(
        "{prefix}{:x}-{:x}-{:x}",
        now_ms(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

impl Store {
    /// Opens (creating) the store at `root`. As the folder's owner it removes temporary files a
    /// crash left behind, marks answers that were streaming as interrupted (upgrading older
    /// files on the way) and removes images nothing refers to; a second instance, or a folder
    /// it may not write, opens read-only and changes nothing.
    pub fn open(root: &Path) -> AppResult<Self> {
        Self::open_with(root, migrate::SCHEMA)
    }

    pub(crate) fn open_with(root: &Path, schema: migrate::Schema) -> AppResult<Self> {
        let mut store = Self {
            root: root.to_path_buf(),
            guard: Mutex::new(()),
            held: Mutex::new(HashMap::new()),
            collect_wanted: AtomicBool::new(false),
            schema,
            read_only: None,
            lock_file: Mutex::new(None),
        };
        let dirs = [store.conversations_dir(), store.images_dir()];
        let locked = dirs
            .iter()
            .try_for_each(fs::create_dir_all)
            .and_then(|()| dirs.iter().try_for_each(|d| disk::probe_writable(d)))
            .and_then(|()| disk::lock_data_dir(root));
        match locked {
            Ok(Some(file)) => store.lock_file = Mutex::new(Some(file)),
            Ok(None) => {
                store.read_only = Some(ReadOnly::OtherInstance);
                return Ok(store);
            }
            Err(e) if is_not_writable(&e) => {
                store.read_only = Some(ReadOnly::NotWritable {
                    message: format!("{}: {e}", root.display()),
                });
                return Ok(store);
            }
            Err(e) => return Err(AppError::storage(root, e)),
        }
        for dir in &dirs {
            disk::remove_temp_files(dir)?;
        }
        for summary in store.list()? {
            store.update(&summary.id, |c| {
                for m in &mut c.messages {
                    if m.status == MessageStatus::Streaming {
                        m.status = MessageStatus::Interrupted;
                    }
                }
            })?;
        }
        // Leftover images cost disk space, nothing else: not a reason to refuse to start.
        let _ = store.collect_images();
        Ok(store)
    }

    /// Test hook: what the process's exit does to the folder's lock (an app built in a test is
    /// never dropped: its state and its handles refer to each other).
    #[cfg(test)]
    pub(crate) fn unlock(&self) {
        lock(&self.lock_file).take();
    }

    /// Why the store is read-only; `None` when it is not.
    pub fn read_only(&self) -> Option<&ReadOnly> {
        self.read_only.as_ref()
    }

    fn writable(&self) -> AppResult<()> {
        match &self.read_only {
            None => Ok(()),
            Some(r) => Err(AppError::ReadOnly(r.to_string())),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn images_dir(&self) -> PathBuf {
        self.root.join("images")
    }

    fn conversations_dir(&self) -> PathBuf {
        self.root.join("conversations")
    }

    fn conversation_path(&self, id: &str) -> AppResult<PathBuf> {
        validate::id(id)?;
        Ok(self.conversations_dir().join(format!("{id}.json")))
    }

    pub fn create(&self, title: &str) -> AppResult<Conversation> {
        let now = now_ms();
        let c = Conversation {
            schema_version: self.schema.current,
            id: new_id('c'),
            title: title.to_string(),
            created_ms: now,
            updated_ms: now,
            messages: Vec::new(),
        };
        let _g = lock(&self.guard);
        self.write(&c)?;
        Ok(c)
    }

    pub fn get(&self, id: &str) -> AppResult<Conversation> {
        let _g = lock(&self.guard);
        self.read(id)
    }

    /// Read, change, write back atomically; returns the conversation as written. Only changes
    /// that differ are written.
    pub fn update<T>(
        &self,
        id: &str,
        f: impl FnOnce(&mut Conversation) -> T,
    ) -> AppResult<(Conversation, T)> {
        self.update_with(id, Durability::Durable, f)
    }

    /// [`Self::update`], written as `durability` says.
    pub fn update_with<T>(
        &self,
        id: &str,
        durability: Durability,
        f: impl FnOnce(&mut Conversation) -> T,
    ) -> AppResult<(Conversation, T)> {
        let _g = lock(&self.guard);
        let mut c = self.read(id)?;
        let before = c.clone();
        let out = f(&mut c);
        if c != before {
            c.updated_ms = now_ms();
            self.write_with(&c, durability)?;
        }
        Ok((c, out))
    }

    /// Deletes a conversation, then the images only it referred to.
    pub fn delete(&self, id: &str) -> AppResult<()> {
        let path = self.conversation_path(id)?;
        self.writable()?;
        {
            let _g = lock(&self.guard);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(AppError::NotFound {
                        what: format!("conversation {id}"),
                    });
                }
                Err(e) => return Err(AppError::storage(path, e)),
            }
        }
        // The conversation is gone either way; images left behind are collected at start-up.
        let _ = self.collect_images();
        Ok(())
    }

    /// Newest first. Unreadable files are skipped, not fatal.
    pub fn list(&self) -> AppResult<Vec<ConversationSummary>> {
        let dir = self.conversations_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            // A read-only store may have no folder yet: nothing was ever saved there.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && self.read_only.is_some() => {
                return Ok(Vec::new());
            }
            Err(e) => return Err(AppError::storage(&dir, e)),
        };
        let mut out = Vec::new();
        let _g = lock(&self.guard);
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(id) = name.strip_suffix(".json") else {
                continue;
            };
            if let Ok(c) = self.read(id) {
                out.push(summary(&c));
            }
        }
        out.sort_by(|a, b| b.updated_ms.cmp(&a.updated_ms).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    fn read(&self, id: &str) -> AppResult<Conversation> {
        let path = self.conversation_path(id)?;
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(AppError::NotFound {
                    what: format!("conversation {id}"),
                });
            }
            Err(e) => return Err(AppError::storage(path, e)),
        };
        let corrupt = |reason: String| AppError::Corrupt {
            path: path.clone(),
            reason,
        };
        let mut doc: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        let upgraded = migrate::upgrade(&mut doc, self.schema).map_err(corrupt)?;
        let c: Conversation = serde_json::from_value(doc).map_err(|e| corrupt(e.to_string()))?;
        check_references(&c, id).map_err(corrupt)?;
        // Upgraded in place once, so the next read needs no step. A read-only store, or a write
        // that fails, leaves the file as it was: it is upgraded in memory again next time.
        if upgraded && self.read_only.is_none() {
            let _ = self.write(&c);
        }
        Ok(c)
    }

    fn write(&self, c: &Conversation) -> AppResult<()> {
        self.write_with(c, Durability::Durable)
    }

    fn write_with(&self, c: &Conversation, durability: Durability) -> AppResult<()> {
        self.writable()?;
        let path = self.conversation_path(&c.id)?;
        let bytes = serde_json::to_vec_pretty(c).map_err(|e| AppError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        disk::write_atomic_with(&path, &bytes, durability)
    }

    /// Renames a conversation; returns its summary.
    pub fn rename(&self, id: &str, title: &str) -> AppResult<ConversationSummary> {
        let (c, ()) = self.update(id, |c| c.title = title.to_string())?;
        Ok(summary(&c))
    }

    /// Drops message `message_id` and every message after it (regenerate, edit and resend).
    /// Their images are held (see [`images`]): the UI resends them next.
    pub fn truncate(&self, id: &str, message_id: &str) -> AppResult<Conversation> {
        let mut held = lock(&self.held);
        let (c, dropped) = self.update(id, |c| {
            let pos = c.messages.iter().position(|m| m.id == message_id)?;
            let dropped: Vec<String> = c.messages[pos..]
                .iter()
                .flat_map(|m| m.images.iter().map(|i| i.file.clone()))
                .collect();
            c.messages.truncate(pos);
            Some(dropped)
        })?;
        let Some(dropped) = dropped else {
            return Err(AppError::NotFound {
                what: format!("message {message_id} in conversation {id}"),
            });
        };
        for file in dropped {
            *held.entry(file).or_default() += 1;
        }
        drop(held);
        // Truncated either way; images left behind are collected at start-up.
        let _ = self.collect_images();
        Ok(c)
    }

    /// The conversation as the engine takes it: every finished turn, images from the store.
    /// Answers still streaming and failed answers with no text are left out.
    pub fn engine_messages(&self, c: &Conversation) -> Vec<Message> {
        let images = self.images_dir();
        c.messages
            .iter()
            .filter(|m| match m.status {
                MessageStatus::Streaming => false,
                MessageStatus::Error => !m.text.is_empty(),
                _ => true,
            })
            .map(|m| {
                let mut content: Vec<ContentPart> = m
                    .images
                    .iter()
                    .map(|i| ContentPart::Image(ImageSource::Path(images.join(&i.file))))
                    .collect();
                content.push(ContentPart::Text(m.text.clone()));
                Message {
                    role: m.role,
                    content,
                }
            })
            .collect()
    }
}

/// What a file edited by hand, or written by another program, must hold for the store to use
/// it. Its own id: saving writes the file its id names, and the start-up pass that marks
/// interrupted answers re-reads each listed conversation by id, so a file holding another id
/// (a copy renamed) stopped the store from opening at all. Images inside the image store: their
/// names are joined to its folder and the files sent to the model or a remote server.
fn check_references(c: &Conversation, id: &str) -> Result<(), String> {
    if c.id != id {
        return Err(format!("it holds conversation {:?}, not {id:?}", c.id));
    }
    let mut images = c.messages.iter().flat_map(|m| &m.images);
    if let Some(image) = images.find(|i| !is_image_name(&i.file)) {
        return Err(format!(
            "image {:?} is not a file of the image store",
            image.file
        ));
    }
    Ok(())
}

fn summary(c: &Conversation) -> ConversationSummary {
    ConversationSummary {
        id: c.id.clone(),
        title: c.title.clone(),
        updated_ms: c.updated_ms,
        messages: c.messages.len(),
    }
}

/// Writes a file of the data folder besides the conversations (settings, local models) as
/// [`write_atomic`] does, unless the folder is read-only for this instance: a second window
/// must not overwrite what the owner saves.
pub fn write_owned(read_only: Option<&ReadOnly>, path: &Path, bytes: &[u8]) -> AppResult<()> {
    match read_only {
        Some(r) => Err(AppError::ReadOnly(r.to_string())),
        None => write_atomic(path, bytes),
    }
}

/// Test hook: what a process killed half-way through [`write_atomic`] leaves behind.
#[cfg(test)]
pub(crate) fn crash_during_write(path: &Path, bytes: &[u8]) {
    let tmp = disk::temp_path(path);
    fs::write(&tmp, &bytes[..bytes.len() / 2]).unwrap();
}

#[cfg(test)]
pub(crate) use disk::counting as fsyncs;
#[cfg(test)]
pub(crate) use disk::full_disk;

/// Errors that mean "this folder cannot be written", as opposed to a broken disk.
fn is_not_writable(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
    )
}
