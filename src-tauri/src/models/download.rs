//! Catalog downloads: each on threads of its own (the hub crate's `spawn_download` and one that
//! forwards its events), never on the model worker, so the model keeps answering meanwhile.
//! The hub sends progress at most every `smolvlm_hub::PROGRESS_INTERVAL` (the first and last
//! chunk of each file always); events are forwarded as they come.
//! Cancelling keeps the partial file; the next download of the same model resumes it.

use std::sync::Arc;

use smolvlm_hub::catalog;
use smolvlm_hub::{CancelToken, HubError, ModelSpec};

use super::catalog::{catalog_entry, load_path};
use super::{DownloadEvent, DownloadProgress, DownloadTicket, ModelManager};
use crate::error::{AppError, AppResult, ErrorPayload};
use crate::store::new_id;
use crate::sync::lock;

/// Where every download event goes besides the command's channel: the app event
/// `download-progress`, to every window.
pub type DownloadListener = Arc<dyn Fn(&DownloadProgress) + Send + Sync>;

pub(super) struct ActiveDownload {
    pub(super) download_id: String,
    pub(super) cancel: CancelToken,
}

impl ModelManager {
    /// Starts downloading catalog model `id` on threads of its own; `send` gets every event
    /// (after the app event is emitted).
    pub fn start_download(
        &self,
        id: &str,
        send: impl Fn(&str, &DownloadEvent) + Send + 'static,
    ) -> AppResult<DownloadTicket> {
        let entry = catalog_entry(id)?;
        let id = entry.id.to_string();
        let hub = Arc::new(self.hub()?);
        let cancel = CancelToken::new();
        let download_id = new_id('d');
        {
            let mut downloads = lock(&self.downloads);
            if downloads.contains_key(&id) {
                return Err(AppError::DownloadInProgress(id));
            }
            downloads.insert(
                id.clone(),
                ActiveDownload {
                    download_id: download_id.clone(),
                    cancel: cancel.clone(),
                },
            );
        }
        let (events, handle) = hub.spawn_download(ModelSpec::from_entry(entry), cancel);
        let downloads = self.downloads.clone();
        let ticket_id = download_id.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("download-{id}"))
            .spawn(move || {
                for event in events {
                    if let Some(e) = app_event(event) {
                        send(&id, &e);
                    }
                }
                let last = match handle.join() {
                    Ok(Ok(snapshot)) => DownloadEvent::Done {
                        path: load_path(entry, &snapshot.dir).display().to_string(),
                    },
                    Ok(Err(HubError::Cancelled { .. })) => DownloadEvent::Cancelled,
                    Ok(Err(e)) => DownloadEvent::Error(AppError::from(e).payload()),
                    Err(_) => DownloadEvent::Error(ErrorPayload {
                        code: "download_panicked".into(),
                        message: format!("the download of {id} stopped unexpectedly"),
                    }),
                };
                match &last {
                    DownloadEvent::Done { path } => log::info!("downloaded {id} into {path}"),
                    DownloadEvent::Error(e) => {
                        log::error!("the download of {id} failed: {} ({})", e.message, e.code)
                    }
                    DownloadEvent::Cancelled => log::info!("the download of {id} was cancelled"),
                    _ => {}
                }
                // Finished before anyone hears of it: a new download may start at once.
                {
                    let mut downloads = lock(&downloads);
                    if downloads
                        .get(&id)
                        .is_some_and(|d| d.download_id == ticket_id)
                    {
                        downloads.remove(&id);
                    }
                }
                debug_assert!(last.is_final());
                send(&id, &last);
            });
        if let Err(e) = spawned {
            lock(&self.downloads).remove(entry.id);
            return Err(AppError::storage("download thread", e));
        }
        Ok(DownloadTicket { download_id })
    }

    /// Stops the download of `id`; false when none runs.
    pub fn cancel_download(&self, id: &str) -> bool {
        let Some(entry) = catalog::find(id) else {
            return false;
        };
        match lock(&self.downloads).get(entry.id) {
            Some(d) => {
                d.cancel.cancel();
                true
            }
            None => false,
        }
    }
}

/// A hub event as the app's (the ones the UI has no use for are dropped).
fn app_event(event: smolvlm_hub::DownloadEvent) -> Option<DownloadEvent> {
    use smolvlm_hub::DownloadEvent as H;
    match event {
        H::Plan {
            files, total_bytes, ..
        } => Some(DownloadEvent::Started {
            files: files.len(),
            total_bytes,
        }),
        H::Progress {
            file,
            file_done,
            file_total,
            done,
            total,
            bytes_per_sec,
            eta_s,
        } => Some(DownloadEvent::Progress {
            file,
            file_bytes: file_done,
            file_total,
            bytes: done,
            total_bytes: total,
            bytes_per_s: if bytes_per_sec.is_finite() {
                bytes_per_sec
            } else {
                0.0
            },
            eta_s: eta_s.filter(|s| s.is_finite()),
        }),
        H::FileStarted { .. } => None,
        H::FileDone { file, .. } => Some(DownloadEvent::FileDone { file }),
        H::Retrying { .. } | H::Finished { .. } => None,
    }
}
