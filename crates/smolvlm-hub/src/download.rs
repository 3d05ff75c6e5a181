//! Downloads into the hub cache: model info with LFS hashes, resumable ranged transfers, retries
//! with backoff, sha256 / git-blob verification, progress events, cancel, offline mode.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::cache::{HubCache, free_space, offline_from_env, token_from_env};
use crate::catalog::{ModelSpec, find};
use crate::error::{HubError, Result};

/// Where and how to talk to the hub.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// `HF_ENDPOINT`, default `https://huggingface.co`.
    pub endpoint: String,
    pub cache: HubCache,
    /// `HF_TOKEN` or the saved login token.
    pub token: Option<String>,
    /// `HF_HUB_OFFLINE`: never touch the network, use the cache or fail clearly.
    pub offline: bool,
    /// Retries after a 5xx, 408, 429, timeout, stall or cut connection (per file, counted
    /// since the last attempt that made progress).
    pub max_retries: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub connect_timeout: Duration,
    /// A read that waits longer than this is a stall: the transfer is retried from where it is.
    pub read_timeout: Duration,
    /// Read buffer for transfers; progress and cancel are checked once per chunk.
    pub chunk_size: usize,
    /// Use `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` (never for a loopback endpoint).
    pub use_env_proxy: bool,
    #[doc(hidden)]
    pub faults: InjectedFaults,
}

/// Failures that cannot be produced on demand otherwise, for tests: a disk that fills after a
/// number of bytes, and the free space the pre-download check sees.
#[doc(hidden)]
#[derive(Debug, Clone, Default)]
pub struct InjectedFaults {
    pub disk_full_after_bytes: Option<u64>,
    pub free_space_bytes: Option<u64>,
}

pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

impl HubConfig {
    /// Settings for `cache` with the hub defaults and no token.
    pub fn new(cache: HubCache) -> Self {
        Self {
            endpoint: DEFAULT_ENDPOINT.into(),
            cache,
            token: None,
            offline: false,
            max_retries: 5,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(30),
            chunk_size: 256 * 1024,
            use_env_proxy: true,
            faults: InjectedFaults::default(),
        }
    }

    /// `HF_HUB_CACHE`/`HF_HOME`, `HF_ENDPOINT`, `HF_TOKEN`, `HF_HUB_OFFLINE`, as Python reads them.
    pub fn from_env() -> Result<Self> {
        let cache = HubCache::from_env().ok_or_else(|| {
            HubError::io(
                "~/.cache/huggingface/hub",
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no home folder; set HF_HOME or HF_HUB_CACHE",
                ),
            )
        })?;
        let mut cfg = Self::new(cache);
        if let Ok(endpoint) = std::env::var("HF_ENDPOINT")
            && !endpoint.trim().is_empty()
        {
            cfg.endpoint = endpoint.trim().trim_end_matches('/').to_string();
        }
        cfg.token = token_from_env();
        cfg.offline = offline_from_env();
        Ok(cfg)
    }
}

/// Stops a download between two chunks; the partial file is kept for resuming.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// How a file is checked before it counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "hex", rename_all = "snake_case")]
pub enum Checksum {
    /// LFS files: the sha256 of the content (the hub's LFS oid).
    Sha256(String),
    /// Small files kept in git: the git blob id, sha1 of `blob <len>\0<content>`.
    GitSha1(String),
}

impl Checksum {
    /// The blob's file name in the cache (the hub's ETag, as Python names it).
    pub fn blob_id(&self) -> &str {
        match self {
            Checksum::Sha256(h) | Checksum::GitSha1(h) => h,
        }
    }
}

/// One file of a repository at a commit.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteFile {
    pub path: String,
    pub size: u64,
    pub checksum: Checksum,
}

/// The hub's answer for a repository at a revision.
#[derive(Debug, Clone, Serialize)]
pub struct RepoInfo {
    pub repo: String,
    pub commit: String,
    pub files: Vec<RemoteFile>,
}

