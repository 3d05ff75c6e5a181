//! hayro's renders against poppler's (`pdftoppm -r 40`, committed by
//! scripts/fixtures/pdf/make_fixtures.sh): every page of every fixture must have exactly
//! poppler's pixel size, and nearly its pixels.
//!
//! Tolerance: the mean absolute difference per channel (0–255) over the page. The two renderers
//! anti-alias edges differently (hayro's sparse-strip coverage vs Splash's) and hint glyphs
//! differently, so edge pixels differ one by one while text and vector pages average
//! 1–2.6 (measured 0.97–2.57): `VECTOR_TOLERANCE` is 4, for other SIMD paths. Pages of embedded images downscaled 2.5×
//! (a 100 dpi scan shown at 40 dpi) differ more, because hayro's resampler is sharper than
//! Splash's box filter (measured 6.4–7.4, 3.4 once both are blurred by 1 px, and worse for any
//! 1 px shift, so the pages are aligned): `IMAGE_TOLERANCE` is 10. Each page also checks that
//! its layout is poppler's (8×8 block means, against a blank page), and the rotated fixture that
//! a wrongly rotated page would not match.
//!
//! LibreOffice's export rules its tables with 0.75 pt strokes (0.42 px at 40 dpi) and fills the
//! cells edge to edge at fractional pixel positions. Both renderers widen such a stroke to 1 px,
//! but Splash's stroke adjustment also snaps it (and rectangle fills) to the pixel grid — one
//! black row — where hayro draws it where it lies, over two gray rows. That costs over 100 per
//! pixel along every rule, so the table-heavy pages average 5.16 (A4 portrait: text, a table, a
//! photo) and 10.42 (landscape: an 11-row table). Poppler's own Cairo backend is as far off
//! Splash on the same pages (`pdftocairo -r 40`: 4.71 and 11.12): this is the snapping policy,
//! not a misrender. `RULED_TOLERANCE` is 12 for those pages; over 4×4-pixel blocks, where a rule
//! on one row and the same rule over two average out, they must still be within
//! `VECTOR_TOLERANCE` (measured 2.10 and 1.88).

mod common;

use common::{fixture, fixtures, png_rgb};
use smolvlm_cancel::CancelToken;
use smolvlm_pdf::{Document, Limits, RgbImage};

const DPI: f64 = 40.0;
const VECTOR_TOLERANCE: f64 = 4.0;
const IMAGE_TOLERANCE: f64 = 10.0;
const RULED_TOLERANCE: f64 = 12.0;

/// Mean absolute difference per channel of the `k × k` block means (whole blocks only).
fn block_diff(a: &RgbImage, b: &image::RgbImage, k: usize) -> f64 {
    let (w, h) = (a.width as usize, a.height as usize);
    let block_mean = |data: &[u8], bx: usize, by: usize, c: usize| -> f64 {
        let mut sum = 0u64;
        for y in by * k..(by + 1) * k {
            for x in bx * k..(bx + 1) * k {
                sum += u64::from(data[(y * w + x) * 3 + c]);
            }
        }
        sum as f64 / (k * k) as f64
    };
    let (mut total, mut n) = (0.0, 0usize);
    for by in 0..h / k {
        for bx in 0..w / k {
            for c in 0..3 {
                total += (block_mean(&a.data, bx, by, c) - block_mean(b.as_raw(), bx, by, c)).abs();
                n += 1;
            }
        }
    }
    total / n.max(1) as f64
}

/// Mean absolute difference per channel; `None` when the sizes differ.
fn mean_abs_diff(a: &RgbImage, b: &image::RgbImage) -> Option<f64> {
    if (a.width, a.height) != b.dimensions() {
        return None;
    }
    let sum: u64 = a
        .data
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| u64::from(x.abs_diff(y)))
        .sum();
    Some(sum as f64 / a.data.len() as f64)
}

fn check_against_poppler(name: &str, pages: usize, tolerance: f64) {
    let doc = Document::open(fixture(&format!("{name}.pdf")), &Limits::default()).unwrap();
    assert_eq!(doc.page_count(), pages, "{name}");
    for i in 0..pages {
        let reference = png_rgb(&fixtures().join(format!("ref/{name}-{}.png", i + 1)));
        let ours = doc.render_at_dpi(i, DPI, &CancelToken::new()).unwrap();
        assert_eq!(
            (ours.width, ours.height),
            reference.dimensions(),
            "{name} page {}: pixel size differs from pdftoppm's",
            i + 1
        );
        let diff = mean_abs_diff(&ours, &reference).unwrap();
        eprintln!("{name} page {}: mean abs diff {diff:.3}", i + 1);
        assert!(
            diff < tolerance,
            "{name} page {}: mean abs diff {diff:.3} ≥ {tolerance}",
            i + 1
        );
        // The layout is poppler's: over 8×8-pixel blocks, where anti-aliasing averages out, the
        // render is much closer to poppler's than a blank page is. (Per pixel, small text at
        // 40 dpi is light gray in both renderers and a blank page is only ~1.5× further off.)
        let blank = RgbImage {
            data: vec![255; ours.data.len()],
            ..ours.clone()
        };
        let ours_blocks = block_diff(&ours, &reference, 8);
        let blank_blocks = block_diff(&blank, &reference, 8);
        eprintln!("  8×8 blocks: {ours_blocks:.3}, a blank page {blank_blocks:.3}");
        assert!(
            ours_blocks < 0.5 * blank_blocks,
            "{name} page {}: over 8×8 blocks the render ({ours_blocks:.3}) is not much closer \
             to poppler's than a blank page ({blank_blocks:.3})",
            i + 1
        );
    }
}

