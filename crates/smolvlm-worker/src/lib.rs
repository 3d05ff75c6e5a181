//! The one thread that owns the loaded model, for every shell over the engine: the desktop app,
//! the local OpenAI-compatible server (`smolvlm-server`) and `smolvlm serve`. Sharing one worker
//! is what lets the app's chat and the API use one model in memory.
//!
//! Requests ([`Worker::load`], [`Worker::unload`], [`Worker::submit`]) run one at a time, in the
//! order they were sent. At most [`WorkerConfig::queue_capacity`] generation jobs are pending or
//! running; more are refused with [`WorkerError::QueueFull`] (a server answers 429, the app says
//! busy). Cancelling does not go through the queue — the queue is blocked by the very job being
//! cancelled — but trips the job's [`CancelToken`](smolvlm::CancelToken), which the engine checks
//! between tokens and image frames.
//!
//! A panic while handling a request is caught: the requester hears [`WorkerError::Panicked`], the
//! model is dropped (its state is unknown), and a fresh thread takes over the same queue.

mod error;
mod handle;
mod job;
mod shared;
mod status;
mod thread;

pub use error::WorkerError;
pub use handle::{Worker, WorkerConfig};
pub use job::{Job, JobEvent, JobSink, ModelChoice};
pub use shared::StatusListener;
pub use status::{ErrorInfo, ImageGeometry, ModelInfo, ModelState, WorkerStatus};
