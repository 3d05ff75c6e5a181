//! A rendered page as PNG: lossless, so the engine decodes exactly the pixels that were drawn,
//! and a format every consumer (the CLI, the app's image store, the API) already takes.

use image::ImageEncoder;
use image::codecs::png::PngEncoder;

use crate::{PdfError, RgbImage};

impl RgbImage {
    /// The page as PNG bytes. `write_image` checks that `data` holds `width × height` pixels.
    pub fn to_png(&self) -> Result<Vec<u8>, PdfError> {
        let mut out = Vec::new();
        PngEncoder::new(&mut out)
            .write_image(
                &self.data,
                self.width,
                self.height,
                image::ExtendedColorType::Rgb8,
            )
            .map_err(|e| PdfError::Encode {
                reason: e.to_string(),
            })?;
        Ok(out)
    }
}
