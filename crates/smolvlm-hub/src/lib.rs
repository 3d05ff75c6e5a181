//! The SmolVLM model manager: a catalog of the SmolVLM family, downloads into the standard
//! Hugging Face cache (progress events, cancel, resume, verification, retries), offline use,
//! local models registered by path, and the installed-model list. Two policies live here and
//! nowhere else: which vision projector goes with a text GGUF ([`pair_mmproj`]), and how often
//! progress is reported ([`HubConfig::progress_interval`], default [`PROGRESS_INTERVAL`]).
//!
//! # Why hf-hub 0.4.3 with only its `ureq` feature
//!
//! crates.io has hf-hub 1.0.0 and the 0.3/0.4 lines.
//!
//! * **1.0.0** is async only (tokio), and always pulls `hf-xet` (the Xet storage client and its
//!   dependency tree) and reqwest 0.13, whose default TLS is rustls on `aws-lc-rs`: building
//!   `aws-lc-sys` needs cmake and C compilation that dwarf the rest of this crate on a 2-core
//!   machine. Nothing in its public download API offers a cancel hook or a verified resume that
//!   this crate could use instead of its own.
//! * **0.4.3** with `default-features = false, features = ["ureq"]` is the blocking API on
//!   `ureq` 2 with rustls on `ring` (no OpenSSL, no cmake, no tokio, no reqwest): about two
//!   minutes of cold build for the whole tree here. It resumes `.part` files with `Range`, but
//!   it does not check that the server answered 206 (a 200 reply is appended to the partial),
//!   does not verify hashes, cannot be cancelled, only retries when asked and then retries 4xx
//!   too, has no read timeout (a stalled transfer hangs), ignores `HF_HUB_CACHE` and
//!   `HF_HUB_OFFLINE`, names partials `.part` where Python uses `.incomplete`, and panics on a
//!   few malformed replies (`unwrap`/`assert!`). Its `HeaderAgent` keeps `get` private.
//! * **0.3.x** is the same design without resume or relative-redirect handling.
//!
//! So this crate uses hf-hub for what it gets right — the cache layout (`Repo::folder_name`,
//! `CacheRepo::create_ref`), the hub's URL scheme (`ApiRepo::url`, `Repo::api_url`) — and builds
//! the transfer on the **same HTTP client hf-hub uses, `ureq` 2** (one `ureq::Agent` with connect
//! and read timeouts and same-host redirect auth, no second HTTP stack): ranged resume checked
//! against `Content-Range`, sha256 (LFS oid) or git-blob verification before a file is moved
//! into `blobs/` (and of a blob already in the cache before it is used, once per version of the
//! file), retries with exponential backoff and jitter on 5xx/408/429/timeouts/cut
//! connections, typed errors, a cancel token, progress events with rate and ETA, a free-space
//! check, and Python-compatible `.incomplete` partials and `.locks/`.

pub mod cache;
mod cache_gc;
pub mod catalog;
pub mod download;
pub mod error;
pub mod gguf;
pub mod installed;
pub mod local;
mod lock;
pub mod pairing;

#[cfg(feature = "test-server")]
pub mod test_server;

pub use cache::HubCache;
pub use catalog::{CatalogEntry, DEFAULT_MODEL, Format, ModelSpec, catalog};
pub use download::{
    CancelToken, Checksum, DownloadEvent, Hub, HubConfig, PROGRESS_INTERVAL, PlannedFile,
    RemoteFile, RepoInfo, Snapshot,
};
pub use error::{HubError, Result};
pub use installed::{InstalledModel, RemoveReport, list_installed, remove};
pub use local::{LocalKind, LocalModel, LocalRegistry, RegisteredModel, inspect};
pub use pairing::pair_mmproj;
