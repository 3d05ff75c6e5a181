//! Downloads into the hub cache: model info with LFS hashes, resumable ranged transfers, retries
//! with backoff, sha256 / git-blob verification, progress events, cancel, offline mode.
//!
//! The parts, each in its own module (none uses this one, so there is no cycle): `config`
//! (endpoint, token, offline, timeouts), `listing` (what the hub lists, the plan, the snapshot),
//! `progress` (events and their throttle), `retry` (the policy), `transfer` (one file's ranged
//! resume), `verify` (hashes), `verified` (the record that spares rehashing). One writer per
//! blob is the crate's [`lock`](crate::lock), which garbage collection takes too.

mod config;
mod listing;
mod progress;
mod retry;
mod transfer;
mod verified;
mod verify;

use std::io::Read;
use std::sync::Arc;

use crate::cache::{HubCache, free_space};
use crate::catalog::{ModelSpec, find};
use crate::error::{HubError, Result};
use crate::lock::BlobLock;

#[cfg(feature = "test-server")]
pub use config::InjectedFaults;
pub use config::{DEFAULT_ENDPOINT, HubConfig};
pub use listing::{Checksum, PlannedFile, RemoteFile, RepoInfo, Snapshot};
pub use progress::{DownloadEvent, PROGRESS_INTERVAL};
/// The project's one cancel flag (the engine's generations stop on the same type).
pub use smolvlm_cancel::CancelToken;
pub use transfer::partial_path;

use listing::parse_info;
use progress::Meter;
use retry::{Failure, RetryPolicy, classify};
use transfer::{FileJob, Http, file_len};
use verified::Verdict;

/// The client.
pub struct Hub {
    cfg: HubConfig,
    api: hf_hub::api::sync::Api,
    http: Http,
}

impl Hub {
    pub fn new(cfg: HubConfig) -> Result<Self> {
        let api = hf_hub::api::sync::ApiBuilder::from_cache(hf_hub::Cache::new(
            cfg.cache.root().to_path_buf(),
        ))
        .with_endpoint(cfg.endpoint.clone())
        .with_token(cfg.token.clone())
        .with_progress(false)
        .build()
        .map_err(|e| HubError::Network {
            endpoint: cfg.endpoint.clone(),
            reason: e.to_string(),
        })?;
        let http = Http::new(&cfg);
        Ok(Self { cfg, api, http })
    }

    pub fn from_env() -> Result<Self> {
        Self::new(HubConfig::from_env()?)
    }

    pub fn config(&self) -> &HubConfig {
        &self.cfg
    }

    pub fn cache(&self) -> &HubCache {
        &self.cfg.cache
    }

    fn hf_repo(&self, repo: &str, revision: &str) -> hf_hub::Repo {
        hf_hub::Repo::with_revision(
            repo.to_string(),
            hf_hub::RepoType::Model,
            revision.to_string(),
        )
    }

