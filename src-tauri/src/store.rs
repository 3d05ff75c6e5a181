//! Conversations on disk, in the app data dir:
//!
//! ```text
//! <data>/conversations/<id>.json   one file per conversation, with `schemaVersion`
//! <data>/images/<sha256>.<ext>      content-addressed copies of every image sent
//! ```
//!
//! Every write is atomic: a temporary file beside the target, fsync, rename, fsync of the folder;
//! a crash leaves either the old or the new file, never a torn one. An answer is saved while it
//! streams (status `streaming`, at most [`ANSWER_SAVE_INTERVAL`] behind); opening the store after
//! a crash turns such answers into `interrupted`, keeping their text up to the last save.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use smolvlm::{ContentPart, ImageSource, Message, Role};

use crate::error::{AppError, AppResult, ErrorPayload};
use crate::sync::lock;
use crate::validate;

pub const SCHEMA_VERSION: u32 = 1;
pub const ANSWER_SAVE_INTERVAL: Duration = Duration::from_millis(250);
const TEMP_MARK: &str = ".tmp-";

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

pub struct Store {
    root: PathBuf,
    /// Serializes read-modify-write of conversation files within this process.
    guard: Mutex<()>,
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
    /// Opens (creating) the store at `root`, removes temporary files a crash left behind and
    /// marks answers that were streaming as interrupted.
    pub fn open(root: &Path) -> AppResult<Self> {
        let store = Self {
            root: root.to_path_buf(),
            guard: Mutex::new(()),
        };
        for dir in [store.conversations_dir(), store.images_dir()] {
            fs::create_dir_all(&dir).map_err(|e| AppError::storage(&dir, e))?;
            remove_temp_files(&dir)?;
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
        Ok(store)
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
            schema_version: SCHEMA_VERSION,
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
        let _g = lock(&self.guard);
        let mut c = self.read(id)?;
        let before = c.clone();
        let out = f(&mut c);
        if c != before {
            c.updated_ms = now_ms();
            self.write(&c)?;
        }
        Ok((c, out))
    }

    pub fn delete(&self, id: &str) -> AppResult<()> {
        let path = self.conversation_path(id)?;
        let _g = lock(&self.guard);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(AppError::NotFound {
                what: format!("conversation {id}"),
            }),
            Err(e) => Err(AppError::storage(path, e)),
        }
    }

