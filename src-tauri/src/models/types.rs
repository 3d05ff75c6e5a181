//! What the model manager's commands answer and stream (generated into `ui/src/bindings.ts`).

use serde::{Deserialize, Serialize};
use smolvlm_hub::catalog::Format;

use crate::error::ErrorPayload;

/// What one download streams, in order: `started`, `progress`* and `file-done`*, then `done`,
/// `cancelled` or `error`. JSON: `{"type": "<kebab-case>", ...camelCase fields}`.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(
    tag = "type",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum DownloadEvent {
    /// The hub answered: `files` files, `totalBytes` in all (cached ones included).
    Started {
        files: usize,
        total_bytes: u64,
    },
    Progress {
        file: String,
        file_bytes: u64,
        file_total: u64,
        /// All files, cached and resumed bytes included.
        bytes: u64,
        total_bytes: u64,
        #[specta(type = crate::foreign::Finite)]
        bytes_per_s: f64,
        #[specta(type = Option<crate::foreign::Finite>)]
        eta_s: Option<f64>,
    },
    FileDone {
        file: String,
    },
    /// Complete and verified; `path` is what `load_model` takes (the folder, or the text-model
    /// `.gguf` with its projector beside it).
    Done {
        path: String,
    },
    /// Stopped by `cancel_download`; the partial is kept for resuming.
    Cancelled,
    Error(ErrorPayload),
}

impl DownloadEvent {
    pub(crate) fn is_final(&self) -> bool {
        matches!(
            self,
            DownloadEvent::Done { .. } | DownloadEvent::Cancelled | DownloadEvent::Error(_)
        )
    }
}

/// Payload of the `download-progress` app event.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DownloadProgress {
    /// The catalog id.
    pub id: String,
    pub event: DownloadEvent,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DownloadTicket {
    pub download_id: String,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct CatalogModel {
    pub id: String,
    pub repo: String,
    pub title: String,
    #[specta(type = crate::foreign::ModelFormat)]
    pub format: Format,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quant: Option<String>,
    pub download_bytes: u64,
    pub memory_bytes: u64,
    pub tokens_per_tile: u32,
    pub tile_size: u32,
    pub good_for: String,
    pub is_default: bool,
    pub installed: bool,
    /// What `load_model` takes, when installed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub installed_path: Option<String>,
    /// Bytes of an interrupted download of this model's repository that a download resumes.
    pub partial_bytes: u64,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DiskUsage {
    pub bytes: u64,
    pub cache_dir: String,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct HubStatus {
    pub offline: bool,
    pub endpoint: String,
}

/// A model the user added by path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct LocalModel {
    /// `local-<12 hex>`, derived from the path.
    pub id: String,
    pub name: String,
    /// The folder or the text-model `.gguf`.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mmproj: Option<String>,
}
