//! `image_dimensions` (headers only) agrees with the size `load_image_file` decodes, EXIF
//! orientation included, and refuses what `load_image_file` refuses.

use std::path::{Path, PathBuf};

use smolvlm_image::{ImageLimits, image_dimensions, load_image_file};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/tiny-smolvlm")
        .join(name)
}

fn encode(img: &image::RgbImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// A JPEG with an EXIF APP1 segment saying "rotate 90° clockwise" (orientation 6).
fn rotated_jpeg(img: &image::RgbImage) -> Vec<u8> {
    let jpeg = encode(img, image::ImageFormat::Jpeg);
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one IFD entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes()); // count
    tiff.extend_from_slice(&[0, 6, 0, 0]); // value 6, padded
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec(); // SOI
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn header_sizes_match_decoded_sizes() {
    let limits = ImageLimits::default();
    let dir = tempfile::tempdir().unwrap();
    let img = image::RgbImage::from_fn(60, 25, |x, y| image::Rgb([x as u8 * 4, y as u8 * 9, 77]));
    let mut files: Vec<PathBuf> = [
        "img_wide_300x200.png",
        "img_tall_96x300.png",
        "img_long_500x120.png",
    ]
    .iter()
    .map(|n| fixture(n))
    .collect();
    for (ext, format) in [
        ("jpg", image::ImageFormat::Jpeg),
        ("gif", image::ImageFormat::Gif),
        ("bmp", image::ImageFormat::Bmp),
        ("tiff", image::ImageFormat::Tiff),
        ("webp", image::ImageFormat::WebP),
    ] {
        let path = dir.path().join(format!("img.{ext}"));
        std::fs::write(&path, encode(&img, format)).unwrap();
        files.push(path);
    }
    let rotated = dir.path().join("rotated.jpg");
    std::fs::write(&rotated, rotated_jpeg(&img)).unwrap();
    files.push(rotated.clone());
    for path in &files {
        let decoded = load_image_file(path, &limits).unwrap();
        assert_eq!(
            image_dimensions(path, &limits).unwrap(),
            decoded.dimensions(),
            "{}",
            path.display()
        );
    }
    assert_eq!(image_dimensions(&rotated, &limits).unwrap(), (25, 60));
}

#[test]
fn bad_files_are_refused() {
    let limits = ImageLimits::default();
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.png");
    std::fs::write(&text, "not an image").unwrap();
    assert_eq!(
        image_dimensions(&text, &limits).unwrap_err().code(),
        "image_unknown_format"
    );
    assert_eq!(
        image_dimensions(&dir.path().join("missing.png"), &limits)
            .unwrap_err()
            .code(),
        "image_unreadable"
    );
    assert_eq!(
        image_dimensions(dir.path(), &limits).unwrap_err().code(),
        "image_unreadable"
    );
    let small = ImageLimits {
        max_side: 100,
        ..limits
    };
    assert_eq!(
        image_dimensions(&fixture("img_wide_300x200.png"), &small)
            .unwrap_err()
            .code(),
        "image_too_large"
    );
}
