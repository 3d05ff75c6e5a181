//! A blocking client of OpenAI-compatible servers (vLLM, `llama-server`, OpenAI, another
//! `smolvlm serve`): chat completions whole or streamed, the model list. Blocking because its
//! callers (the CLI, the app's worker threads) are synchronous; a stream stops on the project's
//! [`CancelToken`], checked between chunks.
//!
//! The API key is sent as a bearer header and nowhere else: errors name the URL, never the key,
//! and [`Endpoint`]'s `Debug` prints it redacted.

mod data_url;
mod sse;

use std::fmt;
use std::io::{BufReader, Read};
use std::time::Duration;

pub use data_url::{image_data_url, sniff_image_mime};
use smolvlm_cancel::CancelToken;

use crate::types::{ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ErrorObject};
use crate::{ErrorResponse, ModelList};

/// A server and the model to ask there.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// As OpenAI's clients take it: `http://host:8080/v1`. A URL with no path gets `/v1`, so
    /// `http://host:8080` works too; any other path is kept as given (proxies mount the API
    /// elsewhere).
    pub base_url: String,
    pub api_key: Option<String>,
    /// Sent when a request leaves `model` empty.
    pub model: String,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("base_url", &redact_userinfo(&self.base_url))
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("model", &self.model)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    /// Between two reads of the socket, not for the whole answer: a non-streamed completion
    /// sends nothing until it is done, so this bounds how long one answer may take.
    pub read: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            // A CPU server can take minutes over a large image before its first byte.
            read: Duration::from_secs(600),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Refused, unknown host, timed out, or the connection broke before the answer ended.
    #[error("cannot reach {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("{url} answered HTTP {status}: {}", http_detail(error.as_deref(), body))]
    Http {
        url: String,
        status: u16,
        /// The server's OpenAI error object, when its body was one (boxed: errors stay small).
        error: Option<Box<ErrorObject>>,
        /// The start of the body when it was not an error object.
        body: String,
    },
    /// The server answered, but not in OpenAI's shape (not JSON, missing fields, a broken
    /// event stream).
    #[error("{url} sent an unexpected answer: {reason}")]
    Protocol { url: String, reason: String },
    #[error("invalid endpoint URL {url}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("cancelled")]
    Cancelled,
}

impl ClientError {
    /// Stable identifier for scripts and the UI; never changes when a message is reworded.
    pub fn code(&self) -> &'static str {
        match self {
            ClientError::Connect { .. } => "connect",
            ClientError::Http { .. } => "http",
            ClientError::Protocol { .. } => "protocol",
            ClientError::InvalidUrl { .. } => "invalid_url",
            ClientError::Cancelled => "cancelled",
        }
    }

    /// The server's error object, for an `http` error that carried one.
    pub fn error_object(&self) -> Option<&ErrorObject> {
        match self {
            ClientError::Http { error, .. } => error.as_deref(),
            _ => None,
        }
    }
}

fn http_detail(error: Option<&ErrorObject>, body: &str) -> String {
    match error {
        Some(e) => match &e.code {
            Some(code) => format!("{} ({code})", e.message),
            None => e.message.clone(),
        },
        None if body.is_empty() => "(no body)".into(),
        None => body.to_string(),
    }
}

/// How much of an error body is read and how much of it a message quotes.
const ERROR_BODY_BYTES: u64 = 64 << 10;
const ERROR_BODY_QUOTE_CHARS: usize = 200;
/// A whole completion or model list larger than this is not one.
const BODY_BYTES: u64 = 32 << 20;

pub struct Client {
    agent: ureq::Agent,
    endpoint: Endpoint,
    base: String,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(endpoint: Endpoint) -> Self {
        Self::with_timeouts(endpoint, Timeouts::default())
    }

    pub fn with_timeouts(endpoint: Endpoint, timeouts: Timeouts) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(timeouts.connect)
            .timeout_read(timeouts.read)
            .timeout_write(timeouts.read)
            .build();
        let base = api_base(&endpoint.base_url);
        Self {
            agent,
            endpoint,
            base,
        }
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// `POST /chat/completions` without streaming (whatever `req.stream` says).
    pub fn chat(&self, req: &ChatCompletionRequest) -> Result<ChatCompletion, ClientError> {
        let url = self.url("chat/completions");
        let resp = self.post(&url, &self.with_defaults(req, false))?;
        let status = resp.status();
        let body = read_body(&url, resp, BODY_BYTES)?;
        parse_answer(&url, status, &body)
    }

