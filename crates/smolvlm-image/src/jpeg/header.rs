//! Pillow 13's own JPEG marker parser (`JpegImagePlugin.JpegImageFile._open`), ported so that
//! the size, mode and metadata, and the files `Image.open` refuses, are Pillow's. libjpeg parses
//! the stream again when decoding; Pillow's checks come first and decide the image's size.

/// What Pillow's `_open` makes of the file.
#[derive(Debug, Default)]
pub(crate) struct Header {
    /// From the last SOF before the first SOS, as Pillow keeps overwriting it.
    pub width: u32,
    pub height: u32,
    /// 1 (`L`), 3 (`RGB`) or 4 (`CMYK`); 0 when no SOF was seen.
    pub layers: u8,
    /// `info["exif"]`: the first `Exif\0\0` APP1 whole, later ones appended without the prefix.
    pub exif: Option<Vec<u8>>,
    /// `info["xmp"]`: the last XMP APP1 after its namespace and NUL.
    pub xmp: Option<Vec<u8>>,
    /// `info["dpi"]` set from a JFIF APP0 (unit 1 or 2): Pillow then does not read the EXIF
    /// while opening, which changes what a broken EXIF does later (see `exif.rs`).
    pub jfif_dpi: bool,
    /// An SOS marker was reached: Pillow has a tile to decode.
    pub has_scan: bool,
}

/// Why Pillow's `Image.open` fails.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// A `SyntaxError`, `IndexError` or `struct.error`: "cannot identify image file".
    Unidentified(&'static str),
    /// Unsupported sample precision or component count (also "cannot identify image file").
    Unsupported(String),
    /// `ImageFile._safe_read` came up short (OSError "Truncated File Read"), or a segment's
    /// length is cut off (a `struct.error`).
    TruncatedRead,
}

/// Big-endian u16 at `at`, or Pillow's `struct.error` when short.
fn i16be(s: &[u8], at: usize) -> Result<u16, OpenError> {
    match s.get(at..at + 2) {
        Some(b) => Ok(u16::from_be_bytes([b[0], b[1]])),
        None => Err(OpenError::Unidentified("short field")),
    }
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// `fp.read(n)`: up to `n` bytes.
    fn read(&mut self, n: usize) -> &'a [u8] {
        let end = self.pos.saturating_add(n).min(self.data.len());
        let s = &self.data[self.pos..end];
        self.pos = end;
        s
    }

    /// A segment: `n = i16(fp.read(2)) - 2`, then `_safe_read(fp, n)`.
    fn segment(&mut self) -> Result<&'a [u8], OpenError> {
        // A length cut off by the end of the file is a `struct.error` in Pillow ("cannot
        // identify image file"); the file is truncated, and we say so.
        let n = i32::from(i16be(self.read(2), 0).map_err(|_| OpenError::TruncatedRead)?) - 2;
        if n <= 0 {
            return Ok(&[]);
        }
        let s = self.read(n as usize);
        if s.len() < n as usize {
            return Err(OpenError::TruncatedRead);
        }
        Ok(s)
    }
}

/// Parses as `_open` does, up to and including the first SOS marker.
pub(crate) fn parse(data: &[u8]) -> Result<Header, OpenError> {
    if !data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Err(OpenError::Unidentified("not a JPEG file"));
    }
    let mut r = Reader { data, pos: 3 };
    let mut h = Header::default();
    let mut icc: Vec<&[u8]> = Vec::new();
    // `s` holds the marker bytes seen so far, as in Pillow's loop.
    let mut s: Vec<u8> = vec![0xFF];
    while !s.is_empty() {
        if s[0] != 0xFF {
            s = r.read(1).to_vec();
            continue;
        }
        s.extend_from_slice(r.read(1));
        if s.len() < 2 {
            break;
        }
        let marker = u16::from_be_bytes([s[0], s[1]]);
        match marker {
            // Every marker from SOF0 to COM is in Pillow's table.
            0xFFC0..=0xFFFE => {
                handle(marker, &mut r, &mut h, &mut icc)?;
                if marker == 0xFFDA {
                    h.has_scan = true;
                    break;
                }
                s = r.read(1).to_vec();
            }
            0xFFFF => s = vec![0xFF],
            0xFF00 => s = r.read(1).to_vec(),
            _ => return Err(OpenError::Unidentified("no marker found")),
        }
    }
    Ok(h)
}

fn handle<'a>(
    marker: u16,
    r: &mut Reader<'a>,
    h: &mut Header,
    icc: &mut Vec<&'a [u8]>,
) -> Result<(), OpenError> {
    match marker {
        // DHT, DAC, SOS, DNL, DRI, EXP: skipped by length.
        0xFFC4 | 0xFFCC | 0xFFDA | 0xFFDC | 0xFFDD | 0xFFDF => {
            r.segment()?;
        }
        // JPG, RSTn, SOI, EOI, JPGn: no segment, nothing done.
        0xFFC8 | 0xFFD0..=0xFFD9 | 0xFFF0..=0xFFFD => {}
        0xFFDB => dqt(r.segment()?)?,
        0xFFE0..=0xFFEF => app(marker, r.segment()?, h, icc)?,
        0xFFFE => {
            r.segment()?;
        }
        // The SOF markers and DHP.
        _ => sof(r.segment()?, h, icc)?,
    }
    Ok(())
}

