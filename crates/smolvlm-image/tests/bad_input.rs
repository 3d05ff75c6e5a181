//! Bad input never panics and is refused with the right typed error, through both
//! `load_image_file` and `decode_image_bytes`; a deterministic mutation fuzz over the small
//! format fixtures returns `Ok` or `Err`, never panics.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use image::RgbImage;
use smolvlm_image::{
    ImageError, ImageLimits, ImageProcessor, MAX_FILE_BYTES, MAX_IMAGE_SIDE, ProcessorConfig,
    decode_image_bytes, load_image_file,
};

fn formats_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/processor/formats")
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(formats_dir().join(name)).unwrap()
}

/// Writes `bytes` to a temporary file and decodes it both from the file and from memory; both
/// must give the same error code, which is returned with the file error.
fn both(bytes: &[u8], ext: &str) -> (&'static str, ImageError) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("input.{ext}"));
    std::fs::write(&path, bytes).unwrap();
    let limits = ImageLimits::default();
    let Err(from_file) = load_image_file(&path, &limits) else {
        panic!("the file decoded");
    };
    let Err(from_bytes) = decode_image_bytes(bytes, "pasted", &limits) else {
        panic!("the bytes decoded");
    };
    assert_eq!(
        from_file.code(),
        from_bytes.code(),
        "{from_file} / {from_bytes}"
    );
    (from_file.code(), from_file)
}

/// CRC-32 (ISO-HDLC) for hand-made PNG chunks.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crced = kind.to_vec();
    crced.extend_from_slice(data);
    out.extend_from_slice(&crc32(&crced).to_be_bytes());
    out
}

/// A PNG signature and IHDR claiming `width × height` 8-bit RGB, then an empty IDAT and IEND:
/// only the header is meaningful.
fn png_header_only(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &ihdr));
    png.extend(chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ));
    png.extend(chunk(b"IEND", &[]));
    png
}

/// A GIF89a with a `width × height` logical screen and a frame of the same size whose data
/// holds a single pixel (complete for 1×1; sizes are refused before the data is read).
fn gif_with_size(width: u16, height: u16) -> Vec<u8> {
    let mut gif = b"GIF89a".to_vec();
    gif.extend_from_slice(&width.to_le_bytes());
    gif.extend_from_slice(&height.to_le_bytes());
    // Global colour table of 2 entries.
    gif.extend_from_slice(&[0x80, 0, 0]);
    gif.extend_from_slice(&[0, 0, 0, 255, 255, 255]);
    gif.push(0x2C);
    gif.extend_from_slice(&[0, 0, 0, 0]);
    gif.extend_from_slice(&width.to_le_bytes());
    gif.extend_from_slice(&height.to_le_bytes());
    gif.push(0);
    // LZW minimum code size 2; 3-bit codes clear (4), index 0, end (5), LSB first; terminator.
    gif.extend_from_slice(&[2, 2, 0x44, 0x01, 0]);
    gif.push(0x3B);
    gif
}

#[test]
fn truncated_png() {
    let png = fixture("rgb16.png");
    let (code, e) = both(&png[..png.len() / 2], "png");
    assert_eq!(code, "image_truncated", "{e}");
    // Cut inside the IHDR too.
    let (code, e) = both(&png[..20], "png");
    assert_eq!(code, "image_truncated", "{e}");
}

#[test]
fn truncated_jpeg() {
    let jpg = fixture("baseline420.jpg");
    // Pillow: "image file is truncated" for every cut.
    for cut in [jpg.len() - 2, jpg.len() - 50, jpg.len() / 2, 200, 4] {
        let (code, e) = both(&jpg[..cut], "jpg");
        assert_eq!(code, "image_truncated", "cut at {cut}: {e}");
    }
}

#[test]
fn random_bytes_are_unknown_format() {
    let mut state = 12345u64;
    let bytes: Vec<u8> = (0..4096).map(|_| (lcg(&mut state) >> 24) as u8).collect();
    let (code, e) = both(&bytes, "png");
    assert_eq!(code, "image_unknown_format", "{e}");
}

#[test]
fn empty_file_is_unknown_format() {
    let (code, e) = both(&[], "png");
    assert_eq!(code, "image_unknown_format", "{e}");
}

#[test]
fn directory_and_missing_file_are_unreadable() {
    let dir = tempfile::tempdir().unwrap();
    let e = load_image_file(dir.path(), &ImageLimits::default()).unwrap_err();
    assert_eq!(e.code(), "image_unreadable", "{e}");
    let e = load_image_file(&dir.path().join("nope.png"), &ImageLimits::default()).unwrap_err();
    assert_eq!(e.code(), "image_unreadable", "{e}");
    assert!(e.to_string().contains("nope.png"), "{e}");
}

