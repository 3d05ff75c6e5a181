//! PDF pages as images, in process: [`Document`] opens a PDF under [`Limits`] and renders its
//! pages to RGB with hayro, a pure-Rust rasterizer (no system library, no external process).
//!
//! Pages are rendered at the resolution the model will see them at ([`Document::render`]: the
//! page's longest edge becomes the processor's longest edge), or at a DPI
//! ([`Document::render_at_dpi`], poppler's pixel sizes, for comparisons). Every limit a hostile
//! file could push (size, pages, page size, pixels, render time) is a typed [`PdfError`] naming
//! the limit; see `docs/documents.md`.
//!
//! Page indices in this API are 0-based; error messages count pages from 1.

mod error;
mod limits;
mod pages;
mod png;
mod render;
mod size;

use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;

use hayro::hayro_syntax::page::Rotation;
use hayro::hayro_syntax::{DecryptionError, LoadPdfError, Pdf};
use smolvlm_cancel::CancelToken;

pub use error::{Encryption, PdfError};
pub use limits::{
    Limits, MAX_FILE_BYTES, MAX_MEGAPIXELS, MAX_PAGE_SIDE_IN, MAX_PAGES, MAX_RUNAWAY_RENDERS,
    RENDER_TIMEOUT,
};
pub use pages::{MAX_LISTED_PAGES, PageList, PageListError, is_pdf_bytes, is_pdf_file};
pub use render::runaway_renders;
pub use size::POINTS_PER_INCH;

/// The renderer's canvas is addressed with `u16`.
const MAX_SIDE_PX: u32 = u16::MAX as u32;
/// The last line of every complete PDF file.
const EOF_MARKER: &[u8] = b"%%EOF";
/// The size hayro gives a page whose crop box has no area (A4, in points).
const A4_PT: (f64, f64) = (595.0, 842.0);

/// 8-bit RGB pixels, row-major, `width × height × 3` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

impl RgbImage {
    fn white(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            data: vec![255; width as usize * height as usize * 3],
        }
    }
}

/// An opened PDF: its pages are listed, none is drawn until asked.
pub struct Document {
    pdf: Arc<Pdf>,
    limits: Limits,
    /// Each page's displayed size in points: its crop box, /Rotate applied.
    sizes: Vec<(f64, f64)>,
}

impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Document")
            .field("pages", &self.sizes.len())
            .field("limits", &self.limits)
            .finish()
    }
}

