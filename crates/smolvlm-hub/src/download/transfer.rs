//! The transfer of one file: a ranged request resumed from the partial (`Range` checked against
//! `Content-Range`; a server that ignores it restarts the file), hashed as it arrives, retried
//! with the [retry policy](super::retry), and moved into `blobs/` only once verified (the
//! folder flushed after the rename). A blob already there is used only once it is verified too.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use smolvlm_cancel::CancelToken;

use crate::cache::HubCache;
use crate::error::{HubError, Result};
use crate::lock::BlobLock;

use super::config::HubConfig;
use super::listing::RemoteFile;
use super::progress::{DownloadEvent, Meter};
use super::retry::{Failure, RetryPolicy, classify};
use super::verified::{self, Verdict};
use super::verify::{Hasher, hash_prefix};

/// The HTTP side: one `ureq` agent (the client hf-hub uses) and the token it sends.
pub(super) struct Http {
    agent: ureq::Agent,
    token: Option<String>,
}

impl Http {
    pub(super) fn new(cfg: &HubConfig) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(cfg.connect_timeout)
            .timeout_read(cfg.read_timeout)
            .redirects(5)
            .redirect_auth_headers(ureq::RedirectAuthHeaders::SameHost)
            .try_proxy_from_env(cfg.use_env_proxy && !cfg.endpoint_is_loopback())
            .user_agent(concat!(
                "smolvlm-hub/",
                env!("CARGO_PKG_VERSION"),
                "; hf-hub/0.4"
            ))
            .build();
        Self {
            agent,
            token: cfg.token.clone(),
        }
    }

    pub(super) fn get(&self, url: &str) -> ureq::Request {
        let req = self.agent.get(url);
        match &self.token {
            Some(t) => req.set("Authorization", &format!("Bearer {t}")),
            None => req,
        }
    }
}

/// The length of a regular file, `None` if there is none.
pub(super) fn file_len(path: &Path) -> Option<u64> {
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

/// Makes a rename in `dir` durable: the file's bytes were flushed before it, but the new name
/// lives in the directory, which a crash could otherwise lose.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        match File::open(dir).and_then(|d| d.sync_all()) {
            // Some filesystems cannot flush a directory; they have nothing more to make durable.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => Ok(()),
            other => other,
        }
    }
    // Windows flushes no directory opened for reading, and NTFS journals the rename itself.
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

fn is_disk_full(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull || e.kind() == std::io::ErrorKind::QuotaExceeded
}

/// One file of a download, from its partial (if any) to its verified blob.
pub(super) struct FileJob<'a> {
    pub(super) http: &'a Http,
    pub(super) cfg: &'a HubConfig,
    pub(super) repo: &'a str,
    /// The file's resolve URL at the commit.
    pub(super) url: String,
    pub(super) file: &'a RemoteFile,
    pub(super) cancel: &'a CancelToken,
    pub(super) meter: &'a mut Meter,
    /// Bytes written by the whole download so far (what an injected full disk counts).
    pub(super) written_total: &'a mut u64,
    pub(super) on_event: &'a mut dyn FnMut(&DownloadEvent),
}

enum Step {
    Done,
    Failed(Failure),
}

impl FileJob<'_> {
    fn cache(&self) -> &HubCache {
        &self.cfg.cache
    }

    fn policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_retries: self.cfg.max_retries,
            base: self.cfg.backoff_base,
            max: self.cfg.backoff_max,
        }
    }

    /// Makes the blob present and verified: `None` when the cache already had it, else the
    /// bytes transferred to download, verify and move it into place. `_held` is the blob's
    /// lock, which the caller keeps until the snapshot links the blob, as Python does: until
    /// then no snapshot refers to it and garbage collection would take it.
    pub(super) fn run(&mut self, _held: &BlobLock) -> Result<Option<u64>> {
        let id = self.file.checksum.blob_id();
        let blob = self.cache().blob_path(self.repo, id);
        let verdict = verified::check(
            self.cache(),
            self.repo,
            &blob,
            &self.file.checksum,
            Some(self.file.size),
        );
        if verdict == Verdict::Good {
            return Ok(None);
        }
        // A bad blob stays until the verified copy is renamed over it: deleting it first would
        // leave the snapshot links dangling if this download fails.
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
            self.meter.forget(size);
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
        self.meter.reset_throttle();

        let what = format!("{} in {}", self.file.path, self.repo);
        let policy = self.policy();
        let mut transferred = 0u64;
        let mut attempt = 0u32;
        while have < size {
            let before = have;
            let step = self.transfer(
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
                    let wait = policy.next_wait(
                        &mut attempt,
                        &self.cfg.endpoint,
                        &what,
                        status,
                        &reason,
                    )?;
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
        if let Some(blobs) = blob.parent() {
            sync_dir(blobs).map_err(|e| HubError::io(blobs, e))?;
        }
        verified::record_good(self.cache(), self.repo, id, &blob);
        Ok(Some(transferred))
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
    fn transfer(
        &mut self,
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
        let mut req = self.http.get(&self.url);
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
            Err(e) => return Ok(Step::Failed(classify(e, what))),
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
                    return Ok(Step::Failed(Failure::transport(
                        "the server resumed at another offset; restarting the file",
                    )));
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
        let mut buf = vec![0u8; self.cfg.chunk_size.max(4096)];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Ok(Step::Failed(Failure::transport(format!(
                        "transfer interrupted: {e}"
                    ))));
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
            return Ok(Step::Failed(Failure::transport(format!(
                "connection closed at byte {have} of {size}"
            ))));
        }
        Ok(Step::Done)
    }

    fn write(&mut self, out: &mut File, data: &[u8]) -> std::io::Result<()> {
        if let Some(limit) = self.cfg.injected_disk_limit() {
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
        self.meter.forget(*have);
        *have = 0;
        *hasher = Hasher::new(&self.file.checksum, self.file.size);
        Ok(())
    }

    /// A progress event, unless the throttle holds it back (`force`: the file is complete).
    fn emit_progress(&mut self, file_done: u64, force: bool) {
        if !self.meter.due(force) {
            return;
        }
        (self.on_event)(&DownloadEvent::Progress {
            file: self.file.path.clone(),
            file_done,
            file_total: self.file.size,
            done: self.meter.done,
            total: self.meter.total,
            bytes_per_sec: self.meter.rate(),
            eta_s: self.meter.eta_s(),
        });
    }
}
