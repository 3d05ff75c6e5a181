//! Decoding an image file into the uint8 RGB array transformers' processor works on.
//!
//! transformers does `load_image` (`PIL.Image.open`, `ImageOps.exif_transpose`,
//! `convert("RGB")`) and then the processor's `convert_to_rgb` (which composites on white any
//! image that still carries transparency). For the formats Pillow reads that means:
//!
//! * alpha channels (RGBA, LA) are dropped, not composited: `load_image` converts to RGB first;
//! * 16-bit RGB(A) and gray+alpha keep the high byte; 16-bit gray opens as `I;16` and is
//!   clipped to 0..=255 (not scaled);
//! * a single transparent colour (a palette with one fully transparent entry, a GIF transparent
//!   index, a `tRNS` colour on gray/RGB PNGs) survives `convert("RGB")` as `info["transparency"]`,
//!   so `convert_to_rgb` turns every pixel of that exact colour white — including opaque pixels
//!   that merely share the colour, and with Pillow's own reading of the `tRNS` value (see
//!   `png_transparent_color`). A palette `tRNS` with partial alphas is dropped instead;
//! * the EXIF orientation is applied.
//!
//! PNG and GIF are decoded with the `png` / `gif` crates directly because those rules need the
//! palette and `tRNS` data that `image` hides; JPEG with libjpeg-turbo as Pillow drives it
//! ([`crate::jpeg`]); the other formats go through `image`.

use std::io::Cursor;
use std::path::Path;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, RgbImage};

use crate::error::{ImageError, Result};
use crate::limits::ImageLimits;
use crate::orientation::apply_orientation;

