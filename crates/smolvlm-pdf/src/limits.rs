//! What a PDF may cost before it is refused: a PDF is a program, and a small file can ask for
//! gigapixels or hours of drawing.

use std::time::Duration;

/// Largest PDF file read, in bytes (the image loader's limit too).
pub const MAX_FILE_BYTES: u64 = 256 << 20;
/// Most pages a document may have. Far more than any document a model is asked about, small
/// enough that the page list of a hostile file stays cheap.
pub const MAX_PAGES: usize = 2_000;
/// Largest page side, in inches: 14,400 points, the page-size limit of PDF implementations
/// (ISO 32000-1 Annex C); anything larger is out of spec.
pub const MAX_PAGE_SIDE_IN: f64 = 200.0;
/// Largest render, in megapixels: an A4 page at 600 dpi is 35 MP; each megapixel is 4 MB while
/// rendering (RGBA) and 3 MB after.
pub const MAX_MEGAPIXELS: f64 = 40.0;
/// How long one page may take to render. A dense page takes well under a second; far longer
/// means a render bomb.
pub const RENDER_TIMEOUT: Duration = Duration::from_secs(30);
/// Renders abandoned at their timeout that may still be running before new renders are refused
/// (see `render.rs`: an abandoned render cannot be stopped, only left to finish).
pub const MAX_RUNAWAY_RENDERS: usize = 2;

/// The limits one [`crate::Document`] is opened and rendered under.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub max_file_bytes: u64,
    pub max_pages: usize,
    pub max_page_side_in: f64,
    pub max_megapixels: f64,
    pub render_timeout: Duration,
    pub max_runaway_renders: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file_bytes: MAX_FILE_BYTES,
            max_pages: MAX_PAGES,
            max_page_side_in: MAX_PAGE_SIDE_IN,
            max_megapixels: MAX_MEGAPIXELS,
            render_timeout: RENDER_TIMEOUT,
            max_runaway_renders: MAX_RUNAWAY_RENDERS,
        }
    }
}