#[derive(Deserialize)]
struct RawInfo {
    sha: String,
    siblings: Vec<RawSibling>,
}

#[derive(Deserialize)]
struct RawSibling {
    rfilename: String,
    size: Option<u64>,
    #[serde(rename = "blobId")]
    blob_id: Option<String>,
    lfs: Option<RawLfs>,
}

#[derive(Deserialize)]
struct RawLfs {
    sha256: String,
    size: u64,
}

/// A model present in the cache, ready to load.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub repo: String,
    pub revision: String,
    pub commit: String,
    /// `snapshots/<commit>`: a Hugging Face model folder.
    pub dir: PathBuf,
    /// The wanted files, relative to `dir`.
    pub files: Vec<String>,
    /// Bytes actually transferred by this call (0 when everything was cached).
    pub transferred_bytes: u64,
    /// True when the hub was not asked (offline, or unreachable and the cache had it).
    pub from_cache_only: bool,
}

impl Snapshot {
    pub fn path_of(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }
}

/// A file in the plan of a download.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedFile {
    pub path: String,
    pub size: u64,
    /// Already complete in the cache.
    pub cached: bool,
    /// Bytes of a partial download that will be resumed.
    pub partial_bytes: u64,
}

/// Progress, as a stream of events; the app forwards them to its UI.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum DownloadEvent {
    /// The hub answered: what will be fetched.
    Plan {
        repo: String,
        revision: String,
        commit: String,
        files: Vec<PlannedFile>,
        total_bytes: u64,
        to_transfer_bytes: u64,
    },
    FileStarted {
        file: String,
        size: u64,
        resume_from: u64,
    },
    Progress {
        file: String,
        file_done: u64,
        file_total: u64,
        done: u64,
        total: u64,
        bytes_per_sec: f64,
        eta_s: Option<f64>,
    },
    Retrying {
        file: Option<String>,
        attempt: u32,
        wait_ms: u64,
        reason: String,
    },
    FileDone {
        file: String,
        size: u64,
        cached: bool,
    },
    Finished {
        dir: PathBuf,
        transferred_bytes: u64,
    },
}

/// The client.
pub struct Hub {
    cfg: HubConfig,
    api: hf_hub::api::sync::Api,
    agent: ureq::Agent,
}

enum Failure {
    /// Worth another try: a 5xx/408/429 status, or a transport error (`status` None).
    Transient {
        status: Option<u16>,
        reason: String,
    },
    Fatal(HubError),
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
        let loopback = is_loopback(&cfg.endpoint);
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(cfg.connect_timeout)
            .timeout_read(cfg.read_timeout)
            .redirects(5)
            .redirect_auth_headers(ureq::RedirectAuthHeaders::SameHost)
            .try_proxy_from_env(cfg.use_env_proxy && !loopback)
            .user_agent(concat!(
                "smolvlm-hub/",
                env!("CARGO_PKG_VERSION"),
                "; hf-hub/0.4"
            ))
            .build();
        Ok(Self { cfg, api, agent })
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

    fn get(&self, url: &str) -> ureq::Request {
        let req = self.agent.get(url);
        match &self.cfg.token {
            Some(t) => req.set("Authorization", &format!("Bearer {t}")),
            None => req,
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .cfg
            .backoff_base
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.cfg.backoff_max);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let jitter_cap = (exp.as_millis() as u64 / 4).max(1);
        exp + Duration::from_millis(u64::from(nanos) % jitter_cap)
    }

