//! Every JPEG of tests/fixtures/jpeg/ (Pillow's and libjpeg-turbo's test images and our
//! generated kinds), and cut and corrupted copies of some, decoded bit for bit as transformers'
//! `load_image` gets them from Pillow 13 — or refused where Pillow raises, with the matching
//! error. Goldens: scripts/fixtures/jpeg/make_goldens.py.

use std::path::PathBuf;

use serde_json::Value;
use sha2::{Digest, Sha256};
use smolvlm_image::{ImageLimits, decode_image_bytes, image_dimensions, load_image_file};

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/jpeg")
}

fn goldens() -> Value {
    let text = std::fs::read_to_string(corpus().join("goldens.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The error codes that stand for what Pillow raised.
fn expected_codes(error: &str, message: &str) -> &'static [&'static str] {
    match error {
        "OSError" if message.starts_with("image file is truncated") => &["image_truncated"],
        "OSError" if message == "Truncated File Read" => &["image_truncated"],
        "OSError" if message.starts_with("broken data stream") => &["image_corrupt"],
        // Also a segment length cut off by the end of the file (a `struct.error`).
        "UnidentifiedImageError" => &[
            "image_truncated",
            "image_corrupt",
            "image_unsupported",
            "image_unknown_format",
            "image_zero_sized",
        ],
        "SyntaxError" => &["image_corrupt"],
        "DecompressionBombError" => &["image_too_large"],
        _ => &[],
    }
}

/// Compares one decode with its golden; returns a failure line, if any.
fn check(what: &str, bytes: &[u8], golden: &Value) -> Option<String> {
    let got = decode_image_bytes(bytes, what, &ImageLimits::default());
    match (golden.get("error"), got) {
        (None, Ok(img)) => {
            let size = [u64::from(img.width()), u64::from(img.height())];
            let want_size: Vec<u64> = golden["size"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect();
            let sha = hex::encode(Sha256::digest(img.as_raw()));
            if size[..] != want_size[..] {
                Some(format!("{what}: size {size:?}, Pillow {want_size:?}"))
            } else if sha != golden["sha256"].as_str().unwrap() {
                Some(format!("{what}: pixels differ from Pillow's"))
            } else {
                None
            }
        }
        (None, Err(e)) => Some(format!("{what}: error {e}, Pillow decodes it")),
        (Some(error), Ok(_)) => Some(format!(
            "{what}: decoded, Pillow raises {error}: {}",
            golden["message"]
        )),
        (Some(error), Err(e)) => {
            let (error, message) = (error.as_str().unwrap(), golden["message"].as_str().unwrap());
            let codes = expected_codes(error, message);
            (!codes.contains(&e.code())).then(|| {
                format!(
                    "{what}: {} ({e}), Pillow {error}: {message}, expected {codes:?}",
                    e.code()
                )
            })
        }
    }
}

#[test]
fn corpus_matches_pillow() {
    let g = goldens();
    assert_eq!(g["pillow"], "13.0.0");
    let files = g["files"].as_array().unwrap();
    assert!(files.len() >= 90, "corpus has {} files", files.len());
    let mut failures = Vec::new();
    for case in files {
        let name = case["file"].as_str().unwrap();
        let bytes = std::fs::read(corpus().join(name)).unwrap();
        failures.extend(check(name, &bytes, case));
    }
    assert!(
        failures.is_empty(),
        "{} differ: {failures:#?}",
        failures.len()
    );
}

#[test]
fn cut_and_corrupted_copies_match_pillow() {
    let g = goldens();
    let mut failures = Vec::new();
    let variants = g["variants"].as_array().unwrap();
    assert!(variants.len() >= 100);
    for case in variants {
        let name = case["file"].as_str().unwrap();
        let mut bytes = std::fs::read(corpus().join(name)).unwrap();
        let what = if let Some(cut) = case.get("cut") {
            let cut = cut.as_u64().unwrap() as usize;
            bytes.truncate(cut);
            format!("{name} cut at {cut}")
        } else {
            for pair in case["xor"].as_array().unwrap() {
                let (pos, val) = (pair[0].as_u64().unwrap(), pair[1].as_u64().unwrap());
                bytes[pos as usize] ^= val as u8;
            }
            format!("{name} xor {}", case["xor"])
        };
        failures.extend(check(&what, &bytes, case));
    }
    assert!(
        failures.is_empty(),
        "{} differ: {failures:#?}",
        failures.len()
    );
}

/// The corpus covers what the decoder must handle: if a kind goes missing from the goldens,
/// the test above no longer proves it.
#[test]
fn corpus_covers_the_jpeg_kinds() {
    let g = goldens();
    let ok = |name: &str| {
        g["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["file"] == name && f.get("sha256").is_some())
    };
    for name in [
        "generated/baseline_422.jpg",
        "generated/baseline_411.jpg",
        "generated/cjpeg_440.jpg",
        "generated/cjpeg_odd_3x1.jpg",
        "generated/progressive_gray.jpg",
        "generated/cmyk_adobe.jpg",
        "generated/ycck_adobe.jpg",
        "generated/arith.jpg",
        "generated/arith_progressive.jpg",
        "generated/restart_blocks.jpg",
        "generated/qtables_16bit.jpg",
        "generated/xmp_5.jpg",
        "pillow/hopper_orientation_5.jpg",
        "pillow/pil_sample_cmyk.jpg",
        "pillow/sugarshack.mpo",
        "libjpeg-turbo/testimgari.jpg",
    ] {
        assert!(ok(name), "{name} is not a decoded golden");
    }
}

/// `image_dimensions` reports the size `load_image_file` gives, orientation included.
#[test]
fn dimensions_agree_with_decoding() {
    let g = goldens();
    for case in g["files"].as_array().unwrap() {
        if case.get("sha256").is_none() {
            continue;
        }
        let path = corpus().join(case["file"].as_str().unwrap());
        let img = load_image_file(&path, &ImageLimits::default()).unwrap();
        let dims = image_dimensions(&path, &ImageLimits::default()).unwrap();
        assert_eq!(dims, img.dimensions(), "{}", path.display());
    }
}
