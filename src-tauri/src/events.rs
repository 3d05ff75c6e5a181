//! What one generation streams to the UI over its `tauri::ipc::Channel`, and the coalescing of
//! token text so a 100+ tok/s model sends about one message per frame (~16 ms), not one per token.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use smolvlm::{GenerationEvent, GenerationSummary, StopReason};

use crate::error::ErrorPayload;

/// How long token text may wait before it is sent (one frame at 60 Hz).
pub const COALESCE_WINDOW: Duration = Duration::from_millis(16);

/// One message of a generation's stream. JSON: `{"type": "<kebab-case name>", ...camelCase fields}`
/// (pinned by `tests::contract::stream_event_json_is_pinned`; its TypeScript type is generated
/// into `ui/src/bindings.ts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(
    tag = "type",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum StreamEvent {
    /// The prompt is built; `reusedTokens` leading positions came from the previous turn's cache.
    Started {
        generation_id: u64,
        prompt_tokens: usize,
        image_tokens: usize,
        frames: usize,
        reused_tokens: usize,
    },
    /// Image frames (tiles and global views) through the vision tower so far.
    ImageProgress {
        frames_done: usize,
        frames_total: usize,
    },
    /// Text of `count` generated tokens since the previous `token` message.
    Token {
        text: String,
        count: usize,
    },
    /// The end: why it stopped, counts and timings (seconds).
    Done {
        #[specta(type = crate::foreign::StopReason)]
        stop_reason: StopReason,
        generated_tokens: usize,
        prompt_tokens: usize,
        image_tokens: usize,
        timings: DoneTimings,
    },
    Error(ErrorPayload),
    /// Saving the answer failed (a full disk, the conversation deleted meanwhile): what the UI
    /// shows may not be what is stored. Sent once, before `done` or `error` when the final save
    /// is the one that failed; the answer streams on regardless.
    SaveFailed(ErrorPayload),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DoneTimings {
    #[specta(type = crate::foreign::Finite)]
    pub vision_s: f64,
    #[specta(type = crate::foreign::Finite)]
    pub prefill_s: f64,
    #[specta(type = crate::foreign::Finite)]
    pub decode_s: f64,
    #[specta(type = crate::foreign::Finite)]
    pub decode_tokens_per_s: f64,
    /// From the request reaching the worker to the first token.
    #[specta(type = Option<crate::foreign::Finite>)]
    pub first_token_s: Option<f64>,
    #[specta(type = crate::foreign::Finite)]
    pub total_s: f64,
}

/// Turns engine events into stream events, buffering token text for up to [`COALESCE_WINDOW`].
pub struct Coalescer {
    generation_id: u64,
    started: Instant,
    last_flush: Instant,
    first_token: Option<f64>,
    text: String,
    count: usize,
}

impl Coalescer {
    pub fn new(generation_id: u64) -> Self {
        let now = Instant::now();
        Self {
            generation_id,
            started: now,
            last_flush: now,
            first_token: None,
            text: String::new(),
            count: 0,
        }
    }

    /// Feeds one engine event; `out` receives what is due now.
    pub fn push(&mut self, event: GenerationEvent, out: &mut impl FnMut(StreamEvent)) {
        self.push_at(event, Instant::now(), out)
    }

    pub(crate) fn push_at(
        &mut self,
        event: GenerationEvent,
        now: Instant,
        out: &mut impl FnMut(StreamEvent),
    ) {
        match event {
            GenerationEvent::Prompt {
                prompt_tokens,
                image_tokens,
                frames,
                reused_tokens,
            } => out(StreamEvent::Started {
                generation_id: self.generation_id,
                prompt_tokens,
                image_tokens,
                frames,
                reused_tokens,
            }),
            GenerationEvent::ImageProgress {
                frames_done,
                frames_total,
            } => out(StreamEvent::ImageProgress {
                frames_done,
                frames_total,
            }),
            GenerationEvent::Token { text, .. } => {
                if self.first_token.is_none() {
                    self.first_token = Some(now.duration_since(self.started).as_secs_f64());
                }
                self.text.push_str(&text);
                self.count += 1;
                if now.duration_since(self.last_flush) >= COALESCE_WINDOW {
                    self.flush_at(now, out);
                }
            }
            GenerationEvent::Done(summary) => {
                self.flush_at(now, out);
                out(self.done(&summary, now));
            }
        }
    }

    /// Sends buffered token text, if any.
    pub fn flush_at(&mut self, now: Instant, out: &mut impl FnMut(StreamEvent)) {
        if self.count > 0 {
            out(StreamEvent::Token {
                text: std::mem::take(&mut self.text),
                count: std::mem::take(&mut self.count),
            });
        }
        self.last_flush = now;
    }

    fn done(&self, s: &GenerationSummary, now: Instant) -> StreamEvent {
        StreamEvent::Done {
            stop_reason: s.stop_reason,
            generated_tokens: s.token_ids.len(),
            prompt_tokens: s.prompt_tokens,
            image_tokens: s.image_tokens,
            timings: DoneTimings {
                vision_s: s.timings.vision_s,
                prefill_s: s.timings.prefill_s,
                decode_s: s.timings.decode_s,
                decode_tokens_per_s: s.timings.decode_tokens_per_s,
                first_token_s: self.first_token,
                total_s: now.duration_since(self.started).as_secs_f64(),
            },
        }
    }
}
