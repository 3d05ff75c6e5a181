//! The settings of the engine's openings to other tools: the local API the app serves
//! (`localApi`), and the OpenAI-compatible servers the chat may answer with instead of this
//! computer's model (`connections`, `backend`).

use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};

/// The app's OpenAI-compatible server (`smolvlm-server`), sharing the chat's model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct LocalApiSettings {
    /// Off by default: nothing listens until the user asks.
    pub enabled: bool,
    /// `127.0.0.1` unless the user picks another address (e.g. `0.0.0.0` for the network).
    pub host: String,
    pub port: u16,
    /// A bearer key clients must send; none or empty: no key asked.
    pub api_key: Option<String>,
}

impl Default for LocalApiSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            host: "127.0.0.1".into(),
            port: 8080,
            api_key: None,
        }
    }
}

/// An OpenAI-compatible server the chat can answer with (vLLM, `llama-server`, another
/// machine's `smolvlm serve`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Connection {
    /// Chosen by the UI; what `backend` names.
    pub id: String,
    pub name: String,
    /// Up to the API's root, e.g. `http://gpu-box:8000/v1`.
    pub base_url: String,
    #[serde(default)]
    pub api_key: Option<String>,
    /// The server's model name (`GET /v1/models`); empty: the server's default.
    #[serde(default)]
    pub model: String,
}

const MAX_FIELD: usize = 2048;

impl LocalApiSettings {
    pub fn validate(&self) -> AppResult<()> {
        if self.host.parse::<std::net::IpAddr>().is_err() {
            return Err(AppError::invalid(format!(
                "localApi.host must be an IP address such as 127.0.0.1; got {:?}",
                self.host
            )));
        }
        if self.port == 0 {
            return Err(AppError::invalid(
                "localApi.port must be between 1 and 65535",
            ));
        }
        if let Some(k) = &self.api_key {
            check_key(k, "localApi.apiKey")?;
        }
        Ok(())
    }

    /// The key clients must send, if one is set.
    pub fn key(&self) -> Option<String> {
        self.api_key.clone().filter(|k| !k.trim().is_empty())
    }
}

impl Connection {
    pub fn validate(&self) -> AppResult<()> {
        if self.id.is_empty()
            || self.id.len() > 64
            || !self
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(AppError::invalid(format!(
                "a connection's id must be 1-64 letters, digits, '-' or '_'; got {:?}",
                self.id
            )));
        }
        if self.name.trim().is_empty() || self.name.len() > 200 {
            return Err(AppError::invalid(
                "a connection needs a name (at most 200 characters)",
            ));
        }
        let url = self.base_url.trim();
        if !(url.starts_with("http://") || url.starts_with("https://"))
            || url.len() > MAX_FIELD
            || url.chars().any(char::is_whitespace)
        {
            return Err(AppError::invalid(format!(
                "connection {:?}: the address must be an http:// or https:// URL",
                self.name
            )));
        }
        if self.model.len() > MAX_FIELD || self.model.contains(['\n', '\r']) {
            return Err(AppError::invalid("a connection's model name is not usable"));
        }
        if let Some(k) = &self.api_key {
            check_key(k, "a connection's apiKey")?;
        }
        Ok(())
    }
}

/// Keys go into an HTTP header: printable ASCII only.
fn check_key(key: &str, what: &str) -> AppResult<()> {
    if key.len() > MAX_FIELD || !key.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(AppError::invalid(format!(
            "{what} must be printable ASCII (at most {MAX_FIELD} characters)"
        )));
    }
    Ok(())
}

/// Checks the connections together with the backend that names one of them.
pub fn validate(connections: &[Connection], backend: Option<&str>) -> AppResult<()> {
    if connections.len() > 64 {
        return Err(AppError::invalid("at most 64 connections"));
    }
    for (i, c) in connections.iter().enumerate() {
        c.validate()?;
        if connections[..i].iter().any(|o| o.id == c.id) {
            return Err(AppError::invalid(format!(
                "two connections have the id {:?}",
                c.id
            )));
        }
    }
    if let Some(b) = backend
        && !connections.iter().any(|c| c.id == b)
    {
        return Err(AppError::invalid(format!(
            "backend {b:?} is not one of the connections"
        )));
    }
    Ok(())
}
