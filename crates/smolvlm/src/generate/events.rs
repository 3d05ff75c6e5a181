//! What a generation reports, in order: the prompt's size, image-encoding progress, each token,
//! then one summary. The app forwards these to the UI; the CLI prints the summary as JSON.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum GenerationEvent {
    /// The prompt is built: its full length, how many positions are image features, how many
    /// frames must go through the vision tower, and how many leading positions were taken from
    /// the previous turn's cache (their images are not encoded again).
    Prompt {
        prompt_tokens: usize,
        image_tokens: usize,
        frames: usize,
        reused_tokens: usize,
    },
    /// Another image frame (tile or global view) went through the vision tower.
    ImageProgress {
        frames_done: usize,
        frames_total: usize,
    },
    /// One generated token; `text` is what it completes (empty while a multi-byte character is
    /// still partial, and for special tokens).
    Token {
        id: u32,
        text: String,
    },
    Done(GenerationSummary),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    Eos,
    Length,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationSummary {
    pub text: String,
    /// Generated ids only; the end-of-utterance id is included when it ended the answer.
    pub token_ids: Vec<u32>,
    pub prompt_tokens: usize,
    pub image_tokens: usize,
    pub stop_reason: StopReason,
    pub timings: Timings,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    pub load_s: f64,
    pub vision_s: f64,
    /// From the first decoder pass over the prompt to the first token.
    pub prefill_s: f64,
    /// The decode steps after the first token.
    pub decode_s: f64,
    pub decode_tokens_per_s: f64,
}
