pub type Result<T, E = ImageError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("cannot read image settings {path}: {reason}")]
    Config { path: String, reason: String },

    #[error("cannot read image file {path}: {reason}")]
    Unreadable { path: String, reason: String },

    #[error("{path} is {size} bytes; image files larger than {max} bytes are not read")]
    FileTooLarge { path: String, size: u64, max: u64 },

    #[error("{name} is not an image in a supported format (PNG, JPEG, GIF, WebP, BMP, TIFF)")]
    UnknownFormat { name: String },

    #[error("{name} is truncated: the image data ends early")]
    Truncated { name: String },

    #[error("{name} is not a valid image: {reason}")]
    Corrupt { name: String, reason: String },

    #[error("{name} has no pixels ({width}x{height})")]
    ZeroSized {
        name: String,
        width: u32,
        height: u32,
    },

    #[error(
        "{name} is too large to open ({width}x{height}); the limit is {max_side} pixels per side \
         and {max_alloc} bytes of decoded data"
    )]
    TooLarge {
        name: String,
        width: u32,
        height: u32,
        max_side: u32,
        max_alloc: u64,
    },

    #[error("{name} cannot be decoded: {reason}")]
    Unsupported { name: String, reason: String },

    #[error("invalid image processor setting: {reason}")]
    InvalidSetting { reason: String },
}

impl ImageError {
    /// Stable identifier for the UI and scripts.
    pub fn code(&self) -> &'static str {
        match self {
            ImageError::Config { .. } => "malformed_model_file",
            ImageError::Unreadable { .. } => "image_unreadable",
            ImageError::FileTooLarge { .. } => "image_file_too_large",
            ImageError::UnknownFormat { .. } => "image_unknown_format",
            ImageError::Truncated { .. } => "image_truncated",
            ImageError::Corrupt { .. } => "image_corrupt",
            ImageError::ZeroSized { .. } => "image_zero_sized",
            ImageError::TooLarge { .. } => "image_too_large",
            ImageError::Unsupported { .. } => "image_unsupported",
            ImageError::InvalidSetting { .. } => "invalid_setting",
        }
    }
}
