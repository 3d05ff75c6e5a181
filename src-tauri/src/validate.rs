//! Checks on everything a command receives from the webview (which is treated as untrusted).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use smolvlm::SamplingParams;

use crate::error::{AppError, AppResult};

pub const MAX_IMAGE_FILE_BYTES: u64 = 64 << 20;
pub const MAX_IMAGE_SIDE: u32 = smolvlm_image::MAX_IMAGE_SIDE;
pub const MAX_IMAGES_PER_MESSAGE: usize = 8;
pub const MAX_TEXT_CHARS: usize = 32_000;
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_NEW_TOKENS: usize = 8192;
const MAX_ID_LEN: usize = 64;

/// The extensions the attach dialog offers and "Open with" takes (the UI's `IMAGE_EXTENSIONS` and
/// PDFs).
pub const ATTACHMENT_EXTENSIONS: [&str; 9] = [
    "png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff", "pdf",
];

/// Ids name files: lowercase ASCII letters, digits and dashes only, so never a path.
pub fn id(id: &str) -> AppResult<()> {
    if id.is_empty()
        || id.len() > MAX_ID_LEN
        || !id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(AppError::invalid(format!("{id:?} is not a valid id")));
    }
    Ok(())
}

pub fn text(text: &str, what: &str, max_chars: usize) -> AppResult<()> {
    let n = text.chars().count();
    if n > max_chars {
        return Err(AppError::invalid(format!(
            "{what} is {n} characters long; the limit is {max_chars}"
        )));
    }
    Ok(())
}

/// A model to load: an existing folder, a `config.json` in one, or a `.gguf` file.
pub fn model_path(path: &str) -> AppResult<PathBuf> {
    let p = absolute(path, "model path")?;
    let ok = p.is_dir()
        || (p.is_file()
            && p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("gguf") || e.eq_ignore_ascii_case("json")));
    if !p.exists() {
        return Err(AppError::NotFound {
            what: format!("model {}", p.display()),
        });
    }
    if !ok {
        return Err(AppError::invalid(format!(
            "{} is neither a model folder nor a .gguf file",
            p.display()
        )));
    }
    Ok(p)
}

pub fn absolute(path: &str, what: &str) -> AppResult<PathBuf> {
    if path.is_empty() || path.len() > 4096 || path.contains('\0') {
        return Err(AppError::invalid(format!(
            "the {what} is empty or malformed"
        )));
    }
    let p = PathBuf::from(path);
    if !p.is_absolute() {
        return Err(AppError::invalid(format!(
            "the {what} must be absolute: {path}"
        )));
    }
    Ok(p)
}

pub struct CheckedImage {
    pub ext: &'static str,
    pub width: u32,
    pub height: u32,
    pub file_bytes: u64,
}