    /// `POST /chat/completions` streamed: `on_chunk` gets each chunk as it arrives. Returns at
    /// `data: [DONE]`; with [`ClientError::Cancelled`] when `cancel` is set (checked before
    /// sending and between chunks, so a silent server is waited on up to the read timeout).
    pub fn chat_stream(
        &self,
        req: &ChatCompletionRequest,
        cancel: &CancelToken,
        mut on_chunk: impl FnMut(ChatCompletionChunk),
    ) -> Result<(), ClientError> {
        if cancel.is_cancelled() {
            return Err(ClientError::Cancelled);
        }
        let url = self.url("chat/completions");
        let resp = self.post(&url, &self.with_defaults(req, true))?;
        let status = resp.status();
        if resp.content_type().starts_with("application/json") {
            // A server that ignores `stream` (or refuses in JSON with a 200) is not streaming.
            let body = read_body(&url, resp, ERROR_BODY_BYTES)?;
            return Err(match serde_json::from_slice::<ErrorResponse>(&body) {
                Ok(e) => http_error(&url, status, Some(e.error), ""),
                Err(_) => protocol(&url, "the server answered JSON, not an event stream"),
            });
        }
        let mut events = sse::SseReader::new(BufReader::new(resp.into_reader()));
        let mut finished = false;
        loop {
            if cancel.is_cancelled() {
                return Err(ClientError::Cancelled);
            }
            let data = match events.next_event() {
                Ok(Some(data)) => data,
                // Servers that stop after the last chunk without `[DONE]` still finished.
                Ok(None) if finished => return Ok(()),
                Ok(None) => return Err(connect(&url, "the connection closed mid-answer")),
                Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                    return Err(protocol(&url, e));
                }
                Err(e) => return Err(connect(&url, format!("the connection broke: {e}"))),
            };
            if cancel.is_cancelled() {
                return Err(ClientError::Cancelled);
            }
            if data.trim() == "[DONE]" {
                return Ok(());
            }
            match serde_json::from_str::<ChatCompletionChunk>(&data) {
                Ok(chunk) => {
                    finished |= chunk.choices.iter().any(|c| c.finish_reason.is_some());
                    on_chunk(chunk);
                }
                // OpenAI and vLLM report a failure after the headers as an error event.
                Err(e) => match serde_json::from_str::<ErrorResponse>(&data) {
                    Ok(err) => return Err(http_error(&url, status, Some(err.error), "")),
                    Err(_) => return Err(protocol(&url, format!("a chunk is not one: {e}"))),
                },
            }
        }
    }

    /// `GET /models`.
    pub fn models(&self) -> Result<ModelList, ClientError> {
        let url = self.url("models");
        let resp = self
            .authorized(self.agent.get(&url))
            .call()
            .map_err(|e| from_ureq(&url, e))?;
        let body = read_body(&url, resp, BODY_BYTES)?;
        serde_json::from_slice(&body).map_err(|e| protocol(&url, e))
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    fn with_defaults(&self, req: &ChatCompletionRequest, stream: bool) -> ChatCompletionRequest {
        let mut req = req.clone();
        if req.model.is_empty() {
            req.model = self.endpoint.model.clone();
        }
        req.stream = stream;
        if !stream {
            req.stream_options = None;
        }
        req
    }

    fn authorized(&self, request: ureq::Request) -> ureq::Request {
        match &self.endpoint.api_key {
            Some(key) => request.set("Authorization", &format!("Bearer {key}")),
            None => request,
        }
    }

    fn post(&self, url: &str, req: &ChatCompletionRequest) -> Result<ureq::Response, ClientError> {
        let body = serde_json::to_vec(req).map_err(|e| protocol(url, e))?;
        self.authorized(self.agent.post(url))
            .set("Content-Type", "application/json")
            .send_bytes(&body)
            .map_err(|e| from_ureq(url, e))
    }
}

