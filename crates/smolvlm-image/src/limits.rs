//! How large an image may be: checked before any pixel buffer is allocated, by every decoder.

use crate::error::{ImageError, Result};

/// Largest accepted width or height, in pixels.
pub const MAX_IMAGE_SIDE: u32 = 16384;
/// Largest decoded buffer the decoders may allocate, in bytes (1 GiB).
pub const MAX_DECODE_ALLOC: u64 = 1 << 30;
/// Largest image file read, in bytes (256 MiB).
pub const MAX_FILE_BYTES: u64 = 256 << 20;

/// Guards against decompression bombs and huge files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLimits {
    /// Largest width or height, in pixels.
    pub max_side: u32,
    /// Largest decoded image, in bytes.
    pub max_alloc: u64,
    /// Largest encoded file, in bytes.
    pub max_file_bytes: u64,
}

impl Default for ImageLimits {
    fn default() -> Self {
        Self {
            max_side: MAX_IMAGE_SIDE,
            max_alloc: MAX_DECODE_ALLOC,
            max_file_bytes: MAX_FILE_BYTES,
        }
    }
}

impl ImageLimits {
    /// Rejects a size before any pixel buffer is allocated for it.
    pub(crate) fn check(
        &self,
        name: &str,
        width: u32,
        height: u32,
        bytes_per_pixel: u64,
    ) -> Result<()> {
        if width == 0 || height == 0 {
            return Err(ImageError::ZeroSized {
                name: name.to_string(),
                width,
                height,
            });
        }
        let bytes = u64::from(width) * u64::from(height) * bytes_per_pixel;
        if width > self.max_side || height > self.max_side || bytes > self.max_alloc {
            return Err(self.too_large(name, width, height));
        }
        Ok(())
    }

    pub(crate) fn too_large(&self, name: &str, width: u32, height: u32) -> ImageError {
        ImageError::TooLarge {
            name: name.to_string(),
            width,
            height,
            max_side: self.max_side,
            max_alloc: self.max_alloc,
        }
    }
}