/// Reads and decodes an image file as transformers' `load_image` + `convert_to_rgb` would.
pub fn load_image_file(path: &Path, limits: &ImageLimits) -> Result<RgbImage> {
    let unreadable = |e: std::io::Error| ImageError::Unreadable {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if !meta.is_file() {
        return Err(ImageError::Unreadable {
            path: path.display().to_string(),
            reason: "not a regular file".into(),
        });
    }
    if meta.len() > limits.max_file_bytes {
        return Err(ImageError::FileTooLarge {
            path: path.display().to_string(),
            size: meta.len(),
            max: limits.max_file_bytes,
        });
    }
    let bytes = std::fs::read(path).map_err(unreadable)?;
    decode_image_bytes(&bytes, &path.display().to_string(), limits)
}

/// The size an image file has once opened as [`load_image_file`] opens it (EXIF orientation
/// applied, so a photo rotated by 90° reports its upright size), read from the file's headers
/// alone: no pixel is decoded. For counting tiles and tokens before an image is sent.
pub fn image_dimensions(path: &Path, limits: &ImageLimits) -> Result<(u32, u32)> {
    let name = path.display().to_string();
    let unreadable = |e: std::io::Error| ImageError::Unreadable {
        path: name.clone(),
        reason: e.to_string(),
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if !meta.is_file() {
        return Err(ImageError::Unreadable {
            path: name,
            reason: "not a regular file".into(),
        });
    }
    if meta.len() > limits.max_file_bytes {
        return Err(ImageError::FileTooLarge {
            path: name,
            size: meta.len(),
            max: limits.max_file_bytes,
        });
    }
    let mut reader = std::io::BufReader::new(std::fs::File::open(path).map_err(unreadable)?);
    let mut magic = [0u8; 16];
    let n = {
        use std::io::{Read, Seek};
        let n = reader.read(&mut magic).map_err(unreadable)?;
        reader.rewind().map_err(unreadable)?;
        n
    };
    let format = image::guess_format(&magic[..n])
        .map_err(|_| ImageError::UnknownFormat { name: name.clone() })?;
    if format == ImageFormat::Jpeg {
        // Pillow's EXIF and XMP come before the first scan, but finding that point takes a
        // marker walk: the whole file (already bounded above) is the simple way.
        let bytes = std::fs::read(path).map_err(unreadable)?;
        return crate::jpeg::dimensions(&bytes, &name, limits);
    }
    let (width, height, orientation) = match format {
        ImageFormat::Png => {
            let mut decoder = png::Decoder::new(reader);
            decoder.set_limits(png::Limits {
                bytes: usize::try_from(limits.max_alloc).unwrap_or(usize::MAX),
            });
            // Reads the chunks before the first IDAT: the size and any eXIf orientation.
            let png_reader = decoder
                .read_info()
                .map_err(|e| png_error(e, &name, limits))?;
            let info = png_reader.info();
            let orientation = info
                .exif_metadata
                .as_deref()
                .and_then(Orientation::from_exif_chunk);
            (info.width, info.height, orientation)
        }
        ImageFormat::Gif => {
            let decoder = gif::DecodeOptions::new()
                .read_info(reader)
                .map_err(|e| gif_error(e, &name))?;
            (
                u32::from(decoder.width()),
                u32::from(decoder.height()),
                None,
            )
        }
        _ => {
            let mut decoder = ImageReader::with_format(reader, format)
                .into_decoder()
                .map_err(|e| image_error(e, &name, limits, None))?;
            let (w, h) = decoder.dimensions();
            (w, h, decoder.orientation().ok())
        }
    };
    limits.check(&name, width, height, 1)?;
    Ok(match orientation {
        Some(
            Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH,
        ) => (height, width),
        _ => (width, height),
    })
}

/// Decodes an in-memory image (a clipboard paste); `name` is only used in error messages.
pub fn decode_image_bytes(bytes: &[u8], name: &str, limits: &ImageLimits) -> Result<RgbImage> {
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(ImageError::FileTooLarge {
            path: name.to_string(),
            size: bytes.len() as u64,
            max: limits.max_file_bytes,
        });
    }
    let format = image::guess_format(bytes).map_err(|_| ImageError::UnknownFormat {
        name: name.to_string(),
    })?;
    match format {
        ImageFormat::Png => decode_png(bytes, name, limits),
        ImageFormat::Gif => decode_gif(bytes, name, limits),
        ImageFormat::Jpeg => crate::jpeg::decode(bytes, name, limits),
        _ => decode_with_image(bytes, format, name, limits),
    }
}

/// A colour that `convert_to_rgb` turns white. Pillow's `convert_transparent` (`rgbT2a`)
/// compares every RGB pixel with the low bytes of `info["transparency"]`, so the colour is
/// always 8-bit here, whatever the raw `tRNS` values were.
type TransparentColor = [u8; 3];

fn whiten(img: &mut RgbImage, color: TransparentColor) {
    for px in img.pixels_mut() {
        if px.0 == color {
            px.0 = [255; 3];
        }
    }
}

fn decode_png(bytes: &[u8], name: &str, limits: &ImageLimits) -> Result<RgbImage> {
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    decoder.set_limits(png::Limits {
        bytes: usize::try_from(limits.max_alloc).unwrap_or(usize::MAX),
    });
    // Palette to RGB(A), low bit depths to 8 bits, tRNS to alpha; 16 bits are kept so the
    // Pillow reductions below can be applied.
    decoder.set_transformations(png::Transformations::EXPAND);
    // Refuse a decompression bomb from the IHDR alone, before any buffer is sized for it.
    let header = decoder
        .read_header_info()
        .map_err(|e| png_error(e, name, limits))?;
    let (width, height) = (header.width, header.height);
    limits.check(name, width, height, 8)?;
    let mut reader = decoder
        .read_info()
        .map_err(|e| png_error(e, name, limits))?;
    let info = reader.info();
    let (color_type, bit_depth) = (info.color_type, info.bit_depth);
    let transparent = png_transparent_color(info, raw_png_trns(bytes));
    let orientation = info
        .exif_metadata
        .as_deref()
        .and_then(Orientation::from_exif_chunk);

    let size = reader
        .output_buffer_size()
        .ok_or_else(|| limits.too_large(name, width, height))?;
    let mut buf = vec![0u8; size];
    let frame = reader
        .next_frame(&mut buf)
        .map_err(|e| png_error(e, name, limits))?;
    let (out_type, out_depth) = reader.output_color_type();
    let channels = out_type.samples();
    let sample_bytes = if out_depth == png::BitDepth::Sixteen {
        2
    } else {
        1
    };
    let line = frame.line_size;

    let gray16 = color_type == png::ColorType::Grayscale && bit_depth == png::BitDepth::Sixteen;
    let mut rgb = Vec::with_capacity(width as usize * height as usize * 3);
    for row in buf.chunks(line).take(height as usize) {
        for px in row
            .chunks_exact(channels * sample_bytes)
            .take(width as usize)
        {
            // Big-endian samples: the first byte is the high byte Pillow keeps.
            let sample = |c: usize| -> u8 {
                if sample_bytes == 1 {
                    px[c]
                } else if gray16 {
                    // `I;16` -> RGB clips instead of scaling.
                    u16::from_be_bytes([px[2 * c], px[2 * c + 1]]).min(255) as u8
                } else {
                    px[2 * c]
                }
            };
            if channels >= 3 {
                rgb.extend_from_slice(&[sample(0), sample(1), sample(2)]);
            } else {
                let v = sample(0);
                rgb.extend_from_slice(&[v, v, v]);
            }
        }
    }
    let mut img = RgbImage::from_raw(width, height, rgb).ok_or_else(|| ImageError::Truncated {
        name: name.to_string(),
    })?;
    if let Some(color) = transparent {
        whiten(&mut img, color);
    }
    Ok(apply_orientation(img, orientation))
}

/// The `tRNS` chunk as stored before the first `IDAT` (the `png` crate keeps only the low byte
/// of each 16-bit sample of an 8-bit image, and Pillow uses all of it).
fn raw_png_trns(bytes: &[u8]) -> Option<&[u8]> {
    let mut pos: usize = 8;
    loop {
        let len = u32::from_be_bytes(bytes.get(pos..pos.checked_add(4)?)?.try_into().ok()?);
        let data_start = pos.checked_add(8)?;
        let kind = bytes.get(pos + 4..data_start)?;
        if kind == b"IDAT" {
            return None;
        }
        let data_end = data_start.checked_add(usize::try_from(len).ok()?)?;
        if kind == b"tRNS" {
            return bytes.get(data_start..data_end);
        }
        pos = data_end.checked_add(4)?;
    }
}

/// The colour `convert_to_rgb` whitens for a PNG, as Pillow 13 gets there: `PngImagePlugin`
/// records `info["transparency"]`, `load_image`'s `convert("RGB")` carries it over, and
/// `convert_to_rgb`'s `convert("RGBA")` (`rgbT2a`) matches pixels against its low bytes.
///
/// * palette: only "all opaque but one fully transparent entry" becomes an index, whose
///   palette colour is matched; other alpha tables are dropped by `convert("RGB")`;
/// * 1-bit gray (`"1"`): the value becomes 0 or 255, stays an int through `convert("RGB")`,
///   and an int on an RGB image matches `(t, 0, 0)`: black pixels turn white iff `tRNS` is 0;
/// * 2/4/8-bit gray (`"L"`): the raw 16-bit value goes through `putpixel` on an `L` image,
///   which clamps it to 255, and is compared with the *scaled* pixels (`L;2`/`L;4`);
/// * 16-bit gray (`I;16`): the int survives `convert("RGB")` and matches `(t & 0xff, 0, 0)`;
/// * RGB (8 and 16 bits): the 16-bit values' low bytes are compared with the 8-bit pixels
///   (the high bytes of 16-bit samples).
fn png_transparent_color(info: &png::Info, raw_trns: Option<&[u8]>) -> Option<TransparentColor> {
    let be16 = |i: usize| -> Option<u16> {
        let t = raw_trns?;
        Some(u16::from_be_bytes([*t.get(i)?, *t.get(i + 1)?]))
    };
    let low = |v: u16| (v & 0xff) as u8;
    match info.color_type {
        png::ColorType::Indexed => {
            let trns = info.trns.as_deref()?;
            let zero = trns.iter().position(|&a| a == 0)?;
            let simple = trns.iter().enumerate().all(|(i, &a)| a == 255 || i == zero);
            if !simple {
                return None;
            }
            let palette = info.palette.as_deref()?;
            let c = palette.get(zero * 3..zero * 3 + 3)?;
            Some([c[0], c[1], c[2]])
        }
        png::ColorType::Grayscale => {
            let t = be16(0)?;
            Some(match info.bit_depth {
                png::BitDepth::One => [if t == 0 { 0 } else { 255 }, 0, 0],
                png::BitDepth::Sixteen => [low(t), 0, 0],
                _ => [t.min(255) as u8; 3],
            })
        }
        png::ColorType::Rgb => Some([low(be16(0)?), low(be16(2)?), low(be16(4)?)]),
        _ => None,
    }
}

fn png_error(e: png::DecodingError, name: &str, limits: &ImageLimits) -> ImageError {
    match e {
        png::DecodingError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            ImageError::Truncated {
                name: name.to_string(),
            }
        }
        png::DecodingError::LimitsExceeded => ImageError::TooLarge {
            name: name.to_string(),
            width: 0,
            height: 0,
            max_side: limits.max_side,
            max_alloc: limits.max_alloc,
        },
        other => ImageError::Corrupt {
            name: name.to_string(),
            reason: other.to_string(),
        },
    }
}