    fn classify(&self, err: ureq::Error, what: &str) -> Failure {
        match err {
            ureq::Error::Status(status, _) => match status {
                401 | 403 => Failure::Fatal(HubError::Unauthorized {
                    what: what.to_string(),
                    status,
                }),
                404 => Failure::Fatal(HubError::NotFound {
                    what: what.to_string(),
                }),
                408 | 429 | 500..=599 => Failure::Transient {
                    status: Some(status),
                    reason: format!("HTTP {status}"),
                },
                _ => Failure::Fatal(HubError::Http {
                    what: what.to_string(),
                    status,
                }),
            },
            ureq::Error::Transport(t) => Failure::Transient {
                status: None,
                reason: t.to_string(),
            },
        }
    }

    fn give_up(&self, what: &str, status: Option<u16>, reason: String, attempts: u32) -> HubError {
        match status {
            Some(status) => HubError::Server {
                what: what.to_string(),
                status,
                attempts,
            },
            None => HubError::Network {
                endpoint: self.cfg.endpoint.clone(),
                reason,
            },
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
        let mut attempt = 0;
        let body = loop {
            let failure = match self.get(&url).call() {
                Ok(resp) => {
                    let mut body = String::new();
                    match resp.into_reader().take(64 << 20).read_to_string(&mut body) {
                        Ok(_) => break body,
                        Err(e) => Failure::Transient {
                            status: None,
                            reason: e.to_string(),
                        },
                    }
                }
                Err(e) => self.classify(e, &what),
            };
            match failure {
                Failure::Fatal(e) => return Err(e),
                Failure::Transient { status, reason } => {
                    if attempt >= self.cfg.max_retries {
                        return Err(self.give_up(&what, status, reason, attempt + 1));
                    }
                    let wait = self.backoff(attempt);
                    attempt += 1;
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
        let files: Vec<String> = self
            .cfg
            .cache
            .snapshot_files(&spec.repo, &commit)
            .into_iter()
            .filter(|f| spec.wants(f))
            .collect();
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
            dir: self.cfg.cache.snapshot_dir(&spec.repo, &commit),
            commit,
            files,
            transferred_bytes: 0,
            from_cache_only: true,
        })
    }

    /// Fetches every wanted file of `spec` that the cache lacks, verified, and returns the
    /// snapshot. Offline: the cache alone. Unreachable hub: the cache if it has it all.
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
                let cached = file_len(&blob) == Some(f.size);
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
                .faults
                .free_space_bytes
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
        );
        let mut transferred = 0u64;
        let mut written_total = 0u64;
        for (file, planned) in files.iter().zip(&plan) {
            if !planned.cached {
                let mut job = FileJob {
                    hub: self,
                    repo: &spec.repo,
                    commit: &info.commit,
                    file,
                    cancel,
                    meter: &mut meter,
                    written_total: &mut written_total,
                    on_event,
                };
                transferred += job.run()?;
            }
            cache.link_snapshot(
                &spec.repo,
                &info.commit,
                &file.path,
                file.checksum.blob_id(),
            )?;
            on_event(&DownloadEvent::FileDone {
                file: file.path.clone(),
                size: file.size,
                cached: planned.cached,
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

fn is_loopback(endpoint: &str) -> bool {
    let host = endpoint
        .split("://")
        .nth(1)
        .unwrap_or(endpoint)
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    matches!(host, "127.0.0.1" | "localhost") || endpoint.contains("://[::1]")
}

fn file_len(path: &Path) -> Option<u64> {
    std::fs::metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len())
}

/// `blobs/<id>.incomplete`, the name Python uses too, so either resumes the other's partial.
pub fn partial_path(blob: &Path) -> PathBuf {
    let mut name = blob
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".incomplete");
    blob.with_file_name(name)
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn safe_rel_path(p: &str) -> bool {
    !p.is_empty()
        && !p.starts_with('/')
        && !p.contains('\\')
        && !p.contains('\0')
        && p.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
}

fn parse_info(repo: &str, what: &str, body: &str) -> Result<RepoInfo> {
    let bad = |reason: String| HubError::BadResponse {
        what: what.to_string(),
        reason,
    };
    let raw: RawInfo =
        serde_json::from_str(body).map_err(|e| bad(format!("model info is not valid: {e}")))?;
    if !is_hex(&raw.sha, 40) {
        return Err(bad(format!("commit {:?} is not a commit hash", raw.sha)));
    }
    let mut files = Vec::new();
    for s in raw.siblings {
        if !safe_rel_path(&s.rfilename) {
            return Err(bad(format!("unsafe file name {:?}", s.rfilename)));
        }
        let (size, checksum) = match (s.lfs, s.blob_id, s.size) {
            (Some(lfs), _, _) => {
                let h = lfs.sha256.to_ascii_lowercase();
                if !is_hex(&h, 64) {
                    return Err(bad(format!("LFS oid of {} is not a sha256", s.rfilename)));
                }
                (lfs.size, Checksum::Sha256(h))
            }
            (None, Some(id), Some(size)) => {
                let h = id.to_ascii_lowercase();
                if !is_hex(&h, 40) {
                    return Err(bad(format!("blob id of {} is not a git hash", s.rfilename)));
                }
                (size, Checksum::GitSha1(h))
            }
            _ => {
                return Err(bad(format!(
                    "no size or hash for {} (the hub must answer ?blobs=true)",
                    s.rfilename
                )));
            }
        };
        files.push(RemoteFile {
            path: s.rfilename,
            size,
            checksum,
        });
    }
    Ok(RepoInfo {
        repo: repo.to_string(),
        commit: raw.sha.to_ascii_lowercase(),
        files,
    })
}

/// Overall progress with a rate over the last few seconds.
struct Meter {
    total: u64,
    done: u64,
    samples: VecDeque<(Instant, u64)>,
    last_emit: Option<Instant>,
}

impl Meter {
    fn new(total: u64, done: u64) -> Self {
        Self {
            total,
            done,
            samples: VecDeque::new(),
            last_emit: None,
        }
    }

    fn add(&mut self, n: u64) {
        self.done += n;
        let now = Instant::now();
        self.samples.push_back((now, self.done));
        while self.samples.len() > 2
            && now.duration_since(self.samples[0].0) > Duration::from_secs(3)
        {
            self.samples.pop_front();
        }
    }

    fn rate(&self) -> f64 {
        match (self.samples.front(), self.samples.back()) {
            (Some(a), Some(b)) if b.0 > a.0 => (b.1 - a.1) as f64 / (b.0 - a.0).as_secs_f64(),
            _ => 0.0,
        }
    }

    /// Whether to emit now (at most ten events a second, plus the end of each file).
    fn due(&mut self, force: bool) -> bool {
        let now = Instant::now();
        let due = force
            || self
                .last_emit
                .is_none_or(|t| now.duration_since(t) >= Duration::from_millis(100));
        if due {
            self.last_emit = Some(now);
        }
        due
    }
}

enum Hasher {
    Sha256(Sha256),
    GitSha1(Sha1),
}

impl Hasher {
    fn new(checksum: &Checksum, size: u64) -> Self {
        match checksum {
            Checksum::Sha256(_) => Hasher::Sha256(Sha256::new()),
            Checksum::GitSha1(_) => {
                let mut h = Sha1::new();
                h.update(format!("blob {size}\0").as_bytes());
                Hasher::GitSha1(h)
            }
        }
    }
    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::GitSha1(h) => h.update(data),
        }
    }
    fn hex(self) -> String {
        match self {
            Hasher::Sha256(h) => hex::encode(h.finalize()),
            Hasher::GitSha1(h) => hex::encode(h.finalize()),
        }
    }
}

/// An exclusive lock on `.locks/models--…/<blob>.lock` (the file Python locks too).
struct BlobLock {
    _file: File,
}

impl BlobLock {
    fn acquire(path: &Path) -> Result<Self> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| HubError::io(parent, e))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| HubError::io(path, e))?;
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: flock on a file descriptor we own; released when the file is closed.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc != 0 {
                return Err(HubError::Locked {
                    path: path.to_path_buf(),
                });
            }
        }
        Ok(Self { _file: file })
    }
}

