//! The answer recorder: saves an answer into its conversation while it streams, at most every
//! [`ANSWER_SAVE_INTERVAL`] and at the end, and orders saving against what the UI hears.

use std::sync::Arc;
use std::time::Instant;

use smolvlm::StopReason;

use crate::error::ErrorPayload;
use crate::events::{DoneTimings, StreamEvent};
use crate::store::{ANSWER_SAVE_INTERVAL, MessageStatus, Store};
use crate::worker::EventSink;

/// Saves the answer `message_id` of `conversation_id` as its events arrive.
pub struct AnswerRecorder {
    store: Arc<Store>,
    conversation_id: String,
    message_id: String,
    text: String,
    last_save: Instant,
}

impl AnswerRecorder {
    pub fn new(store: Arc<Store>, conversation_id: &str, message_id: &str) -> Self {
        Self {
            store,
            conversation_id: conversation_id.to_string(),
            message_id: message_id.to_string(),
            text: String::new(),
            last_save: Instant::now(),
        }
    }

    /// The generation's sink: every event is recorded and passed to `send`. Final states are
    /// saved before the UI hears of them; tokens are sent first.
    pub fn into_sink(mut self, send: impl Fn(StreamEvent) + Send + 'static) -> EventSink {
        EventSink::new(move |event: StreamEvent| match &event {
            StreamEvent::Token { .. } => {
                send(event.clone());
                self.observe(&event);
            }
            _ => {
                self.observe(&event);
                send(event);
            }
        })
    }

    pub fn observe(&mut self, event: &StreamEvent) {
        match event {
            StreamEvent::Token { text, .. } => {
                self.text.push_str(text);
                if self.last_save.elapsed() >= ANSWER_SAVE_INTERVAL {
                    self.save(MessageStatus::Streaming, None, None, None);
                }
            }
            StreamEvent::Done {
                stop_reason,
                generated_tokens,
                timings,
                ..
            } => {
                let status = if *stop_reason == StopReason::Cancelled {
                    MessageStatus::Cancelled
                } else {
                    MessageStatus::Complete
                };
                self.save(status, None, Some(*generated_tokens), Some(timings.clone()));
            }
            StreamEvent::Error(e) => self.save(MessageStatus::Error, Some(e.clone()), None, None),
            StreamEvent::Started { .. } | StreamEvent::ImageProgress { .. } => {}
        }
    }

    fn save(
        &mut self,
        status: MessageStatus,
        error: Option<ErrorPayload>,
        tokens: Option<usize>,
        timings: Option<DoneTimings>,
    ) {
        self.last_save = Instant::now();
        let result = self.store.update(&self.conversation_id, |c| {
            if let Some(m) = c.messages.iter_mut().find(|m| m.id == self.message_id) {
                m.text.clone_from(&self.text);
                m.status = status;
                m.error = error;
                m.generated_tokens = tokens;
                m.timings = timings;
            }
        });
        if let Err(e) = result {
            // The conversation may have been deleted meanwhile; the stream goes on regardless.
            eprintln!("smolvlm-desktop: could not save the answer: {e}");
        }
    }
}
