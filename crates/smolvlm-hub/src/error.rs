//! The model manager's one error type. Every variant has a stable machine-readable
//! [`code`](HubError::code) so the app can serialize `{code, message}`; messages say what to do
//! next.

use std::path::PathBuf;

pub type Result<T, E = HubError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error(
        "{what} needs a Hugging Face token (HTTP {status}): the repository may be gated or \
         private; accept its terms on the hub and set HF_TOKEN (or log in with `hf auth login`)"
    )]
    Unauthorized { what: String, status: u16 },

    #[error(
        "{what} was not found on the hub (HTTP 404): check the repository id, revision and file name"
    )]
    NotFound { what: String },

    #[error(
        "cannot reach the hub at {endpoint}: {reason}; check the network or use HF_HUB_OFFLINE=1 with a model already downloaded"
    )]
    Network { endpoint: String, reason: String },

    #[error("the hub answered HTTP {status} for {what} after {attempts} attempts; try again later")]
    Server {
        what: String,
        status: u16,
        attempts: u32,
    },

    #[error("the hub answered HTTP {status} for {what}")]
    Http { what: String, status: u16 },

    #[error("the hub sent an answer this client does not understand for {what}: {reason}")]
    BadResponse { what: String, reason: String },

    #[error(
        "the hub listed {name:?} in {what}, which is not a plain relative file name (no drive, \
         stream, absolute path, `..` or device name); nothing was downloaded"
    )]
    UnsafeFileName { what: String, name: String },

    #[error(
        "offline (HF_HUB_OFFLINE is set) and {what} is not in the cache at {cache}; \
         download it first with network access"
    )]
    OfflineNotCached { what: String, cache: PathBuf },

    #[error(
        "{file} failed verification: expected {expected}, got {actual}; the bad download was \
         discarded and never used (a new download starts from zero)"
    )]
    ChecksumMismatch {
        file: String,
        expected: String,
        actual: String,
    },

    #[error(
        "the disk is full while writing {path}; {kept_bytes} bytes were kept and the download \
         resumes from there once space is freed"
    )]
    DiskFull { path: PathBuf, kept_bytes: u64 },

    #[error(
        "not enough free disk space in {path}: the download needs {needed} bytes and {available} \
         are free"
    )]
    InsufficientSpace {
        path: PathBuf,
        needed: u64,
        available: u64,
    },

    #[error("the download of {file} was cancelled; {kept_bytes} bytes were kept for resuming")]
    Cancelled { file: String, kept_bytes: u64 },

    #[error("another download of {path} is in progress (lock held)")]
    Locked { path: PathBuf },

    #[error("cannot access {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "{0:?} is not a model id: use a catalog id (see `smolvlm models list`) or org/repo[@revision]"
    )]
    InvalidModelId(String),

    #[error("{path} is not a model: {reason}")]
    NotAModel { path: PathBuf, reason: String },

    #[error(
        "{} has several vision projectors beside it ({}) and none is clearly its own; name the \
         one to use (--mmproj) or move the others away",
        .model.display(),
        file_names(.candidates)
    )]
    AmbiguousMmproj {
        model: PathBuf,
        candidates: Vec<PathBuf>,
    },

    #[error("{what} is not installed")]
    NotInstalled { what: String },

    #[error("{what} is the loaded model; unload it before removing it")]
    InUse { what: String },

    #[error("refusing to delete {path}: it is not a model folder inside the Hugging Face cache")]
    NotOurs { path: PathBuf },

    #[error("the local model registry {path} is malformed: {reason}")]
    Registry { path: PathBuf, reason: String },
}

impl HubError {
    /// Stable identifier for the UI and scripts; never changes when a message is reworded.
    pub fn code(&self) -> &'static str {
        match self {
            HubError::Unauthorized { .. } => "hub_unauthorized",
            HubError::NotFound { .. } => "hub_not_found",
            HubError::Network { .. } => "hub_network",
            HubError::Server { .. } => "hub_server_error",
            HubError::Http { .. } => "hub_http",
            HubError::BadResponse { .. } => "hub_bad_response",
            HubError::UnsafeFileName { .. } => "hub_unsafe_file_name",
            HubError::OfflineNotCached { .. } => "offline_not_cached",
            HubError::ChecksumMismatch { .. } => "checksum_mismatch",
            HubError::DiskFull { .. } => "disk_full",
            HubError::InsufficientSpace { .. } => "insufficient_space",
            HubError::Cancelled { .. } => "cancelled",
            HubError::Locked { .. } => "download_locked",
            HubError::Io { .. } => "io",
            HubError::InvalidModelId(_) => "invalid_model_id",
            HubError::NotAModel { .. } => "not_a_model",
            HubError::AmbiguousMmproj { .. } => "ambiguous_mmproj",
            HubError::NotInstalled { .. } => "not_installed",
            HubError::InUse { .. } => "model_in_use",
            HubError::NotOurs { .. } => "not_ours",
            HubError::Registry { .. } => "registry",
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        HubError::Io {
            path: path.into(),
            source,
        }
    }
}

/// `a.gguf, b.gguf`: the file names, for messages.
fn file_names(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| p.display().to_string())
        })
        .collect::<Vec<_>>()
        .join(", ")
}