struct FileJob<'a> {
    hub: &'a Hub,
    repo: &'a str,
    commit: &'a str,
    file: &'a RemoteFile,
    cancel: &'a CancelToken,
    meter: &'a mut Meter,
    written_total: &'a mut u64,
    on_event: &'a mut dyn FnMut(&DownloadEvent),
}

enum Step {
    Done,
    Failed(Failure),
}

impl FileJob<'_> {
    /// Downloads, verifies and moves the blob into place; returns the bytes transferred.
    fn run(&mut self) -> Result<u64> {
        let cache = &self.hub.cfg.cache;
        let blob = cache.blob_path(self.repo, self.file.checksum.blob_id());
        let _lock = BlobLock::acquire(&cache.lock_path(self.repo, self.file.checksum.blob_id()))?;
        if file_len(&blob) == Some(self.file.size) {
            return Ok(0);
        }
        let part = partial_path(&blob);
        let mut out = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&part)
            .map_err(|e| HubError::io(&part, e))?;
        let mut have = out.metadata().map_err(|e| HubError::io(&part, e))?.len();
        let size = self.file.size;
        if have > size {
            self.meter.done = self.meter.done.saturating_sub(size);
            have = 0;
        }
        out.set_len(have).map_err(|e| HubError::io(&part, e))?;
        let mut hasher = Hasher::new(&self.file.checksum, size);
        hash_prefix(&mut out, have, &mut hasher).map_err(|e| HubError::io(&part, e))?;
        out.seek(SeekFrom::Start(have))
            .map_err(|e| HubError::io(&part, e))?;
        (self.on_event)(&DownloadEvent::FileStarted {
            file: self.file.path.clone(),
            size,
            resume_from: have,
        });
        // The first chunk of every file is reported at once.
        self.meter.last_emit = None;

        let url = self
            .hub
            .api
            .repo(self.hub.hf_repo(self.repo, self.commit))
            .url(&self.file.path);
        let what = format!("{} in {}", self.file.path, self.repo);
        let mut transferred = 0u64;
        let mut attempt = 0u32;
        while have < size {
            let before = have;
            let step = self.transfer(
                &url,
                &what,
                &mut out,
                &part,
                &mut have,
                &mut hasher,
                &mut transferred,
            )?;
            match step {
                Step::Done => {}
                Step::Failed(Failure::Fatal(e)) => return Err(e),
                Step::Failed(Failure::Transient { status, reason }) => {
                    if have > before {
                        attempt = 0;
                    }
                    if attempt >= self.hub.cfg.max_retries {
                        return Err(self.hub.give_up(&what, status, reason, attempt + 1));
                    }
                    let wait = self.hub.backoff(attempt);
                    attempt += 1;
                    (self.on_event)(&DownloadEvent::Retrying {
                        file: Some(self.file.path.clone()),
                        attempt,
                        wait_ms: wait.as_millis() as u64,
                        reason,
                    });
                    self.sleep_unless_cancelled(wait, have)?;
                }
            }
        }
        out.sync_all().map_err(|e| HubError::io(&part, e))?;
        drop(out);
        let actual = hasher.hex();
        let expected = self.file.checksum.blob_id();
        if actual != expected {
            // Never let bad bytes become a blob, nor be resumed from.
            let _ = std::fs::remove_file(&part);
            return Err(HubError::ChecksumMismatch {
                file: self.file.path.clone(),
                expected: expected.to_string(),
                actual,
            });
        }
        std::fs::rename(&part, &blob).map_err(|e| HubError::io(&blob, e))?;
        Ok(transferred)
    }

    fn sleep_unless_cancelled(&self, wait: Duration, have: u64) -> Result<()> {
        let end = Instant::now() + wait;
        while Instant::now() < end {
            if self.cancel.is_cancelled() {
                return Err(self.cancelled(have));
            }
            std::thread::sleep((end - Instant::now()).min(Duration::from_millis(20)));
        }
        Ok(())
    }

    fn cancelled(&self, have: u64) -> HubError {
        HubError::Cancelled {
            file: self.file.path.clone(),
            kept_bytes: have,
        }
    }

    /// One request from `have` to the end (or until it fails).
    #[allow(clippy::too_many_arguments)]
    fn transfer(
        &mut self,
        url: &str,
        what: &str,
        out: &mut File,
        part: &Path,
        have: &mut u64,
        hasher: &mut Hasher,
        transferred: &mut u64,
    ) -> Result<Step> {
        if self.cancel.is_cancelled() {
            return Err(self.cancelled(*have));
        }
        let size = self.file.size;
        let mut req = self.hub.get(url);
        if *have > 0 {
            req = req.set("Range", &format!("bytes={have}-"));
        }
        let resp = match req.call() {
            Ok(r) => r,
            Err(ureq::Error::Status(416, _)) => {
                // The partial does not fit the file any more: start over.
                self.restart(out, part, have, hasher)?;
                return Ok(Step::Failed(Failure::Transient {
                    status: Some(416),
                    reason: "range not satisfiable; restarting the file".into(),
                }));
            }
            Err(e) => return Ok(Step::Failed(self.hub.classify(e, what))),
        };
        match resp.status() {
            206 => {
                let start = resp
                    .header("Content-Range")
                    .and_then(|v| v.strip_prefix("bytes "))
                    .and_then(|v| v.split('-').next())
                    .and_then(|v| v.trim().parse::<u64>().ok());
                if start != Some(*have) {
                    self.restart(out, part, have, hasher)?;
                    return Ok(Step::Failed(Failure::Transient {
                        status: None,
                        reason: "the server resumed at another offset; restarting the file".into(),
                    }));
                }
            }
            200 => {
                if *have > 0 {
                    // The server ignored the range: the body is the whole file.
                    self.restart(out, part, have, hasher)?;
                }
            }
            status => {
                return Ok(Step::Failed(Failure::Fatal(HubError::Http {
                    what: what.to_string(),
                    status,
                })));
            }
        }
        let mut reader = resp.into_reader();
        let mut buf = vec![0u8; self.hub.cfg.chunk_size.max(4096)];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Ok(Step::Failed(Failure::Transient {
                        status: None,
                        reason: format!("transfer interrupted: {e}"),
                    }));
                }
            };
            let n = n.min((size - *have) as usize);
            if n == 0 {
                break;
            }
            if let Err(e) = self.write(out, &buf[..n]) {
                let _ = out.flush();
                let kept = out.metadata().map(|m| m.len()).unwrap_or(*have);
                if is_disk_full(&e) {
                    return Err(HubError::DiskFull {
                        path: part.to_path_buf(),
                        kept_bytes: kept,
                    });
                }
                return Err(HubError::io(part, e));
            }
            hasher.update(&buf[..n]);
            *have += n as u64;
            *transferred += n as u64;
            self.meter.add(n as u64);
            self.emit_progress(*have, *have == size);
            if self.cancel.is_cancelled() {
                let _ = out.flush();
                return Err(self.cancelled(*have));
            }
            if *have == size {
                break;
            }
        }
        if *have < size {
            return Ok(Step::Failed(Failure::Transient {
                status: None,
                reason: format!("connection closed at byte {have} of {size}"),
            }));
        }
        Ok(Step::Done)
    }

    fn write(&mut self, out: &mut File, data: &[u8]) -> std::io::Result<()> {
        if let Some(limit) = self.hub.cfg.faults.disk_full_after_bytes {
            let room = limit.saturating_sub(*self.written_total) as usize;
            if room < data.len() {
                out.write_all(&data[..room])?;
                *self.written_total += room as u64;
                return Err(std::io::Error::from(std::io::ErrorKind::StorageFull));
            }
        }
        out.write_all(data)?;
        *self.written_total += data.len() as u64;
        Ok(())
    }

    fn restart(
        &mut self,
        out: &mut File,
        part: &Path,
        have: &mut u64,
        hasher: &mut Hasher,
    ) -> Result<()> {
        out.set_len(0).map_err(|e| HubError::io(part, e))?;
        out.seek(SeekFrom::Start(0))
            .map_err(|e| HubError::io(part, e))?;
        self.meter.done = self.meter.done.saturating_sub(*have);
        *have = 0;
        *hasher = Hasher::new(&self.file.checksum, self.file.size);
        Ok(())
    }

    fn emit_progress(&mut self, file_done: u64, force: bool) {
        if !self.meter.due(force) {
            return;
        }
        let rate = self.meter.rate();
        let remaining = self.meter.total.saturating_sub(self.meter.done);
        let eta = (rate > 0.0).then(|| remaining as f64 / rate);
        (self.on_event)(&DownloadEvent::Progress {
            file: self.file.path.clone(),
            file_done,
            file_total: self.file.size,
            done: self.meter.done,
            total: self.meter.total,
            bytes_per_sec: rate,
            eta_s: eta,
        });
    }
}

