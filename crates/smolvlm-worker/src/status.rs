//! What the worker tells about itself: the model in memory and what it is doing.

use std::path::PathBuf;

use serde::Serialize;
use smolvlm::SmolVlmModel;
use smolvlm::image::ImageProcessor;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelState {
    Empty,
    Loading,
    Ready,
    Generating,
}

/// An error as data (for the status), `{code, message}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorInfo {
    pub code: String,
    pub message: String,
}

impl From<&crate::WorkerError> for ErrorInfo {
    fn from(e: &crate::WorkerError) -> Self {
        Self {
            code: e.code().to_string(),
            message: e.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelInfo {
    pub path: PathBuf,
    pub name: String,
    /// `cpu`, `cuda` or `metal`.
    pub device: String,
    /// The CPU kernels' instruction set (`amx`, `avx512`, `avx2`, `neon`, `scalar`) when the
    /// model runs on the CPU; none on a GPU.
    pub kernels: Option<String>,
    /// The CPU threads the model computes on.
    pub threads: usize,
    /// Why the model is on the CPU in a build with a GPU backend (`auto` fell back).
    pub device_notice: Option<String>,
    pub has_vision: bool,
    pub context_length: usize,
    pub load_s: f64,
}

impl ModelInfo {
    pub(crate) fn of(path: &std::path::Path, m: &SmolVlmModel) -> Self {
        let device = if m.device().is_cuda() {
            "cuda"
        } else if m.device().is_metal() {
            "metal"
        } else {
            "cpu"
        };
        Self {
            path: path.to_path_buf(),
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string()),
            device: device.to_string(),
            kernels: (device == "cpu").then(|| smolvlm::SimdLevel::detect().name().to_string()),
            threads: m.threads(),
            device_notice: m.device_notice().map(str::to_string),
            has_vision: m.has_vision(),
            context_length: m.context_length(),
            load_s: m.load_seconds(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkerStatus {
    pub state: ModelState,
    pub model: Option<ModelInfo>,
    /// The path being loaded, while `state` is `loading`.
    pub loading: Option<PathBuf>,
    /// The job running now.
    pub job_id: Option<u64>,
    /// Jobs pending or running.
    pub queued: usize,
    /// How many times the worker was restarted after a panic.
    pub restarts: u32,
    pub last_error: Option<ErrorInfo>,
}

impl WorkerStatus {
    pub(crate) fn empty() -> Self {
        Self {
            state: ModelState::Empty,
            model: None,
            loading: None,
            job_id: None,
            queued: 0,
            restarts: 0,
            last_error: None,
        }
    }
}

/// What the loaded model does to images, for costing and checking them without asking the
/// worker (which may be busy generating).
#[derive(Debug, Clone)]
pub struct ImageGeometry {
    pub processor: ImageProcessor,
    pub has_vision: bool,
    pub context_length: usize,
}

impl ImageGeometry {
    pub(crate) fn of(m: &SmolVlmModel) -> Self {
        Self {
            processor: m.processor().clone(),
            has_vision: m.has_vision(),
            context_length: m.context_length(),
        }
    }
}
