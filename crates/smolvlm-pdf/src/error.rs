//! Everything opening or rendering a PDF can fail with. Each limit error names the limit (its
//! `Limits` field and value) so that a user can tell a broken file from a refused one.

use std::time::Duration;

/// Why a PDF was encrypted in a way hayro cannot open. hayro decrypts RC4, AES-128 and AES-256
/// files whose user password is empty (the common "owner password only" case); these are the
/// ones it cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encryption {
    /// A user password is needed to open the file, and none is taken.
    PasswordProtected,
    /// An encryption scheme hayro does not implement (e.g. a custom security handler).
    UnsupportedAlgorithm,
    /// The encryption dictionary is inconsistent.
    Invalid,
    /// The file lacks the trailer `/ID` its encryption key is derived from.
    MissingId,
}

impl std::fmt::Display for Encryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Encryption::PasswordProtected => "it needs a password to open",
            Encryption::UnsupportedAlgorithm => "its encryption scheme is not supported",
            Encryption::Invalid => "its encryption dictionary is invalid",
            Encryption::MissingId => "it lacks the /ID its encryption needs",
        })
    }
}

/// Errors of [`crate::Document`]. Page numbers in messages are 1-based, as users count them.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("the PDF is {size} bytes, over the limit of {limit} bytes (max_file_bytes)")]
    FileTooLarge { size: u64, limit: u64 },
    #[error("cannot read the PDF: {reason}")]
    Unreadable { reason: String },
    #[error("the PDF is encrypted and cannot be opened: {0}")]
    Encrypted(Encryption),
    #[error("not a readable PDF (broken or truncated): {reason}")]
    Broken { reason: String },
    #[error("the PDF has no pages")]
    Empty,
    #[error("the PDF has {pages} pages, over the limit of {limit} (max_pages)")]
    TooManyPages { pages: usize, limit: usize },
    #[error("page {page} does not exist: the PDF has {count} page(s)")]
    NoSuchPage { page: usize, count: usize },
    #[error(
        "page {page} is {width_in:.1} × {height_in:.1} inches, over the limit of {limit_in} \
         inches a side (max_page_side_in)"
    )]
    PageTooLarge {
        page: usize,
        width_in: f64,
        height_in: f64,
        limit_in: f64,
    },
    #[error(
        "page {page} would render at {width} × {height} pixels, over the limit of \
         {limit_megapixels} megapixels (max_megapixels) or {max_side} pixels a side"
    )]
    TooManyPixels {
        page: usize,
        width: u64,
        height: u64,
        limit_megapixels: f64,
        max_side: u32,
    },
    #[error("invalid render setting: {reason}")]
    InvalidSetting { reason: String },
    #[error(
        "page {page} did not finish rendering within {limit:?} (render_timeout); the file may be \
         a render bomb"
    )]
    RenderTimeout { page: usize, limit: Duration },
    #[error("the render of page {page} was cancelled")]
    Cancelled { page: usize },
    #[error(
        "{running} earlier render(s) that ran past their time limit are still running \
         (max_runaway_renders is {limit}); try again once they end"
    )]
    RendererBusy { running: usize, limit: usize },
    #[error("the renderer failed on page {page} (a bug in the PDF renderer on this file)")]
    RenderFailed { page: usize },
    #[error("cannot encode the rendered page as PNG: {reason}")]
    Encode { reason: String },
}

impl PdfError {
    /// A stable code for scripts and the batch output (`pdf_…`), like the engine's codes.
    pub fn code(&self) -> &'static str {
        match self {
            PdfError::FileTooLarge { .. } => "pdf_file_too_large",
            PdfError::Unreadable { .. } => "pdf_unreadable",
            PdfError::Encrypted(_) => "pdf_encrypted",
            PdfError::Broken { .. } => "pdf_broken",
            PdfError::Empty => "pdf_empty",
            PdfError::TooManyPages { .. } => "pdf_too_many_pages",
            PdfError::NoSuchPage { .. } => "pdf_no_such_page",
            PdfError::PageTooLarge { .. } => "pdf_page_too_large",
            PdfError::TooManyPixels { .. } => "pdf_too_many_pixels",
            PdfError::InvalidSetting { .. } => "pdf_invalid_setting",
            PdfError::RenderTimeout { .. } => "pdf_render_timeout",
            PdfError::Cancelled { .. } => "cancelled",
            PdfError::RendererBusy { .. } => "pdf_renderer_busy",
            PdfError::RenderFailed { .. } => "pdf_render_failed",
            PdfError::Encode { .. } => "pdf_encode_failed",
        }
    }
}
