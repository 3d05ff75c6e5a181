//! A request's PDFs as images: `file` parts (OpenAI's shape for PDFs) and `image_url`s that hold
//! a PDF. Each chosen page is rendered in process (smolvlm-pdf) at the longest edge the
//! answering model's processor resizes to — the document preset unless the server was started
//! with `--longest-edge` — after the pages are priced against the model's context, so a PDF too
//! big for the model is refused before anything is drawn.

use std::sync::Arc;

use axum::http::StatusCode;
use smolvlm::image::{ImageProcessor, ProcessorConfig};
use smolvlm::{CancelToken, ImageSource};
use smolvlm_openai as oai;
use smolvlm_pdf::{Document, Limits, PageList, PdfError};

use crate::codes::RETRY_AFTER_S;
use crate::error::{ApiError, ErrorKind};
use crate::images::{self, PdfInput, PdfSource};

/// Reads a `file` content part: `file_data` inline (a data URL or bare base64), which must be a
/// PDF; `pages` optional.
pub fn from_file_part(file: &oai::FileInput, param: &str) -> Result<PdfInput, ApiError> {
    let bad = |code: &str, msg: String| ApiError::invalid(code, msg).with_param(param);
    let Some(data) = file.file_data.as_deref() else {
        if file.file_id.is_some() {
            return Err(bad(
                "unsupported_file_id",
                "this server has no Files API, so `file_id` cannot be read; send the file inline \
                 as `file_data` (data:application/pdf;base64,...)"
                    .into(),
            ));
        }
        return Err(bad(
            "invalid_file",
            "the file part has no `file_data` (data:application/pdf;base64,...)".into(),
        ));
    };
    let data = data.trim();
    let bytes = if data
        .get(..5)
        .is_some_and(|h| h.eq_ignore_ascii_case("data:"))
    {
        // Any type: the bytes tell a PDF, and a wrongly typed one is still read.
        images::data_url(data, param, "")?.1
    } else {
        images::decode_base64(data).map_err(|e| {
            bad(
                "invalid_file",
                format!("the file's base64 does not decode: {e}"),
            )
        })?
    };
    let name = file
        .filename
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| param.to_string());
    if !smolvlm_pdf::is_pdf_bytes(&bytes) {
        return Err(bad(
            "unsupported_file",
            format!(
                "{name} is not a PDF: `file` parts take PDFs; send images as `image_url` parts"
            ),
        ));
    }
    let pages = file
        .pages
        .as_deref()
        .map(|p| {
            PageList::parse(p)
                .map_err(|e| bad("invalid_pages", format!("pages {p:?} of {name}: {e}")))
        })
        .transpose()?;
    Ok(PdfInput {
        source: PdfSource::Bytes(bytes),
        name,
        pages,
        param: param.to_string(),
    })
}

/// What the answering model does to images.
#[derive(Debug, Clone)]
pub struct Target {
    pub processor: ProcessorConfig,
    /// The model's context in tokens, when known (the loaded model's).
    pub context_length: Option<usize>,
}

/// One PDF's chosen pages as PNG images (lossless: the engine decodes exactly the render).
pub fn render(
    input: &PdfInput,
    edge: u32,
    target: &Target,
    cancel: &CancelToken,
) -> Result<Vec<ImageSource>, ApiError> {
    let fail = |e: PdfError| pdf_error(input, e);
    let doc = match &input.source {
        PdfSource::Bytes(b) => Document::open(b.clone(), &Limits::default()),
        PdfSource::Path(p) => Document::open_file(p, &Limits::default()),
    }
    .map_err(fail)?;
    let count = doc.page_count();
    let pages = input.pages.clone().unwrap_or_else(|| PageList::all(count));
    let processor = ImageProcessor::new(target.processor.clone())
        .with_longest_edge(edge)
        .map_err(|e| ApiError::invalid("invalid_setting", e.to_string()))?;
    let mut tokens = 0usize;
    for &page in pages.pages() {
        let (w, h) = doc.size_at_longest_edge(page - 1, edge).map_err(fail)?;
        tokens += processor.plan(w, h).frames * target.processor.image_seq_len;
    }
    if let Some(context) = target.context_length
        && tokens > context
    {
        let advice = if input.pages.is_some() {
            "choose fewer pages"
        } else {
            "choose pages with the file part's `pages` field (e.g. \"pages\": \"1-2\")"
        };
        return Err(ApiError::invalid(
            "context_length_exceeded",
            format!(
                "{}: {} page(s) take {tokens} image tokens at {edge} px, more than the model's \
                 context of {context} tokens; {advice}",
                input.name,
                pages.pages().len()
            ),
        )
        .with_param(input.param.clone()));
    }
    pages
        .pages()
        .iter()
        .map(|&page| {
            let png = doc
                .render(page - 1, edge, cancel)
                .and_then(|image| image.to_png())
                .map_err(fail)?;
            Ok(ImageSource::Bytes {
                name: format!("{}#page={page}", input.name),
                data: Arc::from(png),
            })
        })
        .collect()
}

/// A PDF failure as the client sees it: the request's fault, except a renderer still busy with
/// earlier runaway renders (come back later) and a renderer bug.
fn pdf_error(input: &PdfInput, e: PdfError) -> ApiError {
    let message = format!("{}: {e}", input.name);
    let mut err = match e {
        PdfError::RendererBusy { .. } => {
            let mut err = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorKind::Server,
                e.code(),
                message,
            );
            err.retry_after = Some(RETRY_AFTER_S);
            err
        }
        PdfError::RenderFailed { .. } | PdfError::Encode { .. } => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::Server,
            e.code(),
            message,
        ),
        _ => ApiError::invalid(e.code(), message),
    };
    err.param = Some(input.param.clone());
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(data: &str) -> oai::FileInput {
        oai::FileInput {
            file_data: Some(data.into()),
            filename: Some("a.pdf".into()),
            ..oai::FileInput::default()
        }
    }

    fn code(r: Result<PdfInput, ApiError>) -> String {
        r.unwrap_err().code.unwrap_or_default()
    }

    #[test]
    fn file_parts_take_inline_pdfs_only() {
        // "%PDF-1.7" in base64, with and without the data URL around it.
        for data in ["JVBERi0xLjc=", "data:application/pdf;base64,JVBERi0xLjc="] {
            let input = from_file_part(&part(data), "messages[0].content[0]").unwrap();
            assert!(matches!(&input.source, PdfSource::Bytes(b) if b == b"%PDF-1.7"));
            assert_eq!((input.name.as_str(), input.pages), ("a.pdf", None));
        }
        let mut paged = part("JVBERi0xLjc=");
        paged.pages = Some("2,1".into());
        let input = from_file_part(&paged, "p").unwrap();
        assert_eq!(input.pages.unwrap().pages(), [2, 1]);
        paged.pages = Some("0".into());
        assert_eq!(code(from_file_part(&paged, "p")), "invalid_pages");
        // A PNG header is not a PDF.
        assert_eq!(
            code(from_file_part(&part("iVBORw0KGgo="), "p")),
            "unsupported_file"
        );
        assert_eq!(code(from_file_part(&part("@@@"), "p")), "invalid_file");
        let by_id = oai::FileInput {
            file_id: Some("file-1".into()),
            ..oai::FileInput::default()
        };
        let e = from_file_part(&by_id, "messages[2].content[1]").unwrap_err();
        assert_eq!(e.code.as_deref(), Some("unsupported_file_id"));
        assert_eq!(e.param.as_deref(), Some("messages[2].content[1]"));
        assert_eq!(
            code(from_file_part(&oai::FileInput::default(), "p")),
            "invalid_file"
        );
    }
}
