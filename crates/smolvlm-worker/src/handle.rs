//! [`Worker`]: the handle every shell holds; cheap to clone, every clone talks to one thread.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use smolvlm::LoadOptions;

use crate::shared::{Shared, StatusListener, lock};
use crate::status::{ImageGeometry, ModelInfo, WorkerStatus};
use crate::thread::{Request, start_thread};
use crate::{Job, WorkerError};

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Generation jobs pending or running at most; more are refused with `QueueFull`.
    pub queue_capacity: usize,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        // Enough for a burst of API clients; past it a client is told to retry (429), not made
        // to wait minutes behind others.
        Self { queue_capacity: 16 }
    }
}

#[derive(Clone)]
pub struct Worker {
    tx: Sender<Request>,
    shared: Arc<Shared>,
}

impl Worker {
    pub fn spawn(config: WorkerConfig, listener: StatusListener) -> Self {
        let (tx, rx) = channel();
        let shared = Arc::new(Shared {
            status: Mutex::new(WorkerStatus::empty()),
            geometry: Mutex::new(None),
            jobs: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            capacity: config.queue_capacity.max(1),
            listener,
        });
        start_thread(rx, shared.clone());
        Self { tx, shared }
    }

    pub fn status(&self) -> WorkerStatus {
        let mut s = lock(&self.shared.status).clone();
        s.queued = self.queued();
        s
    }

    /// The loaded model's image geometry; `None` when no model is loaded.
    pub fn image_geometry(&self) -> Option<ImageGeometry> {
        lock(&self.shared.geometry).clone()
    }

    fn send(&self, req: Request) -> Result<(), WorkerError> {
        self.tx.send(req).map_err(|_| WorkerError::Unavailable)
    }

    /// Queues a load of `path` (replacing the loaded model); the answer arrives on the receiver.
    pub fn load(
        &self,
        path: &Path,
        options: LoadOptions,
    ) -> Result<Receiver<Result<ModelInfo, WorkerError>>, WorkerError> {
        let (reply, rx) = channel();
        self.send(Request::Load {
            path: path.to_path_buf(),
            options,
            reply,
        })?;
        Ok(rx)
    }

    pub fn unload(&self) -> Result<Receiver<Result<(), WorkerError>>, WorkerError> {
        let (reply, rx) = channel();
        self.send(Request::Unload { reply })?;
        Ok(rx)
    }

    /// A fresh job id (never reused within a process's worker).
    pub fn next_job_id(&self) -> u64 {
        self.shared
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// Queues `job`, or refuses it with `QueueFull` when the queue is at capacity.
    pub fn submit(&self, job: Job) -> Result<u64, WorkerError> {
        let id = job.id;
        {
            let mut jobs = lock(&self.shared.jobs);
            if jobs.len() >= self.shared.capacity {
                return Err(WorkerError::QueueFull {
                    capacity: self.shared.capacity,
                });
            }
            jobs.insert(id, job.cancel.clone());
        }
        if let Err(e) = self.send(Request::Generate {
            job,
            queued_at: Instant::now(),
        }) {
            self.shared.settle(id);
            return Err(e);
        }
        self.shared.update(|_| {});
        Ok(id)
    }

    /// Stops job `id` (pending or running); false when it is not queued.
    pub fn cancel(&self, id: u64) -> bool {
        match lock(&self.shared.jobs).get(&id) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    /// Whether job `id` is pending or running.
    pub fn is_queued(&self, id: u64) -> bool {
        lock(&self.shared.jobs).contains_key(&id)
    }

    /// Jobs pending or running.
    pub fn queued(&self) -> usize {
        lock(&self.shared.jobs).len()
    }

    /// Test hook: the worker panics while handling this request.
    #[cfg(feature = "test-hooks")]
    pub fn request_panic(&self) -> Result<Receiver<Result<(), WorkerError>>, WorkerError> {
        let (reply, rx) = channel();
        self.send(Request::Panic { reply })?;
        Ok(rx)
    }
}
