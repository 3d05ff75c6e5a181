//! Bad and hostile PDFs: each is a typed error naming what is wrong, quickly, never a crash.
//! The render bomb has its own test binary (`bomb.rs`), as its abandoned thread keeps a core
//! busy until the process ends.

mod common;

use std::time::{Duration, Instant};

use common::{bomb_pdf, fixture, pages_pdf, write_pdf};
use smolvlm_cancel::CancelToken;
use smolvlm_pdf::{Document, Encryption, Limits, PdfError};

/// Generous: each of these takes milliseconds; a limit that failed to hold would take far longer.
const QUICK: Duration = Duration::from_secs(10);

fn open(bytes: Vec<u8>) -> Result<Document, PdfError> {
    Document::open(bytes, &Limits::default())
}

#[test]
fn a_password_protected_file_says_it_is_encrypted() {
    let err = open(fixture("encrypted.pdf")).unwrap_err();
    assert!(
        matches!(err, PdfError::Encrypted(Encryption::PasswordProtected)),
        "{err:?}"
    );
    assert_eq!(err.code(), "pdf_encrypted");
    assert!(err.to_string().contains("password"), "{err}");
}

#[test]
fn truncated_files_are_broken_not_half_rendered() {
    for name in ["text.pdf", "scanned.pdf", "encrypted.pdf"] {
        let bytes = fixture(name);
        for frac in [0.05, 0.5, 0.95] {
            let cut = bytes[..(bytes.len() as f64 * frac) as usize].to_vec();
            let err = open(cut).unwrap_err();
            assert!(
                matches!(err, PdfError::Broken { .. }),
                "{name} at {frac}: {err:?}"
            );
            assert!(err.to_string().contains("truncated"), "{err}");
        }
    }
    // Up to 1024 bytes of garbage after %%EOF are tolerated, as readers do.
    let mut padded = fixture("text.pdf");
    padded.extend_from_slice(&[b'\n'; 1000]);
    assert_eq!(open(padded).unwrap().page_count(), 1);
}

#[test]
fn files_that_are_not_pdfs_are_broken() {
    for bytes in [
        Vec::new(),
        b"hello".to_vec(),
        std::fs::read(common::fixtures().join("ref/text-1.png")).unwrap(),
        // A header and an end, nothing readable between.
        b"%PDF-1.7\n garbage \x00\xff obj << /Type /Page \n%%EOF\n".to_vec(),
    ] {
        let err = open(bytes).unwrap_err();
        assert!(matches!(err, PdfError::Broken { .. }), "{err:?}");
        assert_eq!(err.code(), "pdf_broken");
    }
}

#[test]
fn a_document_without_pages_is_empty() {
    let bytes = write_pdf(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Count 0 /Kids [] >>".to_vec(),
    ]);
    let err = open(bytes).unwrap_err();
    assert!(matches!(err, PdfError::Empty), "{err:?}");
    assert_eq!(err.to_string(), "the PDF has no pages");
}

#[test]
fn ten_thousand_pages_are_over_the_page_limit() {
    let bytes = pages_pdf(10_000, 612.0, 792.0, b"0 0 m 10 10 l S");
    let start = Instant::now();
    let err = open(bytes.clone()).unwrap_err();
    assert!(start.elapsed() < QUICK, "{:?}", start.elapsed());
    match err {
        PdfError::TooManyPages { pages, limit } => assert_eq!((pages, limit), (10_000, 2_000)),
        e => panic!("{e:?}"),
    }
    // The limit is the limit: raised, the same file opens.
    let limits = Limits {
        max_pages: 10_000,
        ..Limits::default()
    };
    assert_eq!(Document::open(bytes, &limits).unwrap().page_count(), 10_000);
}

#[test]
fn a_200_inch_page_renders_for_the_model_but_not_at_72_dpi() {
    let side = 200.0 * 72.0;
    let doc = open(pages_pdf(1, side, side, b"0 0 1 rg 0 0 7200 7200 re f")).unwrap();
    assert_eq!(doc.page_size_pt(0).unwrap(), (side, side));
    let cancel = CancelToken::new();
    let start = Instant::now();
    // 14,400 × 14,400 pixels: 207 megapixels, refused before anything is allocated.
    let err = doc.render_at_dpi(0, 72.0, &cancel).unwrap_err();
    assert!(start.elapsed() < QUICK);
    match &err {
        PdfError::TooManyPixels {
            page,
            width,
            height,
            limit_megapixels,
            ..
        } => assert_eq!(
            (*page, *width, *height, *limit_megapixels),
            (1, 14_400, 14_400, 40.0)
        ),
        e => panic!("{e:?}"),
    }
    assert!(err.to_string().contains("max_megapixels"), "{err}");
    // At the model's resolution the same page is a small image: its lower-left quarter blue.
    let img = doc.render(0, 64, &cancel).unwrap();
    assert_eq!((img.width, img.height), (64, 64));
    let px = |x: usize, y: usize| &img.data[(y * 64 + x) * 3..][..3];
    assert_eq!(px(8, 56), [0, 0, 255]);
    assert_eq!(px(56, 8), [255, 255, 255]);
}

