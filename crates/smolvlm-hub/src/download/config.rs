//! Where and how to talk to the hub: the endpoint, token and offline switch from the
//! environment (as Python reads them), timeouts, retries and the progress-event interval.

use std::time::Duration;

use crate::cache::{HubCache, offline_from_env, token_from_env};
use crate::error::{HubError, Result};

use super::progress::PROGRESS_INTERVAL;

pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// Where and how to talk to the hub. Its `Debug` leaves the token out: configurations reach logs.
#[derive(Clone)]
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
    /// [`DownloadEvent::Progress`](super::DownloadEvent::Progress) is emitted at most once per
    /// this interval (default [`PROGRESS_INTERVAL`]), except that the first chunk and the
    /// completing chunk of every file are always reported: a UI can forward every event as is.
    pub progress_interval: Duration,
    /// Failures injected by tests; only with the `test-server` feature (never in a release
    /// build).
    #[cfg(feature = "test-server")]
    #[doc(hidden)]
    pub faults: InjectedFaults,
}

/// Failures that cannot be produced on demand otherwise, for tests: a disk that fills after a
/// number of bytes, and the free space the pre-download check sees.
#[cfg(feature = "test-server")]
#[doc(hidden)]
#[derive(Debug, Clone, Default)]
pub struct InjectedFaults {
    pub disk_full_after_bytes: Option<u64>,
    pub free_space_bytes: Option<u64>,
}

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
            progress_interval: PROGRESS_INTERVAL,
            #[cfg(feature = "test-server")]
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

    /// The free space a test claims the disk has (`None`: ask the filesystem).
    pub(super) fn injected_free_space(&self) -> Option<u64> {
        #[cfg(feature = "test-server")]
        return self.faults.free_space_bytes;
        #[cfg(not(feature = "test-server"))]
        None
    }

    /// The bytes after which a test's disk is full (`None`: the real disk).
    pub(super) fn injected_disk_limit(&self) -> Option<u64> {
        #[cfg(feature = "test-server")]
        return self.faults.disk_full_after_bytes;
        #[cfg(not(feature = "test-server"))]
        None
    }

    /// Whether the endpoint is this machine (then no proxy is used).
    pub(super) fn endpoint_is_loopback(&self) -> bool {
        is_loopback(&self.endpoint)
    }
}

impl std::fmt::Debug for HubConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("HubConfig");
        d.field("endpoint", &self.endpoint)
            .field("cache", &self.cache)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("offline", &self.offline)
            .field("max_retries", &self.max_retries)
            .field("backoff_base", &self.backoff_base)
            .field("backoff_max", &self.backoff_max)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("chunk_size", &self.chunk_size)
            .field("use_env_proxy", &self.use_env_proxy)
            .field("progress_interval", &self.progress_interval);
        #[cfg(feature = "test-server")]
        d.field("faults", &self.faults);
        d.finish()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_endpoints_skip_the_environment_proxy() {
        assert!(is_loopback("http://127.0.0.1:8080"));
        assert!(is_loopback("http://localhost:1/x"));
        assert!(is_loopback("http://[::1]:80"));
        assert!(!is_loopback("https://huggingface.co"));
        assert!(!is_loopback("http://[2001:db8::1]:80"));
    }

    #[test]
    fn the_default_progress_interval_is_the_documented_one() {
        let cfg = HubConfig::new(HubCache::new("/nowhere"));
        assert_eq!(cfg.progress_interval, PROGRESS_INTERVAL);
        assert_eq!(cfg.injected_disk_limit(), None);
        assert_eq!(cfg.injected_free_space(), None);
    }
}
