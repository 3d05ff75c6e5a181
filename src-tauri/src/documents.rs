//! PDFs the user adds to a message (drops, the picker, pastes): opened in process
//! (`smolvlm-pdf`, under its limits), their pages listed with sizes and token costs, small
//! thumbnails for the page strip, and the chosen pages rendered at the resolution the model will
//! use into the image store. A PDF is held (in memory, a few at a time) only while its pages are
//! being chosen; the conversation keeps the rendered pages with the PDF's name and page numbers.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use serde::Serialize;
use smolvlm::CancelToken;
use smolvlm_image::{MAX_IMAGE_SIZE, Resolution};
use smolvlm_pdf::{Document, Limits, PdfError};

use crate::error::{AppError, AppResult};
use crate::images::{self, ImageCost};
use crate::store::{PdfPageRef, Store, StoredImage, new_id};
use crate::sync::lock;
use crate::worker::ImageGeometry;

/// PDFs kept open at once; opening another closes the oldest. Each holds its file's bytes (up
/// to smolvlm-pdf's 256 MiB), so only a few.
const MAX_OPEN: usize = 3;
/// Longest edge of a page-strip thumbnail, in pixels (twice the strip's CSS size, for HiDPI).
const THUMBNAIL_EDGE: u32 = 240;
/// The longest edge pages are rendered at when no model is loaded to say (SmolVLM-256M's and
/// 500M's own edge).
const FALLBACK_EDGE: u32 = 2048;

/// An opened PDF, as the page strip shows it.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PdfInfo {
    /// Names this open PDF in the other PDF commands.
    pub id: String,
    /// The file's name.
    pub name: String,
    pub pages: Vec<PdfPageSize>,
}

/// A page's displayed size in points (1/72 inch), /Rotate applied.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PdfPageSize {
    /// From 1.
    pub number: u32,
    #[specta(type = crate::foreign::Finite)]
    pub width_pt: f64,
    #[specta(type = crate::foreign::Finite)]
    pub height_pt: f64,
}

/// What each page of a PDF costs with the loaded model at one longest edge.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PdfCosts {
    /// The longest edge pages are rendered and priced at.
    pub longest_edge: u32,
    /// One per page, in page order.
    pub pages: Vec<ImageCost>,
    /// Image tokens a message's pages should stay within: half the model's context, the rest
    /// left for the conversation and the answer (the rule the resolution limits use).
    pub budget_tokens: usize,
}

struct OpenPdf {
    id: String,
    name: String,
    doc: Document,
    /// Cancels the render in flight; replaced by a fresh token after each cancel.
    cancel: Mutex<CancelToken>,
}

/// The PDFs open for page choosing.
#[derive(Default)]
pub struct OpenDocuments {
    open: Mutex<VecDeque<Arc<OpenPdf>>>,
}

impl OpenDocuments {
    /// Opens the PDF at `path` (limits checked: size, pages, encryption, a truncated file).
    pub fn open_file(&self, path: &Path) -> AppResult<PdfInfo> {
        let name = file_name(path);
        let doc = Document::open_file(path, &Limits::default()).map_err(|e| pdf_error(&name, e))?;
        self.keep(name, doc)
    }

    /// Opens PDF data that arrived without a file (a paste).
    pub fn open_bytes(&self, bytes: Vec<u8>, name: &str) -> AppResult<PdfInfo> {
        let doc = Document::open(bytes, &Limits::default()).map_err(|e| pdf_error(name, e))?;
        self.keep(name.to_string(), doc)
    }

    fn keep(&self, name: String, doc: Document) -> AppResult<PdfInfo> {
        let pages = (0..doc.page_count())
            .map(|i| {
                let (w, h) = doc.page_size_pt(i).map_err(|e| pdf_error(&name, e))?;
                Ok(PdfPageSize {
                    number: page_number(i),
                    width_pt: w,
                    height_pt: h,
                })
            })
            .collect::<AppResult<Vec<_>>>()?;
        let open = Arc::new(OpenPdf {
            id: new_id('d'),
            name,
            doc,
            cancel: Mutex::new(CancelToken::new()),
        });
        let info = PdfInfo {
            id: open.id.clone(),
            name: open.name.clone(),
            pages,
        };
        let mut all = lock(&self.open);
        while all.len() >= MAX_OPEN {
            if let Some(old) = all.pop_front() {
                lock(&old.cancel).cancel();
            }
        }
        all.push_back(open);
        Ok(info)
    }

    fn get(&self, id: &str) -> AppResult<Arc<OpenPdf>> {
        crate::validate::id(id)?;
        lock(&self.open)
            .iter()
            .find(|d| d.id == id)
            .cloned()
            .ok_or_else(|| AppError::NotFound {
                what: format!("open PDF {id} (closed: add the file again)"),
            })
    }

