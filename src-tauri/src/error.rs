//! The one error type every command answers with. It serializes as `{code, message}`: `code` is
//! stable (the UI and tests match on it), `message` is for people and may be reworded.

use std::path::PathBuf;

use serde::Serialize;
use serde::ser::SerializeStruct;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("{}: not a readable image ({reason})", path.display())]
    NotAnImage { path: PathBuf, reason: String },
    #[error("{}: {reason}", path.display())]
    ImageTooLarge { path: PathBuf, reason: String },
    #[error("no model is loaded; load one first")]
    NoModel,
    #[error("a generation is already running ({0}); stop it or wait for it to finish")]
    Busy(u64),
    #[error("the model worker crashed ({0}); it was restarted with no model loaded")]
    WorkerPanicked(String),
    #[error("the model worker is not answering")]
    WorkerUnavailable,
    #[error(transparent)]
    Engine(#[from] smolvlm::Error),
    #[error("storage error at {}: {source}", path.display())]
    Storage {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a valid conversation file: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    /// Model manager failures (catalog, downloads, the Hugging Face cache, local models); the
    /// code is the hub crate's own (`hub_network`, `offline_not_cached`, `model_in_use`, …).
    #[error(transparent)]
    Hub(#[from] smolvlm_hub::HubError),
    #[error("{0} is already being downloaded")]
    DownloadInProgress(String),
}

impl AppError {
    /// Stable identifier, never changed when a message is reworded.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::InvalidInput(_) => "invalid_input",
            AppError::NotFound { .. } => "not_found",
            AppError::NotAnImage { .. } => "not_an_image",
            AppError::ImageTooLarge { .. } => "image_too_large",
            AppError::NoModel => "no_model_loaded",
            AppError::Busy(_) => "busy",
            AppError::WorkerPanicked(_) => "worker_panicked",
            AppError::WorkerUnavailable => "worker_unavailable",
            AppError::Engine(e) => e.code(),
            AppError::Storage { .. } => "storage",
            AppError::Corrupt { .. } => "corrupt_data",
            AppError::Hub(e) => e.code(),
            AppError::DownloadInProgress(_) => "download_in_progress",
        }
    }

    pub fn payload(&self) -> ErrorPayload {
        ErrorPayload {
            code: self.code().to_string(),
            message: self.to_string(),
        }
    }

    pub(crate) fn storage(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        AppError::Storage {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        AppError::InvalidInput(msg.into())
    }
}

impl Serialize for AppError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("AppError", 2)?;
        st.serialize_field("code", self.code())?;
        st.serialize_field("message", &self.to_string())?;
        st.end()
    }
}

/// The bindings' error type of every command: the `{code, message}` of [`ErrorPayload`].
impl specta::Type for AppError {
    fn definition(types: &mut specta::Types) -> specta::datatype::DataType {
        ErrorPayload::definition(types)
    }
}

/// An error as data (stream events, model status), the same `{code, message}` shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, specta::Type)]
pub struct ErrorPayload {
    pub code: String,
    pub message: String,
}

pub type AppResult<T> = Result<T, AppError>;
