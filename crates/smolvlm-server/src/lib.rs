//! A local OpenAI-compatible API over the smolvlm worker: `POST /v1/chat/completions` (whole or
//! streamed answers, images as data URLs or local paths, PDFs as `file` parts), `GET /v1/models`, OpenAI error objects.
//! `smolvlm serve` runs it from the command line; the desktop app starts and stops it from its
//! settings, sharing its worker, so the chat and the API use one model in memory.
//!
//! Requests queue for the one worker (bounded by its queue capacity; past it 429 with
//! `Retry-After`). Each request's job is cancelled when its client disconnects. `docs/api.md`
//! is the contract: routes, fields, the error table, limits.
//!
//! Modules, in request order: `routes` (HTTP surface, auth, CORS; `state`, what handlers share)
//! → `chat` (the handler) → `request` and `images` (checking and converting the request; `pdf`
//! renders its PDFs' pages for the answering model) →
//! `catalog` (which model) → `job` (the worker job, cancelled on drop) → `answer` and `stop`
//! (events to text and usage) → `stream` (SSE); `codes` maps every engine and worker error to
//! its HTTP status.

mod answer;
mod catalog;
mod chat;
mod codes;
mod config;
mod error;
mod images;
mod job;
mod pdf;
mod request;
mod routes;
mod server;
mod state;
mod stop;
mod stream;

pub use catalog::{CatalogModel, ModelCatalog, StaticCatalog, created_of};
pub use codes::classify;
pub use config::{DEFAULT_MAX_BODY_BYTES, DEFAULT_PORT, ServerConfig};
pub use error::{ApiError, ErrorKind, ServerError};
pub use server::{ServerHandle, start};

/// Every check `POST /v1/chat/completions` makes on a body before it picks a model and queues:
/// the JSON parse and `request::prepare` (fields, images, PDFs), as the handler runs them. The
/// `api_request` fuzz target (crates/smolvlm-fuzz) drives the parser through here.
pub fn check_chat_request(body: &[u8], cfg: &ServerConfig) -> Result<(), ApiError> {
    let req = chat::parse_body(body)?;
    request::prepare(&req, cfg).map(drop)
}