fn is_disk_full(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull || e.kind() == std::io::ErrorKind::QuotaExceeded
}

fn hash_prefix(file: &mut File, len: u64, hasher: &mut Hasher) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(0))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file.take(len));
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        hasher.update(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    fn info(siblings: &str) -> Result<RepoInfo> {
        parse_info(
            "o/r",
            "o/r@main",
            &format!(r#"{{"sha":"{SHA}","siblings":{siblings}}}"#),
        )
    }

    #[test]
    fn model_info_is_validated_before_any_name_reaches_the_disk() {
        let ok = info(&format!(
            r#"[{{"rfilename":"a/config.json","size":3,"blobId":"{SHA}"}},
               {{"rfilename":"w.gguf","size":9,"blobId":"{SHA}","lfs":{{"sha256":"{}","size":9}}}}]"#,
            "ab".repeat(32)
        ))
        .unwrap();
        assert_eq!(ok.files[0].checksum, Checksum::GitSha1(SHA.into()));
        assert_eq!(ok.files[1].checksum, Checksum::Sha256("ab".repeat(32)));
        for bad in [
            format!(r#"[{{"rfilename":"../evil","size":3,"blobId":"{SHA}"}}]"#),
            format!(r#"[{{"rfilename":"/etc/passwd","size":3,"blobId":"{SHA}"}}]"#),
            r#"[{"rfilename":"x","size":3,"blobId":"../../x"}]"#.to_string(),
            r#"[{"rfilename":"x","size":3,"blobId":"zz","lfs":{"sha256":"nothex","size":3}}]"#
                .to_string(),
            format!(r#"[{{"rfilename":"x","blobId":"{SHA}"}}]"#),
        ] {
            assert_eq!(info(&bad).unwrap_err().code(), "hub_bad_response", "{bad}");
        }
        let err = parse_info("o/r", "o/r", r#"{"sha":"../x","siblings":[]}"#).unwrap_err();
        assert_eq!(err.code(), "hub_bad_response");
        assert_eq!(
            parse_info("o/r", "o/r", "<html>").unwrap_err().code(),
            "hub_bad_response"
        );
    }

    #[test]
    fn loopback_endpoints_skip_the_environment_proxy() {
        assert!(is_loopback("http://127.0.0.1:8080"));
        assert!(is_loopback("http://localhost:1/x"));
        assert!(is_loopback("http://[::1]:80"));
        assert!(!is_loopback("https://huggingface.co"));
        assert!(!is_loopback("http://[2001:db8::1]:80"));
    }
}
