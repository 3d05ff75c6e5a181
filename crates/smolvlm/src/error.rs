//! The engine's one error type. Every variant has a stable machine-readable `code()` so the app can
//! serialize it as `{code, message}` and the CLI can print the message and exit non-zero.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(transparent)]
    Image(#[from] smolvlm_image::ImageError),

    #[error(transparent)]
    Text(#[from] smolvlm_text::TextError),

    #[error("model file {path} is missing")]
    MissingModelFile { path: PathBuf },

    #[error("model file {path} is malformed: {reason}")]
    MalformedModelFile { path: PathBuf, reason: String },

    #[error("unsupported model: {0}")]
    UnsupportedModel(String),

    #[error("{0} is not supported yet")]
    NotSupportedYet(String),

    #[error(
        "the prompt needs {needed} tokens but the model's context holds {fits}; \
         use fewer or smaller images (a lower longest edge) or a shorter conversation"
    )]
    PromptTooLong { needed: usize, fits: usize },

    #[error(
        "this model has no vision encoder: it was loaded from a GGUF text model without its \
         mmproj file, so it answers text-only prompts (pass the matching mmproj to use images)"
    )]
    NoVision,

    #[error("invalid request: {0}")]
    InvalidRequest(String),

    /// The job's cancel token was set while its prompt was being built: no later step (the
    /// template, an image, the tokenizer) ran.
    #[error("cancelled before the prompt was built")]
    Cancelled,

    #[error("device error: {0}")]
    Device(String),

    #[error("tensor computation failed: {0}")]
    Compute(#[from] candle_core::Error),
}

impl Error {
    /// Stable identifier for the UI and scripts; never changes when a message is reworded.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Io { .. } => "io",
            Error::Image(e) => e.code(),
            Error::Text(e) => e.code(),
            Error::MissingModelFile { .. } => "missing_model_file",
            Error::MalformedModelFile { .. } => "malformed_model_file",
            Error::UnsupportedModel(_) => "unsupported_model",
            Error::NotSupportedYet(_) => "not_supported_yet",
            Error::PromptTooLong { .. } => "prompt_too_long",
            Error::NoVision => "no_vision_encoder",
            Error::InvalidRequest(_) => "invalid_request",
            Error::Cancelled => "cancelled",
            Error::Device(_) => "device",
            Error::Compute(_) => "compute",
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn malformed(path: impl Into<PathBuf>, reason: impl ToString) -> Self {
        Error::MalformedModelFile {
            path: path.into(),
            reason: reason.to_string(),
        }
    }
}

/// Carries our error through code that returns candle errors; [`from_candle`] takes it back out.
pub(crate) fn into_candle(e: Error) -> candle_core::Error {
    candle_core::Error::WrappedContext {
        wrapped: Box::new(e),
        context: String::new(),
    }
}

/// Our error carried through candle ([`into_candle`]) comes back out as itself; any other candle
/// error goes through `other`.
pub(crate) fn from_candle(
    e: candle_core::Error,
    other: impl FnOnce(candle_core::Error) -> Error,
) -> Error {
    match e {
        candle_core::Error::WrappedContext { wrapped, context } => {
            match wrapped.downcast::<Error>() {
                Ok(ours) => *ours,
                Err(wrapped) => other(candle_core::Error::WrappedContext { wrapped, context }),
            }
        }
        candle_core::Error::WithBacktrace { inner, .. } => from_candle(*inner, other),
        e => other(e),
    }
}