#[test]
fn a_page_over_200_inches_is_too_large_at_any_resolution() {
    let doc = open(pages_pdf(1, 201.0 * 72.0, 100.0, b"")).unwrap();
    let err = doc.render(0, 512, &CancelToken::new()).unwrap_err();
    match &err {
        PdfError::PageTooLarge { page, limit_in, .. } => assert_eq!((*page, *limit_in), (1, 200.0)),
        e => panic!("{e:?}"),
    }
    assert_eq!(err.code(), "pdf_page_too_large");
    assert!(err.to_string().contains("201.0 × 1.4 inches"), "{err}");
}

#[test]
fn the_file_size_limit_is_checked_before_parsing() {
    let bytes = fixture("text.pdf");
    let limits = Limits {
        max_file_bytes: 1000,
        ..Limits::default()
    };
    let err = Document::open(bytes.clone(), &limits).unwrap_err();
    assert!(
        matches!(err, PdfError::FileTooLarge { size, limit: 1000 } if size == bytes.len() as u64),
        "{err:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.pdf");
    std::fs::write(&path, &bytes).unwrap();
    let err = Document::open_file(&path, &limits).unwrap_err();
    assert!(matches!(err, PdfError::FileTooLarge { .. }), "{err:?}");
    assert_eq!(
        Document::open_file(&path, &Limits::default())
            .unwrap()
            .page_count(),
        1
    );
    let err = Document::open_file(&dir.path().join("missing.pdf"), &limits).unwrap_err();
    assert_eq!(err.code(), "pdf_unreadable");
}

#[test]
fn bad_pages_and_settings_are_errors() {
    let doc = open(fixture("rotated.pdf")).unwrap();
    let cancel = CancelToken::new();
    let err = doc.render(4, 512, &cancel).unwrap_err();
    assert!(
        matches!(err, PdfError::NoSuchPage { page: 5, count: 4 }),
        "{err:?}"
    );
    assert!(matches!(
        doc.page_size_pt(usize::MAX),
        Err(PdfError::NoSuchPage { .. })
    ));
    assert!(matches!(
        doc.render(0, 0, &cancel),
        Err(PdfError::InvalidSetting { .. })
    ));
    for dpi in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let err = doc.render_at_dpi(0, dpi, &cancel).unwrap_err();
        assert!(
            matches!(err, PdfError::InvalidSetting { .. }),
            "{dpi}: {err:?}"
        );
    }
    // A longest edge past the renderer's 65,535-pixel canvas is refused, not truncated.
    let limits = Limits {
        max_megapixels: 1e9,
        ..Limits::default()
    };
    let big = Document::open(fixture("text.pdf"), &limits).unwrap();
    let err = big.render(0, 70_000, &cancel).unwrap_err();
    assert!(matches!(err, PdfError::TooManyPixels { .. }), "{err:?}");
}

#[test]
fn a_cancelled_render_stops() {
    let doc = open(fixture("text.pdf")).unwrap();
    let cancel = CancelToken::new();
    cancel.cancel();
    let err = doc.render(0, 512, &cancel).unwrap_err();
    assert!(matches!(err, PdfError::Cancelled { page: 1 }), "{err:?}");
    assert_eq!(err.code(), "cancelled");
}

#[test]
fn a_shallow_nest_of_forms_renders_within_its_budget() {
    // Same structure, 4^5 squares (the bomb of bomb.rs, 6 levels deep): a real (if silly) page that renders within its budget.
    let doc = Document::open(bomb_pdf(6, 4), &Limits::default()).unwrap();
    let img = doc.render(0, 128, &CancelToken::new()).unwrap();
    // The blue squares: at least the first one, at the page's lower left.
    let blue = img.data.chunks(3).filter(|p| p == &[0, 0, 255]).count();
    assert!(blue > 0);
}

#[test]
fn forms_nested_past_the_interpreters_depth_limit_do_not_overflow_the_stack() {
    // 200 forms, each drawing the next once: hayro stops descending at 50 levels (the square
    // at the bottom is never drawn), and the render thread's stack holds those 50.
    let doc = Document::open(bomb_pdf(200, 1), &Limits::default()).unwrap();
    let img = doc.render(0, 128, &CancelToken::new()).unwrap();
    assert!(img.data.iter().all(|&v| v == 255));
    // 45 levels: within the limit, the square is drawn.
    let doc = Document::open(bomb_pdf(45, 1), &Limits::default()).unwrap();
    let img = doc.render(0, 128, &CancelToken::new()).unwrap();
    assert!(img.data.chunks(3).any(|p| p == [0, 0, 255]));
}
