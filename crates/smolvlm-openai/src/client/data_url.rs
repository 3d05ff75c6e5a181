//! Images as `data:` URLs, the one way to send a local file to any OpenAI-compatible server.

use base64::Engine as _;

/// The image's MIME type from its first bytes (not its name: a `.jpg` that is a PNG is sent as
/// the PNG it is); `None` for anything but the formats smolvlm decodes.
pub fn sniff_image_mime(bytes: &[u8]) -> Option<&'static str> {
    const SIGNATURES: [(&[u8], &str); 7] = [
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"BM", "image/bmp"),
        (b"II*\0", "image/tiff"),
        (b"MM\0*", "image/tiff"),
    ];
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Some("image/webp");
    }
    SIGNATURES
        .iter()
        .find(|(magic, _)| bytes.starts_with(magic))
        .map(|(_, mime)| *mime)
}

/// `data:<mime>;base64,<bytes>`, or `None` when the bytes are not a known image format.
pub fn image_data_url(bytes: &[u8]) -> Option<String> {
    let mime = sniff_image_mime(bytes)?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    Some(format!("data:{mime};base64,{b64}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_every_decoded_format_by_its_magic() {
        let cases: [(&[u8], &str); 7] = [
            (b"\x89PNG\r\n\x1a\n....", "image/png"),
            (b"\xff\xd8\xff\xe0", "image/jpeg"),
            (b"GIF89a..", "image/gif"),
            (b"RIFF\x10\0\0\0WEBPVP8 ", "image/webp"),
            (b"BM\x36\0", "image/bmp"),
            (b"II*\0\x08\0", "image/tiff"),
            (b"MM\0*\0\0", "image/tiff"),
        ];
        for (bytes, mime) in cases {
            assert_eq!(sniff_image_mime(bytes), Some(mime), "{bytes:?}");
        }
        for not_image in [&b""[..], b"hello, world", b"RIFF\0\0\0\0WAVE", b"\x89PNX"] {
            assert_eq!(sniff_image_mime(not_image), None, "{not_image:?}");
        }
    }

    #[test]
    fn data_url_is_base64_of_the_bytes() {
        let png = b"\x89PNG\r\n\x1a\nabc";
        assert_eq!(
            image_data_url(png).unwrap(),
            "data:image/png;base64,iVBORw0KGgphYmM="
        );
        assert_eq!(image_data_url(b"plain text"), None);
    }
}
