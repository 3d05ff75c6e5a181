//! The orientation `ImageOps.exif_transpose` finds in a JPEG, as Pillow 13 reads it:
//! `Image.getexif` over `info["exif"]` (`Exif.load`, `ImageFileDirectory_v2.load`), then the
//! XMP `tiff:Orientation` when IFD0 has no orientation tag.

use super::header::Header;

/// The EXIF orientation tag.
const ORIENTATION: u16 = 0x0112;

/// What `exif_transpose` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transpose {
    /// Orientation 1, absent, or a value that is not 2..=8.
    None,
    /// EXIF orientation 2..=8.
    Orientation(u8),
}

/// `exif_transpose` raises: the EXIF is not a TIFF structure and Pillow had not already
/// swallowed that error while opening.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct BadExif;

/// The TIFF header did not parse (`SyntaxError` / `struct.error` in `ImageFileDirectory_v2`).
struct BadHeader;

pub(crate) fn transpose(h: &Header) -> Result<Transpose, BadExif> {
    let value = match h.exif.as_deref() {
        Some(exif) => match ifd0_orientation(exif) {
            Ok(v) => v,
            // `_read_dpi_from_exif` already called `getexif()` while opening (it does when the
            // JFIF header gave no dpi): that call raised after marking the EXIF loaded, the
            // error was caught, and `exif_transpose` later gets the empty EXIF, XMP unread.
            Err(BadHeader) if !h.jfif_dpi => return Ok(Transpose::None),
            Err(BadHeader) => return Err(BadExif),
        },
        None => None,
    };
    let value = match value {
        Some(v) => Some(v),
        None => h.xmp.as_deref().and_then(xmp_orientation),
    };
    Ok(match value {
        Some(v @ 2..=8) => Transpose::Orientation(v as u8),
        _ => Transpose::None,
    })
}

/// `re.search(rb'tiff:Orientation(="|>)([0-9])', xmp)`.
fn xmp_orientation(xmp: &[u8]) -> Option<i64> {
    const KEY: &[u8] = b"tiff:Orientation";
    let mut from = 0;
    while let Some(i) = find(&xmp[from..], KEY) {
        let at = from + i + KEY.len();
        let digit = match xmp.get(at..) {
            Some([b'=', b'"', d, ..]) | Some([b'>', d, ..]) => Some(*d),
            _ => None,
        };
        if let Some(d @ b'0'..=b'9') = digit {
            return Some(i64::from(d - b'0'));
        }
        from = from + i + 1;
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// IFD0's orientation, as an integer when Pillow's value compares equal to one (ints, and
/// floats or rationals with an integral value); `Ok(None)` when there is none.
fn ifd0_orientation(exif: &[u8]) -> Result<Option<i64>, BadHeader> {
    let mut data = exif;
    while let Some(rest) = data.strip_prefix(b"Exif\0\0") {
        data = rest;
    }
    if data.is_empty() {
        return Ok(None);
    }
    let head = &data[..data.len().min(8)];
    let big = match head.get(..4) {
        Some(b"MM\x00\x2a" | b"MM\x2a\x00") => true,
        Some(b"II\x2a\x00" | b"II\x00\x2a") => false,
        // BigTIFF headers pass the check, then unpacking an 8-byte offset from the 8-byte
        // header fails.
        _ => return Err(BadHeader),
    };
    if head.len() < 8 {
        return Err(BadHeader);
    }
    let u16_at = |at: usize| -> Option<u16> {
        let b = data.get(at..at.checked_add(2)?)?;
        Some(if big {
            u16::from_be_bytes([b[0], b[1]])
        } else {
            u16::from_le_bytes([b[0], b[1]])
        })
    };
    let u32_of = |b: &[u8]| -> u32 {
        let b = [b[0], b[1], b[2], b[3]];
        if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    };
    let ifd = u32_of(&head[4..8]) as usize;
    // Any short read below is an OSError that `load` catches: the tags read so far stay.
    let Some(count) = u16_at(ifd) else {
        return Ok(None);
    };
    let mut total_size = 0usize;
    for i in 0..usize::from(count) {
        let Some(entry) = ifd
            .checked_add(2 + 12 * i)
            .and_then(|at| data.get(at..at + 12))
        else {
            return Ok(None);
        };
        let tag = u16_at(ifd + 2 + 12 * i).unwrap_or(0);
        let typ = u16_at(ifd + 4 + 12 * i).unwrap_or(0);
        let count = u32_of(&entry[4..8]) as usize;
        let Some(unit) = unit_size(typ) else {
            continue; // unsupported type: ignored
        };
        let size = count.saturating_mul(unit);
        let value: &[u8] = if size > 4 {
            total_size = total_size.saturating_add(size);
            if total_size > data.len() {
                continue; // "Tag data larger than file"
            }
            let offset = u32_of(&entry[8..12]) as usize;
            match offset
                .checked_add(size)
                .and_then(|end| data.get(offset..end))
            {
                Some(v) => v,
                None => return Ok(None), // Truncated File Read, caught: loading stops
            }
        } else {
            &entry[8..8 + size]
        };
        if value.is_empty() {
            continue;
        }
        // The first entry of a tag wins; only the orientation matters here.
        if tag == ORIENTATION {
            return Ok(first_value(typ, value, big));
        }
    }
    Ok(None)
}

fn unit_size(typ: u16) -> Option<usize> {
    Some(match typ {
        1 | 2 | 6 | 7 => 1,
        3 | 8 => 2,
        4 | 9 | 11 | 13 => 4,
        5 | 10 | 12 | 16 => 8,
        _ => return None,
    })
}

/// The first value of the tag (Pillow keeps the first of too many), when it equals an integer.
fn first_value(typ: u16, v: &[u8], big: bool) -> Option<i64> {
    let n = |len: usize| -> Option<u64> {
        let b = v.get(..len)?;
        Some(if big {
            b.iter().fold(0u64, |a, &x| (a << 8) | u64::from(x))
        } else {
            b.iter().rev().fold(0u64, |a, &x| (a << 8) | u64::from(x))
        })
    };
    let integral = |f: f64| (f.fract() == 0.0 && f.abs() < 1e18).then_some(f as i64);
    match typ {
        3 => n(2).map(|x| x as i64),
        4 | 13 => n(4).map(|x| x as i64),
        16 => n(8).map(|x| x as i64),
        6 => n(1).map(|x| i64::from(x as u8 as i8)),
        8 => n(2).map(|x| i64::from(x as u16 as i16)),
        9 => n(4).map(|x| i64::from(x as u32 as i32)),
        11 => integral(f64::from(f32::from_bits(n(4)? as u32))),
        12 => integral(f64::from_bits(n(8)?)),
        // IFDRational: numerator / denominator, NaN for a zero denominator.
        5 | 10 => {
            let num = n(4)? as u32;
            let den = v.get(4..8).map(|d| {
                let d = [d[0], d[1], d[2], d[3]];
                if big {
                    u32::from_be_bytes(d)
                } else {
                    u32::from_le_bytes(d)
                }
            })?;
            let (num, den) = if typ == 10 {
                (i64::from(num as i32), i64::from(den as i32))
            } else {
                (i64::from(num), i64::from(den))
            };
            (den != 0 && num % den == 0).then(|| num / den)
        }
        // BYTE and UNDEFINED load as bytes, ASCII as str: never equal to an int.
        _ => None,
    }
}
