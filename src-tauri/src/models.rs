//! Models: the catalog and its downloads into the Hugging Face cache (`smolvlm-hub`), local
//! models the user adds by path (remembered in `<data>/local-models.json`), the hub's
//! reachability, and loading any of them through the worker with the settings' device and
//! threads.
//!
//! Every download runs on threads of its own (the hub crate's `spawn_download` and one that
//! forwards its events), never on the model worker: the model keeps answering meanwhile. Events
//! go to the command's channel and, as the app event `download-progress` `{id, event}`, to every
//! window; progress is sent at most ten times a second (start, file ends and the end always).
//! Cancelling keeps the partial file; the next `download_model` of the same model resumes it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use smolvlm::LoadOptions;
use smolvlm_hub::catalog::{self, CatalogEntry, Format};
use smolvlm_hub::{CancelToken, Hub, HubCache, HubConfig, HubError, ModelSpec};
use tauri::ipc::Channel;
use tauri::{AppHandle, Emitter, Runtime, State};

use crate::commands::{AppState, wait};
use crate::error::{AppError, AppResult, ErrorPayload};
use crate::store::{new_id, write_atomic};
use crate::validate;
use crate::worker::{ModelInfo, lock};

/// App event every window receives for every download event (payload: [`DownloadProgress`]).
pub const DOWNLOAD_PROGRESS_EVENT: &str = "download-progress";
/// Progress events are sent at most this often (the first and last of each file always).
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);
/// How long a hub reachability probe is trusted.
const PROBE_TTL: Duration = Duration::from_secs(30);
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// What one download streams, in order: `started`, `progress`* and `file-done`*, then `done`,
/// `cancelled` or `error`. JSON: `{"type": "<kebab-case>", ...camelCase fields}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
        bytes_per_s: f64,
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
    fn is_final(&self) -> bool {
        matches!(
            self,
            DownloadEvent::Done { .. } | DownloadEvent::Cancelled | DownloadEvent::Error(_)
        )
    }
}

