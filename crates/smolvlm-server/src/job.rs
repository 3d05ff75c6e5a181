//! One request's job on the worker: submitted with a sink that forwards its events to the
//! request's task, and cancelled when the request goes away (its [`RunningJob`] is dropped: the
//! client disconnected, the handler was aborted, or the answer ended early on a stop string).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use smolvlm::CancelToken;
use smolvlm_worker::{Job, JobEvent, JobSink, ModelChoice, Worker};
use tokio::sync::mpsc;

use crate::codes;
use crate::error::ApiError;
use crate::request::Prepared;

/// The jobs this server has on the worker, so a shutdown can cancel them all.
#[derive(Debug, Default, Clone)]
pub struct ActiveJobs(Arc<Mutex<HashSet<u64>>>);

impl ActiveJobs {
    fn with<R>(&self, f: impl FnOnce(&mut HashSet<u64>) -> R) -> R {
        // A set of ids stays consistent through a panic elsewhere.
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn cancel_all(&self, worker: &Worker) {
        for id in self.with(|s| s.iter().copied().collect::<Vec<_>>()) {
            worker.cancel(id);
        }
    }
}

pub struct RunningJob {
    pub id: u64,
    pub events: mpsc::UnboundedReceiver<JobEvent>,
    worker: Worker,
    active: ActiveJobs,
}

impl RunningJob {
    /// Stops the job now (a stop string ended the answer); the worker stops within a token.
    pub fn cancel(&self) {
        self.worker.cancel(self.id);
    }
}

impl Drop for RunningJob {
    fn drop(&mut self) {
        // A no-op for a job that already ended: the worker forgets it before its last event.
        self.worker.cancel(self.id);
        self.active.with(|s| s.remove(&self.id));
    }
}

pub fn submit(
    worker: &Worker,
    active: &ActiveJobs,
    model: Option<ModelChoice>,
    prepared: Prepared,
) -> Result<RunningJob, ApiError> {
    let (tx, rx) = mpsc::unbounded_channel();
    let id = worker.next_job_id();
    let job = Job {
        id,
        model,
        conversation: prepared.conversation,
        longest_edge: prepared.longest_edge,
        params: prepared.params,
        // The request may be gone; its events then have nowhere to go.
        sink: JobSink::new(move |e| drop(tx.send(e))),
        cancel: CancelToken::new(),
    };
    active.with(|s| s.insert(id));
    let running = RunningJob {
        id,
        events: rx,
        worker: worker.clone(),
        active: active.clone(),
    };
    worker
        .submit(job)
        .map_err(|e| codes::worker_error(&e, None))?;
    Ok(running)
}
