//! The answer recorder: saves an answer into its conversation while it streams, at most every
//! [`ANSWER_SAVE_INTERVAL`] and at the end, and orders saving against what the UI hears.
//!
//! The events arrive on the model's thread (or a connection's), which must not wait on the
//! disk between tokens: snapshots go to a saver thread of the answer's own, which writes only the
//! latest one when it falls behind, without syncing the folder (a crash still leaves the last
//! snapshot or the one before, whole). The final state is written durably on the events' thread
//! before the UI hears `done` or `error`; when that write fails the UI hears `save-failed` first.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use smolvlm::StopReason;

use crate::error::{AppError, AppResult, ErrorPayload};
use crate::events::{DoneTimings, StreamEvent};
use crate::store::{ANSWER_SAVE_INTERVAL, Durability, MessageStatus, Store};
use crate::sync::lock;
use crate::worker::EventSink;

/// Saves the answer `message_id` of `conversation_id` as its events arrive.
pub struct AnswerRecorder {
    target: Arc<Target>,
    text: String,
    last_snapshot: Instant,
    saver: Option<Saver>,
}

/// Where the answer is saved.
struct Target {
    store: Arc<Store>,
    conversation_id: String,
    message_id: String,
}

/// What is saved of the answer.
struct Record {
    text: String,
    status: MessageStatus,
    error: Option<ErrorPayload>,
    tokens: Option<usize>,
    timings: Option<DoneTimings>,
}

impl AnswerRecorder {
    pub fn new(store: Arc<Store>, conversation_id: &str, message_id: &str) -> Self {
        Self {
            target: Arc::new(Target {
                store,
                conversation_id: conversation_id.to_string(),
                message_id: message_id.to_string(),
            }),
            text: String::new(),
            last_snapshot: Instant::now(),
            saver: None,
        }
    }

    /// The generation's sink: every event is recorded and passed to `send`. Final states are
    /// saved before the UI hears of them; tokens are sent first.
    pub fn into_sink(mut self, send: impl Fn(StreamEvent) + Send + 'static) -> EventSink {
        EventSink::new(move |event: StreamEvent| {
            let last = matches!(event, StreamEvent::Done { .. } | StreamEvent::Error(_));
            if !last {
                send(event.clone());
            }
            if let Some(failed) = self.observe(&event) {
                send(failed);
            }
            if last {
                send(event);
            }
        })
    }

    /// Records `event`; answers the `save-failed` event to send when the final save failed.
    pub fn observe(&mut self, event: &StreamEvent) -> Option<StreamEvent> {
        self.observe_at(event, Instant::now())
    }

    pub(crate) fn observe_at(&mut self, event: &StreamEvent, now: Instant) -> Option<StreamEvent> {
        let record = match event {
            StreamEvent::Token { text, .. } => {
                self.text.push_str(text);
                if now.duration_since(self.last_snapshot) >= ANSWER_SAVE_INTERVAL {
                    self.last_snapshot = now;
                    self.snapshot();
                }
                return None;
            }
            StreamEvent::Done {
                stop_reason,
                generated_tokens,
                timings,
                ..
            } => Record {
                text: self.text.clone(),
                status: if *stop_reason == StopReason::Cancelled {
                    MessageStatus::Cancelled
                } else {
                    MessageStatus::Complete
                },
                error: None,
                tokens: Some(*generated_tokens),
                timings: Some(timings.clone()),
            },
            StreamEvent::Error(e) => Record {
                text: self.text.clone(),
                status: MessageStatus::Error,
                error: Some(e.clone()),
                tokens: None,
                timings: None,
            },
            StreamEvent::Started { .. }
            | StreamEvent::ImageProgress { .. }
            | StreamEvent::SaveFailed(_) => return None,
        };
        // A snapshot still being written must not land after the final state.
        if let Some(saver) = self.saver.take() {
            saver.close();
        }
        self.target
            .save(&record, Durability::Durable)
            .err()
            .map(|e| StreamEvent::SaveFailed(e.payload()))
    }

    fn snapshot(&mut self) {
        let record = Record {
            text: self.text.clone(),
            status: MessageStatus::Streaming,
            error: None,
            tokens: None,
            timings: None,
        };
        if self.saver.is_none() {
            self.saver = Saver::spawn(self.target.clone());
        }
        // Without a thread to be had the snapshot is skipped; the final save still comes.
        if let Some(saver) = &self.saver {
            saver.submit(record);
        }
    }
}

impl Target {
    fn save(&self, r: &Record, durability: Durability) -> AppResult<()> {
        let (_, found) = self
            .store
            .update_with(&self.conversation_id, durability, |c| {
                let Some(m) = c.messages.iter_mut().find(|m| m.id == self.message_id) else {
                    return false;
                };
                m.text.clone_from(&r.text);
                m.status = r.status;
                m.error.clone_from(&r.error);
                m.generated_tokens = r.tokens;
                m.timings.clone_from(&r.timings);
                true
            })?;
        if !found {
            return Err(AppError::NotFound {
                what: format!(
                    "answer {} in conversation {}",
                    self.message_id, self.conversation_id
                ),
            });
        }
        Ok(())
    }
}

/// The thread that writes an answer's snapshots, newest first when it falls behind.
struct Saver {
    pending: Arc<Mutex<Option<Record>>>,
    wake: mpsc::Sender<()>,
    closed: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Saver {
    fn spawn(target: Arc<Target>) -> Option<Self> {
        let pending: Arc<Mutex<Option<Record>>> = Arc::default();
        let closed = Arc::new(AtomicBool::new(false));
        let (wake, woken) = mpsc::channel::<()>();
        let (p, c) = (pending.clone(), closed.clone());
        let thread = std::thread::Builder::new()
            .name("answer-saver".into())
            .spawn(move || {
                while woken.recv().is_ok() {
                    let Some(record) = lock(&p).take() else {
                        continue;
                    };
                    if c.load(Ordering::Acquire) {
                        break;
                    }
                    // A snapshot that fails is not told: the final save rewrites the whole
                    // answer, and it is that one's failure the UI hears of.
                    let _ = target.save(&record, Durability::Snapshot);
                }
            })
            .ok()?;
        Some(Self {
            pending,
            wake,
            closed,
            thread,
        })
    }

    /// Replaces the snapshot waiting to be written, if any, with `record`.
    fn submit(&self, record: Record) {
        *lock(&self.pending) = Some(record);
        let _ = self.wake.send(());
    }

    /// Drops the waiting snapshot and waits for the one being written, if any.
    fn close(self) {
        self.closed.store(true, Ordering::Release);
        lock(&self.pending).take();
        drop(self.wake);
        let _ = self.thread.join();
    }
}