/// Payload of the `download-progress` app event.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DownloadProgress {
    /// The catalog id.
    pub id: String,
    pub event: DownloadEvent,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DownloadTicket {
    pub download_id: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogModel {
    pub id: String,
    pub repo: String,
    pub title: String,
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

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiskUsage {
    pub bytes: u64,
    pub cache_dir: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HubStatus {
    pub offline: bool,
    pub endpoint: String,
}

/// A model the user added by path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

struct ActiveDownload {
    download_id: String,
    cancel: CancelToken,
}

/// Catalog downloads, local models and the hub's settings.
pub struct ModelManager {
    hub: HubConfig,
    local_path: PathBuf,
    local_guard: Mutex<()>,
    downloads: Arc<Mutex<HashMap<String, ActiveDownload>>>,
    probe: Mutex<Option<(Instant, bool)>>,
}

impl ModelManager {
    /// `hub`: where and how to download (`HubConfig::from_env()` in the app); local models are
    /// remembered in `data_dir`.
    pub fn new(hub: HubConfig, data_dir: &Path) -> Self {
        Self {
            hub,
            local_path: data_dir.join("local-models.json"),
            local_guard: Mutex::new(()),
            downloads: Arc::new(Mutex::new(HashMap::new())),
            probe: Mutex::new(None),
        }
    }

    /// `HF_ENDPOINT`, `HF_HUB_CACHE`/`HF_HOME`, `HF_TOKEN`, `HF_HUB_OFFLINE`; without a home
    /// folder, a cache inside the app data dir.
    pub fn hub_config_from_env(data_dir: &Path) -> HubConfig {
        HubConfig::from_env()
            .unwrap_or_else(|_| HubConfig::new(HubCache::new(data_dir.join("huggingface-hub"))))
    }

    pub fn hub_config(&self) -> &HubConfig {
        &self.hub
    }

    fn cache(&self) -> &HubCache {
        &self.hub.cache
    }

    fn hub(&self) -> AppResult<Hub> {
        Ok(Hub::new(self.hub.clone())?)
    }

    pub fn is_downloading(&self, id: &str) -> bool {
        lock(&self.downloads).contains_key(id)
    }

    /// The catalog with what is installed and what is partly downloaded.
    pub fn catalog(&self) -> AppResult<Vec<CatalogModel>> {
        let hub = self.hub()?;
        Ok(catalog::catalog()
            .iter()
            .map(|e| {
                let installed_path = hub
                    .locate(&ModelSpec::from_entry(e))
                    .ok()
                    .map(|snap| load_path(e, &snap.dir));
                CatalogModel {
                    id: e.id.to_string(),
                    repo: e.repo.to_string(),
                    title: title(e),
                    format: e.format,
                    quant: (e.format == Format::Gguf).then(|| e.precision.to_string()),
                    download_bytes: e.approx_download_bytes,
                    memory_bytes: e.approx_memory_bytes,
                    tokens_per_tile: e.tokens_per_tile,
                    tile_size: e.tile_px,
                    good_for: e.good_for.to_string(),
                    is_default: e.id == catalog::DEFAULT_MODEL,
                    installed: installed_path.is_some(),
                    partial_bytes: if installed_path.is_some() {
                        0
                    } else {
                        partial_bytes(&self.cache().repo_dir(e.repo))
                    },
                    installed_path: installed_path.map(|p| p.display().to_string()),
                }
            })
            .collect())
    }

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
                let mut forward = Forwarder::default();
                for event in events {
                    if let Some(e) = forward.map(event) {
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

    /// Removes catalog model `id` from the cache, or forgets local model `id` (its files stay).
    pub fn delete(&self, id: &str, loaded: Option<&Path>) -> AppResult<()> {
        if id.starts_with("local-") {
            return self.forget_local(id);
        }
        let entry = catalog_entry(id)?;
        if self.is_downloading(entry.id) {
            return Err(AppError::DownloadInProgress(entry.id.to_string()));
        }
        smolvlm_hub::remove(self.cache(), &ModelSpec::from_entry(entry), loaded)?;
        Ok(())
    }

    /// Disk used by the catalog's repositories in the cache.
    pub fn disk_usage(&self) -> DiskUsage {
        let mut repos: Vec<&str> = catalog::catalog().iter().map(|e| e.repo).collect();
        repos.sort_unstable();
        repos.dedup();
        DiskUsage {
            bytes: repos
                .iter()
                .map(|r| smolvlm_hub::cache::disk_usage(&self.cache().repo_dir(r)))
                .sum(),
            cache_dir: self.cache().root().display().to_string(),
        }
    }

    /// Offline when `HF_HUB_OFFLINE` says so or the endpoint cannot be reached (probed at most
    /// every 30 s).
    pub fn hub_status(&self) -> HubStatus {
        let offline = self.hub.offline || !self.reachable();
        HubStatus {
            offline,
            endpoint: self.hub.endpoint.clone(),
        }
    }

    fn reachable(&self) -> bool {
        if let Some((at, ok)) = *lock(&self.probe)
            && at.elapsed() < PROBE_TTL
        {
            return ok;
        }
        let ok = probe(&self.hub.endpoint);
        *lock(&self.probe) = Some((Instant::now(), ok));
        ok
    }

    pub fn local_models(&self) -> AppResult<Vec<LocalModel>> {
        let _g = lock(&self.local_guard);
        self.read_local()
    }

    /// Checks what `path` is and remembers it; answers the entry and whether it is new.
    pub fn remember_local(&self, path: &Path) -> AppResult<(LocalModel, bool)> {
        let found = smolvlm_hub::inspect(path)?;
        let mmproj = if found.path.is_file() {
            pair_mmproj(&found.path).or(found.mmproj)
        } else {
            None
        };
        let path_text = found.path.display().to_string();
        let model = LocalModel {
            id: local_id(&path_text),
            name: found.name,
            path: path_text,
            mmproj: mmproj.map(|p| p.display().to_string()),
        };
        let _g = lock(&self.local_guard);
        let mut all = self.read_local()?;
        let new = match all.iter_mut().find(|m| m.id == model.id) {
            Some(existing) => {
                *existing = model.clone();
                false
            }
            None => {
                all.push(model.clone());
                true
            }
        };
        self.write_local(&all)?;
        Ok((model, new))
    }

    pub fn forget_local(&self, id: &str) -> AppResult<()> {
        let _g = lock(&self.local_guard);
        let mut all = self.read_local()?;
        let before = all.len();
        all.retain(|m| m.id != id);
        if all.len() == before {
            return Err(AppError::NotFound {
                what: format!("local model {id}"),
            });
        }
        self.write_local(&all)
    }

    fn read_local(&self) -> AppResult<Vec<LocalModel>> {
        match std::fs::read(&self.local_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| AppError::Corrupt {
                path: self.local_path.clone(),
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(AppError::storage(&self.local_path, e)),
        }
    }

    fn write_local(&self, all: &[LocalModel]) -> AppResult<()> {
        let bytes = serde_json::to_vec_pretty(all).map_err(|e| AppError::Corrupt {
            path: self.local_path.clone(),
            reason: e.to_string(),
        })?;
        write_atomic(&self.local_path, &bytes)
    }
}

fn catalog_entry(id: &str) -> AppResult<&'static CatalogEntry> {
    if id.is_empty() || id.len() > 128 {
        return Err(AppError::invalid(format!("{id:?} is not a catalog id")));
    }
    catalog::find(id).ok_or_else(|| AppError::NotFound {
        what: format!("catalog model {id:?}"),
    })
}

fn title(e: &CatalogEntry) -> String {
    match e.format {
        Format::Safetensors => e.model.to_string(),
        Format::Gguf => format!("{} ({} GGUF)", e.model, e.precision),
    }
}

/// What `load_model` takes for an installed catalog model.
fn load_path(e: &CatalogEntry, snapshot: &Path) -> PathBuf {
    match e.gguf_model {
        Some(file) => snapshot.join(file),
        None => snapshot.to_path_buf(),
    }
}

fn partial_bytes(repo_dir: &Path) -> u64 {
    std::fs::read_dir(repo_dir.join("blobs"))
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".incomplete"))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn local_id(path: &str) -> String {
    let digest = hex::encode(Sha256::digest(path.as_bytes()));
    format!("local-{}", &digest[..12])
}

/// The vision projector for a text-model GGUF: an `mmproj*.gguf` in the same folder, preferring
/// one whose name carries the model's quantization (`model-q8_0.gguf` → `mmproj-q8_0.gguf`),
/// else the first by name.
pub fn pair_mmproj(model: &Path) -> Option<PathBuf> {
    let dir = model.parent()?;
    let stem = model.file_stem()?.to_string_lossy().to_ascii_lowercase();
    let mut candidates: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.as_path() != model && p.is_file())
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            name.starts_with("mmproj") && name.ends_with(".gguf")
        })
        .filter(|p| {
            smolvlm_hub::local::read_gguf_header(p)
                .ok()
                .flatten()
                .is_some_and(|info| info.is_projector())
        })
        .collect();
    candidates.sort();
    let quant = stem.rsplit(['-', '.']).next().unwrap_or("").to_string();
    let matching = candidates.iter().find(|p| {
        let name = p
            .file_stem()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        !quant.is_empty() && name.rsplit(['-', '.']).next() == Some(quant.as_str())
    });
    matching.or(candidates.first()).cloned()
}

/// Whether a TCP connection to the endpoint's host opens.
fn probe(endpoint: &str) -> bool {
    use std::net::{TcpStream, ToSocketAddrs};
    let (scheme, rest) = endpoint.split_once("://").unwrap_or(("https", endpoint));
    let authority = rest.split('/').next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let default_port = if scheme.eq_ignore_ascii_case("http") {
        80
    } else {
        443
    };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        match v6.split_once(']') {
            Some((h, p)) => (
                h.to_string(),
                p.strip_prefix(':')
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(default_port),
            ),
            None => return false,
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => match p.parse() {
                Ok(p) => (h.to_string(), p),
                Err(_) => return false,
            },
            None => (authority.to_string(), default_port),
        }
    };
    if host.is_empty() {
        return false;
    }
    let Ok(addrs) = (host.as_str(), port).to_socket_addrs() else {
        return false;
    };
    addrs
        .take(4)
        .any(|a| TcpStream::connect_timeout(&a, PROBE_TIMEOUT).is_ok())
}

