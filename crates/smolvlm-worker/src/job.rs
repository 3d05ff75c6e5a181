//! One generation asked of the worker, and what it reports back.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use smolvlm::{CancelToken, GenerationEvent, LoadOptions, Message, SamplingParams};

use crate::WorkerError;

/// A model a job wants: loaded first (replacing the loaded one) unless it is the loaded model.
#[derive(Debug, Clone)]
pub struct ModelChoice {
    pub path: PathBuf,
    pub options: LoadOptions,
}

pub struct Job {
    /// From [`crate::Worker::next_job_id`]: the caller needs it before submitting (its sink
    /// names the job).
    pub id: u64,
    pub model: Option<ModelChoice>,
    pub conversation: Vec<Message>,
    pub longest_edge: Option<u32>,
    pub params: SamplingParams,
    pub sink: JobSink,
    pub cancel: CancelToken,
}

/// What a job reports, in order: `Started`, then the engine's events ending with
/// `Engine(GenerationEvent::Done(_))` — or `Failed` at any point. The job is settled (no longer
/// counted by [`crate::Worker::queued`], no longer cancellable) before its last event is emitted,
/// so whoever hears the end may submit again at once.
#[derive(Debug)]
pub enum JobEvent {
    /// The worker took the job after it waited `queued_s` seconds behind others.
    Started {
        queued_s: f64,
    },
    Engine(GenerationEvent),
    Failed(WorkerError),
}

type SinkFn = Box<dyn FnMut(JobEvent) + Send>;

/// Where one job's events go (an app channel, an HTTP response stream, a vector in tests).
#[derive(Clone)]
pub struct JobSink(Arc<Mutex<SinkFn>>);

impl JobSink {
    pub fn new(f: impl FnMut(JobEvent) + Send + 'static) -> Self {
        Self(Arc::new(Mutex::new(Box::new(f))))
    }

    pub fn emit(&self, event: JobEvent) {
        // A sink that panicked once is still the only way to reach its requester.
        let mut f = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        (*f)(event)
    }
}
