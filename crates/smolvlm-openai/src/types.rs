//! The JSON of OpenAI's chat-completions, models and error objects.
//!
//! Requests keep what the official clients send in the shapes OpenAI documents (`content` a
//! string or an array of parts, `stop` a string or an array). Responses carry one extension,
//! `smolvlm`, with the generated token ids and timings: the official clients keep unknown fields
//! (`model_extra` in Python), other clients ignore them.

use serde::{Deserialize, Serialize};

/// `POST /v1/chat/completions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletionRequest {
    /// An installed model's id (`GET /v1/models`); empty or absent: the loaded model.
    #[serde(default)]
    pub model: String,
    pub messages: Vec<ChatMessage>,
    /// Deprecated by OpenAI in favour of `max_completion_tokens`; both are honoured (the latter
    /// wins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    #[serde(default)]
    pub stream: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
}

impl ChatCompletionRequest {
    /// The answer's token budget: `max_completion_tokens`, else `max_tokens`.
    pub fn max_new_tokens(&self) -> Option<u32> {
        self.max_completion_tokens.or(self.max_tokens)
    }

    /// The stop strings, whichever shape they came in.
    pub fn stop_strings(&self) -> Vec<String> {
        match &self.stop {
            None => Vec::new(),
            Some(Stop::One(s)) => vec![s.clone()],
            Some(Stop::Many(v)) => v.clone(),
        }
    }

    pub fn include_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_usage: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    /// OpenAI's newer name for system instructions; treated as `system`.
    Developer,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    /// Absent or null is an empty turn (assistant turns may omit it in OpenAI's shape).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<MessageContent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl ChatMessage {
    pub fn text(role: Role, text: impl Into<String>) -> Self {
        Self {
            role,
            content: Some(MessageContent::Text(text.into())),
            name: None,
        }
    }

    pub fn parts(role: Role, parts: Vec<ContentPart>) -> Self {
        Self {
            role,
            content: Some(MessageContent::Parts(parts)),
            name: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MessageContent {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    Text {
        text: String,
    },
    ImageUrl {
        image_url: ImageUrl,
    },
    /// A file inline, as OpenAI takes PDFs: `{"type": "file", "file": {"file_data": ...}}`.
    File {
        file: FileInput,
    },
}

impl ContentPart {
    pub fn text(text: impl Into<String>) -> Self {
        ContentPart::Text { text: text.into() }
    }

    /// A PDF (or other file) inline: `data` is a data URL.
    pub fn file(data: impl Into<String>, filename: impl Into<String>) -> Self {
        ContentPart::File {
            file: FileInput {
                file_data: Some(data.into()),
                filename: Some(filename.into()),
                ..FileInput::default()
            },
        }
    }

    pub fn image_url(url: impl Into<String>) -> Self {
        ContentPart::ImageUrl {
            image_url: ImageUrl {
                url: url.into(),
                detail: None,
            },
        }
    }
}

/// A `file` content part. smolvlm reads PDFs from it, each chosen page an image to the model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileInput {
    /// `data:application/pdf;base64,...` (or the bare base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_data: Option<String>,
    /// An id from OpenAI's Files API; this server has none, so it is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// smolvlm's extension: the pages to show, `1,3-4` (default: every page, when they fit the
    /// model's context).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<String>,
}

/// `url`: `data:image/...;base64,...`, `file:///...` or an absolute path (smolvlm), or
/// `http(s)://`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageUrl {
    pub url: String,
    /// OpenAI's `low`/`high`/`auto`; accepted and ignored (the model's processor decides).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    Stop,
    Length,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Including the image tokens.
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PromptTokensDetails {
    /// Leading prompt tokens taken from the previous request's KV cache.
    #[serde(default)]
    pub cached_tokens: u32,
}

/// smolvlm's extension of responses and chunks (`"smolvlm": {...}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SmolvlmExtra {
    /// The generated token ids this response or chunk carries.
    #[serde(default)]
    pub token_ids: Vec<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timings: Option<ExtraTimings>,
}

/// Seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExtraTimings {
    pub vision_s: f64,
    pub prefill_s: f64,
    pub decode_s: f64,
    pub decode_tokens_per_s: f64,
    /// From the request being taken by the worker to the first token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_token_s: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletion {
    pub id: String,
    /// Always `chat.completion`.
    pub object: String,
    pub created: u64,
    pub model: String,
    pub choices: Vec<Choice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smolvlm: Option<SmolvlmExtra>,
}