/// First GIF frame as Pillow opens it: palette colours, the transparent index's colour turned
/// white by `convert_to_rgb`, and the canvas outside a smaller first frame filled with the
/// transparent index (white) or, without one, the background colour.
fn decode_gif(bytes: &[u8], name: &str, limits: &ImageLimits) -> Result<RgbImage> {
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::Indexed);
    if let Some(n) = std::num::NonZeroU64::new(limits.max_alloc) {
        options.set_memory_limit(gif::MemoryLimit::Bytes(n));
    }
    let mut decoder = options
        .read_info(Cursor::new(bytes))
        .map_err(|e| gif_error(e, name))?;
    let (width, height) = (u32::from(decoder.width()), u32::from(decoder.height()));
    limits.check(name, width, height, 4)?;
    let global = decoder.global_palette().map(<[u8]>::to_vec);
    let background = decoder.bg_color();
    let frame = decoder
        .read_next_frame()
        .map_err(|e| gif_error(e, name))?
        .ok_or_else(|| ImageError::Corrupt {
            name: name.to_string(),
            reason: "GIF has no frames".into(),
        })?;
    let palette = frame
        .palette
        .as_deref()
        .or(global.as_deref())
        .unwrap_or(&[]);
    let color = |index: usize| -> [u8; 3] {
        match palette.get(index * 3..index * 3 + 3) {
            Some(c) => [c[0], c[1], c[2]],
            None => [0; 3],
        }
    };
    let fill = match frame.transparent {
        Some(t) => color(t as usize),
        None => color(background.unwrap_or(0)),
    };
    let mut img = RgbImage::from_pixel(width, height, image::Rgb(fill));
    let (fw, fh) = (u32::from(frame.width), u32::from(frame.height));
    for (i, &index) in frame.buffer.iter().enumerate().take((fw * fh) as usize) {
        let (x, y) = (
            u32::from(frame.left) + i as u32 % fw,
            u32::from(frame.top) + i as u32 / fw,
        );
        if x < width && y < height {
            img.put_pixel(x, y, image::Rgb(color(index as usize)));
        }
    }
    if let Some(t) = frame.transparent {
        whiten(&mut img, color(t as usize));
    }
    Ok(img)
}

