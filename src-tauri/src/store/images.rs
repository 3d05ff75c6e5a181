//! The content-addressed image store: adding images, and removing those nothing refers to.
//!
//! An image is kept while a conversation file names it or while it is held. Holds cover the
//! time the UI has an image no conversation need refer to: every import holds its image once
//! (the composer shows it, a send is on its way), and truncating holds the dropped messages'
//! images (Regenerate and Edit-and-resend send them again at once). A send that starts releases
//! two holds per image: its own import's and the one that brought the image to the composer.
//! An answer's job holds every image of its conversation until it ends ([`JobImages`]): a delete
//! while the worker has yet to read them leaves the files, and they go when the job does.
//! Holds live in memory, so at start-up nothing is held and every unreferenced image goes.
//!
//! The race: an import finds the file already there while a collection decides to remove it.
//! Imports and collections take the `held` lock around both, so a collection sees the hold.

use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use sha2::{Digest, Sha256};

use super::{Conversation, PdfPageRef, Store, StoredImage};
use crate::error::{AppError, AppResult};
use crate::sync::lock;
use crate::validate;

const EXTENSIONS: [&str; 6] = ["png", "jpg", "gif", "webp", "bmp", "tiff"];

/// Whether `name` is a store file's name: `<sha256 in lowercase hex>.<one of the store's
/// extensions>`.
pub fn is_image_name(name: &str) -> bool {
    name.split_once('.').is_some_and(|(sha, ext)| {
        sha.len() == 64
            && sha.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            && EXTENSIONS.contains(&ext)
    })
}

impl Store {
    /// Whether `path` names a file of the image store, by its name alone (the file may not
    /// exist).
    pub fn is_image_file(&self, path: &Path) -> bool {
        path.parent() == Some(self.images_dir().as_path())
            && path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(is_image_name)
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
        self.writable()?;
        let sha256 = hex::encode(Sha256::digest(bytes));
        let file = format!("{sha256}.{}", checked.ext);
        let dest = self.images_dir().join(&file);
        let mut held = lock(&self.held);
        if !dest.exists() {
            super::write_atomic(&dest, bytes)?;
        }
        *held.entry(file.clone()).or_default() += 1;
        Ok(StoredImage {
            sha256,
            file,
            original_name,
            width: checked.width,
            height: checked.height,
            page: None,
        })
    }

    /// `images` are in a message that started: their holds go (see the module docs).
    pub fn release_sent(&self, images: &[StoredImage]) {
        self.release(images.iter().map(|i| i.file.as_str()), 2);
    }

    /// `images` were imported for a message that did not start: its import's hold goes; the
    /// composer still shows them.
    pub fn release_unsent(&self, images: &[StoredImage]) {
        self.release(images.iter().map(|i| i.file.as_str()), 1);
    }

    /// The composer no longer shows the stored image `file` (a file name of the store): its
    /// import's hold goes, and the store drops it if nothing else keeps it. Answers whether a
    /// hold went (false: the image was not held, e.g. already sent).
    pub fn discard_image(&self, file: &str) -> AppResult<bool> {
        let released = self.release([file], 1);
        if released {
            self.collect_images()?;
        }
        Ok(released)
    }

    /// Takes `holds` holds from each of `files`; answers whether any of them was held.
    fn release<'a>(&self, files: impl IntoIterator<Item = &'a str>, holds: u32) -> bool {
        let mut held = lock(&self.held);
        let mut any = false;
        for file in files {
            if let Some(n) = held.get_mut(file) {
                any = true;
                *n = n.saturating_sub(holds);
                if *n == 0 {
                    held.remove(file);
                }
            }
        }
        any
    }

    /// Removes every stored image that no conversation file names and nothing holds; answers
    /// how many. Does nothing when a conversation file cannot be read (it may name any of them).
    pub fn collect_images(&self) -> AppResult<usize> {
        if self.read_only.is_some() {
            return Ok(0);
        }
        let held = lock(&self.held);
        let named = self.named_images()?;
        let dir = self.images_dir();
        let entries = fs::read_dir(&dir).map_err(|e| AppError::storage(&dir, e))?;
        let mut removed = 0;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !is_image_name(&name) || named.contains(&name) {
                continue;
            }
            if held.contains_key(&name) {
                self.collect_wanted.store(true, Ordering::Relaxed);
            } else {
                match fs::remove_file(entry.path()) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(AppError::storage(entry.path(), e)),
                }
            }
        }
        Ok(removed)
    }

    /// Every store file name found in any file of the conversations folder, read as text: a
    /// conversation of a newer schema, a damaged one or a write in progress still keeps its
    /// images.
    fn named_images(&self) -> AppResult<HashSet<String>> {
        let dir = self.conversations_dir();
        let entries = fs::read_dir(&dir).map_err(|e| AppError::storage(&dir, e))?;
        let mut named = HashSet::new();
        for entry in entries {
            let entry = entry.map_err(|e| AppError::storage(&dir, e))?;
            let bytes = match fs::read(entry.path()) {
                Ok(b) => b,
                // Replaced or removed meanwhile: its successor is read in its own turn.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(AppError::storage(entry.path(), e)),
            };
            let text = String::from_utf8_lossy(&bytes);
            named.extend(
                text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
                    .filter(|w| is_image_name(w))
                    .map(str::to_string),
            );
        }
        Ok(named)
    }
}

/// The images of an answer's conversation, held while its job runs; dropped with the job (its
/// event sink), when a collection that had to leave them runs again.
pub struct JobImages {
    store: Arc<Store>,
    files: Vec<String>,
}

impl JobImages {
    pub fn new(store: &Arc<Store>, conversation: &Conversation) -> Self {
        let files: Vec<String> = conversation
            .messages
            .iter()
            .flat_map(|m| m.images.iter().map(|i| i.file.clone()))
            .collect();
        let mut held = lock(&store.held);
        for file in &files {
            *held.entry(file.clone()).or_default() += 1;
        }
        drop(held);
        Self {
            store: Arc::clone(store),
            files,
        }
    }
}

impl Drop for JobImages {
    fn drop(&mut self) {
        self.store.release(self.files.iter().map(String::as_str), 1);
        if self.store.collect_wanted.swap(false, Ordering::Relaxed) {
            // Cost disk space, nothing else: the next collection tries again.
            let _ = self.store.collect_images();
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_names_are_hex_sha256_and_a_known_extension() {
        let sha = "0123456789abcdef".repeat(4);
        assert!(is_image_name(&format!("{sha}.png")));
        assert!(is_image_name(&format!("{sha}.tiff")));
        for bad in [
            format!("{sha}.txt"),
            format!("{sha}.png.png"),
            format!("{}.png", sha.to_uppercase()),
            format!("{}.png", &sha[1..]),
            format!(".{sha}.png"),
            sha.clone(),
            "../x.png".into(),
        ] {
            assert!(!is_image_name(&bad), "{bad}");
        }
    }
}