fn sof(s: &[u8], h: &mut Header, icc: &mut Vec<&[u8]>) -> Result<(), OpenError> {
    let (width, height) = (i16be(s, 3)?, i16be(s, 1)?);
    h.width = u32::from(width);
    h.height = u32::from(height);
    let bits = *s.first().ok_or(OpenError::Unidentified("short SOF"))?;
    if bits != 8 {
        return Err(OpenError::Unsupported(format!(
            "cannot handle {bits}-bit layers"
        )));
    }
    let layers = *s.get(5).ok_or(OpenError::Unidentified("short SOF"))?;
    if !matches!(layers, 1 | 3 | 4) {
        return Err(OpenError::Unsupported(format!(
            "cannot handle {layers}-layer images"
        )));
    }
    h.layers = layers;
    if !icc.is_empty() {
        // `self.icclist[0][13]` after sorting: an IndexError on a short first fragment.
        icc.sort();
        if icc[0].len() < 14 {
            return Err(OpenError::Unidentified("short ICC fragment"));
        }
        icc.clear();
    }
    // The component table is read in triples: a partial last triple is an IndexError.
    if s.len() > 6 && !(s.len() - 6).is_multiple_of(3) {
        return Err(OpenError::Unidentified("partial SOF component"));
    }
    Ok(())
}

fn dqt(mut s: &[u8]) -> Result<(), OpenError> {
    while let Some(&v) = s.first() {
        let precision = if v / 16 == 0 { 1 } else { 2 };
        let qt_length = 1 + precision * 64;
        if s.len() < qt_length {
            return Err(OpenError::Unidentified("bad quantization table marker"));
        }
        s = &s[qt_length..];
    }
    Ok(())
}

fn app<'a>(
    marker: u16,
    s: &'a [u8],
    h: &mut Header,
    icc: &mut Vec<&'a [u8]>,
) -> Result<(), OpenError> {
    const XMP: &[u8] = b"http://ns.adobe.com/xap/1.0/\x00";
    if marker == 0xFFE0 && s.starts_with(b"JFIF") {
        i16be(s, 5)?; // the version, unguarded in Pillow
        // Unit and density are read inside a try: a short segment just sets nothing.
        if let (Some(&unit), true) = (s.get(7), s.len() >= 12) {
            h.jfif_dpi |= unit == 1 || unit == 2;
        }
    } else if marker == 0xFFE1 && s.starts_with(b"Exif\0\0") {
        match &mut h.exif {
            Some(exif) => exif.extend_from_slice(&s[6..]),
            None => h.exif = Some(s.to_vec()),
        }
    } else if marker == 0xFFE1 && s.starts_with(XMP) {
        h.xmp = Some(s[XMP.len()..].to_vec());
    } else if marker == 0xFFE2 && s.starts_with(b"ICC_PROFILE\0") {
        icc.push(s);
    } else if marker == 0xFFED && s.starts_with(b"Photoshop 3.0\x00") {
        photoshop(s)?;
    } else if marker == 0xFFEE && s.starts_with(b"Adobe") {
        i16be(s, 5)?; // the version, unguarded in Pillow
    }
    Ok(())
}

/// Pillow walks the 8BIM resources catching only `struct.error`: a name length byte past the
/// end is an IndexError that escapes.
fn photoshop(s: &[u8]) -> Result<(), OpenError> {
    let at = |offset: usize, n: usize| offset.checked_add(n).and_then(|end| s.get(offset..end));
    let mut offset = 14usize;
    while at(offset, 4) == Some(b"8BIM") {
        offset += 4;
        let Ok(code) = i16be(s, offset) else {
            return Ok(()); // struct.error, caught
        };
        offset += 2;
        let name_len = *s
            .get(offset)
            .ok_or(OpenError::Unidentified("short Photoshop resource"))?;
        offset += 1 + usize::from(name_len);
        offset += offset & 1;
        let Some(size) = at(offset, 4) else {
            return Ok(()); // struct.error, caught
        };
        let size = u32::from_be_bytes([size[0], size[1], size[2], size[3]]) as usize;
        offset += 4;
        // ResolutionInfo unpacks 14 bytes of its data: fewer is a struct.error, caught.
        let data_len = s.len().saturating_sub(offset).min(size);
        if code == 0x03ED && data_len < 14 {
            return Ok(());
        }
        offset = offset.saturating_add(size);
        offset = offset.saturating_add(offset & 1);
    }
    Ok(())
}