/// Turns hub events into the app's, throttling progress.
#[derive(Default)]
struct Forwarder {
    last_progress: Option<Instant>,
}

impl Forwarder {
    fn map(&mut self, event: smolvlm_hub::DownloadEvent) -> Option<DownloadEvent> {
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
            } => {
                let now = Instant::now();
                let due = file_done >= file_total
                    || self
                        .last_progress
                        .is_none_or(|t| now.duration_since(t) >= PROGRESS_INTERVAL);
                if !due {
                    return None;
                }
                self.last_progress = Some(now);
                Some(DownloadEvent::Progress {
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
                })
            }
            H::FileStarted { .. } => {
                // The first chunk of every file is reported.
                self.last_progress = None;
                None
            }
            H::FileDone { file, .. } => Some(DownloadEvent::FileDone { file }),
            H::Retrying { .. } | H::Finished { .. } => None,
        }
    }
}

/// Loads `path` (a model folder, its `config.json`, or a text-model `.gguf`, whose projector is
/// found beside it when `mmproj` is not given) with the settings' device and threads; records it
/// as the last model.
pub(crate) async fn load(
    state: &AppState,
    path: PathBuf,
    mmproj: Option<PathBuf>,
) -> AppResult<ModelInfo> {
    let is_gguf = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("gguf"));
    let mmproj = match mmproj {
        Some(p) => Some(p),
        None if is_gguf => pair_mmproj(&path),
        None => None,
    };
    let settings = state.settings.get();
    let options = LoadOptions {
        device: settings.device,
        mmproj,
        ..LoadOptions::default()
    };
    let rx = state.worker.load(&path, options, settings.threads)?;
    let info = wait(rx).await?;
    let last = path.display().to_string();
    if let Err(e) = state.settings.update(|s| s.last_model = Some(last)) {
        eprintln!("smolvlm-desktop: could not remember the last model: {e}");
    }
    Ok(info)
}

