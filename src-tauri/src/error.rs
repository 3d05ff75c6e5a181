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
    /// A PDF that cannot be opened or rendered; the code is smolvlm-pdf's (`pdf_encrypted`, …).
    #[error("{name}: {error}")]
    Pdf {
        name: String,
        #[source]
        error: smolvlm_pdf::PdfError,
    },
    /// A path the webview names that the user did not hand over (see `crate::grants`). Decided
    /// before the file is looked at, so it says nothing of whether the file exists.
    #[error("{}: not a file dropped on the app or chosen in its file dialog", path.display())]
    PathNotAllowed { path: PathBuf },
    #[error("no model is loaded; load one first")]
    NoModel,
    #[error("a generation is already running ({0}); stop it or wait for it to finish")]
    Busy(u64),
    /// The model worker's own failures (`worker_panicked`, `worker_unavailable`, `queue_full`).
    #[error(transparent)]
    Worker(smolvlm_worker::WorkerError),
    #[error(transparent)]
    Engine(#[from] smolvlm::Error),
    #[error("storage error at {}: {source}", path.display())]
    Storage {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A save found no space left: nothing was replaced, what was saved before is kept.
    #[error(
        "the disk is full: {} was not saved ({source}); free some space and try again (what was saved before is kept)",
        path.display()
    )]
    DiskFull {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The store opened read-only (another instance owns it, or it cannot be written).
    #[error("read-only: {0}")]
    ReadOnly(String),
    #[error("{} is not a valid conversation file: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    /// Model manager failures (catalog, downloads, the Hugging Face cache, local models); the
    /// code is the hub crate's own (`hub_network`, `offline_not_cached`, `model_in_use`, …).
    #[error(transparent)]
    Hub(#[from] smolvlm_hub::HubError),
    #[error("{0} is already being downloaded")]
    DownloadInProgress(String),
    /// The local API could not start (`addr_in_use`, …).
    #[error(transparent)]
    Server(#[from] smolvlm_server::ServerError),
    /// A connection's server failed to answer; codes `remote_connect`, `remote_http`, ….
    #[error("{connection}: {source}")]
    Remote {
        connection: String,
        #[source]
        source: smolvlm_openai::ClientError,
    },
}

impl AppError {
    /// Stable identifier, never changed when a message is reworded.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::InvalidInput(_) => "invalid_input",
            AppError::NotFound { .. } => "not_found",
            AppError::PathNotAllowed { .. } => "path_not_allowed",
            AppError::NotAnImage { .. } => "not_an_image",
            AppError::ImageTooLarge { .. } => "image_too_large",
            AppError::Pdf { error, .. } => error.code(),
            AppError::NoModel => "no_model_loaded",
            AppError::Busy(_) => "busy",
            AppError::Worker(e) => e.code(),
            AppError::Engine(e) => e.code(),
            AppError::Storage { .. } => "storage",
            AppError::DiskFull { .. } => "disk_full",
            AppError::ReadOnly(_) => "read_only",
            AppError::Corrupt { .. } => "corrupt_data",
            AppError::Hub(e) => e.code(),
            AppError::DownloadInProgress(_) => "download_in_progress",
            AppError::Server(e) => e.code(),
            AppError::Remote { source, .. } => match source {
                smolvlm_openai::ClientError::Connect { .. } => "remote_connect",
                smolvlm_openai::ClientError::Http { .. } => "remote_http",
                smolvlm_openai::ClientError::Protocol { .. } => "remote_protocol",
                smolvlm_openai::ClientError::InvalidUrl { .. } => "remote_invalid_url",
                smolvlm_openai::ClientError::Cancelled => "cancelled",
            },
        }
    }

    pub fn payload(&self) -> ErrorPayload {
        ErrorPayload {
            code: self.code().to_string(),
            message: self.to_string(),
        }
    }

    pub(crate) fn storage(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        match source.kind() {
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
                AppError::DiskFull { path, source }
            }
            _ => AppError::Storage { path, source },
        }
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        AppError::InvalidInput(msg.into())
    }
}

impl From<smolvlm_worker::WorkerError> for AppError {
    fn from(e: smolvlm_worker::WorkerError) -> Self {
        use smolvlm_worker::WorkerError;
        match e {
            WorkerError::NoModel => AppError::NoModel,
            WorkerError::Engine(e) => AppError::Engine(e),
            e => AppError::Worker(e),
        }
    }
}

impl AppError {
    /// The worker thread is gone (its channel closed).
    pub(crate) fn worker_unavailable() -> Self {
        AppError::Worker(smolvlm_worker::WorkerError::Unavailable)
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
