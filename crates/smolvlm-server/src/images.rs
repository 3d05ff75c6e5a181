//! A request's `image_url`s as engine images: base64 data URLs, `file://` URLs and absolute
//! paths, and (only when allowed) `http(s)://` URLs — or as PDFs, when the URL holds one; and
//! the way back from an engine image error to the request field that holds the image.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use smolvlm::ImageSource;
use smolvlm::image::{ImageError, ImageLimits};
use smolvlm_pdf::PageList;

use crate::error::ApiError;

/// An image of the request: where it is in the request, and the name the engine's errors give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// `messages[i].content[j]`.
    pub param: String,
    pub name: String,
}

#[derive(Debug)]
pub enum PdfSource {
    Bytes(Vec<u8>),
    Path(PathBuf),
}

/// A PDF of the request, waiting for the answering model's image settings.
#[derive(Debug)]
pub struct PdfInput {
    pub source: PdfSource,
    /// The file name its pages and errors are named by.
    pub name: String,
    /// `None`: every page (refused when they do not fit the context).
    pub pages: Option<PageList>,
    /// `messages[i].content[j]`.
    pub param: String,
}

/// What an `image_url` needs before it can go to the worker.
#[derive(Debug)]
pub enum Pending {
    Ready(ImageSource),
    /// An `http(s)` URL still to fetch.
    Remote(String),
    /// A PDF, rendered once the model's image settings are known.
    Pdf(PdfInput),
}

/// Padding optional and newlines tolerated: clients split long base64 lines, or drop the `=`s.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Parses one `image_url`; `param` names it in errors and (for in-memory images) in the engine's
/// messages.
pub fn parse(url: &str, param: &str, allow_remote: bool) -> Result<Pending, ApiError> {
    let url = url.trim();
    let bad = |code: &str, msg: String| ApiError::invalid(code, msg).with_param(param);
    let lower: String = url.chars().take(8).collect::<String>().to_ascii_lowercase();
    if lower.starts_with("data:") {
        let (mime, data) = data_url(url, param, "image/")?;
        if mime == PDF_MIME || smolvlm_pdf::is_pdf_bytes(&data) {
            return Ok(Pending::Pdf(PdfInput {
                source: PdfSource::Bytes(data),
                name: param.to_string(),
                pages: None,
                param: param.to_string(),
            }));
        }
        return Ok(Pending::Ready(ImageSource::Bytes {
            name: param.to_string(),
            data: Arc::from(data),
        }));
    }
    if lower.starts_with("http://") || lower.starts_with("https://") {
        if !allow_remote {
            return Err(bad(
                "remote_images_disabled",
                "remote image URLs are off on this server; send the image inline as a data URL \
                 (data:image/png;base64,...) or as an absolute file path, or start the server \
                 with --allow-remote-images"
                    .into(),
            ));
        }
        return Ok(Pending::Remote(url.to_string()));
    }
    let path = if lower.starts_with("file://") {
        file_url_path(&url[7..])
    } else if url.contains("://") {
        return Err(bad(
            "invalid_image_url",
            format!(
                "unsupported image URL scheme in {}; use a data URL, a file:// URL or an absolute path",
                short(url)
            ),
        ));
    } else {
        PathBuf::from(url)
    };
    if !path.is_absolute() {
        return Err(bad(
            "invalid_image_url",
            format!(
                "the image path {} is relative; give an absolute path or a file:// URL (the \
                 server's working directory is not the client's)",
                short(url)
            ),
        ));
    }
    if smolvlm_pdf::is_pdf_file(&path) {
        return Ok(Pending::Pdf(PdfInput {
            name: path.display().to_string(),
            source: PdfSource::Path(path),
            pages: None,
            param: param.to_string(),
        }));
    }
    // Headers only: a missing, unknown or oversized file is refused before the request queues.
    if let Err(e) = smolvlm::image::image_dimensions(&path, &ImageLimits::default()) {
        return Err(bad(e.code(), e.to_string()));
    }
    Ok(Pending::Ready(ImageSource::Path(path)))
}

/// The MIME type of PDF data URLs.
pub const PDF_MIME: &str = "application/pdf";

/// A base64 data URL's `(MIME type, bytes)`; its type must start with `want` (`""`: any) or be
/// a PDF.
pub fn data_url(url: &str, param: &str, want: &str) -> Result<(String, Vec<u8>), ApiError> {
    let bad = |msg: &str| ApiError::invalid("invalid_image_url", msg).with_param(param);
    let Some((header, payload)) = url.get(5..).unwrap_or("").split_once(',') else {
        return Err(bad("the data URL has no `,` before its data"));
    };
    let mut fields = header.split(';');
    let mime = fields.next().unwrap_or("").trim().to_ascii_lowercase();
    if !mime.is_empty() && !mime.starts_with(want) && mime != PDF_MIME {
        return Err(bad(&format!(
            "the data URL's type {mime} is not {want}... or {PDF_MIME}"
        )));
    }
    if !fields.any(|f| f.trim().eq_ignore_ascii_case("base64")) {
        return Err(bad(
            "only base64 data URLs are read (data:image/png;base64,...)",
        ));
    }
    let data = decode_base64(payload)
        .map_err(|e| bad(&format!("the data URL's base64 does not decode: {e}")))?;
    Ok((mime, data))
}

/// Standard base64, whitespace ignored, padding optional.
pub fn decode_base64(payload: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let compact: Vec<u8> = payload
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    BASE64.decode(&compact)
}