/// `base_url` with `/v1` added when it has no path, without a trailing slash.
fn api_base(base_url: &str) -> String {
    let trimmed = base_url.trim_end_matches('/');
    let after_scheme = trimmed.split_once("://").map_or(trimmed, |(_, rest)| rest);
    if after_scheme.contains('/') {
        trimmed.to_string()
    } else {
        format!("{trimmed}/v1")
    }
}

/// The URL as messages show it: `user:password@` dropped.
fn redact_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let host_end = rest.find('/').unwrap_or(rest.len());
    match rest[..host_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

fn connect(url: &str, reason: impl ToString) -> ClientError {
    ClientError::Connect {
        url: redact_userinfo(url),
        reason: reason.to_string(),
    }
}

fn protocol(url: &str, reason: impl ToString) -> ClientError {
    ClientError::Protocol {
        url: redact_userinfo(url),
        reason: reason.to_string(),
    }
}

fn http_error(url: &str, status: u16, error: Option<ErrorObject>, body: &str) -> ClientError {
    let quoted: String = body.trim().chars().take(ERROR_BODY_QUOTE_CHARS).collect();
    ClientError::Http {
        url: redact_userinfo(url),
        status,
        error: error.map(Box::new),
        body: quoted,
    }
}

fn from_ureq(url: &str, e: ureq::Error) -> ClientError {
    match e {
        ureq::Error::Status(status, resp) => {
            let body = read_body(url, resp, ERROR_BODY_BYTES).unwrap_or_default();
            match serde_json::from_slice::<ErrorResponse>(&body) {
                Ok(err) => http_error(url, status, Some(err.error), ""),
                Err(_) => http_error(url, status, None, &String::from_utf8_lossy(&body)),
            }
        }
        ureq::Error::Transport(t) => {
            // ureq's own Display repeats the URL; ours names it once, without credentials. The
            // innermost cause says most ("Connection refused"); ureq's kind and message only
            // restate it ("Connection Failed: Connect error").
            let reason = match (std::error::Error::source(&t), t.message()) {
                (Some(source), _) => source.to_string(),
                (None, Some(m)) => format!("{}: {m}", t.kind()),
                (None, None) => t.kind().to_string(),
            };
            match t.kind() {
                ureq::ErrorKind::InvalidUrl | ureq::ErrorKind::UnknownScheme => {
                    ClientError::InvalidUrl {
                        url: redact_userinfo(url),
                        reason,
                    }
                }
                _ => connect(url, reason),
            }
        }
    }
}

fn read_body(url: &str, resp: ureq::Response, limit: u64) -> Result<Vec<u8>, ClientError> {
    let mut body = Vec::new();
    resp.into_reader()
        .take(limit + 1)
        .read_to_end(&mut body)
        .map_err(|e| connect(url, format!("the connection broke: {e}")))?;
    if body.len() as u64 > limit {
        return Err(protocol(
            url,
            format!("the answer is larger than {limit} bytes"),
        ));
    }
    Ok(body)
}

fn parse_answer(url: &str, status: u16, body: &[u8]) -> Result<ChatCompletion, ClientError> {
    match serde_json::from_slice::<ChatCompletion>(body) {
        Ok(c) => Ok(c),
        Err(e) => match serde_json::from_slice::<ErrorResponse>(body) {
            Ok(err) => Err(http_error(url, status, Some(err.error), "")),
            Err(_) => Err(protocol(url, format!("not a chat completion: {e}"))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_gets_v1_only_without_a_path() {
        assert_eq!(api_base("http://h:8080"), "http://h:8080/v1");
        assert_eq!(api_base("http://h:8080/"), "http://h:8080/v1");
        assert_eq!(api_base("http://h:8080/v1/"), "http://h:8080/v1");
        assert_eq!(api_base("https://h/openai/v1"), "https://h/openai/v1");
    }

    #[test]
    fn credentials_in_urls_are_not_shown() {
        assert_eq!(redact_userinfo("http://u:p@h:1/v1"), "http://h:1/v1");
        assert_eq!(redact_userinfo("http://h:1/a@b"), "http://h:1/a@b");
        let ep = Endpoint {
            base_url: "http://u:pw@h".into(),
            api_key: Some("sk-secret".into()),
            model: "m".into(),
        };
        let shown = format!("{:?}", Client::new(ep));
        assert!(
            !shown.contains("sk-secret") && !shown.contains("pw"),
            "{shown}"
        );
    }
}