impl Document {
    /// Reads `path` (refusing a file over `limits.max_file_bytes` before reading it) and opens it.
    pub fn open_file(path: &Path, limits: &Limits) -> Result<Self, PdfError> {
        let unreadable = |e: std::io::Error| PdfError::Unreadable {
            reason: format!("{}: {e}", path.display()),
        };
        let file = std::fs::File::open(path).map_err(unreadable)?;
        let size = file.metadata().map_err(unreadable)?.len();
        if size > limits.max_file_bytes {
            return Err(PdfError::FileTooLarge {
                size,
                limit: limits.max_file_bytes,
            });
        }
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        // One byte past the limit: a file that grew since its metadata was read is caught too.
        file.take(limits.max_file_bytes.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(unreadable)?;
        Self::open(bytes, limits)
    }

    /// Parses a PDF and lists its pages. Encrypted files open when hayro can decrypt them with
    /// the empty user password (RC4, AES-128, AES-256 with an owner password only).
    pub fn open(bytes: Vec<u8>, limits: &Limits) -> Result<Self, PdfError> {
        let size = bytes.len() as u64;
        if size > limits.max_file_bytes {
            return Err(PdfError::FileTooLarge {
                size,
                limit: limits.max_file_bytes,
            });
        }
        if !bytes.windows(5).take(1024).any(|w| w == b"%PDF-") {
            // hayro would try to reconstruct any bytes at all as a PDF; a file without the
            // header in its first kilobyte (where readers look for it) is not one.
            return Err(PdfError::Broken {
                reason: "no %PDF- header in the first 1024 bytes".into(),
            });
        }
        let tail = &bytes[bytes.len().saturating_sub(1024 + EOF_MARKER.len())..];
        if !tail.windows(EOF_MARKER.len()).any(|w| w == EOF_MARKER) {
            // hayro rebuilds a truncated file from whatever objects survive and renders what it
            // finds (a page missing its fonts or images, an encrypted file as gibberish), and a
            // model would then answer about a part of the page as if it were all of it. Every
            // complete PDF ends with %%EOF, give or take 1024 bytes of trailing garbage.
            return Err(PdfError::Broken {
                reason: "no %%EOF marker at its end: the file is truncated (an incomplete \
                         download or copy)"
                    .into(),
            });
        }
        // hayro forbids unsafe code in its renderer, but a parser bug on a hostile file could
        // still panic; that is this file's error, not the process's end.
        let pdf = catch_unwind(AssertUnwindSafe(|| Pdf::new(bytes)))
            .map_err(|_| PdfError::Broken {
                reason: "the PDF parser failed on this file".into(),
            })?
            .map_err(load_error)?;
        let sizes: Vec<(f64, f64)> = pdf.pages().iter().map(displayed_size).collect();
        if sizes.is_empty() {
            return Err(PdfError::Empty);
        }
        if sizes.len() > limits.max_pages {
            return Err(PdfError::TooManyPages {
                pages: sizes.len(),
                limit: limits.max_pages,
            });
        }
        Ok(Self {
            pdf: Arc::new(pdf),
            limits: *limits,
            sizes,
        })
    }

    pub fn page_count(&self) -> usize {
        self.sizes.len()
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Page `index`'s displayed `(width, height)` in points (1/72 inch): its crop box, with
    /// /Rotate 90 or 270 swapping the two.
    pub fn page_size_pt(&self, index: usize) -> Result<(f64, f64), PdfError> {
        self.sizes.get(index).copied().ok_or(PdfError::NoSuchPage {
            page: index.saturating_add(1),
            count: self.sizes.len(),
        })
    }

    /// The `(width, height)` in pixels that [`Document::render`] gives page `index` at
    /// `longest_edge_px`, without drawing it (what a model's token cost is priced from).
    pub fn size_at_longest_edge(
        &self,
        index: usize,
        longest_edge_px: u32,
    ) -> Result<(u32, u32), PdfError> {
        let (w, h) = self.page_size_pt(index)?;
        let c = size::at_longest_edge(w, h, longest_edge_px.max(1));
        let side = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        Ok((side(c.width), side(c.height)))
    }

    /// Renders page `index` with its longest edge exactly `longest_edge_px` pixels (the other
    /// edge keeps the aspect ratio), composited on white. For a model, pass the processor's
    /// longest edge: the processor then resizes this image by a pixel at most.
    pub fn render(
        &self,
        index: usize,
        longest_edge_px: u32,
        cancel: &CancelToken,
    ) -> Result<RgbImage, PdfError> {
        if longest_edge_px == 0 {
            return Err(PdfError::InvalidSetting {
                reason: "the longest edge must be at least 1 pixel".into(),
            });
        }
        let (w, h) = self.checked_size(index)?;
        self.draw(index, size::at_longest_edge(w, h, longest_edge_px), cancel)
    }

    /// Renders page `index` at `dpi` pixels per inch with pdftoppm's pixel size
    /// (`ceil(points × dpi / 72)` a side), composited on white.
    pub fn render_at_dpi(
        &self,
        index: usize,
        dpi: f64,
        cancel: &CancelToken,
    ) -> Result<RgbImage, PdfError> {
        if !(dpi.is_finite() && dpi > 0.0) {
            return Err(PdfError::InvalidSetting {
                reason: format!("the DPI must be a positive number, not {dpi}"),
            });
        }
        let (w, h) = self.checked_size(index)?;
        self.draw(index, size::at_dpi(w, h, dpi), cancel)
    }

    /// The page's size, refused when a side is over `max_page_side_in`.
    fn checked_size(&self, index: usize) -> Result<(f64, f64), PdfError> {
        let (w, h) = self.page_size_pt(index)?;
        let limit = self.limits.max_page_side_in * POINTS_PER_INCH;
        if w > limit || h > limit {
            return Err(PdfError::PageTooLarge {
                page: index + 1,
                width_in: w / POINTS_PER_INCH,
                height_in: h / POINTS_PER_INCH,
                limit_in: self.limits.max_page_side_in,
            });
        }
        Ok((w, h))
    }

    fn draw(
        &self,
        index: usize,
        canvas: size::Canvas,
        cancel: &CancelToken,
    ) -> Result<RgbImage, PdfError> {
        let too_many = || PdfError::TooManyPixels {
            page: index + 1,
            width: canvas.width,
            height: canvas.height,
            limit_megapixels: self.limits.max_megapixels,
            max_side: MAX_SIDE_PX,
        };
        let pixels = canvas.width as f64 * canvas.height as f64;
        if pixels > self.limits.max_megapixels * 1e6 {
            return Err(too_many());
        }
        let (Ok(width), Ok(height)) = (u16::try_from(canvas.width), u16::try_from(canvas.height))
        else {
            return Err(too_many());
        };
        if width == 0 || height == 0 {
            return Err(PdfError::InvalidSetting {
                reason: format!("a {width} × {height} pixel render is empty"),
            });
        }
        let job = render::Job {
            pdf: Arc::clone(&self.pdf),
            index,
            scale: canvas.scale,
            width,
            height,
        };
        render::run(job, &self.limits, cancel)
    }
}

/// hayro's reading of the page box (`Page::render_dimensions`), in `f64` for poppler's rounding.
fn displayed_size(page: &hayro::hayro_syntax::page::Page<'_>) -> (f64, f64) {
    let crop = page.intersected_crop_box();
    let (w, h) = (crop.width(), crop.height());
    // hayro draws a page whose box has no area as A4, and any side at least 1 point.
    let (w, h) = if w.abs() < 1e-6 || h.abs() < 1e-6 || !w.is_finite() || !h.is_finite() {
        A4_PT
    } else {
        (w.max(1.0), h.max(1.0))
    };
    match page.rotation() {
        Rotation::Horizontal | Rotation::FlippedHorizontal => (h, w),
        Rotation::None | Rotation::Flipped => (w, h),
    }
}

fn load_error(e: LoadPdfError) -> PdfError {
    match e {
        LoadPdfError::Decryption(d) => PdfError::Encrypted(match d {
            DecryptionError::PasswordProtected => Encryption::PasswordProtected,
            DecryptionError::UnsupportedAlgorithm => Encryption::UnsupportedAlgorithm,
            DecryptionError::InvalidEncryption => Encryption::Invalid,
            DecryptionError::MissingIDEntry => Encryption::MissingId,
        }),
        LoadPdfError::Invalid => PdfError::Broken {
            reason: "no cross-reference table or page tree could be read".into(),
        },
    }
}