/// `file:///a/b%20c.png` (or `file://localhost/...`) → `/a/b c.png`.
fn file_url_path(rest: &str) -> PathBuf {
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    let decoded = percent_encoding::percent_decode_str(rest).decode_utf8_lossy();
    // `file:///C:/x.png` on Windows: the path is `C:/x.png`.
    if cfg!(windows)
        && let Some(stripped) = decoded.strip_prefix('/')
        && stripped.as_bytes().get(1) == Some(&b':')
    {
        return PathBuf::from(stripped);
    }
    PathBuf::from(decoded.as_ref())
}

/// A URL cut for messages: data URLs and long paths are not echoed in full.
fn short(url: &str) -> String {
    const MAX: usize = 80;
    if url.chars().count() <= MAX {
        return format!("`{url}`");
    }
    format!("`{}…`", url.chars().take(MAX).collect::<String>())
}

/// Fetches an `http(s)` image (blocking; run it off the async threads), at most `max_bytes`.
pub fn fetch_remote(url: &str, param: &str, max_bytes: usize) -> Result<ImageSource, ApiError> {
    let bad = |msg: String| ApiError::invalid("image_unreadable", msg).with_param(param);
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .build();
    let response = agent
        .get(url)
        .call()
        .map_err(|e| bad(format!("cannot fetch the image {}: {e}", short(url))))?;
    let mut data = Vec::new();
    let limit = u64::try_from(max_bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    response
        .into_reader()
        .take(limit)
        .read_to_end(&mut data)
        .map_err(|e| bad(format!("cannot read the image {}: {e}", short(url))))?;
    if data.len() > max_bytes {
        return Err(bad(format!(
            "the image {} is larger than {max_bytes} bytes",
            short(url)
        )));
    }
    Ok(ImageSource::Bytes {
        name: param.to_string(),
        data: Arc::from(data),
    })
}

/// The name an engine image error gives its image (a path, or the name of in-memory bytes).
fn error_name(e: &ImageError) -> Option<&str> {
    match e {
        ImageError::Unreadable { path, .. } | ImageError::FileTooLarge { path, .. } => Some(path),
        ImageError::UnknownFormat { name }
        | ImageError::Truncated { name }
        | ImageError::Corrupt { name, .. }
        | ImageError::ZeroSized { name, .. }
        | ImageError::TooLarge { name, .. }
        | ImageError::Unsupported { name, .. } => Some(name),
        ImageError::Config { .. } | ImageError::InvalidSetting { .. } => None,
    }
}

/// The request field holding the image an engine error is about.
pub fn param_of(e: &ImageError, images: &[ImageRef]) -> Option<String> {
    let name = error_name(e)?;
    images
        .iter()
        .find(|i| i.name == name)
        .map(|i| i.param.clone())
}

/// The name the engine will use for `src` in its errors.
pub fn engine_name(src: &ImageSource) -> String {
    match src {
        ImageSource::Path(p) => Path::new(p).display().to_string(),
        ImageSource::Bytes { name, .. } => name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(r: Result<Pending, ApiError>) -> String {
        r.unwrap_err().code.unwrap_or_default()
    }

    #[test]
    fn data_urls_decode_with_or_without_padding_and_newlines() {
        for url in [
            "data:image/png;base64,aGVsbG8=",
            "data:image/png;base64,aGVsbG8",
            "data:image/png;base64,aGVs\nbG8=",
            "DATA:IMAGE/PNG;BASE64,aGVsbG8=",
        ] {
            let Ok(Pending::Ready(ImageSource::Bytes { name, data })) = parse(url, "p", false)
            else {
                panic!("{url} parses");
            };
            assert_eq!((name.as_str(), &data[..]), ("p", &b"hello"[..]));
        }
    }

    #[test]
    fn bad_urls_are_refused_with_their_reason() {
        assert_eq!(
            code_of(parse("data:image/png;base64,@@@", "p", false)),
            "invalid_image_url"
        );
        assert_eq!(
            code_of(parse("data:text/plain;base64,aGk=", "p", false)),
            "invalid_image_url"
        );
        assert_eq!(
            code_of(parse("data:image/png,raw", "p", false)),
            "invalid_image_url"
        );
        assert_eq!(
            code_of(parse("images/cat.png", "p", false)),
            "invalid_image_url"
        );
        assert_eq!(
            code_of(parse("ftp://x/y.png", "p", false)),
            "invalid_image_url"
        );
        assert_eq!(
            code_of(parse("https://x/y.png", "p", false)),
            "remote_images_disabled"
        );
        assert!(matches!(
            parse("https://x/y.png", "p", true),
            Ok(Pending::Remote(_))
        ));
        assert_eq!(
            code_of(parse("/no/such/image.png", "p", false)),
            "image_unreadable"
        );
        let e = parse("relative.png", "messages[0].content[1]", false).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("messages[0].content[1]"));
    }

    #[test]
    fn file_urls_are_percent_decoded() {
        assert_eq!(file_url_path("/a/b%20c.png"), PathBuf::from("/a/b c.png"));
        assert_eq!(file_url_path("localhost/a.png"), PathBuf::from("/a.png"));
    }

    #[test]
    fn engine_errors_lead_back_to_their_field() {
        let images = vec![ImageRef {
            param: "messages[1].content[0]".into(),
            name: "/tmp/x.png".into(),
        }];
        let e = ImageError::Truncated {
            name: "/tmp/x.png".into(),
        };
        assert_eq!(
            param_of(&e, &images).as_deref(),
            Some("messages[1].content[0]")
        );
        let other = ImageError::Truncated { name: "y".into() };
        assert_eq!(param_of(&other, &images), None);
    }
}
