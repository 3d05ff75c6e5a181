pub type Result<T, E = ImageError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("cannot read image settings {path}: {reason}")]
    Config { path: String, reason: String },
}

impl ImageError {
    /// Stable identifier for the UI and scripts.
    pub fn code(&self) -> &'static str {
        match self {
            ImageError::Config { .. } => "malformed_model_file",
        }
    }
}