    /// Newest first. Unreadable files are skipped, not fatal.
    pub fn list(&self) -> AppResult<Vec<ConversationSummary>> {
        let dir = self.conversations_dir();
        let entries = fs::read_dir(&dir).map_err(|e| AppError::storage(&dir, e))?;
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
        let c: Conversation = serde_json::from_slice(&bytes).map_err(|e| AppError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if c.schema_version > SCHEMA_VERSION {
            return Err(AppError::Corrupt {
                path,
                reason: format!(
                    "schema version {} is newer than this app's {SCHEMA_VERSION}",
                    c.schema_version
                ),
            });
        }
        Ok(c)
    }

    fn write(&self, c: &Conversation) -> AppResult<()> {
        let path = self.conversation_path(&c.id)?;
        let bytes = serde_json::to_vec_pretty(c).map_err(|e| AppError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        write_atomic(&path, &bytes)
    }

    /// Copies an image (validated: a bounded file with a supported image header) into the
    /// content-addressed store; the same content added twice is stored once.
    pub fn import_image(&self, src: &Path) -> AppResult<StoredImage> {
        let (bytes, checked) = read_image(src)?;
        self.store_image(&bytes, &checked, file_name(src))
    }

    /// [`Self::import_image`], after decoding every pixel as the engine will: for images the
    /// user adds (drops, the file picker), so a corrupt file is refused at once.
    pub fn import_image_verified(&self, src: &Path) -> AppResult<StoredImage> {
        let (bytes, checked) = read_image(src)?;
        validate::decodes(&bytes, src)?;
        self.store_image(&bytes, &checked, file_name(src))
    }

    /// Stores image data that arrived without a file (a clipboard paste), checked and decoded
    /// as [`Self::import_image_verified`] does for files.
    pub fn import_image_bytes(&self, bytes: &[u8], name: &str) -> AppResult<StoredImage> {
        let checked = validate::image_bytes(bytes, name)?;
        validate::decodes(bytes, Path::new(name))?;
        self.store_image(bytes, &checked, name.to_string())
    }

    /// Stores a PDF page rendered in process (PNG bytes); named "<pdf> — page N".
    pub fn import_page(&self, png: &[u8], page: PdfPageRef) -> AppResult<StoredImage> {
        let name = format!("{} — page {}", page.document, page.page);
        let checked = validate::image_bytes(png, &name)?;
        let mut image = self.store_image(png, &checked, name)?;
        image.page = Some(page);
        Ok(image)
    }

    fn store_image(
        &self,
        bytes: &[u8],
        checked: &validate::CheckedImage,
        original_name: String,
    ) -> AppResult<StoredImage> {
        let sha256 = hex::encode(Sha256::digest(bytes));
        let file = format!("{sha256}.{}", checked.ext);
        let dest = self.images_dir().join(&file);
        if !dest.exists() {
            write_atomic(&dest, bytes)?;
        }
        Ok(StoredImage {
            sha256,
            file,
            original_name,
            width: checked.width,
            height: checked.height,
            page: None,
        })
    }

    /// Renames a conversation; returns its summary.
    pub fn rename(&self, id: &str, title: &str) -> AppResult<ConversationSummary> {
        let (c, ()) = self.update(id, |c| c.title = title.to_string())?;
        Ok(summary(&c))
    }

    /// Drops message `message_id` and every message after it (regenerate, edit and resend).
    pub fn truncate(&self, id: &str, message_id: &str) -> AppResult<Conversation> {
        let (c, found) = self.update(id, |c| {
            match c.messages.iter().position(|m| m.id == message_id) {
                Some(pos) => {
                    c.messages.truncate(pos);
                    true
                }
                None => false,
            }
        })?;
        if !found {
            return Err(AppError::NotFound {
                what: format!("message {message_id} in conversation {id}"),
            });
        }
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

fn read_image(src: &Path) -> AppResult<(Vec<u8>, validate::CheckedImage)> {
    let checked = validate::image_file(src)?;
    let mut bytes = Vec::with_capacity(checked.file_bytes as usize);
    fs::File::open(src)
        .and_then(|f| {
            f.take(validate::MAX_IMAGE_FILE_BYTES + 1)
                .read_to_end(&mut bytes)
        })
        .map_err(|e| AppError::storage(src, e))?;
    if bytes.len() as u64 > validate::MAX_IMAGE_FILE_BYTES {
        return Err(AppError::ImageTooLarge {
            path: src.to_path_buf(),
            reason: "the file grew past the size limit while it was read".into(),
        });
    }
    Ok((bytes, checked))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn summary(c: &Conversation) -> ConversationSummary {
    ConversationSummary {
        id: c.id.clone(),
        title: c.title.clone(),
        updated_ms: c.updated_ms,
        messages: c.messages.len(),
    }
}

/// Writes `bytes` to `path` so that a crash at any point leaves the old file or the new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> AppResult<()> {
    let tmp = temp_path(path);
    let result = write_then_rename(&tmp, path, bytes);
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        AppError::storage(path, e)
    })
}

fn write_then_rename(tmp: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = fs::File::create(tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    fs::rename(tmp, path)?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(
        ".{name}{TEMP_MARK}{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Test hook: what a process killed half-way through [`write_atomic`] leaves behind.
#[cfg(test)]
pub(crate) fn crash_during_write(path: &Path, bytes: &[u8]) {
    let tmp = temp_path(path);
    fs::write(&tmp, &bytes[..bytes.len() / 2]).unwrap();
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

fn remove_temp_files(dir: &Path) -> AppResult<()> {
    let entries = fs::read_dir(dir).map_err(|e| AppError::storage(dir, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.contains(TEMP_MARK) {
            let _ = fs::remove_file(entry.path());
        }
    }
    Ok(())
}
