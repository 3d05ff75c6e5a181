//! JPEG files decoded to the RGB bytes transformers' `load_image` gets from Pillow 13:
//! `Image.open` (Pillow's marker parser, [`header`]), libjpeg-turbo's decoder driven as
//! Pillow drives it ([`ffi`], `csrc/pillow_jpeg.c`: islow IDCT, fancy upsampling, the same
//! truncation and error rules), `ImageOps.exif_transpose` ([`exif`]) and `convert("RGB")`.
//! See docs/jpeg.md.

mod exif;
mod ffi;
mod header;

use image::RgbImage;
use image::metadata::Orientation;

use crate::error::{ImageError, Result};
use crate::limits::ImageLimits;
use crate::orientation::apply_orientation;
use exif::Transpose;
use header::{Header, OpenError};

/// Pillow's `Image.MAX_IMAGE_PIXELS`; `Image.open` raises `DecompressionBombError` above twice
/// this many pixels.
const PILLOW_MAX_IMAGE_PIXELS: u64 = 89_478_485;

/// Decodes a JPEG (or MPO, whose first frame Pillow shows) as `load_image` does.
pub(crate) fn decode(bytes: &[u8], name: &str, limits: &ImageLimits) -> Result<RgbImage> {
    let h = open(bytes, name, limits)?;
    let (w, h_px) = (h.width, h.height);
    let pixels = ffi::decode(
        bytes,
        h.layers,
        (w, h_px),
        limits.max_side,
        limits.max_alloc / 4,
    )
    .map_err(|f| match f {
        ffi::Failure::Truncated => ImageError::Truncated {
            name: name.to_string(),
        },
        ffi::Failure::Broken(reason) => ImageError::Corrupt {
            name: name.to_string(),
            reason: format!("broken data stream ({reason})"),
        },
        ffi::Failure::TooLarge | ffi::Failure::NoMemory => limits.too_large(name, w, h_px),
    })?;
    let transpose = exif::transpose(&h).map_err(|_| ImageError::Corrupt {
        name: name.to_string(),
        reason: "the EXIF data is not a TIFF structure".into(),
    })?;
    let rgb = to_rgb(&pixels, h.layers);
    let img = RgbImage::from_raw(w, h_px, rgb).ok_or_else(|| limits.too_large(name, w, h_px))?;
    Ok(match transpose {
        Transpose::None => img,
        Transpose::Orientation(o) => apply_orientation(img, Orientation::from_exif(o)),
    })
}

/// The size [`decode`] gives, from the headers alone (EXIF orientation applied).
pub(crate) fn dimensions(bytes: &[u8], name: &str, limits: &ImageLimits) -> Result<(u32, u32)> {
    let h = open(bytes, name, limits)?;
    let transpose = exif::transpose(&h).map_err(|_| ImageError::Corrupt {
        name: name.to_string(),
        reason: "the EXIF data is not a TIFF structure".into(),
    })?;
    Ok(match transpose {
        Transpose::Orientation(5..=8) => (h.height, h.width),
        _ => (h.width, h.height),
    })
}

/// `Image.open` and the checks before any pixel is decoded.
fn open(bytes: &[u8], name: &str, limits: &ImageLimits) -> Result<Header> {
    let h = header::parse(bytes).map_err(|e| match e {
        OpenError::TruncatedRead => ImageError::Truncated {
            name: name.to_string(),
        },
        OpenError::Unsupported(reason) => ImageError::Unsupported {
            name: name.to_string(),
            reason,
        },
        OpenError::Unidentified(why) => ImageError::Corrupt {
            name: name.to_string(),
            reason: format!("Pillow cannot identify it ({why})"),
        },
    })?;
    if h.layers == 0 {
        return Err(ImageError::Corrupt {
            name: name.to_string(),
            reason: "Pillow cannot identify it (no frame header)".into(),
        });
    }
    // 4 bytes a pixel bounds both the CMYK samples and the RGB image made from them.
    limits.check(name, h.width, h.height, 4)?;
    if u64::from(h.width) * u64::from(h.height) > 2 * PILLOW_MAX_IMAGE_PIXELS {
        return Err(limits.too_large(name, h.width, h.height));
    }
    if !h.has_scan {
        return Err(ImageError::Corrupt {
            name: name.to_string(),
            reason: "no scan: Pillow cannot load this image".into(),
        });
    }
    Ok(h)
}

/// `convert("RGB")` from Pillow's JPEG modes. CMYK arrives as libjpeg stores it: Pillow's
/// `CMYK;I` rawmode inverts every sample ("assume adobe conventions"), then `cmyk2rgb` computes
/// `nk - nk * c / 255` (rounded as `MULDIV255`) with `nk = 255 - k`.
fn to_rgb(pixels: &[u8], layers: u8) -> Vec<u8> {
    match layers {
        1 => pixels.iter().flat_map(|&v| [v, v, v]).collect(),
        3 => pixels.to_vec(),
        _ => {
            let mut out = Vec::with_capacity(pixels.len() / 4 * 3);
            for px in pixels.chunks_exact(4) {
                let [c, m, y, k] = [255 - px[0], 255 - px[1], 255 - px[2], 255 - px[3]];
                let nk = 255 - i32::from(k);
                let muldiv255 = |a: u8| {
                    let t = i32::from(a) * nk + 128;
                    ((t >> 8) + t) >> 8
                };
                for v in [c, m, y] {
                    out.push((nk - muldiv255(v)).clamp(0, 255) as u8);
                }
            }
            out
        }
    }
}