    /// Forgets an open PDF (its pages chosen, or the user changed their mind); false when it was
    /// not open.
    pub fn close(&self, id: &str) -> bool {
        let mut all = lock(&self.open);
        let before = all.len();
        all.retain(|d| {
            let keep = d.id != id;
            if !keep {
                lock(&d.cancel).cancel();
            }
            keep
        });
        all.len() != before
    }

    /// Cancels the render running for `id`, if any (the next render starts afresh).
    pub fn cancel(&self, id: &str) -> AppResult<()> {
        let open = self.get(id)?;
        let mut token = lock(&open.cancel);
        token.cancel();
        *token = CancelToken::new();
        Ok(())
    }

    /// Each page's cost at `asked` pixels (clamped to the model's limits; default: the document
    /// preset), priced from the page size without drawing anything.
    pub fn costs(&self, g: &ImageGeometry, id: &str, asked: Option<u32>) -> AppResult<PdfCosts> {
        if !g.has_vision {
            return Err(AppError::Engine(smolvlm::Error::NoVision));
        }
        let open = self.get(id)?;
        let edge = images::longest_edge(g, asked, Resolution::Document)?;
        let pages = (0..open.doc.page_count())
            .map(|i| {
                let (w, h) = open
                    .doc
                    .size_at_longest_edge(i, edge)
                    .map_err(|e| pdf_error(&open.name, e))?;
                images::cost(g, w, h, edge)
            })
            .collect::<AppResult<Vec<_>>>()?;
        Ok(PdfCosts {
            longest_edge: edge,
            pages,
            budget_tokens: g.context_length / 2,
        })
    }

    /// Page `page` (from 1) as a small PNG data URL for the page strip.
    pub fn thumbnail(&self, id: &str, page: u32) -> AppResult<String> {
        let open = self.get(id)?;
        let png = open.render_png(page, THUMBNAIL_EDGE)?;
        Ok(format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(png)
        ))
    }

    /// Renders page `page` (from 1) at the longest edge the model will use (`asked`, clamped to
    /// its limits; default: the document preset) into `store`.
    pub fn import_page(
        &self,
        store: &Store,
        geometry: Option<&ImageGeometry>,
        id: &str,
        page: u32,
        asked: Option<u32>,
    ) -> AppResult<StoredImage> {
        let open = self.get(id)?;
        let edge = render_edge(geometry, asked)?;
        let png = open.render_png(page, edge)?;
        let pages = u32::try_from(open.doc.page_count()).unwrap_or(u32::MAX);
        store.import_page(
            &png,
            PdfPageRef {
                document: open.name.clone(),
                page,
                pages,
            },
        )
    }
}

impl OpenPdf {
    fn render_png(&self, page: u32, edge: u32) -> AppResult<Vec<u8>> {
        let index =
            page_index(page, self.doc.page_count()).map_err(|e| pdf_error(&self.name, e))?;
        let cancel = lock(&self.cancel).clone();
        let image = self
            .doc
            .render(index, edge, &cancel)
            .map_err(|e| pdf_error(&self.name, e))?;
        image.to_png().map_err(|e| pdf_error(&self.name, e))
    }
}

/// The longest edge a page is rendered at: what the processor will resize it to (never more,
/// so no pixel is drawn to be thrown away).
fn render_edge(geometry: Option<&ImageGeometry>, asked: Option<u32>) -> AppResult<u32> {
    match geometry {
        Some(g) => images::longest_edge(g, asked, Resolution::Document),
        None => Ok(asked.unwrap_or(FALLBACK_EDGE).clamp(1, MAX_IMAGE_SIZE)),
    }
}

fn page_index(page: u32, count: usize) -> Result<usize, PdfError> {
    let index = (page as usize).wrapping_sub(1);
    if page == 0 || index >= count {
        return Err(PdfError::NoSuchPage {
            page: page as usize,
            count,
        });
    }
    Ok(index)
}

fn page_number(index: usize) -> u32 {
    u32::try_from(index + 1).unwrap_or(u32::MAX)
}

fn pdf_error(name: &str, error: PdfError) -> AppError {
    AppError::Pdf {
        name: name.to_string(),
        error,
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "document.pdf".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_count_from_one() {
        assert_eq!(page_index(1, 3).unwrap(), 0);
        assert_eq!(page_index(3, 3).unwrap(), 2);
        for bad in [0, 4, u32::MAX] {
            assert_eq!(page_index(bad, 3).unwrap_err().code(), "pdf_no_such_page");
        }
    }
}