pub const CHAT_COMPLETION: &str = "chat.completion";
pub const CHAT_COMPLETION_CHUNK: &str = "chat.completion.chunk";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    pub index: u32,
    pub message: AssistantMessage,
    pub finish_reason: Option<FinishReason>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssistantMessage {
    /// Always `assistant`.
    pub role: Role,
    pub content: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletionChunk {
    pub id: String,
    /// Always `chat.completion.chunk`.
    pub object: String,
    pub created: u64,
    pub model: String,
    /// Empty in the last chunk of a stream with `include_usage`, which carries `usage`.
    pub choices: Vec<ChunkChoice>,
    /// Present (null) in every chunk when usage was asked for, as OpenAI does; the last one
    /// carries the counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Option<Usage>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smolvlm: Option<SmolvlmExtra>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkChoice {
    pub index: u32,
    pub delta: Delta,
    pub finish_reason: Option<FinishReason>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// `GET /v1/models`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelList {
    /// Always `list`.
    pub object: String,
    pub data: Vec<ModelObject>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelObject {
    pub id: String,
    /// Always `model`.
    pub object: String,
    pub created: u64,
    pub owned_by: String,
    /// smolvlm's extension: whether this model is the one in memory now.
    #[serde(default)]
    pub loaded: bool,
}

/// Every error answer: `{"error": {...}}` with the HTTP status that goes with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub error: ErrorObject,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorObject {
    pub message: String,
    /// OpenAI's category: `invalid_request_error`, `not_found_error`, `rate_limit_error`,
    /// `authentication_error`, `server_error`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The request field at fault (`messages[1].content[0].image_url`), when one is.
    #[serde(default)]
    pub param: Option<String>,
    /// A stable code (`model_not_found`, `image_too_large`, `context_length_exceeded`, …).
    #[serde(default)]
    pub code: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_official_clients_send() {
        let body = r#"{
            "model": "tiny",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "auto"}}
                ]},
                {"role": "assistant", "content": null},
                {"role": "user", "content": "And now?"}
            ],
            "max_tokens": 8, "max_completion_tokens": 16, "stop": "\n", "stream": true,
            "stream_options": {"include_usage": true}, "seed": 3, "unknown_field": 1
        }"#;
        let req: ChatCompletionRequest = serde_json::from_str(body).unwrap();
        assert_eq!(req.max_new_tokens(), Some(16));
        assert_eq!(req.stop_strings(), vec!["\n".to_string()]);
        assert!(req.stream && req.include_usage());
        assert_eq!(req.messages.len(), 4);
        assert_eq!(req.messages[2].content, None);
        let Some(MessageContent::Parts(parts)) = &req.messages[1].content else {
            panic!("array content parses as parts");
        };
        assert_eq!(
            parts[1],
            ContentPart::ImageUrl {
                image_url: ImageUrl {
                    url: "data:image/png;base64,AAAA".into(),
                    detail: Some("auto".into())
                }
            }
        );
    }

    #[test]
    fn refuses_unknown_roles_and_part_types() {
        for body in [
            r#"{"messages":[{"role":"robot","content":"x"}]}"#,
            r#"{"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]}"#,
            r#"{"messages":"hello"}"#,
        ] {
            assert!(
                serde_json::from_str::<ChatCompletionRequest>(body).is_err(),
                "{body}"
            );
        }
    }

    #[test]
    fn chunks_and_errors_serialize_in_openai_shape() {
        let chunk = ChatCompletionChunk {
            id: "chatcmpl-1".into(),
            object: CHAT_COMPLETION_CHUNK.into(),
            created: 1,
            model: "m".into(),
            choices: vec![],
            usage: Some(None),
            smolvlm: None,
        };
        let v = serde_json::to_value(&chunk).unwrap();
        assert_eq!(v["usage"], serde_json::Value::Null);
        assert!(v.as_object().unwrap().contains_key("usage"));
        let err = ErrorResponse {
            error: ErrorObject {
                message: "no such model".into(),
                kind: "not_found_error".into(),
                param: Some("model".into()),
                code: Some("model_not_found".into()),
            },
        };
        let v = serde_json::to_value(&err).unwrap();
        assert_eq!(v["error"]["type"], "not_found_error");
        assert_eq!(v["error"]["code"], "model_not_found");
    }
}