fn gif_error(e: gif::DecodingError, name: &str) -> ImageError {
    match e {
        gif::DecodingError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            ImageError::Truncated {
                name: name.to_string(),
            }
        }
        other => ImageError::Corrupt {
            name: name.to_string(),
            reason: other.to_string(),
        },
    }
}

/// WebP, BMP, TIFF and the rest through `image`.
fn decode_with_image(
    bytes: &[u8],
    format: ImageFormat,
    name: &str,
    limits: &ImageLimits,
) -> Result<RgbImage> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(limits.max_side);
    image_limits.max_image_height = Some(limits.max_side);
    image_limits.max_alloc = Some(limits.max_alloc);
    reader.limits(image_limits);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| image_error(e, name, limits, None))?;
    let (width, height) = decoder.dimensions();
    limits.check(
        name,
        width,
        height,
        decoder.color_type().bytes_per_pixel().into(),
    )?;
    let orientation = decoder.orientation().ok();
    let img = DynamicImage::from_decoder(decoder)
        .map_err(|e| image_error(e, name, limits, Some((width, height))))?;
    Ok(apply_orientation(to_rgb_like_pillow(img), orientation))
}

/// `convert("RGB")` as Pillow does it for the modes its plugins produce.
fn to_rgb_like_pillow(img: DynamicImage) -> RgbImage {
    let (w, h) = (img.width(), img.height());
    let from_fn =
        |f: &dyn Fn(u32, u32) -> [u8; 3]| RgbImage::from_fn(w, h, |x, y| image::Rgb(f(x, y)));
    match img {
        DynamicImage::ImageRgb8(i) => i,
        DynamicImage::ImageRgba8(i) => from_fn(&|x, y| {
            let p = i.get_pixel(x, y).0;
            [p[0], p[1], p[2]]
        }),
        DynamicImage::ImageLuma8(i) => from_fn(&|x, y| [i.get_pixel(x, y).0[0]; 3]),
        DynamicImage::ImageLumaA8(i) => from_fn(&|x, y| [i.get_pixel(x, y).0[0]; 3]),
        DynamicImage::ImageLuma16(i) => from_fn(&|x, y| [i.get_pixel(x, y).0[0].min(255) as u8; 3]),
        DynamicImage::ImageLumaA16(i) => from_fn(&|x, y| [(i.get_pixel(x, y).0[0] >> 8) as u8; 3]),
        DynamicImage::ImageRgb16(i) => from_fn(&|x, y| {
            let p = i.get_pixel(x, y).0;
            [(p[0] >> 8) as u8, (p[1] >> 8) as u8, (p[2] >> 8) as u8]
        }),
        DynamicImage::ImageRgba16(i) => from_fn(&|x, y| {
            let p = i.get_pixel(x, y).0;
            [(p[0] >> 8) as u8, (p[1] >> 8) as u8, (p[2] >> 8) as u8]
        }),
        other => other.to_rgb8(),
    }
}

fn image_error(
    e: image::ImageError,
    name: &str,
    limits: &ImageLimits,
    size: Option<(u32, u32)>,
) -> ImageError {
    let (width, height) = size.unwrap_or((0, 0));
    match e {
        image::ImageError::Limits(_) => limits.too_large(name, width, height),
        image::ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            ImageError::Truncated {
                name: name.to_string(),
            }
        }
        image::ImageError::Unsupported(u) => ImageError::Unsupported {
            name: name.to_string(),
            reason: u.to_string(),
        },
        other => {
            let reason = other.to_string();
            if is_eof_message(&reason) {
                ImageError::Truncated {
                    name: name.to_string(),
                }
            } else {
                ImageError::Corrupt {
                    name: name.to_string(),
                    reason,
                }
            }
        }
    }
}

/// Decoders report running out of data as a format error with a message, not an io error.
fn is_eof_message(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    [
        "eof",
        "end of file",
        "unexpected end",
        "truncated",
        "no more bytes",
        "not enough data",
        "not enough bytes",
    ]
    .iter()
    .any(|m| r.contains(m))
}
