//! The app's local OpenAI-compatible API (`smolvlm-server`), started and stopped as the
//! `localApi` settings are saved. It shares the chat's worker, so the API and the chat use one
//! model in memory; requests naming another installed model load it, as the model manager would.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use smolvlm::{DevicePreference, LoadOptions};
use smolvlm_server::{CatalogModel, ModelCatalog, ServerConfig, ServerHandle, created_of};

use crate::connections::LocalApiSettings;
use crate::error::{AppError, ErrorPayload};
use crate::models::ModelManager;
use crate::settings::Settings;
use crate::sync::lock;
use crate::worker::WorkerHandle;

/// What the settings show of the local API.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct LocalApiStatus {
    pub running: bool,
    /// `http://host:port/v1`, while running.
    pub url: Option<String>,
    /// Why it is not running although enabled (the port is taken, …).
    pub error: Option<ErrorPayload>,
}

struct Running {
    /// What it was started with: saving other settings does not restart it.
    started_with: (LocalApiSettings, DevicePreference, usize),
    handle: ServerHandle,
}

#[derive(Default)]
pub struct LocalApi {
    running: Mutex<Option<Running>>,
    error: Mutex<Option<ErrorPayload>>,
}

impl LocalApi {
    /// Starts, restarts or stops the server to match `settings`.
    pub fn apply(
        &self,
        settings: &Settings,
        worker: &WorkerHandle,
        models: &Arc<ModelManager>,
    ) -> LocalApiStatus {
        let api = &settings.local_api;
        let load = LoadOptions {
            device: settings.device,
            threads: settings.threads,
            ..LoadOptions::default()
        };
        {
            let mut running = lock(&self.running);
            let wanted = (api.clone(), settings.device, settings.threads);
            let same = running
                .as_ref()
                .is_some_and(|r| api.enabled && r.started_with == wanted);
            if !same {
                if let Some(r) = running.take() {
                    r.handle.shutdown();
                }
                *lock(&self.error) = None;
                if api.enabled {
                    match start(api, load, worker, models) {
                        Ok(handle) => {
                            log::info!("local API serving on {}", url(handle.local_addr()));
                            *running = Some(Running {
                                started_with: wanted,
                                handle,
                            })
                        }
                        Err(e) => {
                            log::error!("the local API could not start: {e}");
                            *lock(&self.error) = Some(e.payload());
                        }
                    }
                }
            }
        }
        self.status()
    }

    pub fn status(&self) -> LocalApiStatus {
        let running = lock(&self.running);
        LocalApiStatus {
            running: running.is_some(),
            url: running.as_ref().map(|r| url(r.handle.local_addr())),
            error: lock(&self.error).clone(),
        }
    }

    /// Stops the server (the app is closing).
    pub fn stop(&self) {
        if let Some(r) = lock(&self.running).take() {
            r.handle.shutdown();
        }
    }
}

fn url(addr: SocketAddr) -> String {
    format!("http://{addr}/v1")
}

fn start(
    api: &LocalApiSettings,
    load_options: LoadOptions,
    worker: &WorkerHandle,
    models: &Arc<ModelManager>,
) -> Result<ServerHandle, AppError> {
    let host: IpAddr = api
        .host
        .parse()
        .map_err(|_| AppError::invalid(format!("{:?} is not an IP address", api.host)))?;
    let config = ServerConfig {
        addr: SocketAddr::new(host, api.port),
        api_key: api.key(),
        load_options,
        ..ServerConfig::default()
    };
    let catalog = Arc::new(AppCatalog(models.clone()));
    Ok(smolvlm_server::start(
        config,
        worker.worker().clone(),
        catalog,
    )?)
}

/// The models the model manager knows to be on disk: installed catalog models (by catalog id)
/// and the local models the user added (by their `local-…` id).
struct AppCatalog(Arc<ModelManager>);

impl ModelCatalog for AppCatalog {
    fn models(&self) -> Vec<CatalogModel> {
        let mut out = Vec::new();
        if let Ok(catalog) = self.0.catalog() {
            for m in catalog {
                let Some(path) = m.installed_path.map(PathBuf::from) else {
                    continue;
                };
                let mmproj = if path.is_file() {
                    smolvlm_hub::pair_mmproj(&path).ok().flatten()
                } else {
                    None
                };
                out.push(CatalogModel {
                    id: m.id,
                    created: created_of(&path),
                    path,
                    mmproj,
                });
            }
        }
        if let Ok(local) = self.0.local_models() {
            for m in local {
                let path = PathBuf::from(&m.path);
                out.push(CatalogModel {
                    id: m.id,
                    created: created_of(&path),
                    path,
                    mmproj: m.mmproj.map(PathBuf::from),
                });
            }
        }
        out
    }
}