#[test]
fn decompression_bomb_is_refused_from_the_header() {
    let png = png_header_only(100_000, 100_000);
    let (code, e) = both(&png, "png");
    assert_eq!(code, "image_too_large", "{e}");
    match &e {
        ImageError::TooLarge {
            width,
            height,
            max_side,
            ..
        } => {
            assert_eq!((*width, *height), (100_000, 100_000));
            assert_eq!(*max_side, MAX_IMAGE_SIDE);
        }
        other => panic!("{other:?}"),
    }
    let msg = e.to_string();
    assert!(msg.contains("100000x100000"), "{msg}");
    assert!(msg.contains(&MAX_IMAGE_SIDE.to_string()), "{msg}");
    // Within the side limit but over the decoded-bytes limit.
    let small = ImageLimits {
        max_alloc: 1 << 20,
        ..ImageLimits::default()
    };
    let e = decode_image_bytes(&png_header_only(1000, 1000), "p", &small).unwrap_err();
    assert_eq!(e.code(), "image_too_large", "{e}");
    assert!(e.to_string().contains("1048576 bytes"), "{e}");
    // The same for a GIF's logical screen.
    let e = decode_image_bytes(&gif_with_size(60_000, 60_000), "g", &ImageLimits::default())
        .unwrap_err();
    assert_eq!(e.code(), "image_too_large", "{e}");
}

#[test]
fn zero_sized_images_are_refused() {
    // The png crate rejects a zero IHDR dimension itself (a corrupt header, as for Pillow).
    for (w, h) in [(0, 10), (10, 0), (0, 0)] {
        let (code, e) = both(&png_header_only(w, h), "png");
        assert!(
            code == "image_zero_sized" || code == "image_corrupt",
            "{w}x{h}: {code} {e}"
        );
    }
    // A GIF can declare an empty logical screen; it is refused before its frame is read.
    for (w, h) in [(0, 10), (10, 0), (0, 0)] {
        let (code, e) = both(&gif_with_size(w, h), "gif");
        assert_eq!(code, "image_zero_sized", "{w}x{h}: {e}");
    }
    // And the processor refuses an empty image handed to it directly.
    let p = ImageProcessor::new(ProcessorConfig::default());
    for (w, h) in [(0, 10), (10, 0), (0, 0)] {
        let e = p.process(&RgbImage::new(w, h)).unwrap_err();
        assert_eq!(e.code(), "image_zero_sized", "{w}x{h}: {e}");
    }
}

#[test]
fn gif_fixture_sanity() {
    // The hand-made GIF builder produces a decodable image when the size is sane.
    let img = decode_image_bytes(&gif_with_size(1, 1), "g", &ImageLimits::default()).unwrap();
    assert_eq!(img.dimensions(), (1, 1));
    assert_eq!(img.get_pixel(0, 0).0, [0, 0, 0]);
}

#[test]
fn file_above_the_size_limit_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.png");
    let f = std::fs::File::create(&path).unwrap();
    // Sparse: no 256 MiB are written.
    f.set_len(MAX_FILE_BYTES + 1).unwrap();
    drop(f);
    let e = load_image_file(&path, &ImageLimits::default()).unwrap_err();
    assert_eq!(e.code(), "image_file_too_large", "{e}");
    assert!(e.to_string().contains(&MAX_FILE_BYTES.to_string()), "{e}");
    // In memory, with a small limit rather than a 256 MiB buffer.
    let small = ImageLimits {
        max_file_bytes: 100,
        ..ImageLimits::default()
    };
    let png = fixture("l.png");
    let e = decode_image_bytes(&png, "pasted", &small).unwrap_err();
    assert_eq!(e.code(), "image_file_too_large", "{e}");
    // Exactly at the limit is fine.
    let at = ImageLimits {
        max_file_bytes: png.len() as u64,
        ..ImageLimits::default()
    };
    decode_image_bytes(&png, "pasted", &at).unwrap();
}

#[test]
fn jpeg_with_garbage_after_soi() {
    let mut state = 777u64;
    let garbage: Vec<u8> = (0..4096).map(|_| (lcg(&mut state) >> 24) as u8).collect();
    // SOI then garbage: not recognisable as a JPEG (Pillow: "cannot identify image file").
    let mut jpg = vec![0xFF, 0xD8];
    jpg.extend(&garbage);
    let (code, e) = both(&jpg, "jpg");
    assert_eq!(code, "image_unknown_format", "{e}");
    // SOI and an APP0 marker, then garbage: a JPEG that cannot be decoded.
    let mut jpg = vec![0xFF, 0xD8, 0xFF, 0xE0];
    jpg.extend(&garbage);
    let (code, e) = both(&jpg, "jpg");
    assert!(
        code == "image_corrupt" || code == "image_truncated",
        "{code}: {e}"
    );
    // A real JPEG whose scan data is overwritten with garbage after the headers.
    let mut jpg = fixture("baseline420.jpg");
    let sos = jpg.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    let n = jpg.len();
    jpg[sos + 20..n - 2].copy_from_slice(&garbage[..n - 22 - sos]);
    let r = decode_image_bytes(&jpg, "scrambled", &ImageLimits::default());
    if let Err(e) = r {
        assert!(
            matches!(e.code(), "image_corrupt" | "image_truncated"),
            "{e}"
        );
    }
}