/// An existing regular file, of bounded size, whose header is a supported image format with
/// bounded dimensions. (Pixels are decoded later, by the engine, under its own limits.)
pub fn image_file(path: &Path) -> AppResult<CheckedImage> {
    let meta = std::fs::metadata(path).map_err(|_| AppError::NotFound {
        what: format!("image {}", path.display()),
    })?;
    if !meta.is_file() {
        return Err(AppError::NotAnImage {
            path: path.to_path_buf(),
            reason: "not a regular file".into(),
        });
    }
    if meta.len() > MAX_IMAGE_FILE_BYTES {
        return Err(AppError::ImageTooLarge {
            path: path.to_path_buf(),
            reason: format!(
                "{} bytes; the limit is {} MiB",
                meta.len(),
                MAX_IMAGE_FILE_BYTES >> 20
            ),
        });
    }
    let reader = image::ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .map_err(|e| AppError::NotAnImage {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    check_header(reader, path, meta.len())
}

/// [`image_file`] for image data without a file (a clipboard paste); `name` stands for the path
/// in errors.
pub fn image_bytes(bytes: &[u8], name: &str) -> AppResult<CheckedImage> {
    let path = PathBuf::from(name);
    if bytes.is_empty() {
        return Err(AppError::NotAnImage {
            path,
            reason: "no data".into(),
        });
    }
    if bytes.len() as u64 > MAX_IMAGE_FILE_BYTES {
        return Err(AppError::ImageTooLarge {
            path,
            reason: format!(
                "{} bytes; the limit is {} MiB",
                bytes.len(),
                MAX_IMAGE_FILE_BYTES >> 20
            ),
        });
    }
    let reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| AppError::NotAnImage {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    check_header(reader, &path, bytes.len() as u64)
}

fn check_header<R: std::io::BufRead + std::io::Seek>(
    reader: image::ImageReader<R>,
    path: &Path,
    file_bytes: u64,
) -> AppResult<CheckedImage> {
    let not_image = |reason: String| AppError::NotAnImage {
        path: path.to_path_buf(),
        reason,
    };
    let ext = match reader.format() {
        Some(image::ImageFormat::Png) => "png",
        Some(image::ImageFormat::Jpeg) => "jpg",
        Some(image::ImageFormat::Gif) => "gif",
        Some(image::ImageFormat::WebP) => "webp",
        Some(image::ImageFormat::Bmp) => "bmp",
        Some(image::ImageFormat::Tiff) => "tiff",
        _ => {
            return Err(not_image(
                "not a PNG, JPEG, GIF, WebP, BMP or TIFF file".into(),
            ));
        }
    };
    let (width, height) = reader
        .into_dimensions()
        .map_err(|e| not_image(e.to_string()))?;
    if width == 0 || height == 0 || width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
        return Err(AppError::ImageTooLarge {
            path: path.to_path_buf(),
            reason: format!("{width}×{height}; each side must be 1 to {MAX_IMAGE_SIDE} pixels"),
        });
    }
    Ok(CheckedImage {
        ext,
        width,
        height,
        file_bytes,
    })
}

/// Decodes the whole image as the engine will (same decoder, same limits), so that a file whose
/// header is fine but whose data is not is refused when it is added, not when it is sent.
pub fn decodes(bytes: &[u8], path: &Path) -> AppResult<()> {
    use smolvlm_image::ImageError as E;
    let name = path.display().to_string();
    match smolvlm_image::decode_image_bytes(bytes, &name, &smolvlm_image::ImageLimits::default()) {
        Ok(_) => Ok(()),
        Err(e @ (E::FileTooLarge { .. } | E::TooLarge { .. })) => Err(AppError::ImageTooLarge {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }),
        Err(e) => Err(AppError::NotAnImage {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }),
    }
}

pub fn image_paths(paths: &[String]) -> AppResult<Vec<PathBuf>> {
    if paths.len() > MAX_IMAGES_PER_MESSAGE {
        return Err(AppError::invalid(format!(
            "{} images in one message; the limit is {MAX_IMAGES_PER_MESSAGE}",
            paths.len()
        )));
    }
    paths.iter().map(|p| absolute(p, "image path")).collect()
}

/// Generation settings from the UI; every field optional, bounded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct GenerationSettings {
    pub max_new_tokens: Option<usize>,
    #[specta(type = Option<crate::foreign::Finite>)]
    pub temperature: Option<f64>,
    pub top_k: Option<usize>,
    #[specta(type = Option<crate::foreign::Finite>)]
    pub top_p: Option<f64>,
    #[specta(type = Option<crate::foreign::Finite>)]
    pub repetition_penalty: Option<f32>,
    pub seed: Option<u64>,
    /// Keep going past end-of-utterance (benchmarks want a fixed token count).
    pub ignore_eos: Option<bool>,
    /// The resolution knob: images are resized to this longest edge before tiling.
    pub longest_edge: Option<u32>,
}

impl GenerationSettings {
    pub fn to_params(&self) -> AppResult<SamplingParams> {
        let mut p = SamplingParams::default();
        if let Some(n) = self.max_new_tokens {
            range("maxNewTokens", n as f64, 1.0, MAX_NEW_TOKENS as f64)?;
            p.max_new_tokens = n;
        }
        if let Some(t) = self.temperature {
            range("temperature", t, 0.0, 2.0)?;
            p.temperature = t;
        }
        // 0 is "off", as transformers' top_k=0.
        if let Some(k) = self.top_k.filter(|&k| k > 0) {
            range("topK", k as f64, 1.0, 1000.0)?;
            p.top_k = Some(k);
        }
        if let Some(tp) = self.top_p {
            if !(tp > 0.0 && tp <= 1.0) {
                return Err(AppError::invalid("topP must be in (0, 1]"));
            }
            p.top_p = Some(tp);
        }
        if let Some(r) = self.repetition_penalty {
            range("repetitionPenalty", r as f64, 0.5, 2.0)?;
            p.repetition_penalty = r;
        }
        if let Some(s) = self.seed {
            p.seed = s;
        }
        if let Some(i) = self.ignore_eos {
            p.ignore_eos = i;
        }
        if let Some(px) = self.longest_edge {
            range("longestEdge", px as f64, 64.0, 8192.0)?;
        }
        Ok(p)
    }
}

fn range(name: &str, v: f64, lo: f64, hi: f64) -> AppResult<()> {
    if !(v >= lo && v <= hi) {
        return Err(AppError::invalid(format!(
            "{name} must be between {lo} and {hi}; got {v}"
        )));
    }
    Ok(())
}