#[test]
fn text_document_matches_poppler() {
    check_against_poppler("text", 1, VECTOR_TOLERANCE);
}

#[test]
fn rotated_pages_match_poppler() {
    check_against_poppler("rotated", 4, VECTOR_TOLERANCE);
    let doc = Document::open(fixture("rotated.pdf"), &Limits::default()).unwrap();
    // A4 (ghostscript's default paper here); /Rotate 90 and 270 swap the displayed sides, 180
    // keeps them.
    let (a4w, a4h) = (595.0, 842.0);
    let sizes: Vec<(f64, f64)> = (0..4).map(|i| doc.page_size_pt(i).unwrap()).collect();
    assert_eq!(sizes, [(a4w, a4h), (a4h, a4w), (a4w, a4h), (a4h, a4w)]);
    // Page 3 (180°) is not page 1's layout: a render that ignored /Rotate would match page 1's
    // reference better than page 3's.
    let p3 = doc.render_at_dpi(2, DPI, &CancelToken::new()).unwrap();
    let ref1 = png_rgb(&fixtures().join("ref/rotated-1.png"));
    let ref3 = png_rgb(&fixtures().join("ref/rotated-3.png"));
    assert!(mean_abs_diff(&p3, &ref3).unwrap() < mean_abs_diff(&p3, &ref1).unwrap());
}

#[test]
fn scanned_pages_match_poppler() {
    check_against_poppler("scanned", 2, IMAGE_TOLERANCE);
}

#[test]
fn vector_graphics_and_tables_match_poppler() {
    check_against_poppler("vector", 1, VECTOR_TOLERANCE);
}

#[test]
fn libreoffice_export_matches_poppler() {
    check_against_poppler("libreoffice", 2, RULED_TOLERANCE);
    let doc = Document::open(fixture("libreoffice.pdf"), &Limits::default()).unwrap();
    for i in 0..2 {
        let reference = png_rgb(&fixtures().join(format!("ref/libreoffice-{}.png", i + 1)));
        let ours = doc.render_at_dpi(i, DPI, &CancelToken::new()).unwrap();
        let blocks = block_diff(&ours, &reference, 4);
        eprintln!("libreoffice page {}: 4×4 blocks {blocks:.3}", i + 1);
        assert!(
            blocks < VECTOR_TOLERANCE,
            "libreoffice page {}: over 4×4 blocks {blocks:.3} ≥ {VECTOR_TOLERANCE}",
            i + 1
        );
    }
    // LibreOffice's A4 (21.001 × 29.7 cm), then a landscape page style: the pages differ in
    // size, and neither is the page tree's /MediaBox (841.89 square, the largest page's sides).
    let (a4w, a4h) = (595.303_937, 841.889_764);
    for (i, want) in [(a4w, a4h), (a4h, a4w)].into_iter().enumerate() {
        let (w, h) = doc.page_size_pt(i).unwrap();
        assert!(
            (w - want.0).abs() < 1e-3 && (h - want.1).abs() < 1e-3,
            "page {}: {w} × {h} pt, not {} × {}",
            i + 1,
            want.0,
            want.1
        );
    }
}

#[test]
fn an_owner_password_only_file_renders_as_the_plain_one() {
    let plain = Document::open(fixture("text.pdf"), &Limits::default()).unwrap();
    let locked = Document::open(fixture("owner-only.pdf"), &Limits::default()).unwrap();
    let cancel = CancelToken::new();
    assert_eq!(
        locked.render_at_dpi(0, DPI, &cancel).unwrap(),
        plain.render_at_dpi(0, DPI, &cancel).unwrap()
    );
}

#[test]
fn render_at_the_longest_edge_keeps_the_page_shape() {
    let doc = Document::open(fixture("rotated.pdf"), &Limits::default()).unwrap();
    let cancel = CancelToken::new();
    let upright = doc.render(0, 512, &cancel).unwrap();
    assert_eq!((upright.width, upright.height), (362, 512));
    let landscape = doc.render(1, 512, &cancel).unwrap();
    assert_eq!((landscape.width, landscape.height), (512, 362));
    assert_eq!(upright.data.len(), 362 * 512 * 3);
    // Same page at two sizes: not blank, and the larger one is not the smaller one padded.
    assert!(upright.data.iter().any(|&v| v < 128));
    let small = doc.render(0, 256, &cancel).unwrap();
    assert_eq!((small.width, small.height), (181, 256));
}
