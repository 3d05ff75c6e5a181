//! OpenAI's chat-completions API as data: what `smolvlm serve` accepts and answers, and what the
//! client of remote OpenAI-compatible servers (vLLM, `llama-server`, another `smolvlm serve`)
//! sends and reads. One home for the wire format, so the server and the client cannot drift.
//!
//! Field names and shapes follow OpenAI's API reference (`POST /v1/chat/completions`,
//! `GET /v1/models`, error objects); fields smolvlm does not use are accepted and ignored
//! (serde's default), so requests from the official clients parse. [`client`] is the blocking
//! client of such servers.

pub mod client;
pub mod types;

pub use client::{Client, ClientError, Endpoint, Timeouts};
pub use types::*;