#[test]
fn jpeg_without_eoi_is_truncated_like_pillow() {
    let jpg = fixture("progressive.jpg");
    assert_eq!(&jpg[jpg.len() - 2..], [0xFF, 0xD9]);
    let (code, e) = both(&jpg[..jpg.len() - 2], "jpg");
    assert_eq!(code, "image_truncated", "{e}");
    // Bytes after the EOI are ignored, as Pillow does.
    let mut padded = jpg.clone();
    padded.extend_from_slice(b"trailing garbage");
    decode_image_bytes(&padded, "padded", &ImageLimits::default()).unwrap();
    // An EXIF thumbnail's EOI inside APP1 does not count as the image's.
    let mut fake = jpg[..2].to_vec();
    let app1 = [0xFF, 0xE1, 0x00, 0x06, 0xFF, 0xD8, 0xFF, 0xD9];
    fake.extend_from_slice(&app1);
    fake.extend_from_slice(&jpg[2..jpg.len() - 2]);
    let (code, e) = both(&fake, "jpg");
    assert_eq!(code, "image_truncated", "{e}");
}

fn lcg(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *state >> 16
}

/// One deterministic mutation of `orig`: byte flips, overwrites, truncation, or a mix.
fn mutate(orig: &[u8], state: &mut u64) -> Vec<u8> {
    let mut m = orig.to_vec();
    match lcg(state) % 4 {
        0 => {
            let n = 1 + lcg(state) % 8;
            for _ in 0..n {
                let i = (lcg(state) % m.len() as u64) as usize;
                m[i] ^= 1 << (lcg(state) % 8);
            }
        }
        1 => {
            let n = 1 + lcg(state) % 4;
            for _ in 0..n {
                let i = (lcg(state) % m.len() as u64) as usize;
                m[i] = lcg(state) as u8;
            }
        }
        2 => {
            let keep = (lcg(state) % m.len() as u64) as usize;
            m.truncate(keep);
        }
        _ => {
            let i = (lcg(state) % m.len() as u64) as usize;
            m[i] = lcg(state) as u8;
            let keep = i + (lcg(state) % (m.len() - i) as u64) as usize + 1;
            m.truncate(keep);
        }
    }
    m
}

/// Rewrites the CRC of every whole PNG chunk, so that mutations reach the decoder proper rather
/// than stopping at the checksum.
fn fix_png_crcs(m: &mut [u8]) {
    let mut pos = 8;
    while pos + 12 <= m.len() {
        let len = u32::from_be_bytes([m[pos], m[pos + 1], m[pos + 2], m[pos + 3]]) as usize;
        let Some(end) = (pos + 8).checked_add(len).filter(|&e| e + 4 <= m.len()) else {
            return;
        };
        let crc = crc32(&m[pos + 4..end]);
        m[end..end + 4].copy_from_slice(&crc.to_be_bytes());
        pos = end + 4;
    }
}

const FUZZ_FILES: &[&str] = &[
    "rgb_trns.png",
    "p_trns_index.png",
    "gray4.png",
    "rgba16.png",
    "baseline420.jpg",
    "progressive.jpg",
    "exif6.jpg",
    "trns.gif",
    "lossless.webp",
    "lossy.webp",
];
const MUTATIONS: u64 = 2000;

#[test]
fn mutated_fixtures_never_panic() {
    // Small limits: a mutated header may claim a large image, which should be refused cheaply.
    let limits = ImageLimits {
        max_side: 4096,
        max_alloc: 32 << 20,
        max_file_bytes: 1 << 20,
    };
    let start = Instant::now();
    let results: Vec<(String, usize, usize, Vec<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = FUZZ_FILES
            .iter()
            .enumerate()
            .map(|(fi, &name)| {
                s.spawn(move || {
                    let orig = fixture(name);
                    let mut state = 0x5EED_0000 + fi as u64;
                    let (mut ok, mut err, mut panics) = (0, 0, Vec::new());
                    for i in 0..MUTATIONS {
                        let mut m = mutate(&orig, &mut state);
                        if name.ends_with(".png") && i % 2 == 0 {
                            fix_png_crcs(&mut m);
                        }
                        let r = std::panic::catch_unwind(|| decode_image_bytes(&m, name, &limits));
                        match r {
                            Ok(Ok(img)) => {
                                assert!(img.width() > 0 && img.height() > 0);
                                ok += 1;
                            }
                            Ok(Err(_)) => err += 1,
                            Err(_) => panics.push(format!("{name} mutation {i}")),
                        }
                    }
                    (name.to_string(), ok, err, panics)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let elapsed = start.elapsed();
    let mut panics = Vec::new();
    for (name, ok, err, p) in &results {
        eprintln!("{name}: {ok} ok, {err} err, {} panics", p.len());
        panics.extend(p.iter().cloned());
    }
    eprintln!(
        "{} mutations in {elapsed:?}",
        MUTATIONS * FUZZ_FILES.len() as u64
    );
    assert!(panics.is_empty(), "decoders panicked: {panics:#?}");
    assert!(elapsed < Duration::from_secs(30), "fuzz took {elapsed:?}");
}

#[test]
fn fixture_paths_exist() {
    for name in FUZZ_FILES {
        assert!(Path::new(&formats_dir().join(name)).is_file(), "{name}");
    }
}
