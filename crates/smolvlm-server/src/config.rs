//! What a server is started with.

use std::net::SocketAddr;
use std::time::Duration;

use smolvlm::LoadOptions;
use smolvlm::image::Resolution;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to listen; port 0 picks a free one ([`crate::ServerHandle::local_addr`] tells which).
    pub addr: SocketAddr,
    /// When set, every `/v1` request must send `Authorization: Bearer <key>`.
    pub api_key: Option<String>,
    /// Origins allowed to call the API from a browser (`*` for any); empty turns CORS off.
    pub cors_origins: Vec<String>,
    /// The largest request body; base64 images make bodies large, so this is generous.
    pub max_body_bytes: usize,
    /// The resolution knob for every image ([`smolvlm::SmolVlmModel::prepare`]); `None` keeps the
    /// model's own.
    pub default_longest_edge: Option<u32>,
    /// A preset named from the answering model's tile, for every image when
    /// `default_longest_edge` is not set; `None`: the model's own, and the document preset for
    /// PDF pages.
    pub resolution: Option<Resolution>,
    /// Whether `http(s)://` image URLs are fetched. Off by default: a local server that fetches
    /// URLs named by any caller can be made to reach hosts the caller cannot.
    pub allow_remote_images: bool,
    /// How models named by requests are loaded (device, threads, quantization); each catalog
    /// model brings its own projector.
    pub load_options: LoadOptions,
    /// A request's token budget when it gives none; `None` lets the answer run until it ends or
    /// fills the model's context, as OpenAI does.
    pub default_max_tokens: Option<u32>,
    /// How long a shutdown waits for answers in flight (they are cancelled first, so this is only
    /// the time for their last events) before the connections are dropped.
    pub shutdown_grace: Duration,
}

pub const DEFAULT_PORT: u16 = 8080;

/// 64 MiB: a few full-resolution photos as base64.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 << 20;

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)),
            api_key: None,
            cors_origins: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            default_longest_edge: None,
            resolution: None,
            allow_remote_images: false,
            load_options: LoadOptions::default(),
            default_max_tokens: None,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}
