//! `api_request`: a `POST /v1/chat/completions` body as the local API checks it before a model
//! is picked: the JSON parse and every field check, data URLs decoded (images, PDFs), `file`
//! parts and their page lists, with the server's default settings (remote images off).

use std::sync::OnceLock;

use smolvlm_server::ServerConfig;

pub fn api_request(data: &[u8]) {
    static CONFIG: OnceLock<ServerConfig> = OnceLock::new();
    let cfg = CONFIG.get_or_init(ServerConfig::default);
    let _ = smolvlm_server::check_chat_request(data, cfg);
}