    fn policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_retries: self.cfg.max_retries,
            base: self.cfg.backoff_base,
            max: self.cfg.backoff_max,
        }
    }

    /// The files of `repo` at `revision`, with sizes and hashes
    /// (`GET /api/models/<repo>/revision/<rev>?blobs=true`).
    pub fn repo_info(
        &self,
        repo: &str,
        revision: &str,
        on_event: &mut dyn FnMut(&DownloadEvent),
    ) -> Result<RepoInfo> {
        let what = format!("{repo}@{revision}");
        let url = format!(
            "{}/api/{}?blobs=true",
            self.cfg.endpoint,
            self.hf_repo(repo, revision).api_url()
        );
        let policy = self.policy();
        let mut attempt = 0;
        let body = loop {
            let failure = match self.http.get(&url).call() {
                Ok(resp) => {
                    let mut body = String::new();
                    match resp.into_reader().take(64 << 20).read_to_string(&mut body) {
                        Ok(_) => break body,
                        Err(e) => Failure::transport(e.to_string()),
                    }
                }
                Err(e) => classify(e, &what),
            };
            match failure {
                Failure::Fatal(e) => return Err(e),
                Failure::Transient { status, reason } => {
                    let wait = policy.next_wait(
                        &mut attempt,
                        &self.cfg.endpoint,
                        &what,
                        status,
                        &reason,
                    )?;
                    on_event(&DownloadEvent::Retrying {
                        file: None,
                        attempt,
                        wait_ms: wait.as_millis() as u64,
                        reason,
                    });
                    std::thread::sleep(wait);
                }
            }
        };
        parse_info(repo, &what, &body)
    }

    /// The snapshot of `spec` from the cache alone; `OfflineNotCached` if it is not complete.
    pub fn locate(&self, spec: &ModelSpec) -> Result<Snapshot> {
        let what = format!("{}@{}", spec.repo, spec.revision);
        let missing = || HubError::OfflineNotCached {
            what: what.clone(),
            cache: self.cfg.cache.root().to_path_buf(),
        };
        let commit = self
            .cfg
            .cache
            .resolve_revision(&spec.repo, &spec.revision)
            .ok_or_else(missing)?;
        let dir = self.cfg.cache.snapshot_dir(&spec.repo, &commit);
        let files: Vec<String> = self
            .cfg
            .cache
            .snapshot_files(&spec.repo, &commit)
            .into_iter()
            .filter(|f| spec.wants(f))
            .collect();
        // A corrupted file is not left out (the rest could look complete): it is not cached.
        if !files
            .iter()
            .all(|f| self.trustworthy(&spec.repo, &dir.join(f)))
        {
            return Err(missing());
        }
        let literal_missing = spec
            .include
            .iter()
            .filter(|g| !g.contains(['*', '?']))
            .any(|g| !files.iter().any(|f| f == g));
        if files.is_empty() || literal_missing || !catalog_complete(spec, &files) {
            return Err(missing());
        }
        Ok(Snapshot {
            repo: spec.repo.clone(),
            revision: spec.revision.clone(),
            dir,
            commit,
            files,
            transferred_bytes: 0,
            from_cache_only: true,
        })
    }

    /// Whether the snapshot file `pointer` may be used: its content is what the blob it links
    /// to is named for (hashed once, then vouched for by the record while the file is
    /// unchanged). A file whose blob name is no hash, or a copy where the platform has no
    /// links, cannot be checked and is trusted as Python trusts it.
    fn trustworthy(&self, repo: &str, pointer: &std::path::Path) -> bool {
        let Ok(target) = std::fs::read_link(pointer) else {
            return true;
        };
        let Some(checksum) = target
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(Checksum::from_blob_id)
        else {
            return true;
        };
        verified::check(&self.cfg.cache, repo, pointer, &checksum, None) == Verdict::Good
    }

    /// Fetches every wanted file of `spec` that the cache lacks, verified, and returns the
    /// snapshot. Offline: the cache alone. Unreachable hub: the cache if it has it all.
    ///
    /// Events: `Plan`, then per file `FileStarted`, `Progress` (throttled to one per
    /// [`HubConfig::progress_interval`], the first and completing chunk always sent), `Retrying`
    /// as needed and `FileDone`; `Finished` last on success.
    pub fn download(
        &self,
        spec: &ModelSpec,
        cancel: &CancelToken,
        on_event: &mut dyn FnMut(&DownloadEvent),
    ) -> Result<Snapshot> {
        if self.cfg.offline {
            return self.locate(spec);
        }
        let info = match self.repo_info(&spec.repo, &spec.revision, on_event) {
            Ok(info) => info,
            Err(e @ HubError::Network { .. }) => return self.locate(spec).map_err(|_| e),
            Err(e) => return Err(e),
        };
        let files: Vec<&RemoteFile> = info.files.iter().filter(|f| spec.wants(&f.path)).collect();
        for g in spec.include.iter().filter(|g| !g.contains(['*', '?'])) {
            if !files.iter().any(|f| &f.path == g) {
                return Err(HubError::NotFound {
                    what: format!("{g} in {}@{}", spec.repo, spec.revision),
                });
            }
        }
        if files.is_empty() {
            return Err(HubError::NotFound {
                what: format!(
                    "files matching {:?} in {}@{}",
                    spec.include, spec.repo, spec.revision
                ),
            });
        }
        let cache = &self.cfg.cache;
        let plan: Vec<PlannedFile> = files
            .iter()
            .map(|f| {
                let blob = cache.blob_path(&spec.repo, f.checksum.blob_id());
                // Hashed here once if no record vouches for it (a blob another tool left, or
                // one changed since), so the plan counts a bad one as still to fetch.
                let cached = verified::check(cache, &spec.repo, &blob, &f.checksum, Some(f.size))
                    == Verdict::Good;
                let partial = if cached {
                    0
                } else {
                    file_len(&partial_path(&blob)).unwrap_or(0).min(f.size)
                };
                PlannedFile {
                    path: f.path.clone(),
                    size: f.size,
                    cached,
                    partial_bytes: partial,
                }
            })
            .collect();
        let total: u64 = plan.iter().map(|p| p.size).sum();
        let to_transfer: u64 = plan
            .iter()
            .filter(|p| !p.cached)
            .map(|p| p.size - p.partial_bytes)
            .sum();
        on_event(&DownloadEvent::Plan {
            repo: spec.repo.clone(),
            revision: spec.revision.clone(),
            commit: info.commit.clone(),
            files: plan.clone(),
            total_bytes: total,
            to_transfer_bytes: to_transfer,
        });
        let blobs_dir = cache.repo_dir(&spec.repo).join("blobs");
        if to_transfer > 0 {
            let available = self
                .cfg
                .injected_free_space()
                .or_else(|| free_space(&blobs_dir));
            if let Some(available) = available
                && available < to_transfer
            {
                return Err(HubError::InsufficientSpace {
                    path: blobs_dir,
                    needed: to_transfer,
                    available,
                });
            }
        }
        std::fs::create_dir_all(&blobs_dir).map_err(|e| HubError::io(&blobs_dir, e))?;

        let mut meter = Meter::new(
            total,
            plan.iter()
                .map(|p| if p.cached { p.size } else { p.partial_bytes })
                .sum(),
            self.cfg.progress_interval,
        );
        let mut transferred = 0u64;
        let mut written_total = 0u64;
        for (file, planned) in files.iter().zip(&plan) {
            let id = file.checksum.blob_id();
            // Held from the check of the blob to its link, as Python holds it: a cached blob
            // no snapshot links yet is otherwise fair game for a concurrent removal.
            let held = BlobLock::acquire(&cache.lock_path(&spec.repo, id))?;
            let url = self
                .api
                .repo(self.hf_repo(&spec.repo, &info.commit))
                .url(&file.path);
            let mut job = FileJob {
                http: &self.http,
                cfg: &self.cfg,
                repo: &spec.repo,
                url,
                file,
                cancel,
                meter: &mut meter,
                written_total: &mut written_total,
                on_event,
            };
            let fetched = job.run(&held)?;
            transferred += fetched.unwrap_or(0);
            cache.link_snapshot(&spec.repo, &info.commit, &file.path, id)?;
            drop(held);
            on_event(&DownloadEvent::FileDone {
                file: file.path.clone(),
                size: file.size,
                cached: planned.cached && fetched.is_none(),
            });
        }
        cache.write_ref(&spec.repo, &spec.revision, &info.commit)?;
        let dir = cache.snapshot_dir(&spec.repo, &info.commit);
        on_event(&DownloadEvent::Finished {
            dir: dir.clone(),
            transferred_bytes: transferred,
        });
        Ok(Snapshot {
            repo: spec.repo.clone(),
            revision: spec.revision.clone(),
            commit: info.commit.clone(),
            dir,
            files: files.iter().map(|f| f.path.clone()).collect(),
            transferred_bytes: transferred,
            from_cache_only: false,
        })
    }

    /// [`Hub::download`] on a thread: events arrive on the receiver, the result on the handle.
    pub fn spawn_download(
        self: Arc<Self>,
        spec: ModelSpec,
        cancel: CancelToken,
    ) -> (
        std::sync::mpsc::Receiver<DownloadEvent>,
        std::thread::JoinHandle<Result<Snapshot>>,
    ) {
        let (tx, rx) = std::sync::mpsc::channel();
        let handle = std::thread::spawn(move || {
            self.download(&spec, &cancel, &mut |e| {
                let _ = tx.send(e.clone());
            })
        });
        (rx, handle)
    }
}

/// Catalog GGUF entries need both files; safetensors entries a config and weights.
fn catalog_complete(spec: &ModelSpec, files: &[String]) -> bool {
    let Some(entry) = spec.catalog_id.as_deref().and_then(find) else {
        return true;
    };
    match (entry.gguf_model, entry.gguf_mmproj) {
        (Some(m), Some(p)) => files.iter().any(|f| f == m) && files.iter().any(|f| f == p),
        _ => {
            files.iter().any(|f| f == "config.json")
                && files.iter().any(|f| f.ends_with(".safetensors"))
        }
    }
}