#[tauri::command(async)]
pub fn list_catalog(state: State<'_, AppState>) -> AppResult<Vec<CatalogModel>> {
    state.models.catalog()
}

/// Downloads (or resumes) catalog model `id` into the Hugging Face cache; events stream to
/// `on_event` and to every window as `download-progress`. Refused with `download_in_progress`
/// while the same model is downloading.
#[tauri::command]
pub fn download_model<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    id: String,
    on_event: Channel<DownloadEvent>,
) -> AppResult<DownloadTicket> {
    state.models.start_download(&id, move |id, event| {
        let _ = app.emit(
            DOWNLOAD_PROGRESS_EVENT,
            DownloadProgress {
                id: id.to_string(),
                event: event.clone(),
            },
        );
        let _ = on_event.send(event.clone());
    })
}

/// Stops a download, keeping what was fetched; false when none runs for `id`.
#[tauri::command]
pub fn cancel_download(state: State<'_, AppState>, id: String) -> bool {
    state.models.cancel_download(&id)
}

/// Removes a catalog model's files from the cache (refused for the loaded model), or forgets a
/// local model (`local-…` ids; its files stay).
#[tauri::command(async)]
pub fn delete_model(state: State<'_, AppState>, id: String) -> AppResult<()> {
    let loaded = state.worker.status().model.map(|m| PathBuf::from(m.path));
    state.models.delete(&id, loaded.as_deref())
}

#[tauri::command(async)]
pub fn models_disk_usage(state: State<'_, AppState>) -> DiskUsage {
    state.models.disk_usage()
}

/// Remembers a `.gguf` file (with the `mmproj*.gguf` beside it) or a model folder, and loads it.
#[tauri::command]
pub async fn add_local_model(state: State<'_, AppState>, path: String) -> AppResult<LocalModel> {
    let path = validate::absolute(&path, "model path")?;
    if !path.exists() {
        return Err(AppError::NotFound {
            what: format!("model {}", path.display()),
        });
    }
    let models = &state.models;
    let (model, new) = {
        let path = path.clone();
        // Reads GGUF headers: off the async runtime's threads.
        let manager = state.models.clone();
        tauri::async_runtime::spawn_blocking(move || manager.remember_local(&path))
            .await
            .map_err(|_| AppError::WorkerUnavailable)??
    };
    let result = load(
        &state,
        PathBuf::from(&model.path),
        model.mmproj.as_ref().map(PathBuf::from),
    )
    .await;
    match result {
        Ok(_) => Ok(model),
        Err(e) => {
            if new {
                let _ = models.forget_local(&model.id);
            }
            Err(e)
        }
    }
}

#[tauri::command(async)]
pub fn list_local_models(state: State<'_, AppState>) -> AppResult<Vec<LocalModel>> {
    state.models.local_models()
}

#[tauri::command(async)]
pub fn hub_status(state: State<'_, AppState>) -> HubStatus {
    state.models.hub_status()
}
