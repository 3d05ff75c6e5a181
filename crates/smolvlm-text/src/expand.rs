//! `<image>` expansion, exactly as transformers' `Idefics3Processor` / `SmolVLMProcessor` do it.
//!
//! transformers (5.x, `ProcessorMixin.get_text_with_replacements`) scans the prompt left to right for the
//! literal image token and replaces the i-th occurrence with the i-th image's replacement string
//! (`get_image_prompt_string` = `_prompt_split_image` / `_prompt_single_image` in `processing_smolvlm.py`,
//! `Idefics3Processor.replace_image_token` builds the same string). Nothing else happens: consecutive images
//! simply concatenate (`...<fake_token_around_image><fake_token_around_image><row_1_col_1>...`), there is
//! no merging of the fake tokens, and text between images is left untouched. Before expanding, the processor
//! checks that the number of `<image>` markers equals the number of images and raises otherwise.

use crate::error::{Result, TextError};

/// Placeholder the chat template writes for each image.
pub const IMAGE_TOKEN: &str = "<image>";
/// Token written around each image frame.
pub const FAKE_TOKEN_AROUND_IMAGE: &str = "<fake_token_around_image>";
/// Token introducing the global (downscaled whole-image) frame.
pub const GLOBAL_IMAGE_TOKEN: &str = "<global-img>";
/// Token ending every turn in SmolVLM chats.
pub const END_OF_UTTERANCE_TOKEN: &str = "<end_of_utterance>";

/// The token strings used by the expansion (transformers reads them from the tokenizer:
/// `tokenizer.image_token`, `fake_image_token`, `global_image_token`, with the defaults above).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageTokens {
    pub image: String,
    pub fake_around_image: String,
    pub global_image: String,
}

impl Default for ImageTokens {
    fn default() -> Self {
        ImageTokens {
            image: IMAGE_TOKEN.to_string(),
            fake_around_image: FAKE_TOKEN_AROUND_IMAGE.to_string(),
            global_image: GLOBAL_IMAGE_TOKEN.to_string(),
        }
    }
}

/// The text that replaces one `<image>` for an image split into `rows` x `cols` tiles plus a global view
/// (`_prompt_split_image`), or, for `rows == cols == 0`, a single unsplit frame (`_prompt_single_image`).
pub fn image_prompt(rows: usize, cols: usize, image_seq_len: usize) -> String {
    image_prompt_with(&ImageTokens::default(), rows, cols, image_seq_len)
}

/// [`image_prompt`] with explicit token strings.
pub fn image_prompt_with(
    tokens: &ImageTokens,
    rows: usize,
    cols: usize,
    image_seq_len: usize,
) -> String {
    let image_run = tokens.image.repeat(image_seq_len);
    let global = format!(
        "{fake}{global}{image_run}{fake}",
        fake = tokens.fake_around_image,
        global = tokens.global_image,
    );
    // transformers tests `image_rows == 0 and image_cols == 0`; a grid with only one of them zero takes the
    // split path (which then emits `rows` newlines and no tiles), and so do we.
    if rows == 0 && cols == 0 {
        return global;
    }
    let mut out = String::new();
    for r in 0..rows {
        for c in 0..cols {
            out.push_str(&tokens.fake_around_image);
            out.push_str(&format!("<row_{}_col_{}>", r + 1, c + 1));
            out.push_str(&image_run);
        }
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&global);
    out
}

/// Number of `<image>` markers in a prompt (Python's `str.count`: non-overlapping occurrences).
pub fn count_image_markers(prompt: &str) -> usize {
    prompt.matches(IMAGE_TOKEN).count()
}

/// Replaces each `<image>` in `prompt`, in order, with [`image_prompt`] of the matching `(rows, cols)` grid.
/// Errors with both counts when the number of markers differs from `grids.len()` (as transformers does).
pub fn expand_images(
    prompt: &str,
    grids: &[(usize, usize)],
    image_seq_len: usize,
) -> Result<String> {
    expand_images_with(&ImageTokens::default(), prompt, grids, image_seq_len)
}

/// [`expand_images`] with explicit token strings.
pub fn expand_images_with(
    tokens: &ImageTokens,
    prompt: &str,
    grids: &[(usize, usize)],
    image_seq_len: usize,
) -> Result<String> {
    let markers = prompt.matches(tokens.image.as_str()).count();
    if markers != grids.len() {
        return Err(TextError::ImageCountMismatch {
            markers,
            images: grids.len(),
        });
    }
    if grids.is_empty() {
        return Ok(prompt.to_string());
    }
    let mut out = String::with_capacity(prompt.len() + grids.len() * 64 * (image_seq_len + 4));
    let mut grids_iter = grids.iter();
    let mut pieces = prompt.split(tokens.image.as_str());
    if let Some(first) = pieces.next() {
        out.push_str(first);
    }
    for piece in pieces {
        // `markers == grids.len()`, so there is exactly one grid per split point.
        let &(rows, cols) = grids_iter
            .next()
            .expect("one grid per <image> marker (counts checked above)");
        out.push_str(&image_prompt_with(tokens, rows, cols, image_seq_len));
        out.push_str(piece);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_frame() {
        assert_eq!(
            image_prompt(0, 0, 2),
            "<fake_token_around_image><global-img><image><image><fake_token_around_image>"
        );
    }

    #[test]
    fn split_grid() {
        let p = image_prompt(2, 1, 1);
        assert_eq!(
            p,
            "<fake_token_around_image><row_1_col_1><image>\n\
             <fake_token_around_image><row_2_col_1><image>\n\
             \n<fake_token_around_image><global-img><image><fake_token_around_image>"
        );
    }

    #[test]
    fn expands_in_order_and_concatenates_consecutive_images() {
        let out = expand_images("A<image><image>B", &[(0, 0), (1, 1)], 1).unwrap();
        assert_eq!(
            out,
            format!("A{}{}B", image_prompt(0, 0, 1), image_prompt(1, 1, 1))
        );
        assert!(out.contains("<fake_token_around_image><fake_token_around_image><row_1_col_1>"));
    }

    #[test]
    fn count_mismatch_errors_with_counts() {
        let err = expand_images("<image> and <image>", &[(1, 1)], 4).unwrap_err();
        match err {
            TextError::ImageCountMismatch { markers, images } => {
                assert_eq!((markers, images), (2, 1));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(
            expand_images("no images", &[(0, 0)], 4).unwrap_err().code(),
            "image_count_mismatch"
        );
    }

    #[test]
    fn no_images_is_identity() {
        assert_eq!(expand_images("plain", &[], 4).unwrap(), "plain");
    }

    #[test]
    fn counts_markers() {
        assert_eq!(count_image_markers("<image><image>x<image"), 2);
    }
}
