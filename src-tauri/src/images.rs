//! Images the user adds (drops, the file picker, clipboard pastes) and what one costs with the
//! loaded model: its tile grid and image tokens, from the file's header and the model's processor
//! settings (no pixel is decoded to count tiles).

use std::path::Path;

use serde::Serialize;
use smolvlm_image::{MAX_IMAGE_SIZE, Resolution};

use crate::error::{AppError, AppResult};
use crate::store::{Conversation, Store, StoredImage, StoredMessage};
use crate::validate;
use crate::worker::ImageGeometry;

/// Header naming a pasted image (percent-encoded UTF-8, as `encodeURIComponent` writes it).
pub const NAME_HEADER: &str = "x-name";
const MAX_NAME_CHARS: usize = 255;

/// What one image costs with the loaded model's processor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ImageCost {
    pub width: u32,
    pub height: u32,
    pub resized_width: u32,
    pub resized_height: u32,
    /// Tile grid; 0 × 0 when the image is one frame.
    pub rows: usize,
    pub cols: usize,
    /// Frames through the vision encoder: the tiles and the global view, or 1.
    pub frames: usize,
    /// Image tokens in the prompt.
    pub tokens: usize,
    pub tile_size: u32,
    pub default_longest_edge: u32,
    pub max_longest_edge: u32,
    /// The longest edge each resolution preset gives the loaded model.
    pub presets: PresetEdges,
}

/// Pixels along the longest edge for each [`Resolution`] with one model, within its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
pub struct PresetEdges {
    pub fast: u32,
    pub standard: u32,
    pub document: u32,
}

pub fn preset_edges(g: &ImageGeometry) -> PresetEdges {
    let edge = |r| preset_edge(g, r);
    PresetEdges {
        fast: edge(Resolution::Fast),
        standard: edge(Resolution::Standard),
        document: edge(Resolution::Document),
    }
}

/// `r`'s longest edge with the model of `g`, within its limits.
pub fn preset_edge(g: &ImageGeometry, r: Resolution) -> u32 {
    let limits = edge_limits(g);
    r.longest_edge(g.processor.config())
        .clamp(limits.min, limits.max)
}

/// The longest edges (pixels) the loaded model allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeLimits {
    /// The model's own `size.longest_edge`.
    pub default: u32,
    /// One tile.
    pub min: u32,
    /// The largest multiple of the tile size whose square image's tokens fit in half the
    /// context (and no larger than the processor's own bound), never below the default.
    pub max: u32,
}

pub fn edge_limits(g: &ImageGeometry) -> EdgeLimits {
    let cfg = g.processor.config();
    let tile = cfg.tile_size.max(1);
    let per_frame = cfg.image_seq_len.max(1);
    let budget = g.context_length / 2;
    let mut n = (MAX_IMAGE_SIZE / tile).max(1);
    while n > 1 && ((n * n) as usize + 1) * per_frame > budget {
        n -= 1;
    }
    let default = cfg.longest_edge;
    EdgeLimits {
        default,
        min: tile.min(default),
        max: (n * tile).max(default),
    }
}

/// The longest edge to use: the one asked for, clamped to the model's limits, else the
/// `default` preset's (the settings' resolution). A value outside what any model could take (0
/// or over 8192) is `invalid_input`.
pub fn longest_edge(g: &ImageGeometry, asked: Option<u32>, default: Resolution) -> AppResult<u32> {
    let Some(px) = asked else {
        return Ok(preset_edge(g, default));
    };
    if !(1..=8192).contains(&px) {
        return Err(AppError::invalid(format!(
            "longestEdge must be between 1 and 8192 pixels; got {px}"
        )));
    }
    let limits = edge_limits(g);
    Ok(px.clamp(limits.min, limits.max))
}

pub fn cost(g: &ImageGeometry, width: u32, height: u32, edge: u32) -> AppResult<ImageCost> {
    let limits = edge_limits(g);
    let processor = g
        .processor
        .with_longest_edge(edge)
        .map_err(|e| AppError::invalid(e.to_string()))?;
    let cfg = processor.config();
    let plan = processor.plan(width, height);
    Ok(ImageCost {
        width,
        height,
        resized_width: plan.resized.0,
        resized_height: plan.resized.1,
        rows: plan.rows,
        cols: plan.cols,
        frames: plan.frames,
        tokens: plan.frames * cfg.image_seq_len,
        tile_size: cfg.tile_size,
        default_longest_edge: limits.default,
        max_longest_edge: limits.max,
        presets: preset_edges(g),
    })
}

/// What the image at `path` costs with `geometry` at `asked` pixels (clamped to the model's
/// limits; default: the `default` preset's). Reads the file's header only.
pub fn file_cost(
    geometry: &ImageGeometry,
    path: &Path,
    asked: Option<u32>,
    default: Resolution,
) -> AppResult<ImageCost> {
    if !geometry.has_vision {
        return Err(AppError::Engine(smolvlm::Error::NoVision));
    }
    let edge = longest_edge(geometry, asked, default)?;
    validate::image_file(path)?;
    let (width, height) =
        smolvlm_image::image_dimensions(path, &Default::default()).map_err(|e| {
            AppError::NotAnImage {
                path: path.to_path_buf(),
                reason: e.to_string(),
            }
        })?;
    cost(geometry, width, height, edge)
}

/// The image with `file` as its absolute path in `store` (what the UI shows and sends back);
/// on disk conversations keep it relative so the data folder can move.
pub fn absolute_file(store: &Store, mut image: StoredImage) -> StoredImage {
    image.file = store.images_dir().join(&image.file).display().to_string();
    image
}

/// Every image of `c` with its absolute path in `store`.
pub fn absolute_images(store: &Store, mut c: Conversation) -> Conversation {
    for m in &mut c.messages {
        absolute_message_images(store, m);
    }
    c
}

/// Every image of `m` with its absolute path in `store`.
pub fn absolute_message_images(store: &Store, m: &mut StoredMessage) {
    for image in &mut m.images {
        *image = absolute_file(store, image.clone());
    }
}

/// The display name of a pasted image from its [`NAME_HEADER`] (percent-encoded), sanitized;
/// "pasted image" when there is none.
pub fn pasted_name(header: Option<&str>) -> String {
    header
        .map(percent_decode)
        .map(|n| display_name(&n))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "pasted image".to_string())
}

/// `%XX` sequences decoded; anything malformed is kept as it is.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A display name: its last path component, no control characters, bounded.
pub fn display_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    last.chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect::<String>()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_decoded_and_sanitized() {
        assert_eq!(percent_decode("caf%C3%A9%20cat.png"), "café cat.png");
        assert_eq!(percent_decode("50%-off%zz%4"), "50%-off%zz%4");
        assert_eq!(display_name("../../etc/pass\u{0}wd"), "passwd");
        assert_eq!(display_name("C:\\Users\\me\\shot.png"), "shot.png");
        assert_eq!(display_name(&"x".repeat(1000)).len(), MAX_NAME_CHARS);
    }
}
