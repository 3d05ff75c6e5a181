pub type Result<T, E = TextError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum TextError {
    #[error("tokenizer error: {0}")]
    Tokenizer(String),
}

impl TextError {
    /// Stable identifier for the UI and scripts.
    pub fn code(&self) -> &'static str {
        match self {
            TextError::Tokenizer(_) => "tokenizer",
        }
    }
}
