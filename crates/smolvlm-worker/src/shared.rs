//! What the handle and the worker thread share: the status, the loaded model's geometry and the
//! jobs in the queue.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use smolvlm::CancelToken;

use crate::status::{ImageGeometry, WorkerStatus};

pub type StatusListener = Arc<dyn Fn(&WorkerStatus) + Send + Sync>;

/// The lock's data stays consistent through a panic (every update is a plain assignment).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) struct Shared {
    pub(crate) status: Mutex<WorkerStatus>,
    pub(crate) geometry: Mutex<Option<ImageGeometry>>,
    /// Jobs pending or running, with their cancel tokens.
    pub(crate) jobs: Mutex<HashMap<u64, CancelToken>>,
    pub(crate) next_id: AtomicU64,
    pub(crate) capacity: usize,
    pub(crate) listener: StatusListener,
}

impl Shared {
    pub(crate) fn update(&self, f: impl FnOnce(&mut WorkerStatus)) {
        let snapshot = {
            let mut s = lock(&self.status);
            f(&mut s);
            s.queued = lock(&self.jobs).len();
            s.clone()
        };
        (self.listener)(&snapshot);
    }

    pub(crate) fn settle(&self, id: u64) {
        lock(&self.jobs).remove(&id);
    }
}
